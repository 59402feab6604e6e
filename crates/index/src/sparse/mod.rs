//! Sparse vectors and their inverted indexes, with Qdrant's semantics (`SparseVectorParams`).
//!
//! - [`SparseVector`]: sorted unique `u32` indices with finite `f32` values, validated on the way
//!   in ([`SparseVectorError`] names the problem); [`SparseVector::dot`] is the exact score and
//!   is `None` when two vectors share no index — such a row is not a result at all.
//! - [`SparseIndex`]: the mutable index of an appendable segment (insert, replace, remove; a
//!   removed row leaves its posting lists at once).
//! - [`SealedSparseIndex`]: the immutable CSR form of a sealed segment, with a checked byte
//!   format ([`SealedSparseIndex::to_bytes`] / [`SealedSparseIndex::from_bytes`]).
//!
//! Both search exactly: `search` walks the query terms' posting lists with an optional row
//! predicate (payload filter, tombstones); `search_candidates` scores only a given candidate set,
//! which is what Qdrant does when the filter's estimated cardinality is below
//! `full_scan_threshold` ([`SparseIndexParams::use_candidates`]). Scores are plain dot products
//! (sparse vectors always use Dot, so the raw key *is* the score); ties go to the lower row.
//!
//! The `idf` modifier weights the *query* only: each value is multiplied by
//! [`idf`]`(df, N)` = `ln((N - df + 0.5) / (df + 0.5) + 1)`, where `N` counts the rows holding a
//! non-empty vector and `df` those holding the term ([`apply_idf`]). A collection sums `N` and
//! `df` over all its segments (`vector_count`, `document_frequency`) before weighting. (Local
//! mode also counts points holding an *empty* vector in `N`; [`SparseIndex::len`] gives that.)
//! The mutable index's statistics are those of its live rows; a sealed index's include rows the
//! engine has since tombstoned, as the server's global statistics do.

mod mutable;
mod sealed;
mod search;
mod vector;

#[cfg(test)]
mod tests;

pub use mutable::SparseIndex;
pub use sealed::{SealedSparseIndex, SparseDecodeError};
pub use vector::{SparseVector, SparseVectorError};

/// Qdrant's default `full_scan_threshold` for sparse vectors.
pub const DEFAULT_SPARSE_FULL_SCAN_THRESHOLD: usize = 5000;

/// A sparse vector space's index settings (Qdrant's `SparseIndexParams`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SparseIndexParams {
    /// Below this estimated number of filtered candidates, score the candidates directly
    /// instead of walking the posting lists (`None`: [`DEFAULT_SPARSE_FULL_SCAN_THRESHOLD`]).
    pub full_scan_threshold: Option<usize>,
    /// Whether a sealed segment's index is served from its file rather than memory. Accepted
    /// and stored; both forms are in memory today.
    pub on_disk: Option<bool>,
}

impl SparseIndexParams {
    /// Qdrant's rule: a filtered search whose cardinality estimate's upper bound
    /// (`estimated_max`) is below the threshold scores the candidates directly.
    pub fn use_candidates(&self, estimated_max: usize) -> bool {
        estimated_max
            < self
                .full_scan_threshold
                .unwrap_or(DEFAULT_SPARSE_FULL_SCAN_THRESHOLD)
    }
}

/// Qdrant's sparse `modifier`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SparseModifier {
    #[default]
    None,
    /// Weight query values by inverse document frequency ([`apply_idf`]).
    Idf,
}

/// The inverse document frequency of a term held by `df` of `n` documents:
/// `ln((n - df + 0.5) / (df + 0.5) + 1)` (BM25's, always positive), computed in `f64`.
pub fn idf(df: usize, n: usize) -> f64 {
    let (df, n) = (df as f64, n as f64);
    ((n - df + 0.5) / (df + 0.5) + 1.0).ln()
}

/// The query with each value multiplied by its term's [`idf`]; `df(term)` gives the document
/// frequency and `n` the document count (both summed over the collection's segments).
pub fn apply_idf(query: &SparseVector, n: usize, df: impl Fn(u32) -> usize) -> SparseVector {
    let values = query
        .iter()
        .map(|(t, v)| (v as f64 * idf(df(t), n)) as f32)
        .collect();
    SparseVector::from_sorted_unchecked(query.indices().to_vec(), values)
}
