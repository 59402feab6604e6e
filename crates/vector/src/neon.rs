//! aarch64 NEON kernels.
//!
//! Same structure as the x86 kernels: four independent `float32x4_t`
//! accumulators (16 floats per iteration, so consecutive FMAs do not wait
//! on each other), a one-vector loop, a horizontal add (`vaddvq_f32`) and a
//! scalar tail for the last `len % 4` elements. The kernels are
//! `#[target_feature(enable = "neon")] unsafe fn`s and only leave this
//! module through [`neon_set`], which checks the CPU first.

use std::arch::aarch64::*;

use crate::dispatch::KernelSet;

#[inline]
#[target_feature(enable = "neon")]
fn dot_step(acc: float32x4_t, x: float32x4_t, y: float32x4_t) -> float32x4_t {
    // acc + x*y, fused.
    vfmaq_f32(acc, x, y)
}

#[inline]
#[target_feature(enable = "neon")]
fn l2_step(acc: float32x4_t, x: float32x4_t, y: float32x4_t) -> float32x4_t {
    let d = vsubq_f32(x, y);
    vfmaq_f32(acc, d, d)
}

#[inline]
#[target_feature(enable = "neon")]
fn l1_step(acc: float32x4_t, x: float32x4_t, y: float32x4_t) -> float32x4_t {
    // |x - y| in one instruction.
    vaddq_f32(acc, vabdq_f32(x, y))
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

macro_rules! neon_kernel {
    ($name:ident, $step:ident, $tail:ident) => {
        #[inline]
        #[target_feature(enable = "neon")]
        unsafe fn $name(a: &[f32], b: &[f32]) -> f32 {
            const W: usize = 4;
            let n = a.len().min(b.len());
            let (pa, pb) = (a.as_ptr(), b.as_ptr());
            let mut s0 = vdupq_n_f32(0.0);
            let mut s1 = vdupq_n_f32(0.0);
            let mut s2 = vdupq_n_f32(0.0);
            let mut s3 = vdupq_n_f32(0.0);
            let mut i = 0;
            while i + 4 * W <= n {
                // SAFETY: i + 4*W <= n, so all 16 floats read from each
                // pointer lie inside both slices; vld1q needs no alignment
                // beyond that of f32.
                unsafe {
                    s0 = $step(s0, vld1q_f32(pa.add(i)), vld1q_f32(pb.add(i)));
                    s1 = $step(s1, vld1q_f32(pa.add(i + W)), vld1q_f32(pb.add(i + W)));
                    s2 = $step(
                        s2,
                        vld1q_f32(pa.add(i + 2 * W)),
                        vld1q_f32(pb.add(i + 2 * W)),
                    );
                    s3 = $step(
                        s3,
                        vld1q_f32(pa.add(i + 3 * W)),
                        vld1q_f32(pb.add(i + 3 * W)),
                    );
                }
                i += 4 * W;
            }
            while i + W <= n {
                // SAFETY: i + W <= n, inside both slices.
                unsafe {
                    s0 = $step(s0, vld1q_f32(pa.add(i)), vld1q_f32(pb.add(i)));
                }
                i += W;
            }
            let acc = vaddq_f32(vaddq_f32(s0, s1), vaddq_f32(s2, s3));
            let mut sum = vaddvq_f32(acc);
            for (x, y) in a[i..n].iter().zip(&b[i..n]) {
                sum += $tail(*x, *y);
            }
            sum
        }
    };
}

neon_kernel!(dot_neon, dot_step, dot_tail);
neon_kernel!(l2_squared_neon, l2_step, l2_tail);
neon_kernel!(l1_neon, l1_step, l1_tail);

batch_kernel!(#[target_feature(enable = "neon")] dot_batch_neon => dot_neon);
batch_kernel!(#[target_feature(enable = "neon")] l2_squared_batch_neon => l2_squared_neon);
batch_kernel!(#[target_feature(enable = "neon")] l1_batch_neon => l1_neon);

// SAFETY (all six wrappers): they are private and only reachable through
// the `KernelSet` returned by `neon_set`, which checks for NEON first.
fn dot_entry(a: &[f32], b: &[f32]) -> f32 {
    // SAFETY: see above.
    unsafe { dot_neon(a, b) }
}

fn l2_squared_entry(a: &[f32], b: &[f32]) -> f32 {
    // SAFETY: see above.
    unsafe { l2_squared_neon(a, b) }
}

fn l1_entry(a: &[f32], b: &[f32]) -> f32 {
    // SAFETY: see above.
    unsafe { l1_neon(a, b) }
}

fn dot_batch_entry(q: &[f32], v: &[f32], out: &mut [f32]) {
    // SAFETY: see above.
    unsafe { dot_batch_neon(q, v, out) }
}

fn l2_squared_batch_entry(q: &[f32], v: &[f32], out: &mut [f32]) {
    // SAFETY: see above.
    unsafe { l2_squared_batch_neon(q, v, out) }
}

fn l1_batch_entry(q: &[f32], v: &[f32], out: &mut [f32]) {
    // SAFETY: see above.
    unsafe { l1_batch_neon(q, v, out) }
}

/// The NEON kernel set, if this CPU has NEON (every aarch64 Linux CPU does).
pub(crate) fn neon_set() -> Option<KernelSet> {
    if !std::arch::is_aarch64_feature_detected!("neon") {
        return None;
    }
    Some(KernelSet {
        name: "neon",
        dot: dot_entry,
        l2_squared: l2_squared_entry,
        l1: l1_entry,
        dot_batch: dot_batch_entry,
        l2_squared_batch: l2_squared_batch_entry,
        l1_batch: l1_batch_entry,
    })
}
