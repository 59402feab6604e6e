//! Recall against exact search, filtered recall, determinism, the byte format, edge cases and
//! the kernels against the scalar reference.

use std::collections::HashSet;

use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng};
use rvdb_vector::Distance;

use super::graph::{encode_row, Element, Line, LINE_WORDS};
use super::kernels::{in_isa, with_metric, Job, Metric, Space};
use super::{graph, HnswIndex, HnswParams};
use crate::{flat_search, SearchParams};

const ALL: [Distance; 4] = [
    Distance::Cosine,
    Distance::Euclid,
    Distance::Dot,
    Distance::Manhattan,
];

/// Seeded test data from `rand`'s `StdRng`.
struct Rng(StdRng);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(StdRng::seed_from_u64(seed))
    }
    /// Uniform in (0, 1].
    fn uniform(&mut self) -> f64 {
        1.0 - self.0.random::<f64>()
    }
    /// Standard normal (Box–Muller).
    fn normal(&mut self) -> f32 {
        let (u, v) = (self.uniform(), self.uniform());
        ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
    }
    fn below(&mut self, n: usize) -> usize {
        self.0.random_range(0..n)
    }
}

/// `n` points (and `nq` queries) around `centres` Gaussian centres, as in the benchmark.
fn clustered(n: usize, nq: usize, dim: usize, centres: usize, seed: u64) -> (Vec<f32>, Vec<f32>) {
    let mut r = Rng::new(seed);
    let c: Vec<f32> = (0..centres * dim).map(|_| r.normal()).collect();
    let sigma: Vec<f32> = (0..centres)
        .map(|_| 0.9 + 0.4 * r.uniform() as f32)
        .collect();
    let mut draw = |count: usize| -> Vec<f32> {
        let mut out = Vec::with_capacity(count * dim);
        for _ in 0..count {
            let k = r.below(centres);
            for j in 0..dim {
                out.push(c[k * dim + j] + sigma[k] * r.normal());
            }
        }
        out
    };
    let base = draw(n);
    let queries = draw(nq);
    (base, queries)
}

fn prepared(d: Distance, mut v: Vec<f32>, dim: usize) -> Vec<f32> {
    for row in v.chunks_exact_mut(dim) {
        d.prepare(row);
    }
    v
}

fn exact(
    d: Distance,
    base: &[f32],
    q: &[f32],
    k: usize,
    accept: Option<&dyn Fn(u32) -> bool>,
) -> Vec<u32> {
    flat_search(d, base, q, SearchParams { k, min_raw: None }, accept)
        .iter()
        .map(|s| s.offset)
        .collect()
}

fn overlap(got: &[u32], truth: &[u32]) -> usize {
    let t: HashSet<u32> = truth.iter().copied().collect();
    got.iter().filter(|x| t.contains(x)).count()
}

fn params(threads: usize) -> HnswParams {
    HnswParams {
        m: 16,
        ef_construct: 100,
        threads,
        deterministic: threads == 1,
        seed: 7,
        payload_m: None,
        element: Element::F32,
    }
}

#[test]
fn recall_at_10_against_exact_search_for_each_distance() {
    let (dim, n, nq) = (24, 5000, 100);
    let (base, queries) = clustered(n, nq, dim, 50, 1);
    for d in ALL {
        let base = prepared(d, base.clone(), dim);
        let queries = prepared(d, queries.clone(), dim);
        let index = HnswIndex::build(d, &base, dim, &params(2));
        assert_eq!(index.len(), n);
        let mut hits = 0;
        for q in queries.chunks_exact(dim) {
            let got = index.search(&base, q, 10, 64, None);
            assert_eq!(got.len(), 10);
            assert!(
                got.windows(2).all(|w| w[0].raw >= w[1].raw),
                "{d:?}: best first"
            );
            // The raw keys are the metric's.
            for s in &got {
                let want = d.raw(q, &base[s.offset as usize * dim..][..dim]);
                assert!((s.raw - want).abs() <= 1e-3 * want.abs().max(1.0), "{d:?}");
            }
            let ids: Vec<u32> = got.iter().map(|s| s.offset).collect();
            hits += overlap(&ids, &exact(d, &base, q, 10, None));
        }
        let recall = hits as f64 / (10 * nq) as f64;
        eprintln!("{d:?}: recall@10 {recall:.3} at ef=64");
        assert!(recall >= 0.95, "{d:?}: recall@10 {recall} < 0.95 at ef=64");
    }
}

/// Builds over labelled points (label = row % labels, so groups are spread over the space)
/// and measures recall@10 of searches filtered to one label, against exact filtered search.
fn filtered_recall(labels: usize, with_groups: bool) -> f64 {
    let (dim, n, nq) = (24, 5000, 60);
    let d = Distance::Euclid;
    let (base, queries) = clustered(n, nq, dim, 50, 2);
    let mut r = Rng::new(3);
    let label: Vec<usize> = (0..n).map(|_| r.below(labels)).collect();
    let groups: Vec<Vec<u32>> = (0..labels)
        .map(|l| (0..n as u32).filter(|&i| label[i as usize] == l).collect())
        .collect();
    let index = if with_groups {
        HnswIndex::build_with_groups(d, &base, dim, &params(2), &groups)
    } else {
        HnswIndex::build(d, &base, dim, &params(2))
    };
    let mut hits = 0;
    let mut total = 0;
    for (qi, q) in queries.chunks_exact(dim).enumerate() {
        let want = qi % labels;
        let accept = |i: u32| label[i as usize] == want;
        let got = index.search(&base, q, 10, 64, Some(&accept));
        assert!(got.iter().all(|s| accept(s.offset)), "only accepted rows");
        let ids: Vec<u32> = got.iter().map(|s| s.offset).collect();
        let truth = exact(d, &base, q, 10, Some(&accept));
        hits += overlap(&ids, &truth);
        total += truth.len();
    }
    let recall = hits as f64 / total as f64;
    eprintln!("{labels} labels, group links {with_groups}: filtered recall@10 {recall:.3}");
    recall
}

#[test]
fn filtered_recall_at_1_percent_with_group_links() {
    let recall = filtered_recall(100, true);
    assert!(recall >= 0.9, "recall@10 {recall} < 0.9 at 1% selectivity");
}

#[test]
fn filtered_recall_at_10_percent_with_group_links() {
    let recall = filtered_recall(10, true);
    assert!(recall >= 0.9, "recall@10 {recall} < 0.9 at 10% selectivity");
}

/// Without group links a 10 % filter leaves most rows with 3 accepted neighbours of 32: the
/// two-hop expansion keeps the walk going.
#[test]
fn filtered_recall_at_10_percent_without_group_links() {
    let recall = filtered_recall(10, false);
    assert!(recall >= 0.9, "recall@10 {recall} < 0.9 at 10% selectivity");
}

#[test]
fn a_filter_accepting_one_far_row_still_finds_it() {
    let (dim, n) = (8, 2000);
    let (base, queries) = clustered(n, 1, dim, 20, 4);
    let index = HnswIndex::build(Distance::Euclid, &base, dim, &params(2));
    let q = &queries[..dim];
    let farthest = flat_search(
        Distance::Euclid,
        &base,
        q,
        SearchParams {
            k: n,
            min_raw: None,
        },
        None,
    )
    .last()
    .unwrap()
    .offset;
    let accept = |i: u32| i == farthest;
    let got = index.search(&base, q, 10, 16, Some(&accept));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].offset, farthest);
    let none = |_: u32| false;
    assert!(index.search(&base, q, 10, 16, Some(&none)).is_empty());
}

#[test]
fn deterministic_builds_give_identical_graphs() {
    let (dim, n) = (16, 3000);
    let (base, _) = clustered(n, 0, dim, 30, 5);
    let p = params(1);
    let a = HnswIndex::build(Distance::Cosine, &base, dim, &p);
    let b = HnswIndex::build(Distance::Cosine, &base, dim, &p);
    assert_eq!(a.graph, b.graph);
    assert_eq!(a.to_bytes(), b.to_bytes());
    let groups = vec![(0..n as u32).step_by(3).collect::<Vec<_>>()];
    let a = HnswIndex::build_with_groups(Distance::Euclid, &base, dim, &p, &groups);
    let b = HnswIndex::build_with_groups(Distance::Euclid, &base, dim, &p, &groups);
    assert_eq!(a.to_bytes(), b.to_bytes());
    // A different seed gives a different graph.
    let c = HnswIndex::build(
        Distance::Euclid,
        &base,
        dim,
        &HnswParams {
            seed: 8,
            ..p.clone()
        },
    );
    assert_ne!(a.graph, c.graph);
}

#[test]
fn graph_invariants_hold_after_a_parallel_build() {
    let (dim, n) = (16, 4000);
    let (base, _) = clustered(n, 0, dim, 30, 6);
    let index = HnswIndex::build(Distance::Euclid, &base, dim, &params(4));
    let g = &index.graph;
    assert_eq!(g.levels[g.entry as usize] as usize, g.max_level);
    for i in 0..n {
        let l0 = g.links0(i);
        assert!(!l0.is_empty(), "node {i} has no links");
        assert!(l0.len() <= 32);
        assert!(!l0.contains(&(i as u32)), "no self links");
        let set: HashSet<u32> = l0.iter().copied().collect();
        assert_eq!(set.len(), l0.len(), "no repeated links");
        for l in 1..=g.levels[i] as usize {
            for &x in g.links_up(i, l) {
                assert!(g.levels[x as usize] as usize >= l);
            }
        }
    }
}

/// Recall@10 at ef=64 of `index` over `base` against exact search.
fn recall_of(index: &HnswIndex, d: Distance, base: &[f32], queries: &[f32], dim: usize) -> f64 {
    let mut hits = 0;
    let mut total = 0;
    for q in queries.chunks_exact(dim) {
        let got: Vec<u32> = index
            .search(base, q, 10, 64, None)
            .iter()
            .map(|s| s.offset)
            .collect();
        hits += overlap(&got, &exact(d, base, q, 10, None));
        total += 10;
    }
    hits as f64 / total as f64
}

#[test]
fn an_extended_index_finds_old_and_new_rows_like_a_fresh_build() {
    let (dim, n, nq) = (24, 6000, 100);
    let (all, queries) = clustered(n, nq, dim, 50, 11);
    for d in [Distance::Euclid, Distance::Cosine] {
        let all = prepared(d, all.clone(), dim);
        let queries = prepared(d, queries.clone(), dim);
        let split = 2000 * dim;
        // a small first part, then twice as many rows added in one extension (the optimizer's
        // case: a graph grows by a sealed batch), then a few more added one extension later
        let first = HnswIndex::build(d, &all[..split], dim, &params(2));
        let grown = first.extend(&all[split..5000 * dim], &params(2)).unwrap();
        let grown = grown.extend(&all[5000 * dim..], &params(1)).unwrap();
        assert_eq!(grown.len(), n);
        // the first rows keep their vectors, and every row is its own nearest neighbour
        assert_eq!(grown.graph.vector(5), first.graph.vector(5));
        for r in [0usize, 1999, 2000, 4999, 5000, n - 1] {
            let q = &all[r * dim..(r + 1) * dim];
            let top = grown.search(&all, q, 1, 64, None);
            assert_eq!(top[0].offset as usize, r, "{d:?}: row {r}");
        }
        let fresh = HnswIndex::build(d, &all, dim, &params(2));
        let (r_ext, r_fresh) = (
            recall_of(&grown, d, &all, &queries, dim),
            recall_of(&fresh, d, &all, &queries, dim),
        );
        eprintln!("{d:?}: recall@10 extended {r_ext:.3}, fresh {r_fresh:.3}");
        assert!(r_ext >= 0.95, "{d:?}: extended recall {r_ext}");
        assert!(r_ext >= r_fresh - 0.02, "{d:?}: {r_ext} vs fresh {r_fresh}");
        // graph invariants hold across the seam
        let g = &grown.graph;
        assert_eq!(g.levels[g.entry as usize] as usize, g.max_level);
        for i in 0..n {
            let l0 = g.links0(i);
            assert!(!l0.is_empty() && l0.len() <= 32, "node {i}");
            assert!(l0.iter().all(|&x| (x as usize) < n && x as usize != i));
        }
    }
}

#[test]
fn extend_refuses_what_it_cannot_keep() {
    let (dim, n) = (8, 300);
    let (base, _) = clustered(n, 0, dim, 5, 12);
    let plain = HnswIndex::build(Distance::Euclid, &base, dim, &params(1));
    let other_m = HnswParams { m: 8, ..params(1) };
    assert!(plain.extend(&base[..dim], &other_m).is_none());
    assert!(plain.extend(&base[..dim - 1], &params(1)).is_none());
    let groups = vec![(0..n as u32).filter(|i| i % 2 == 0).collect::<Vec<_>>()];
    let grouped = HnswIndex::build_with_groups(Distance::Euclid, &base, dim, &params(1), &groups);
    assert!(grouped.has_group_links());
    assert!(grouped.extend(&base[..dim], &params(1)).is_none());
    // an empty index grows like a build from scratch
    let empty = HnswIndex::build(Distance::Euclid, &[], dim, &params(1));
    let grown = empty.extend(&base, &params(1)).unwrap();
    assert_eq!(grown.len(), n);
    assert_eq!(grown.search(&base, &base[..dim], 1, 16, None)[0].offset, 0);
    // nothing to add: the same graph
    let same = plain.extend(&[], &params(1)).unwrap();
    assert_eq!(same.graph, plain.graph);
}

#[test]
fn bytes_round_trip_gives_identical_searches() {
    let (dim, n) = (20, 2000);
    let (base, queries) = clustered(n, 20, dim, 20, 7);
    let groups: Vec<Vec<u32>> = (0..4)
        .map(|l| (0..n as u32).filter(|i| i % 4 == l).collect())
        .collect();
    let index = HnswIndex::build_with_groups(Distance::Dot, &base, dim, &params(2), &groups);
    let bytes = index.to_bytes();
    let back = HnswIndex::from_bytes(&bytes).expect("round trip");
    assert_eq!(back.to_bytes(), bytes);
    assert_eq!(back.distance, Distance::Dot);
    assert_eq!(back.len(), n);
    let accept = |i: u32| i % 4 == 1;
    for q in queries.chunks_exact(dim) {
        assert_eq!(
            index.search(&base, q, 10, 32, None),
            back.search(&[], q, 10, 32, None)
        );
        assert_eq!(
            index.search(&base, q, 10, 32, Some(&accept)),
            back.search(&[], q, 10, 32, Some(&accept))
        );
    }
}

#[test]
fn corrupt_bytes_are_refused() {
    let (dim, n) = (8, 300);
    let (base, _) = clustered(n, 0, dim, 5, 8);
    let bytes = HnswIndex::build(Distance::Euclid, &base, dim, &params(1)).to_bytes();
    assert!(HnswIndex::from_bytes(&bytes).is_ok());
    assert!(HnswIndex::from_bytes(&[]).is_err());
    assert!(HnswIndex::from_bytes(&bytes[..bytes.len() - 1]).is_err());
    assert!(HnswIndex::from_bytes(&bytes[..20]).is_err());
    for pos in [0, 9, 40, bytes.len() / 2, bytes.len() - 1] {
        let mut bad = bytes.clone();
        bad[pos] ^= 0x10;
        assert!(HnswIndex::from_bytes(&bad).is_err(), "flip at {pos}");
    }
    // A consistent checksum over inconsistent content: an out-of-range link (the first
    // layer-0 slot of node 0, right after the header, levels and upper links).
    let ix = HnswIndex::from_bytes(&bytes).unwrap();
    let layer0_at =
        (8 + 4 * 10 + n.next_multiple_of(4) + 4 + 4 * ix.graph.upper.len()).next_multiple_of(64);
    let mut bad = bytes[..bytes.len() - 4].to_vec();
    bad[layer0_at..layer0_at + 4].copy_from_slice(&(n as u32 + 5).to_le_bytes());
    let crc = crc32c::crc32c(&bad);
    bad.extend_from_slice(&crc.to_le_bytes());
    let err = HnswIndex::from_bytes(&bad).unwrap_err();
    assert!(err.contains("out of range"), "{err}");
    // A newer version is refused with its own message.
    let mut v3 = bytes[..bytes.len() - 4].to_vec();
    v3[8] = 3;
    let crc = crc32c::crc32c(&v3);
    v3.extend_from_slice(&crc.to_le_bytes());
    assert!(HnswIndex::from_bytes(&v3).unwrap_err().contains("version"));
}

/// The version 1 layout of a version 2 file (written out here from the format's description):
/// layer-0 links, then the vectors, with no padding before them.
fn as_version_1(ix: &HnswIndex, v2: &[u8]) -> Vec<u8> {
    let g = &ix.graph;
    let head = 8 + 4 * 10 + g.n.next_multiple_of(4) + 4 + 4 * g.upper.len();
    let mut out = v2[..head].to_vec();
    out[8] = 1;
    let words = graph::as_words(&g.blocks);
    let vwords = (g.lay.dim * g.lay.elem.width()).div_ceil(4);
    for i in 0..g.n {
        for &x in &words[i * g.lay.stride..i * g.lay.stride + g.lay.cap0] {
            out.extend_from_slice(&x.to_le_bytes());
        }
    }
    for i in 0..g.n {
        let v = i * g.lay.stride + g.lay.link_words;
        for &x in &words[v..v + vwords] {
            out.extend_from_slice(&x.to_le_bytes());
        }
    }
    let blocks_end = head.next_multiple_of(64) + g.lay.lines(g.n) * 64;
    out.extend_from_slice(&v2[blocks_end..v2.len() - 4]);
    let crc = crc32c::crc32c(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

#[test]
fn shared_bytes_are_searched_in_place_and_version_1_files_still_read() {
    let (dim, n) = (24, 1500);
    let (base, queries) = clustered(n, 20, dim, 10, 9);
    let groups: Vec<Vec<u32>> = (0..3)
        .map(|l| (0..n as u32).filter(|i| i % 3 == l).collect())
        .collect();
    for element in [Element::F32, Element::F16, Element::U8] {
        let p = HnswParams {
            element,
            ..params(2)
        };
        let index = HnswIndex::build_with_groups(Distance::Euclid, &base, dim, &p, &groups);
        let bytes = index.to_bytes();
        let shared = HnswIndex::from_shared(aligned(&bytes)).expect("shared");
        assert_eq!(shared.mapped_bytes(), index.graph.lay.lines(n) * 64);
        assert_eq!(shared.memory_bytes() + shared.mapped_bytes(), {
            let owned = HnswIndex::from_bytes(&bytes).unwrap();
            assert_eq!(owned.mapped_bytes(), 0);
            owned.memory_bytes()
        });
        let v1 = HnswIndex::from_bytes(&as_version_1(&index, &bytes)).expect("version 1");
        let owned = shared.clone().into_owned();
        assert_eq!(owned.mapped_bytes(), 0);
        let accept = |i: u32| i % 3 == 2;
        for q in queries.chunks_exact(dim) {
            let want = index.search(&[], q, 10, 32, None);
            assert_eq!(shared.search(&[], q, 10, 32, None), want);
            assert_eq!(v1.search(&[], q, 10, 32, None), want);
            assert_eq!(owned.search(&[], q, 10, 32, None), want);
            assert_eq!(
                shared.search(&[], q, 10, 32, Some(&accept)),
                index.search(&[], q, 10, 32, Some(&accept))
            );
        }
        // a graph extended from shared blocks copies them first
        let plain = HnswIndex::build(Distance::Euclid, &base, dim, &p);
        let shared = HnswIndex::from_shared(aligned(&plain.to_bytes())).unwrap();
        assert!(shared.mapped_bytes() > 0);
        let grown = shared.extend(&base[..dim * 10], &p).unwrap();
        assert_eq!(grown.len(), n + 10);
        assert_eq!(grown.mapped_bytes(), 0);
        assert_eq!(shared.search(&[], &base[..dim], 1, 16, None)[0].offset, 0);
    }
}

/// `bytes` in a buffer standing in for a mapped file (64-byte aligned, as a mapping is).
fn aligned(bytes: &[u8]) -> crate::SharedBytes {
    struct Buf(Vec<graph::Line>, usize);
    impl AsRef<[u8]> for Buf {
        fn as_ref(&self) -> &[u8] {
            &bytemuck::cast_slice::<_, u8>(graph::as_words(&self.0))[..self.1]
        }
    }
    let mut lines = vec![graph::Line([0; 16]); bytes.len().div_ceil(64)];
    bytemuck::cast_slice_mut::<_, u8>(graph::as_words_mut(&mut lines))[..bytes.len()]
        .copy_from_slice(bytes);
    std::sync::Arc::new(Buf(lines, bytes.len()))
}

#[test]
fn empty_and_single_point_indexes_work() {
    for d in ALL {
        let empty = HnswIndex::build(d, &[], 4, &params(1));
        assert!(empty.is_empty());
        assert!(empty
            .search(&[], &[1.0, 0.0, 0.0, 0.0], 5, 10, None)
            .is_empty());
        let back = HnswIndex::from_bytes(&empty.to_bytes()).unwrap();
        assert_eq!(back.len(), 0);

        let one = HnswIndex::build(d, &[0.6, 0.8, 0.0, 0.0], 4, &params(1));
        let got = one.search(&[], &[1.0, 0.0, 0.0, 0.0], 5, 10, None);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].offset, 0);
        let back = HnswIndex::from_bytes(&one.to_bytes()).unwrap();
        assert_eq!(back.search(&[], &[1.0, 0.0, 0.0, 0.0], 5, 10, None), got);
        let no = |_: u32| false;
        assert!(one
            .search(&[], &[1.0, 0.0, 0.0, 0.0], 5, 10, Some(&no))
            .is_empty());
    }
    let zero_dim = HnswIndex::build(Distance::Dot, &[], 0, &params(1));
    assert!(zero_dim.is_empty());
}

#[test]
fn k_larger_than_n_returns_every_row_in_order() {
    let (dim, n) = (6, 40);
    let (base, queries) = clustered(n, 3, dim, 4, 9);
    let index = HnswIndex::build(Distance::Euclid, &base, dim, &params(1));
    for q in queries.chunks_exact(dim) {
        let got: Vec<u32> = index
            .search(&base, q, 100, 10, None)
            .iter()
            .map(|s| s.offset)
            .collect();
        assert_eq!(got, exact(Distance::Euclid, &base, q, 100, None));
        assert_eq!(index.search(&base, q, 0, 10, None), vec![]);
    }
}

#[test]
fn memory_bytes_counts_the_graph_and_the_vectors() {
    let (dim, n) = (128, 500);
    let (base, _) = clustered(n, 0, dim, 5, 10);
    let index = HnswIndex::build(Distance::Euclid, &base, dim, &params(1));
    // 640 bytes per node (32 link slots + 128 floats), plus levels and upper layers.
    assert!(index.memory_bytes() >= n * 640);
    assert!(index.memory_bytes() < n * 700);
}

struct Dist<'a, M> {
    a: &'a [Line],
    b: &'a [Line],
    words: usize,
    _m: std::marker::PhantomData<M>,
}

impl<M: Metric> Job for Dist<'_, M> {
    type Out = f32;
    #[inline(always)]
    fn run(self) -> f32 {
        // SAFETY: both buffers hold `words` aligned floats; we run in the root for M::ISA.
        unsafe {
            M::dist(
                self.a.as_ptr() as *const f32,
                self.b.as_ptr() as *const f32,
                self.words,
            )
        }
    }
}

#[test]
fn kernels_match_the_scalar_reference() {
    let mut r = Rng::new(11);
    let names = rvdb_vector::kernels::available()
        .iter()
        .map(|k| k.name)
        .collect::<Vec<_>>();
    for dim in [1usize, 7, 16, 33, 100, 128, 200] {
        let words = dim.div_ceil(LINE_WORDS) * LINE_WORDS;
        let mut la = vec![Line([0; 16]); words / LINE_WORDS];
        let mut lb = la.clone();
        let a: Vec<f32> = (0..dim).map(|_| r.normal()).collect();
        let b: Vec<f32> = (0..dim).map(|_| r.normal()).collect();
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            la[i / 16].0[i % 16] = x.to_bits();
            lb[i / 16].0[i % 16] = y.to_bits();
        }
        for d in ALL {
            let want = match d {
                Distance::Euclid => rvdb_vector::scalar::l2_squared(&a, &b),
                Distance::Manhattan => rvdb_vector::scalar::l1(&a, &b),
                _ => -rvdb_vector::scalar::dot(&a, &b),
            };
            let magnitude: f32 = a
                .iter()
                .zip(&b)
                .map(|(x, y)| (x * y).abs() + (x - y) * (x - y))
                .sum();
            for name in &names {
                let space = Space::for_kernel(d, name);
                let got = with_metric!(space, M => in_isa::<M, _>(Dist::<M> {
                    a: &la,
                    b: &lb,
                    words,
                    _m: std::marker::PhantomData,
                }));
                let tol = 1e-5 * magnitude.max(1.0);
                assert!(
                    (got - want).abs() <= tol,
                    "{name} {d:?} dim {dim}: {got} vs {want}"
                );
            }
        }
    }
}

#[test]
fn typed_kernels_match_the_scalar_reference_over_the_stored_values() {
    let mut r = Rng::new(12);
    let names = rvdb_vector::kernels::available()
        .iter()
        .map(|k| k.name)
        .collect::<Vec<_>>();
    for elem in [Element::F16, Element::U8] {
        for dim in [1usize, 7, 16, 33, 100, 128, 200] {
            let words = dim.div_ceil(LINE_WORDS) * LINE_WORDS;
            let vec_words = (words * elem.width() / 4).div_ceil(LINE_WORDS) * LINE_WORDS;
            let mut la = vec![Line([0; 16]); words / LINE_WORDS];
            let mut lb = vec![Line([0; 16]); vec_words / LINE_WORDS];
            let scale = if elem == Element::U8 { 100.0 } else { 1.0 };
            let a: Vec<f32> = (0..dim).map(|_| scale * r.normal()).collect();
            let b: Vec<f32> = (0..dim)
                .map(|_| elem.cast(scale * (r.normal() + 1.5)))
                .collect();
            for (i, x) in a.iter().enumerate() {
                la[i / 16].0[i % 16] = x.to_bits();
            }
            {
                let region = super::graph::as_words_mut(&mut lb);
                encode_row(elem, &b, region);
            }
            for d in ALL {
                let want = match d {
                    Distance::Euclid => rvdb_vector::scalar::l2_squared(&a, &b),
                    Distance::Manhattan => rvdb_vector::scalar::l1(&a, &b),
                    _ => -rvdb_vector::scalar::dot(&a, &b),
                };
                let magnitude: f32 = a
                    .iter()
                    .zip(&b)
                    .map(|(x, y)| (x * y).abs() + (x - y) * (x - y))
                    .sum();
                for name in &names {
                    let space = Space::typed(d, elem, name);
                    let got = with_metric!(space, M => in_isa::<M, _>(Dist::<M> {
                        a: &la,
                        b: &lb,
                        words,
                        _m: std::marker::PhantomData,
                    }));
                    let tol = 1e-5 * magnitude.max(1.0);
                    assert!(
                        (got - want).abs() <= tol,
                        "{name} {elem:?} {d:?} dim {dim}: {got} vs {want}"
                    );
                }
            }
        }
    }
}

#[test]
fn typed_graphs_search_exactly_scored_round_trip_and_take_less_memory() {
    let (dim, n, nq) = (32, 3000, 50);
    let (base, queries) = clustered(n, nq, dim, 30, 21);
    for elem in [Element::F16, Element::U8] {
        for d in ALL {
            if elem == Element::U8 && d == Distance::Cosine {
                // uint8 rows are not unit length: a Cosine space scores them scaled, from an
                // f32 graph (the engine never builds a uint8 graph for Cosine)
                continue;
            }
            // stored values: prepared, then cast (uint8 data is non-negative integers)
            let base: Vec<f32> = if elem == Element::U8 {
                base.iter().map(|x| elem.cast(40.0 * (x + 3.0))).collect()
            } else {
                prepared(d, base.clone(), dim)
                    .iter()
                    .map(|&x| elem.cast(x))
                    .collect()
            };
            let queries: Vec<f32> = if elem == Element::U8 {
                queries
                    .iter()
                    .map(|x| elem.cast(40.0 * (x + 3.0)))
                    .collect()
            } else {
                prepared(d, queries.clone(), dim)
            };
            let p = HnswParams {
                element: elem,
                ..params(2)
            };
            let index = HnswIndex::build(d, &base, dim, &p);
            let f32_index = HnswIndex::build(d, &base, dim, &params(2));
            assert_eq!(index.element(), elem);
            assert!(index.memory_bytes() < f32_index.memory_bytes(), "{elem:?}");
            for i in [0, 1, n / 2, n - 1] {
                assert_eq!(&index.vector(i)[..], &base[i * dim..(i + 1) * dim]);
            }
            let again = HnswIndex::from_bytes(&index.to_bytes()).unwrap();
            assert_eq!(again.element(), elem);
            let (mut hits, mut f32_hits) = (0, 0);
            for q in queries.chunks_exact(dim) {
                let truth = exact(d, &base, q, 10, None);
                let f32_ids: Vec<u32> = f32_index
                    .search(&[], q, 10, 64, None)
                    .iter()
                    .map(|s| s.offset)
                    .collect();
                f32_hits += overlap(&f32_ids, &truth);
                let got = index.search(&[], q, 10, 64, None);
                assert_eq!(got, again.search(&[], q, 10, 64, None), "{elem:?} {d:?}");
                for s in &got {
                    let want = d.raw(q, &base[s.offset as usize * dim..][..dim]);
                    assert!(
                        (s.raw - want).abs() <= 1e-3 * want.abs().max(1.0),
                        "{elem:?} {d:?}: {} vs {want}",
                        s.raw
                    );
                }
                let ids: Vec<u32> = got.iter().map(|s| s.offset).collect();
                hits += overlap(&ids, &truth);
            }
            // as good as an f32 graph over the same values (uint8 Dot is a maximum inner
            // product search over vectors of unequal length: lower for both)
            let recall = hits as f64 / (10 * nq) as f64;
            let f32_recall = f32_hits as f64 / (10 * nq) as f64;
            assert!(
                recall >= 0.9 && recall >= f32_recall - 0.02,
                "{elem:?} {d:?}: recall@10 {recall}, f32 graph {f32_recall}"
            );
            // extended with more rows, still exact and complete
            let more = &base[..dim * 10];
            let grown = index.extend(more, &p).unwrap();
            assert_eq!(grown.len(), n + 10);
            assert_eq!(&grown.vector(n + 3)[..], &base[3 * dim..4 * dim]);
        }
    }
}

#[test]
fn the_index_can_be_shared_between_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<HnswIndex>();
    let (dim, n) = (8, 1000);
    let (base, queries) = clustered(n, 8, dim, 10, 12);
    let index = HnswIndex::build(Distance::Euclid, &base, dim, &params(2));
    let want: Vec<_> = queries
        .chunks_exact(dim)
        .map(|q| index.search(&base, q, 5, 32, None))
        .collect();
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                for (q, w) in queries.chunks_exact(dim).zip(&want) {
                    assert_eq!(&index.search(&base, q, 5, 32, None), w);
                }
            });
        }
    });
}

#[test]
fn payload_m_sets_the_width_of_the_group_graphs() {
    let (dim, n) = (8, 600);
    let (base, _) = clustered(n, 0, dim, 5, 13);
    let groups = vec![
        (0..n as u32).filter(|i| i % 3 == 0).collect::<Vec<_>>(),
        (0..n as u32).filter(|i| i % 3 == 1).collect::<Vec<_>>(),
    ];
    let most_links = |payload_m: Option<usize>| {
        let p = HnswParams {
            payload_m,
            ..params(1)
        };
        let index = HnswIndex::build_with_groups(Distance::Euclid, &base, dim, &p, &groups);
        (0..n)
            .map(|r| index.group_off[r + 1] - index.group_off[r])
            .max()
            .unwrap()
    };
    // layer 0 of a group graph keeps at most 2 × its m links per node
    assert!(most_links(Some(2)) <= 4, "{}", most_links(Some(2)));
    assert!(most_links(None) > 4, "m = 16 gives wider group graphs");
    assert!(most_links(None) <= 32);
}
