//! Quantization: compact codes of a vector space's vectors that approximate its scores, so that
//! a search can walk many more candidates per byte read and rescore the best few from the
//! original vectors.
//!
//! - [`ScalarQuantizer`]: one byte per value (Qdrant's `scalar` `int8`), scored in integers.

mod scalar;

pub use scalar::{ScalarCodes, ScalarQuantizer, ScalarQuery};
