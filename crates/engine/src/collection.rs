//! A collection: its points, its write-ahead log, and the write and read paths.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use parking_lot::{Mutex, RwLock};
use serde_json::Value;

use rvdb_filter::{Filter, JsonPath, Payload, PayloadSchemaType, PointId};
use rvdb_index::{flat_search, Scored, SearchParams, TopK};
use rvdb_storage::{Wal, WalOptions};
use rvdb_vector::Distance;

use crate::codec::{decode_checkpoint, encode_checkpoint, Operation};
use crate::config::StoredConfig;
use crate::segment::Segment;
use crate::types::{
    NamedVectors, OrderBy, PayloadSelector, PointSelector, PointUpdate, RecommendStrategy,
    ScoreQuery, ScrollRequest, VectorParams, VectorSelector, VectorsConfig,
};
use crate::{
    CollectionConfig, EngineError, PointStruct, Record, Result, ScoredPoint, SearchRequest,
    UpdateResult,
};

/// The largest vector dimension accepted (Qdrant's limit).
pub const MAX_DIM: usize = 65_536;

pub(crate) const CONFIG_FILE: &str = "config.json";
const CHECKPOINT_FILE: &str = "checkpoint.bin";
const WAL_DIR: &str = "wal";

/// A named set of points sharing a set of vector spaces.
pub struct Collection {
    name: String,
    /// The collection's directory; `None` in memory.
    dir: Option<PathBuf>,
    config: RwLock<StoredConfig>,
    points: RwLock<Segment>,
    /// Serialises writers: a write holds it from log append to in-memory apply, so the log's
    /// order is the apply order. Searches never take it.
    writer: Mutex<Writer>,
}

struct Writer {
    wal: Option<Wal>,
    last_seq: u64,
    /// Write a checkpoint (and drop old log files) once the log outgrows this.
    checkpoint_after: u64,
    min_checkpoint_bytes: u64,
}

/// A payload index as reported in `payload_schema`.
#[derive(Debug, Clone, PartialEq)]
pub struct PayloadFieldInfo {
    pub field: String,
    pub data_type: PayloadSchemaType,
    /// Points with at least one indexed value.
    pub points: usize,
}

/// What GET /collections/{name} reports.
#[derive(Debug, Clone)]
pub struct CollectionInfo {
    pub name: String,
    /// The configuration, with dimensions fixed by data filled in.
    pub config: CollectionConfig,
    pub points_count: usize,
    pub payload_schema: Vec<PayloadFieldInfo>,
    /// Bytes of write-ahead log not yet folded into a checkpoint (0 in memory).
    pub wal_bytes: u64,
}

impl CollectionInfo {
    /// The distance of the unnamed vector (or of the first named one).
    pub fn distance(&self) -> Distance {
        self.config.vectors.spaces()[0].1.distance
    }

    /// The dimension of the unnamed vector (or of the first named one), if known.
    pub fn dim(&self) -> Option<usize> {
        self.config
            .vectors
            .spaces()
            .first()
            .and_then(|(_, p)| p.size)
    }
}

fn new_segment(config: &CollectionConfig) -> Segment {
    Segment::new(
        config
            .vectors
            .spaces()
            .into_iter()
            .map(|(n, p)| (n, p.size)),
    )
}

fn build_indexes(seg: &mut Segment, schema: &BTreeMap<String, PayloadSchemaType>) -> Result<()> {
    for (field, kind) in schema {
        let (index, points) = seg.payload_index_mut();
        index
            .create_field(field, *kind, points)
            .map_err(|e| EngineError::bad(e.to_string()))?;
    }
    Ok(())
}

impl Collection {
    pub(crate) fn in_memory(name: &str, config: CollectionConfig) -> Collection {
        let seg = new_segment(&config);
        Collection {
            name: name.to_string(),
            dir: None,
            config: RwLock::new(StoredConfig {
                config,
                payload_schema: BTreeMap::new(),
            }),
            points: RwLock::new(seg),
            writer: Mutex::new(Writer {
                wal: None,
                last_seq: 0,
                checkpoint_after: u64::MAX,
                min_checkpoint_bytes: u64::MAX,
            }),
        }
    }

    /// Opens a collection directory: reads its config, loads the checkpoint, then replays the
    /// log past it.
    pub(crate) fn open(name: &str, dir: &Path, min_checkpoint_bytes: u64) -> Result<Collection> {
        let stored = StoredConfig::read(&dir.join(CONFIG_FILE))?;
        let (mut seg, mut last_seq) = match std::fs::read(dir.join(CHECKPOINT_FILE)) {
            Ok(bytes) => decode_checkpoint(&bytes).map_err(|e| match e {
                EngineError::Corrupt { what, reason } => EngineError::Corrupt {
                    what: format!("{what} of collection `{name}`"),
                    reason,
                },
                e => e,
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (new_segment(&stored.config), 0),
            Err(e) => {
                return Err(rvdb_storage::StorageError::Io {
                    path: dir.join(CHECKPOINT_FILE),
                    source: e,
                }
                .into())
            }
        };
        // spaces added by a collection update after the checkpoint was written
        for (space, p) in stored.config.vectors.spaces() {
            seg.add_space(space, p.size);
        }
        build_indexes(&mut seg, &stored.payload_schema)?;
        let checkpoint_seq = last_seq;
        let (wal, records) = Wal::open(&dir.join(WAL_DIR), WalOptions::default())?;
        let mut replayed = 0usize;
        for rec in records {
            // records up to the checkpoint are already in it: replay is idempotent
            if rec.seq <= checkpoint_seq {
                continue;
            }
            let op = Operation::decode(&rec.body).map_err(|e| EngineError::Corrupt {
                what: format!("WAL record {} of collection `{name}`", rec.seq),
                reason: e.to_string(),
            })?;
            apply(&mut seg, op, rec.seq);
            last_seq = rec.seq;
            replayed += 1;
        }
        tracing::info!(
            collection = name,
            points = seg.len(),
            checkpoint_seq,
            replayed,
            "collection loaded"
        );
        let checkpoint_after = min_checkpoint_bytes.max(wal.size_bytes());
        // a log emptied by a checkpoint still knows the sequence it has reached
        let last_seq = last_seq.max(wal.last_seq());
        Ok(Collection {
            name: name.to_string(),
            dir: Some(dir.to_path_buf()),
            config: RwLock::new(stored),
            points: RwLock::new(seg),
            writer: Mutex::new(Writer {
                wal: Some(wal),
                last_seq,
                checkpoint_after,
                min_checkpoint_bytes,
            }),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The configuration, with dimensions fixed by data filled in.
    pub fn config(&self) -> CollectionConfig {
        let mut config = self.config.read().config.clone();
        let seg = self.points.read();
        let fill = |name: &str, p: &mut VectorParams| {
            if p.size.is_none() {
                p.size = seg.column(name).and_then(|c| c.dim());
            }
        };
        match &mut config.vectors {
            VectorsConfig::Single(p) => fill("", p),
            VectorsConfig::Named(m) => m.iter_mut().for_each(|(n, p)| fill(n, p)),
        }
        config
    }

    pub fn points_count(&self) -> usize {
        self.points.read().len()
    }

    pub fn info(&self) -> CollectionInfo {
        let wal_bytes = self
            .writer
            .lock()
            .wal
            .as_ref()
            .map_or(0, |w| w.size_bytes());
        let config = self.config();
        let seg = self.points.read();
        let payload_schema = seg
            .payload_index()
            .fields()
            .into_iter()
            .map(|(field, data_type, points)| PayloadFieldInfo {
                field,
                data_type,
                points,
            })
            .collect();
        CollectionInfo {
            name: self.name.clone(),
            config,
            points_count: seg.len(),
            payload_schema,
            wal_bytes,
        }
    }

    /// Checks one vector against its space; returns the space's distance.
    fn check_named(
        &self,
        name: &str,
        v: &[f32],
        at: &str,
        batch_dims: &mut BTreeMap<String, usize>,
    ) -> Result<Distance> {
        let config = self.config.read();
        let Some(params) = config.config.vectors.get(name) else {
            return Err(EngineError::bad(format!(
                "Not existing vector name error: {name}"
            )));
        };
        check_vector(v, at)?;
        let known = params
            .size
            .or_else(|| self.points.read().column(name).and_then(|c| c.dim()))
            .or_else(|| batch_dims.get(name).copied());
        match known {
            Some(d) if d != v.len() => return Err(dim_error(d, v.len())),
            Some(_) => {}
            None => {
                batch_dims.insert(name.to_string(), v.len());
            }
        }
        Ok(params.distance)
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
            let distance = self.check_named(name, v, &vat, batch_dims)?;
            distance.prepare(v);
        }
        Ok(())
    }

    /// Inserts or overwrites points. The whole batch is validated first: a batch with one bad
    /// point is refused whole.
    pub fn upsert(&self, points: Vec<PointStruct>) -> Result<UpdateResult> {
        self.update(PointUpdate::Upsert(points))
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
        self.commit(&mut w, Operation::Delete(vec![id]))
    }

    /// Ids a selector names: existing ones (in the order given), and the first missing one.
    fn resolve(
        &self,
        seg: &Segment,
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
                self.filtered_rows(seg, Some(f))
                    .into_iter()
                    .map(|r| seg.id(r))
                    .collect(),
                None,
            )),
        }
    }

    /// Applies one point update: validated in full, logged (durably, when persistent), then
    /// applied. Updates of payloads or vectors that name missing points apply to the others and
    /// then fail with the first missing id (Qdrant's semantics).
    pub fn update(&self, update: PointUpdate) -> Result<UpdateResult> {
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
                let config = self.config.read();
                if let Some(n) = names
                    .iter()
                    .find(|n| config.config.vectors.get(n).is_none())
                {
                    return Err(EngineError::bad(format!(
                        "Not existing vector name error: {n}"
                    )));
                }
                drop(config);
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
        let result = self.commit(&mut w, op)?;
        match missing {
            Some(id) => Err(EngineError::PointNotFound(id)),
            None => Ok(result),
        }
    }

    /// Logs (durably, when persistent) and then applies one operation.
    fn commit(&self, w: &mut Writer, op: Operation) -> Result<UpdateResult> {
        let seq = w.last_seq + 1;
        if let Some(wal) = w.wal.as_mut() {
            if let Err(e) = wal.append_sync(seq, &op.encode()) {
                if wal.last_seq() >= seq {
                    // Written but not confirmed durable (the fsync failed): the outcome is
                    // unknown to the client, and a restart would replay the record, so memory
                    // follows the log rather than diverge from it.
                    w.last_seq = seq;
                    apply(&mut self.points.write(), op, seq);
                }
                return Err(e.into());
            }
        }
        w.last_seq = seq;
        apply(&mut self.points.write(), op, seq);
        if w.wal
            .as_ref()
            .is_some_and(|wal| wal.size_bytes() > w.checkpoint_after)
        {
            // the write is durable already; a failed checkpoint only leaves a longer log
            if let Err(e) = self.checkpoint(w) {
                tracing::error!(collection = %self.name, error = %e, "checkpoint failed; the log keeps growing");
            }
        }
        Ok(UpdateResult::completed(seq))
    }

    /// Writes all points to a checkpoint file (atomically) and drops the log files it covers.
    fn checkpoint(&self, w: &mut Writer) -> Result<()> {
        let (Some(dir), Some(wal)) = (self.dir.as_ref(), w.wal.as_mut()) else {
            return Ok(());
        };
        let bytes = encode_checkpoint(&self.points.read(), w.last_seq);
        rvdb_storage::atomic_write(&dir.join(CHECKPOINT_FILE), &bytes)?;
        wal.rotate()?;
        wal.remove_before(w.last_seq + 1)?;
        w.checkpoint_after = w.min_checkpoint_bytes.max(bytes.len() as u64);
        tracing::debug!(collection = %self.name, seq = w.last_seq, bytes = bytes.len(), "checkpoint written");
        Ok(())
    }

    /// Rewrites `config.json` (under the writer lock, so config changes are serialised).
    fn store_config(&self, stored: &StoredConfig) -> Result<()> {
        if let Some(dir) = &self.dir {
            rvdb_storage::atomic_write(&dir.join(CONFIG_FILE), &stored.to_bytes())?;
        }
        Ok(())
    }

    /// Changes collection-level settings (Qdrant's PATCH): merges `settings` into the stored
    /// ones and per-vector `extra` into the named spaces.
    pub fn update_config(
        &self,
        settings: serde_json::Map<String, Value>,
        vectors: BTreeMap<String, serde_json::Map<String, Value>>,
    ) -> Result<()> {
        let _w = self.writer.lock();
        let mut stored = self.config.read().clone();
        for (name, extra) in vectors {
            let space = match &mut stored.config.vectors {
                VectorsConfig::Single(p) if name.is_empty() => p,
                VectorsConfig::Named(m) => m.get_mut(&name).ok_or_else(|| {
                    EngineError::bad(format!("Not existing vector name error: {name}"))
                })?,
                VectorsConfig::Single(_) => {
                    return Err(EngineError::bad(format!(
                        "Not existing vector name error: {name}"
                    )))
                }
            };
            merge_objects(&mut space.extra, extra);
        }
        merge_objects(&mut stored.config.settings, settings);
        self.store_config(&stored)?;
        *self.config.write() = stored;
        Ok(())
    }

    /// Creates (or replaces) a payload index on `field`.
    pub fn create_index(&self, field: &str, kind: PayloadSchemaType) -> Result<UpdateResult> {
        JsonPath::parse(field).map_err(|e| EngineError::bad(format!("field_name: {e}")))?;
        let w = self.writer.lock();
        let mut stored = self.config.read().clone();
        stored.payload_schema.insert(field.to_string(), kind);
        {
            let mut seg = self.points.write();
            let (index, points) = seg.payload_index_mut();
            index
                .create_field(field, kind, points)
                .map_err(|e| EngineError::bad(e.to_string()))?;
        }
        self.store_config(&stored)?;
        *self.config.write() = stored;
        Ok(UpdateResult::completed(w.last_seq))
    }

    /// Drops the payload index on `field` (a no-op if there is none).
    pub fn delete_index(&self, field: &str) -> Result<UpdateResult> {
        let w = self.writer.lock();
        let mut stored = self.config.read().clone();
        stored.payload_schema.remove(field);
        self.points
            .write()
            .payload_index_mut()
            .0
            .delete_field(field);
        self.store_config(&stored)?;
        *self.config.write() = stored;
        Ok(UpdateResult::completed(w.last_seq))
    }

    /// Rows that pass `filter`, in id order (all rows when `None`).
    fn filtered_rows(&self, seg: &Segment, filter: Option<&Filter>) -> Vec<usize> {
        let Some(f) = filter.filter(|f| !f.is_empty()) else {
            return seg.rows_from(None).collect();
        };
        match seg.payload_index().candidates(f) {
            Some(ids) => {
                let mut rows: Vec<(PointId, usize)> = ids
                    .into_iter()
                    .filter_map(|id| seg.find(id).map(|r| (id, r)))
                    .filter(|(_, r)| seg.matches(*r, f))
                    .collect();
                rows.sort_unstable();
                rows.into_iter().map(|(_, r)| r).collect()
            }
            None => seg.rows_from(None).filter(|&r| seg.matches(r, f)).collect(),
        }
    }

    fn record(
        &self,
        seg: &Segment,
        row: usize,
        with_payload: &PayloadSelector,
        with_vector: &VectorSelector,
    ) -> Record {
        Record {
            id: seg.id(row),
            payload: select_payload(seg.payload(row), with_payload),
            vectors: select_vectors(seg, row, with_vector),
            version: seg.version(row),
            order_value: None,
        }
    }

    /// One point by id, with its payload and vectors.
    pub fn get(&self, id: PointId) -> Option<Record> {
        let seg = self.points.read();
        seg.find(id)
            .map(|r| self.record(&seg, r, &PayloadSelector::All, &VectorSelector::All))
    }

    /// Points by id, in the order asked, skipping missing ones.
    pub fn retrieve(
        &self,
        ids: &[PointId],
        with_payload: &PayloadSelector,
        with_vector: &VectorSelector,
    ) -> Result<Vec<Record>> {
        self.check_vector_selector(with_vector)?;
        let seg = self.points.read();
        Ok(ids
            .iter()
            .filter_map(|id| seg.find(*id))
            .map(|r| self.record(&seg, r, with_payload, with_vector))
            .collect())
    }

    fn check_vector_selector(&self, with_vector: &VectorSelector) -> Result<()> {
        if let VectorSelector::Names(names) = with_vector {
            let config = self.config.read();
            if let Some(n) = names
                .iter()
                .find(|n| config.config.vectors.get(n).is_none())
            {
                return Err(EngineError::bad(format!(
                    "Not existing vector name error: {n}"
                )));
            }
        }
        Ok(())
    }

    /// Points in id order: `limit` of them after skipping `offset`, and the total count.
    pub fn list(&self, offset: usize, limit: usize) -> (Vec<Record>, usize) {
        let seg = self.points.read();
        let rows = seg
            .rows_from(None)
            .skip(offset)
            .take(limit)
            .map(|r| self.record(&seg, r, &PayloadSelector::All, &VectorSelector::All))
            .collect();
        (rows, seg.len())
    }

    /// A page of points that pass the filter, in id order from `offset` (or by a payload
    /// value), and the id the next page starts at.
    pub fn scroll(&self, req: &ScrollRequest) -> Result<(Vec<Record>, Option<PointId>)> {
        self.check_vector_selector(&req.with_vector)?;
        let seg = self.points.read();
        if let Some(order) = &req.order_by {
            if req.offset.is_some() {
                return Err(EngineError::bad(
                    "offset cannot be used together with order_by; use order_by.start_from",
                ));
            }
            let records = self.scroll_by_value(&seg, req, order);
            return Ok((records, None));
        }
        let filter = req.filter.as_ref().filter(|f| !f.is_empty());
        let mut out = Vec::with_capacity(req.limit.min(1024));
        let mut next = None;
        for r in seg.rows_from(req.offset) {
            if filter.is_some_and(|f| !seg.matches(r, f)) {
                continue;
            }
            if out.len() == req.limit {
                next = Some(seg.id(r));
                break;
            }
            out.push(self.record(&seg, r, &req.with_payload, &req.with_vector));
        }
        Ok((out, next))
    }

    fn scroll_by_value(&self, seg: &Segment, req: &ScrollRequest, order: &OrderBy) -> Vec<Record> {
        let key = match JsonPath::parse(&order.key) {
            Ok(k) => k,
            Err(_) => return Vec::new(),
        };
        // one entry per (value, point): a point with several values appears once per value
        let mut entries: Vec<(f64, Value, PointId, usize)> = Vec::new();
        for r in self.filtered_rows(seg, req.filter.as_ref()) {
            let mut seen = Vec::new();
            for v in key.values(seg.payload(r), true) {
                if let Some((num, shown)) = order_value(v) {
                    if !seen.contains(&num.to_bits()) {
                        seen.push(num.to_bits());
                        entries.push((num, shown, seg.id(r), r));
                    }
                }
            }
        }
        // stable sort by value only: equal values keep id order
        if order.descending {
            entries.sort_by(|a, b| b.0.total_cmp(&a.0));
        } else {
            entries.sort_by(|a, b| a.0.total_cmp(&b.0));
        }
        entries
            .into_iter()
            .filter(|(v, ..)| match order.start_from {
                None => true,
                Some(s) if order.descending => *v <= s,
                Some(s) => *v >= s,
            })
            .take(req.limit)
            .map(|(_, shown, _, r)| {
                let mut rec = self.record(seg, r, &req.with_payload, &req.with_vector);
                rec.order_value = Some(shown);
                rec
            })
            .collect()
    }

    /// How many points pass the filter (exact).
    pub fn count(&self, filter: Option<&Filter>) -> usize {
        let seg = self.points.read();
        match filter.filter(|f| !f.is_empty()) {
            None => seg.len(),
            Some(_) => self.filtered_rows(&seg, filter).len(),
        }
    }

    /// Estimated number of points passing the filter, from the payload indexes.
    pub fn estimate(&self, filter: &Filter) -> rvdb_filter::Cardinality {
        let seg = self.points.read();
        seg.payload_index().estimate(filter, seg.len())
    }

    /// The stored (prepared) vector `using` of point `id`.
    pub fn vector_of(&self, id: PointId, using: &str) -> Result<Vec<f32>> {
        let seg = self.points.read();
        let row = seg.find(id).ok_or(EngineError::PointNotFound(id))?;
        if self.config.read().config.vectors.get(using).is_none() {
            return Err(EngineError::bad(format!(
                "Not existing vector name error: {using}"
            )));
        }
        seg.column(using)
            .and_then(|c| c.get(row))
            .map(<[f32]>::to_vec)
            .ok_or_else(|| {
                EngineError::bad(format!(
                    "Vector with name `{using}` for point {id} not found"
                ))
            })
    }

    /// The distance of a vector space.
    pub fn distance_of(&self, using: &str) -> Result<Distance> {
        self.config
            .read()
            .config
            .vectors
            .get(using)
            .map(|p| p.distance)
            .ok_or_else(|| EngineError::bad(format!("Not existing vector name error: {using}")))
    }

    /// Exact search in one vector space.
    pub fn search(&self, req: &SearchRequest) -> Result<Vec<ScoredPoint>> {
        self.check_vector_selector(&req.with_vector)?;
        let distance = self.distance_of(&req.using)?;
        if let Some(t) = req.score_threshold {
            if !t.is_finite() {
                return Err(EngineError::bad("score_threshold: must be a finite number"));
            }
        }
        let seg = self.points.read();
        let Some(col) = seg.column(&req.using) else {
            return Ok(Vec::new());
        };
        let Some(dim) = col.dim() else {
            return Ok(Vec::new());
        };
        let check = |v: &[f32], at: &str| -> Result<Vec<f32>> {
            check_vector(v, at)?;
            if v.len() != dim {
                return Err(dim_error(dim, v.len()));
            }
            let mut q = v.to_vec();
            distance.prepare(&mut q);
            Ok(q)
        };
        let k = req.limit.saturating_add(req.offset);
        let filter = req.filter.as_ref().filter(|f| !f.is_empty());
        // the planner: a filter that the payload indexes narrow down is scanned row by row
        let candidates: Option<Vec<usize>> = filter.and_then(|f| {
            seg.payload_index()
                .candidates(f)
                .map(|_| self.filtered_rows(&seg, Some(f)))
        });
        let accept = |r: u32| {
            let r = r as usize;
            col.is_present(r) && filter.is_none_or(|f| seg.matches(r, f))
        };
        let hits: Vec<Scored> = match &req.query {
            ScoreQuery::Nearest(v) => {
                let q = check(v, "vector")?;
                let min_raw = req.score_threshold.map(|t| distance.score_to_raw(t));
                let hits = match &candidates {
                    Some(rows) => {
                        let mut top = TopK::new(k);
                        for &r in rows {
                            if let Some(x) = col.get(r) {
                                let raw = distance.raw(&q, x);
                                if min_raw.is_none_or(|m| raw > m) {
                                    top.push(r as u32, raw);
                                }
                            }
                        }
                        top.into_sorted_vec()
                    }
                    None => {
                        let everything_present =
                            filter.is_none() && (0..seg.len()).all(|r| col.is_present(r));
                        let params = SearchParams { k, min_raw };
                        if everything_present {
                            flat_search(distance, col.data(), &q, params, None)
                        } else {
                            flat_search(distance, col.data(), &q, params, Some(&accept))
                        }
                    }
                };
                hits.into_iter()
                    .map(|h| Scored {
                        offset: h.offset,
                        raw: distance.raw_to_score(h.raw),
                    })
                    .collect()
            }
            ScoreQuery::Recommend {
                positive,
                negative,
                strategy: RecommendStrategy::AverageVector,
            } => {
                if positive.is_empty() {
                    return Err(EngineError::bad("recommend: at least one positive example is required for the average_vector strategy"));
                }
                let avg = average_query(positive, negative);
                let inner = SearchRequest {
                    query: ScoreQuery::Nearest(avg),
                    ..req.clone()
                };
                drop(seg);
                return self.search(&inner);
            }
            ScoreQuery::Recommend {
                positive,
                negative,
                strategy,
            } => {
                if positive.is_empty() && negative.is_empty() {
                    return Err(EngineError::bad(
                        "recommend: no positive or negative examples given",
                    ));
                }
                let pos = positive
                    .iter()
                    .enumerate()
                    .map(|(i, v)| check(v, &format!("positive[{i}]")))
                    .collect::<Result<Vec<_>>>()?;
                let neg = negative
                    .iter()
                    .enumerate()
                    .map(|(i, v)| check(v, &format!("negative[{i}]")))
                    .collect::<Result<Vec<_>>>()?;
                let score = |x: &[f32]| -> f32 {
                    match strategy {
                        RecommendStrategy::BestScore => {
                            let best = |ex: &[Vec<f32>]| {
                                ex.iter()
                                    .map(|e| distance.raw(e, x))
                                    .fold(f32::NEG_INFINITY, f32::max)
                            };
                            let (p, n) = (best(&pos), best(&neg));
                            if p > n {
                                scaled_sigmoid(p)
                            } else {
                                -scaled_sigmoid(n)
                            }
                        }
                        _ => {
                            let sum = |ex: &[Vec<f32>]| {
                                ex.iter().map(|e| distance.raw(e, x)).sum::<f32>()
                            };
                            sum(&pos) - sum(&neg)
                        }
                    }
                };
                let mut top = TopK::new(k);
                let rows: Box<dyn Iterator<Item = usize>> = match &candidates {
                    Some(rows) => Box::new(rows.iter().copied()),
                    None => Box::new((0..seg.len()).filter(|&r| accept(r as u32))),
                };
                for r in rows {
                    if let Some(x) = col.get(r) {
                        let s = score(x);
                        if req.score_threshold.is_none_or(|t| s > t) {
                            top.push(r as u32, s);
                        }
                    }
                }
                top.into_sorted_vec()
            }
        };
        Ok(hits
            .into_iter()
            .skip(req.offset)
            .map(|h| {
                let r = h.offset as usize;
                ScoredPoint {
                    id: seg.id(r),
                    version: seg.version(r),
                    score: h.raw,
                    payload: select_payload(seg.payload(r), &req.with_payload),
                    vectors: select_vectors(&seg, r, &req.with_vector),
                    order_value: None,
                }
            })
            .collect())
    }
}

/// mean(positive) + mean(positive) − mean(negative), or mean(positive) without negatives.
fn average_query(positive: &[Vec<f32>], negative: &[Vec<f32>]) -> Vec<f32> {
    let mean = |vs: &[Vec<f32>]| -> Vec<f32> {
        let dim = vs.iter().map(Vec::len).max().unwrap_or(0);
        let mut m = vec![0f32; dim];
        for v in vs {
            for (a, x) in m.iter_mut().zip(v) {
                *a += x;
            }
        }
        m.iter_mut().for_each(|a| *a /= vs.len() as f32);
        m
    };
    let p = mean(positive);
    if negative.is_empty() {
        return p;
    }
    let n = mean(negative);
    p.iter().zip(&n).map(|(a, b)| a + a - b).collect()
}

/// Qdrant's scaled fast sigmoid: 0.5 · (x / (1 + |x|) + 1).
fn scaled_sigmoid(x: f32) -> f32 {
    if !x.is_finite() {
        return 0.5 * (x + 1.0);
    }
    0.5 * (x / (1.0 + x.abs()) + 1.0)
}

/// A payload value usable for ordering: numbers, and datetimes (as microseconds since 1970).
fn order_value(v: &Value) -> Option<(f64, Value)> {
    match v {
        Value::Number(n) => n.as_f64().map(|x| (x, v.clone())),
        Value::String(s) => rvdb_filter::parse_datetime(s).map(|us| (us as f64, Value::from(us))),
        _ => None,
    }
}

fn merge_objects(
    target: &mut serde_json::Map<String, Value>,
    patch: serde_json::Map<String, Value>,
) {
    for (k, v) in patch {
        match (target.get_mut(&k), v) {
            (Some(Value::Object(t)), Value::Object(p)) => merge_objects(t, p),
            (_, Value::Null) => {}
            (_, v) => {
                target.insert(k, v);
            }
        }
    }
}

fn select_payload(p: &Payload, sel: &PayloadSelector) -> Option<Payload> {
    match sel {
        PayloadSelector::None => None,
        PayloadSelector::All => Some(p.clone()),
        PayloadSelector::Include(keys) => Some(rvdb_filter::select_payload(p, Some(keys), None)),
        PayloadSelector::Exclude(keys) => Some(rvdb_filter::select_payload(p, None, Some(keys))),
    }
}

fn select_vectors(seg: &Segment, row: usize, sel: &VectorSelector) -> Option<NamedVectors> {
    match sel {
        VectorSelector::None => None,
        VectorSelector::All => Some(seg.vectors(row)),
        VectorSelector::Names(names) => Some(
            names
                .iter()
                .filter_map(|n| {
                    seg.column(n)
                        .and_then(|c| c.get(row))
                        .map(|v| (n.clone(), v.to_vec()))
                })
                .collect(),
        ),
    }
}

fn apply(seg: &mut Segment, op: Operation, seq: u64) {
    match op {
        Operation::Upsert(points) => {
            for p in points {
                seg.upsert(p.id, &p.vectors, p.payload, seq);
            }
        }
        Operation::Delete(ids) => {
            for id in ids {
                seg.delete(id);
            }
        }
        Operation::SetPayload { ids, payload, key } => {
            let key = key.as_deref().and_then(|k| JsonPath::parse(k).ok());
            for id in ids {
                if let Some(r) = seg.find(id) {
                    let mut p = seg.payload(r).clone();
                    rvdb_filter::set_payload(&mut p, &payload, key.as_ref());
                    seg.replace_payload(r, p);
                    seg.set_version(r, seq);
                }
            }
        }
        Operation::OverwritePayload { ids, payload } => {
            for id in ids {
                if let Some(r) = seg.find(id) {
                    seg.replace_payload(r, payload.clone());
                    seg.set_version(r, seq);
                }
            }
        }
        Operation::DeletePayload { ids, keys } => {
            let keys: Vec<JsonPath> = keys
                .iter()
                .filter_map(|k| JsonPath::parse(k).ok())
                .collect();
            for id in ids {
                if let Some(r) = seg.find(id) {
                    let mut p = seg.payload(r).clone();
                    rvdb_filter::delete_payload_keys(&mut p, &keys);
                    seg.replace_payload(r, p);
                    seg.set_version(r, seq);
                }
            }
        }
        Operation::ClearPayload(ids) => {
            for id in ids {
                if let Some(r) = seg.find(id) {
                    seg.replace_payload(r, Payload::new());
                    seg.set_version(r, seq);
                }
            }
        }
        Operation::UpdateVectors(points) => {
            for (id, vectors) in points {
                if let Some(r) = seg.find(id) {
                    for (name, v) in &vectors {
                        seg.set_vector(r, name, Some(v));
                    }
                    seg.set_version(r, seq);
                }
            }
        }
        Operation::DeleteVectors { ids, names } => {
            for id in ids {
                if let Some(r) = seg.find(id) {
                    for name in &names {
                        seg.set_vector(r, name, None);
                    }
                    seg.set_version(r, seq);
                }
            }
        }
    }
}

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
