//! Filters over point payloads.
//!
//! Both HTTP dialects parse into one AST ([`Filter`]): the seed's flat equality object
//! (`{"category": "books", "meta.color": "red"}`, see [`Filter::from_seed`]) and Qdrant's filter DSL
//! (`must` / `should` / `must_not` / `min_should`, see [`Filter::from_qdrant`]). The engine evaluates
//! a filter point by point through [`Filter::matches`], which sees a point only as its id and its
//! JSON payload, so the index layer can take it as an opaque predicate.
//!
//! The DSL is read through its wire types ([`wire`]), which also describe it in the OpenAPI spec;
//! a malformed filter's error names its JSON path (`filter.must[0].range.gt: …`).
//!
//! Semantics follow Qdrant: a key is a dotted path (`meta.color`, `cities[].name`); where the path
//! reaches an array, every element is a candidate value, and a condition on values matches when any
//! candidate matches. A missing field matches no value condition.
//!
//! Point ids live here too ([`PointId`]), because `has_id` conditions name them.
//!
//! Besides filters: payload selectors and payload mutation by key path ([`payload`]), and
//! payload indexes that narrow a filter to candidate points and estimate its cardinality
//! ([`index`]). The reference for every semantic detail is Qdrant's Python client in local
//! mode (`qdrant_client/local`); `tests/crosscheck.rs` replays cases it evaluated.

mod ast;
mod datetime;
mod eval;
mod geo;
mod id;
pub mod index;
mod parse;
mod path;
pub mod payload;
mod slice;
pub mod wire;

pub use ast::{
    Condition, DatetimeRange, FieldCondition, Filter, GeoBoundingBox, GeoPoint, GeoPolygon,
    GeoRadius, Match, MinShould, Range,
};
pub use datetime::parse_datetime;
pub use eval::text_tokens;
pub use geo::{geo_distance, geo_point, MEAN_EARTH_RADIUS};
pub use id::{ParsePointIdError, PointId};
pub use index::{Cardinality, PayloadIndex, PayloadSchemaType};
pub use parse::FilterError;
pub use path::{JsonPath, PathStep};
pub use payload::{delete_payload_keys, select_payload, set_payload, PayloadSelector};
pub use slice::slice_of;

/// A point's payload: a JSON object.
pub type Payload = serde_json::Map<String, serde_json::Value>;

#[cfg(test)]
mod tests;
