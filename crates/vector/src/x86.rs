//! x86_64 kernels: AVX-512F and AVX2+FMA.
//!
//! Each kernel is an `unsafe fn` with `#[target_feature]`; calling it is
//! sound only on a CPU with those features. The only way out of this module
//! is through [`avx512_set`] and [`avx2_set`], which check the CPU first and
//! hand out safe wrappers.
//!
//! Structure of every kernel: four independent vector accumulators (so
//! consecutive FMAs do not wait on each other's latency), a loop of one
//! vector for what is left, then a horizontal reduction; AVX2 finishes the
//! last `len % 8` elements with a scalar loop, AVX-512 with one masked load.
//! `l1` takes the absolute value by clearing the sign bit (and-not with a
//! `-0.0` / `0x8000_0000` mask).

use std::arch::x86_64::*;

use crate::dispatch::KernelSet;

// ---------------------------------------------------------------- AVX2 + FMA

/// Sum of the 8 lanes.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn hsum256(v: __m256) -> f32 {
    let lo = _mm256_castps256_ps128(v);
    let hi = _mm256_extractf128_ps::<1>(v);
    let s = _mm_add_ps(lo, hi); // (s0, s1, s2, s3)
    let odd = _mm_movehdup_ps(s); // (s1, s1, s3, s3)
    let s = _mm_add_ps(s, odd); // (s0+s1, _, s2+s3, _)
    let high = _mm_movehl_ps(odd, s); // (s2+s3, ...)
    _mm_cvtss_f32(_mm_add_ss(s, high))
}

#[inline]
#[target_feature(enable = "avx2,fma")]
fn dot_step256(acc: __m256, x: __m256, y: __m256) -> __m256 {
    _mm256_fmadd_ps(x, y, acc)
}

#[inline]
#[target_feature(enable = "avx2,fma")]
fn l2_step256(acc: __m256, x: __m256, y: __m256) -> __m256 {
    let d = _mm256_sub_ps(x, y);
    _mm256_fmadd_ps(d, d, acc)
}

#[inline]
#[target_feature(enable = "avx2,fma")]
fn l1_step256(acc: __m256, x: __m256, y: __m256) -> __m256 {
    let d = _mm256_sub_ps(x, y);
    // |d|: clear the sign bit. andnot(m, d) = !m & d, m = -0.0 = sign bit only.
    _mm256_add_ps(acc, _mm256_andnot_ps(_mm256_set1_ps(-0.0), d))
}

#[inline]
fn dot_tail(x: f32, y: f32) -> f32 {
    x * y
}

#[inline]
fn l2_tail(x: f32, y: f32) -> f32 {
    let d = x - y;
    d * d
}

#[inline]
fn l1_tail(x: f32, y: f32) -> f32 {
    (x - y).abs()
}

macro_rules! avx2_kernel {
    ($name:ident, $step:ident, $tail:ident) => {
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn $name(a: &[f32], b: &[f32]) -> f32 {
            const W: usize = 8;
            let n = a.len().min(b.len());
            let (pa, pb) = (a.as_ptr(), b.as_ptr());
            let mut s0 = _mm256_setzero_ps();
            let mut s1 = _mm256_setzero_ps();
            let mut s2 = _mm256_setzero_ps();
            let mut s3 = _mm256_setzero_ps();
            let mut i = 0;
            while i + 4 * W <= n {
                // SAFETY: i + 4*W <= n, so all 32 floats read from each
                // pointer lie inside both slices; loadu needs no alignment.
                unsafe {
                    s0 = $step(s0, _mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)));
                    s1 = $step(
                        s1,
                        _mm256_loadu_ps(pa.add(i + W)),
                        _mm256_loadu_ps(pb.add(i + W)),
                    );
                    s2 = $step(
                        s2,
                        _mm256_loadu_ps(pa.add(i + 2 * W)),
                        _mm256_loadu_ps(pb.add(i + 2 * W)),
                    );
                    s3 = $step(
                        s3,
                        _mm256_loadu_ps(pa.add(i + 3 * W)),
                        _mm256_loadu_ps(pb.add(i + 3 * W)),
                    );
                }
                i += 4 * W;
            }
            while i + W <= n {
                // SAFETY: i + W <= n, inside both slices.
                unsafe {
                    s0 = $step(s0, _mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)));
                }
                i += W;
            }
            let acc = _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3));
            let mut sum = hsum256(acc);
            for (x, y) in a[i..n].iter().zip(&b[i..n]) {
                sum += $tail(*x, *y);
            }
            sum
        }
    };
}

avx2_kernel!(dot_avx2, dot_step256, dot_tail);
avx2_kernel!(l2_squared_avx2, l2_step256, l2_tail);
avx2_kernel!(l1_avx2, l1_step256, l1_tail);

batch_kernel!(#[target_feature(enable = "avx2,fma")] dot_batch_avx2 => dot_avx2);
batch_kernel!(#[target_feature(enable = "avx2,fma")] l2_squared_batch_avx2 => l2_squared_avx2);
batch_kernel!(#[target_feature(enable = "avx2,fma")] l1_batch_avx2 => l1_avx2);

// ------------------------------------------------------------------ AVX-512F

#[inline]
#[target_feature(enable = "avx512f")]
fn dot_step512(acc: __m512, x: __m512, y: __m512) -> __m512 {
    _mm512_fmadd_ps(x, y, acc)
}

#[inline]
#[target_feature(enable = "avx512f")]
fn l2_step512(acc: __m512, x: __m512, y: __m512) -> __m512 {
    let d = _mm512_sub_ps(x, y);
    _mm512_fmadd_ps(d, d, acc)
}

#[inline]
#[target_feature(enable = "avx512f")]
fn l1_step512(acc: __m512, x: __m512, y: __m512) -> __m512 {
    let d = _mm512_castps_si512(_mm512_sub_ps(x, y));
    // |d|: clear the sign bit (AVX-512F has no float and-not; the integer
    // one is the same bitwise operation).
    let sign = _mm512_set1_epi32(i32::MIN);
    _mm512_add_ps(acc, _mm512_castsi512_ps(_mm512_andnot_si512(sign, d)))
}

macro_rules! avx512_kernel {
    ($name:ident, $step:ident) => {
        #[inline]
        #[target_feature(enable = "avx512f")]
        unsafe fn $name(a: &[f32], b: &[f32]) -> f32 {
            const W: usize = 16;
            let n = a.len().min(b.len());
            let (pa, pb) = (a.as_ptr(), b.as_ptr());
            let mut s0 = _mm512_setzero_ps();
            let mut s1 = _mm512_setzero_ps();
            let mut s2 = _mm512_setzero_ps();
            let mut s3 = _mm512_setzero_ps();
            let mut i = 0;
            while i + 4 * W <= n {
                // SAFETY: i + 4*W <= n, so all 64 floats read from each
                // pointer lie inside both slices; loadu needs no alignment.
                unsafe {
                    s0 = $step(s0, _mm512_loadu_ps(pa.add(i)), _mm512_loadu_ps(pb.add(i)));
                    s1 = $step(
                        s1,
                        _mm512_loadu_ps(pa.add(i + W)),
                        _mm512_loadu_ps(pb.add(i + W)),
                    );
                    s2 = $step(
                        s2,
                        _mm512_loadu_ps(pa.add(i + 2 * W)),
                        _mm512_loadu_ps(pb.add(i + 2 * W)),
                    );
                    s3 = $step(
                        s3,
                        _mm512_loadu_ps(pa.add(i + 3 * W)),
                        _mm512_loadu_ps(pb.add(i + 3 * W)),
                    );
                }
                i += 4 * W;
            }
            while i + W <= n {
                // SAFETY: i + W <= n, inside both slices.
                unsafe {
                    s0 = $step(s0, _mm512_loadu_ps(pa.add(i)), _mm512_loadu_ps(pb.add(i)));
                }
                i += W;
            }
            let rem = n - i;
            if rem > 0 {
                // Lanes 0..rem are loaded, the rest are zero. Zero lanes add
                // nothing for any of the three kernels (0·0, (0-0)², |0-0|).
                let mask: __mmask16 = ((1u32 << rem) - 1) as __mmask16;
                // SAFETY: lanes i..i+rem = i..n are inside both slices; a
                // masked load does not touch (or fault on) masked-off lanes.
                unsafe {
                    s1 = $step(
                        s1,
                        _mm512_maskz_loadu_ps(mask, pa.add(i)),
                        _mm512_maskz_loadu_ps(mask, pb.add(i)),
                    );
                }
            }
            let acc = _mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3));
            _mm512_reduce_add_ps(acc)
        }
    };
}

avx512_kernel!(dot_avx512, dot_step512);
avx512_kernel!(l2_squared_avx512, l2_step512);
avx512_kernel!(l1_avx512, l1_step512);

batch_kernel!(#[target_feature(enable = "avx512f")] dot_batch_avx512 => dot_avx512);
batch_kernel!(#[target_feature(enable = "avx512f")] l2_squared_batch_avx512 => l2_squared_avx512);
batch_kernel!(#[target_feature(enable = "avx512f")] l1_batch_avx512 => l1_avx512);

// ------------------------------------------------------------- safe entries

/// Safe wrappers around the `unsafe` kernels. They are private and only
/// reachable through a `KernelSet` built after a successful feature check.
macro_rules! safe_entries {
    ($($entry:ident => $kernel:ident ($($arg:ident: $ty:ty),*) $(-> $ret:ty)?;)*) => {
        $(
            fn $entry($($arg: $ty),*) $(-> $ret)? {
                // SAFETY: see the macro's comment: the CPU features of
                // `$kernel` were detected before this fn pointer was handed out.
                unsafe { $kernel($($arg),*) }
            }
        )*
    };
}

safe_entries! {
    dot_avx2_entry => dot_avx2(a: &[f32], b: &[f32]) -> f32;
    l2_squared_avx2_entry => l2_squared_avx2(a: &[f32], b: &[f32]) -> f32;
    l1_avx2_entry => l1_avx2(a: &[f32], b: &[f32]) -> f32;
    dot_batch_avx2_entry => dot_batch_avx2(q: &[f32], v: &[f32], out: &mut [f32]);
    l2_squared_batch_avx2_entry => l2_squared_batch_avx2(q: &[f32], v: &[f32], out: &mut [f32]);
    l1_batch_avx2_entry => l1_batch_avx2(q: &[f32], v: &[f32], out: &mut [f32]);
    dot_avx512_entry => dot_avx512(a: &[f32], b: &[f32]) -> f32;
    l2_squared_avx512_entry => l2_squared_avx512(a: &[f32], b: &[f32]) -> f32;
    l1_avx512_entry => l1_avx512(a: &[f32], b: &[f32]) -> f32;
    dot_batch_avx512_entry => dot_batch_avx512(q: &[f32], v: &[f32], out: &mut [f32]);
    l2_squared_batch_avx512_entry => l2_squared_batch_avx512(q: &[f32], v: &[f32], out: &mut [f32]);
    l1_batch_avx512_entry => l1_batch_avx512(q: &[f32], v: &[f32], out: &mut [f32]);
}

/// The AVX2+FMA kernel set, if this CPU has AVX2 and FMA.
pub(crate) fn avx2_set() -> Option<KernelSet> {
    if !(is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")) {
        return None;
    }
    Some(KernelSet {
        name: "avx2+fma",
        dot: dot_avx2_entry,
        l2_squared: l2_squared_avx2_entry,
        l1: l1_avx2_entry,
        dot_batch: dot_batch_avx2_entry,
        l2_squared_batch: l2_squared_batch_avx2_entry,
        l1_batch: l1_batch_avx2_entry,
    })
}

/// The AVX-512 kernel set, if this CPU has AVX-512F.
pub(crate) fn avx512_set() -> Option<KernelSet> {
    if !is_x86_feature_detected!("avx512f") {
        return None;
    }
    Some(KernelSet {
        name: "avx512",
        dot: dot_avx512_entry,
        l2_squared: l2_squared_avx512_entry,
        l1: l1_avx512_entry,
        dot_batch: dot_batch_avx512_entry,
        l2_squared_batch: l2_squared_batch_avx512_entry,
        l1_batch: l1_batch_avx512_entry,
    })
}
