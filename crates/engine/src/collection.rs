//! A collection: its points, its write-ahead log, and the write and read paths. Here: opening
//! (`state.bin`, mapped segments, quarantine, log replay), the write path (validate, resolve,
//! append, apply, then the group-commit fsync), flushes, config changes and payload indexes.
//! Reads, the universal query and the optimizer are in `read.rs`, `query.rs`, `optimizer.rs`.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use rayon::prelude::*;

use parking_lot::{Mutex, RwLock};

use rvdb_filter::{JsonPath, Payload, PayloadSchemaType, PointId};
use rvdb_storage::{Vfs, Wal, WalOptions, WalSync};
use rvdb_vector::Distance;

use crate::codec::{decode_checkpoint, Operation};
use crate::config::StoredConfig;
use crate::persist;
use crate::segment::Segment;
use crate::segments::{Loc, Sealed, Segments};
use crate::settings::{SettingsDiff, VectorParamsDiff};
use crate::types::{NamedVectors, PointSelector, PointUpdate, VectorParams, VectorsConfig};
use crate::{CollectionConfig, Durability, EngineError, PointStruct, Result, UpdateResult};

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
    pub(crate) config: RwLock<StoredConfig>,
    pub(crate) points: RwLock<Segments>,
    /// Set while the optimizer works on this collection (status "yellow").
    pub(crate) optimizing: AtomicBool,
    /// Tells the optimizer thread to stop.
    pub(crate) stop: AtomicBool,
    /// Held by whoever runs an optimizer step or a flush.
    pub(crate) optimizer_lock: Mutex<()>,
    /// The id the next sealed segment gets.
    pub(crate) next_segment_id: AtomicU64,
    /// Set when segments were sealed, merged or vacuumed since the last flush.
    pub(crate) segments_changed: AtomicBool,
    /// Whether a background optimizer thread runs (it also flushes).
    pub(crate) background: AtomicBool,
    /// The last write sequence number the optimizer saw, and since when (how long writes have
    /// paused).
    pub(crate) idle_probe: Mutex<(u64, std::time::Instant)>,
    /// Points per second the optimizer last put into graphs (a moving average; 0 before the
    /// first build), and when the next write held back by a filling backlog may go.
    pub(crate) pace: Mutex<(f64, std::time::Instant)>,
    /// What went wrong at load (quarantined segments); the status is "red" while any.
    pub(crate) problems: Mutex<Vec<String>>,
    /// The file system the collection's files live on.
    vfs: Arc<dyn Vfs>,
    /// Makes appended log records durable, sharing one fsync among concurrent writers (group
    /// commit); `None` in memory.
    wal_sync: Option<WalSync>,
    /// Serialises writers: a write holds it from log append to in-memory apply, so the log's
    /// order is the apply order. Searches never take it.
    pub(crate) writer: Mutex<Writer>,
}

pub(crate) struct Writer {
    wal: Option<Wal>,
    pub(crate) last_seq: u64,
    /// Flush (and drop old log files) once the log outgrows this.
    checkpoint_after: u64,
    min_checkpoint_bytes: u64,
    /// Set when the collection was deleted or replaced: writes are refused.
    pub(crate) closed: bool,
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
    /// "green" (nothing to do), "yellow" (the optimizer is working).
    pub status: &'static str,
    /// Sealed segments plus the appendable one.
    pub segments_count: usize,
    /// Vectors in segments whose HNSW index is built.
    pub indexed_vectors_count: usize,
    /// Bytes of write-ahead log not yet folded into a checkpoint (0 in memory).
    pub wal_bytes: u64,
    /// What went wrong when it was loaded (quarantined segments); status is "red" while any.
    pub problems: Vec<String>,
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

pub(crate) fn new_segment(config: &CollectionConfig) -> Segment {
    Segment::new(
        config
            .vectors
            .spaces()
            .into_iter()
            .map(|(n, p)| (n, p.size)),
    )
}

/// Builds the payload indexes of `schema` that the segment does not have yet.
fn build_missing_indexes(
    seg: &mut Segment,
    schema: &BTreeMap<String, PayloadSchemaType>,
) -> Result<()> {
    let have = seg.payload_index().fields();
    let missing: BTreeMap<String, PayloadSchemaType> = schema
        .iter()
        .filter(|(f, k)| !have.iter().any(|(h, hk, _)| h == *f && hk == *k))
        .map(|(f, k)| (f.clone(), *k))
        .collect();
    build_indexes(seg, &missing)
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
            points: RwLock::new(Segments::new(seg)),
            optimizing: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            optimizer_lock: Mutex::new(()),
            next_segment_id: AtomicU64::new(1),
            segments_changed: AtomicBool::new(false),
            background: AtomicBool::new(false),
            idle_probe: Mutex::new((0, std::time::Instant::now())),
            pace: Mutex::new((0.0, std::time::Instant::now())),
            problems: Mutex::new(Vec::new()),
            vfs: rvdb_storage::default_vfs(),
            wal_sync: None,
            writer: Mutex::new(Writer {
                wal: None,
                last_seq: 0,
                checkpoint_after: u64::MAX,
                min_checkpoint_bytes: u64::MAX,
                closed: false,
            }),
        }
    }

    /// Opens a collection directory: reads its config and `state.bin`, maps the segments it
    /// names (a damaged one is quarantined and reported, not fatal), then replays the log past
    /// the state's sequence number.
    pub(crate) fn open(
        name: &str,
        dir: &Path,
        min_checkpoint_bytes: u64,
        vfs: Arc<dyn Vfs>,
    ) -> Result<Collection> {
        let v: &dyn Vfs = &*vfs;
        let stored = StoredConfig::read(v, &dir.join(CONFIG_FILE))?;
        let named = |e: EngineError| match e {
            EngineError::Corrupt { what, reason } => EngineError::Corrupt {
                what: format!("{what} of collection `{name}`"),
                reason,
            },
            e => e,
        };
        let state_path = dir.join(persist::STATE_FILE);
        let mut problems = Vec::new();
        let mut sealed = Vec::new();
        let (mut seg, mut last_seq, next_segment_id) = match v.read(&state_path) {
            Ok(bytes) => {
                let state = persist::decode_state(&state_path, &bytes)?;
                let loaded: Vec<_> = state
                    .segments
                    .par_iter()
                    .map(|(id, rows, _)| {
                        // the payload indexes are built while the graphs are read
                        persist::load_segment(v, dir, *id, *rows, &|seg, stored_index| {
                            if let Some(mut ix) = stored_index {
                                // fields created or dropped since the segment was written
                                ix.retain_fields(|f, k| stored.payload_schema.get(f) == Some(&k));
                                seg.set_payload_index(ix);
                            }
                            build_missing_indexes(seg, &stored.payload_schema)
                        })
                    })
                    .collect();
                for ((id, _, tombstones), loaded) in state.segments.iter().zip(loaded) {
                    match loaded {
                        Ok(l) => {
                            let s = Sealed::new(*id, l.data);
                            for (r, _) in tombstones.iter().enumerate().filter(|(_, &d)| d) {
                                s.delete_row(r);
                            }
                            s.persisted.store(true, Ordering::Relaxed);
                            if let Some(g) = l.hnsw {
                                let _ = s.hnsw.set(g);
                                s.graphs_persisted.store(true, Ordering::Relaxed);
                            }
                            sealed.push(Arc::new(s));
                        }
                        Err(e) => {
                            let moved = persist::quarantine(v, dir, *id)?;
                            let msg = format!(
                                "segment {id} is damaged ({e}); its points are missing until it is restored; files moved to {}",
                                moved.display()
                            );
                            tracing::error!(collection = name, "{msg}");
                            problems.push(msg);
                        }
                    }
                }
                (state.appendable, state.seq, state.next_segment_id)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // a collection written before segment files existed keeps a checkpoint
                match v.read(&dir.join(CHECKPOINT_FILE)) {
                    Ok(bytes) => {
                        let (seg, seq) = decode_checkpoint(&bytes).map_err(named)?;
                        (seg, seq, 1)
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        (new_segment(&stored.config), 0, 1)
                    }
                    Err(e) => {
                        return Err(rvdb_storage::StorageError::Io {
                            path: dir.join(CHECKPOINT_FILE),
                            source: e,
                        }
                        .into())
                    }
                }
            }
            Err(e) => {
                return Err(rvdb_storage::StorageError::Io {
                    path: state_path,
                    source: e,
                }
                .into())
            }
        };
        let keep: Vec<u64> = sealed.iter().map(|s| s.id).collect();
        persist::remove_unreferenced(v, dir, &keep)?;
        // spaces added by a collection update after the state was written
        for (space, p) in stored.config.vectors.spaces() {
            seg.add_space(space, p.size);
        }
        build_indexes(&mut seg, &stored.payload_schema)?;
        let mut segs = Segments::new(seg);
        segs.sealed = sealed;
        let state_seq = last_seq;
        let (wal, records) = Wal::open_in(vfs.clone(), &dir.join(WAL_DIR), WalOptions::default())?;
        // the log directory may have just been created: make its entry durable too
        rvdb_storage::fsync_dir_in(v, dir)?;
        let mut replayed = 0usize;
        for rec in records {
            // records up to the state are already in it: replay is idempotent
            if rec.seq <= state_seq {
                continue;
            }
            let op = Operation::decode(&rec.body).map_err(|e| EngineError::Corrupt {
                what: format!("WAL record {} of collection `{name}`", rec.seq),
                reason: e.to_string(),
            })?;
            apply(&mut segs, op, rec.seq);
            last_seq = rec.seq;
            replayed += 1;
        }
        tracing::info!(
            collection = name,
            points = segs.len(),
            segments = segs.sealed.len(),
            state_seq,
            replayed,
            "collection loaded"
        );
        let checkpoint_after = min_checkpoint_bytes.max(wal.size_bytes());
        // a log emptied by a flush still knows the sequence it has reached
        let last_seq = last_seq.max(wal.last_seq());
        let next_segment_id = next_segment_id.max(keep.iter().max().map_or(1, |m| m + 1));
        Ok(Collection {
            name: name.to_string(),
            dir: Some(dir.to_path_buf()),
            config: RwLock::new(stored),
            points: RwLock::new(segs),
            optimizing: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            optimizer_lock: Mutex::new(()),
            next_segment_id: AtomicU64::new(next_segment_id),
            segments_changed: AtomicBool::new(false),
            background: AtomicBool::new(false),
            idle_probe: Mutex::new((0, std::time::Instant::now())),
            pace: Mutex::new((0.0, std::time::Instant::now())),
            problems: Mutex::new(problems),
            vfs,
            wal_sync: Some(wal.sync_handle()),
            writer: Mutex::new(Writer {
                wal: Some(wal),
                last_seq,
                checkpoint_after,
                min_checkpoint_bytes,
                closed: false,
            }),
        })
    }

    /// The collection's directory (`None` in memory).
    pub(crate) fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// Ids of the sealed segments, in order.
    pub(crate) fn sealed_ids(&self) -> Vec<u64> {
        self.points.read().sealed.iter().map(|s| s.id).collect()
    }

    /// `config.json` and a checkpoint with every point, as of one sequence number.
    pub(crate) fn dump(&self) -> (Vec<u8>, Vec<u8>) {
        let w = self.writer.lock();
        let config = self.config.read().to_bytes();
        let points = crate::codec::encode_checkpoint(&self.points.read(), w.last_seq);
        (config, points)
    }

    /// Forgets the collection's files (it goes on in memory).
    pub(crate) fn detach_files(&mut self) {
        self.dir = None;
        self.wal_sync = None;
        let w = self.writer.get_mut();
        w.wal = None;
        w.checkpoint_after = u64::MAX;
        w.min_checkpoint_bytes = u64::MAX;
    }

    /// Stops the optimizer (waiting for a step in progress) and refuses later writes.
    pub(crate) fn close(&self) {
        self.stop.store(true, Ordering::Relaxed);
        let _o = self.optimizer_lock.lock();
        self.writer.lock().closed = true;
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The configuration, with dimensions fixed by data filled in.
    pub fn config(&self) -> CollectionConfig {
        let mut config = self.config.read().config.clone();
        let segs = self.points.read();
        let fill = |name: &str, p: &mut VectorParams| {
            if p.size.is_none() {
                p.size = segs.dim(name);
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
        let schema = self.config.read().payload_schema.clone();
        let segs = self.points.read();
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        let mut add = |fields: Vec<(String, PayloadSchemaType, usize)>| {
            for (f, _, n) in fields {
                *counts.entry(f).or_default() += n;
            }
        };
        add(segs.appendable.payload_index().fields());
        for s in &segs.sealed {
            add(s.index.read().fields());
        }
        let payload_schema = schema
            .into_iter()
            .map(|(field, data_type)| PayloadFieldInfo {
                points: counts.get(&field).copied().unwrap_or(0),
                field,
                data_type,
            })
            .collect();
        let spaces: Vec<String> = config
            .vectors
            .spaces()
            .iter()
            .map(|(n, _)| n.to_string())
            .collect();
        let indexed_vectors_count = segs
            .sealed
            .iter()
            .filter(|s| s.is_indexed())
            .map(|s| {
                (0..s.data.len())
                    .filter(|&r| !s.is_deleted(r))
                    .map(|r| spaces.iter().filter(|n| s.data.has_vector(r, n)).count())
                    .sum::<usize>()
            })
            .sum();
        let busy = self.optimizing.load(std::sync::atomic::Ordering::Relaxed)
            || self.needs_optimization(&segs);
        CollectionInfo {
            name: self.name.clone(),
            config,
            points_count: segs.len(),
            payload_schema,
            status: if !self.problems.lock().is_empty() {
                "red"
            } else if busy {
                "yellow"
            } else {
                "green"
            },
            segments_count: segs.sealed.len() + 1,
            indexed_vectors_count,
            wal_bytes,
            problems: self.problems.lock().clone(),
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
            .or_else(|| self.points.read().dim(name))
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

    /// Applies one point update: validated in full, logged (durably, when persistent), then
    /// applied. Updates of payloads or vectors that name missing points apply to the others and
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

    /// Logs (durably, when persistent) and then applies one operation.
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

    /// Whether the log has outgrown its limit or segments changed since the last flush.
    pub(crate) fn wants_flush(&self) -> bool {
        if self.dir.is_none() {
            return false;
        }
        if self.segments_changed.load(Ordering::Relaxed) {
            return true;
        }
        let w = self.writer.lock();
        w.wal
            .as_ref()
            .is_some_and(|wal| wal.size_bytes() > w.checkpoint_after)
    }

    /// Flushes from the writer's thread when no background optimizer would (the write is
    /// durable already: a failed flush only leaves a longer log).
    fn flush_inline_if_due(&self) {
        if self.background.load(Ordering::Relaxed) || !self.wants_flush() {
            return;
        }
        let Some(_g) = self.optimizer_lock.try_lock() else {
            return;
        };
        if let Err(e) = self.flush() {
            tracing::error!(collection = %self.name, error = %e, "flush failed; the log keeps growing");
        }
    }

    /// Makes the collection's state durable outside the log, then drops the log files it
    /// covers: every sealed segment not yet on disk is written, then `state.bin` (segments,
    /// tombstones and the appendable segment's rows as of one sequence number), then old log
    /// files are removed, then segment directories no longer named. Writers wait only while
    /// the cut is taken (the tombstones and the appendable segment are copied); the files are
    /// written without any lock that writers or searches take. The caller holds
    /// `optimizer_lock`.
    pub(crate) fn flush(&self) -> Result<()> {
        let Some(dir) = self.dir.as_ref() else {
            return Ok(());
        };
        self.segments_changed.store(false, Ordering::Relaxed);
        let (seq, sealed, tombstones, appendable) = {
            let mut w = self.writer.lock();
            if w.closed {
                return Ok(());
            }
            let segs = self.points.read();
            if let Some(wal) = w.wal.as_mut() {
                // later records go to a new file, so the older ones can be dropped whole
                if let Err(e) = wal.rotate() {
                    self.segments_changed.store(true, Ordering::Relaxed);
                    return Err(e.into());
                }
            }
            let tombstones: Vec<Vec<u8>> =
                segs.sealed.iter().map(|s| persist::tombstones(s)).collect();
            (
                w.last_seq,
                segs.sealed.clone(),
                tombstones,
                persist::encode_appendable(&segs.appendable),
            )
        };
        let result = (|| -> Result<usize> {
            for s in &sealed {
                self.persist_segment(s)?;
            }
            let entries: Vec<(u64, usize, Vec<u8>)> = sealed
                .iter()
                .zip(tombstones)
                .map(|(s, t)| (s.id, s.data.len(), t))
                .collect();
            let bytes = persist::encode_state(
                seq,
                self.next_segment_id.load(Ordering::Relaxed),
                &entries,
                &appendable,
            );
            rvdb_storage::atomic_write_in(&*self.vfs, &dir.join(persist::STATE_FILE), &bytes)?;
            Ok(bytes.len())
        })();
        let state_bytes = match result {
            Ok(n) => n,
            Err(e) => {
                self.segments_changed.store(true, Ordering::Relaxed);
                return Err(e);
            }
        };
        {
            let mut w = self.writer.lock();
            if let Some(wal) = w.wal.as_mut() {
                wal.remove_before(seq + 1)?;
            }
            w.checkpoint_after = w.min_checkpoint_bytes.max(state_bytes as u64);
        }
        match self.vfs.remove_file(&dir.join(CHECKPOINT_FILE)) {
            Ok(()) => rvdb_storage::fsync_dir_in(&*self.vfs, dir)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(collection = %self.name, error = %e, "could not remove the old checkpoint")
            }
        }
        let keep: Vec<u64> = sealed.iter().map(|s| s.id).collect();
        let removed = persist::remove_unreferenced(&*self.vfs, dir, &keep)?;
        tracing::debug!(collection = %self.name, seq, segments = keep.len(), removed, state_bytes, "flushed");
        Ok(())
    }

    /// Writes a sealed segment's directory if it is not on disk yet, and its graphs once built.
    pub(crate) fn persist_segment(&self, s: &Sealed) -> Result<()> {
        let Some(dir) = self.dir.as_ref() else {
            return Ok(());
        };
        if !s.persisted.load(Ordering::Relaxed) {
            persist::write_segment(
                &*self.vfs,
                dir,
                s.id,
                &s.data,
                &s.index.read(),
                s.hnsw.get(),
            )?;
            s.persisted.store(true, Ordering::Relaxed);
            s.graphs_persisted
                .store(s.hnsw.get().is_some(), Ordering::Relaxed);
        } else if !s.graphs_persisted.load(Ordering::Relaxed) {
            if let Some(g) = s.hnsw.get() {
                persist::write_hnsw(&*self.vfs, dir, s.id, &s.data, g)?;
                s.graphs_persisted.store(true, Ordering::Relaxed);
            }
        }
        Ok(())
    }

    /// Rewrites `config.json` (under the writer lock, so config changes are serialised).
    fn store_config(&self, stored: &StoredConfig) -> Result<()> {
        if let Some(dir) = &self.dir {
            rvdb_storage::atomic_write_in(&*self.vfs, &dir.join(CONFIG_FILE), &stored.to_bytes())?;
        }
        Ok(())
    }

    /// Changes settings (Qdrant's PATCH): `settings` over the collection's, and per named
    /// vector (`""` for the unnamed one) its diff. Validated in full before anything changes.
    pub fn update_config(
        &self,
        settings: &SettingsDiff,
        vectors: &BTreeMap<String, VectorParamsDiff>,
    ) -> Result<()> {
        let _w = self.writer.lock();
        let mut stored = self.config.read().clone();
        for (name, diff) in vectors {
            let space = match &mut stored.config.vectors {
                VectorsConfig::Single(p) if name.is_empty() => p,
                VectorsConfig::Named(m) => m.get_mut(name).ok_or_else(|| {
                    EngineError::bad(format!("Not existing vector name error: {name}"))
                })?,
                VectorsConfig::Single(_) => {
                    return Err(EngineError::bad(format!(
                        "Not existing vector name error: {name}"
                    )))
                }
            };
            let at = if name.is_empty() {
                "vectors".to_string()
            } else {
                format!("vectors.{name}")
            };
            diff.apply(space, &at)?;
        }
        stored.config.settings = stored.config.settings.apply(settings)?;
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
            let mut segs = self.points.write();
            let bad = |e: rvdb_filter::FilterError| EngineError::bad(e.to_string());
            let (index, points) = segs.appendable.payload_index_mut();
            index.create_field(field, kind, points).map_err(bad)?;
            for s in &segs.sealed {
                let points = (0..s.data.len()).map(|r| (s.data.id(r), s.data.payload(r)));
                s.index
                    .write()
                    .create_field(field, kind, points)
                    .map_err(bad)?;
            }
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
        {
            let mut segs = self.points.write();
            segs.appendable.payload_index_mut().0.delete_field(field);
            for s in &segs.sealed {
                s.index.write().delete_field(field);
            }
        }
        self.store_config(&stored)?;
        *self.config.write() = stored;
        Ok(UpdateResult::completed(w.last_seq))
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
