//! The engine's request and result types.

use serde::Serialize;

use rvdb_filter::{Filter, Payload, PointId};
use rvdb_vector::Distance;

/// A collection's fixed parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CollectionConfig {
    pub distance: Distance,
    /// The vector dimension; `None` until the first point fixes it (the seed dialect).
    pub dim: Option<usize>,
}

impl CollectionConfig {
    /// A collection whose dimension the first point will fix.
    pub fn new(distance: Distance) -> Self {
        CollectionConfig {
            distance,
            dim: None,
        }
    }

    /// A collection of `dim`-dimensional vectors.
    pub fn with_dim(distance: Distance, dim: usize) -> Self {
        CollectionConfig {
            distance,
            dim: Some(dim),
        }
    }
}

/// A point to insert or overwrite.
#[derive(Debug, Clone, PartialEq)]
pub struct PointStruct {
    pub id: PointId,
    pub vector: Vec<f32>,
    pub payload: Payload,
}

impl PointStruct {
    pub fn new(id: PointId, vector: Vec<f32>, payload: Payload) -> Self {
        PointStruct {
            id,
            vector,
            payload,
        }
    }
}

/// A stored point as returned by get and list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Record {
    pub id: PointId,
    pub payload: Payload,
    pub vector: Vec<f32>,
    /// Sequence number of the write that last changed the point.
    #[serde(skip)]
    pub version: u64,
}

/// A search hit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoredPoint {
    pub id: PointId,
    /// Sequence number of the write that last changed the point.
    pub version: u64,
    pub score: f32,
    pub payload: Option<Payload>,
    pub vector: Option<Vec<f32>>,
}

/// A nearest-neighbour search.
#[derive(Debug, Clone)]
pub struct SearchRequest {
    pub vector: Vec<f32>,
    pub limit: usize,
    pub offset: usize,
    /// Cosine/Dot: keep scores ≥ threshold; Euclid/Manhattan: keep distances ≤ threshold.
    pub score_threshold: Option<f32>,
    pub filter: Option<Filter>,
    pub with_payload: bool,
    pub with_vector: bool,
}

impl SearchRequest {
    /// The `limit` nearest points, with payloads, without vectors.
    pub fn new(vector: Vec<f32>, limit: usize) -> Self {
        SearchRequest {
            vector,
            limit,
            offset: 0,
            score_threshold: None,
            filter: None,
            with_payload: true,
            with_vector: false,
        }
    }
}

/// The outcome of an acknowledged write (Qdrant's `UpdateResult`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct UpdateResult {
    /// The write's sequence number in the collection's log.
    pub operation_id: u64,
    /// Always "completed": the write is durable and visible when this is returned.
    pub status: &'static str,
}

impl UpdateResult {
    pub(crate) fn completed(seq: u64) -> Self {
        UpdateResult {
            operation_id: seq,
            status: "completed",
        }
    }
}
