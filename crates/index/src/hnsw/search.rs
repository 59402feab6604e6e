//! Graph traversal: greedy descent on the upper layers, the beam search on one layer, and the
//! filtered layer-0 search. All `#[inline(always)]`, generic over the metric and over how link
//! lists are read ([`Adj`]: directly after the build, under a lock during it), so each use is
//! compiled into its instruction-set root with the kernel inlined.

use std::cmp::Reverse;
use std::sync::atomic::{AtomicU8, Ordering};

use parking_lot::Mutex;

use super::graph::{Beam, Cand, HeapCand, Store, Visited, NONE};
use super::kernels::{prefetch, Metric};

/// How link lists are read.
pub(crate) trait Adj {
    /// The link slots of `node` on `level` (ended by `NONE` or by the slice's end). May copy
    /// them into `buf`.
    ///
    /// # Safety
    /// `node < n` and `level <= level(node)`.
    unsafe fn links<'b>(
        &self,
        st: &Store,
        node: u32,
        level: usize,
        buf: &'b mut Vec<u32>,
    ) -> &'b [u32];
}

/// Reads links in place: the graph is immutable (searching a built index).
pub(crate) struct Frozen;

impl Adj for Frozen {
    #[inline(always)]
    unsafe fn links<'b>(
        &self,
        st: &Store,
        node: u32,
        level: usize,
        _buf: &'b mut Vec<u32>,
    ) -> &'b [u32] {
        // SAFETY: the contract; nothing writes the graph while it is frozen, and the graph
        // outlives the search that borrows it.
        unsafe { std::slice::from_raw_parts(st.links(node, level), st.cap(level)) }
    }
}

/// Copies links under the node's lock: other threads are inserting (building).
///
/// `written[i]` is the lowest layer on which node `i`'s inserter has written its own list
/// (`level + 1` before the first). A node can be reached on a layer before its list there is
/// written in one way only: as the start of a layer's search, handed down from the layer above
/// while its inserter is still searching this one. Reading it then would find no links and
/// strand the search, so the reader waits for the list (hnswlib instead holds each node's lock
/// through its whole insertion). Waits cannot form a cycle: a thread waits only on a node whose
/// inserter is on the same layer and was linked on the layer above before the waiter's search
/// there ended.
pub(crate) struct Locked<'a> {
    pub(crate) locks: &'a [Mutex<()>],
    pub(crate) written: &'a [AtomicU8],
}

impl Adj for Locked<'_> {
    #[inline(always)]
    unsafe fn links<'b>(
        &self,
        st: &Store,
        node: u32,
        level: usize,
        buf: &'b mut Vec<u32>,
    ) -> &'b [u32] {
        let gate = &self.written[node as usize];
        let mut spins = 0u32;
        while gate.load(Ordering::Acquire) as usize > level {
            spins += 1;
            if spins < 64 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
        let _g = self.locks[node as usize].lock();
        buf.clear();
        // SAFETY: the contract; the lock excludes writers of this list.
        let s = unsafe { std::slice::from_raw_parts(st.links(node, level), st.cap(level)) };
        for &x in s {
            if x == NONE {
                break;
            }
            buf.push(x);
        }
        buf
    }
}

/// Prefetches a node's whole padded vector.
#[inline(always)]
pub(crate) unsafe fn prefetch_vec(st: &Store, id: u32) {
    // SAFETY: the caller passes a valid id; prefetching does not fault anyway.
    let p = unsafe { st.vec(id) };
    let mut off = 0;
    while off < st.lay.vec_words {
        // SAFETY: inside the block.
        prefetch(unsafe { p.add(off) });
        off += 16;
    }
}

/// Greedy descent on `level` from `(cur, dcur)`: move to the closest neighbour while that
/// improves. Returns the local minimum.
///
/// # Safety
/// `q` is a padded query; `cur` has a level `>= level`; the CPU supports `M::ISA`.
#[inline(always)]
pub(crate) unsafe fn greedy<M: Metric, A: Adj>(
    st: &Store,
    adj: &A,
    q: *const f32,
    mut cur: u32,
    mut dcur: f32,
    level: usize,
    buf: &mut Vec<u32>,
) -> (u32, f32) {
    loop {
        let mut best = cur;
        // SAFETY: links of `cur` on `level` exist; every link is a node with level >= `level`.
        let links = unsafe { adj.links(st, cur, level, buf) };
        let len = links.iter().position(|&x| x == NONE).unwrap_or(links.len());
        // SAFETY: links are nodes.
        unsafe {
            score::<M>(st, q, &links[..len], |x, d| {
                if d < dcur {
                    dcur = d;
                    best = x;
                }
            })
        };
        if best == cur {
            return (cur, dcur);
        }
        cur = best;
    }
}

/// Beam search on `level` from the candidates already in `beam` (and marked in `visited`),
/// as hnswlib's `searchBaseLayer`: expand the closest unexpanded candidate, score its unvisited
/// neighbours (prefetched first), keep the best `beam`-capacity ones; stop when every kept
/// candidate is expanded.
///
/// # Safety
/// As for [`greedy`]; every candidate in `beam` has a level `>= level`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) unsafe fn search_layer<M: Metric, A: Adj>(
    st: &Store,
    adj: &A,
    q: *const f32,
    level: usize,
    beam: &mut Beam,
    visited: &mut Visited,
    todo: &mut Vec<u32>,
    buf: &mut Vec<u32>,
) {
    while let Some(c) = beam.next() {
        todo.clear();
        // SAFETY: c is in the graph at `level`.
        let links = unsafe { adj.links(st, c, level, buf) };
        for &x in links {
            if x == NONE {
                break;
            }
            if visited.insert(x) {
                todo.push(x);
            }
        }
        // SAFETY: the todo ids are nodes; the caller's contract.
        unsafe {
            score::<M>(st, q, todo, |x, d| {
                if beam.admits(d) {
                    beam.insert(d, x);
                }
            })
        };
    }
}

/// How many nodes ahead [`score`] prefetches. All at once floods the core's miss buffers and
/// the prefetches themselves stall; one ahead (hnswlib) leaves memory idle. Three to four was
/// the best on the benchmark machine (Zen 5, 512-byte vectors).
const PREFETCH_AHEAD: usize = 3;

/// Computes the distance from `q` to each node in `ids`, in order, calling `f(id, d)`, with the
/// vectors prefetched [`PREFETCH_AHEAD`] nodes ahead.
///
/// # Safety
/// The ids are nodes; `q` is a padded query; inside the root for `M::ISA`.
#[inline(always)]
pub(crate) unsafe fn score<M: Metric>(
    st: &Store,
    q: *const f32,
    ids: &[u32],
    mut f: impl FnMut(u32, f32),
) {
    let words = st.lay.words;
    for &x in ids.iter().take(PREFETCH_AHEAD) {
        // SAFETY: x < n.
        unsafe { prefetch_vec(st, x) };
    }
    for j in 0..ids.len() {
        if let Some(&ahead) = ids.get(j + PREFETCH_AHEAD) {
            // SAFETY: ahead < n.
            unsafe { prefetch_vec(st, ahead) };
        }
        let x = ids[j];
        // SAFETY: x < n, padded aligned vectors.
        let d = unsafe { M::dist(q, st.vec(x), words) };
        f(x, d);
    }
}

/// The scratch a filtered search uses.
pub(crate) struct FilterScratch<'a> {
    pub(crate) beam: &'a mut Beam,
    pub(crate) visited: &'a mut Visited,
    pub(crate) ok: &'a mut Visited,
    pub(crate) todo: &'a mut Vec<u32>,
    pub(crate) rejected: &'a mut Vec<u32>,
    pub(crate) frontier: &'a mut std::collections::BinaryHeap<Reverse<HeapCand>>,
    pub(crate) found: &'a mut std::collections::BinaryHeap<HeapCand>,
}

/// Extra links per node for filtered search (from `build_with_groups`), CSR: node `i`'s are
/// `links[off[i]..off[i + 1]]`. Empty `off` means none.
#[derive(Clone, Copy)]
pub(crate) struct GroupLinks<'a> {
    pub(crate) off: &'a [u32],
    pub(crate) links: &'a [u32],
}

impl GroupLinks<'_> {
    #[inline(always)]
    pub(crate) fn of(&self, i: u32) -> &[u32] {
        if self.off.is_empty() {
            return &[];
        }
        let (a, b) = (self.off[i as usize], self.off[i as usize + 1]);
        &self.links[a as usize..b as usize]
    }
}

/// How many accepted seeds the first phase of a filtered search looks for.
const SEEDS: usize = 1;

/// Filtered search on layer 0 from the entry `(ep, dep)`; leaves the accepted results in
/// `s.beam` (capacity `width`).
///
/// Phase 1 walks the graph as hnswlib does with a filter — every node is traversed, only
/// accepted ones count as results — until it has found [`SEEDS`] accepted nodes (or the walk
/// ends: then the graph holds no more reachable accepted nodes near enough, and the result is
/// what it found). Phase 2 is a beam search over accepted nodes only, following both the base
/// links and the group links, as Qdrant does: with the group links of `build_with_groups`, the
/// nodes of a group form a connected, navigable sub-graph, so the traversal never pays for the
/// rejected nodes. Where a node has few accepted neighbours (a filter that is no group), it also
/// looks two hops away, through its rejected neighbours, for accepted ones (as ACORN does).
///
/// # Safety
/// As for [`greedy`], on the frozen graph; `ep < n`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) unsafe fn search_filtered<M: Metric>(
    st: &Store,
    n: usize,
    m: usize,
    groups: GroupLinks<'_>,
    q: *const f32,
    ep: u32,
    dep: f32,
    width: usize,
    accept: &(dyn Fn(u32) -> bool + Sync),
    s: FilterScratch<'_>,
) {
    let FilterScratch {
        beam,
        visited,
        ok,
        todo,
        rejected,
        frontier,
        found,
    } = s;
    visited.reset(n);
    ok.reset(n);
    frontier.clear();
    found.clear();
    let mut buf = Vec::new();

    // Phase 1: hnswlib's filtered walk, until the first accepted nodes.
    visited.insert(ep);
    frontier.push(Reverse(HeapCand(Cand { d: dep, id: ep })));
    if accept(ep) {
        ok.insert(ep);
        found.push(HeapCand(Cand { d: dep, id: ep }));
    }
    while found.len() < SEEDS {
        let Some(Reverse(HeapCand(c))) = frontier.pop() else {
            break;
        };
        if found.len() >= width && found.peek().is_some_and(|w| c.d > w.0.d) {
            break;
        }
        todo.clear();
        // SAFETY: c < n, layer 0 exists for every node.
        let links = unsafe { Frozen.links(st, c.id, 0, &mut buf) };
        for &x in links {
            if x == NONE {
                break;
            }
            if visited.insert(x) {
                todo.push(x);
            }
        }
        // SAFETY: the todo ids are nodes.
        unsafe {
            score::<M>(st, q, todo, |x, d| {
                if found.len() < width || found.peek().is_some_and(|w| d < w.0.d) {
                    frontier.push(Reverse(HeapCand(Cand { d, id: x })));
                    if accept(x) {
                        ok.insert(x);
                        found.push(HeapCand(Cand { d, id: x }));
                        if found.len() > width {
                            found.pop();
                        }
                    }
                }
            })
        };
    }

    // Phase 2: beam search over accepted nodes.
    beam.reset(width);
    for c in found.drain() {
        if beam.admits(c.0.d) {
            beam.insert(c.0.d, c.0.id);
        }
    }
    let two_hop_below = (m / 2).max(1);
    while let Some(c) = beam.next() {
        todo.clear();
        rejected.clear();
        let mut n_ok = 0usize;
        // SAFETY: c < n.
        let base = unsafe { Frozen.links(st, c, 0, &mut buf) };
        for &x in base.iter().chain(groups.of(c)) {
            if x == NONE {
                continue;
            }
            if visited.insert(x) {
                if accept(x) {
                    ok.insert(x);
                    n_ok += 1;
                    todo.push(x);
                } else {
                    rejected.push(x);
                }
            } else if ok.contains(x) {
                n_ok += 1;
            } else {
                rejected.push(x);
            }
        }
        if n_ok < two_hop_below {
            for &r in rejected.iter() {
                // SAFETY: r < n; the first line holds the first 16 links.
                prefetch(unsafe { st.links(r, 0) });
            }
            for &r in rejected.iter() {
                // SAFETY: r < n.
                let links = unsafe { Frozen.links(st, r, 0, &mut buf) };
                for &y in links {
                    if y == NONE {
                        break;
                    }
                    if visited.insert(y) {
                        if accept(y) {
                            ok.insert(y);
                            n_ok += 1;
                            todo.push(y);
                        }
                    } else if ok.contains(y) {
                        n_ok += 1;
                    }
                }
                if n_ok >= m {
                    break;
                }
            }
        }
        // SAFETY: the todo ids are nodes.
        unsafe {
            score::<M>(st, q, todo, |x, d| {
                if beam.admits(d) {
                    beam.insert(d, x);
                }
            })
        };
    }
}
