//! Filters over point payloads.
//!
//! Both HTTP dialects parse into one AST ([`Filter`]): the seed's flat equality object
//! (`{"category": "books", "meta.color": "red"}`, see [`Filter::from_seed`]) and Qdrant's filter DSL
//! (`must` / `should` / `must_not` / `min_should`, see [`Filter::from_qdrant`]). The engine evaluates
//! a filter point by point through [`Filter::matches`], which sees a point only as its id and its
//! JSON payload, so the index layer can take it as an opaque predicate.
//!
//! Semantics follow Qdrant: a key is a dotted path (`meta.color`, `cities[].name`); where the path
//! reaches an array, every element is a candidate value, and a condition on values matches when any
//! candidate matches. A missing field matches no value condition.
//!
//! Point ids live here too ([`PointId`]), because `has_id` conditions name them.

mod ast;
mod eval;
mod id;
mod parse;
mod path;

pub use ast::{Condition, FieldCondition, Filter, Match, MinShould, Range};
pub use id::{ParsePointIdError, PointId};
pub use parse::FilterError;
pub use path::JsonPath;

/// A point's payload: a JSON object.
pub type Payload = serde_json::Map<String, serde_json::Value>;

#[cfg(test)]
mod tests;
