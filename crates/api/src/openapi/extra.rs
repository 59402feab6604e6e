//! Bodies and answers of facet and the search matrix (parsed and described by the same types),
//! and of the cluster and issues routes (answers only).

use rvdb_engine::PointId;
use serde::Deserialize;
use utoipa::ToSchema;

use super::common::{envelope, ExtendedPointId};
use super::points::{limit, optional_filter, FilterBody};
use crate::ApiError;

/// POST /collections/{name}/facet: how many points that pass `filter` hold each value of
/// `key`. The key needs a `keyword`, `integer`, `bool` or `uuid` payload index.
#[derive(ToSchema, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"key": "city", "limit": 10, "filter": {"must": [{"key": "price", "range": {"lt": 100}}]}}))]
pub(crate) struct FacetRequest {
    /// Payload key to count the values of.
    pub key: String,
    /// Most frequent values to return (default 10, at least 1).
    #[schema(minimum = 1)]
    pub limit: Option<usize>,
    /// Count only points that pass it.
    pub filter: Option<FilterBody>,
    /// Accepted; counts are always exact.
    pub exact: Option<bool>,
}

impl FacetRequest {
    pub(crate) fn into_request(self) -> Result<rvdb_engine::FacetRequest, ApiError> {
        Ok(rvdb_engine::FacetRequest {
            filter: optional_filter(self.filter, "filter")?,
            limit: limit(self.limit, "limit", 10)?,
            key: self.key,
        })
    }
}

/// A value of a facet: a string (keyword or UUID), an integer or a boolean.
#[derive(ToSchema, serde::Serialize)]
#[serde(untagged)]
pub(crate) enum FacetValue {
    String(String),
    Integer(i64),
    Bool(bool),
}

/// One value and how many matching points hold it.
#[derive(ToSchema, serde::Serialize)]
pub(crate) struct FacetValueHit {
    pub value: FacetValue,
    pub count: u64,
}

/// Values by count, highest first (ties: the lower value first).
#[derive(ToSchema, serde::Serialize)]
#[schema(as = FacetResult)]
pub(crate) struct FacetResult {
    pub hits: Vec<FacetValueHit>,
}

impl FacetResult {
    pub(crate) fn of(hits: Vec<rvdb_engine::FacetHit>) -> Self {
        FacetResult {
            hits: hits
                .into_iter()
                .map(|h| FacetValueHit {
                    value: match h.value {
                        rvdb_engine::FacetValue::Str(s) => FacetValue::String(s),
                        rvdb_engine::FacetValue::Int(i) => FacetValue::Integer(i),
                        rvdb_engine::FacetValue::Bool(b) => FacetValue::Bool(b),
                    },
                    count: h.count as u64,
                })
                .collect(),
        }
    }
}

/// POST …/points/search/matrix/pairs and …/offsets: sample points that pass `filter` and find,
/// for each, its `limit` nearest among the other sampled points.
#[derive(ToSchema, Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"sample": 10, "limit": 3, "filter": {"must": [{"key": "city", "match": {"value": "Berlin"}}]}}))]
pub(crate) struct SearchMatrixRequest {
    /// Sample only points that pass it (and have the vector `using`).
    pub filter: Option<FilterBody>,
    /// Points to sample (default 10, at least 2).
    #[schema(minimum = 2)]
    pub sample: Option<usize>,
    /// Neighbours per sampled point (default 3, at least 1).
    #[schema(minimum = 1)]
    pub limit: Option<usize>,
    /// The vector to compare (default: the unnamed vector).
    pub using: Option<String>,
}

impl SearchMatrixRequest {
    pub(crate) fn into_request(self) -> Result<rvdb_engine::MatrixRequest, ApiError> {
        let sample = match self.sample {
            Some(n) if n < 2 => {
                return Err(crate::convert::invalid(
                    "sample",
                    format!("value {n} invalid, must be 2 or larger"),
                ))
            }
            Some(n) => n,
            None => 10,
        };
        Ok(rvdb_engine::MatrixRequest {
            filter: optional_filter(self.filter, "filter")?,
            sample,
            limit: limit(self.limit, "limit", 3)?,
            using: self.using.unwrap_or_default(),
        })
    }
}

/// One pair of sampled points and their score.
#[derive(ToSchema, serde::Serialize)]
pub(crate) struct SearchMatrixPair {
    #[schema(value_type = ExtendedPointId)]
    pub a: PointId,
    #[schema(value_type = ExtendedPointId)]
    pub b: PointId,
    pub score: f32,
}

/// Each sampled point (`a`, in id order) with its nearest others (`b`, best first).
#[derive(ToSchema, serde::Serialize)]
pub(crate) struct SearchMatrixPairsResult {
    pub pairs: Vec<SearchMatrixPair>,
}

/// The matrix in coordinate form: entry `i` is the score of `ids[offsets_row[i]]` against
/// `ids[offsets_col[i]]`.
#[derive(ToSchema, serde::Serialize)]
pub(crate) struct SearchMatrixOffsetsResult {
    pub offsets_row: Vec<u64>,
    pub offsets_col: Vec<u64>,
    pub scores: Vec<f32>,
    /// The sampled points, in id order.
    #[schema(value_type = Vec<ExtendedPointId>)]
    pub ids: Vec<PointId>,
}

impl SearchMatrixPairsResult {
    pub(crate) fn of(m: rvdb_engine::DistanceMatrix) -> Self {
        let pairs = m
            .neighbours
            .iter()
            .enumerate()
            .flat_map(|(i, row)| {
                let ids = &m.ids;
                row.iter().map(move |&(j, score)| SearchMatrixPair {
                    a: ids[i],
                    b: ids[j],
                    score,
                })
            })
            .collect();
        SearchMatrixPairsResult { pairs }
    }
}

impl SearchMatrixOffsetsResult {
    pub(crate) fn of(m: rvdb_engine::DistanceMatrix) -> Self {
        let mut out = SearchMatrixOffsetsResult {
            offsets_row: Vec::new(),
            offsets_col: Vec::new(),
            scores: Vec::new(),
            ids: m.ids,
        };
        for (i, row) in m.neighbours.into_iter().enumerate() {
            for (j, score) in row {
                out.offsets_row.push(i as u64);
                out.offsets_col.push(j as u64);
                out.scores.push(score);
            }
        }
        out
    }
}

envelope! {
    FacetResponse => FacetResult;
    SearchMatrixPairsResponse => SearchMatrixPairsResult;
    SearchMatrixOffsetsResponse => SearchMatrixOffsetsResult;
}

/// GET /cluster on a node without the cluster mode.
#[derive(ToSchema, serde::Serialize)]
pub(crate) struct ClusterStatus {
    /// Always `disabled`: this server is a single node.
    #[schema(example = "disabled")]
    pub status: &'static str,
}

/// One shard held by this node.
#[derive(ToSchema, serde::Serialize)]
pub(crate) struct LocalShardInfo {
    pub shard_id: u32,
    /// Points in the shard.
    pub points_count: u64,
    /// Always `Active`.
    #[schema(example = "Active")]
    pub state: &'static str,
}

/// GET /collections/{name}/cluster: one local shard holding every point; no remote shards and
/// no transfers.
#[derive(ToSchema, serde::Serialize)]
pub(crate) struct CollectionClusterInfo {
    /// This node's id (drawn at random when the server starts).
    pub peer_id: u64,
    pub shard_count: u64,
    pub local_shards: Vec<LocalShardInfo>,
    /// Always empty.
    #[schema(value_type = Vec<Object>)]
    pub remote_shards: Vec<()>,
    /// Always empty.
    #[schema(value_type = Vec<Object>)]
    pub shard_transfers: Vec<()>,
}

/// A problem the server found: a collection that could not be loaded, or a segment of one that
/// was quarantined when it was loaded.
#[derive(ToSchema, serde::Serialize)]
pub(crate) struct IssueRecord {
    pub id: String,
    pub description: String,
    pub solution: IssueSolution,
    /// When the problem was found (RFC 3339), if known.
    pub timestamp: Option<String>,
    pub related_collection: Option<String>,
}

/// What to do about an issue.
#[derive(ToSchema, serde::Serialize)]
pub(crate) struct IssueSolution {
    pub refactor: String,
}

/// GET /issues.
#[derive(ToSchema, serde::Serialize)]
pub(crate) struct IssuesReport {
    pub issues: Vec<IssueRecord>,
}

envelope! {
    ClusterStatusResponse => ClusterStatus;
    CollectionClusterInfoResponse => CollectionClusterInfo;
    IssuesResponse => IssuesReport;
}
