//! Search bodies: the universal query (`convert::query_request`), its batch and groups, and the
//! legacy search and recommend (`qdrant::legacy_search`, `qdrant::legacy_recommend`).

use serde::Deserialize;
use utoipa::ToSchema;

use super::common::{envelope, ExtendedPointId, WithPayload, WithVector};
use super::filter::{Filter, SearchFilter};

/// A dense vector, or the id of a stored point whose vector is used.
#[derive(ToSchema, Deserialize)]
#[serde(untagged)]
pub(crate) enum VectorInput {
    Vector(Vec<f32>),
    Id(ExtendedPointId),
}

/// The `query` of POST …/points/query (and of a prefetch): a vector or a point id (nearest
/// neighbours), or one of `nearest`, `recommend`, `fusion`, `rrf`, `order_by`.
#[derive(ToSchema, Deserialize)]
#[serde(untagged)]
pub(crate) enum QueryInterface {
    Vector(Vec<f32>),
    Id(ExtendedPointId),
    Nearest(NearestQuery),
    Recommend(RecommendQuery),
    Fusion(FusionQuery),
    Rrf(RrfQuery),
    OrderBy(OrderByQuery),
}

#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NearestQuery {
    pub nearest: VectorInput,
}

#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RecommendQuery {
    pub recommend: RecommendInput,
}

/// Closer to `positive`, farther from `negative`.
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RecommendInput {
    pub positive: Option<Vec<VectorInput>>,
    pub negative: Option<Vec<VectorInput>>,
    pub strategy: Option<RecommendStrategy>,
}

/// Default `average_vector`.
#[derive(ToSchema, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RecommendStrategy {
    AverageVector,
    BestScore,
    SumScores,
}

/// Fuse the prefetches' results.
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FusionQuery {
    pub fusion: Fusion,
}

#[derive(ToSchema, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Fusion {
    Rrf,
    Dbsf,
}

/// Reciprocal rank fusion with parameters.
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RrfQuery {
    pub rrf: Rrf,
}

#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Rrf {
    /// Default 2.
    pub k: Option<u64>,
    /// One weight per prefetch.
    pub weights: Option<Vec<f32>>,
}

/// Order by a payload key instead of scoring.
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OrderByQuery {
    pub order_by: super::points::OrderByInterface,
}

/// Search parameters (other keys, e.g. `quantization`, are accepted and ignored).
#[derive(ToSchema, Deserialize)]
pub(crate) struct SearchParams {
    /// Beam width of the HNSW search (larger: better recall, slower).
    pub hnsw_ef: Option<u64>,
    /// `true`: exact search, no index.
    pub exact: Option<bool>,
}

/// Where ids in the query are looked up: another collection (and vector name).
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LookupLocation {
    pub collection: String,
    pub vector: Option<String>,
}

/// One prefetch or several.
#[derive(ToSchema, Deserialize)]
#[serde(untagged)]
pub(crate) enum Prefetches {
    Many(Vec<Prefetch>),
    One(Box<Prefetch>),
}

/// A sub-query whose results the outer query rescores or fuses.
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Prefetch {
    #[schema(no_recursion)]
    pub prefetch: Option<Box<Prefetches>>,
    pub query: Option<QueryInterface>,
    /// The vector name to search (default: the unnamed vector).
    pub using: Option<String>,
    pub filter: Option<Filter>,
    pub params: Option<SearchParams>,
    pub score_threshold: Option<f32>,
    #[schema(minimum = 1)]
    pub limit: Option<u64>,
    /// Must equal the query's `lookup_from`.
    pub lookup_from: Option<LookupLocation>,
}

/// POST …/points/query.
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"query": [0.1, 0.2, 0.3, 0.4], "filter": {"must": [{"key": "city", "match": {"value": "Berlin"}}]}, "limit": 3, "with_payload": true}))]
pub(crate) struct QueryRequest {
    pub prefetch: Option<Prefetches>,
    /// Missing: the points in id order (or the prefetches' results).
    pub query: Option<QueryInterface>,
    /// The vector name to search (default: the unnamed vector).
    pub using: Option<String>,
    pub filter: Option<Filter>,
    pub params: Option<SearchParams>,
    /// Leave out points scoring worse.
    pub score_threshold: Option<f32>,
    /// Default 10, at least 1.
    #[schema(minimum = 1)]
    pub limit: Option<u64>,
    pub offset: Option<u64>,
    /// Default `false`.
    pub with_payload: Option<WithPayload>,
    #[serde(alias = "with_vectors")]
    pub with_vector: Option<WithVector>,
    pub lookup_from: Option<LookupLocation>,
}

/// POST …/points/query/batch.
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct QueryRequestBatch {
    pub searches: Vec<QueryRequest>,
}

/// POST …/points/query/groups: a query (the fields of [`QueryRequest`]) whose hits are grouped
/// by a payload key; `limit` is the number of groups.
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct QueryGroupsRequest {
    /// The payload key whose value (a string or an integer) names the group.
    pub group_by: String,
    /// Hits per group (default 3, at least 1).
    #[schema(minimum = 1)]
    pub group_size: Option<u64>,
    pub prefetch: Option<Prefetches>,
    pub query: Option<QueryInterface>,
    pub using: Option<String>,
    pub filter: Option<Filter>,
    pub params: Option<SearchParams>,
    pub score_threshold: Option<f32>,
    /// Groups to return (default 10, at least 1).
    #[schema(minimum = 1)]
    pub limit: Option<u64>,
    pub offset: Option<u64>,
    /// Default `false`.
    pub with_payload: Option<WithPayload>,
    #[serde(alias = "with_vectors")]
    pub with_vector: Option<WithVector>,
    pub lookup_from: Option<LookupLocation>,
}

/// A dense vector of the unnamed space, or a named one.
#[derive(ToSchema, Deserialize)]
#[serde(untagged)]
pub(crate) enum NamedVectorStruct {
    Dense(Vec<f32>),
    Named(NamedVector),
}

#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NamedVector {
    pub name: String,
    pub vector: Vec<f32>,
}

/// POST …/points/search (the seed's search and Qdrant's legacy one) and each search of
/// …/search/batch.
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"vector": [0.1, 0.2, 0.3, 0.4], "limit": 3, "filter": {"city": "Berlin"}}))]
pub(crate) struct SearchRequest {
    pub vector: NamedVectorStruct,
    pub filter: Option<SearchFilter>,
    pub params: Option<SearchParams>,
    /// Default 10, at least 1.
    #[schema(minimum = 1)]
    pub limit: Option<u64>,
    pub offset: Option<u64>,
    pub score_threshold: Option<f32>,
    /// Default `true` on …/points/search, `false` in a batch.
    pub with_payload: Option<WithPayload>,
    #[serde(alias = "with_vectors")]
    pub with_vector: Option<WithVector>,
}

/// POST …/points/search/batch.
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SearchRequestBatch {
    pub searches: Vec<SearchRequest>,
}

/// POST …/points/recommend (Qdrant's legacy recommend).
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RecommendRequest {
    pub positive: Option<Vec<VectorInput>>,
    pub negative: Option<Vec<VectorInput>>,
    pub strategy: Option<RecommendStrategy>,
    pub using: Option<String>,
    pub filter: Option<Filter>,
    pub params: Option<SearchParams>,
    /// Default 10, at least 1.
    #[schema(minimum = 1)]
    pub limit: Option<u64>,
    pub offset: Option<u64>,
    pub score_threshold: Option<f32>,
    /// Default `false`.
    pub with_payload: Option<WithPayload>,
    #[serde(alias = "with_vectors")]
    pub with_vector: Option<WithVector>,
    pub lookup_from: Option<LookupLocation>,
}

/// POST …/points/recommend/batch.
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RecommendRequestBatch {
    pub searches: Vec<RecommendRequest>,
}

/// POST …/points/query/groups.
#[derive(ToSchema)]
pub(crate) struct GroupsResult {
    pub groups: Vec<PointGroup>,
}

#[derive(ToSchema)]
pub(crate) struct PointGroup {
    /// The group's payload value.
    pub id: GroupId,
    pub hits: Vec<crate::render::ScoredOut>,
}

#[derive(ToSchema, serde::Serialize)]
#[serde(untagged)]
pub(crate) enum GroupId {
    String(String),
    Integer(i64),
}

envelope! {
    QueryResponse => crate::qdrant::QueryOut;
    QueryBatchResponse => Vec<crate::qdrant::QueryOut>;
    GroupsResponse => GroupsResult;
    SearchResponse => Vec<crate::render::ScoredOut>;
    SearchBatchResponse => Vec<Vec<crate::render::ScoredOut>>;
}
