//! Wire types (DTOs) of request bodies, apart from the engine's domain types.

use rvdb_engine::{Payload, PointId};
use serde::Deserialize;

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
