//! A collection's segments: one appendable segment that takes every write, and sealed segments
//! (immutable data, an HNSW index per vector space once the optimizer has built it, and
//! tombstones for the points deleted or overwritten since).
//!
//! Every point lives in exactly one segment. A write to a point of a sealed segment tombstones
//! it there and (for updates) writes the new state into the appendable segment. `find`, `take`
//! and `to_appendable` keep that true; `live_in_id_order` merges the segments' rows in id order
//! (listing, scroll, filter-selected writes).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use parking_lot::RwLock;
use rvdb_filter::{Filter, PayloadIndex, PointId};
use rvdb_index::HnswIndex;

use crate::quantization::{QuantizationConfig, QuantizedSpaces};
use crate::segment::Segment;

/// A sealed segment's HNSW indexes by vector space.
pub(crate) type Graphs = BTreeMap<String, Arc<HnswIndex>>;

/// An immutable segment with tombstones and (once built) its vector indexes.
pub(crate) struct Sealed {
    /// Names its directory (`segments/<id>`) and its entry in `state.bin`.
    pub(crate) id: u64,
    /// Its directory has been written (rows and vectors).
    pub(crate) persisted: AtomicBool,
    /// Its graph files have been written.
    pub(crate) graphs_persisted: AtomicBool,
    /// Immutable rows (its own payload index is moved out into `index`).
    pub(crate) data: Segment,
    /// Payload indexes of these rows (fields come and go with index create/delete).
    pub(crate) index: RwLock<PayloadIndex>,
    deleted: Vec<AtomicBool>,
    live: AtomicUsize,
    /// Per vector space; set once (by [`Sealed::indexed`], or by the optimizer on a segment
    /// sealed before it had graphs). Shared with the columns they are the storage of.
    pub(crate) hnsw: OnceLock<Graphs>,
    /// Per vector space with a `quantization_config`: the codes of its graph, built by the
    /// optimizer once the graph is (and again when the configuration changes).
    pub(crate) quantized: RwLock<QuantizedSpaces>,
    /// A graph file of this segment could not be mapped in place (its graphs stay on the heap).
    pub(crate) placement_failed: AtomicBool,
    /// The configuration of the codes file written (or read) per space: a flush writes the
    /// codes held that differ, and removes the files of codes dropped.
    pub(crate) codes_written: parking_lot::Mutex<BTreeMap<String, QuantizationConfig>>,
}

impl Sealed {
    pub(crate) fn new(id: u64, mut data: Segment) -> Sealed {
        let n = data.len();
        data.seal_sparse();
        let index = data.take_payload_index();
        Sealed {
            id,
            persisted: AtomicBool::new(false),
            graphs_persisted: AtomicBool::new(false),
            index: RwLock::new(index),
            deleted: (0..n).map(|_| AtomicBool::new(false)).collect(),
            live: AtomicUsize::new(n),
            data,
            hnsw: OnceLock::new(),
            quantized: RwLock::new(QuantizedSpaces::new()),
            placement_failed: AtomicBool::new(false),
            codes_written: parking_lot::Mutex::new(BTreeMap::new()),
        }
    }

    /// A sealed segment with its graphs: each float32 space's graph becomes the storage of its
    /// vectors (the column's copy is dropped; see `Column::back_by_graph`).
    pub(crate) fn indexed(id: u64, mut data: Segment, graphs: Graphs) -> Sealed {
        data.back_by_graphs(&graphs);
        let s = Sealed::new(id, data);
        let _ = s.hnsw.set(graphs);
        s
    }

    /// Whether the codes held differ from those its files hold (built since the last flush,
    /// for another configuration, or dropped).
    pub(crate) fn codes_unwritten(&self) -> bool {
        let held = self.quantized.read();
        let written = self.codes_written.lock();
        held.len() != written.len() || held.iter().any(|(n, q)| written.get(n) != Some(&q.config))
    }

    pub(crate) fn is_deleted(&self, row: usize) -> bool {
        self.deleted[row].load(Ordering::Relaxed)
    }

    /// Tombstones a row; returns whether it was live.
    pub(crate) fn delete_row(&self, row: usize) -> bool {
        let was = self.deleted[row].swap(true, Ordering::Relaxed);
        if !was {
            self.live.fetch_sub(1, Ordering::Relaxed);
        }
        !was
    }

    pub(crate) fn live(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }

    pub(crate) fn deleted_count(&self) -> usize {
        self.data.len() - self.live()
    }

    pub(crate) fn find(&self, id: PointId) -> Option<usize> {
        self.data.find(id).filter(|&r| !self.is_deleted(r))
    }

    pub(crate) fn is_indexed(&self) -> bool {
        self.hnsw.get().is_some()
    }
}

/// Where a point lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Loc {
    Appendable(usize),
    Sealed(usize, usize),
}

#[derive(Default)]
pub(crate) struct Segments {
    pub(crate) appendable: Segment,
    pub(crate) sealed: Vec<Arc<Sealed>>,
}

impl Segments {
    pub(crate) fn new(appendable: Segment) -> Self {
        Segments {
            appendable,
            sealed: Vec::new(),
        }
    }

    /// The dimension of a vector space, once any segment knows it.
    pub(crate) fn dim(&self, name: &str) -> Option<usize> {
        self.appendable
            .column(name)
            .and_then(|c| c.dim())
            .or_else(|| {
                self.sealed
                    .iter()
                    .find_map(|s| s.data.column(name).and_then(|c| c.dim()))
            })
    }

    /// Live points in all segments.
    pub(crate) fn len(&self) -> usize {
        self.appendable.len() + self.sealed.iter().map(|s| s.live()).sum::<usize>()
    }

    pub(crate) fn find(&self, id: PointId) -> Option<Loc> {
        if let Some(r) = self.appendable.find(id) {
            return Some(Loc::Appendable(r));
        }
        self.sealed
            .iter()
            .enumerate()
            .find_map(|(i, s)| s.find(id).map(|r| Loc::Sealed(i, r)))
    }

    /// The segment data and row of a location.
    pub(crate) fn at(&self, loc: Loc) -> (&Segment, usize) {
        match loc {
            Loc::Appendable(r) => (&self.appendable, r),
            Loc::Sealed(i, r) => (&self.sealed[i].data, r),
        }
    }

    /// Removes a point wherever it is (a tombstone in a sealed segment); returns whether it
    /// existed.
    pub(crate) fn take(&mut self, id: PointId) -> bool {
        match self.find(id) {
            Some(Loc::Appendable(_)) => self.appendable.delete(id),
            Some(Loc::Sealed(i, r)) => self.sealed[i].delete_row(r),
            None => false,
        }
    }

    /// Makes sure the point is in the appendable segment (copying it out of a sealed one);
    /// returns its row there.
    pub(crate) fn move_to_appendable(&mut self, id: PointId) -> Option<usize> {
        match self.find(id)? {
            Loc::Appendable(r) => Some(r),
            Loc::Sealed(i, r) => {
                let s = self.sealed[i].clone();
                s.delete_row(r);
                let version = s.data.version(r);
                self.appendable
                    .upsert(id, &s.data.vectors(r), s.data.payload(r).clone(), version);
                self.appendable.find(id)
            }
        }
    }

    /// Every live point that passes `filter` (all when `None`), in id order, from `from` on.
    pub(crate) fn live_in_id_order<'a>(
        &'a self,
        from: Option<PointId>,
        filter: Option<&'a Filter>,
    ) -> impl Iterator<Item = Loc> + 'a {
        let mut iters: Vec<Box<dyn Iterator<Item = (PointId, Loc)> + 'a>> = Vec::new();
        iters.push(Box::new(
            self.appendable
                .rows_from(from)
                .filter(move |&r| filter.is_none_or(|f| self.appendable.matches(r, f)))
                .map(|r| (self.appendable.id(r), Loc::Appendable(r))),
        ));
        for (i, s) in self.sealed.iter().enumerate() {
            iters.push(Box::new(
                s.data
                    .rows_from(from)
                    .filter(move |&r| {
                        !s.is_deleted(r) && filter.is_none_or(|f| s.data.matches(r, f))
                    })
                    .map(move |r| (s.data.id(r), Loc::Sealed(i, r))),
            ));
        }
        MergeById::new(iters)
    }
}

/// Merges id-ordered streams (ids are unique across them).
struct MergeById<'a> {
    iters: Vec<Box<dyn Iterator<Item = (PointId, Loc)> + 'a>>,
    heads: Vec<Option<(PointId, Loc)>>,
}

impl<'a> MergeById<'a> {
    fn new(mut iters: Vec<Box<dyn Iterator<Item = (PointId, Loc)> + 'a>>) -> Self {
        let heads = iters.iter_mut().map(|i| i.next()).collect();
        MergeById { iters, heads }
    }
}

impl Iterator for MergeById<'_> {
    type Item = Loc;

    fn next(&mut self) -> Option<Loc> {
        let (best, _) = self
            .heads
            .iter()
            .enumerate()
            .filter_map(|(i, h)| h.map(|(id, _)| (i, id)))
            .min_by_key(|&(_, id)| id)?;
        let (_, loc) = self.heads[best].take()?;
        self.heads[best] = self.iters[best].next();
        Some(loc)
    }
}
