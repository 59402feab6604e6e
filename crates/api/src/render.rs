//! Engine results → Qdrant's response shapes: records and scored points (the collection
//! info is `openapi::collections::CollectionInfo`).

use rvdb_engine::{NamedVectors, Payload, PointId, Record, ScoredPoint, Vector, DEFAULT_VECTOR};
use serde::Serialize;
use serde_json::Value;

/// A point's vectors as Qdrant shows them: a list when only the unnamed vector is there,
/// otherwise an object of named vectors.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(untagged)]
#[schema(as = VectorStructOutput)]
pub(crate) enum VectorOut {
    Single(Vec<f32>),
    /// The unnamed vector of a multivector collection: its rows.
    Multi(Vec<Vec<f32>>),
    // NamedVectors spelled out: the schema derive needs the map type to see it
    Named(std::collections::BTreeMap<String, NamedVectorOut>),
}

/// One named vector: dense, sparse (`indices` ascending) or a multivector (its rows).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(untagged)]
#[schema(as = VectorOutput)]
pub(crate) enum NamedVectorOut {
    Dense(Vec<f32>),
    Sparse(crate::openapi::common::SparseVector),
    Multi(Vec<Vec<f32>>),
}

impl From<Vector> for NamedVectorOut {
    fn from(v: Vector) -> Self {
        match v {
            Vector::Dense(v) => NamedVectorOut::Dense(v),
            Vector::Multi(v) => NamedVectorOut::Multi(v),
            Vector::Sparse(v) => NamedVectorOut::Sparse(crate::openapi::common::SparseVector {
                indices: v.indices().to_vec(),
                values: v.values().to_vec(),
            }),
        }
    }
}

pub(crate) fn vectors_out(v: Option<NamedVectors>) -> Option<VectorOut> {
    let mut v = v?;
    if v.len() == 1 {
        match v.remove(DEFAULT_VECTOR) {
            Some(Vector::Dense(d)) => return Some(VectorOut::Single(d)),
            Some(Vector::Multi(m)) => return Some(VectorOut::Multi(m)),
            Some(other) => {
                v.insert(DEFAULT_VECTOR.to_string(), other);
            }
            None => {}
        }
    }
    Some(VectorOut::Named(
        v.into_iter().map(|(k, v)| (k, v.into())).collect(),
    ))
}

/// A stored point.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Record)]
pub(crate) struct RecordOut {
    #[schema(value_type = crate::openapi::common::ExtendedPointId)]
    id: PointId,
    /// `null` when not asked for (or empty).
    #[schema(value_type = Option<crate::openapi::common::Payload>)]
    payload: Option<Payload>,
    /// `null` unless asked for with `with_vector`.
    vector: Option<VectorOut>,
    /// The `order_by` key's value, when ordering by one (a datetime as microseconds since the
    /// Unix epoch).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<f64>)]
    order_value: Option<Value>,
}

impl From<Record> for RecordOut {
    fn from(r: Record) -> Self {
        RecordOut {
            id: r.id,
            payload: r.payload,
            vector: vectors_out(r.vectors),
            order_value: r.order_value,
        }
    }
}

/// A hit.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ScoredPoint)]
pub(crate) struct ScoredOut {
    #[schema(value_type = crate::openapi::common::ExtendedPointId)]
    id: PointId,
    /// The log position of the point's last write.
    version: u64,
    /// Larger is better for Cosine and Dot; smaller for Euclid and Manhattan.
    score: f32,
    #[schema(value_type = Option<crate::openapi::common::Payload>)]
    payload: Option<Payload>,
    vector: Option<VectorOut>,
    /// The `order_by` key's value, when ordering by one (a datetime as microseconds since the
    /// Unix epoch).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<f64>)]
    order_value: Option<Value>,
}

impl From<ScoredPoint> for ScoredOut {
    fn from(p: ScoredPoint) -> Self {
        ScoredOut {
            id: p.id,
            version: p.version,
            score: p.score,
            payload: p.payload,
            vector: vectors_out(p.vectors),
            order_value: p.order_value,
        }
    }
}

pub(crate) fn records(rs: Vec<Record>) -> Vec<RecordOut> {
    rs.into_iter().map(RecordOut::from).collect()
}

pub(crate) fn hits(ps: Vec<ScoredPoint>) -> Vec<ScoredOut> {
    ps.into_iter().map(ScoredOut::from).collect()
}
