//! Engine results → Qdrant's response shapes: records, scored points, and `CollectionInfo` with
//! Qdrant's default settings filled in.

use rvdb_engine::{
    CollectionInfo, NamedVectors, Payload, PointId, Record, ScoredPoint, DEFAULT_VECTOR,
};
use serde::Serialize;
use serde_json::{json, Map, Value};

/// A point's vectors as Qdrant shows them: a list when only the unnamed vector is there,
/// otherwise an object of named vectors.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(untagged)]
#[schema(as = VectorStructOutput)]
pub(crate) enum VectorOut {
    Single(Vec<f32>),
    // NamedVectors spelled out: the schema derive needs the map type to see it
    Named(std::collections::BTreeMap<String, Vec<f32>>),
}

pub(crate) fn vectors_out(v: Option<NamedVectors>) -> Option<VectorOut> {
    let mut v = v?;
    if v.len() == 1 && v.contains_key(DEFAULT_VECTOR) {
        return Some(VectorOut::Single(
            v.remove(DEFAULT_VECTOR).unwrap_or_default(),
        ));
    }
    Some(VectorOut::Named(v))
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

/// GET /collections/{name}: Qdrant's CollectionInfo.
pub(crate) fn collection_info(info: &CollectionInfo) -> Value {
    let s = match serde_json::to_value(&info.config.settings) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let get = |k: &str| s.get(k).cloned().unwrap_or(Value::Null);
    let space = |p: &rvdb_engine::VectorParams| {
        let mut m = p.extra.clone();
        if let Some(h) = &p.hnsw_config {
            m.insert("hnsw_config".into(), json!(h));
        }
        m.insert("size".into(), json!(p.size));
        m.insert("distance".into(), json!(p.distance.as_str()));
        Value::Object(m)
    };
    let vectors = match &info.config.vectors {
        rvdb_engine::VectorsConfig::Single(p) => space(p),
        rvdb_engine::VectorsConfig::Named(m) => {
            Value::Object(m.iter().map(|(k, p)| (k.clone(), space(p))).collect())
        }
    };
    let payload_schema: Map<String, Value> = info
        .payload_schema
        .iter()
        .map(|f| {
            (
                f.field.clone(),
                json!({"data_type": f.data_type.as_str(), "params": {"type": f.data_type.as_str()}, "points": f.points}),
            )
        })
        .collect();
    let mut result = json!({
        "status": info.status,
        "optimizer_status": "ok",
        "indexed_vectors_count": info.indexed_vectors_count,
        "points_count": info.points_count,
        "segments_count": info.segments_count,
        "config": {
            "params": {
                "vectors": vectors,
                "shard_number": get("shard_number"),
                "replication_factor": get("replication_factor"),
                "write_consistency_factor": get("write_consistency_factor"),
                "on_disk_payload": get("on_disk_payload"),
            },
            "hnsw_config": get("hnsw_config"),
            "optimizer_config": get("optimizers_config"),
            "wal_config": get("wal_config"),
            "quantization_config": get("quantization_config"),
            "strict_mode_config": get("strict_mode_config"),
        },
        "payload_schema": payload_schema,
    });
    if let Some(md) = s.get("metadata").filter(|v| !v.is_null()) {
        result["config"]["metadata"] = md.clone();
    }
    if let Some(sf) = s.get("sharding_method").filter(|v| !v.is_null()) {
        result["config"]["params"]["sharding_method"] = sf.clone();
    }
    for (k, v) in &info.config.settings.other_params {
        result["config"]["params"][k] = v.clone();
    }
    result
}
