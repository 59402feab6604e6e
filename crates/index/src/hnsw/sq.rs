//! Graph traversal on codes: the same links as an [`HnswIndex`], with each node's f32 vector
//! replaced by its scalar-quantized int8 codes ([`ScalarQuantizer`]: a quarter of the bytes,
//! scored in integers, VNNI `vpdpbusd` where the CPU has it) or its sign bits
//! ([`BinaryQuantizer`]: a thirty-second, Hamming distance, `vpopcntq` where the CPU has it).
//! The best `oversampling × k` candidates are then rescored from the original vectors.
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
//! Binary codes fill the region alone (no correction) and their distance is the Hamming
//! distance. Int8 distances are "lower is better" as in `kernels.rs`, from the formulas of
//! [`ScalarQuantizer`]: Dot/Cosine `−(step²·Σd·c′ + constant + correction)`, Euclid
//! `constant + correction − 2·step²·(Σd·c′ + 128·Σd)`, Manhattan `step·Σ|d − c|`, where `c′` is
//! the stored signed code.

use std::marker::PhantomData;

use rvdb_vector::Distance;

use super::graph::{as_words, as_words_mut, with_ctx, Graph, Layout, Line};
use super::kernels::{in_isa, Isa, Metric};
use super::search::GroupLinks;
use super::{HnswIndex, Knn, Query};
use crate::quant::{
    hamming, BinaryEncoding, BinaryQuantizer, ProductQuantizer, ScalarQuantizer, TurboBits,
    TurboQuantizer,
};
use crate::topk::{Scored, TopK};

/// An [`HnswIndex`]'s graph walked on int8 codes, with rescoring from the original vectors.
#[derive(Clone, Debug)]
pub struct QuantizedHnsw {
    pub(super) distance: Distance,
    m: usize,
    pub(super) codec: Codec,
    pub(super) graph: Graph,
    group_off: Vec<u32>,
    group_links: Vec<u32>,
}

/// How the nodes' vectors are encoded.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Quantization {
    /// int8 codes, the byte range fitted to all values or to their central `quantile`.
    Scalar { quantile: Option<f32> },
    /// One, one and a half or two bits per value ([`BinaryEncoding`]); the query is a code
    /// too (the distance is the Hamming distance) or keeps 4 or 8 bits per value (Qdrant's
    /// `scalar4bits` and `scalar8bits` query encodings) and is scored as a signed sum.
    Binary {
        encoding: BinaryEncoding,
        query: BinaryQuery,
    },
    /// One byte per sub-space of codebooks trained for `compression` (4 to 64), scored from the
    /// query's lookup tables.
    Product { compression: usize },
    /// A random rotation, then 1, 1.5, 2 or 4 bits per coordinate (Lloyd–Max levels of the
    /// normal), scored from the query's lookup tables with each code's scale and norm.
    Turbo { bits: TurboBits },
}

/// How a query meets binary codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum BinaryQuery {
    /// Encoded as the stored vectors are (Hamming distance).
    #[default]
    SameAsStorage,
    /// 4 bits per value against the stored bits.
    Scalar4Bits,
    /// 8 bits per value against the stored bits.
    Scalar8Bits,
}

impl BinaryQuery {
    /// The query's bit planes (0 for a code like the stored ones).
    pub(super) fn planes(self) -> usize {
        match self {
            BinaryQuery::SameAsStorage => 0,
            BinaryQuery::Scalar4Bits => 4,
            BinaryQuery::Scalar8Bits => 8,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Codec {
    Scalar(ScalarQuantizer),
    Binary(BinaryQuantizer, BinaryQuery),
    Product(Box<ProductQuantizer>),
    Turbo(Box<TurboQuantizer>),
}

/// Which code metric a search instantiates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SqSpace {
    #[cfg(target_arch = "x86_64")]
    IpVnni,
    #[cfg(target_arch = "x86_64")]
    L2Vnni,
    #[cfg(target_arch = "x86_64")]
    L1Avx512,
    #[cfg(target_arch = "x86_64")]
    HammingAvx512,
    #[cfg(target_arch = "x86_64")]
    PlanesAvx512,
    #[cfg(target_arch = "x86_64")]
    Planes4Avx512,
    Ip,
    L2,
    L1,
    Hamming,
    Planes,
    Planes4,
    Tables,
    TurboIp,
    TurboL2,
    #[cfg(target_arch = "x86_64")]
    TurboIpAvx512,
    #[cfg(target_arch = "x86_64")]
    TurboL2Avx512,
}

impl SqSpace {
    fn binary(query: BinaryQuery) -> SqSpace {
        #[cfg(target_arch = "x86_64")]
        if rvdb_vector::active_kernel() != "scalar"
            && is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512vpopcntdq")
        {
            return match query {
                BinaryQuery::SameAsStorage => SqSpace::HammingAvx512,
                BinaryQuery::Scalar4Bits => SqSpace::Planes4Avx512,
                BinaryQuery::Scalar8Bits => SqSpace::PlanesAvx512,
            };
        }
        match query {
            BinaryQuery::SameAsStorage => SqSpace::Hamming,
            BinaryQuery::Scalar4Bits => SqSpace::Planes4,
            BinaryQuery::Scalar8Bits => SqSpace::Planes,
        }
    }

    fn scalar(distance: Distance) -> SqSpace {
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
            #[cfg(target_arch = "x86_64")]
            SqSpace::HammingAvx512 => {
                type $M = x86::HammingAvx512;
                $body
            }
            #[cfg(target_arch = "x86_64")]
            SqSpace::PlanesAvx512 => {
                type $M = x86::PlanesAvx512<8>;
                $body
            }
            #[cfg(target_arch = "x86_64")]
            SqSpace::Planes4Avx512 => {
                type $M = x86::PlanesAvx512<4>;
                $body
            }
            SqSpace::Hamming => {
                type $M = portable::Hamming;
                $body
            }
            SqSpace::Planes => {
                type $M = portable::Planes<8>;
                $body
            }
            SqSpace::Planes4 => {
                type $M = portable::Planes<4>;
                $body
            }
            SqSpace::Tables => {
                type $M = portable::Tables;
                $body
            }
            SqSpace::TurboIp => {
                type $M = portable::TurboIp;
                $body
            }
            SqSpace::TurboL2 => {
                type $M = portable::TurboL2;
                $body
            }
            #[cfg(target_arch = "x86_64")]
            SqSpace::TurboIpAvx512 => {
                type $M = x86::TurboIpAvx512;
                $body
            }
            #[cfg(target_arch = "x86_64")]
            SqSpace::TurboL2Avx512 => {
                type $M = x86::TurboL2Avx512;
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
    use super::{consts, correction, hamming, Isa, Metric};

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
    pub(super) struct Hamming;
    impl Metric for Hamming {
        const ISA: Isa = Isa::Portable;
        #[inline(always)]
        unsafe fn dist(a: *const f32, b: *const f32, words: usize) -> f32 {
            // SAFETY: a query buffer and a node region of bits, zero-padded alike
            unsafe { hamming(bytes(a, words), bytes(b, words)) as f32 }
        }
    }

    /// A query of `P` bit planes against binary codes (`BinaryQuantizer::query_planes`).
    #[derive(Clone, Copy, Debug)]
    pub(super) struct Planes<const P: usize>;
    impl<const P: usize> Metric for Planes<P> {
        const ISA: Isa = Isa::Portable;
        #[inline(always)]
        unsafe fn dist(a: *const f32, b: *const f32, words: usize) -> f32 {
            // SAFETY: 8 planes of `words` words, then the constants line; a node region
            unsafe {
                let code = bytes(b, words);
                let pc: u32 = code.iter().map(|x| x.count_ones()).sum();
                let mut s = 0u64;
                for k in 0..P {
                    let plane = bytes(a.add(k * words), words);
                    let bits: u32 = plane
                        .iter()
                        .zip(code)
                        .map(|(p, c)| (p & c).count_ones())
                        .sum();
                    s += u64::from(bits) << k;
                }
                let (lo, step, sum, _) = consts(a, P * words);
                -(2.0 * (lo * pc as f32 + step * s as f32) - sum)
            }
        }
    }

    /// Product codes scored from the query's lookup tables: the query buffer starts with a
    /// line holding the sub-space count `m` and the table width `k` (as u32), then `m · k`
    /// raw keys; the node region holds `m` code bytes.
    #[derive(Clone, Copy, Debug)]
    pub(super) struct Tables;
    impl Metric for Tables {
        const ISA: Isa = Isa::Portable;
        #[inline(always)]
        unsafe fn dist(a: *const f32, b: *const f32, _words: usize) -> f32 {
            // SAFETY: the query buffer and node region described above
            unsafe {
                let head = a as *const u32;
                let (m, k) = (*head as usize, *head.add(1) as usize);
                let table = a.add(16);
                let code = b as *const u8;
                let mut s = 0.0;
                for i in 0..m {
                    s += *table.add(i * k + *code.add(i) as usize);
                }
                -s
            }
        }
    }

    /// Turbo codes against a prepared query: the query buffer starts with a line holding the
    /// block count, the coordinates per code byte, the bits per coordinate (u32 words 0, 1, 3)
    /// and the query's squared norm (f32, word 2); a line of the 16 levels; then the query's
    /// values block by block (`TurboQuery`). The node region holds the code blocks and ends
    /// with the code's scale `α` and squared norm. Returns `α · Σ value · level(field)`, an
    /// estimate of `⟨q, v⟩`.
    ///
    /// # Safety
    /// `a` and `b` as described, `b` a region of `words` words.
    #[inline(always)]
    pub(super) unsafe fn turbo_dot(a: *const f32, b: *const f32, words: usize) -> f32 {
        // SAFETY: forwarded contract
        unsafe {
            let head = a as *const u32;
            let (blocks, per, w) = (*head as usize, *head.add(1) as usize, *head.add(3));
            let levels = a.add(16);
            let values = a.add(32);
            let code = b as *const u8;
            let mask = (1u32 << w) - 1;
            let mut s = [0.0f32; 4];
            for blk in 0..blocks {
                let v = values.add(blk * 16 * per);
                for k in 0..per {
                    let shift = k as u32 * w;
                    for i in 0..16 {
                        let l = (u32::from(*code.add(blk * 16 + i)) >> shift) & mask;
                        s[i % 4] += *v.add(k * 16 + i) * *levels.add(l as usize);
                    }
                }
            }
            *b.add(words - 2) * ((s[0] + s[1]) + (s[2] + s[3]))
        }
    }

    #[derive(Clone, Copy, Debug)]
    pub(super) struct TurboIp;
    impl Metric for TurboIp {
        const ISA: Isa = Isa::Portable;
        #[inline(always)]
        unsafe fn dist(a: *const f32, b: *const f32, words: usize) -> f32 {
            // SAFETY: the query buffer and node region of `turbo_dot`
            unsafe { -turbo_dot(a, b, words) }
        }
    }

    /// `‖q‖² + ‖v‖² − 2⟨q, v⟩` with the estimated product.
    #[derive(Clone, Copy, Debug)]
    pub(super) struct TurboL2;
    impl Metric for TurboL2 {
        const ISA: Isa = Isa::Portable;
        #[inline(always)]
        unsafe fn dist(a: *const f32, b: *const f32, words: usize) -> f32 {
            // SAFETY: as above
            unsafe { *a.add(2) + *b.add(words - 1) - 2.0 * turbo_dot(a, b, words) }
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

    /// Bits that differ, 512 at a time.
    #[derive(Clone, Copy, Debug)]
    pub(super) struct HammingAvx512;
    impl Metric for HammingAvx512 {
        const ISA: Isa = Isa::Avx512Popcnt;
        #[inline(always)]
        unsafe fn dist(a: *const f32, b: *const f32, words: usize) -> f32 {
            // SAFETY: aligned regions of `words` words, in the VPOPCNTDQ root
            unsafe {
                let mut s = _mm512_setzero_si512();
                let mut i = 0;
                while i < words {
                    let x = _mm512_xor_si512(
                        _mm512_load_si512(a.add(i).cast()),
                        _mm512_load_si512(b.add(i).cast()),
                    );
                    s = _mm512_add_epi64(s, _mm512_popcnt_epi64(x));
                    i += 16;
                }
                _mm512_reduce_add_epi64(s) as f32
            }
        }
    }

    /// A query of `P` bit planes against binary codes, 512 bits at a time.
    #[derive(Clone, Copy, Debug)]
    pub(super) struct PlanesAvx512<const P: usize>;
    impl<const P: usize> Metric for PlanesAvx512<P> {
        const ISA: Isa = Isa::Avx512Popcnt;
        #[inline(always)]
        unsafe fn dist(a: *const f32, b: *const f32, words: usize) -> f32 {
            // SAFETY: P aligned planes of `words` words and the constants line; an aligned
            // node region; in the VPOPCNTDQ root
            unsafe {
                let mut pc = _mm512_setzero_si512();
                let mut s = _mm512_setzero_si512();
                let mut i = 0;
                while i < words {
                    let code = _mm512_load_si512(b.add(i).cast());
                    pc = _mm512_add_epi64(pc, _mm512_popcnt_epi64(code));
                    for k in 0..P as u32 {
                        let plane = _mm512_load_si512(a.add(k as usize * words + i).cast());
                        let bits = _mm512_popcnt_epi64(_mm512_and_si512(plane, code));
                        s = _mm512_add_epi64(
                            s,
                            _mm512_sll_epi64(bits, _mm_cvtsi32_si128(k as i32)),
                        );
                    }
                    i += 16;
                }
                let (lo, step, sum, _) = consts(a, P * words);
                let pc = _mm512_reduce_add_epi64(pc) as f32;
                let s = _mm512_reduce_add_epi64(s) as f32;
                -(2.0 * (lo * pc + step * s) - sum)
            }
        }
    }

    /// `portable::turbo_dot`, 16 code bytes at a time: each bit field of the 16 bytes
    /// widened to 16 lanes selects its level (`vpermps` of the 16 levels) and is multiplied
    /// by the query values beside it.
    ///
    /// # Safety
    /// As `portable::turbo_dot`, the query buffer 64-byte aligned; AVX-512 F.
    #[inline(always)]
    pub(super) unsafe fn turbo_dot(a: *const f32, b: *const f32, words: usize) -> f32 {
        // SAFETY: forwarded contract
        unsafe {
            let head = a as *const u32;
            let (blocks, per, w) = (*head as usize, *head.add(1) as usize, *head.add(3));
            let code = b as *const u8;
            if w == 1 {
                // one bit per coordinate, levels ±c: add the values whose bit is set (a mask
                // per bit position of the 16 bytes), then c · (2 · that − Σ values)
                let mut v = a.add(32);
                let mut acc0 = _mm512_setzero_ps();
                let mut acc1 = _mm512_setzero_ps();
                for blk in 0..blocks {
                    let x = _mm_loadu_si128(code.add(blk * 16).cast());
                    // bit k of every byte moved to its top bit, gathered as a lane mask
                    macro_rules! field {
                        ($k:literal, $acc:ident) => {
                            let m = _mm_movemask_epi8(_mm_slli_epi64::<{ 7 - $k }>(x)) as u16;
                            $acc =
                                _mm512_mask_add_ps($acc, m, $acc, _mm512_load_ps(v.add($k * 16)));
                        };
                    }
                    field!(0, acc0);
                    field!(1, acc1);
                    field!(2, acc0);
                    field!(3, acc1);
                    field!(4, acc0);
                    field!(5, acc1);
                    field!(6, acc0);
                    field!(7, acc1);
                    v = v.add(128);
                }
                let set = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
                let (sum, c) = (*a.add(4), *a.add(5));
                return *b.add(words - 2) * c * (2.0 * set - sum);
            }
            let levels = _mm512_load_ps(a.add(16));
            let mut v = a.add(32);
            let mask = _mm512_set1_epi32((1i32 << w) - 1);
            let mut acc0 = _mm512_setzero_ps();
            let mut acc1 = _mm512_setzero_ps();
            for blk in 0..blocks {
                let x = _mm512_cvtepu8_epi32(_mm_loadu_si128(code.add(blk * 16).cast()));
                let mut k = 0;
                while k + 2 <= per {
                    let i0 = _mm512_and_si512(
                        _mm512_srl_epi32(x, _mm_cvtsi32_si128((k as u32 * w) as i32)),
                        mask,
                    );
                    let i1 = _mm512_and_si512(
                        _mm512_srl_epi32(x, _mm_cvtsi32_si128(((k + 1) as u32 * w) as i32)),
                        mask,
                    );
                    acc0 =
                        _mm512_fmadd_ps(_mm512_permutexvar_ps(i0, levels), _mm512_load_ps(v), acc0);
                    acc1 = _mm512_fmadd_ps(
                        _mm512_permutexvar_ps(i1, levels),
                        _mm512_load_ps(v.add(16)),
                        acc1,
                    );
                    v = v.add(32);
                    k += 2;
                }
            }
            *b.add(words - 2) * _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1))
        }
    }

    #[derive(Clone, Copy, Debug)]
    pub(super) struct TurboIpAvx512;
    impl Metric for TurboIpAvx512 {
        const ISA: Isa = Isa::Avx512;
        #[inline(always)]
        unsafe fn dist(a: *const f32, b: *const f32, words: usize) -> f32 {
            // SAFETY: the query buffer and node region of `turbo_dot`, in the AVX-512 root
            unsafe { -turbo_dot(a, b, words) }
        }
    }

    #[derive(Clone, Copy, Debug)]
    pub(super) struct TurboL2Avx512;
    impl Metric for TurboL2Avx512 {
        const ISA: Isa = Isa::Avx512;
        #[inline(always)]
        unsafe fn dist(a: *const f32, b: *const f32, words: usize) -> f32 {
            // SAFETY: as above
            unsafe { *a.add(2) + *b.add(words - 1) - 2.0 * turbo_dot(a, b, words) }
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

/// A turbo query buffer (`portable::turbo_dot`): a header line (blocks, coordinates per byte,
/// `‖q‖²`, bits per coordinate, `Σ values`, the second level), a line of the levels, then the
/// prepared query's values.
fn turbo_query_buffer(tq: &TurboQuantizer, query: &[f32]) -> Vec<u8> {
    let q = tq.query(query);
    let mut buf = vec![0u8; 128 + q.values.len() * 4];
    let blocks = (tq.padded_code_bytes() / 16) as u32;
    buf[..4].copy_from_slice(&blocks.to_ne_bytes());
    buf[4..8].copy_from_slice(&(tq.per_byte() as u32).to_ne_bytes());
    buf[8..12].copy_from_slice(&q.norm2.to_ne_bytes());
    buf[12..16].copy_from_slice(&(tq.width() as u32).to_ne_bytes());
    // for one bit per coordinate: Σ values and the upper level (`Σ v·(±c) = c·(2·Σ₁ v − Σ v)`)
    let sum: f32 = q.values.iter().sum();
    buf[16..20].copy_from_slice(&sum.to_ne_bytes());
    buf[20..24].copy_from_slice(&tq.levels16()[1].to_ne_bytes());
    for (dst, x) in buf[64..128].chunks_exact_mut(4).zip(tq.levels16()) {
        dst.copy_from_slice(&x.to_ne_bytes());
    }
    for (dst, x) in buf[128..].chunks_exact_mut(4).zip(&q.values) {
        dst.copy_from_slice(&x.to_ne_bytes());
    }
    buf
}

impl QuantizedHnsw {
    /// The graph of `index` on codes of its vectors (`quantization`), the quantizer fitted to a
    /// strided sample of at most 65,536 rows (int8: the byte range of their values, or of the
    /// central `quantile`, Qdrant's setting; product: the codebooks), the rows then decoded and
    /// encoded a chunk at a time.
    pub fn new(index: &HnswIndex, quantization: Quantization) -> QuantizedHnsw {
        /// Rows the quantizer is fitted to at most (a strided sample).
        const TRAIN_ROWS: usize = 65_536;
        /// Rows decoded and encoded at a time (so no full f32 copy of the vectors is made).
        const CHUNK: usize = 4096;
        let src = &index.graph;
        let dim = src.lay.dim;
        let gather = |rows: &mut dyn Iterator<Item = usize>| -> Vec<f32> {
            let mut v = Vec::new();
            for i in rows {
                v.extend(src.vector(i));
            }
            v
        };
        let sample = gather(&mut (0..src.n).step_by(src.n.div_ceil(TRAIN_ROWS).max(1)));
        let (codec, code_bytes, tail) = match quantization {
            Quantization::Scalar { quantile } => {
                let q = ScalarQuantizer::train(index.distance, &sample, dim, quantile);
                (Codec::Scalar(q), dim, 4)
            }
            Quantization::Binary { encoding, query } => {
                let q = BinaryQuantizer::train(encoding, &sample, dim);
                let bytes = q.code_bytes();
                (Codec::Binary(q, query), bytes, 0)
            }
            Quantization::Product { compression } => {
                let q = ProductQuantizer::train(index.distance, &sample, dim, compression, 42);
                let m = q.code_bytes();
                (Codec::Product(Box::new(q)), m, 0)
            }
            Quantization::Turbo { bits } => {
                let q = TurboQuantizer::new(dim, bits, 42);
                // whole blocks of codes, then the scale and norm
                let m = q.padded_code_bytes();
                (Codec::Turbo(Box::new(q)), m, 8)
            }
        };
        drop(sample);
        let lay = Layout::for_codes(code_bytes, tail, src.lay.cap0, src.lay.cap_up);
        // the current chunk's codes and correction terms
        let (mut first, mut codes, mut corrections) = (usize::MAX, Vec::new(), Vec::new());
        Self::assemble(index, codec, lay, |codec, i, region| {
            let start = i / CHUNK * CHUNK;
            if start != first {
                first = start;
                let vectors = gather(&mut (start..(start + CHUNK).min(src.n)));
                (codes, corrections) = match codec {
                    Codec::Scalar(q) => {
                        let encoded = q.encode(&vectors);
                        let rows = vectors.len() / dim.max(1);
                        let mut codes = Vec::with_capacity(rows * dim);
                        let mut corrections = Vec::with_capacity(rows);
                        for r in 0..rows {
                            let (c, corr) = encoded.row_parts(r);
                            codes.extend_from_slice(c);
                            corrections.push(corr);
                        }
                        (codes, corrections)
                    }
                    Codec::Binary(q, _) => (q.encode(&vectors), Vec::new()),
                    Codec::Product(q) => (q.encode(&vectors), Vec::new()),
                    Codec::Turbo(q) => {
                        let (codes, terms) = q.encode(&vectors);
                        (codes, terms.into_iter().flat_map(|(a, n)| [a, n]).collect())
                    }
                };
            }
            let r = i - start;
            // SAFETY: plain words viewed as bytes
            let bytes: &mut [u8] = unsafe {
                std::slice::from_raw_parts_mut(region.as_mut_ptr() as *mut u8, region.len() * 4)
            };
            // a row's code (turbo regions reserve whole blocks: the rest stays zero)
            let row = match codec {
                Codec::Turbo(q) => q.code_bytes(),
                _ => code_bytes,
            };
            bytes[..row].copy_from_slice(&codes[r * row..(r + 1) * row]);
            let words = region.len();
            match codec {
                Codec::Scalar(_) => region[words - 1] = corrections[r].to_bits(),
                Codec::Turbo(_) => {
                    region[words - 2] = corrections[2 * r].to_bits();
                    region[words - 1] = corrections[2 * r + 1].to_bits();
                }
                Codec::Binary(..) | Codec::Product(_) => {}
            }
        })
    }

    /// The graph of `index` with node regions of `lay` filled by `fill(codec, node, region)`,
    /// in node order (the links, levels and groups are `index`'s).
    pub(super) fn assemble(
        index: &HnswIndex,
        codec: Codec,
        lay: Layout,
        mut fill: impl FnMut(&Codec, usize, &mut [u32]),
    ) -> QuantizedHnsw {
        let src = &index.graph;
        let mut blocks = vec![Line([0; 16]); lay.lines(src.n)];
        {
            let from = as_words(&src.blocks);
            let to = as_words_mut(&mut blocks);
            for i in 0..src.n {
                let (s, d) = (i * src.lay.stride, i * lay.stride);
                to[d..d + lay.link_words].copy_from_slice(&from[s..s + src.lay.link_words]);
                fill(&codec, i, &mut to[d + lay.link_words..d + lay.stride]);
            }
        }
        let graph = Graph {
            lay,
            n: src.n,
            blocks: blocks.into(),
            levels: src.levels.clone(),
            upper_off: src.upper_off.clone(),
            upper: src.upper.clone(),
            entry: src.entry,
            max_level: src.max_level,
        };
        QuantizedHnsw {
            distance: index.distance,
            m: index.m,
            codec,
            graph,
            group_off: index.group_off.clone(),
            group_links: index.group_links.clone(),
        }
    }

    /// The codes as bytes (the quantizer and each node's code region; not the links): what
    /// [`QuantizedHnsw::from_bytes`] reads back over the same graph.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_bytes(&mut out);
        out
    }

    /// [`QuantizedHnsw::to_bytes`] appended to `out` (after a header of the caller's, say,
    /// without a second copy).
    pub fn write_bytes(&self, out: &mut Vec<u8>) {
        super::sq_codec::encode_into(self, out)
    }

    /// Codes written by [`QuantizedHnsw::to_bytes`], over `index` (the graph they were built
    /// from): no training and no encoding. Refused (with the reason) when the bytes are damaged
    /// or were written for another graph.
    pub fn from_bytes(index: &HnswIndex, bytes: &[u8]) -> Result<QuantizedHnsw, String> {
        super::sq_codec::decode(index, bytes)
    }

    pub fn len(&self) -> usize {
        self.graph.n
    }

    pub fn is_empty(&self) -> bool {
        self.graph.n == 0
    }

    /// Heap bytes: links, codes, corrections and codebooks (not the original vectors).
    pub fn memory_bytes(&self) -> usize {
        let books = match &self.codec {
            Codec::Product(q) => q.memory_bytes(),
            Codec::Turbo(q) => q.signs_bytes(),
            _ => 0,
        };
        self.graph.heap_bytes()
            + (self.group_off.capacity() + self.group_links.capacity()) * 4
            + books
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
        let dim = self.dim();
        assert!(
            originals.len() >= self.len() * dim,
            "QuantizedHnsw::search: fewer original vectors than rows"
        );
        let keep = ((k as f64) * oversampling.max(1.0)).ceil() as usize;
        let mut top = TopK::new(k);
        for c in self.candidates(query, keep, ef, accept) {
            let r = c.offset as usize;
            top.push(
                c.offset,
                self.distance.raw(query, &originals[r * dim..(r + 1) * dim]),
            );
        }
        top.into_sorted_vec()
    }

    /// The vectors' dimension.
    pub fn dim(&self) -> usize {
        match &self.codec {
            Codec::Scalar(q) => q.dim(),
            Codec::Binary(q, _) => q.dim(),
            Codec::Product(q) => q.dim(),
            Codec::Turbo(q) => q.dim(),
        }
    }

    /// Whether the code distance estimates the raw key (int8, product and turbo codes do,
    /// but turbo codes not for Manhattan, which they order by Euclidean distance; binary codes
    /// give a Hamming distance or a sign-plane sum, an order but not a score).
    pub fn estimates_scores(&self) -> bool {
        match self.codec {
            Codec::Binary(..) => false,
            Codec::Turbo(_) => self.distance != Distance::Manhattan,
            _ => true,
        }
    }

    /// The `keep` best rows by code distance (best first), from a beam search of width
    /// `max(ef, keep)` on the codes; `raw` is the negated code distance (an estimate of the raw
    /// key where [`QuantizedHnsw::estimates_scores`]). With `accept`, only accepted rows.
    pub fn candidates(
        &self,
        query: &[f32],
        keep: usize,
        ef: usize,
        accept: Option<&(dyn Fn(u32) -> bool + Sync)>,
    ) -> Vec<Scored> {
        if self.is_empty() || keep == 0 {
            return Vec::new();
        }
        assert_eq!(
            query.len(),
            self.dim(),
            "QuantizedHnsw::search: the query's dimension is not the index's"
        );
        let width = ef.max(keep);
        let (space, codes, consts) = match &self.codec {
            &Codec::Scalar(sq) => {
                let q = sq.query(query);
                let (codes, constant, shift) = q.parts();
                let (step, step2) = sq.steps();
                (
                    SqSpace::scalar(self.distance),
                    codes.to_vec(),
                    [step2, constant, shift, step],
                )
            }
            Codec::Binary(bq, BinaryQuery::SameAsStorage) => (
                SqSpace::binary(BinaryQuery::SameAsStorage),
                bq.encode(query),
                [0.0; 4],
            ),
            &Codec::Binary(ref bq, q) => {
                let (planes, [lo, step, sum]) =
                    bq.query_planes(query, self.graph.lay.words * 4, q.planes());
                (SqSpace::binary(q), planes, [lo, step, sum, 0.0])
            }
            Codec::Product(pq) => {
                let tables = pq.query(query);
                let (k, table) = tables.parts();
                // a header line (m, k), then the tables
                let mut buf = vec![0u8; 64 + table.len() * 4];
                buf[..4].copy_from_slice(&(pq.code_bytes() as u32).to_ne_bytes());
                buf[4..8].copy_from_slice(&(k as u32).to_ne_bytes());
                for (dst, x) in buf[64..].chunks_exact_mut(4).zip(table) {
                    dst.copy_from_slice(&x.to_ne_bytes());
                }
                (SqSpace::Tables, buf, [0.0; 4])
            }
            Codec::Turbo(tq) => {
                let buf = turbo_query_buffer(tq, query);
                let inner = matches!(self.distance, Distance::Cosine | Distance::Dot);
                #[cfg(target_arch = "x86_64")]
                let space = match (rvdb_vector::active_kernel() == "avx512", inner) {
                    (true, true) => SqSpace::TurboIpAvx512,
                    (true, false) => SqSpace::TurboL2Avx512,
                    (false, true) => SqSpace::TurboIp,
                    (false, false) => SqSpace::TurboL2,
                };
                #[cfg(not(target_arch = "x86_64"))]
                let space = if inner {
                    SqSpace::TurboIp
                } else {
                    SqSpace::TurboL2
                };
                (space, buf, [0.0; 4])
            }
        };
        with_ctx(|ctx| {
            with_sq_metric!(space, M => in_isa::<M, _>(Knn::<M> {
                graph: &self.graph,
                m: self.m,
                groups: GroupLinks {
                    off: &self.group_off,
                    links: &self.group_links,
                },
                ctx: &mut *ctx,
                query: Query::Codes {
                    codes: &codes,
                    consts,
                },
                width,
                accept,
                _m: PhantomData,
            }));
            ctx.beam
                .iter()
                .take(keep)
                .map(|c| Scored {
                    offset: c.id,
                    raw: -c.d,
                })
                .collect()
        })
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
            let sq = QuantizedHnsw::new(&index, Quantization::Scalar { quantile: None });
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

    /// Recall@k of `q` rescored with `oversampling` over `queries`.
    fn recall(
        index: &HnswIndex,
        q: Quantization,
        base: &[f32],
        queries: &[f32],
        k: usize,
        oversampling: f64,
    ) -> f64 {
        let (d, dim) = (index.distance, index.dim());
        let codes = QuantizedHnsw::new(index, q);
        let mut hits = 0;
        for v in queries.chunks_exact(dim) {
            let want = exact(base, dim, d, v, k);
            let got = codes.search(base, v, k, 100, oversampling, None);
            assert_eq!(got.len(), k);
            hits += got.iter().filter(|s| want.contains(&s.offset)).count();
        }
        hits as f64 / (queries.len() / dim * k) as f64
    }

    #[test]
    fn binary_codes_rank_better_with_asymmetric_queries_and_more_oversampling() {
        let (n, dim, k) = (3000, 256, 10);
        let d = Distance::Cosine;
        let base = data(n, dim, d, 9);
        let queries = data(40, dim, d, 10);
        let index = HnswIndex::build(d, &base, dim, &HnswParams::default());
        let one = |query| Quantization::Binary {
            encoding: BinaryEncoding::OneBit,
            query,
        };
        let runs = [
            (one(BinaryQuery::SameAsStorage), 1.0),
            (one(BinaryQuery::SameAsStorage), 4.0),
            (one(BinaryQuery::Scalar8Bits), 4.0),
            (one(BinaryQuery::Scalar8Bits), 30.0),
        ];
        let recall = runs.map(|(q, o)| recall(&index, q, &base, &queries, k, o));
        assert!(
            QuantizedHnsw::new(&index, one(BinaryQuery::SameAsStorage)).memory_bytes() * 3
                < index.memory_bytes()
        );
        // (tightly clustered data is hard for one bit per value: points of a cluster share
        // most signs; the rescoring of a long candidate list makes up for it)
        assert!(
            recall[0] < recall[1] && recall[1] < recall[2] && recall[3] >= 0.8,
            "recall {recall:?}"
        );
    }

    /// Embedding-like rows: centred, a decaying spectrum, loose clusters.
    fn embeddings(n: usize, dim: usize, distance: Distance, seed: u64) -> Vec<f32> {
        let mut rng = StdRng::seed_from_u64(seed);
        let scale: Vec<f32> = (0..dim).map(|i| 1.0 / (1.0 + i as f32 / 16.0)).collect();
        let mut gauss = move || {
            // a sum of uniforms: close enough to normal for a test
            (0..4).map(|_| rng.random_range(-1.0f32..1.0)).sum::<f32>() * 0.87
        };
        let centres: Vec<Vec<f32>> = (0..50)
            .map(|_| scale.iter().map(|s| s * gauss()).collect())
            .collect();
        let mut v = Vec::with_capacity(n * dim);
        for r in 0..n {
            let c = &centres[(r * 7919 + seed as usize) % centres.len()];
            let mut row: Vec<f32> = c.iter().zip(&scale).map(|(x, s)| x + s * gauss()).collect();
            distance.prepare(&mut row);
            v.extend(row);
        }
        v
    }

    #[test]
    fn two_bit_and_one_and_a_half_bit_codes_rank_better_than_one_bit() {
        let (n, dim, k) = (3000, 128, 10);
        for d in [Distance::Cosine, Distance::Dot] {
            let base = embeddings(n, dim, d, 21);
            let queries = embeddings(40, dim, d, 22);
            let index = HnswIndex::build(d, &base, dim, &HnswParams::default());
            let run = |encoding, query| {
                recall(
                    &index,
                    Quantization::Binary { encoding, query },
                    &base,
                    &queries,
                    k,
                    4.0,
                )
            };
            let one = run(BinaryEncoding::OneBit, BinaryQuery::SameAsStorage);
            let half = run(BinaryEncoding::OneAndHalfBits, BinaryQuery::SameAsStorage);
            let two = run(BinaryEncoding::TwoBits, BinaryQuery::SameAsStorage);
            let two4 = run(BinaryEncoding::TwoBits, BinaryQuery::Scalar4Bits);
            let two8 = run(BinaryEncoding::TwoBits, BinaryQuery::Scalar8Bits);
            let half8 = run(BinaryEncoding::OneAndHalfBits, BinaryQuery::Scalar8Bits);
            let one8 = run(BinaryEncoding::OneBit, BinaryQuery::Scalar8Bits);
            let all = [one, half, two, two4, two8, half8, one8];
            // a query kept at 4 or 8 bits ranks far better than a code; against such a query,
            // two stored bits rank better than one or one and a half (whose first bit is
            // "not low" rather than the sign: it is not better than one bit on such data)
            assert!(
                two4 > two + 0.2 && two8 > two4 - 0.05 && half8 > half + 0.1,
                "{d}: one, 1.5, two, two/4, two/8, 1.5/8, one/8 {all:?}"
            );
            assert!(
                two8 > half8 && two8 > one8,
                "{d}: one, 1.5, two, two/4, two/8, 1.5/8, one/8 {all:?}"
            );
        }
    }

    #[test]
    fn product_codes_at_x16_with_oversampling_four_find_the_exact_top_ten() {
        let (n, dim, k) = (3000, 64, 10);
        for d in [Distance::Euclid, Distance::Cosine] {
            let base = data(n, dim, d, 11);
            let queries = data(40, dim, d, 12);
            let index = HnswIndex::build(d, &base, dim, &HnswParams::default());
            let pq = QuantizedHnsw::new(&index, Quantization::Product { compression: 16 });
            assert!(pq.memory_bytes() < index.memory_bytes());
            let mut hits = 0;
            for q in queries.chunks_exact(dim) {
                let want = exact(&base, dim, d, q, k);
                let got = pq.search(&base, q, k, 64, 4.0, None);
                hits += got.iter().filter(|s| want.contains(&s.offset)).count();
            }
            let recall = hits as f64 / (40 * k) as f64;
            assert!(recall >= 0.85, "{d}: recall {recall}");
        }
    }

    #[test]
    fn turbo_codes_rank_and_estimate_better_with_more_bits() {
        let (n, dim, k) = (3000, 96, 10);
        for d in [
            Distance::Cosine,
            Distance::Euclid,
            Distance::Dot,
            Distance::Manhattan,
        ] {
            let base = embeddings(n, dim, d, 31);
            let queries = embeddings(40, dim, d, 32);
            let index = HnswIndex::build(d, &base, dim, &HnswParams::default());
            let bits = [
                TurboBits::Bits1,
                TurboBits::Bits1_5,
                TurboBits::Bits2,
                TurboBits::Bits4,
            ];
            let r = bits.map(|bits| {
                recall(
                    &index,
                    Quantization::Turbo { bits },
                    &base,
                    &queries,
                    k,
                    4.0,
                )
            });
            // (Manhattan is walked by the Euclidean estimate: a rougher order)
            let want = if d == Distance::Manhattan { 0.7 } else { 0.9 };
            assert!(r[3] >= want && r[3] >= r[2] && r[2] > r[0], "{d}: {r:?}");
            assert!(r[1] >= r[0] - 0.02, "{d}: {r:?}");
            // 4-bit codes' estimate of the raw key is close to it
            let tq = QuantizedHnsw::new(
                &index,
                Quantization::Turbo {
                    bits: TurboBits::Bits4,
                },
            );
            assert_eq!(tq.estimates_scores(), d != Distance::Manhattan);
            if d != Distance::Manhattan {
                let q = &queries[..dim];
                let mut err = 0.0f32;
                let mut spread = 0.0f32;
                for c in tq.candidates(q, 10, 64, None) {
                    let r = c.offset as usize;
                    let exact = d.raw(q, &base[r * dim..(r + 1) * dim]);
                    err = err.max((c.raw - exact).abs());
                    spread = spread.max(exact.abs());
                }
                assert!(err < 0.1 * spread.max(1e-3), "{d}: error {err} of {spread}");
            }
        }
    }

    #[test]
    fn codes_round_trip_through_their_bytes_and_refuse_damage() {
        let (n, dim) = (1500, 32);
        let d = Distance::Euclid;
        let base = embeddings(n, dim, d, 41);
        let index = HnswIndex::build(d, &base, dim, &HnswParams::default());
        let other = HnswIndex::build(d, &base[..dim * 1000], dim, &HnswParams::default());
        for q in [
            Quantization::Scalar {
                quantile: Some(0.99),
            },
            Quantization::Binary {
                encoding: BinaryEncoding::TwoBits,
                query: BinaryQuery::Scalar4Bits,
            },
            Quantization::Binary {
                encoding: BinaryEncoding::OneBit,
                query: BinaryQuery::SameAsStorage,
            },
            Quantization::Product { compression: 8 },
            Quantization::Turbo {
                bits: TurboBits::Bits1_5,
            },
            Quantization::Turbo {
                bits: TurboBits::Bits4,
            },
        ] {
            let codes = QuantizedHnsw::new(&index, q);
            let bytes = codes.to_bytes();
            let back = QuantizedHnsw::from_bytes(&index, &bytes).unwrap();
            assert_eq!(back.codec, codes.codec, "{q:?}");
            for v in base.chunks_exact(dim).step_by(97) {
                assert_eq!(
                    back.candidates(v, 20, 64, None),
                    codes.candidates(v, 20, 64, None),
                    "{q:?}"
                );
            }
            let mut bad = bytes.clone();
            bad[bytes.len() / 2] ^= 1;
            assert!(QuantizedHnsw::from_bytes(&index, &bad).is_err());
            assert!(QuantizedHnsw::from_bytes(&index, &bytes[..bytes.len() - 9]).is_err());
            let e = QuantizedHnsw::from_bytes(&other, &bytes).unwrap_err();
            assert!(e.contains("another graph"), "{e}");
        }
    }

    #[test]
    fn turbo_kernels_agree_with_the_reference() {
        use super::super::graph::Line;
        fn lines(bytes: &[u8], words: usize) -> Vec<Line> {
            let mut out = vec![Line([0; 16]); words.div_ceil(16).max(bytes.len().div_ceil(64))];
            let w = as_words_mut(&mut out);
            for (i, c) in bytes.chunks(4).enumerate() {
                let mut b = [0u8; 4];
                b[..c.len()].copy_from_slice(c);
                w[i] = u32::from_ne_bytes(b);
            }
            out
        }
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx512f")]
        unsafe fn avx512(a: *const f32, b: *const f32, words: usize) -> f32 {
            // SAFETY: forwarded
            unsafe { x86::turbo_dot(a, b, words) }
        }
        for bits in [
            TurboBits::Bits1,
            TurboBits::Bits1_5,
            TurboBits::Bits2,
            TurboBits::Bits4,
        ] {
            for dim in [1, 7, 96, 200] {
                let tq = TurboQuantizer::new(dim, bits, 9);
                let v: Vec<f32> = (0..dim).map(|i| (i as f32 * 0.7).sin()).collect();
                let q: Vec<f32> = (0..dim).map(|i| (i as f32 * 0.3).cos()).collect();
                let mut code = Vec::new();
                let (alpha, norm2) = tq.encode_into(&v, &mut code);
                let want = alpha * tq.dot(&tq.query(&q), &code);
                let lay = Layout::for_codes(tq.padded_code_bytes(), 8, 32, 16);
                let mut region = lines(&code, lay.words);
                let words = lay.words;
                as_words_mut(&mut region)[words - 2] = alpha.to_bits();
                as_words_mut(&mut region)[words - 1] = norm2.to_bits();
                let buf = lines(&turbo_query_buffer(&tq, &q), 0);
                let (a, b) = (buf.as_ptr() as *const f32, region.as_ptr() as *const f32);
                // SAFETY: a query buffer and a node region as the kernels take them
                let got = unsafe { portable::turbo_dot(a, b, words) };
                let tol = 1e-4 * (1.0 + want.abs());
                assert!((got - want).abs() < tol, "{bits:?} {dim}: {got} vs {want}");
                #[cfg(target_arch = "x86_64")]
                if is_x86_feature_detected!("avx512f") {
                    // SAFETY: as above, on a CPU with AVX-512 F
                    let got = unsafe { avx512(a, b, words) };
                    assert!((got - want).abs() < tol, "{bits:?} {dim}: {got} vs {want}");
                }
            }
        }
    }

    #[test]
    fn a_filter_keeps_only_accepted_rows() {
        let (n, dim) = (2000, 16);
        let d = Distance::Euclid;
        let base = data(n, dim, d, 3);
        let index = HnswIndex::build(d, &base, dim, &HnswParams::default());
        let sq = QuantizedHnsw::new(
            &index,
            Quantization::Scalar {
                quantile: Some(0.99),
            },
        );
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
        for q in [
            Quantization::Scalar { quantile: None },
            Quantization::Binary {
                encoding: BinaryEncoding::OneBit,
                query: BinaryQuery::SameAsStorage,
            },
            Quantization::Binary {
                encoding: BinaryEncoding::TwoBits,
                query: BinaryQuery::Scalar4Bits,
            },
            Quantization::Product { compression: 8 },
            Quantization::Turbo {
                bits: TurboBits::Bits1_5,
            },
        ] {
            let sq = QuantizedHnsw::new(&index, q);
            assert!(sq.is_empty());
            assert!(sq.search(&[], &[0.0; 4], 10, 10, 2.0, None).is_empty());
        }
        let sq = QuantizedHnsw::new(
            &index,
            Quantization::Binary {
                encoding: BinaryEncoding::OneAndHalfBits,
                query: BinaryQuery::Scalar8Bits,
            },
        );
        assert!(sq.search(&[], &[0.0; 4], 10, 10, 2.0, None).is_empty());
    }
}
