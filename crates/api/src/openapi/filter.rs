//! The filter schemas: Qdrant's DSL is described by its wire types, `rvdb_filter::wire`, the
//! same types that parse it (so the two cannot drift apart); the seed's flat equality filter of
//! the shared search route is described here.

use std::collections::BTreeMap;

use serde::Deserialize;
use utoipa::ToSchema;

pub(crate) use rvdb_filter::wire::Filter;

/// The filter of the shared search route (`POST …/points/search`): Qdrant's DSL (an object
/// whose keys are all of must/should/must_not/min_should), or the seed's flat equality filter
/// `{"key": value, …}` where every pair must match (a value also matches an array containing
/// it; a key may be a dotted path).
#[derive(ToSchema, Deserialize)]
#[serde(untagged)]
pub(crate) enum SearchFilter {
    Qdrant(Filter),
    Seed(BTreeMap<String, SeedValue>),
}

/// A string, number or boolean.
#[derive(ToSchema, Deserialize)]
#[serde(untagged)]
pub(crate) enum SeedValue {
    String(String),
    Number(f64),
    Bool(bool),
}
