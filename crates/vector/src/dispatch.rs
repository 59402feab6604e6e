//! Run-time selection of the kernel set, cached after first use: a `KernelSet` of plain function
//! pointers, chosen by CPU detection (`RVDB_KERNEL` may force a lower set) and kept in a
//! `OnceLock`.

use std::sync::OnceLock;

/// A pairwise kernel: `f(a, b)` over the common prefix of `a` and `b`.
pub type KernelFn = fn(&[f32], &[f32]) -> f32;

/// A batch kernel: `f(query, vectors, out)` writes the pairwise kernel of
/// `query` and each `query.len()`-sized row of `vectors` into `out`, for
/// `min(out.len(), vectors.len() / query.len())` rows; `out` is filled with
/// `0.0` when `query` is empty.
pub type BatchFn = fn(&[f32], &[f32], &mut [f32]);

/// One kernel set: the three primitives and their batch forms, all built
/// for the same instruction set.
///
/// A `KernelSet` for a SIMD instruction set is only ever created after the
/// CPU has been checked for it, which is what makes its function pointers
/// safe to call.
#[derive(Clone, Copy, Debug)]
pub struct KernelSet {
    /// `"avx512"`, `"avx2+fma"`, `"neon"` or `"scalar"`.
    pub name: &'static str,
    /// Dot product.
    pub dot: KernelFn,
    /// Squared Euclidean distance.
    pub l2_squared: KernelFn,
    /// Manhattan distance.
    pub l1: KernelFn,
    /// Batch dot product.
    pub dot_batch: BatchFn,
    /// Batch squared Euclidean distance.
    pub l2_squared_batch: BatchFn,
    /// Batch Manhattan distance.
    pub l1_batch: BatchFn,
}

/// Every kernel set this CPU can run, best first; the last one is always
/// `"scalar"`. Detected once.
pub fn available() -> &'static [KernelSet] {
    static AVAILABLE: OnceLock<Vec<KernelSet>> = OnceLock::new();
    AVAILABLE.get_or_init(detect)
}

fn detect() -> Vec<KernelSet> {
    let mut sets = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        sets.extend(crate::x86::avx512_set());
        sets.extend(crate::x86::avx2_set());
    }
    #[cfg(target_arch = "aarch64")]
    {
        sets.extend(crate::neon::neon_set());
    }
    sets.push(crate::scalar::kernel_set());
    sets
}

/// The kernel set used by the dispatched functions: chosen once, from
/// [`available`] and the `RVDB_KERNEL` environment variable, by [`select`].
pub fn active() -> &'static KernelSet {
    static ACTIVE: OnceLock<KernelSet> = OnceLock::new();
    ACTIVE.get_or_init(|| {
        let request = std::env::var("RVDB_KERNEL").ok();
        select(available(), request.as_deref())
    })
}

/// The available kernel set called `name` (see [`select`] for the accepted
/// spellings), if this CPU can run it.
pub fn by_name(name: &str) -> Option<KernelSet> {
    let wanted = canonical_name(name)?;
    available().iter().find(|k| k.name == wanted).copied()
}

/// Chooses from `available` (best first, non-empty): the set named by
/// `request` if there is one and it is available, otherwise the first.
///
/// Accepted names, ASCII case-insensitive, surrounding whitespace ignored:
/// `scalar`, `avx2` or `avx2+fma`, `avx512` or `avx512f`, `neon`. Anything
/// else (including an empty string) is ignored.
///
/// # Panics
///
/// If `available` is empty.
pub fn select(available: &[KernelSet], request: Option<&str>) -> KernelSet {
    request
        .and_then(canonical_name)
        .and_then(|wanted| available.iter().find(|k| k.name == wanted))
        .unwrap_or(&available[0])
        .to_owned()
}

fn canonical_name(name: &str) -> Option<&'static str> {
    let name = name.trim();
    let known: [(&str, &'static str); 6] = [
        ("scalar", "scalar"),
        ("avx2", "avx2+fma"),
        ("avx2+fma", "avx2+fma"),
        ("avx512", "avx512"),
        ("avx512f", "avx512"),
        ("neon", "neon"),
    ];
    known
        .iter()
        .find(|(alias, _)| alias.eq_ignore_ascii_case(name))
        .map(|&(_, canonical)| canonical)
}
