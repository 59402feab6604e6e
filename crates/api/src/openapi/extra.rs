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

/// GET /collections/{name}/shards: the collection's shard keys.
#[derive(ToSchema, serde::Serialize)]
pub(crate) struct ShardKeys {
    /// Only collections with custom sharding have shard keys; a collection here is sharded
    /// automatically (custom sharding needs the cluster mode), so this is always `null`.
    #[schema(value_type = Option<Vec<Object>>)]
    pub shard_keys: Option<Vec<()>>,
}

/// `?with=&completed_limit=` of GET /collections/{name}/optimizations.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct OptimizationsQuery {
    /// Optional parts of the answer, comma-separated: `queued`, `completed`, `idle_segments`.
    pub with: Option<String>,
    /// Most completed optimizations to list, newest first (default 16; the last 128 are kept).
    #[param(minimum = 0)]
    pub completed_limit: Option<u64>,
}

/// A segment taking part in an optimization (or left alone).
#[derive(ToSchema, serde::Serialize)]
pub(crate) struct OptimizationSegmentInfo {
    /// The segment's UUID (made from its id; the appendable segment is `…-000000000000`).
    pub uuid: String,
    /// Points in it that are not deleted.
    pub points_count: u64,
}

impl OptimizationSegmentInfo {
    fn of(s: rvdb_engine::OptimizationSegment) -> Self {
        OptimizationSegmentInfo {
            uuid: s.uuid,
            points_count: s.points_count as u64,
        }
    }
}

/// Timing of an optimization (no finer progress is measured: `done`, `total` and `children`
/// are not given).
#[derive(ToSchema, serde::Serialize)]
pub(crate) struct ProgressTree {
    /// The optimizer's name.
    pub name: String,
    /// RFC 3339, UTC.
    pub started_at: Option<String>,
    /// RFC 3339, UTC; once finished.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// Seconds it took, once finished.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_sec: Option<f64>,
}

/// One optimization, running or done.
#[derive(ToSchema, serde::Serialize)]
pub(crate) struct OptimizationOut {
    /// The UUID of the segment it makes (for `indexing`, the segment indexed in place).
    pub uuid: String,
    /// `indexing` (a segment's graphs are built), `merge` (segments folded or merged into one)
    /// or `vacuum` (a segment with many deleted points rewritten).
    pub optimizer: &'static str,
    /// `optimizing` or `done`.
    #[schema(example = "done")]
    pub status: &'static str,
    pub segments: Vec<OptimizationSegmentInfo>,
    pub progress: ProgressTree,
}

impl OptimizationOut {
    fn of(o: rvdb_engine::Optimization) -> Self {
        OptimizationOut {
            uuid: o.uuid,
            optimizer: o.optimizer,
            status: if o.done { "done" } else { "optimizing" },
            segments: o
                .segments
                .into_iter()
                .map(OptimizationSegmentInfo::of)
                .collect(),
            progress: ProgressTree {
                name: o.optimizer.to_string(),
                started_at: Some(o.started_at),
                duration_sec: o.done.then_some(o.duration_sec),
                finished_at: o.finished_at,
            },
        }
    }
}

/// An optimization the optimizer would run next.
#[derive(ToSchema, serde::Serialize)]
pub(crate) struct PendingOptimizationOut {
    pub optimizer: &'static str,
    pub segments: Vec<OptimizationSegmentInfo>,
}

/// Counts over the queue and the idle segments.
#[derive(ToSchema, serde::Serialize)]
pub(crate) struct OptimizationsSummary {
    /// Optimizations queued (each makes one segment of one or more).
    pub queued_optimizations: u64,
    /// Segments in the queue.
    pub queued_segments: u64,
    /// Points in the segments in the queue.
    pub queued_points: u64,
    /// Segments no optimization running or queued touches.
    pub idle_segments: u64,
}

/// GET /collections/{name}/optimizations: what the optimizer is doing, has queued (estimated
/// from the segments as they are now, in the order it would take them) and has done.
#[derive(ToSchema, serde::Serialize)]
pub(crate) struct Optimizations {
    pub summary: OptimizationsSummary,
    /// At most one: the optimizer does one thing at a time per collection.
    pub running: Vec<OptimizationOut>,
    /// With `?with=queued`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queued: Option<Vec<PendingOptimizationOut>>,
    /// With `?with=completed`: newest first, at most `completed_limit`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed: Option<Vec<OptimizationOut>>,
    /// With `?with=idle_segments`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle_segments: Option<Vec<OptimizationSegmentInfo>>,
}

impl Optimizations {
    pub(crate) fn of(
        r: rvdb_engine::OptimizationsReport,
        queued: bool,
        completed: bool,
        idle: bool,
    ) -> Self {
        let summary = OptimizationsSummary {
            queued_optimizations: r.queued.len() as u64,
            queued_segments: r.queued.iter().map(|q| q.segments.len() as u64).sum(),
            queued_points: r
                .queued
                .iter()
                .flat_map(|q| q.segments.iter().map(|s| s.points_count as u64))
                .sum(),
            idle_segments: r.idle_segments.len() as u64,
        };
        Optimizations {
            summary,
            running: r.running.into_iter().map(OptimizationOut::of).collect(),
            queued: queued.then(|| {
                r.queued
                    .into_iter()
                    .map(|q| PendingOptimizationOut {
                        optimizer: q.optimizer,
                        segments: q
                            .segments
                            .into_iter()
                            .map(OptimizationSegmentInfo::of)
                            .collect(),
                    })
                    .collect()
            }),
            completed: completed
                .then(|| r.completed.into_iter().map(OptimizationOut::of).collect()),
            idle_segments: idle.then(|| {
                r.idle_segments
                    .into_iter()
                    .map(OptimizationSegmentInfo::of)
                    .collect()
            }),
        }
    }
}

/// PUT /quotas: limits on this node's resources; each unset limit leaves its resource
/// uncapped, and nothing is enforced while `enabled` is false. Past a limit, updates that add
/// data (upserts, vector and payload changes, batches) are answered 507; deleting points, reads
/// and everything else go on.
#[derive(ToSchema, Deserialize, serde::Serialize, Debug, Default)]
#[schema(as = QuotaConfig, example = json!({"enabled": true, "max_disk_usage_percent": 90}))]
pub(crate) struct QuotaConfigBody {
    /// Whether the limits are enforced (default false).
    #[serde(default)]
    pub enabled: bool,
    /// Refuse updates once the process's resident memory reaches this percentage of the memory
    /// available to it (the cgroup limit where one applies, else total memory).
    #[schema(minimum = 1, maximum = 100)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_resident_memory_percent: Option<u8>,
    /// Refuse updates once the file system holding the storage directory is filled to this
    /// percentage (not enforced in memory, where there is no storage directory).
    #[schema(minimum = 1, maximum = 100)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_disk_usage_percent: Option<u8>,
    /// Percentage points a resource must fall below its limit before updates are taken again
    /// (default 5; 0: as soon as it is under the limit).
    #[schema(minimum = 0, maximum = 100)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_margin_percent: Option<u8>,
}

impl QuotaConfigBody {
    pub(crate) fn into_config(self) -> rvdb_engine::QuotaConfig {
        rvdb_engine::QuotaConfig {
            enabled: self.enabled,
            max_resident_memory_percent: self.max_resident_memory_percent,
            max_disk_usage_percent: self.max_disk_usage_percent,
            release_margin_percent: self.release_margin_percent,
        }
    }

    pub(crate) fn of(c: rvdb_engine::QuotaConfig) -> Self {
        QuotaConfigBody {
            enabled: c.enabled,
            max_resident_memory_percent: c.max_resident_memory_percent,
            max_disk_usage_percent: c.max_disk_usage_percent,
            release_margin_percent: c.release_margin_percent,
        }
    }
}

/// Usage of the quota-managed resources on this node; `null` where it cannot be measured.
#[derive(ToSchema, serde::Serialize)]
pub(crate) struct QuotaUsage {
    /// The process's resident memory, in percent of the memory available to it.
    pub resident_memory_percent: Option<u8>,
    /// How full the storage directory's file system is, in percent (`null` in memory).
    pub disk_usage_percent: Option<u8>,
}

/// GET /quotas: the quota in force and this node's usage (no `peers`: a single node).
#[derive(ToSchema, serde::Serialize)]
pub(crate) struct QuotaStatus {
    pub config: QuotaConfigBody,
    pub usage: QuotaUsage,
}

envelope! {
    ShardKeysResponse => ShardKeys;
    OptimizationsResponse => Optimizations;
    QuotaStatusResponse => QuotaStatus;
}
