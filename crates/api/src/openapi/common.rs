//! Shapes many routes share: the envelopes, point ids, payloads, vectors and selectors.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

/// Qdrant's error envelope: every 4xx and 5xx answer has this shape.
#[derive(ToSchema)]
#[schema(example = json!({"status": {"error": "Not found: Collection `docs` doesn't exist!"}, "time": 0.0}))]
pub(crate) struct ErrorResponse {
    pub status: ErrorStatus,
    /// Seconds spent on the request (0 for errors).
    pub time: f64,
}

/// What went wrong, for a person to read (the field that was rejected is named).
#[derive(ToSchema)]
pub(crate) struct ErrorStatus {
    pub error: String,
}

/// A success envelope `{"result": …, "status": "ok", "time": seconds}`, one named schema per
/// result type (OpenAPI 3.1 has no generics).
macro_rules! envelope {
    ($($(#[$doc:meta])* $name:ident => $result:ty;)*) => {$(
        $(#[$doc])*
        #[derive(utoipa::ToSchema)]
        pub(crate) struct $name {
            pub result: $result,
            /// Always `ok`.
            #[schema(example = "ok")]
            pub status: String,
            /// Seconds the server spent on the request.
            pub time: f64,
        }
    )*};
}
pub(crate) use envelope;

envelope! {
    /// `true` when the operation was applied (`false`: e.g. the collection did not exist).
    BoolResponse => bool;
    /// The result of a write.
    UpdateResponse => UpdateResult;
    /// One result per operation of the batch, in order.
    UpdateBatchResponse => Vec<UpdateResult>;
}

/// An unsigned integer or a UUID string (any of its usual spellings; answered hyphenated).
#[derive(ToSchema, Deserialize, serde::Serialize)]
#[serde(untagged)]
pub(crate) enum ExtendedPointId {
    #[schema(example = 42)]
    Integer(u64),
    #[schema(example = "550e8400-e29b-41d4-a716-446655440000")]
    Uuid(String),
}

/// A point's payload: any JSON object (`null` or missing: no payload).
#[derive(ToSchema, Deserialize)]
#[serde(transparent)]
#[schema(example = json!({"city": "Berlin", "price": 11.5, "tags": ["new"]}))]
pub(crate) struct Payload(pub BTreeMap<String, Value>);

/// A point's vectors: one dense vector (the unnamed vector) or an object of named dense
/// vectors. Sparse vectors, multi-vectors and inference objects are refused.
#[derive(ToSchema, Deserialize)]
#[serde(untagged)]
pub(crate) enum VectorStruct {
    Dense(Vec<f32>),
    Named(BTreeMap<String, Vec<f32>>),
}

/// What of the payload to return: everything (`true`), nothing (`false`), these keys, or a
/// selector.
#[derive(ToSchema, Deserialize)]
#[serde(untagged)]
pub(crate) enum WithPayload {
    All(bool),
    Keys(Vec<String>),
    Include(PayloadInclude),
    Exclude(PayloadExclude),
}

/// Only these payload keys.
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PayloadInclude {
    pub include: Vec<String>,
}

/// Every payload key but these.
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PayloadExclude {
    pub exclude: Vec<String>,
}

/// Which vectors to return: all (`true`), none (`false`, the default), or these names
/// (`with_vectors` is accepted as another spelling of the field).
#[derive(ToSchema, Deserialize)]
#[serde(untagged)]
pub(crate) enum WithVector {
    All(bool),
    Names(Vec<String>),
}

/// The answer to a write.
#[derive(ToSchema)]
pub(crate) struct UpdateResult {
    /// The write's sequence number in the collection's log.
    pub operation_id: u64,
    /// `completed` with `?wait=true` (or on the seed's routes), else `acknowledged`; the write
    /// is durable and visible in both cases.
    pub status: UpdateStatus,
}

#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub(crate) enum UpdateStatus {
    Acknowledged,
    Completed,
}

/// The collection in the path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct CollectionPath {
    /// Name of the collection (or of an alias of it).
    pub name: String,
}

/// A point of the collection in the path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct PointPath {
    /// Name of the collection (or of an alias of it).
    pub name: String,
    /// The point's id: an unsigned integer or a UUID.
    pub id: String,
}

/// A payload index of the collection in the path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct IndexPath {
    /// Name of the collection (or of an alias of it).
    pub name: String,
    /// The indexed payload key.
    pub field: String,
}

/// `?wait=`: when the write is answered.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct WaitQuery {
    /// `true`: answer `completed` once the write's log record is fsynced (concurrent writers
    /// share fsyncs); `false` (the default): `acknowledged` once it is appended to the log and
    /// applied (visible to reads, kept through a crash of the process, fsynced within
    /// milliseconds).
    pub wait: Option<bool>,
}

/// `?timeout=&consistency=` of the read routes.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ReadQuery {
    /// Seconds the request may take, waiting for a search worker included; past it the answer
    /// is 408 and the request is dropped if it has not started.
    pub timeout: Option<u64>,
    /// Which replicas must answer: an integer of at least 1, `majority`, `quorum` or `all`.
    /// A single node holds every replica, so each value reads the same data.
    pub consistency: Option<String>,
}
