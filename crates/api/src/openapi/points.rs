//! Point bodies: upserts, selectors, payload and vector updates, batches, scroll, count and
//! retrieve. Each type parses its body (hand-written `Deserialize` only for the unions, which
//! dispatch on the JSON's shape or keys so that an error names the field) and describes it in
//! the spec; `into_*` turns it into the engine's request.

use std::collections::BTreeMap;

use std::fmt;

use rvdb_engine::{NamedVectors, PointId, PointSelector, PointUpdate, DEFAULT_VECTOR};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::common::{
    envelope, DenseOrMulti, ExtendedPointId, Payload, Vector, VectorStruct, WithPayload, WithVector,
};
use crate::convert::{bad, join};
use crate::ApiError;

/// A point to store (an existing id is replaced).
#[derive(ToSchema, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"id": 1, "vector": [0.1, 0.2, 0.3, 0.4], "payload": {"city": "Berlin"}}))]
pub(crate) struct PointStruct {
    #[schema(value_type = ExtendedPointId)]
    pub id: PointId,
    /// Missing: a point without vectors.
    pub vector: Option<VectorStruct>,
    #[schema(value_type = Option<Payload>)]
    pub payload: Option<rvdb_engine::Payload>,
}

impl From<PointStruct> for rvdb_engine::PointStruct {
    fn from(p: PointStruct) -> Self {
        rvdb_engine::PointStruct {
            id: p.id,
            vectors: p.vector.map(VectorStruct::into_named).unwrap_or_default(),
            payload: p.payload.unwrap_or_default(),
        }
    }
}

/// Points as columns: `ids[i]` gets `vectors[i]` and `payloads[i]`.
#[derive(ToSchema, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct Batch {
    #[schema(value_type = Vec<ExtendedPointId>)]
    pub ids: Vec<PointId>,
    pub vectors: Option<BatchVectorStruct>,
    #[schema(value_type = Option<Vec<Option<Payload>>>)]
    pub payloads: Option<Vec<Option<rvdb_engine::Payload>>>,
}

/// One dense vector per id (the unnamed vector), or per vector name one per id (dense or
/// sparse).
#[derive(ToSchema, Deserialize, Debug)]
#[serde(untagged)]
pub(crate) enum BatchVectorStruct {
    /// One vector (or one multivector) per id.
    Dense(Vec<DenseOrMulti>),
    Named(BTreeMap<String, Vec<Vector>>),
}

impl Batch {
    /// The batch's points; the columns must be as long as `ids`.
    pub(crate) fn into_points(self, at: &str) -> Result<Vec<rvdb_engine::PointStruct>, ApiError> {
        let n = self.ids.len();
        let mut vectors = vec![NamedVectors::new(); n];
        let column = |len: usize, what: &str, at: &str| {
            if len == n {
                Ok(())
            } else {
                Err(bad(at, format!("{len} {what} for {n} ids")))
            }
        };
        match self.vectors {
            Some(BatchVectorStruct::Dense(rows)) => {
                column(rows.len(), "vectors", &join(at, "batch.vectors"))?;
                for (i, v) in rows.into_iter().enumerate() {
                    let v = match v {
                        DenseOrMulti::Dense(v) => rvdb_engine::Vector::Dense(v),
                        DenseOrMulti::Multi(v) => rvdb_engine::Vector::Multi(v),
                    };
                    vectors[i].insert(DEFAULT_VECTOR.to_string(), v);
                }
            }
            Some(BatchVectorStruct::Named(named)) => {
                for (name, rows) in named {
                    column(
                        rows.len(),
                        "vectors",
                        &join(at, &format!("batch.vectors.{name}")),
                    )?;
                    for (i, v) in rows.into_iter().enumerate() {
                        vectors[i].insert(name.clone(), v.into());
                    }
                }
            }
            None => {}
        }
        let payloads = match self.payloads {
            Some(ps) => {
                column(ps.len(), "payloads", &join(at, "batch.payloads"))?;
                ps
            }
            None => vec![None; n],
        };
        Ok(self
            .ids
            .into_iter()
            .zip(vectors)
            .zip(payloads)
            .map(|((id, vectors), payload)| rvdb_engine::PointStruct {
                id,
                vectors,
                payload: payload.unwrap_or_default(),
            })
            .collect())
    }
}

/// PUT /collections/{name}/points: a list of points or a batch.
#[derive(ToSchema, Debug)]
#[serde(untagged)]
pub(crate) enum PointInsertOperations {
    List(PointsList),
    Batch(PointsBatch),
}

#[derive(ToSchema, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct PointsList {
    pub points: Vec<PointStruct>,
}

#[derive(ToSchema, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct PointsBatch {
    pub batch: Batch,
}

impl<'de> Deserialize<'de> for PointInsertOperations {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = PointInsertOperations;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("{\"points\": […]} or {\"batch\": {…}}")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = None;
                while let Some(key) = map.next_key::<String>()? {
                    let op = match key.as_str() {
                        "points" => PointInsertOperations::List(PointsList {
                            points: map.next_value()?,
                        }),
                        "batch" => PointInsertOperations::Batch(PointsBatch {
                            batch: map.next_value()?,
                        }),
                        other => return Err(refused_key::<A::Error>(other)),
                    };
                    if out.replace(op).is_some() {
                        return Err(de::Error::custom(
                            "give either `points` or `batch`, not both",
                        ));
                    }
                }
                out.ok_or_else(|| de::Error::custom("expected `points` or `batch`"))
            }
        }
        d.deserialize_map(V)
    }
}

impl PointInsertOperations {
    /// The points to upsert (`at`: where the body is, for errors).
    pub(crate) fn into_points(self, at: &str) -> Result<Vec<rvdb_engine::PointStruct>, ApiError> {
        match self {
            PointInsertOperations::List(l) => Ok(l.points.into_iter().map(Into::into).collect()),
            PointInsertOperations::Batch(b) => b.batch.into_points(at),
        }
    }
}

/// Keys of Qdrant's bodies that a single node cannot honour yet, named in the error.
fn refused_key<E: de::Error>(key: &str) -> E {
    match key {
        "shard_key" => {
            E::custom("shard_key: shard keys are not supported (one shard per collection)")
        }
        "update_filter" => E::custom("update_filter: conditional updates are not supported"),
        other => E::custom(format!("unknown field `{other}`")),
    }
}

/// A filter as a body carries it: parsed with the body (errors name its path in the body), then
/// checked and turned into the engine's filter by `parse_filter`.
pub(crate) type FilterBody = rvdb_filter::wire::Filter;

/// The engine's filter from a parsed one; `at` names it for the checks that need meaning
/// (key paths, datetimes, polygon rings).
fn parse_filter(f: FilterBody, at: &str) -> Result<rvdb_engine::Filter, ApiError> {
    f.into_ast(at).map_err(|e| bad("", e))
}

/// `points` or `filter`, exactly one: the selector of a write body.
fn selector(
    points: Option<Vec<PointId>>,
    filter: Option<FilterBody>,
    at: &str,
) -> Result<PointSelector, ApiError> {
    match (points, filter) {
        (Some(ids), None) => Ok(PointSelector::Ids(ids)),
        (None, Some(f)) => Ok(PointSelector::Filter(parse_filter(f, &join(at, "filter"))?)),
        (Some(_), Some(_)) => Err(bad(at, "give either `points` or `filter`, not both")),
        (None, None) => Err(bad(at, "expected `points` (ids) or `filter`")),
    }
}

/// Which points: these ids (`points`), or those a filter matches (`filter`); give exactly one.
#[derive(ToSchema, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct PointsSelector {
    #[schema(value_type = Option<Vec<ExtendedPointId>>)]
    pub points: Option<Vec<PointId>>,
    pub filter: Option<FilterBody>,
}

impl PointsSelector {
    pub(crate) fn into_selector(self, at: &str) -> Result<PointSelector, ApiError> {
        selector(self.points, self.filter, at)
    }
}

/// POST …/points/payload: merge `payload` into the selected points' payloads (under `key`
/// when given). Give exactly one of `points` and `filter`.
#[derive(ToSchema, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"payload": {"seen": true}, "points": [1, 2]}))]
pub(crate) struct SetPayload {
    #[schema(value_type = Payload)]
    pub payload: rvdb_engine::Payload,
    #[schema(value_type = Option<Vec<ExtendedPointId>>)]
    pub points: Option<Vec<PointId>>,
    pub filter: Option<FilterBody>,
    /// A payload path to merge into instead of the top level.
    pub key: Option<String>,
}

/// PUT …/points/payload: replace the selected points' payloads. Give exactly one of `points`
/// and `filter`.
#[derive(ToSchema, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct OverwritePayload {
    #[schema(value_type = Payload)]
    pub payload: rvdb_engine::Payload,
    #[schema(value_type = Option<Vec<ExtendedPointId>>)]
    pub points: Option<Vec<PointId>>,
    pub filter: Option<FilterBody>,
}

/// POST …/points/payload/delete: remove these keys. Give exactly one of `points` and `filter`.
#[derive(ToSchema, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeletePayload {
    pub keys: Vec<String>,
    #[schema(value_type = Option<Vec<ExtendedPointId>>)]
    pub points: Option<Vec<PointId>>,
    pub filter: Option<FilterBody>,
}

/// PUT …/points/vectors: set these vectors of existing points (others are kept).
#[derive(ToSchema, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateVectors {
    pub points: Vec<PointVectors>,
}

#[derive(ToSchema, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct PointVectors {
    #[schema(value_type = ExtendedPointId)]
    pub id: PointId,
    pub vector: VectorStruct,
}

/// POST …/points/vectors/delete: drop these named vectors. Give exactly one of `points` and
/// `filter`.
#[derive(ToSchema, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeleteVectors {
    /// Vector names (at least one).
    #[schema(min_items = 1)]
    pub vector: Vec<String>,
    #[schema(value_type = Option<Vec<ExtendedPointId>>)]
    pub points: Option<Vec<PointId>>,
    pub filter: Option<FilterBody>,
}

impl SetPayload {
    pub(crate) fn into_update(self, at: &str) -> Result<PointUpdate, ApiError> {
        Ok(PointUpdate::SetPayload {
            selector: selector(self.points, self.filter, at)?,
            payload: self.payload,
            key: self.key,
        })
    }
}

impl OverwritePayload {
    pub(crate) fn into_update(self, at: &str) -> Result<PointUpdate, ApiError> {
        Ok(PointUpdate::OverwritePayload {
            selector: selector(self.points, self.filter, at)?,
            payload: self.payload,
        })
    }
}

impl DeletePayload {
    pub(crate) fn into_update(self, at: &str) -> Result<PointUpdate, ApiError> {
        Ok(PointUpdate::DeletePayload {
            selector: selector(self.points, self.filter, at)?,
            keys: self.keys,
        })
    }
}

impl UpdateVectors {
    pub(crate) fn into_update(self) -> PointUpdate {
        PointUpdate::UpdateVectors(
            self.points
                .into_iter()
                .map(|p| (p.id, p.vector.into_named()))
                .collect(),
        )
    }
}

impl DeleteVectors {
    pub(crate) fn into_update(self, at: &str) -> Result<PointUpdate, ApiError> {
        if self.vector.is_empty() {
            return Err(bad(&join(at, "vector"), "name at least one vector"));
        }
        Ok(PointUpdate::DeleteVectors {
            selector: selector(self.points, self.filter, at)?,
            names: self.vector,
        })
    }
}

/// POST …/points/batch: operations applied in order; the first failure stops the rest.
#[derive(ToSchema, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateOperations {
    pub operations: Vec<UpdateOperation>,
}

/// One operation: an object with one key naming it.
#[derive(ToSchema, Debug)]
#[serde(untagged)]
pub(crate) enum UpdateOperation {
    Upsert(UpsertOperation),
    Delete(DeleteOperation),
    SetPayload(SetPayloadOperation),
    OverwritePayload(OverwritePayloadOperation),
    DeletePayload(DeletePayloadOperation),
    ClearPayload(ClearPayloadOperation),
    UpdateVectors(UpdateVectorsOperation),
    DeleteVectors(DeleteVectorsOperation),
}

macro_rules! operation {
    ($($name:ident { $field:ident: $ty:ty }),* $(,)?) => {$(
        #[derive(ToSchema, Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        pub(crate) struct $name {
            pub $field: $ty,
        }
    )*};
}

operation! {
    UpsertOperation { upsert: PointInsertOperations },
    DeleteOperation { delete: PointsSelector },
    SetPayloadOperation { set_payload: SetPayload },
    OverwritePayloadOperation { overwrite_payload: OverwritePayload },
    DeletePayloadOperation { delete_payload: DeletePayload },
    ClearPayloadOperation { clear_payload: PointsSelector },
    UpdateVectorsOperation { update_vectors: UpdateVectors },
    DeleteVectorsOperation { delete_vectors: DeleteVectors },
}

impl<'de> Deserialize<'de> for UpdateOperation {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = UpdateOperation;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object with one key naming the operation")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                use UpdateOperation as U;
                let Some(kind) = map.next_key::<String>()? else {
                    return Err(de::Error::custom("empty operation"));
                };
                let op = match kind.as_str() {
                    "upsert" => U::Upsert(UpsertOperation {
                        upsert: map.next_value()?,
                    }),
                    "delete" => U::Delete(DeleteOperation {
                        delete: map.next_value()?,
                    }),
                    "set_payload" => U::SetPayload(SetPayloadOperation {
                        set_payload: map.next_value()?,
                    }),
                    "overwrite_payload" => U::OverwritePayload(OverwritePayloadOperation {
                        overwrite_payload: map.next_value()?,
                    }),
                    "delete_payload" => U::DeletePayload(DeletePayloadOperation {
                        delete_payload: map.next_value()?,
                    }),
                    "clear_payload" => U::ClearPayload(ClearPayloadOperation {
                        clear_payload: map.next_value()?,
                    }),
                    "update_vectors" => U::UpdateVectors(UpdateVectorsOperation {
                        update_vectors: map.next_value()?,
                    }),
                    "delete_vectors" => U::DeleteVectors(DeleteVectorsOperation {
                        delete_vectors: map.next_value()?,
                    }),
                    other => return Err(de::Error::custom(format!("unknown operation `{other}`"))),
                };
                if map.next_key::<de::IgnoredAny>()?.is_some() {
                    return Err(de::Error::custom("one operation per object"));
                }
                Ok(op)
            }
        }
        d.deserialize_map(V)
    }
}

impl UpdateOperation {
    /// The engine's update; `at` is where the operation is (`operations[2]`).
    pub(crate) fn into_update(self, at: &str) -> Result<PointUpdate, ApiError> {
        use UpdateOperation as U;
        Ok(match self {
            U::Upsert(o) => PointUpdate::Upsert(o.upsert.into_points(&join(at, "upsert"))?),
            U::Delete(o) => PointUpdate::Delete(o.delete.into_selector(&join(at, "delete"))?),
            U::SetPayload(o) => o.set_payload.into_update(&join(at, "set_payload"))?,
            U::OverwritePayload(o) => o
                .overwrite_payload
                .into_update(&join(at, "overwrite_payload"))?,
            U::DeletePayload(o) => o.delete_payload.into_update(&join(at, "delete_payload"))?,
            U::ClearPayload(o) => PointUpdate::ClearPayload(
                o.clear_payload.into_selector(&join(at, "clear_payload"))?,
            ),
            U::UpdateVectors(o) => o.update_vectors.into_update(),
            U::DeleteVectors(o) => o.delete_vectors.into_update(&join(at, "delete_vectors"))?,
        })
    }
}

/// Order by a payload key: its name (ascending), or the key with a direction and a start.
#[derive(ToSchema, Deserialize, Debug)]
#[serde(untagged)]
pub(crate) enum OrderByInterface {
    Key(String),
    Struct(OrderBy),
}

#[derive(ToSchema, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct OrderBy {
    pub key: String,
    pub direction: Option<Direction>,
    /// A number, or an RFC 3339 datetime.
    pub start_from: Option<StartFrom>,
}

#[derive(ToSchema, Deserialize, Debug, Clone, Copy, PartialEq)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Direction {
    Asc,
    Desc,
}

#[derive(ToSchema, Deserialize, Debug)]
#[serde(untagged)]
pub(crate) enum StartFrom {
    Number(f64),
    #[schema(format = DateTime)]
    Datetime(String),
}

impl OrderByInterface {
    pub(crate) fn into_order_by(self, at: &str) -> Result<rvdb_engine::OrderBy, ApiError> {
        let o = match self {
            OrderByInterface::Key(key) => OrderBy {
                key,
                direction: None,
                start_from: None,
            },
            OrderByInterface::Struct(o) => o,
        };
        let start_from = match o.start_from {
            None => None,
            Some(StartFrom::Number(n)) => Some(n),
            Some(StartFrom::Datetime(s)) => {
                Some(rvdb_engine::parse_datetime_micros(&s).ok_or_else(|| {
                    bad(&join(at, "start_from"), "expected a number or a datetime")
                })? as f64)
            }
        };
        Ok(rvdb_engine::OrderBy {
            key: o.key,
            descending: o.direction == Some(Direction::Desc),
            start_from,
        })
    }
}

/// A `limit` of 1 or more (0 is Qdrant's 422).
pub(crate) fn limit(v: Option<usize>, at: &str, default: usize) -> Result<usize, ApiError> {
    match v {
        Some(0) => Err(crate::convert::invalid(
            at,
            "value 0 invalid, must be 1 or larger",
        )),
        Some(n) => Ok(n),
        None => Ok(default),
    }
}

/// POST …/points/scroll: a page of points in id order (or by `order_by`).
#[derive(ToSchema, Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"limit": 10, "with_payload": true, "filter": {"must": [{"key": "city", "match": {"value": "Berlin"}}]}}))]
pub(crate) struct ScrollRequest {
    /// Start at this id (the previous page's `next_page_offset`).
    #[schema(value_type = Option<ExtendedPointId>)]
    pub offset: Option<PointId>,
    /// Page size (default 10, at least 1).
    #[schema(minimum = 1)]
    pub limit: Option<usize>,
    pub filter: Option<FilterBody>,
    /// Default `true`.
    pub with_payload: Option<WithPayload>,
    #[serde(alias = "with_vectors")]
    pub with_vector: Option<WithVector>,
    pub order_by: Option<OrderByInterface>,
}

impl ScrollRequest {
    pub(crate) fn into_request(self) -> Result<rvdb_engine::ScrollRequest, ApiError> {
        Ok(rvdb_engine::ScrollRequest {
            filter: optional_filter(self.filter, "filter")?,
            limit: limit(self.limit, "limit", 10)?,
            offset: self.offset,
            order_by: self
                .order_by
                .map(|o| o.into_order_by("order_by"))
                .transpose()?,
            with_payload: self
                .with_payload
                .map_or(rvdb_engine::PayloadSelector::All, Into::into),
            with_vector: self.with_vector.map(Into::into).unwrap_or_default(),
        })
    }
}

/// A body's optional filter (`null` is none).
pub(crate) fn optional_filter(
    f: Option<FilterBody>,
    at: &str,
) -> Result<Option<rvdb_engine::Filter>, ApiError> {
    match f {
        Some(f) => parse_filter(f, at).map(Some),
        None => Ok(None),
    }
}

/// POST …/points/count.
#[derive(ToSchema, Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct CountRequest {
    pub filter: Option<FilterBody>,
    /// Accepted; counts are always exact.
    pub exact: Option<bool>,
}

/// POST …/points with `ids`: retrieve points by id (missing ones are left out).
#[derive(ToSchema, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct PointRequest {
    #[schema(value_type = Vec<ExtendedPointId>)]
    pub ids: Vec<PointId>,
    /// Default `true`.
    pub with_payload: Option<WithPayload>,
    #[serde(alias = "with_vectors")]
    pub with_vector: Option<WithVector>,
}

/// POST …/points: the seed's batch insert (an array of points; a missing id gets a UUIDv4)
/// or Qdrant's retrieve (`{"ids": …}`).
#[derive(ToSchema, Deserialize)]
#[serde(untagged)]
pub(crate) enum PostPoints {
    SeedBatch(Vec<crate::wire::PointBody>),
    Retrieve(PointRequest),
}

/// What POST …/points answers: the seed batch's result or the retrieved points.
#[derive(ToSchema, serde::Serialize)]
#[serde(untagged)]
pub(crate) enum PostPointsResult {
    SeedBatch(SeedUpsertResult),
    Retrieve(Vec<crate::render::RecordOut>),
}

/// The answer to a seed write: the log position and the ids written.
#[derive(ToSchema, serde::Serialize)]
pub(crate) struct SeedUpsertResult {
    pub operation_id: u64,
    /// Always `completed`.
    pub status: &'static str,
    #[schema(value_type = Vec<ExtendedPointId>)]
    pub ids: Vec<PointId>,
}

impl SeedUpsertResult {
    pub(crate) fn of(r: rvdb_engine::UpdateResult, ids: Vec<PointId>) -> Self {
        SeedUpsertResult {
            operation_id: r.operation_id,
            status: "completed",
            ids,
        }
    }
}

/// POST …/points/scroll.
#[derive(ToSchema, serde::Serialize)]
pub(crate) struct ScrollResult {
    pub points: Vec<crate::render::RecordOut>,
    /// The `offset` of the next page; `null` on the last page.
    #[schema(value_type = Option<ExtendedPointId>)]
    pub next_page_offset: Option<PointId>,
}

/// POST …/points/count.
#[derive(ToSchema, serde::Serialize)]
pub(crate) struct CountResult {
    pub count: u64,
}

/// GET …/points: paging by position.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListPointsQuery {
    /// Points to return (default: all).
    pub limit: Option<u64>,
    /// Points to skip (default 0).
    pub offset: Option<u64>,
}

envelope! {
    ScrollResponse => ScrollResult;
    CountResponse => CountResult;
    PostPointsResponse => PostPointsResult;
    SeedUpsertResponse => SeedUpsertResult;
    RecordResponse => crate::render::RecordOut;
    PointsPageResponse => crate::handlers::PointsPage;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::parse_body;

    fn err<T: serde::de::DeserializeOwned + std::fmt::Debug>(body: &str) -> String {
        parse_body::<T>(body.as_bytes()).unwrap_err().message
    }

    #[test]
    fn upserts_parse_straight_into_points() {
        let body = br#"{"points": [{"id": 1, "vector": [0.1, -2e3, 3 ], "payload": {"a": 1}},
                          {"id": "550e8400-e29b-41d4-a716-446655440000", "vector": {"img": [1, 2]}}]}"#;
        let pts = parse_body::<PointInsertOperations>(body)
            .unwrap()
            .into_points("")
            .unwrap();
        assert_eq!(pts[0].vectors[""], vec![0.1f32, -2000.0, 3.0].into());
        assert_eq!(pts[0].payload["a"], 1);
        assert_eq!(pts[1].vectors["img"], vec![1.0f32, 2.0].into());
        let batch = br#"{"batch": {"ids": [1, 2], "vectors": {"a": [[1], [2]]}, "payloads": [null, {"k": "v"}]}}"#;
        let pts = parse_body::<PointInsertOperations>(batch)
            .unwrap()
            .into_points("")
            .unwrap();
        assert_eq!(pts[1].vectors["a"], vec![2.0f32].into());
        assert_eq!(pts[1].payload["k"], "v");
    }

    #[test]
    fn errors_name_the_path_and_the_problem() {
        let e = err::<PointInsertOperations>(
            r#"{"points": [{"id": 1, "vector": [1]}, {"id": -1, "vector": [1]}]}"#,
        );
        assert!(
            e.contains("points[1].id") && e.contains("unsigned integer or a UUID"),
            "{e}"
        );
        // a multivector parses (its rows are checked against the space by the engine); a vector
        // that mixes numbers and rows, or nests deeper, does not
        let pts = parse_body::<PointInsertOperations>(
            br#"{"points": [{"id": 1, "vector": [[1, 2], [3, 4]]}, {"id": 2, "vector": {"c": [[5]]}}]}"#,
        )
        .unwrap()
        .into_points("")
        .unwrap();
        assert_eq!(
            pts[0].vectors[""],
            rvdb_engine::Vector::Multi(vec![vec![1.0, 2.0], vec![3.0, 4.0]])
        );
        assert_eq!(
            pts[1].vectors["c"],
            rvdb_engine::Vector::Multi(vec![vec![5.0]])
        );
        let e = err::<PointInsertOperations>(r#"{"points": [{"id": 1, "vector": [[1, 2], 3]}]}"#);
        assert!(
            e.contains("points[0].vector") && e.contains("mixes numbers and arrays"),
            "{e}"
        );
        let e =
            err::<PointInsertOperations>(r#"{"points": [{"id": 1, "vector": {"c": [[[1]]]}}]}"#);
        assert!(
            e.contains("points[0].vector.c") && e.contains("expected a number, found an array"),
            "{e}"
        );
        let e = err::<PointInsertOperations>(
            r#"{"points": [{"id": 1, "vector": {"s": {"indices": [1, 1], "values": [1, 2]}}}]}"#,
        );
        assert!(
            e.contains("points[0].vector.s") && e.contains("index 1 appears more than once"),
            "{e}"
        );
        let e = err::<PointInsertOperations>(
            r#"{"points": [{"id": 1, "vector": {"s": {"indices": [1, 2], "values": [1]}}}]}"#,
        );
        assert!(
            e.contains("points[0].vector.s") && e.contains("2 indices but 1 values"),
            "{e}"
        );
        let e = err::<PointInsertOperations>(
            r#"{"points": [{"id": 1, "vector": {"indices": [1], "values": [1]}}]}"#,
        );
        assert!(
            e.contains("points[0].vector") && e.contains("sparse vector must be named"),
            "{e}"
        );
        let e = err::<PointInsertOperations>(r#"{"points": [{"id": 1, "vector": ["x"]}]}"#);
        assert!(
            e.contains("points[0].vector[0]") && e.contains("a number"),
            "{e}"
        );
        let e = err::<PointInsertOperations>(r#"{"pts": []}"#);
        assert!(e.contains("unknown field `pts`"), "{e}");
        let e = err::<PointInsertOperations>(r#"{"points": [], "shard_key": "a"}"#);
        assert!(e.contains("shard keys are not supported"), "{e}");
        let e = err::<PointInsertOperations>("{}");
        assert!(e.contains("expected `points` or `batch`"), "{e}");
        let b =
            parse_body::<PointInsertOperations>(br#"{"batch": {"ids": [1, 2], "vectors": [[1]]}}"#)
                .unwrap();
        let e = b.into_points("").unwrap_err().message;
        assert!(e.contains("batch.vectors: 1 vectors for 2 ids"), "{e}");
        let e = err::<UpdateOperations>(
            r#"{"operations": [{"delete": {"points": [1]}}, {"frobnicate": {}}]}"#,
        );
        assert!(
            e.contains("operations[1]") && e.contains("unknown operation `frobnicate`"),
            "{e}"
        );
        let ops = parse_body::<UpdateOperations>(
            br#"{"operations": [{"delete": {"points": [1], "filter": {}}}]}"#,
        )
        .unwrap();
        let e = ops
            .operations
            .into_iter()
            .next()
            .unwrap()
            .into_update("operations[0]")
            .unwrap_err()
            .message;
        assert!(
            e.contains("operations[0].delete: give either `points` or `filter`"),
            "{e}"
        );
        let e = err::<SetPayload>(r#"{"payload": 3, "points": [1]}"#);
        assert!(e.contains("payload") && e.contains("expected a map"), "{e}");
        assert!(err::<SetPayload>(r#"{"payload": {"#).starts_with("Format error in JSON body"));
    }
}
