//! Building the graph: hnswlib's `addPoint`, run for every node, in parallel or not.
//!
//! # Concurrency
//!
//! Vectors are copied into the blocks and levels drawn before any thread starts; after that
//! the only shared mutable state is the link lists and the entry point. Every read of a link
//! list (copied out, see [`Locked`]) and every write of one happens under that node's mutex,
//! and no thread ever holds two node locks at once, so there is no lock order to get wrong.
//! The entry point sits behind its own mutex; an insertion whose level is above the current
//! top holds it until it is done (as hnswlib's `global` lock), so the entry point only moves to
//! a fully linked node.
//!
//! A node is unreachable until a neighbour links to it, which happens only after its own list
//! on that layer is written, so nobody else writes a node's list before its inserter does.

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

use parking_lot::Mutex;

use super::graph::{with_ctx, Cand, Ctx, Graph, Layout, Line, Store, NONE};
use super::kernels::{as_query, in_isa, with_metric, Job, Metric, Space};
use super::search::{greedy, score, search_layer, Locked};

/// What a build needs to know.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BuildSpec {
    /// Links chosen for a new node on every layer (hnswlib's `M`).
    pub(crate) m: usize,
    /// Capacities (hnswlib's `maxM0` and `maxM`).
    pub(crate) cap0: usize,
    pub(crate) cap_up: usize,
    pub(crate) ef_construct: usize,
    pub(crate) threads: usize,
    pub(crate) deterministic: bool,
    pub(crate) seed: u64,
}

/// splitmix64: a small, good, seedable generator.
pub(crate) fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Levels `floor(-ln(U) / ln(m))`, `U` uniform in (0, 1], from `seed`.
pub(crate) fn draw_levels(n: usize, m: usize, seed: u64) -> Vec<u8> {
    let ml = 1.0 / (m.max(2) as f64).ln();
    let mut s = seed;
    (0..n)
        .map(|_| {
            let u = ((splitmix(&mut s) >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
            ((-u.ln() * ml).floor() as usize).min(64) as u8
        })
        .collect()
}

/// Builds a graph over `n = vectors.len() / dim` rows.
pub(crate) fn build_graph(space: Space, lay: Layout, vectors: &[f32], spec: &BuildSpec) -> Graph {
    let n = vectors.len().checked_div(lay.dim).unwrap_or(0);
    assert!(
        n < (1usize << 31),
        "an HNSW index holds fewer than 2^31 vectors"
    );
    let levels = draw_levels(n, spec.m, spec.seed);
    let mut g = Graph::new(lay, vectors, levels);
    link(space, &mut g, 0, spec);
    g
}

/// `prefix` with the rows of `more` (`dim` values each) inserted after its own: the old nodes
/// keep their links (they gain links to new nodes as any node does during a build), so the
/// cost is that of inserting the new rows only. Levels of the new rows are drawn from a seed
/// that also depends on how many rows came before.
pub(crate) fn extend_graph(space: Space, prefix: &Graph, more: &[f32], spec: &BuildSpec) -> Graph {
    let added = more.len().checked_div(prefix.lay.dim).unwrap_or(0);
    assert!(
        prefix.n + added < (1usize << 31),
        "an HNSW index holds fewer than 2^31 vectors"
    );
    let seed = spec.seed ^ (prefix.n as u64).wrapping_mul(0xD6E8_FEB8_6659_FD93);
    let levels = draw_levels(added, spec.m, seed);
    let mut g = Graph::extended(prefix, more, &levels);
    link(space, &mut g, prefix.n, spec);
    g
}

/// Inserts nodes `first..n` of `g` (those before are linked already).
fn link(space: Space, g: &mut Graph, first: usize, spec: &BuildSpec) {
    let n = g.n;
    if n == first {
        return;
    }
    let builder = Builder {
        st: g.store(),
        n,
        first,
        levels: &g.levels,
        locks: (0..n).map(|_| Mutex::new(())).collect(),
        // nodes before `first` have every list written
        written: g
            .levels
            .iter()
            .enumerate()
            .map(|(i, &l)| AtomicU8::new(if i < first { 0 } else { l + 1 }))
            .collect(),
        entry: Mutex::new((g.entry, g.max_level)),
        spec: *spec,
    };
    with_metric!(space, M => builder.run::<M>());
    let (entry, max_level) = builder.entry.into_inner();
    g.entry = entry;
    g.max_level = max_level;
}

struct Builder<'a> {
    st: Store,
    n: usize,
    /// The first node to insert (those before are linked).
    first: usize,
    levels: &'a [u8],
    locks: Vec<Mutex<()>>,
    /// See [`Locked`].
    written: Vec<AtomicU8>,
    /// Entry point and the top level.
    entry: Mutex<(u32, usize)>,
    spec: BuildSpec,
}

impl Builder<'_> {
    fn run<M: Metric>(&self) {
        // the first node of an empty graph becomes the entry point; the rest may go in parallel
        let mut start = self.first;
        if self.first == 0 {
            self.insert::<M>(0);
            start = 1;
        }
        let threads = if self.spec.deterministic {
            1
        } else if self.spec.threads == 0 {
            rayon::current_num_threads()
        } else {
            self.spec.threads
        };
        if threads <= 1 || self.n - start < 64 {
            for i in start..self.n {
                self.insert::<M>(i as u32);
            }
            return;
        }
        // Like hnswlib's ParallelFor: each worker takes the next id, so insertion follows id
        // order closely whatever the thread count.
        let next = AtomicUsize::new(start);
        let work = || loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= self.n {
                break;
            }
            self.insert::<M>(i as u32);
        };
        match rayon::ThreadPoolBuilder::new().num_threads(threads).build() {
            Ok(pool) => {
                pool.broadcast(|_| work());
            }
            Err(_) => work(),
        }
    }

    fn insert<M: Metric>(&self, i: u32) {
        with_ctx(|ctx| {
            in_isa::<M, _>(Insert::<M> {
                b: self,
                ctx,
                i,
                _m: std::marker::PhantomData,
            })
        });
    }
}

struct Insert<'a, 'b, M> {
    b: &'a Builder<'a>,
    ctx: &'b mut Ctx,
    i: u32,
    _m: std::marker::PhantomData<M>,
}

impl<M: Metric> Job for Insert<'_, '_, M> {
    type Out = ();
    #[inline(always)]
    fn run(self) {
        // SAFETY: we run inside the root for M::ISA; `i < n`; see the module docs for the
        // locking that makes the shared writes sound.
        unsafe { insert::<M>(self.b, self.ctx, self.i) }
    }
}

/// hnswlib's `addPoint` for node `i`.
#[inline(always)]
unsafe fn insert<M: Metric>(b: &Builder<'_>, ctx: &mut Ctx, i: u32) {
    let st = &b.st;
    let words = st.lay.words;
    let level = b.levels[i as usize] as usize;
    // SAFETY: i < n; inside the root for M::ISA.
    let q = unsafe { as_query::<M>(st.vec(i), words, &mut ctx.query) };
    let mut top = b.entry.lock();
    let (ep, max_level) = *top;
    if ep == NONE {
        // The first node: no links to write.
        b.written[i as usize].store(0, Ordering::Release);
        *top = (i, level);
        return;
    }
    // Hold the entry lock through the insertion only if this node becomes the new top.
    let top = if level > max_level {
        Some(top)
    } else {
        drop(top);
        None
    };
    let Ctx {
        visited,
        beam,
        todo,
        links: buf,
        cands,
        picked,
        prune,
        node_vec,
        cand_vec,
        ..
    } = ctx;
    let adj = Locked {
        locks: &b.locks,
        written: &b.written,
    };
    // SAFETY: ep < n.
    let mut cur = ep;
    let mut dcur = unsafe { M::dist(q, st.vec(ep), words) };
    for l in (level + 1..=max_level).rev() {
        // SAFETY: the entry point has level max_level; greedy moves along layer-l links only.
        (cur, dcur) = unsafe { greedy::<M, _>(st, &adj, q, cur, dcur, l, buf) };
    }
    for l in (0..=level.min(max_level)).rev() {
        visited.reset(b.n);
        visited.insert(cur);
        visited.insert(i);
        beam.reset(b.spec.ef_construct);
        beam.insert(dcur, cur);
        // SAFETY: cur has level >= l.
        unsafe { search_layer::<M, _>(st, &adj, q, l, beam, visited, todo, buf) };
        cands.clear();
        cands.extend(beam.iter().filter(|c| c.id != i));
        if cands.is_empty() {
            b.written[i as usize].store(l as u8, Ordering::Release);
            continue;
        }
        // SAFETY: candidates are nodes of the graph.
        unsafe { heuristic::<M>(st, cands, b.spec.m, picked, cand_vec) };
        {
            let _g = b.locks[i as usize].lock();
            // SAFETY: i has level >= l; we hold its lock.
            let slots = unsafe { std::slice::from_raw_parts_mut(st.links(i, l), st.cap(l)) };
            write_links(slots, picked.iter().map(|c| c.id));
        }
        b.written[i as usize].store(l as u8, Ordering::Release);
        for p in picked.iter() {
            // SAFETY: p is a node with level >= l (found on layer l).
            unsafe { connect::<M>(b, p.id, i, p.d, l, cands, prune, node_vec, cand_vec) };
        }
        // The closest candidate is always picked, and `picked` is sorted closest first.
        cur = picked[0].id;
        dcur = picked[0].d;
    }
    if let Some(mut top) = top {
        *top = (i, level);
    }
}

fn write_links(slots: &mut [u32], ids: impl Iterator<Item = u32>) {
    let mut k = 0;
    for id in ids {
        slots[k] = id;
        k += 1;
    }
    slots[k..].fill(NONE);
}

/// hnswlib's `getNeighborsByHeuristic2`: from `cands` (closest first) keep a candidate only if
/// it is closer to the base than to every candidate kept before it; at most `m`. Fewer than
/// `m` candidates are all kept.
///
/// # Safety
/// Candidates are nodes of the graph; inside the root for `M::ISA`.
#[inline(always)]
unsafe fn heuristic<M: Metric>(
    st: &Store,
    cands: &[Cand],
    m: usize,
    out: &mut Vec<Cand>,
    cand_vec: &mut Vec<Line>,
) {
    out.clear();
    if cands.len() < m {
        out.extend_from_slice(cands);
        return;
    }
    let words = st.lay.words;
    for c in cands {
        if out.len() >= m {
            break;
        }
        // SAFETY: c.id < n; inside the root for M::ISA.
        let vc = unsafe { as_query::<M>(st.vec(c.id), words, cand_vec) };
        let mut good = true;
        for s in out.iter() {
            // SAFETY: s.id < n.
            let d = unsafe { M::dist(vc, st.vec(s.id), words) };
            if d < c.d {
                good = false;
                break;
            }
        }
        if good {
            out.push(*c);
        }
    }
}

/// Adds `new` (at distance `d_new`) to `node`'s list on `level`, pruning with the heuristic
/// when the list is full.
///
/// # Safety
/// `node` has level `>= level`; inside the root for `M::ISA`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn connect<M: Metric>(
    b: &Builder<'_>,
    node: u32,
    new: u32,
    d_new: f32,
    level: usize,
    scratch: &mut Vec<Cand>,
    out: &mut Vec<Cand>,
    node_vec: &mut Vec<Line>,
    cand_vec: &mut Vec<Line>,
) {
    let st = &b.st;
    let cap = st.cap(level);
    let _g = b.locks[node as usize].lock();
    // SAFETY: we hold node's lock.
    let slots = unsafe { std::slice::from_raw_parts_mut(st.links(node, level), cap) };
    let len = slots.iter().position(|&x| x == NONE).unwrap_or(cap);
    if slots[..len].contains(&new) {
        return;
    }
    if len < cap {
        slots[len] = new;
        return;
    }
    // SAFETY: node < n; inside the root for M::ISA.
    let vn = unsafe { as_query::<M>(st.vec(node), st.lay.words, node_vec) };
    scratch.clear();
    scratch.push(Cand { d: d_new, id: new });
    // SAFETY: the slots hold nodes (the list is full).
    unsafe { score::<M>(st, vn, slots, |id, d| scratch.push(Cand { d, id })) };
    scratch.sort_unstable_by(Cand::order);
    // SAFETY: candidates are nodes.
    unsafe { heuristic::<M>(st, scratch, cap, out, cand_vec) };
    write_links(slots, out.iter().map(|c| c.id));
}
