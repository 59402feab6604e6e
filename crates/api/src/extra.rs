//! Handlers of Qdrant's facet and search-matrix reads, and of the cluster and issues routes
//! as a single-node Qdrant without its cluster mode answers them.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::response::Response;

use crate::extract::{Body, Timer};
use crate::handlers::{path, read, read_opts, Params};
use crate::openapi::extra as x;
use crate::{ApiError, AppState};

type ApiResult = Result<Response, ApiError>;

/// POST /collections/{name}/facet.
#[utoipa::path(post, path = "/collections/{name}/facet", tag = "points",
    params(crate::openapi::common::CollectionPath, crate::openapi::common::ReadQuery),
    request_body = crate::openapi::extra::FacetRequest,
    responses((status = 200, description = "Values of the key by count, highest first", body = crate::openapi::extra::FacetResponse)))]
pub(crate) async fn facet(
    t: Timer,
    State(s): State<AppState>,
    name: Result<Path<String>, PathRejection>,
    params: Params,
    Body(body): Body<x::FacetRequest>,
) -> ApiResult {
    let c = s.db.collection(&path(name)?)?;
    let opts = read_opts(params)?;
    let req = body.into_request()?;
    let hits = read(&s, opts, move || c.facet(&req)).await??;
    Ok(t.ok(x::FacetResult::of(hits)))
}

/// POST /collections/{name}/points/search/matrix/pairs.
#[utoipa::path(post, path = "/collections/{name}/points/search/matrix/pairs", tag = "search",
    params(crate::openapi::common::CollectionPath, crate::openapi::common::ReadQuery),
    request_body(content = Option<crate::openapi::extra::SearchMatrixRequest>, description = "`null` stands for `{}`"),
    responses((status = 200, description = "Each sampled point (in id order) with its nearest sampled others, best first", body = crate::openapi::extra::SearchMatrixPairsResponse)))]
pub(crate) async fn matrix_pairs(
    t: Timer,
    State(s): State<AppState>,
    name: Result<Path<String>, PathRejection>,
    params: Params,
    Body(body): Body<Option<x::SearchMatrixRequest>>,
) -> ApiResult {
    let m = matrix(&s, name, params, body).await?;
    Ok(t.ok(x::SearchMatrixPairsResult::of(m)))
}

/// POST /collections/{name}/points/search/matrix/offsets.
#[utoipa::path(post, path = "/collections/{name}/points/search/matrix/offsets", tag = "search",
    params(crate::openapi::common::CollectionPath, crate::openapi::common::ReadQuery),
    request_body(content = Option<crate::openapi::extra::SearchMatrixRequest>, description = "`null` stands for `{}`"),
    responses((status = 200, description = "The sampled points (in id order) and the matrix in coordinate form", body = crate::openapi::extra::SearchMatrixOffsetsResponse)))]
pub(crate) async fn matrix_offsets(
    t: Timer,
    State(s): State<AppState>,
    name: Result<Path<String>, PathRejection>,
    params: Params,
    Body(body): Body<Option<x::SearchMatrixRequest>>,
) -> ApiResult {
    let m = matrix(&s, name, params, body).await?;
    Ok(t.ok(x::SearchMatrixOffsetsResult::of(m)))
}

async fn matrix(
    s: &AppState,
    name: Result<Path<String>, PathRejection>,
    params: Params,
    body: Option<x::SearchMatrixRequest>,
) -> Result<rvdb_engine::DistanceMatrix, ApiError> {
    let c = s.db.collection(&path(name)?)?;
    let opts = read_opts(params)?;
    let req = body.unwrap_or_default().into_request()?;
    Ok(read(s, opts, move || c.search_matrix(&req)).await??)
}

/// Qdrant's answer to cluster operations on a node without the cluster mode.
fn distributed_mode_disabled() -> ApiError {
    ApiError::bad_request(
        "Bad request: Distributed mode disabled: custom sharding (shard keys) and cluster \
         operations need Qdrant's cluster mode; rustvecdb is a single node",
    )
}

/// This node's id, drawn once per process.
fn peer_id() -> u64 {
    static ID: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *ID.get_or_init(|| uuid::Uuid::new_v4().as_u64_pair().0)
}

/// GET /cluster.
#[utoipa::path(get, path = "/cluster", tag = "cluster",
    responses((status = 200, description = "`{\"status\": \"disabled\"}`: a single node, as Qdrant without its cluster mode", body = crate::openapi::extra::ClusterStatusResponse)))]
pub(crate) async fn cluster(t: Timer) -> Response {
    t.ok(x::ClusterStatus { status: "disabled" })
}

/// GET /collections/{name}/cluster.
#[utoipa::path(get, path = "/collections/{name}/cluster", tag = "cluster",
    params(crate::openapi::common::CollectionPath),
    responses((status = 200, description = "One local shard with every point", body = crate::openapi::extra::CollectionClusterInfoResponse)))]
pub(crate) async fn collection_cluster(
    t: Timer,
    State(s): State<AppState>,
    name: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let c = s.db.collection(&path(name)?)?;
    Ok(t.ok(x::CollectionClusterInfo {
        peer_id: peer_id(),
        shard_count: 1,
        local_shards: vec![x::LocalShardInfo {
            shard_id: 0,
            points_count: c.points_count() as u64,
            state: "Active",
        }],
        remote_shards: Vec::new(),
        shard_transfers: Vec::new(),
    }))
}

/// POST /collections/{name}/cluster: refused, as Qdrant without its cluster mode refuses it
/// (the body is not read).
#[utoipa::path(post, path = "/collections/{name}/cluster", tag = "cluster",
    params(crate::openapi::common::CollectionPath),
    request_body(content = Object, description = "Qdrant's `ClusterOperations`; not read"),
    responses((status = 200, description = "Qdrant's answer in cluster mode; never given here: every request is answered 400 `Bad request: Distributed mode disabled…`", body = crate::openapi::common::BoolResponse)))]
pub(crate) async fn update_collection_cluster() -> ApiError {
    distributed_mode_disabled()
}

/// POST /cluster/recover: refused, as Qdrant without its cluster mode refuses it (there is no
/// Raft state to recover).
#[utoipa::path(post, path = "/cluster/recover", tag = "cluster",
    responses((status = 200, description = "Qdrant's answer in cluster mode; never given here: every request is answered 400 `Bad request: Distributed mode disabled…`", body = crate::openapi::common::BoolResponse)))]
pub(crate) async fn recover_cluster() -> ApiError {
    distributed_mode_disabled()
}

/// DELETE /cluster/peer/{peer_id}: refused, as Qdrant without its cluster mode refuses it (the
/// only peer is this node).
#[utoipa::path(delete, path = "/cluster/peer/{peer_id}", tag = "cluster",
    params(("peer_id" = u64, Path, description = "The peer to remove")),
    responses((status = 200, description = "Qdrant's answer in cluster mode; never given here: every request is answered 400 `Bad request: Distributed mode disabled…`", body = crate::openapi::common::BoolResponse)))]
pub(crate) async fn remove_peer() -> ApiError {
    distributed_mode_disabled()
}

/// PUT /collections/{name}/shards: refused (custom sharding needs the cluster mode).
#[utoipa::path(put, path = "/collections/{name}/shards", tag = "cluster",
    params(crate::openapi::common::CollectionPath),
    request_body(content = Object, description = "Qdrant's `CreateShardingKey`; not read"),
    responses((status = 200, description = "Qdrant's answer in cluster mode; never given here: every request is answered 400 `Bad request: Distributed mode disabled…`", body = crate::openapi::common::BoolResponse)))]
pub(crate) async fn create_shard_key() -> ApiError {
    distributed_mode_disabled()
}

/// POST /collections/{name}/shards/delete: refused (custom sharding needs the cluster mode).
#[utoipa::path(post, path = "/collections/{name}/shards/delete", tag = "cluster",
    params(crate::openapi::common::CollectionPath),
    request_body(content = Object, description = "Qdrant's `DropShardingKey`; not read"),
    responses((status = 200, description = "Qdrant's answer in cluster mode; never given here: every request is answered 400 `Bad request: Distributed mode disabled…`", body = crate::openapi::common::BoolResponse)))]
pub(crate) async fn delete_shard_key() -> ApiError {
    distributed_mode_disabled()
}

/// GET /issues: the problems found when loading (collections that could not be loaded,
/// quarantined segments); empty when there are none. Nothing else is diagnosed.
#[utoipa::path(get, path = "/issues", tag = "service",
    responses((status = 200, description = "Problems found, if any", body = crate::openapi::extra::IssuesResponse)))]
pub(crate) async fn issues(t: Timer, State(s): State<AppState>) -> ApiResult {
    let db = s.db.clone();
    let issues = crate::handlers::blocking(move || {
        let mut out: Vec<x::IssueRecord> = db
            .failed_collections()
            .into_iter()
            .map(|(name, reason)| x::IssueRecord {
                id: format!("COLLECTION_NOT_LOADED/{name}"),
                description: format!("Collection `{name}` could not be loaded: {reason}"),
                solution: x::IssueSolution {
                    refactor: "Restore the collection from a snapshot, or delete it".into(),
                },
                timestamp: None,
                related_collection: Some(name),
            })
            .collect();
        for name in db.collection_names() {
            let Ok(c) = db.collection(&name) else {
                continue;
            };
            for (i, problem) in c.info().problems.into_iter().enumerate() {
                out.push(x::IssueRecord {
                    id: format!("QUARANTINED_SEGMENT/{name}/{i}"),
                    description: format!("Collection `{name}`: {problem}"),
                    solution: x::IssueSolution {
                        refactor: "Recover the collection from a snapshot; the quarantined \
                                   segment's points are not served"
                            .into(),
                    },
                    timestamp: None,
                    related_collection: Some(name.clone()),
                });
            }
        }
        out
    })
    .await?;
    Ok(t.ok(x::IssuesReport { issues }))
}

/// DELETE /issues: answers `true`. The problems listed are those of the data as loaded, so they
/// stay listed until the collection is recovered or the server restarts with good data.
#[utoipa::path(delete, path = "/issues", tag = "service",
    responses((status = 200, description = "`true`", body = crate::openapi::common::BoolResponse)))]
pub(crate) async fn clear_issues(t: Timer) -> Response {
    t.ok(true)
}

/// GET /collections/{name}/shards: no shard keys (`null`), as Qdrant answers for a collection
/// sharded automatically.
#[utoipa::path(get, path = "/collections/{name}/shards", tag = "cluster",
    params(crate::openapi::common::CollectionPath),
    responses((status = 200, description = "`{\"shard_keys\": null}`: the collection has no custom sharding", body = crate::openapi::extra::ShardKeysResponse)))]
pub(crate) async fn list_shard_keys(
    t: Timer,
    State(s): State<AppState>,
    name: Result<Path<String>, PathRejection>,
) -> ApiResult {
    s.db.collection(&path(name)?)?;
    Ok(t.ok(x::ShardKeys { shard_keys: None }))
}

/// GET /cluster/telemetry: Qdrant asks every peer it knows for its telemetry; without the
/// cluster mode it knows none and fails with a 500 (`Service internal error: Could not get
/// telemetry from cluster`). Here no request is answered 500, so this is the clear 400 of the
/// other cluster routes, with the same wording after it (GET /telemetry has this node's).
#[utoipa::path(get, path = "/cluster/telemetry", tag = "cluster",
    params(
        ("details_level" = Option<u32>, Query, description = "Accepted; not read"),
        ("timeout" = Option<u64>, Query, description = "Accepted; not read"),
    ),
    responses((status = 200, description = "Qdrant's answer in cluster mode; never given here: every request is answered 400 `Bad request: Distributed mode disabled: could not get telemetry from cluster…` (GET /telemetry reports this node)", body = Object)))]
pub(crate) async fn cluster_telemetry() -> ApiError {
    ApiError::bad_request(
        "Bad request: Distributed mode disabled: could not get telemetry from cluster \
         (there are no peers to ask; GET /telemetry reports this node)",
    )
}

/// The parts `?with=` asks for: (queued, completed, idle_segments).
fn optimizations_with(with: Option<&str>) -> Result<(bool, bool, bool), ApiError> {
    let mut parts = (false, false, false);
    for part in with.unwrap_or("").split(',').map(str::trim) {
        match part {
            "" => {}
            "queued" => parts.0 = true,
            "completed" => parts.1 = true,
            "idle_segments" => parts.2 = true,
            other => {
                return Err(ApiError::bad_request(format!(
                    "Bad query string: with: unknown part `{other}`, expected queued, \
                     completed or idle_segments"
                )))
            }
        }
    }
    Ok(parts)
}

/// GET /collections/{name}/optimizations.
#[utoipa::path(get, path = "/collections/{name}/optimizations", tag = "collections",
    params(crate::openapi::common::CollectionPath, crate::openapi::extra::OptimizationsQuery),
    responses((status = 200, description = "What the optimizer is doing, has queued and has done", body = crate::openapi::extra::OptimizationsResponse)))]
pub(crate) async fn optimizations(
    t: Timer,
    State(s): State<AppState>,
    name: Result<Path<String>, PathRejection>,
    q: Result<
        axum::extract::Query<std::collections::HashMap<String, String>>,
        axum::extract::rejection::QueryRejection,
    >,
) -> ApiResult {
    let q = q
        .map(|axum::extract::Query(q)| q)
        .map_err(|e| ApiError::bad_request(format!("Bad query string: {}", e.body_text())))?;
    let (queued, completed, idle) = optimizations_with(q.get("with").map(String::as_str))?;
    let limit = match q.get("completed_limit") {
        None => 16,
        Some(v) => v.parse::<usize>().map_err(|_| {
            ApiError::bad_request(format!(
                "Bad query string: completed_limit: expected a non-negative integer, got `{v}`"
            ))
        })?,
    };
    let c = s.db.collection(&path(name)?)?;
    let report = crate::handlers::blocking(move || c.optimizations(limit)).await?;
    Ok(t.ok(x::Optimizations::of(report, queued, completed, idle)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_names_the_optional_parts() {
        assert_eq!(optimizations_with(None).unwrap(), (false, false, false));
        assert_eq!(
            optimizations_with(Some("queued, idle_segments")).unwrap(),
            (true, false, true)
        );
        assert_eq!(
            optimizations_with(Some("completed")).unwrap(),
            (false, true, false)
        );
        assert!(optimizations_with(Some("queued,nope")).is_err());
    }
}
