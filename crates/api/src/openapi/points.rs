//! Point bodies: upserts, selectors, payload and vector updates, batches, scroll, count and
//! retrieve (`convert::points_list`, `convert::selector`, `qdrant::parse_*`, `qdrant::scroll`).

use std::collections::BTreeMap;

use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::common::{envelope, ExtendedPointId, Payload, VectorStruct, WithPayload, WithVector};
use super::filter::Filter;

/// A point to store (an existing id is replaced).
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"id": 1, "vector": [0.1, 0.2, 0.3, 0.4], "payload": {"city": "Berlin"}}))]
pub(crate) struct PointStruct {
    pub id: ExtendedPointId,
    /// Missing: a point without vectors.
    pub vector: Option<VectorStruct>,
    pub payload: Option<Payload>,
}

/// Points as columns: `ids[i]` gets `vectors[i]` and `payloads[i]`.
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Batch {
    pub ids: Vec<ExtendedPointId>,
    pub vectors: Option<BatchVectorStruct>,
    pub payloads: Option<Vec<Option<Payload>>>,
}

/// One dense vector per id (the unnamed vector), or per vector name one per id.
#[derive(ToSchema, Deserialize)]
#[serde(untagged)]
pub(crate) enum BatchVectorStruct {
    Dense(Vec<Vec<f32>>),
    Named(BTreeMap<String, Vec<Vec<f32>>>),
}

/// PUT /collections/{name}/points: a list of points or a batch.
#[derive(ToSchema, Deserialize)]
#[serde(untagged)]
pub(crate) enum PointInsertOperations {
    List(PointsList),
    Batch(PointsBatch),
}

#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PointsList {
    pub points: Vec<PointStruct>,
}

#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PointsBatch {
    pub batch: Batch,
}

/// Which points: these ids, or those a filter matches.
#[derive(ToSchema, Deserialize)]
#[serde(untagged)]
pub(crate) enum PointsSelector {
    Ids(PointIdsList),
    Filter(FilterSelector),
}

#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PointIdsList {
    pub points: Vec<ExtendedPointId>,
}

#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FilterSelector {
    pub filter: Filter,
}

/// POST …/points/payload: merge `payload` into the selected points' payloads (under `key`
/// when given). Give exactly one of `points` and `filter`.
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"payload": {"seen": true}, "points": [1, 2]}))]
pub(crate) struct SetPayload {
    pub payload: Payload,
    pub points: Option<Vec<ExtendedPointId>>,
    pub filter: Option<Filter>,
    /// A payload path to merge into instead of the top level.
    pub key: Option<String>,
}

/// PUT …/points/payload: replace the selected points' payloads. Give exactly one of `points`
/// and `filter`.
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OverwritePayload {
    pub payload: Payload,
    pub points: Option<Vec<ExtendedPointId>>,
    pub filter: Option<Filter>,
}

/// POST …/points/payload/delete: remove these keys. Give exactly one of `points` and `filter`.
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeletePayload {
    pub keys: Vec<String>,
    pub points: Option<Vec<ExtendedPointId>>,
    pub filter: Option<Filter>,
}

/// PUT …/points/vectors: set these vectors of existing points (others are kept).
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateVectors {
    pub points: Vec<PointVectors>,
}

#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PointVectors {
    pub id: ExtendedPointId,
    pub vector: VectorStruct,
}

/// POST …/points/vectors/delete: drop these named vectors. Give exactly one of `points` and
/// `filter`.
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeleteVectors {
    /// Vector names (at least one).
    #[schema(min_items = 1)]
    pub vector: Vec<String>,
    pub points: Option<Vec<ExtendedPointId>>,
    pub filter: Option<Filter>,
}

/// POST …/points/batch: operations applied in order; the first failure stops the rest.
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateOperations {
    pub operations: Vec<UpdateOperation>,
}

/// One operation: an object with one key naming it.
#[derive(ToSchema, Deserialize)]
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
        #[derive(ToSchema, Deserialize)]
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

/// Order by a payload key: its name (ascending), or the key with a direction and a start.
#[derive(ToSchema, Deserialize)]
#[serde(untagged)]
pub(crate) enum OrderByInterface {
    Key(String),
    Struct(OrderBy),
}

#[derive(ToSchema, Deserialize)]
pub(crate) struct OrderBy {
    pub key: String,
    pub direction: Option<Direction>,
    /// A number, or an RFC 3339 datetime.
    pub start_from: Option<StartFrom>,
}

#[derive(ToSchema, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Direction {
    Asc,
    Desc,
}

#[derive(ToSchema, Deserialize)]
#[serde(untagged)]
pub(crate) enum StartFrom {
    Number(f64),
    #[schema(format = DateTime)]
    Datetime(String),
}

/// POST …/points/scroll: a page of points in id order (or by `order_by`).
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"limit": 10, "with_payload": true, "filter": {"must": [{"key": "city", "match": {"value": "Berlin"}}]}}))]
pub(crate) struct ScrollRequest {
    /// Start at this id (the previous page's `next_page_offset`).
    pub offset: Option<ExtendedPointId>,
    /// Page size (default 10, at least 1).
    #[schema(minimum = 1)]
    pub limit: Option<u64>,
    pub filter: Option<Filter>,
    /// Default `true`.
    pub with_payload: Option<WithPayload>,
    #[serde(alias = "with_vectors")]
    pub with_vector: Option<WithVector>,
    pub order_by: Option<OrderByInterface>,
}

/// POST …/points/count.
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CountRequest {
    pub filter: Option<Filter>,
    /// Accepted; counts are always exact.
    pub exact: Option<bool>,
}

/// POST …/points with `ids`: retrieve points by id (missing ones are left out).
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PointRequest {
    pub ids: Vec<ExtendedPointId>,
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
    pub status: String,
    pub ids: Vec<ExtendedPointId>,
}

/// POST …/points/scroll.
#[derive(ToSchema)]
pub(crate) struct ScrollResult {
    pub points: Vec<crate::render::RecordOut>,
    /// The `offset` of the next page; `null` on the last page.
    pub next_page_offset: Option<ExtendedPointId>,
}

/// POST …/points/count.
#[derive(ToSchema)]
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
