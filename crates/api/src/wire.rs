//! The seed's point body (`PointBody`); Qdrant's bodies are in `openapi/`, where each type both
//! parses its body and describes it in the spec.

use rvdb_engine::{Payload, PointId};
use serde::Deserialize;

/// A point in a seed body: PUT …/points/{id} (without `id`, or with the path's) or one
/// element of a POST batch.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SeedPoint, example = json!({"vector": [0.1, 0.2, 0.3, 0.4], "payload": {"city": "Berlin"}}))]
pub(crate) struct PointBody {
    /// Missing in a batch: the server assigns a UUIDv4.
    #[serde(default)]
    #[schema(value_type = Option<crate::openapi::common::ExtendedPointId>)]
    pub id: Option<PointId>,
    pub vector: Vec<f32>,
    /// A JSON object; missing or null means no payload.
    #[serde(default)]
    #[schema(value_type = Option<crate::openapi::common::Payload>)]
    pub payload: Option<Payload>,
}
