//! Quantization: compact codes of a vector space's vectors that approximate its scores, so that
//! a search can walk many more candidates per byte read and rescore the best few from the
//! original vectors.
//!
//! - [`ScalarQuantizer`]: one byte per value (Qdrant's `scalar` `int8`), scored in integers.
//! - [`BinaryQuantizer`]: one bit per value (Qdrant's `binary`, `one_bit`), Hamming distance.
//! - [`ProductQuantizer`]: one byte per sub-space (Qdrant's `product`, x4 to x64), scored from
//!   per-query lookup tables.

mod binary;
mod product;
mod scalar;

pub use binary::{hamming, BinaryEncoding, BinaryQuantizer};
pub use product::{ProductQuantizer, ProductQuery};
pub use scalar::{ScalarCodes, ScalarQuantizer, ScalarQuery};
