//! Opening a collection (from its directory, or in memory), dumping it, and closing it.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use rayon::prelude::*;

use parking_lot::{Mutex, RwLock};

use rvdb_filter::PayloadSchemaType;
use rvdb_storage::{Vfs, Wal, WalOptions};

use super::write::apply;
use super::{Collection, Writer, CHECKPOINT_FILE, CONFIG_FILE, WAL_DIR};
use crate::codec::{decode_checkpoint, Operation};
use crate::config::StoredConfig;
use crate::persist;
use crate::segment::Segment;
use crate::segments::{Sealed, Segments};
use crate::{CollectionConfig, EngineError, Result};

pub(crate) fn new_segment(config: &CollectionConfig) -> Segment {
    Segment::new(
        config
            .vectors
            .dense_spaces()
            .into_iter()
            .map(|(n, p)| (n, p.size, p.elem())),
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
            quantizing: Default::default(),
            stop: AtomicBool::new(false),
            optimizer_lock: Mutex::new(()),
            next_segment_id: AtomicU64::new(1),
            segments_changed: AtomicBool::new(false),
            last_flush: Mutex::new((0, std::time::Instant::now())),
            background: AtomicBool::new(false),
            idle_probe: Mutex::new((0, std::time::Instant::now())),
            pace: Mutex::new((0.0, std::time::Instant::now())),
            optimizations: Mutex::default(),
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
                        persist::load_segment(
                            v,
                            dir,
                            *id,
                            *rows,
                            &|seg, stored_index| {
                                if let Some(mut ix) = stored_index {
                                    // fields created or dropped since the segment was written
                                    ix.retain_fields(|f, k| {
                                        stored.payload_schema.get(f) == Some(&k)
                                    });
                                    seg.set_payload_index(ix);
                                }
                                build_missing_indexes(seg, &stored.payload_schema)
                            },
                            &|space| crate::read::space_on_disk(&stored.config, space),
                        )
                    })
                    .collect();
                for ((id, _, tombstones), loaded) in state.segments.iter().zip(loaded) {
                    match loaded {
                        Ok(l) => {
                            let indexed = l.hnsw.is_some();
                            let s = match l.hnsw {
                                Some(g) => Sealed::indexed(*id, l.data, g),
                                None => Sealed::new(*id, l.data),
                            };
                            for (r, _) in tombstones.iter().enumerate().filter(|(_, &d)| d) {
                                s.delete_row(r);
                            }
                            s.persisted.store(true, Ordering::Relaxed);
                            s.graphs_persisted.store(indexed, Ordering::Relaxed);
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
        for (space, p) in stored.config.vectors.dense_spaces() {
            seg.add_space(space, p.size, p.elem());
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
            quantizing: Default::default(),
            stop: AtomicBool::new(false),
            optimizer_lock: Mutex::new(()),
            next_segment_id: AtomicU64::new(next_segment_id),
            segments_changed: AtomicBool::new(false),
            last_flush: Mutex::new((0, std::time::Instant::now())),
            background: AtomicBool::new(false),
            idle_probe: Mutex::new((0, std::time::Instant::now())),
            pace: Mutex::new((0.0, std::time::Instant::now())),
            optimizations: Mutex::default(),
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
}
