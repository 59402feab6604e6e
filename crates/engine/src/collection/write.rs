//! The write path: validate in full, resolve ids, append to the log, apply in memory, then
//! wait for the shared fsync; and [`apply`], which replay uses too.

use std::collections::{BTreeMap, HashSet};

use rvdb_filter::{JsonPath, Payload, PointId};
use rvdb_vector::Distance;

use super::{Collection, Writer, MAX_DIM};
use crate::codec::Operation;
use crate::datatype::{prepare_stored, Datatype};
use crate::segment::Segment;
use crate::segments::{Loc, Segments};
use crate::types::{NamedVectors, PointSelector, PointUpdate, Vector};
use crate::{Durability, EngineError, PointStruct, Result, UpdateResult};

impl Collection {
    /// Checks one vector against its space; returns the space's distance and element type.
    fn check_named(
        &self,
        name: &str,
        v: &[f32],
        at: &str,
        batch_dims: &mut BTreeMap<String, usize>,
    ) -> Result<(Distance, Datatype)> {
        let config = self.config.read();
        let Some(params) = config.config.vectors.get(name) else {
            return Err(EngineError::bad(format!(
                "Not existing vector name error: {name}"
            )));
        };
        check_vector(v, at)?;
        let known = params
            .size
            .or_else(|| self.points.read().dim(name))
            .or_else(|| batch_dims.get(name).copied());
        match known {
            Some(d) if d != v.len() => return Err(dim_error(d, v.len())),
            Some(_) => {}
            None => {
                batch_dims.insert(name.to_string(), v.len());
            }
        }
        Ok((params.distance, params.datatype()))
    }

    /// Validates and prepares (normalises, for Cosine) a set of named vectors.
    fn prepare_vectors(
        &self,
        vectors: &mut NamedVectors,
        at: &str,
        batch_dims: &mut BTreeMap<String, usize>,
    ) -> Result<()> {
        for (name, v) in vectors.iter_mut() {
            let vat = if name.is_empty() {
                format!("{at}.vector")
            } else {
                format!("{at}.vector.{name}")
            };
            match v {
                Vector::Dense(v) => {
                    if self.config.read().config.sparse_vectors.contains_key(name) {
                        return Err(EngineError::bad(format!(
                            "{vat}: `{name}` is a sparse vector: give {{\"indices\": […], \"values\": […]}}"
                        )));
                    }
                    if self.config.read().config.vectors.is_multi(name) {
                        if v.is_empty() {
                            return Err(EngineError::bad(format!(
                                "{vat}: a multivector must not be empty"
                            )));
                        }
                        return Err(EngineError::bad(format!(
                            "{vat}: `{name}` is a multivector: give an array of vectors (arrays of numbers)"
                        )));
                    }
                    let (distance, dtype) = self.check_named(name, v, &vat, batch_dims)?;
                    prepare_stored(distance, dtype, v);
                }
                Vector::Multi(rows) => {
                    let config = self.config.read();
                    let Some(params) = config.config.vectors.get(name) else {
                        if config.config.sparse_vectors.contains_key(name) {
                            return Err(EngineError::bad(format!(
                                "{vat}: `{name}` is a sparse vector: give {{\"indices\": […], \"values\": […]}}"
                            )));
                        }
                        return Err(EngineError::bad(format!(
                            "Not existing vector name error: {name}"
                        )));
                    };
                    if params.multivector.is_none() {
                        return Err(EngineError::bad(format!(
                            "{vat}: `{name}` is a dense vector, not a multivector: give an array of numbers"
                        )));
                    }
                    let dim = params.size;
                    crate::multi::check_multi(rows, dim, &vat)?;
                    if rows.len().saturating_mul(rows[0].len()) > MAX_MULTI_VALUES {
                        return Err(EngineError::bad(format!(
                            "{vat}: {} rows of {} values exceed the maximum of {MAX_MULTI_VALUES} values per multivector",
                            rows.len(),
                            rows[0].len()
                        )));
                    }
                    for row in rows.iter_mut() {
                        params.distance.prepare(row);
                    }
                }
                Vector::Sparse(_) => {
                    let config = self.config.read();
                    if config.config.sparse_vectors.contains_key(name) {
                        continue;
                    }
                    if config.config.vectors.get(name).is_some() {
                        return Err(EngineError::bad(format!(
                            "{vat}: `{name}` is a dense vector: give an array of numbers"
                        )));
                    }
                    return Err(EngineError::bad(format!(
                        "Not existing vector name error: {name}"
                    )));
                }
            }
        }
        Ok(())
    }

    /// Inserts or overwrites points. The whole batch is validated first: a batch with one bad
    /// point is refused whole.
    pub fn upsert(&self, points: Vec<PointStruct>) -> Result<UpdateResult> {
        self.update(PointUpdate::Upsert(points))
    }

    /// [`Collection::upsert`] with a choice of when to answer.
    pub fn upsert_with(
        &self,
        points: Vec<PointStruct>,
        durability: Durability,
    ) -> Result<UpdateResult> {
        self.update_with(PointUpdate::Upsert(points), durability)
    }

    /// Deletes points by id; ids that do not exist are ignored (Qdrant's semantics).
    pub fn delete(&self, ids: Vec<PointId>) -> Result<UpdateResult> {
        self.update(PointUpdate::Delete(PointSelector::Ids(ids)))
    }

    /// Deletes one point, failing with `PointNotFound` if it does not exist (the seed route).
    pub fn delete_existing(&self, id: PointId) -> Result<UpdateResult> {
        let mut w = self.writer.lock();
        // the writer lock keeps the point from vanishing between this check and the log append
        if self.points.read().find(id).is_none() {
            return Err(EngineError::PointNotFound(id));
        }

        let result = self.commit(&mut w, Operation::Delete(vec![id]));
        drop(w);
        self.finish_write(result, Durability::Fsync)
    }

    /// After the writer lock is released: waits for the log record to be durable (when asked
    /// to), then flushes if one is due and no background optimizer does.
    fn finish_write(
        &self,
        result: Result<UpdateResult>,
        durability: Durability,
    ) -> Result<UpdateResult> {
        let r = result?;
        if durability == Durability::Fsync {
            if let Some(sync) = &self.wal_sync {
                sync.sync_to(r.operation_id)?;
            }
        }
        self.flush_inline_if_due();
        Ok(r)
    }

    /// Makes every appended log record durable (for writes acknowledged before their fsync);
    /// the log-sync thread started with the background optimizer calls it every 10 ms.
    pub(crate) fn sync_log(&self) -> Result<()> {
        if let Some(sync) = &self.wal_sync {
            // what the log holds (after a recovery from a checkpoint the collection's sequence
            // can be ahead of a fresh log's)
            let appended = self.writer.lock().wal.as_ref().map_or(0, |w| w.last_seq());
            if sync.durable_seq() < appended {
                sync.sync_to(appended)?;
            }
        }
        Ok(())
    }

    /// Ids a selector names: existing ones (in the order given), and the first missing one.
    fn resolve(
        &self,
        seg: &Segments,
        selector: &PointSelector,
    ) -> Result<(Vec<PointId>, Option<PointId>)> {
        match selector {
            PointSelector::Ids(ids) => {
                if ids.is_empty() {
                    return Err(EngineError::bad("Empty update request"));
                }
                let mut seen = HashSet::new();
                let mut missing = None;
                let mut found = Vec::with_capacity(ids.len());
                for id in ids {
                    if seg.find(*id).is_some() {
                        if seen.insert(*id) {
                            found.push(*id);
                        }
                    } else if missing.is_none() {
                        missing = Some(*id);
                    }
                }
                Ok((found, missing))
            }
            PointSelector::Filter(f) => Ok((
                seg.live_in_id_order(None, Some(f))
                    .map(|loc| {
                        let (s, r) = seg.at(loc);
                        s.id(r)
                    })
                    .collect(),
                None,
            )),
        }
    }

    /// Applies one point update: validated in full, appended to the log, applied, and answered
    /// once the log record is fsynced (when persistent). Updates of payloads or vectors that name missing points apply to the others and
    /// then fail with the first missing id (Qdrant's semantics).
    pub fn update(&self, update: PointUpdate) -> Result<UpdateResult> {
        self.update_with(update, Durability::Fsync)
    }

    /// [`Collection::update`] with a choice of when to answer: after the log record is fsynced
    /// (shared with concurrent writers), or as soon as it is appended.
    pub fn update_with(&self, update: PointUpdate, durability: Durability) -> Result<UpdateResult> {
        let mut batch_dims = BTreeMap::new();
        let update = match update {
            PointUpdate::Upsert(mut points) => {
                let single = self.config.read().config.vectors.is_single();
                for (i, p) in points.iter_mut().enumerate() {
                    if single && p.vectors.is_empty() {
                        return Err(EngineError::bad(format!("points[{i}].vector: missing")));
                    }
                    self.prepare_vectors(&mut p.vectors, &format!("points[{i}]"), &mut batch_dims)?;
                }
                PointUpdate::Upsert(points)
            }
            PointUpdate::UpdateVectors(mut points) => {
                if points.is_empty() {
                    return Err(EngineError::bad("Empty update request"));
                }
                for (i, (_, vs)) in points.iter_mut().enumerate() {
                    if vs.is_empty() {
                        return Err(EngineError::bad(format!(
                            "points[{i}].vector: no vectors to update"
                        )));
                    }
                    self.prepare_vectors(vs, &format!("points[{i}]"), &mut batch_dims)?;
                }
                PointUpdate::UpdateVectors(points)
            }
            PointUpdate::DeleteVectors { selector, names } => {
                self.check_vector_names(&names)?;
                PointUpdate::DeleteVectors { selector, names }
            }
            PointUpdate::SetPayload {
                selector,
                payload,
                key,
            } => {
                if let Some(k) = &key {
                    JsonPath::parse(k).map_err(|e| EngineError::bad(format!("key: {e}")))?;
                }
                PointUpdate::SetPayload {
                    selector,
                    payload,
                    key,
                }
            }
            PointUpdate::DeletePayload { selector, keys } => {
                for k in &keys {
                    JsonPath::parse(k).map_err(|e| EngineError::bad(format!("keys: {e}")))?;
                }
                PointUpdate::DeletePayload { selector, keys }
            }
            other => other,
        };
        if let PointUpdate::Upsert(points) = &update {
            self.wait_for_indexing(points.len());
        }
        let mut w = self.writer.lock();
        let (op, missing) = {
            let seg = self.points.read();
            match update {
                PointUpdate::Upsert(points) => (Operation::Upsert(points), None),
                PointUpdate::Delete(selector) => {
                    let ids = match selector {
                        PointSelector::Ids(ids) => ids,
                        f => self.resolve(&seg, &f)?.0,
                    };
                    (Operation::Delete(ids), None)
                }
                PointUpdate::SetPayload {
                    selector,
                    payload,
                    key,
                } => {
                    let (ids, missing) = self.resolve(&seg, &selector)?;
                    (Operation::SetPayload { ids, payload, key }, missing)
                }
                PointUpdate::OverwritePayload { selector, payload } => {
                    let (ids, missing) = self.resolve(&seg, &selector)?;
                    (Operation::OverwritePayload { ids, payload }, missing)
                }
                PointUpdate::DeletePayload { selector, keys } => {
                    let (ids, missing) = self.resolve(&seg, &selector)?;
                    (Operation::DeletePayload { ids, keys }, missing)
                }
                PointUpdate::ClearPayload(selector) => {
                    let (ids, missing) = self.resolve(&seg, &selector)?;
                    (Operation::ClearPayload(ids), missing)
                }
                PointUpdate::UpdateVectors(points) => {
                    let missing = points
                        .iter()
                        .map(|(id, _)| *id)
                        .find(|id| seg.find(*id).is_none());
                    let points = points
                        .into_iter()
                        .filter(|(id, _)| seg.find(*id).is_some())
                        .collect();
                    (Operation::UpdateVectors(points), missing)
                }
                PointUpdate::DeleteVectors { selector, names } => {
                    let (ids, missing) = self.resolve(&seg, &selector)?;
                    (Operation::DeleteVectors { ids, names }, missing)
                }
            }
        };
        let result = self.commit(&mut w, op);
        drop(w);
        let result = self.finish_write(result, durability)?;
        match missing {
            Some(id) => Err(EngineError::PointNotFound(id)),
            None => Ok(result),
        }
    }

    /// Appends one operation to the log and applies it (the caller waits for the fsync after
    /// releasing the writer lock).
    fn commit(&self, w: &mut Writer, op: Operation) -> Result<UpdateResult> {
        if w.closed {
            return Err(EngineError::CollectionNotFound(self.name.clone()));
        }
        let seq = w.last_seq + 1;
        if let Some(wal) = w.wal.as_mut() {
            // a failed append leaves nothing of the record in the log (it is rolled back), so
            // the write is refused whole; the fsync comes after the writer lock is released
            wal.append(seq, &op.encode())?;
        }
        w.last_seq = seq;
        {
            let mut segs = self.points.write();
            apply(&mut segs, op, seq);
        }
        Ok(UpdateResult::completed(seq))
    }
}

/// Applies a logged operation to the segments (replay and live writes alike).
pub(crate) fn apply(segs: &mut Segments, op: Operation, seq: u64) {
    // payload / vector changes to a point first bring it into the appendable segment
    let edit = |segs: &mut Segments, id: PointId, f: &mut dyn FnMut(&mut Segment, usize)| {
        if let Some(r) = segs.move_to_appendable(id) {
            f(&mut segs.appendable, r);
            segs.appendable.set_version(r, seq);
        }
    };
    match op {
        Operation::Upsert(points) => {
            for p in points {
                if let Some(Loc::Sealed(..)) = segs.find(p.id) {
                    segs.take(p.id);
                }
                segs.appendable.upsert(p.id, &p.vectors, p.payload, seq);
            }
        }
        Operation::Delete(ids) => {
            for id in ids {
                segs.take(id);
            }
        }
        Operation::SetPayload { ids, payload, key } => {
            let key = key.as_deref().and_then(|k| JsonPath::parse(k).ok());
            for id in ids {
                edit(segs, id, &mut |seg, r| {
                    let mut p = seg.payload(r).clone();
                    rvdb_filter::set_payload(&mut p, &payload, key.as_ref());
                    seg.replace_payload(r, p);
                });
            }
        }
        Operation::OverwritePayload { ids, payload } => {
            for id in ids {
                edit(segs, id, &mut |seg, r| {
                    seg.replace_payload(r, payload.clone())
                });
            }
        }
        Operation::DeletePayload { ids, keys } => {
            let keys: Vec<JsonPath> = keys
                .iter()
                .filter_map(|k| JsonPath::parse(k).ok())
                .collect();
            for id in ids {
                edit(segs, id, &mut |seg, r| {
                    let mut p = seg.payload(r).clone();
                    rvdb_filter::delete_payload_keys(&mut p, &keys);
                    seg.replace_payload(r, p);
                });
            }
        }
        Operation::ClearPayload(ids) => {
            for id in ids {
                edit(segs, id, &mut |seg, r| {
                    seg.replace_payload(r, Payload::new())
                });
            }
        }
        Operation::UpdateVectors(points) => {
            for (id, vectors) in points {
                edit(segs, id, &mut |seg, r| {
                    for (name, v) in &vectors {
                        seg.set_vector(r, name, Some(v));
                    }
                });
            }
        }
        Operation::DeleteVectors { ids, names } => {
            for id in ids {
                edit(segs, id, &mut |seg, r| {
                    for name in &names {
                        seg.set_vector(r, name, None);
                    }
                });
            }
        }
    }
}

/// Values (rows × dimension) one multivector may hold.
const MAX_MULTI_VALUES: usize = 1 << 20;

fn dim_error(expected: usize, got: usize) -> EngineError {
    EngineError::bad(format!(
        "Vector dimension error: expected dim: {expected}, got {got}"
    ))
}

fn check_vector(v: &[f32], at: &str) -> Result<()> {
    if v.is_empty() {
        return Err(EngineError::bad(format!("{at}: must not be empty")));
    }
    if v.len() > MAX_DIM {
        return Err(EngineError::bad(format!(
            "{at}: dimension {} exceeds the maximum of {MAX_DIM}",
            v.len()
        )));
    }
    if let Some(j) = v.iter().position(|x| !x.is_finite()) {
        return Err(EngineError::bad(format!(
            "{at}[{j}]: {} is not a finite number",
            v[j]
        )));
    }
    Ok(())
}
