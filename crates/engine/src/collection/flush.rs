//! Flushes: the state made durable outside the log, so that covered log files can go.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{Collection, CHECKPOINT_FILE};
use crate::persist;
use crate::quantization::Quantized;
use crate::segments::Sealed;
use crate::Result;

impl Collection {
    /// Whether the log has outgrown its limit, segments changed since the last flush, or codes
    /// were built that no file holds yet.
    pub(crate) fn wants_flush(&self) -> bool {
        if self.dir.is_none() {
            return false;
        }
        if self.segments_changed.load(Ordering::Relaxed) || self.codes_unwritten() {
            return true;
        }
        let w = self.writer.lock();
        if w.wal
            .as_ref()
            .is_some_and(|wal| wal.size_bytes() > w.checkpoint_after)
        {
            return true;
        }
        // `flush_interval_sec`: writes since the last flush are flushed once it has passed
        // (they are durable in the log already; this bounds how much a restart replays)
        let interval = self
            .config
            .read()
            .config
            .settings
            .optimizers
            .flush_interval_sec;
        let (flushed_seq, at) = *self.last_flush.lock();
        interval > 0 && w.last_seq > flushed_seq && at.elapsed().as_secs() >= interval
    }

    /// Flushes from the writer's thread when no background optimizer would (the write is
    /// durable already: a failed flush only leaves a longer log).
    pub(super) fn flush_inline_if_due(&self) {
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
        *self.last_flush.lock() = (seq, std::time::Instant::now());
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
        self.persist_codes(dir, s)
    }

    /// Whether a written segment holds codes its files do not (built since the last flush, or
    /// for another configuration), or lost codes a file still holds.
    fn codes_unwritten(&self) -> bool {
        self.points
            .read()
            .sealed
            .iter()
            .any(|s| s.persisted.load(Ordering::Relaxed) && s.codes_unwritten())
    }

    /// Writes the codes a sealed segment holds that its files do not (built since, or for
    /// another configuration), and removes the files of codes it dropped.
    fn persist_codes(&self, dir: &std::path::Path, s: &Sealed) -> Result<()> {
        if !s.codes_unwritten() {
            return Ok(());
        }
        let held: Vec<(String, Arc<Quantized>)> = s
            .quantized
            .read()
            .iter()
            .map(|(n, q)| (n.clone(), q.clone()))
            .collect();
        let mut written = s.codes_written.lock();
        for (name, q) in &held {
            if written.get(name) != Some(&q.config) {
                persist::write_codes(&*self.vfs, dir, s.id, &s.data, name, &q.config, &q.codes)?;
                written.insert(name.clone(), q.config.clone());
            }
        }
        let dropped: Vec<String> = written
            .keys()
            .filter(|n| !held.iter().any(|(h, _)| h == *n))
            .cloned()
            .collect();
        for name in dropped {
            persist::remove_codes(&*self.vfs, dir, s.id, &s.data, &name)?;
            written.remove(&name);
        }
        // the file's buffer (as large as the codes) goes back to the system
        crate::optimizer::release_freed_memory(true);
        Ok(())
    }
}
