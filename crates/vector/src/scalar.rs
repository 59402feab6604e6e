//! Plain reference implementations: one `f32` accumulator, one element at a
//! time, in index order. Simple and obviously correct; they are the fallback
//! kernel set on CPUs without a SIMD set and the reference in tests.
//!
//! Like every kernel here they expect `a.len() == b.len()`
//! (`debug_assert!`); in release builds they use the common prefix.

/// Dot product `Σ a[i]·b[i]`.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len(), "dot: length mismatch");
    let mut sum = 0.0f32;
    for (x, y) in a.iter().zip(b) {
        sum += x * y;
    }
    sum
}

/// Squared Euclidean distance `Σ (a[i]-b[i])²`.
pub fn l2_squared(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len(), "l2_squared: length mismatch");
    let mut sum = 0.0f32;
    for (x, y) in a.iter().zip(b) {
        let d = x - y;
        sum += d * d;
    }
    sum
}

/// Manhattan distance `Σ |a[i]-b[i]|`.
pub fn l1(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len(), "l1: length mismatch");
    let mut sum = 0.0f32;
    for (x, y) in a.iter().zip(b) {
        sum += (x - y).abs();
    }
    sum
}

/// Applies `kernel(query, row)` to each `query.len()`-sized row of
/// `vectors` (the scalar set's batch entry points).
fn batch(kernel: fn(&[f32], &[f32]) -> f32, query: &[f32], vectors: &[f32], out: &mut [f32]) {
    let dim = query.len();
    if dim == 0 {
        out.fill(0.0);
        return;
    }
    for (row, o) in vectors.chunks_exact(dim).zip(out.iter_mut()) {
        *o = kernel(query, row);
    }
}

pub(crate) fn dot_batch(query: &[f32], vectors: &[f32], out: &mut [f32]) {
    batch(dot, query, vectors, out);
}

pub(crate) fn l2_squared_batch(query: &[f32], vectors: &[f32], out: &mut [f32]) {
    batch(l2_squared, query, vectors, out);
}

pub(crate) fn l1_batch(query: &[f32], vectors: &[f32], out: &mut [f32]) {
    batch(l1, query, vectors, out);
}

/// The scalar kernel set (always available).
pub(crate) fn kernel_set() -> crate::dispatch::KernelSet {
    crate::dispatch::KernelSet {
        name: "scalar",
        dot,
        l2_squared,
        l1,
        dot_batch,
        l2_squared_batch,
        l1_batch,
    }
}
