//! What the optimizer of a collection is doing, what it has queued and what it has done
//! (Qdrant's GET /collections/{name}/optimizations).
//!
//! The optimizer (`optimizer.rs`) records each unit of work it runs, indexing a sealed
//! segment, folding or merging segments, or vacuuming one, in the collection's [`Tracker`]:
//! one running at a time (the optimizer is one thread per collection), and the last
//! [`KEEP_COMPLETED`] completed ones. The queue is not kept anywhere: it is estimated from the
//! segments as they are now, with the same rules the optimizer picks its next work by, so it
//! says what the optimizer will do unless writes change the segments first.
//!
//! Segments are named by UUIDs made from their ids ([`segment_uuid`]); the appendable segment,
//! which has no id, is the nil-prefixed id 0. The UUID of an optimization is the one of the
//! segment it makes (for an index build, the segment indexed in place).

use std::collections::{BTreeSet, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::segments::{Sealed, Segments};
use crate::Collection;

/// Completed optimizations kept per collection (the newest ones).
pub const KEEP_COMPLETED: usize = 128;

/// A segment taking part in (or left out of) optimizations.
#[derive(Debug, Clone, PartialEq)]
pub struct OptimizationSegment {
    pub uuid: String,
    /// Points in it that are not deleted.
    pub points_count: usize,
}

/// One optimization, running or done.
#[derive(Debug, Clone, PartialEq)]
pub struct Optimization {
    /// The UUID of the segment it makes (for `indexing`, the segment indexed in place).
    pub uuid: String,
    /// `indexing`, `merge` or `vacuum`, as Qdrant names its optimizers.
    pub optimizer: &'static str,
    /// Whether it has finished.
    pub done: bool,
    pub segments: Vec<OptimizationSegment>,
    /// RFC 3339, UTC.
    pub started_at: String,
    /// RFC 3339, UTC; once done.
    pub finished_at: Option<String>,
    /// Seconds it took (once done) or has taken so far.
    pub duration_sec: f64,
    started: Instant,
}

/// One optimization the optimizer would run next, as the segments are now.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingOptimization {
    pub optimizer: &'static str,
    pub segments: Vec<OptimizationSegment>,
}

/// GET /collections/{name}/optimizations.
#[derive(Debug, Clone, PartialEq)]
pub struct OptimizationsReport {
    pub running: Vec<Optimization>,
    /// In the order the optimizer would take them.
    pub queued: Vec<PendingOptimization>,
    /// Newest first.
    pub completed: Vec<Optimization>,
    /// Segments no optimization running or queued touches.
    pub idle_segments: Vec<OptimizationSegment>,
}

/// The optimizer's record of its work (a leaf lock: nothing else is taken while it is held).
#[derive(Debug, Default)]
pub(crate) struct Tracker {
    running: Option<Optimization>,
    completed: VecDeque<Optimization>,
}

/// The UUID a segment id is reported under: `00000000-0000-4000-8000-` and the id in 12 hex
/// digits (ids above 2^48 wrap there).
pub fn segment_uuid(id: u64) -> String {
    format!("00000000-0000-4000-8000-{:012x}", id & 0xffff_ffff_ffff)
}

/// The appendable segment's id in reports (sealed segments count from 1).
const APPENDABLE_ID: u64 = 0;

fn rfc3339(t: SystemTime) -> String {
    OffsetDateTime::from(t)
        .format(&Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_string())
}

pub(crate) fn sealed_info(s: &Sealed) -> OptimizationSegment {
    OptimizationSegment {
        uuid: segment_uuid(s.id),
        points_count: s.live(),
    }
}

fn appendable_info(segs: &Segments) -> OptimizationSegment {
    OptimizationSegment {
        uuid: segment_uuid(APPENDABLE_ID),
        points_count: segs.appendable.len(),
    }
}

/// Marks the optimization it was made for done when dropped.
pub(crate) struct Running<'a> {
    c: &'a Collection,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let mut t = self.c.optimizations.lock();
        if let Some(mut o) = t.running.take() {
            o.done = true;
            o.finished_at = Some(rfc3339(SystemTime::now()));
            o.duration_sec = o.started.elapsed().as_secs_f64();
            t.completed.push_front(o);
            t.completed.truncate(KEEP_COMPLETED);
        }
    }
}

impl Collection {
    /// Records that the optimizer starts `optimizer` on `segments`, making segment `new_id`;
    /// done when the returned guard is dropped.
    pub(crate) fn track_optimization(
        &self,
        optimizer: &'static str,
        segments: Vec<OptimizationSegment>,
        new_id: u64,
    ) -> Running<'_> {
        let o = Optimization {
            uuid: segment_uuid(new_id),
            optimizer,
            done: false,
            segments,
            started_at: rfc3339(SystemTime::now()),
            finished_at: None,
            duration_sec: 0.0,
            started: Instant::now(),
        };
        self.optimizations.lock().running = Some(o);
        Running { c: self }
    }

    /// The id the next segment made by the optimizer gets (only the optimizer, one step at a
    /// time, makes segments).
    pub(crate) fn next_segment_id_peek(&self) -> u64 {
        self.next_segment_id.load(Ordering::Relaxed)
    }

    /// What the optimizer is doing, would do next (estimated from the segments as they are),
    /// and has done (the newest `completed_limit`).
    pub fn optimizations(&self, completed_limit: usize) -> OptimizationsReport {
        let segs = self.points.read();
        let (running, completed) = {
            let t = self.optimizations.lock();
            let mut running: Vec<Optimization> = t.running.iter().cloned().collect();
            for o in &mut running {
                o.duration_sec = o.started.elapsed().as_secs_f64();
            }
            let completed = t.completed.iter().take(completed_limit).cloned().collect();
            (running, completed)
        };
        let mut claimed: BTreeSet<String> = running
            .iter()
            .flat_map(|o| o.segments.iter().map(|s| s.uuid.clone()))
            .collect();
        let mut queued = Vec::new();
        let mut queue = |optimizer: &'static str, segments: Vec<OptimizationSegment>| {
            if segments.iter().any(|s| claimed.contains(&s.uuid)) {
                return;
            }
            claimed.extend(segments.iter().map(|s| s.uuid.clone()));
            queued.push(PendingOptimization {
                optimizer,
                segments,
            });
        };
        // the order of `step`: seal (then index), fold, index, vacuum or merge
        let full = self
            .seal_threshold_points(&segs)
            .is_some_and(|t| segs.appendable.len() >= t);
        if full || self.fold_target(&segs).is_some() {
            queue(
                if full { "indexing" } else { "merge" },
                vec![appendable_info(&segs)],
            );
        }
        if let Some((big, small)) = self.fold_pair(&segs) {
            queue("merge", vec![sealed_info(&big), sealed_info(&small)]);
        }
        for s in segs.sealed.iter().filter(|s| !s.is_indexed()) {
            queue("indexing", vec![sealed_info(s)]);
        }
        for s in segs.sealed.iter().filter(|s| self.wants_vacuum(s)) {
            queue("vacuum", vec![sealed_info(s)]);
        }
        if segs.sealed.len() > self.max_segments() {
            let mut by_size: Vec<&Arc<Sealed>> = segs.sealed.iter().collect();
            by_size.sort_by_key(|s| s.live());
            let two: Vec<OptimizationSegment> = by_size
                .into_iter()
                .take(2)
                .map(|s| sealed_info(s))
                .collect();
            if two.iter().map(|s| s.points_count).sum::<usize>() <= self.max_segment_points(&segs) {
                queue("merge", two);
            }
        }
        let mut all = vec![appendable_info(&segs)];
        all.extend(segs.sealed.iter().map(|s| sealed_info(s)));
        let idle_segments = all
            .into_iter()
            .filter(|s| !claimed.contains(&s.uuid))
            .collect();
        OptimizationsReport {
            running,
            queued,
            completed,
            idle_segments,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_uuids_are_uuids_and_distinct() {
        assert_eq!(segment_uuid(0), "00000000-0000-4000-8000-000000000000");
        assert_eq!(segment_uuid(255), "00000000-0000-4000-8000-0000000000ff");
        assert_ne!(segment_uuid(1), segment_uuid(2));
        assert_eq!(segment_uuid(7).len(), 36);
    }
}
