//! Distance kernels for rustvecdb, with the SIMD instruction set chosen at
//! run time.
//!
//! # Dispatch
//!
//! Three primitive kernels exist — [`dot`], [`l2_squared`] (squared
//! Euclidean distance) and [`l1`] (Manhattan distance) — in several *kernel
//! sets*:
//!
//! | name         | where                    | lanes × accumulators |
//! |--------------|--------------------------|----------------------|
//! | `"avx512"`   | x86_64 with AVX-512F     | 16 × 4               |
//! | `"avx2+fma"` | x86_64 with AVX2 and FMA | 8 × 4                |
//! | `"neon"`     | aarch64                  | 4 × 4                |
//! | `"scalar"`   | everywhere               | plain loop           |
//!
//! The SIMD kernels are `#[target_feature]` functions written with
//! `std::arch` intrinsics, so the crate itself is compiled for the baseline
//! CPU and runs anywhere. On first use the best set this CPU supports is
//! detected (`is_x86_feature_detected!` / `is_aarch64_feature_detected!`)
//! and cached in a `OnceLock` as a struct of plain function pointers; every
//! later call is one atomic load plus an indirect call. [`active_kernel`]
//! names the chosen set.
//!
//! The environment variable `RVDB_KERNEL` (`scalar`, `avx2`, `avx512`,
//! `neon`; ASCII case-insensitive) read at that first use may force a
//! *lower* set, for tests and benchmarks. A value naming a set this CPU
//! cannot run, or an unknown value, is ignored.
//!
//! The SIMD kernels sum in a different order than [`scalar`] (several
//! independent accumulators, then a horizontal reduction), so results
//! differ from the reference by a few ULPs of the magnitude of the summed
//! terms; they are not bit-identical across kernel sets.
//!
//! # Raw keys
//!
//! [`Distance`] separates the *internal ranking key* ("raw") from the
//! user-facing score. The raw key is always "higher is better" so that
//! search code can use one max-heap for every metric:
//!
//! | metric    | raw key (`Distance::raw`) | user score (`raw_to_score`) |
//! |-----------|---------------------------|-----------------------------|
//! | Cosine    | `dot(a, b)` of unit vectors | `raw`                     |
//! | Dot       | `dot(a, b)`               | `raw`                       |
//! | Euclid    | `-l2_squared(a, b)`       | `sqrt(max(-raw, 0))`        |
//! | Manhattan | `-l1(a, b)`               | `-raw`                      |
//!
//! Cosine works on vectors normalised once by [`Distance::prepare`] (stored
//! vectors at insert time, the query once per search), so its hot loop is a
//! plain dot product. Euclid ranks by squared distance and takes the square
//! root only for the few results returned. [`Distance::score_to_raw`] maps
//! a user score threshold into key space so filtering can compare keys.
//!
//! [`Distance::raw_batch`] scores one query against many contiguous
//! vectors with a single dispatch; it is the hot loop of exact search.
//!
//! # Lengths
//!
//! All kernels expect `a.len() == b.len()` (checked with `debug_assert!`).
//! In release builds a mismatch is not undefined behaviour: the kernels
//! read only the common prefix `min(a.len(), b.len())`.

/// Defines `unsafe fn $name(query, vectors, out)`, which writes
/// `$kernel(query, row)` for each `query.len()`-sized row of `vectors` into
/// `out` (`0.0` everywhere when the dimension is 0). Put the kernel's
/// `#[target_feature]` on it (passed as attributes) so the kernel is
/// inlined into the loop: one dispatch per batch, not per pair.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
macro_rules! batch_kernel {
    ($(#[$attr:meta])* $name:ident => $kernel:ident) => {
        $(#[$attr])*
        unsafe fn $name(query: &[f32], vectors: &[f32], out: &mut [f32]) {
            let dim = query.len();
            if dim == 0 {
                out.fill(0.0);
                return;
            }
            for (row, o) in vectors.chunks_exact(dim).zip(out.iter_mut()) {
                // SAFETY: this function has the same target features as
                // `$kernel`, and its callers have checked them.
                *o = unsafe { $kernel(query, row) };
            }
        }
    };
}

mod dispatch;
mod distance;
mod int8;
#[cfg(target_arch = "aarch64")]
mod neon;
pub mod scalar;
#[cfg(target_arch = "x86_64")]
mod x86;

pub use distance::Distance;
pub use int8::{available_int8, dot_u8i8, int8_kernels, l1_u8, Int8Kernels};

/// Kernel sets and their function pointers, for tests and benchmarks.
/// Not a stable API.
#[doc(hidden)]
pub mod kernels {
    pub use crate::dispatch::{active, available, by_name, select, BatchFn, KernelFn, KernelSet};
}

/// Dot product `Σ a[i]·b[i]`, with the kernel set chosen for this CPU.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len(), "dot: length mismatch");
    (dispatch::active().dot)(a, b)
}

/// Squared Euclidean distance `Σ (a[i]-b[i])²`, with the kernel set chosen
/// for this CPU.
#[inline]
pub fn l2_squared(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len(), "l2_squared: length mismatch");
    (dispatch::active().l2_squared)(a, b)
}

/// Manhattan distance `Σ |a[i]-b[i]|`, with the kernel set chosen for this
/// CPU.
#[inline]
pub fn l1(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len(), "l1: length mismatch");
    (dispatch::active().l1)(a, b)
}

/// Euclidean norm `sqrt(dot(a, a))`.
#[inline]
pub fn norm(a: &[f32]) -> f32 {
    dot(a, a).sqrt()
}

/// Name of the kernel set chosen on this CPU: `"avx512"`, `"avx2+fma"`,
/// `"neon"` or `"scalar"`.
pub fn active_kernel() -> &'static str {
    dispatch::active().name
}

/// Helpers shared by the unit tests.
#[cfg(test)]
pub(crate) mod test_util {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// Seeded test data, from `rand`'s `StdRng`.
    pub(crate) struct TestRng(StdRng);

    impl TestRng {
        pub(crate) fn new(seed: u64) -> Self {
            TestRng(StdRng::seed_from_u64(seed))
        }

        /// `n` values uniform in `[-scale, scale)`.
        pub(crate) fn vec(&mut self, n: usize, scale: f32) -> Vec<f32> {
            (0..n)
                .map(|_| self.0.random_range(-1.0f32..1.0) * scale)
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::kernels::{self, KernelSet};
    use super::test_util::TestRng;
    use super::*;

    /// Lengths 0..=70 cover every tail length of every lane width (4, 8,
    /// 16) and of the 4-accumulator main loops (16, 32, 64); the larger ones
    /// cover many main-loop iterations and typical embedding sizes.
    fn lengths() -> impl Iterator<Item = usize> {
        (0..=70).chain([127, 128, 129, 300, 1536])
    }

    /// Tolerance for comparing two f32 summations of the same terms in a
    /// different order. The SIMD kernels add in lane/accumulator order and
    /// use fused multiply-add, the scalar reference adds left to right with
    /// separate rounding; each rounding step errs by at most 2^-24 ≈ 6e-8
    /// relative to the partial sum, and every partial sum is bounded by the
    /// sum of the absolute values of the terms (`abs_sum`). Random rounding
    /// errors accumulate like a random walk (≈ sqrt(n)·6e-8 ≈ 2.4e-6 at
    /// n = 1536; measured: at most ≈ 3.5e-6 · abs_sum at n = 4096, nearly
    /// all of it the sequential reference's own error), so `1e-5 · abs_sum`
    /// leaves a safe margin while still catching real bugs (a lost or
    /// doubled element changes the result by far more). `+ 1e-6` absorbs
    /// the case abs_sum ≈ 0.
    fn tolerance(abs_sum: f64) -> f64 {
        1e-5 * abs_sum + 1e-6
    }

    fn abs_sums(a: &[f32], b: &[f32]) -> (f64, f64, f64) {
        let mut dot = 0.0f64;
        let mut l2 = 0.0f64;
        let mut l1 = 0.0f64;
        for (&x, &y) in a.iter().zip(b) {
            let (x, y) = (f64::from(x), f64::from(y));
            dot += (x * y).abs();
            l2 += (x - y) * (x - y);
            l1 += (x - y).abs();
        }
        (dot, l2, l1)
    }

    fn check(set: &KernelSet, what: &str, got: f32, want: f32, abs_sum: f64, n: usize) {
        let err = (f64::from(got) - f64::from(want)).abs();
        let tol = tolerance(abs_sum);
        assert!(
            err <= tol,
            "{} {what} len {n}: got {got}, scalar {want}, |err| {err:e} > tol {tol:e}",
            set.name
        );
    }

    #[test]
    fn scalar_set_is_always_last_and_names_are_known() {
        let sets = kernels::available();
        assert_eq!(sets.last().unwrap().name, "scalar");
        for s in sets {
            assert!(["avx512", "avx2+fma", "neon", "scalar"].contains(&s.name));
        }
        assert!(sets.iter().any(|s| s.name == active_kernel()));
        #[cfg(target_arch = "x86_64")]
        {
            let has = |n: &str| sets.iter().any(|s| s.name == n);
            assert_eq!(has("avx512"), is_x86_feature_detected!("avx512f"));
            assert_eq!(
                has("avx2+fma"),
                is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
            );
        }
        #[cfg(target_arch = "aarch64")]
        assert_eq!(sets[0].name, "neon");
        eprintln!(
            "kernel sets here: {:?}, active: {}",
            sets.iter().map(|s| s.name).collect::<Vec<_>>(),
            active_kernel()
        );
    }

    #[test]
    fn every_kernel_set_matches_scalar_reference() {
        let mut rng = TestRng::new(1);
        for set in kernels::available() {
            for n in lengths() {
                // Offset 1 makes the slices start off any 16/32/64-byte
                // boundary, so the unaligned loads are exercised too.
                for offset in [0, 1] {
                    for scale in [1.0f32, 1000.0] {
                        let a_buf = rng.vec(n + offset, scale);
                        let b_buf = rng.vec(n + offset, scale);
                        let (a, b) = (&a_buf[offset..], &b_buf[offset..]);
                        let (s_dot, s_l2, s_l1) = abs_sums(a, b);
                        check(set, "dot", (set.dot)(a, b), scalar::dot(a, b), s_dot, n);
                        check(
                            set,
                            "l2_squared",
                            (set.l2_squared)(a, b),
                            scalar::l2_squared(a, b),
                            s_l2,
                            n,
                        );
                        check(set, "l1", (set.l1)(a, b), scalar::l1(a, b), s_l1, n);
                    }
                }
            }
        }
    }

    #[test]
    fn scalar_reference_matches_f64_truth() {
        let mut rng = TestRng::new(2);
        for n in lengths() {
            let a = rng.vec(n, 1.0);
            let b = rng.vec(n, 1.0);
            let (s_dot, s_l2, s_l1) = abs_sums(&a, &b);
            let truth_dot: f64 = a
                .iter()
                .zip(&b)
                .map(|(&x, &y)| f64::from(x) * f64::from(y))
                .sum();
            for (got, want, abs_sum) in [
                (scalar::dot(&a, &b), truth_dot, s_dot),
                (scalar::l2_squared(&a, &b), s_l2, s_l2),
                (scalar::l1(&a, &b), s_l1, s_l1),
            ] {
                let err = (f64::from(got) - want).abs();
                assert!(err <= tolerance(abs_sum), "len {n}: {got} vs {want}");
            }
        }
    }

    #[test]
    fn known_values() {
        let a = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0];
        let b = [9.0f32, 8.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0];
        for set in kernels::available() {
            // Small integers: every partial sum is exact, in any order.
            assert_eq!((set.dot)(&a, &b), 165.0, "{}", set.name);
            assert_eq!((set.l2_squared)(&a, &b), 240.0, "{}", set.name);
            assert_eq!((set.l1)(&a, &b), 40.0, "{}", set.name);
            assert_eq!((set.dot)(&[], &[]), 0.0, "{}", set.name);
        }
        assert_eq!(norm(&[3.0, 4.0]), 5.0);
        assert_eq!(norm(&[]), 0.0);
    }

    #[test]
    fn dispatched_functions_use_the_active_set() {
        let mut rng = TestRng::new(3);
        let active = kernels::active();
        assert_eq!(active.name, active_kernel());
        for n in [0, 5, 33, 1536] {
            let a = rng.vec(n, 1.0);
            let b = rng.vec(n, 1.0);
            assert_eq!(dot(&a, &b).to_bits(), (active.dot)(&a, &b).to_bits());
            assert_eq!(
                l2_squared(&a, &b).to_bits(),
                (active.l2_squared)(&a, &b).to_bits()
            );
            assert_eq!(l1(&a, &b).to_bits(), (active.l1)(&a, &b).to_bits());
            assert_eq!(norm(&a).to_bits(), (active.dot)(&a, &a).sqrt().to_bits());
        }
    }

    #[test]
    fn batch_kernels_equal_pairwise_kernels() {
        let mut rng = TestRng::new(4);
        for set in kernels::available() {
            for dim in [1, 7, 8, 16, 17, 64, 100, 129] {
                for rows in [0, 1, 5] {
                    let q = rng.vec(dim, 1.0);
                    let vs = rng.vec(rows * dim, 1.0);
                    for (name, batch, pair) in [
                        ("dot", set.dot_batch, set.dot),
                        ("l2_squared", set.l2_squared_batch, set.l2_squared),
                        ("l1", set.l1_batch, set.l1),
                    ] {
                        let mut out = vec![f32::NAN; rows];
                        batch(&q, &vs, &mut out);
                        for (i, row) in vs.chunks_exact(dim).enumerate() {
                            // Same kernel, same summation order: bit-identical.
                            assert_eq!(
                                out[i].to_bits(),
                                pair(&q, row).to_bits(),
                                "{} {name} dim {dim} row {i}",
                                set.name
                            );
                        }
                    }
                }
            }
            // Empty query: every row scores 0.
            let mut out = vec![f32::NAN; 3];
            (set.dot_batch)(&[], &[], &mut out);
            assert_eq!(out, [0.0; 3]);
        }
    }

    #[test]
    fn simd_kernels_read_only_the_common_prefix() {
        // The scalar set debug_asserts equal lengths, the SIMD kernels
        // just use min(len); this checks that they never read past it.
        let mut rng = TestRng::new(5);
        let a = rng.vec(100, 1.0);
        let b = rng.vec(100, 1.0);
        for set in kernels::available().iter().filter(|s| s.name != "scalar") {
            for (la, lb) in [(100, 37), (37, 100), (0, 100), (65, 64)] {
                let m = la.min(lb);
                assert_eq!((set.dot)(&a[..la], &b[..lb]), (set.dot)(&a[..m], &b[..m]));
                assert_eq!((set.l1)(&a[..la], &b[..lb]), (set.l1)(&a[..m], &b[..m]));
            }
        }
    }

    #[cfg(not(debug_assertions))]
    #[test]
    fn release_mismatch_uses_common_prefix() {
        let a = [1.0f32, 2.0, 3.0];
        let b = [1.0f32, 1.0];
        assert_eq!(dot(&a, &b), 3.0);
        assert_eq!(scalar::dot(&a, &b), 3.0);
        assert_eq!(l1(&a, &b), 1.0);
    }

    fn fake(name: &'static str) -> KernelSet {
        KernelSet {
            name,
            ..kernels::available().last().copied().unwrap()
        }
    }

    #[test]
    fn select_honours_only_available_lower_sets() {
        let sets = [fake("avx512"), fake("avx2+fma"), fake("scalar")];
        let pick = |req: Option<&str>| kernels::select(&sets, req).name;
        assert_eq!(pick(None), "avx512");
        assert_eq!(pick(Some("scalar")), "scalar");
        assert_eq!(pick(Some(" SCALAR ")), "scalar");
        assert_eq!(pick(Some("avx2")), "avx2+fma");
        assert_eq!(pick(Some("AVX2+FMA")), "avx2+fma");
        assert_eq!(pick(Some("avx512")), "avx512");
        assert_eq!(pick(Some("neon")), "avx512"); // not available: ignored
        assert_eq!(pick(Some("sse")), "avx512"); // unknown: ignored
        assert_eq!(pick(Some("")), "avx512");

        let only_avx2 = [fake("avx2+fma"), fake("scalar")];
        assert_eq!(kernels::select(&only_avx2, Some("avx512")).name, "avx2+fma");

        assert_eq!(kernels::by_name("scalar").unwrap().name, "scalar");
        assert!(kernels::by_name("bogus").is_none());
    }
}
