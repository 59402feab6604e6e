//! A collection: its points, its write-ahead log, and the write and search paths.

use std::path::{Path, PathBuf};

use parking_lot::{Mutex, RwLock};
use serde::Serialize;

use rvdb_filter::PointId;
use rvdb_index::{flat_search, SearchParams};
use rvdb_storage::{Wal, WalOptions};
use rvdb_vector::Distance;

use crate::codec::{decode_checkpoint, encode_checkpoint, Operation};
use crate::segment::Segment;
use crate::{
    CollectionConfig, EngineError, PointStruct, Record, Result, ScoredPoint, SearchRequest,
    UpdateResult,
};

/// The largest vector dimension accepted (Qdrant's limit).
pub const MAX_DIM: usize = 65_536;

const CHECKPOINT_FILE: &str = "checkpoint.bin";
const WAL_DIR: &str = "wal";

/// A named set of points sharing one distance and one dimension.
pub struct Collection {
    name: String,
    distance: Distance,
    /// The collection's directory; `None` in memory.
    dir: Option<PathBuf>,
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

/// What GET /collections/{name} reports.
#[derive(Debug, Clone, Serialize)]
pub struct CollectionInfo {
    pub name: String,
    #[serde(serialize_with = "distance_name")]
    pub distance: Distance,
    pub dim: Option<usize>,
    pub points_count: usize,
    /// Bytes of write-ahead log not yet folded into a checkpoint (0 in memory).
    pub wal_bytes: u64,
}

impl Collection {
    pub(crate) fn in_memory(name: &str, config: CollectionConfig) -> Collection {
        Collection {
            name: name.to_string(),
            distance: config.distance,
            dir: None,
            points: RwLock::new(Segment::new(config.dim)),
            writer: Mutex::new(Writer {
                wal: None,
                last_seq: 0,
                checkpoint_after: u64::MAX,
                min_checkpoint_bytes: u64::MAX,
            }),
        }
    }

    /// Opens a collection directory: loads the checkpoint, then replays the log past it.
    pub(crate) fn open(
        name: &str,
        dir: &Path,
        config: CollectionConfig,
        min_checkpoint_bytes: u64,
    ) -> Result<Collection> {
        let (mut seg, mut last_seq) = match std::fs::read(dir.join(CHECKPOINT_FILE)) {
            Ok(bytes) => decode_checkpoint(&bytes).map_err(|e| match e {
                EngineError::Corrupt { what, reason } => EngineError::Corrupt {
                    what: format!("{what} of collection `{name}`"),
                    reason,
                },
                e => e,
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (Segment::new(config.dim), 0),
            Err(e) => {
                return Err(rvdb_storage::StorageError::Io {
                    path: dir.join(CHECKPOINT_FILE),
                    source: e,
                }
                .into())
            }
        };
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
        Ok(Collection {
            name: name.to_string(),
            distance: config.distance,
            dir: Some(dir.to_path_buf()),
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

    pub fn config(&self) -> CollectionConfig {
        CollectionConfig {
            distance: self.distance,
            dim: self.points.read().dim(),
        }
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
        let points = self.points.read();
        CollectionInfo {
            name: self.name.clone(),
            distance: self.distance,
            dim: points.dim(),
            points_count: points.len(),
            wal_bytes,
        }
    }

    /// Inserts or overwrites points. The whole batch is validated first: a batch with one bad
    /// point is refused whole.
    pub fn upsert(&self, mut points: Vec<PointStruct>) -> Result<UpdateResult> {
        for (i, p) in points.iter_mut().enumerate() {
            check_vector(&p.vector, &format!("points[{i}].vector"))?;
            self.distance.prepare(&mut p.vector);
        }
        let mut w = self.writer.lock();
        let expected = self
            .points
            .read()
            .dim()
            .or(points.first().map(|p| p.vector.len()));
        if let Some(d) = expected {
            if let Some(p) = points.iter().find(|p| p.vector.len() != d) {
                return Err(dim_error(d, p.vector.len()));
            }
        }
        self.commit(&mut w, Operation::Upsert(points))
    }

    /// Deletes points by id; ids that do not exist are ignored (Qdrant's semantics).
    pub fn delete(&self, ids: Vec<PointId>) -> Result<UpdateResult> {
        let mut w = self.writer.lock();
        self.commit(&mut w, Operation::Delete(ids))
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

    /// One point by id.
    pub fn get(&self, id: PointId) -> Option<Record> {
        let seg = self.points.read();
        seg.find(id).map(|r| record(&seg, r))
    }

    /// Points in id order: `limit` of them after skipping `offset`, and the total count.
    pub fn list(&self, offset: usize, limit: usize) -> (Vec<Record>, usize) {
        let seg = self.points.read();
        let rows = seg
            .rows_in_id_order(offset)
            .take(limit)
            .map(|r| record(&seg, r))
            .collect();
        (rows, seg.len())
    }

    /// Exact nearest-neighbour search.
    pub fn search(&self, req: &SearchRequest) -> Result<Vec<ScoredPoint>> {
        check_vector(&req.vector, "vector")?;
        if let Some(t) = req.score_threshold {
            if !t.is_finite() {
                return Err(EngineError::bad("score_threshold: must be a finite number"));
            }
        }
        let mut query = req.vector.clone();
        self.distance.prepare(&mut query);
        let seg = self.points.read();
        let Some(dim) = seg.dim() else {
            return Ok(Vec::new());
        };
        if dim != query.len() {
            return Err(dim_error(dim, query.len()));
        }
        let params = SearchParams {
            k: req.limit.saturating_add(req.offset),
            min_raw: req.score_threshold.map(|t| self.distance.score_to_raw(t)),
        };
        let seg_ref: &Segment = &seg;
        let accept =
            req.filter.as_ref().filter(|f| !f.is_empty()).map(|f| {
                move |r: u32| f.matches(seg_ref.id(r as usize), seg_ref.payload(r as usize))
            });
        let hits = flat_search(
            self.distance,
            seg.vectors(),
            &query,
            params,
            accept.as_ref().map(|f| f as &dyn Fn(u32) -> bool),
        );
        Ok(hits
            .into_iter()
            .skip(req.offset)
            .map(|h| {
                let (id, version, vector, payload) = seg.row(h.offset as usize);
                ScoredPoint {
                    id,
                    version,
                    score: self.distance.raw_to_score(h.raw),
                    payload: req.with_payload.then(|| payload.clone()),
                    vector: req.with_vector.then(|| vector.to_vec()),
                }
            })
            .collect())
    }
}

fn distance_name<S: serde::Serializer>(d: &Distance, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(d.as_str())
}

fn record(seg: &Segment, r: usize) -> Record {
    let (id, version, vector, payload) = seg.row(r);
    Record {
        id,
        payload: payload.clone(),
        vector: vector.to_vec(),
        version,
    }
}

fn apply(seg: &mut Segment, op: Operation, seq: u64) {
    match op {
        Operation::Upsert(points) => {
            for p in points {
                seg.upsert(p.id, &p.vector, p.payload, seq);
            }
        }
        Operation::Delete(ids) => {
            for id in ids {
                seg.delete(id);
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
