//! Wire types (DTOs) of request bodies, apart from the engine's domain types: the seed's
//! `PointBody`, and `fast_points`, the typed fast path for `{"points": […]}` upserts (any other
//! shape goes through `convert.rs` for a precise error).

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

/// `{"points": [{"id", "vector", "payload"}, …]}` parsed straight into engine points (no JSON
/// tree in between: this is what bulk ingest spends its time on). `None` when the body has any
/// other shape or a bad value; the caller then parses it the general way for a precise error.
pub(crate) fn fast_points(body: &[u8]) -> Option<Vec<rvdb_engine::PointStruct>> {
    #[derive(Deserialize)]
    struct Body<'a> {
        #[serde(borrow)]
        points: Vec<FastPoint<'a>>,
    }
    #[derive(Deserialize)]
    struct FastPoint<'a> {
        id: PointId,
        #[serde(borrow)]
        vector: &'a serde_json::value::RawValue,
        #[serde(default)]
        payload: Option<Payload>,
    }
    let body: Body = serde_json::from_slice(body).ok()?;
    body.points
        .into_iter()
        .map(|p| {
            Some(rvdb_engine::PointStruct {
                id: p.id,
                vectors: vector_text(p.vector.get())?,
                payload: p.payload.unwrap_or_default(),
            })
        })
        .collect()
}

/// A vector from its JSON text (already checked to be valid JSON by the parser): a list of
/// numbers, each parsed straight to the nearest f32 (one correct rounding, and several times
/// faster than a JSON tree), or an object of named lists.
fn vector_text(text: &str) -> Option<rvdb_engine::NamedVectors> {
    let text = text.trim();
    if let Some(inner) = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        let inner = inner.trim();
        let v = if inner.is_empty() {
            Vec::new()
        } else {
            inner
                .split(',')
                .map(|x| x.trim().parse::<f32>().ok())
                .collect::<Option<Vec<f32>>>()?
        };
        return Some(rvdb_engine::NamedVectors::from([(
            rvdb_engine::DEFAULT_VECTOR.to_string(),
            v,
        )]));
    }
    serde_json::from_str::<rvdb_engine::NamedVectors>(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_points_parse_vectors_exactly_and_decline_what_they_do_not_know() {
        let body = br#"{"points": [{"id": 1, "vector": [0.1, -2e3, 3 ], "payload": {"a": 1}},
                                  {"id": "550e8400-e29b-41d4-a716-446655440000", "vector": {"img": [1, 2]}}]}"#;
        let pts = fast_points(body).unwrap();
        assert_eq!(pts[0].vectors[""], vec![0.1f32, -2000.0, 3.0]);
        assert_eq!(pts[0].payload["a"], 1);
        assert_eq!(pts[1].vectors["img"], vec![1.0f32, 2.0]);
        // shapes the fast path does not handle fall back to the general parser
        assert!(fast_points(br#"{"batch": {"ids": [1], "vectors": [[1]]}}"#).is_none());
        assert!(fast_points(br#"{"points": [{"id": -1, "vector": [1]}]}"#).is_none());
        assert!(fast_points(br#"{"points": [{"id": 1, "vector": [[1, 2]]}]}"#).is_none());
        assert!(fast_points(
            br#"{"points": [{"id": 1, "vector": {"s": {"indices": [1], "values": [1]}}}]}"#
        )
        .is_none());
    }
}
