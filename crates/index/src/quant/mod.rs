//! Quantization: compact codes of a vector space's vectors that approximate its scores, so that
//! a search can walk many more candidates per byte read and rescore the best few from the
//! original vectors.
//!
//! - [`ScalarQuantizer`]: one byte per value (Qdrant's `scalar` `int8`), scored in integers.
//! - [`BinaryQuantizer`]: one bit per value (Qdrant's `binary`, `one_bit`), Hamming distance.
//! - [`ProductQuantizer`]: one byte per sub-space (Qdrant's `product`, x4 to x64), scored from
//!   per-query lookup tables.
//! - [`TurboQuantizer`]: a random rotation, then 1, 1.5, 2 or 4 bits per coordinate from the
//!   normal distribution's Lloyd–Max levels (Qdrant's `turbo`), scored from lookup tables.

mod binary;
mod product;
mod scalar;
mod turbo;

pub use binary::{hamming, BinaryEncoding, BinaryQuantizer};
pub use product::{ProductQuantizer, ProductQuery};
pub use scalar::{ScalarCodes, ScalarQuantizer, ScalarQuery};
pub use turbo::{TurboBits, TurboQuantizer, TurboQuery};
