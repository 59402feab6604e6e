//! Vector indexes.
//!
//! An index sees vectors as one contiguous `&[f32]` (`n * dim` values, row `i` is the vector at
//! offset `i`) and filters as a predicate over offsets: no ids, payloads, files or JSON here.
//! Scores are the vector crate's *raw keys* (higher is always better); callers convert them to
//! user-facing scores with [`rvdb_vector::Distance::raw_to_score`].
//!
//! Today: [`flat_search`], an exact scan with SIMD kernels and a bounded top-k heap.

mod flat;
mod topk;

pub use flat::{flat_search, SearchParams};
pub use topk::{Scored, TopK};
