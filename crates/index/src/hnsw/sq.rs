//! Graph traversal on int8 codes: the same links as an [`HnswIndex`], with each node's f32
//! vector replaced by its scalar-quantized codes ([`ScalarQuantizer`]), so a hop reads a
//! quarter of the bytes and scores in integers (VNNI `vpdpbusd` where the CPU has it). The
//! best `oversampling × k` candidates are then rescored from the original vectors.
//!
//! # Layout
//!
//! A node's block is its layer-0 links (as in `graph.rs`), then a vector region of whole
//! 64-byte lines: the `dim` code bytes, zero padding, and the node's correction term (an f32)
//! in the region's last four bytes. The query buffer has the same region, with zeros where the
//! correction sits (so it adds nothing to a byte product or difference), followed by one line
//! of constants: `step²`, the query's constant term, `128·Σd` and `step`. With m = 16 and
//! dim = 128 a block is 128 + 192 bytes instead of 128 + 512.
//!
//! # Metrics
//!
//! Distances are "lower is better" as in `kernels.rs`, from the formulas of
//! [`ScalarQuantizer`]: Dot/Cosine `−(step²·Σd·c′ + constant + correction)`, Euclid
//! `constant + correction − 2·step²·(Σd·c′ + 128·Σd)`, Manhattan `step·Σ|d − c|`, where `c′` is
//! the stored signed code.

use std::marker::PhantomData;

use rvdb_vector::Distance;

use super::graph::{as_words, as_words_mut, with_ctx, Graph, Layout, Line};
use super::kernels::{in_isa, Isa, Metric};
use super::search::GroupLinks;
use super::{HnswIndex, Knn, Query};
use crate::quant::ScalarQuantizer;
use crate::topk::{Scored, TopK};

/// An [`HnswIndex`]'s graph walked on int8 codes, with rescoring from the original vectors.
#[derive(Clone, Debug)]
pub struct QuantizedHnsw {
    distance: Distance,
    m: usize,
    quantizer: ScalarQuantizer,
    graph: Graph,
    group_off: Vec<u32>,
    group_links: Vec<u32>,
}

/// Which int8 metric a search instantiates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SqSpace {
    #[cfg(target_arch = "x86_64")]
    IpVnni,
    #[cfg(target_arch = "x86_64")]
    L2Vnni,
    #[cfg(target_arch = "x86_64")]
    L1Avx512,
    Ip,
    L2,
    L1,
}

impl SqSpace {
    fn select(distance: Distance) -> SqSpace {
        #[cfg(target_arch = "x86_64")]
        if rvdb_vector::int8_kernels().name == "avx512vnni" {
            return match distance {
                Distance::Cosine | Distance::Dot => SqSpace::IpVnni,
                Distance::Euclid => SqSpace::L2Vnni,
                Distance::Manhattan => SqSpace::L1Avx512,
            };
        }
        match distance {
            Distance::Cosine | Distance::Dot => SqSpace::Ip,
            Distance::Euclid => SqSpace::L2,
            Distance::Manhattan => SqSpace::L1,
        }
    }
}

/// Runs `$body` with `$M` bound to the int8 [`Metric`] type of `$space`.
macro_rules! with_sq_metric {
    ($space:expr, $M:ident => $body:expr) => {{
        match $space {
            #[cfg(target_arch = "x86_64")]
            SqSpace::IpVnni => {
                type $M = x86::IpVnni;
                $body
            }
            #[cfg(target_arch = "x86_64")]
            SqSpace::L2Vnni => {
                type $M = x86::L2Vnni;
                $body
            }
            #[cfg(target_arch = "x86_64")]
            SqSpace::L1Avx512 => {
                type $M = x86::L1Avx512;
                $body
            }
            SqSpace::Ip => {
                type $M = portable::Ip;
                $body
            }
            SqSpace::L2 => {
                type $M = portable::L2;
                $body
            }
            SqSpace::L1 => {
                type $M = portable::L1;
                $body
            }
        }
    }};
}

/// The constants line of a query buffer: `[step², constant, 128·Σd, step]`.
///
/// # Safety
/// `q` is a query buffer of `words` region words plus the constants line.
#[inline(always)]
unsafe fn consts(q: *const f32, words: usize) -> (f32, f32, f32, f32) {
    // SAFETY: the constants line follows the region
    unsafe {
        (
            *q.add(words),
            *q.add(words + 1),
            *q.add(words + 2),
            *q.add(words + 3),
        )
    }
}

/// The correction term of a node's region.
///
/// # Safety
/// `v` is a node's region of `words` words.
#[inline(always)]
unsafe fn correction(v: *const f32, words: usize) -> f32 {
    // SAFETY: the last word of the region
    unsafe { *v.add(words - 1) }
}

/// Integer kernels through the vector crate's dispatch (AVX2 or scalar).
mod portable {
    use super::{consts, correction, Isa, Metric};

    /// # Safety
    /// `p` points to `words` readable words.
    #[inline(always)]
    unsafe fn bytes<'a>(p: *const f32, words: usize) -> &'a [u8] {
        // SAFETY: forwarded contract
        unsafe { std::slice::from_raw_parts(p as *const u8, words * 4) }
    }

    #[inline(always)]
    unsafe fn dot(a: *const f32, b: *const f32, words: usize) -> f32 {
        // SAFETY: forwarded contract
        unsafe {
            let (x, y) = (bytes(a, words), bytes(b, words));
            let y: &[i8] = std::slice::from_raw_parts(y.as_ptr() as *const i8, y.len());
            rvdb_vector::dot_u8i8(x, y) as f32
        }
    }

    #[derive(Clone, Copy, Debug)]
    pub(super) struct Ip;
    impl Metric for Ip {
        const ISA: Isa = Isa::Portable;
        #[inline(always)]
        unsafe fn dist(a: *const f32, b: *const f32, words: usize) -> f32 {
            // SAFETY: a query buffer and a node region (module docs)
            unsafe {
                let (step2, constant, _, _) = consts(a, words);
                -(step2 * dot(a, b, words) + constant + correction(b, words))
            }
        }
    }

    #[derive(Clone, Copy, Debug)]
    pub(super) struct L2;
    impl Metric for L2 {
        const ISA: Isa = Isa::Portable;
        #[inline(always)]
        unsafe fn dist(a: *const f32, b: *const f32, words: usize) -> f32 {
            // SAFETY: as above
            unsafe {
                let (step2, constant, shift, _) = consts(a, words);
                constant + correction(b, words) - 2.0 * step2 * (dot(a, b, words) + shift)
            }
        }
    }

    #[derive(Clone, Copy, Debug)]
    pub(super) struct L1;
    impl Metric for L1 {
        const ISA: Isa = Isa::Portable;
        #[inline(always)]
        unsafe fn dist(a: *const f32, b: *const f32, words: usize) -> f32 {
            // SAFETY: as above; Manhattan regions have a zero correction
            unsafe {
                let (_, _, _, step) = consts(a, words);
                step * rvdb_vector::l1_u8(bytes(a, words), bytes(b, words)) as f32
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::{consts, correction, Isa, Metric};

    /// `Σ a·b` of the unsigned query bytes and the signed code bytes of two aligned regions.
    ///
    /// # Safety
    /// Both point to `words` (a multiple of 16) 64-byte aligned words; AVX-512 VNNI.
    #[inline(always)]
    unsafe fn dot(a: *const f32, b: *const f32, words: usize) -> f32 {
        // SAFETY: forwarded contract
        unsafe {
            let mut s0 = _mm512_setzero_si512();
            let mut s1 = _mm512_setzero_si512();
            let mut i = 0;
            while i + 32 <= words {
                s0 = _mm512_dpbusd_epi32(
                    s0,
                    _mm512_load_si512(a.add(i).cast()),
                    _mm512_load_si512(b.add(i).cast()),
                );
                s1 = _mm512_dpbusd_epi32(
                    s1,
                    _mm512_load_si512(a.add(i + 16).cast()),
                    _mm512_load_si512(b.add(i + 16).cast()),
                );
                i += 32;
            }
            if i < words {
                s0 = _mm512_dpbusd_epi32(
                    s0,
                    _mm512_load_si512(a.add(i).cast()),
                    _mm512_load_si512(b.add(i).cast()),
                );
            }
            _mm512_reduce_add_epi32(_mm512_add_epi32(s0, s1)) as f32
        }
    }

    #[derive(Clone, Copy, Debug)]
    pub(super) struct IpVnni;
    impl Metric for IpVnni {
        const ISA: Isa = Isa::Avx512Vnni;
        #[inline(always)]
        unsafe fn dist(a: *const f32, b: *const f32, words: usize) -> f32 {
            // SAFETY: a query buffer and a node region (module docs), in the VNNI root
            unsafe {
                let (step2, constant, _, _) = consts(a, words);
                -(step2 * dot(a, b, words) + constant + correction(b, words))
            }
        }
    }

    #[derive(Clone, Copy, Debug)]
    pub(super) struct L2Vnni;
    impl Metric for L2Vnni {
        const ISA: Isa = Isa::Avx512Vnni;
        #[inline(always)]
        unsafe fn dist(a: *const f32, b: *const f32, words: usize) -> f32 {
            // SAFETY: as above
            unsafe {
                let (step2, constant, shift, _) = consts(a, words);
                constant + correction(b, words) - 2.0 * step2 * (dot(a, b, words) + shift)
            }
        }
    }

    #[derive(Clone, Copy, Debug)]
    pub(super) struct L1Avx512;
    impl Metric for L1Avx512 {
        const ISA: Isa = Isa::Avx512Vnni;
        #[inline(always)]
        unsafe fn dist(a: *const f32, b: *const f32, words: usize) -> f32 {
            // SAFETY: as above; Manhattan regions have a zero correction
            unsafe {
                let (_, _, _, step) = consts(a, words);
                let mut s = _mm512_setzero_si512();
                let mut i = 0;
                while i < words {
                    s = _mm512_add_epi64(
                        s,
                        _mm512_sad_epu8(
                            _mm512_load_si512(a.add(i).cast()),
                            _mm512_load_si512(b.add(i).cast()),
                        ),
                    );
                    i += 16;
                }
                step * _mm512_reduce_add_epi64(s) as f32
            }
        }
    }
}

impl QuantizedHnsw {
    /// The graph of `index` on int8 codes of its vectors, the byte range fitted to all of them
    /// (or to their central `quantile`, Qdrant's setting).
    pub fn new(index: &HnswIndex, quantile: Option<f32>) -> QuantizedHnsw {
        let src = &index.graph;
        let dim = src.lay.dim;
        let mut vectors = Vec::with_capacity(src.n * dim);
        for i in 0..src.n {
            vectors.extend(src.vector(i));
        }
        let quantizer = ScalarQuantizer::train(index.distance, &vectors, dim, quantile);
        let codes = quantizer.encode(&vectors);
        drop(vectors);
        let lay = Layout::for_codes(dim, src.lay.cap0, src.lay.cap_up);
        let mut blocks = vec![Line([0; 16]); lay.lines(src.n)];
        {
            let from = as_words(&src.blocks);
            let to = as_words_mut(&mut blocks);
            for i in 0..src.n {
                let (s, d) = (i * src.lay.stride, i * lay.stride);
                to[d..d + lay.link_words].copy_from_slice(&from[s..s + src.lay.link_words]);
                let region = &mut to[d + lay.link_words..d + lay.stride];
                let (code, corr) = codes.row_parts(i);
                // SAFETY: plain words viewed as bytes
                let bytes: &mut [u8] = unsafe {
                    std::slice::from_raw_parts_mut(region.as_mut_ptr() as *mut u8, region.len() * 4)
                };
                bytes[..code.len()].copy_from_slice(code);
                region[lay.words - 1] = corr.to_bits();
            }
        }
        let graph = Graph {
            lay,
            n: src.n,
            blocks,
            levels: src.levels.clone(),
            upper_off: src.upper_off.clone(),
            upper: src.upper.clone(),
            entry: src.entry,
            max_level: src.max_level,
        };
        QuantizedHnsw {
            distance: index.distance,
            m: index.m,
            quantizer,
            graph,
            group_off: index.group_off.clone(),
            group_links: index.group_links.clone(),
        }
    }

    pub fn len(&self) -> usize {
        self.graph.n
    }

    pub fn is_empty(&self) -> bool {
        self.graph.n == 0
    }

    /// Heap bytes: links, codes and corrections (not the original vectors).
    pub fn memory_bytes(&self) -> usize {
        self.graph.heap_bytes() + (self.group_off.capacity() + self.group_links.capacity()) * 4
    }

    /// The `k` best rows by exact raw key (best first, ties by lower row): a beam search of
    /// width `max(ef, ⌈k·oversampling⌉)` on the codes, then the best `⌈k·oversampling⌉` of it
    /// rescored from `originals` (the prepared vectors, row-major, that the index was built
    /// over). `oversampling` below 1 is taken as 1. With `accept`, only accepted rows (as
    /// [`HnswIndex::search`]).
    pub fn search(
        &self,
        originals: &[f32],
        query: &[f32],
        k: usize,
        ef: usize,
        oversampling: f64,
        accept: Option<&(dyn Fn(u32) -> bool + Sync)>,
    ) -> Vec<Scored> {
        let n = self.len();
        let dim = self.graph.lay.dim;
        if n == 0 || k == 0 {
            return Vec::new();
        }
        assert_eq!(
            query.len(),
            dim,
            "QuantizedHnsw::search: the query's dimension is not the index's"
        );
        assert!(
            originals.len() >= n * dim,
            "QuantizedHnsw::search: fewer original vectors than rows"
        );
        let keep = ((k as f64) * oversampling.max(1.0)).ceil() as usize;
        let width = ef.max(keep);
        let q = self.quantizer.query(query);
        let (codes, constant, shift) = q.parts();
        let (step, step2) = self.quantizer.steps();
        let candidates: Vec<u32> = with_ctx(|ctx| {
            let space = SqSpace::select(self.distance);
            with_sq_metric!(space, M => in_isa::<M, _>(Knn::<M> {
                graph: &self.graph,
                m: self.m,
                groups: GroupLinks {
                    off: &self.group_off,
                    links: &self.group_links,
                },
                ctx: &mut *ctx,
                query: Query::Codes {
                    codes,
                    consts: [step2, constant, shift, step],
                },
                width,
                accept,
                _m: PhantomData,
            }));
            ctx.beam.iter().take(keep).map(|c| c.id).collect()
        });
        let mut top = TopK::new(k);
        for id in candidates {
            let r = id as usize;
            top.push(
                id,
                self.distance.raw(query, &originals[r * dim..(r + 1) * dim]),
            );
        }
        top.into_sorted_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hnsw::HnswParams;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    fn data(n: usize, dim: usize, distance: Distance, seed: u64) -> Vec<f32> {
        let mut rng = StdRng::seed_from_u64(seed);
        let centres: Vec<Vec<f32>> = (0..20)
            .map(|_| (0..dim).map(|_| rng.random_range(-1.0f32..1.0)).collect())
            .collect();
        let mut v = Vec::with_capacity(n * dim);
        for _ in 0..n {
            let c = &centres[rng.random_range(0..centres.len())];
            let mut row: Vec<f32> = c
                .iter()
                .map(|x| x + 0.3 * rng.random_range(-1.0f32..1.0))
                .collect();
            distance.prepare(&mut row);
            v.extend(row);
        }
        v
    }

    fn exact(base: &[f32], dim: usize, d: Distance, q: &[f32], k: usize) -> Vec<u32> {
        let mut top = TopK::new(k);
        for (i, v) in base.chunks_exact(dim).enumerate() {
            top.push(i as u32, d.raw(q, v));
        }
        top.into_sorted_vec().iter().map(|s| s.offset).collect()
    }

    #[test]
    fn searching_the_codes_then_rescoring_finds_what_the_f32_graph_finds() {
        let (n, dim, k) = (3000, 40, 10);
        for d in [
            Distance::Cosine,
            Distance::Euclid,
            Distance::Dot,
            Distance::Manhattan,
        ] {
            let base = data(n, dim, d, 1);
            let params = HnswParams {
                deterministic: true,
                ..HnswParams::default()
            };
            let index = HnswIndex::build(d, &base, dim, &params);
            let sq = QuantizedHnsw::new(&index, None);
            assert!(sq.memory_bytes() < index.memory_bytes());
            let queries = data(50, dim, d, 2);
            let (mut hits_sq, mut hits_f32) = (0, 0);
            for q in queries.chunks_exact(dim) {
                let want = exact(&base, dim, d, q, k);
                let got = sq.search(&base, q, k, 64, 3.0, None);
                assert_eq!(got.len(), k);
                // exact keys, best first
                for w in got.windows(2) {
                    assert!(w[0].raw >= w[1].raw);
                }
                let r = got[0].offset as usize;
                assert_eq!(got[0].raw, d.raw(q, &base[r * dim..(r + 1) * dim]));
                hits_sq += got.iter().filter(|s| want.contains(&s.offset)).count();
                let f = index.search(&base, q, k, 64, None);
                hits_f32 += f.iter().filter(|s| want.contains(&s.offset)).count();
            }
            let total = (queries.len() / dim * k) as f64;
            let (r_sq, r_f32) = (hits_sq as f64 / total, hits_f32 as f64 / total);
            assert!(
                r_sq >= 0.5 && r_sq >= r_f32 - 0.02,
                "{d}: int8 {r_sq} vs f32 {r_f32}"
            );
        }
    }

    #[test]
    fn a_filter_keeps_only_accepted_rows() {
        let (n, dim) = (2000, 16);
        let d = Distance::Euclid;
        let base = data(n, dim, d, 3);
        let index = HnswIndex::build(d, &base, dim, &HnswParams::default());
        let sq = QuantizedHnsw::new(&index, Some(0.99));
        let accept = |r: u32| r.is_multiple_of(7);
        let got = sq.search(&base, &base[..dim], 10, 64, 2.0, Some(&accept));
        assert_eq!(got.len(), 10);
        assert!(got.iter().all(|s| s.offset.is_multiple_of(7)));
        let want: Vec<u32> = {
            let mut top = TopK::new(10);
            for (i, v) in base.chunks_exact(dim).enumerate() {
                if accept(i as u32) {
                    top.push(i as u32, d.raw(&base[..dim], v));
                }
            }
            top.into_sorted_vec().iter().map(|s| s.offset).collect()
        };
        let hits = got.iter().filter(|s| want.contains(&s.offset)).count();
        assert!(hits >= 9, "{hits} of 10");
    }

    #[test]
    fn empty_and_zero_k() {
        let index = HnswIndex::build(Distance::Dot, &[], 4, &HnswParams::default());
        let sq = QuantizedHnsw::new(&index, None);
        assert!(sq.is_empty());
        assert!(sq.search(&[], &[0.0; 4], 10, 10, 2.0, None).is_empty());
    }
}
