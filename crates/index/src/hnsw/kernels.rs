//! Distance kernels specialised for the graph's layout, and the run-time choice among them.
//!
//! The graph stores every vector zero-padded to a multiple of 16 floats and 64-byte aligned, and
//! searches copy the query into a buffer of the same shape. So the kernels here need no tail
//! handling and use aligned loads; zero padding adds nothing to a dot product, an L2 or an L1
//! sum.
//!
//! Each [`Metric`] is a zero-sized type whose `dist` is `#[inline(always)]`: the search and
//! build loops are generic over it and are instantiated inside a `#[target_feature]` root (see
//! [`with_metric!`](crate::hnsw::kernels)), so the kernel is inlined into the loop instead of
//! being an indirect call per pair. Distances here are "lower is better": Euclid `l2²`,
//! Cosine/Dot `-dot`, Manhattan `l1`; the public raw key is their negation.
//!
//! The instruction set follows the vector crate's choice ([`rvdb_vector::active_kernel`]), so
//! `RVDB_KERNEL=scalar` forces the portable kernels here too. The portable kernels call the
//! vector crate's dispatched functions (NEON on aarch64, scalar elsewhere).

use rvdb_vector::Distance;

use super::graph::Element;

/// The instruction set a [`Metric`] needs; decides which `#[target_feature]` root runs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Isa {
    #[cfg(target_arch = "x86_64")]
    Avx512,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    /// AVX-512 F and BW with VNNI (the int8 metrics of `sq.rs`).
    #[cfg(target_arch = "x86_64")]
    Avx512Vnni,
    /// AVX-512 F with VPOPCNTDQ (the binary metric of `sq.rs`).
    #[cfg(target_arch = "x86_64")]
    Avx512Popcnt,
    /// AVX2 and FMA with F16C (graphs storing float16 or uint8 vectors).
    #[cfg(target_arch = "x86_64")]
    Avx2F16c,
    Portable,
}

/// A distance over padded, aligned vectors; lower is better.
pub(crate) trait Metric: Copy + Send + Sync + 'static {
    const ISA: Isa;
    /// # Safety
    /// `a` and `b` point to `words` readable floats, `words` a multiple of 16, both 64-byte
    /// aligned; the CPU supports `Self::ISA`.
    ///
    /// For a metric over stored float16 or uint8 vectors (`STORED_F32` false), `b` points to
    /// a node's vector region holding `words` values of that type instead.
    unsafe fn dist(a: *const f32, b: *const f32, words: usize) -> f32;

    /// Whether stored vectors are f32 (so a stored vector can be passed as `a` itself).
    const STORED_F32: bool = true;

    /// Converts a stored vector region (`words` values) into `words` aligned floats at `out`,
    /// the shape of `a` (used where two stored vectors are compared, during builds).
    ///
    /// # Safety
    /// As for `dist`; `out` has room for `words` floats, 64-byte aligned.
    #[inline(always)]
    unsafe fn decode(b: *const f32, words: usize, out: *mut f32) {
        // SAFETY: forwarded contract; f32 regions are copied as they are.
        unsafe { std::ptr::copy_nonoverlapping(b, out, words) }
    }
}

/// A typed metric's result as its kernel summed it.
#[inline(always)]
pub(crate) fn as_is(x: f32) -> f32 {
    x
}

/// A typed metric's result negated (the dot product, for "lower is better").
#[inline(always)]
pub(crate) fn negated(x: f32) -> f32 {
    -x
}

/// A stored node's vector as an `a` operand of `M::dist`: the region itself when it is f32,
/// else converted into `buf`.
///
/// # Safety
/// `b` is a vector region of `words` values for `M`; inside the root for `M::ISA`.
#[inline(always)]
pub(crate) unsafe fn as_query<M: Metric>(
    b: *const f32,
    words: usize,
    buf: &mut Vec<super::graph::Line>,
) -> *const f32 {
    if M::STORED_F32 {
        return b;
    }
    let lines = words / super::graph::LINE_WORDS;
    if buf.len() < lines {
        buf.resize(lines, super::graph::Line([0; 16]));
    }
    let out = buf.as_mut_ptr() as *mut f32;
    // SAFETY: `buf` holds `words` aligned floats.
    unsafe { M::decode(b, words, out) };
    out
}

/// Which metric type a search or build instantiates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Space {
    #[cfg(target_arch = "x86_64")]
    L2Avx512,
    #[cfg(target_arch = "x86_64")]
    IpAvx512,
    #[cfg(target_arch = "x86_64")]
    L1Avx512,
    #[cfg(target_arch = "x86_64")]
    L2Avx2,
    #[cfg(target_arch = "x86_64")]
    IpAvx2,
    #[cfg(target_arch = "x86_64")]
    L1Avx2,
    L2Portable,
    IpPortable,
    L1Portable,
    // stored float16 / uint8 (see `graph::Element`)
    #[cfg(target_arch = "x86_64")]
    L2F16Avx512,
    #[cfg(target_arch = "x86_64")]
    IpF16Avx512,
    #[cfg(target_arch = "x86_64")]
    L1F16Avx512,
    #[cfg(target_arch = "x86_64")]
    L2U8Avx512,
    #[cfg(target_arch = "x86_64")]
    IpU8Avx512,
    #[cfg(target_arch = "x86_64")]
    L1U8Avx512,
    #[cfg(target_arch = "x86_64")]
    L2F16Avx2,
    #[cfg(target_arch = "x86_64")]
    IpF16Avx2,
    #[cfg(target_arch = "x86_64")]
    L1F16Avx2,
    #[cfg(target_arch = "x86_64")]
    L2U8Avx2,
    #[cfg(target_arch = "x86_64")]
    IpU8Avx2,
    #[cfg(target_arch = "x86_64")]
    L1U8Avx2,
    L2F16Portable,
    IpF16Portable,
    L1F16Portable,
    L2U8Portable,
    IpU8Portable,
    L1U8Portable,
}

impl Space {
    /// The best space for `distance` over vectors stored as `elem`, given the vector crate's
    /// kernel choice.
    pub(crate) fn select(distance: Distance, elem: Element) -> Space {
        Space::typed(distance, elem, rvdb_vector::active_kernel())
    }

    /// The space for `distance` over vectors stored as `elem`, given a kernel set name.
    pub(crate) fn typed(distance: Distance, elem: Element, kernel: &str) -> Space {
        let f16 = elem == Element::F16;
        let kind = match distance {
            Distance::Euclid => 0,
            Distance::Cosine | Distance::Dot => 1,
            Distance::Manhattan => 2,
        };
        if elem == Element::F32 {
            return Space::for_kernel(distance, kernel);
        }
        #[cfg(target_arch = "x86_64")]
        {
            if kernel == "avx512" {
                return match (f16, kind) {
                    (true, 0) => Space::L2F16Avx512,
                    (true, 1) => Space::IpF16Avx512,
                    (true, _) => Space::L1F16Avx512,
                    (false, 0) => Space::L2U8Avx512,
                    (false, 1) => Space::IpU8Avx512,
                    (false, _) => Space::L1U8Avx512,
                };
            }
            if kernel == "avx2+fma" && std::is_x86_feature_detected!("f16c") {
                return match (f16, kind) {
                    (true, 0) => Space::L2F16Avx2,
                    (true, 1) => Space::IpF16Avx2,
                    (true, _) => Space::L1F16Avx2,
                    (false, 0) => Space::L2U8Avx2,
                    (false, 1) => Space::IpU8Avx2,
                    (false, _) => Space::L1U8Avx2,
                };
            }
        }
        match (f16, kind) {
            (true, 0) => Space::L2F16Portable,
            (true, 1) => Space::IpF16Portable,
            (true, _) => Space::L1F16Portable,
            (false, 0) => Space::L2U8Portable,
            (false, 1) => Space::IpU8Portable,
            (false, _) => Space::L1U8Portable,
        }
    }

    /// The space for `distance` given a kernel set name (`"avx512"`, `"avx2+fma"`, other).
    pub(crate) fn for_kernel(distance: Distance, kernel: &str) -> Space {
        enum Kind {
            L2,
            Ip,
            L1,
        }
        let kind = match distance {
            Distance::Euclid => Kind::L2,
            Distance::Cosine | Distance::Dot => Kind::Ip,
            Distance::Manhattan => Kind::L1,
        };
        #[cfg(target_arch = "x86_64")]
        {
            if kernel == "avx512" {
                return match kind {
                    Kind::L2 => Space::L2Avx512,
                    Kind::Ip => Space::IpAvx512,
                    Kind::L1 => Space::L1Avx512,
                };
            }
            if kernel == "avx2+fma" {
                return match kind {
                    Kind::L2 => Space::L2Avx2,
                    Kind::Ip => Space::IpAvx2,
                    Kind::L1 => Space::L1Avx2,
                };
            }
        }
        let _ = kernel;
        match kind {
            Kind::L2 => Space::L2Portable,
            Kind::Ip => Space::IpPortable,
            Kind::L1 => Space::L1Portable,
        }
    }
}

/// Runs `$body` with the type alias `$M` bound to the [`Metric`] type of `$space`.
macro_rules! with_metric {
    ($space:expr, $M:ident => $body:expr) => {{
        #[allow(unused_imports)]
        use $crate::hnsw::kernels::portable;
        #[cfg(target_arch = "x86_64")]
        #[allow(unused_imports)]
        use $crate::hnsw::kernels::x86;
        use $crate::hnsw::kernels::Space;
        match $space {
            #[cfg(target_arch = "x86_64")]
            Space::L2Avx512 => {
                type $M = x86::L2Avx512;
                $body
            }
            #[cfg(target_arch = "x86_64")]
            Space::IpAvx512 => {
                type $M = x86::IpAvx512;
                $body
            }
            #[cfg(target_arch = "x86_64")]
            Space::L1Avx512 => {
                type $M = x86::L1Avx512;
                $body
            }
            #[cfg(target_arch = "x86_64")]
            Space::L2Avx2 => {
                type $M = x86::L2Avx2;
                $body
            }
            #[cfg(target_arch = "x86_64")]
            Space::IpAvx2 => {
                type $M = x86::IpAvx2;
                $body
            }
            #[cfg(target_arch = "x86_64")]
            Space::L1Avx2 => {
                type $M = x86::L1Avx2;
                $body
            }
            Space::L2Portable => {
                type $M = portable::L2;
                $body
            }
            Space::IpPortable => {
                type $M = portable::Ip;
                $body
            }
            Space::L1Portable => {
                type $M = portable::L1;
                $body
            }
            #[cfg(target_arch = "x86_64")]
            Space::L2F16Avx512 => {
                type $M = x86::L2F16Avx512;
                $body
            }
            #[cfg(target_arch = "x86_64")]
            Space::IpF16Avx512 => {
                type $M = x86::IpF16Avx512;
                $body
            }
            #[cfg(target_arch = "x86_64")]
            Space::L1F16Avx512 => {
                type $M = x86::L1F16Avx512;
                $body
            }
            #[cfg(target_arch = "x86_64")]
            Space::L2U8Avx512 => {
                type $M = x86::L2U8Avx512;
                $body
            }
            #[cfg(target_arch = "x86_64")]
            Space::IpU8Avx512 => {
                type $M = x86::IpU8Avx512;
                $body
            }
            #[cfg(target_arch = "x86_64")]
            Space::L1U8Avx512 => {
                type $M = x86::L1U8Avx512;
                $body
            }
            #[cfg(target_arch = "x86_64")]
            Space::L2F16Avx2 => {
                type $M = x86::L2F16Avx2;
                $body
            }
            #[cfg(target_arch = "x86_64")]
            Space::IpF16Avx2 => {
                type $M = x86::IpF16Avx2;
                $body
            }
            #[cfg(target_arch = "x86_64")]
            Space::L1F16Avx2 => {
                type $M = x86::L1F16Avx2;
                $body
            }
            #[cfg(target_arch = "x86_64")]
            Space::L2U8Avx2 => {
                type $M = x86::L2U8Avx2;
                $body
            }
            #[cfg(target_arch = "x86_64")]
            Space::IpU8Avx2 => {
                type $M = x86::IpU8Avx2;
                $body
            }
            #[cfg(target_arch = "x86_64")]
            Space::L1U8Avx2 => {
                type $M = x86::L1U8Avx2;
                $body
            }
            Space::L2F16Portable => {
                type $M = portable::L2F16Portable;
                $body
            }
            Space::IpF16Portable => {
                type $M = portable::IpF16Portable;
                $body
            }
            Space::L1F16Portable => {
                type $M = portable::L1F16Portable;
                $body
            }
            Space::L2U8Portable => {
                type $M = portable::L2U8Portable;
                $body
            }
            Space::IpU8Portable => {
                type $M = portable::IpU8Portable;
                $body
            }
            Space::L1U8Portable => {
                type $M = portable::L1U8Portable;
                $body
            }
        }
    }};
}
pub(crate) use with_metric;

/// A unit of work to run inside a function compiled for an instruction set (see [`in_isa`]).
/// Implementations mark `run` `#[inline(always)]` and call only `#[inline(always)]` code on
/// the hot path, so that everything down to `Metric::dist` and its intrinsics is compiled into
/// the `#[target_feature]` root.
pub(crate) trait Job {
    type Out;
    fn run(self) -> Self::Out;
}

/// Runs `job` inside a function compiled for `M::ISA`.
#[inline(always)]
pub(crate) fn in_isa<M: Metric, J: Job>(job: J) -> J::Out {
    match M::ISA {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: a space with this ISA is only selected when the vector crate detected the
        // CPU features (its "avx512" set requires AVX-512F, "avx2+fma" AVX2 and FMA).
        Isa::Avx512 => unsafe { x86::root_avx512(job) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Isa::Avx2 => unsafe { x86::root_avx2(job) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the int8 spaces with this ISA are only selected when the vector crate's
        // integer kernels detected AVX-512 F, BW and VNNI (see `sq.rs`).
        Isa::Avx512Vnni => unsafe { x86::root_avx512vnni(job) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the binary space with this ISA is only selected when the CPU reports
        // AVX-512 F and VPOPCNTDQ (see `sq.rs`).
        Isa::Avx512Popcnt => unsafe { x86::root_avx512popcnt(job) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the typed AVX2 spaces are only selected with "avx2+fma" and F16C detected
        // (`Space::typed`).
        Isa::Avx2F16c => unsafe { x86::root_avx2f16c(job) },
        Isa::Portable => job.run(),
    }
}

/// Prefetches the cache line at `p` into L1 (a hint; never faults).
#[inline(always)]
pub(crate) fn prefetch<T>(p: *const T) {
    // (`_mm_prefetch` is SSE, part of the x86_64 baseline.)
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetch is a hint and does not fault on any address.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p as *const i8);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

#[cfg(target_arch = "x86_64")]
pub(crate) mod x86 {
    use std::arch::x86_64::*;

    use super::{as_is, negated, Isa, Job, Metric};

    #[target_feature(enable = "avx512f,avx2,fma")]
    pub(crate) unsafe fn root_avx512<J: Job>(job: J) -> J::Out {
        job.run()
    }

    #[target_feature(enable = "avx2,fma")]
    pub(crate) unsafe fn root_avx2<J: Job>(job: J) -> J::Out {
        job.run()
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vnni,avx2,fma")]
    pub(crate) unsafe fn root_avx512vnni<J: Job>(job: J) -> J::Out {
        job.run()
    }

    #[target_feature(enable = "avx512f,avx512vpopcntdq,avx2,fma")]
    pub(crate) unsafe fn root_avx512popcnt<J: Job>(job: J) -> J::Out {
        job.run()
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    pub(crate) unsafe fn root_avx2f16c<J: Job>(job: J) -> J::Out {
        job.run()
    }

    /// 16 stored halves at lane `i` as floats.
    #[inline(always)]
    unsafe fn load16_f16(b: *const f32, i: usize) -> __m512 {
        // SAFETY: AVX-512F context; 32 readable bytes at the lane.
        unsafe {
            _mm512_cvtph_ps(_mm256_loadu_si256(
                (b as *const u16).add(i) as *const __m256i
            ))
        }
    }

    /// 16 stored bytes at lane `i` as floats.
    #[inline(always)]
    unsafe fn load16_u8(b: *const f32, i: usize) -> __m512 {
        // SAFETY: AVX-512F context; 16 readable bytes at the lane.
        unsafe {
            _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(
                (b as *const u8).add(i) as *const __m128i,
            )))
        }
    }

    /// 8 stored halves at lane `i` as floats.
    #[inline(always)]
    unsafe fn load8_f16(b: *const f32, i: usize) -> __m256 {
        // SAFETY: F16C context; 16 readable bytes at the lane.
        unsafe { _mm256_cvtph_ps(_mm_loadu_si128((b as *const u16).add(i) as *const __m128i)) }
    }

    /// 8 stored bytes at lane `i` as floats.
    #[inline(always)]
    unsafe fn load8_u8(b: *const f32, i: usize) -> __m256 {
        // SAFETY: AVX2 context; 8 readable bytes at the lane.
        unsafe {
            _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(
                (b as *const u8).add(i) as *const __m128i,
            )))
        }
    }

    /// A metric over stored float16 or uint8 vectors: the query's f32 lanes against the
    /// stored values converted by `$load`, 16 (AVX-512) or 8 (AVX2) lanes at a time, with the
    /// f32 metric's arithmetic; the result through `$sign` (`negated` for the dot product).
    macro_rules! typed_metric {
        (avx512, $name:ident, $load:ident, $sign:path, |$acc:ident, $x:ident, $y:ident| $step:expr) => {
            #[derive(Clone, Copy, Debug)]
            pub(crate) struct $name;
            impl Metric for $name {
                const ISA: Isa = Isa::Avx512;
                const STORED_F32: bool = false;
                #[inline(always)]
                unsafe fn dist(a: *const f32, b: *const f32, words: usize) -> f32 {
                    // SAFETY: the caller guarantees `words` aligned query floats, the stored
                    // region behind `b` and AVX-512F.
                    unsafe {
                        #[inline(always)]
                        unsafe fn step($acc: __m512, $x: __m512, $y: __m512) -> __m512 {
                            // SAFETY: only reached from the AVX-512 root.
                            unsafe { $step }
                        }
                        let mut s0 = _mm512_setzero_ps();
                        let mut s1 = _mm512_setzero_ps();
                        let mut i = 0;
                        while i + 32 <= words {
                            s0 = step(s0, _mm512_load_ps(a.add(i)), $load(b, i));
                            s1 = step(s1, _mm512_load_ps(a.add(i + 16)), $load(b, i + 16));
                            i += 32;
                        }
                        while i < words {
                            s0 = step(s0, _mm512_load_ps(a.add(i)), $load(b, i));
                            i += 16;
                        }
                        $sign(_mm512_reduce_add_ps(_mm512_add_ps(s0, s1)))
                    }
                }
                #[inline(always)]
                unsafe fn decode(b: *const f32, words: usize, out: *mut f32) {
                    // SAFETY: as for `dist`; `out` holds `words` aligned floats.
                    unsafe {
                        let mut i = 0;
                        while i < words {
                            _mm512_store_ps(out.add(i), $load(b, i));
                            i += 16;
                        }
                    }
                }
            }
        };
        (avx2, $name:ident, $load:ident, $sign:path, |$acc:ident, $x:ident, $y:ident| $step:expr) => {
            #[derive(Clone, Copy, Debug)]
            pub(crate) struct $name;
            impl Metric for $name {
                const ISA: Isa = Isa::Avx2F16c;
                const STORED_F32: bool = false;
                #[inline(always)]
                unsafe fn dist(a: *const f32, b: *const f32, words: usize) -> f32 {
                    // SAFETY: the caller guarantees `words` aligned query floats, the stored
                    // region behind `b` and AVX2, FMA and F16C.
                    unsafe {
                        #[inline(always)]
                        unsafe fn step($acc: __m256, $x: __m256, $y: __m256) -> __m256 {
                            // SAFETY: only reached from the AVX2+F16C root.
                            unsafe { $step }
                        }
                        let mut s0 = _mm256_setzero_ps();
                        let mut s1 = _mm256_setzero_ps();
                        let mut i = 0;
                        while i < words {
                            s0 = step(s0, _mm256_load_ps(a.add(i)), $load(b, i));
                            s1 = step(s1, _mm256_load_ps(a.add(i + 8)), $load(b, i + 8));
                            i += 16;
                        }
                        $sign(hsum256(_mm256_add_ps(s0, s1)))
                    }
                }
                #[inline(always)]
                unsafe fn decode(b: *const f32, words: usize, out: *mut f32) {
                    // SAFETY: as for `dist`; `out` holds `words` aligned floats.
                    unsafe {
                        let mut i = 0;
                        while i < words {
                            _mm256_store_ps(out.add(i), $load(b, i));
                            i += 8;
                        }
                    }
                }
            }
        };
    }

    /// The three metrics (L2, negated dot, L1) over one stored type, AVX-512.
    macro_rules! avx512_family {
        ($l2:ident, $ip:ident, $l1:ident, $load:ident) => {
            typed_metric!(avx512, $l2, $load, as_is, |acc, x, y| {
                let d = _mm512_sub_ps(x, y);
                _mm512_fmadd_ps(d, d, acc)
            });
            typed_metric!(avx512, $ip, $load, negated, |acc, x, y| {
                _mm512_fmadd_ps(x, y, acc)
            });
            typed_metric!(avx512, $l1, $load, as_is, |acc, x, y| {
                let d = _mm512_castps_si512(_mm512_sub_ps(x, y));
                let abs = _mm512_andnot_si512(_mm512_set1_epi32(i32::MIN), d);
                _mm512_add_ps(acc, _mm512_castsi512_ps(abs))
            });
        };
    }

    /// The three metrics over one stored type, AVX2 with F16C.
    macro_rules! avx2_family {
        ($l2:ident, $ip:ident, $l1:ident, $load:ident) => {
            typed_metric!(avx2, $l2, $load, as_is, |acc, x, y| {
                let d = _mm256_sub_ps(x, y);
                _mm256_fmadd_ps(d, d, acc)
            });
            typed_metric!(avx2, $ip, $load, negated, |acc, x, y| {
                _mm256_fmadd_ps(x, y, acc)
            });
            typed_metric!(avx2, $l1, $load, as_is, |acc, x, y| {
                let d = _mm256_sub_ps(x, y);
                _mm256_add_ps(acc, _mm256_andnot_ps(_mm256_set1_ps(-0.0), d))
            });
        };
    }

    avx512_family!(L2F16Avx512, IpF16Avx512, L1F16Avx512, load16_f16);
    avx512_family!(L2U8Avx512, IpU8Avx512, L1U8Avx512, load16_u8);
    avx2_family!(L2F16Avx2, IpF16Avx2, L1F16Avx2, load8_f16);
    avx2_family!(L2U8Avx2, IpU8Avx2, L1U8Avx2, load8_u8);

    macro_rules! avx512_metric {
        ($name:ident, |$acc:ident, $x:ident, $y:ident| $step:expr) => {
            #[derive(Clone, Copy, Debug)]
            pub(crate) struct $name;
            impl Metric for $name {
                const ISA: Isa = Isa::Avx512;
                #[inline(always)]
                unsafe fn dist(a: *const f32, b: *const f32, words: usize) -> f32 {
                    // SAFETY: the caller guarantees `words` (a multiple of 16) aligned floats
                    // behind both pointers and AVX-512F.
                    unsafe {
                        #[inline(always)]
                        unsafe fn step($acc: __m512, $x: __m512, $y: __m512) -> __m512 {
                            // SAFETY: only reached from the AVX-512 root.
                            unsafe { $step }
                        }
                        let mut s0 = _mm512_setzero_ps();
                        let mut s1 = _mm512_setzero_ps();
                        let mut s2 = _mm512_setzero_ps();
                        let mut s3 = _mm512_setzero_ps();
                        let mut i = 0;
                        while i + 64 <= words {
                            s0 = step(s0, _mm512_load_ps(a.add(i)), _mm512_load_ps(b.add(i)));
                            s1 = step(
                                s1,
                                _mm512_load_ps(a.add(i + 16)),
                                _mm512_load_ps(b.add(i + 16)),
                            );
                            s2 = step(
                                s2,
                                _mm512_load_ps(a.add(i + 32)),
                                _mm512_load_ps(b.add(i + 32)),
                            );
                            s3 = step(
                                s3,
                                _mm512_load_ps(a.add(i + 48)),
                                _mm512_load_ps(b.add(i + 48)),
                            );
                            i += 64;
                        }
                        while i < words {
                            s0 = step(s0, _mm512_load_ps(a.add(i)), _mm512_load_ps(b.add(i)));
                            i += 16;
                        }
                        let s = _mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3));
                        _mm512_reduce_add_ps(s)
                    }
                }
            }
        };
    }

    avx512_metric!(L2Avx512, |acc, x, y| {
        let d = _mm512_sub_ps(x, y);
        _mm512_fmadd_ps(d, d, acc)
    });
    avx512_metric!(L1Avx512, |acc, x, y| {
        let d = _mm512_castps_si512(_mm512_sub_ps(x, y));
        let abs = _mm512_andnot_si512(_mm512_set1_epi32(i32::MIN), d);
        _mm512_add_ps(acc, _mm512_castsi512_ps(abs))
    });

    /// Negated dot product (lower is better).
    #[derive(Clone, Copy, Debug)]
    pub(crate) struct IpAvx512;
    impl Metric for IpAvx512 {
        const ISA: Isa = Isa::Avx512;
        #[inline(always)]
        unsafe fn dist(a: *const f32, b: *const f32, words: usize) -> f32 {
            // SAFETY: forwarded contract.
            -unsafe { DotAvx512::dist(a, b, words) }
        }
    }
    avx512_metric!(DotAvx512, |acc, x, y| _mm512_fmadd_ps(x, y, acc));

    /// Sum of the 8 lanes.
    #[inline(always)]
    unsafe fn hsum256(v: __m256) -> f32 {
        // SAFETY: AVX is implied by the callers' AVX2 context.
        unsafe {
            let lo = _mm256_castps256_ps128(v);
            let hi = _mm256_extractf128_ps::<1>(v);
            let s = _mm_add_ps(lo, hi);
            let odd = _mm_movehdup_ps(s);
            let s = _mm_add_ps(s, odd);
            let high = _mm_movehl_ps(odd, s);
            _mm_cvtss_f32(_mm_add_ss(s, high))
        }
    }

    macro_rules! avx2_metric {
        ($name:ident, |$acc:ident, $x:ident, $y:ident| $step:expr) => {
            #[derive(Clone, Copy, Debug)]
            pub(crate) struct $name;
            impl Metric for $name {
                const ISA: Isa = Isa::Avx2;
                #[inline(always)]
                unsafe fn dist(a: *const f32, b: *const f32, words: usize) -> f32 {
                    // SAFETY: the caller guarantees `words` (a multiple of 16) aligned floats
                    // behind both pointers and AVX2+FMA.
                    unsafe {
                        #[inline(always)]
                        unsafe fn step($acc: __m256, $x: __m256, $y: __m256) -> __m256 {
                            // SAFETY: only reached from the AVX2 root.
                            unsafe { $step }
                        }
                        let mut s0 = _mm256_setzero_ps();
                        let mut s1 = _mm256_setzero_ps();
                        let mut s2 = _mm256_setzero_ps();
                        let mut s3 = _mm256_setzero_ps();
                        let mut i = 0;
                        while i + 32 <= words {
                            s0 = step(s0, _mm256_load_ps(a.add(i)), _mm256_load_ps(b.add(i)));
                            s1 = step(
                                s1,
                                _mm256_load_ps(a.add(i + 8)),
                                _mm256_load_ps(b.add(i + 8)),
                            );
                            s2 = step(
                                s2,
                                _mm256_load_ps(a.add(i + 16)),
                                _mm256_load_ps(b.add(i + 16)),
                            );
                            s3 = step(
                                s3,
                                _mm256_load_ps(a.add(i + 24)),
                                _mm256_load_ps(b.add(i + 24)),
                            );
                            i += 32;
                        }
                        while i < words {
                            s0 = step(s0, _mm256_load_ps(a.add(i)), _mm256_load_ps(b.add(i)));
                            s1 = step(
                                s1,
                                _mm256_load_ps(a.add(i + 8)),
                                _mm256_load_ps(b.add(i + 8)),
                            );
                            i += 16;
                        }
                        hsum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)))
                    }
                }
            }
        };
    }

    avx2_metric!(L2Avx2, |acc, x, y| {
        let d = _mm256_sub_ps(x, y);
        _mm256_fmadd_ps(d, d, acc)
    });
    avx2_metric!(L1Avx2, |acc, x, y| {
        let d = _mm256_sub_ps(x, y);
        _mm256_add_ps(acc, _mm256_andnot_ps(_mm256_set1_ps(-0.0), d))
    });
    avx2_metric!(DotAvx2, |acc, x, y| _mm256_fmadd_ps(x, y, acc));

    /// Negated dot product (lower is better).
    #[derive(Clone, Copy, Debug)]
    pub(crate) struct IpAvx2;
    impl Metric for IpAvx2 {
        const ISA: Isa = Isa::Avx2;
        #[inline(always)]
        unsafe fn dist(a: *const f32, b: *const f32, words: usize) -> f32 {
            // SAFETY: forwarded contract.
            -unsafe { DotAvx2::dist(a, b, words) }
        }
    }
}

/// Kernels through the vector crate's dispatch (NEON on aarch64, scalar otherwise).
pub(crate) mod portable {
    use super::super::graph::{decode_row, Element};
    use super::{as_is, negated, Isa, Metric};

    /// A metric over stored float16 or uint8 vectors: each block of 16 stored values
    /// converted, then the f32 kernel over it; the sum through `$sign`.
    macro_rules! typed_metric {
        ($name:ident, $elem:expr, $sign:path, $f:path) => {
            #[derive(Clone, Copy, Debug)]
            pub(crate) struct $name;
            impl Metric for $name {
                const ISA: Isa = Isa::Portable;
                const STORED_F32: bool = false;
                #[inline(always)]
                unsafe fn dist(a: *const f32, b: *const f32, words: usize) -> f32 {
                    let mut buf = [0f32; 64];
                    let mut acc = 0.0;
                    let mut i = 0;
                    while i < words {
                        let n = (words - i).min(64);
                        // SAFETY: forwarded contract: `words` query floats, and the region's
                        // `words` stored values (`n` of them from lane `i`).
                        unsafe {
                            let region = std::slice::from_raw_parts(
                                (b as *const u8).add(i * $elem.width()) as *const u32,
                                n * $elem.width() / 4,
                            );
                            decode_row($elem, region, &mut buf[..n]);
                            acc += $f(slice(a.add(i), n), &buf[..n]);
                        }
                        i += n;
                    }
                    $sign(acc)
                }
                #[inline(always)]
                unsafe fn decode(b: *const f32, words: usize, out: *mut f32) {
                    // SAFETY: forwarded contract.
                    unsafe {
                        let region =
                            std::slice::from_raw_parts(b as *const u32, words * $elem.width() / 4);
                        decode_row($elem, region, std::slice::from_raw_parts_mut(out, words));
                    }
                }
            }
        };
    }

    typed_metric!(L2F16Portable, Element::F16, as_is, rvdb_vector::l2_squared);
    typed_metric!(IpF16Portable, Element::F16, negated, rvdb_vector::dot);
    typed_metric!(L1F16Portable, Element::F16, as_is, rvdb_vector::l1);
    typed_metric!(L2U8Portable, Element::U8, as_is, rvdb_vector::l2_squared);
    typed_metric!(IpU8Portable, Element::U8, negated, rvdb_vector::dot);
    typed_metric!(L1U8Portable, Element::U8, as_is, rvdb_vector::l1);

    /// # Safety
    /// `p` points to `words` readable floats.
    #[inline(always)]
    unsafe fn slice<'a>(p: *const f32, words: usize) -> &'a [f32] {
        // SAFETY: forwarded contract.
        unsafe { std::slice::from_raw_parts(p, words) }
    }

    #[derive(Clone, Copy, Debug)]
    pub(crate) struct L2;
    impl Metric for L2 {
        const ISA: Isa = Isa::Portable;
        #[inline(always)]
        unsafe fn dist(a: *const f32, b: *const f32, words: usize) -> f32 {
            // SAFETY: forwarded contract.
            unsafe { rvdb_vector::l2_squared(slice(a, words), slice(b, words)) }
        }
    }

    #[derive(Clone, Copy, Debug)]
    pub(crate) struct Ip;
    impl Metric for Ip {
        const ISA: Isa = Isa::Portable;
        #[inline(always)]
        unsafe fn dist(a: *const f32, b: *const f32, words: usize) -> f32 {
            // SAFETY: forwarded contract.
            -unsafe { rvdb_vector::dot(slice(a, words), slice(b, words)) }
        }
    }

    #[derive(Clone, Copy, Debug)]
    pub(crate) struct L1;
    impl Metric for L1 {
        const ISA: Isa = Isa::Portable;
        #[inline(always)]
        unsafe fn dist(a: *const f32, b: *const f32, words: usize) -> f32 {
            // SAFETY: forwarded contract.
            unsafe { rvdb_vector::l1(slice(a, words), slice(b, words)) }
        }
    }
}
