//! HNSW (Malkov & Yashunin), built and searched in process.
//!
//! The algorithm is hnswlib's: levels `floor(-ln(U) / ln(m))`; a new node descends greedily
//! through the upper layers, then runs a beam search of width `ef_construct` on each of its
//! layers, keeps up to `m` neighbours chosen by the heuristic of `getNeighborsByHeuristic2`, and
//! is linked both ways; a neighbour whose list overflows (`2m` on layer 0, `m` above) is pruned
//! with the same heuristic. A search descends greedily to layer 0 and runs a beam search of
//! width `max(ef, k)` there.
//!
//! How it is laid out and why: `graph.rs`. The build's threads and locks: `build.rs`. The
//! filtered search: `search.rs`. Kernels and their run-time choice: `kernels.rs`. The byte
//! format: `codec.rs` (and [`HnswIndex::to_bytes`]).
//!
//! The index keeps **its own copy of the vectors**, next to each node's links (that is the
//! layout that makes a hop touch one memory region); [`HnswIndex::search`] ignores its
//! `vectors` argument, and [`HnswIndex::vector`] reads a row in place, so the engine stores an
//! indexed float32 space's vectors only here.

mod build;
mod codec;
mod graph;
mod kernels;
mod search;
mod sq;
mod sq_codec;
#[cfg(test)]
mod tests;

use std::marker::PhantomData;

use rvdb_vector::Distance;

use crate::Scored;
use build::{build_graph, extend_graph, BuildSpec};
use graph::{with_ctx, Ctx, Graph, Layout};
pub use graph::{Element, SharedBytes};
use kernels::{in_isa, with_metric, Job, Metric, Space};
use search::{greedy, search_filtered, search_layer, FilterScratch, Frozen, GroupLinks};
pub use sq::{BinaryQuery, Quantization, QuantizedHnsw};

/// Build parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HnswParams {
    /// Links per node on the upper layers; `2 * m` on layer 0 (hnswlib's and Qdrant's `M`).
    /// Values below 2 are taken as 2.
    pub m: usize,
    /// Beam width while building. Values below `m` are taken as `m`.
    pub ef_construct: usize,
    /// Build threads; 0 = all available (rayon's default).
    pub threads: usize,
    /// Single-threaded, seeded build: the same input gives the same graph.
    pub deterministic: bool,
    /// Seed for the levels (in every mode) and everything else random.
    pub seed: u64,
    /// Links per node of the per-group sub-graphs of [`HnswIndex::build_with_groups`]
    /// (Qdrant's `payload_m`); `None`: `m`.
    pub payload_m: Option<usize>,
    /// How the graph stores the vectors next to the links: f32, or float16 / uint8 for
    /// vectors whose values those hold exactly (a half or a quarter of the bytes; values are
    /// cast as [`Element::cast`] does).
    pub element: Element,
}

impl Default for HnswParams {
    fn default() -> Self {
        HnswParams {
            m: 16,
            ef_construct: 100,
            threads: 0,
            deterministic: false,
            seed: 0x5EED_4E53,
            payload_m: None,
            element: Element::F32,
        }
    }
}

/// An HNSW graph over a fixed set of vectors (rows `0..n`), immutable once built.
/// `Send + Sync`: any number of threads may search it at once.
#[derive(Clone, Debug)]
pub struct HnswIndex {
    distance: Distance,
    m: usize,
    ef_construct: usize,
    graph: Graph,
    /// Extra layer-0 links for filtered search (`build_with_groups`), CSR by node; both empty
    /// when there are none.
    group_off: Vec<u32>,
    group_links: Vec<u32>,
}

impl HnswIndex {
    /// Builds over `n = vectors.len() / dim` rows of *prepared* vectors (the engine normalises
    /// Cosine before). `dim == 0` gives an empty index.
    pub fn build(
        distance: Distance,
        vectors: &[f32],
        dim: usize,
        params: &HnswParams,
    ) -> HnswIndex {
        let m = params.m.max(2);
        let spec = BuildSpec {
            m,
            cap0: 2 * m,
            cap_up: m,
            ef_construct: params.ef_construct.max(m),
            threads: params.threads,
            deterministic: params.deterministic,
            seed: params.seed,
        };
        let lay = Layout::typed(dim, params.element, spec.cap0, spec.cap_up);
        let graph = build_graph(Space::select(distance, params.element), lay, vectors, &spec);
        HnswIndex {
            distance,
            m,
            ef_construct: spec.ef_construct,
            graph,
            group_off: Vec::new(),
            group_links: Vec::new(),
        }
    }

    /// This index with `more` rows (prepared vectors, `dim` values each) inserted after its
    /// own, as rows `len()..`: the existing links are kept, so this costs the insertion of the
    /// new rows only, where [`HnswIndex::build`] over all rows would insert every one again.
    /// `None` when the index cannot be extended like that: it has group links (those of the
    /// new rows would be missing), or `params` asks for another `m` or `ef_construct`, or
    /// `more` is not whole rows of the index's dimension.
    pub fn extend(&self, more: &[f32], params: &HnswParams) -> Option<HnswIndex> {
        let m = params.m.max(2);
        let ef_construct = params.ef_construct.max(m);
        let dim = self.graph.lay.dim;
        if !self.group_links.is_empty()
            || m != self.m
            || ef_construct != self.ef_construct
            || dim == 0
            || !more.len().is_multiple_of(dim)
        {
            return None;
        }
        let spec = BuildSpec {
            m,
            cap0: 2 * m,
            cap_up: m,
            ef_construct,
            threads: params.threads,
            deterministic: params.deterministic,
            seed: params.seed,
        };
        let space = Space::select(self.distance, self.graph.lay.elem);
        let graph = extend_graph(space, &self.graph, more, &spec);
        Some(HnswIndex {
            distance: self.distance,
            m,
            ef_construct,
            graph,
            group_off: Vec::new(),
            group_links: Vec::new(),
        })
    }

    /// Whether the index has the extra links of [`HnswIndex::build_with_groups`].
    pub fn has_group_links(&self) -> bool {
        !self.group_links.is_empty()
    }

    /// Like [`HnswIndex::build`], and also links each group so that a search filtered to it
    /// stays connected (Qdrant's `payload_m`): `groups` are row sets (e.g. every row whose
    /// payload has `category == "books"`, one group per indexed value). Each group of at least
    /// 2 rows gets its own small HNSW over its rows, built like the base graph (`m` links chosen
    /// per node, up to `2m` on layer 0, as Qdrant's payload graphs; with at most `m` the
    /// filtered recall at 1 % selectivity was 0.97 instead of 0.99 at ef = 64); its layer-0
    /// links are kept beside the base graph's (which they never evict) and are followed only by
    /// filtered searches. Rows out of range and
    /// repeats within a group are ignored; a row may be in many groups.
    pub fn build_with_groups(
        distance: Distance,
        vectors: &[f32],
        dim: usize,
        params: &HnswParams,
        groups: &[Vec<u32>],
    ) -> HnswIndex {
        let mut index = HnswIndex::build(distance, vectors, dim, params);
        let n = index.len();
        if n == 0 {
            return index;
        }
        let m = params.payload_m.map_or(index.m, |pm| pm.max(2));
        let elem = index.graph.lay.elem;
        let space = Space::select(distance, elem);
        let graph = &index.graph;
        // One group's sub-graph, as (rows, layer-0 links of each row in row ids).
        let build_group = |gi: usize, threads: usize| -> Option<GroupGraph> {
            let mut rows: Vec<u32> = groups[gi]
                .iter()
                .copied()
                .filter(|&r| (r as usize) < n)
                .collect();
            rows.sort_unstable();
            rows.dedup();
            if rows.len() < 2 {
                return None;
            }
            let mut sub = Vec::with_capacity(rows.len() * dim);
            for &r in &rows {
                sub.extend_from_slice(&graph.vector(r as usize));
            }
            let spec = BuildSpec {
                m,
                cap0: 2 * m,
                cap_up: m,
                ef_construct: index.ef_construct,
                threads,
                deterministic: threads == 1,
                seed: params.seed ^ (gi as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
            };
            let g = build_graph(space, Layout::typed(dim, elem, 2 * m, m), &sub, &spec);
            let links = (0..rows.len())
                .map(|j| g.links0(j).iter().map(|&l| rows[l as usize]).collect())
                .collect();
            Some((rows, links))
        };
        // Groups below BIG are built one per thread (each single-threaded, so deterministic
        // in any mode); bigger ones one after another with all the build threads.
        const BIG: usize = 20_000;
        let sequential = params.deterministic || params.threads == 1;
        let mut built: Vec<Option<GroupGraph>> = vec![None; groups.len()];
        let small = |gi: usize| groups[gi].len() < BIG;
        let pool = if sequential {
            None
        } else {
            rayon::ThreadPoolBuilder::new()
                .num_threads(params.threads)
                .build()
                .ok()
        };
        match &pool {
            Some(pool) => pool.install(|| {
                use rayon::prelude::*;
                built
                    .par_iter_mut()
                    .enumerate()
                    .filter(|(gi, _)| small(*gi))
                    .for_each(|(gi, slot)| *slot = build_group(gi, 1));
            }),
            None => {
                for (gi, slot) in built.iter_mut().enumerate() {
                    if small(gi) {
                        *slot = build_group(gi, 1);
                    }
                }
            }
        }
        for (gi, slot) in built.iter_mut().enumerate() {
            if !small(gi) {
                *slot = build_group(gi, if sequential { 1 } else { params.threads });
            }
        }
        let mut per_node: Vec<Vec<u32>> = vec![Vec::new(); n];
        for (rows, links) in built.into_iter().flatten() {
            for (&r, l) in rows.iter().zip(links) {
                let mine = &mut per_node[r as usize];
                for to in l {
                    if !mine.contains(&to) {
                        mine.push(to);
                    }
                }
            }
        }
        let total: usize = per_node.iter().map(Vec::len).sum();
        if total == 0 {
            return index;
        }
        let mut off = Vec::with_capacity(n + 1);
        let mut links = Vec::with_capacity(total);
        off.push(0u32);
        for l in &per_node {
            links.extend_from_slice(l);
            off.push(u32::try_from(links.len()).expect("group links exceed 2^32"));
        }
        index.group_off = off;
        index.group_links = links;
        index
    }

    /// The `k` best rows by raw key (best first, ties by lower row), from a beam search of
    /// width `max(ef, k)`.
    ///
    /// `vectors` is ignored: the index searches its own copy of the vectors (pass the slice it
    /// was built over, or an empty one). `query` must be prepared like the stored vectors and
    /// have their dimension (panics otherwise).
    ///
    /// With `accept`, only accepted rows are returned. The walk first goes through any rows,
    /// as hnswlib's filtered search does, until it reaches an accepted one; from there it moves
    /// only through accepted rows, following the group links of
    /// [`HnswIndex::build_with_groups`] as well as the base links (so a filter that is one of
    /// the groups is searched like a graph of its own), and hopping over a rejected neighbour
    /// where a row has few accepted ones. `accept` should be cheap: it is called about once per
    /// row reached.
    pub fn search(
        &self,
        vectors: &[f32],
        query: &[f32],
        k: usize,
        ef: usize,
        accept: Option<&(dyn Fn(u32) -> bool + Sync)>,
    ) -> Vec<Scored> {
        let _ = vectors;
        let n = self.len();
        if n == 0 || k == 0 {
            return Vec::new();
        }
        assert_eq!(
            query.len(),
            self.graph.lay.dim,
            "HnswIndex::search: the query's dimension is not the index's"
        );
        let width = ef.max(k);
        with_ctx(|ctx| {
            let space = Space::select(self.distance, self.graph.lay.elem);
            with_metric!(space, M => in_isa::<M, _>(Knn::<M> {
                graph: &self.graph,
                m: self.m,
                groups: GroupLinks {
                    off: &self.group_off,
                    links: &self.group_links,
                },
                ctx: &mut *ctx,
                query: Query::F32(query),
                width,
                accept,
                _m: PhantomData,
            }));
            ctx.beam
                .iter()
                .take(k)
                .map(|c| Scored {
                    offset: c.id,
                    raw: -c.d,
                })
                .collect()
        })
    }

    /// The vectors' dimension.
    pub fn dim(&self) -> usize {
        self.graph.lay.dim
    }

    /// Node `i`'s stored values as bytes (`dim` values of [`HnswIndex::element`], little
    /// endian), read in place.
    ///
    /// # Panics
    /// When `i >= len()`.
    pub fn row_bytes(&self, i: usize) -> &[u8] {
        assert!(i < self.graph.n, "node {i} of {}", self.graph.n);
        let lay = self.graph.lay;
        let bytes: &[u8] = bytemuck::cast_slice(self.graph.region(i));
        &bytes[..lay.dim * lay.elem.width()]
    }

    /// How the index stores its vectors.
    pub fn element(&self) -> Element {
        self.graph.lay.elem
    }

    /// Node `i`'s vector as the index holds it (the prepared vector it was built from, cast
    /// to its element type), read in place when that is f32: the index can be the vector
    /// storage of its rows.
    ///
    /// # Panics
    /// When `i >= len()`.
    pub fn vector(&self, i: usize) -> std::borrow::Cow<'_, [f32]> {
        assert!(i < self.graph.n, "node {i} of {}", self.graph.n);
        if self.graph.lay.elem == Element::F32 {
            let start = i * self.graph.lay.stride + self.graph.lay.link_words;
            std::borrow::Cow::Borrowed(bytemuck::cast_slice(
                &graph::as_words(&self.graph.blocks)[start..start + self.graph.lay.dim],
            ))
        } else {
            std::borrow::Cow::Owned(self.graph.vector(i))
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.graph.n
    }

    pub fn is_empty(&self) -> bool {
        self.graph.n == 0
    }

    /// Heap bytes of the graph, including the index's copy of the vectors and group links.
    pub fn memory_bytes(&self) -> usize {
        self.graph.heap_bytes() + (self.group_off.capacity() + self.group_links.capacity()) * 4
    }

    /// The index as bytes; see `codec.rs` for the format (versioned, little-endian, CRC32C).
    pub fn to_bytes(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// Reads [`HnswIndex::to_bytes`]' output; refuses anything corrupt or inconsistent.
    pub fn from_bytes(b: &[u8]) -> Result<HnswIndex, String> {
        codec::decode(b, None)
    }

    /// [`HnswIndex::from_bytes`] on bytes the index may keep: a mapped graph file's blocks (the
    /// links and vectors, nearly all of it) are then viewed in place, not copied, so they are
    /// the file's pages (`on_disk`). Older files (and machines where the bytes cannot be
    /// viewed in place) are copied as by `from_bytes`.
    pub fn from_shared(bytes: SharedBytes) -> Result<HnswIndex, String> {
        let keep = bytes.clone();
        codec::decode((*keep).as_ref(), Some(bytes))
    }

    /// Bytes of the graph viewed in shared (mapped) storage rather than held on the heap.
    pub fn mapped_bytes(&self) -> usize {
        self.graph.blocks.shared_bytes()
    }

    /// The same index with its blocks on the heap (a copy of shared ones).
    pub fn into_owned(mut self) -> HnswIndex {
        if self.mapped_bytes() > 0 {
            self.graph.blocks = graph::Blocks::Owned(self.graph.blocks.to_vec());
        }
        self
    }
}

/// A group's sub-graph: its rows, and each row's layer-0 links (as rows).
type GroupGraph = (Vec<u32>, Vec<Vec<u32>>);

/// What a search compares the nodes with: a prepared f32 query, or int8 query codes with the
/// constants of their metric (`sq.rs`).
#[derive(Clone, Copy)]
enum Query<'a> {
    F32(&'a [f32]),
    Codes { codes: &'a [u8], consts: [f32; 4] },
}

/// A k-nearest search of one graph (f32 vectors or int8 codes), leaving the beam in `ctx`.
struct Knn<'a, M> {
    graph: &'a Graph,
    m: usize,
    groups: GroupLinks<'a>,
    ctx: &'a mut Ctx,
    query: Query<'a>,
    width: usize,
    accept: Option<&'a (dyn Fn(u32) -> bool + Sync)>,
    _m: PhantomData<M>,
}

impl<M: Metric> Job for Knn<'_, M> {
    type Out = ();
    #[inline(always)]
    fn run(self) {
        let Knn {
            graph: g,
            m,
            groups,
            ctx,
            query,
            width,
            accept,
            ..
        } = self;
        let st = g.view();
        let q = match query {
            Query::F32(v) => ctx.load_query(v, &g.lay),
            Query::Codes { codes, consts } => ctx.load_codes(codes, consts, &g.lay),
        };
        let Ctx {
            visited,
            ok,
            beam,
            todo,
            rejected,
            links: buf,
            frontier,
            found,
            ..
        } = ctx;
        let words = g.lay.words;
        let mut cur = g.entry;
        // SAFETY: the entry point is a node; we run in the root for M::ISA; the graph is
        // frozen and well formed (built here or checked by `from_bytes`).
        let mut dcur = unsafe { M::dist(q, st.vec(cur), words) };
        for l in (1..=g.max_level).rev() {
            // SAFETY: as above; the entry point has level max_level.
            (cur, dcur) = unsafe { greedy::<M, _>(&st, &Frozen, q, cur, dcur, l, buf) };
        }
        match accept {
            None => {
                visited.reset(g.n);
                visited.insert(cur);
                beam.reset(width);
                beam.insert(dcur, cur);
                // SAFETY: as above.
                unsafe { search_layer::<M, _>(&st, &Frozen, q, 0, beam, visited, todo, buf) };
            }
            Some(accept) => {
                let scratch = FilterScratch {
                    beam,
                    visited,
                    ok,
                    todo,
                    rejected,
                    frontier,
                    found,
                };
                // SAFETY: as above.
                unsafe {
                    search_filtered::<M>(&st, g.n, m, groups, q, cur, dcur, width, accept, scratch)
                };
            }
        }
    }
}
