//! A collection: its points, its write-ahead log, and what changes them. By job:
//! - [`open`]: opening a directory (`state.bin`, mapped segments, quarantine, log replay) or
//!   starting in memory; dumping and closing;
//! - [`write`]: the write path (validate, resolve ids, append to the log, apply, then the
//!   group-commit fsync) and [`apply`], shared with replay;
//! - [`flush`]: making the state durable outside the log and dropping covered log files;
//! - [`schema`]: config changes and payload indexes;
//! - [`spaces`]: vector spaces added to or dropped from an existing collection;
//! - this file: the struct, its locks, and [`Collection::info`].
//!
//! Reads, the universal query, group-by and the optimizer are in `read.rs`, `query.rs`,
//! `groups.rs` and `optimizer.rs`.
//!
//! # Lock order
//! A thread that holds several of a collection's locks took them in this order, outermost
//! first. No lock is held while waiting for the search pool or the indexing backlog, and a
//! write waits for its (shared) log fsync after releasing `writer`; the only fsyncs under
//! `writer` are those of config rewrites and of log rotation during a flush:
//! 1. `optimizer_lock` — one optimizer step or flush at a time;
//! 2. `writer` — serialises writes from log append to in-memory apply (searches never take it);
//! 3. `points` — the segments (searches read-lock it; apply and the optimizer's swaps
//!    write-lock it briefly);
//! 4. a sealed segment's payload `index`;
//! 5. `config`;
//! 6. leaves, never held while taking another lock: `idle_probe`, `pace`, `problems`,
//!    `last_flush`, `optimizations`.
//!
//! The optimizer builds graphs with no lock held, then takes `points` to swap segments in;
//! a flush takes `writer` only to copy the cut, then writes files with no lock that writers or
//! searches take.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use rvdb_filter::PayloadSchemaType;
use rvdb_storage::{Vfs, Wal, WalSync};
use rvdb_vector::Distance;

use crate::config::StoredConfig;
use crate::segments::Segments;
use crate::types::{VectorParams, VectorsConfig};
use crate::CollectionConfig;

mod flush;
mod open;
mod schema;
mod spaces;
mod write;

pub use spaces::NewVectorSpace;

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
    /// Set while a thread builds quantization codes (one at a time, beside the optimizer).
    pub(crate) quantizing: Arc<AtomicBool>,
    /// Tells the optimizer thread to stop.
    pub(crate) stop: AtomicBool,
    /// Held by whoever runs an optimizer step or a flush.
    pub(crate) optimizer_lock: Mutex<()>,
    /// The id the next sealed segment gets.
    pub(crate) next_segment_id: AtomicU64,
    /// Set when segments were sealed, merged or vacuumed since the last flush.
    pub(crate) segments_changed: AtomicBool,
    /// The sequence number the last flush covered, and when it finished
    /// (`flush_interval_sec`).
    pub(crate) last_flush: Mutex<(u64, std::time::Instant)>,
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
    /// The optimizer's running and completed work (`optimizations.rs`).
    pub(crate) optimizations: Mutex<crate::optimizations::Tracker>,
    /// The file system the collection's files live on.
    pub(crate) vfs: Arc<dyn Vfs>,
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
    /// The distance of the unnamed vector (or of the first named one; Dot, the sparse vectors'
    /// metric, for a collection with only sparse vectors).
    pub fn distance(&self) -> Distance {
        self.config
            .vectors
            .spaces()
            .first()
            .map_or(Distance::Dot, |(_, p)| p.distance)
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

impl Collection {
    /// The collection's directory (`None` in memory).
    pub(crate) fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// Ids of the sealed segments, in order.
    pub(crate) fn sealed_ids(&self) -> Vec<u64> {
        self.points.read().sealed.iter().map(|s| s.id).collect()
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
            .filter_map(|s| s.hnsw.get().map(|graphs| (s, graphs)))
            .map(|(s, graphs)| {
                // a space without a graph (`m: 0`) is searched by a scan: not indexed; a sparse
                // vector of an indexed segment is in its inverted index
                (0..s.data.len())
                    .filter(|&r| !s.is_deleted(r))
                    .map(|r| {
                        let dense = spaces
                            .iter()
                            .filter(|n| graphs.contains_key(n.as_str()) && s.data.has_vector(r, n))
                            .count();
                        let sparse = s
                            .data
                            .sparse_columns()
                            .filter(|(_, c)| c.is_present(r))
                            .count();
                        dense + sparse
                    })
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
}
