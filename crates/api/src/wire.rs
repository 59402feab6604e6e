//! Wire types (DTOs) of request bodies, apart from the engine's domain types.

use rvdb_engine::{Payload, PointId};
use serde::Deserialize;
use serde_json::Value;

/// A point in a seed body: PUT …/points/{id} (without `id`) or one element of a POST batch.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PointBody {
    /// Missing in a batch: the server assigns a UUIDv4.
    #[serde(default)]
    pub id: Option<PointId>,
    pub vector: Vec<f32>,
    /// A JSON object; missing or null means no payload.
    #[serde(default)]
    pub payload: Option<Payload>,
}

/// POST …/points/search.
#[derive(Debug, Deserialize)]
pub(crate) struct SearchBody {
    pub vector: Vec<f32>,
    /// How many hits to return (default 10).
    #[serde(default)]
    pub limit: Option<usize>,
    /// How many of the best hits to skip first.
    #[serde(default)]
    pub offset: Option<usize>,
    /// Cosine/Dot: keep scores ≥ this; Euclid/Manhattan: keep distances ≤ this.
    #[serde(default)]
    pub score_threshold: Option<f32>,
    /// A seed equality filter or Qdrant's filter DSL.
    #[serde(default)]
    pub filter: Value,
    /// Defaults to true on this route.
    #[serde(default)]
    pub with_payload: Option<bool>,
    /// Defaults to false.
    #[serde(default)]
    pub with_vector: Option<bool>,
    /// Search parameters (`hnsw_ef`, `exact`); searches are exact for now.
    #[serde(default)]
    #[allow(dead_code)]
    pub params: Option<Value>,
}
