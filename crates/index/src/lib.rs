//! Vector indexes.
//!
//! An index sees vectors as one contiguous `&[f32]` (`n * dim` values, row `i` is the vector at
//! offset `i`) and filters as a predicate over offsets: no ids, payloads, files or JSON here.
//! Scores are the vector crate's *raw keys* (higher is always better); callers convert them to
//! user-facing scores with [`rvdb_vector::Distance::raw_to_score`].
//!
//! - [`flat_search`]: an exact scan with SIMD kernels and a bounded top-k heap.
//! - [`HnswIndex`]: an HNSW graph (hnswlib's algorithm and layout), built in parallel, searched
//!   with or without a filter predicate, serialisable with [`HnswIndex::to_bytes`].
//! - [`SparseIndex`] / [`SealedSparseIndex`]: exact inverted indexes over [`SparseVector`]s
//!   (Qdrant's sparse vectors, with the `idf` modifier through [`apply_idf`]).
//! - [`ScalarQuantizer`] / [`ScalarCodes`]: int8 codes of a vector space, scored in integers
//!   (approximate keys, for oversampling and rescoring).

mod flat;
mod hnsw;
mod quant;
mod sparse;
mod topk;

pub use flat::{flat_search, SearchParams};
pub use hnsw::{
    BinaryQuery, Element, HnswIndex, HnswParams, Quantization, QuantizedHnsw, SharedBytes,
};
pub use quant::{
    hamming, BinaryEncoding, BinaryQuantizer, ProductQuantizer, ProductQuery, ScalarCodes,
    ScalarQuantizer, ScalarQuery, TurboBits, TurboQuantizer, TurboQuery,
};
pub use sparse::{
    apply_idf, idf, SealedSparseIndex, SparseDecodeError, SparseIndex, SparseIndexParams,
    SparseModifier, SparseVector, SparseVectorError, DEFAULT_SPARSE_FULL_SCAN_THRESHOLD,
};
pub use topk::{Scored, TopK};
