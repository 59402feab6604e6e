//! Thin handlers of the seed routes and of the routes both dialects share: parse, make one
//! engine call on the blocking pool, wrap the result. Where a route is shared the body's shape
//! picks the dialect; reads go to the search executor (`read`).

use std::collections::HashMap;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode, Uri};
use axum::response::Response;
use rvdb_engine::{PointId, PointStruct};
use serde_json::Value;

use crate::extract::{from_value, JsonBody, Timer};
use crate::wire::PointBody;
use crate::{qdrant, render, ApiError, AppState};

type ApiResult = Result<Response, ApiError>;

/// Runs engine work (CPU-bound or fsyncing) off the async workers.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        tracing::error!(error = %e, "blocking task failed");
        unexpected_failure()
    })
}

/// The answer when engine work died without a result (a panic; the log has the details).
fn unexpected_failure() -> ApiError {
    ApiError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        message: "Service internal error: unexpected failure (details in the server log)".into(),
    }
}

/// The query parameters of the read routes (`?timeout=&consistency=`).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct ReadOpts {
    pub timeout: Option<std::time::Duration>,
}

pub(crate) type Params = Result<Query<HashMap<String, String>>, QueryRejection>;

/// Reads `timeout` (whole seconds, at least 1) and checks `consistency` (an integer of at
/// least 1, `majority`, `quorum` or `all`: on one node every value reads the same data).
pub(crate) fn read_opts(params: Params) -> Result<ReadOpts, ApiError> {
    let Query(q) = params
        .map_err(|e| ApiError::bad_request(format!("Bad query string: {}", e.body_text())))?;
    let timeout = match q.get("timeout") {
        None => None,
        Some(v) => match v.parse::<u64>() {
            Ok(n) if n > 0 => Some(std::time::Duration::from_secs(n)),
            _ => {
                return Err(ApiError::bad_request(format!(
                "Wrong input: timeout: expected a whole number of seconds of at least 1, got `{v}`"
            )))
            }
        },
    };
    if let Some(c) = q.get("consistency") {
        let ok = matches!(c.as_str(), "majority" | "quorum" | "all")
            || c.parse::<u64>().is_ok_and(|n| n >= 1);
        if !ok {
            return Err(ApiError::bad_request(format!(
                "Wrong input: consistency: expected an integer of at least 1, `majority`, `quorum` or `all`, got `{c}`"
            )));
        }
    }
    Ok(ReadOpts { timeout })
}

/// Runs a read (search, query, scroll, count, retrieve) on the search executor: in arrival
/// order, at most one per worker at a time. A full queue answers 503 at once; a request whose
/// `timeout` passes answers 408, and is dropped if it has not started.
pub(crate) async fn read<T: Send + 'static>(
    s: &AppState,
    opts: ReadOpts,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let deadline = opts.timeout.map(|t| std::time::Instant::now() + t);
    s.pool
        .submit(move || {
            // the client is gone (disconnected, or answered 408): nothing to do
            if tx.is_closed() || deadline.is_some_and(|d| std::time::Instant::now() >= d) {
                return;
            }
            let _ = tx.send(f());
        })
        .map_err(|o| ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: format!(
                "Service overloaded: {o} for the {} search workers (performance.search_queue_size); retry later",
                s.pool.workers()
            ),
        })?;
    let timed_out = |t: std::time::Duration| ApiError {
        status: StatusCode::REQUEST_TIMEOUT,
        message: format!(
            "Timeout error: the request did not finish within its timeout of {} s",
            t.as_secs()
        ),
    };
    let answer = match opts.timeout {
        Some(t) => tokio::time::timeout(t, rx)
            .await
            .map_err(|_| timed_out(t))?,
        None => rx.await,
    };
    answer.map_err(|_| match opts.timeout {
        Some(t) if deadline.is_some_and(|d| std::time::Instant::now() >= d) => timed_out(t),
        _ => {
            tracing::error!("a read request failed on its search worker");
            unexpected_failure()
        }
    })
}

pub(crate) fn path<T>(p: Result<Path<T>, PathRejection>) -> Result<T, ApiError> {
    p.map(|Path(v)| v)
        .map_err(|e| ApiError::bad_request(format!("Bad path: {}", e.body_text())))
}

fn point_id(raw: &str) -> Result<PointId, ApiError> {
    raw.parse::<PointId>()
        .map_err(|e| ApiError::bad_request(format!("Wrong input: {e}")))
}

#[utoipa::path(get, path = "/health", tag = "service",
    responses((status = 200, description = "The server is up", body = crate::openapi::collections::HealthResponse)))]
pub(crate) async fn health(t: Timer) -> Response {
    t.ok(crate::openapi::collections::HealthInfo {
        status: "ok".into(),
        title: "rustvecdb".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    })
}

#[utoipa::path(get, path = "/stats", tag = "service",
    responses((status = 200, description = "Collections, points, storage and uptime", body = crate::openapi::collections::StatsResponse)))]
pub(crate) async fn stats(t: Timer, State(s): State<AppState>) -> ApiResult {
    let db = s.db.clone();
    let stats = blocking(move || db.stats()).await?;
    let uptime = s.started.elapsed().as_secs();
    Ok(t.ok(crate::openapi::collections::DatabaseStats::of(
        stats, uptime,
    )))
}

#[utoipa::path(get, path = "/collections", tag = "collections",
    responses((status = 200, description = "The collections' names", body = crate::openapi::collections::CollectionsListResponse)))]
pub(crate) async fn list_collections(t: Timer, State(s): State<AppState>) -> Response {
    let names = s.db.collection_names();
    t.ok(crate::openapi::collections::CollectionsList {
        collections: names
            .into_iter()
            .map(|name| crate::openapi::collections::CollectionDescription { name })
            .collect(),
    })
}

/// PUT /collections/{name}: the seed's `{"name", "distance"}` or Qdrant's `{"vectors": {…}}`.
#[utoipa::path(put, path = "/collections/{name}", tag = "collections",
    params(crate::openapi::common::CollectionPath), request_body = crate::openapi::collections::CreateCollection,
    responses(
        (status = 200, description = "Created", body = crate::openapi::common::BoolResponse),
        (status = 409, description = "A collection of that name exists", body = crate::openapi::common::ErrorResponse),
    ))]
pub(crate) async fn create_collection(
    t: Timer,
    State(s): State<AppState>,
    name: Result<Path<String>, PathRejection>,
    crate::extract::Body(body): crate::extract::Body<crate::openapi::collections::CreateCollection>,
) -> ApiResult {
    let name = path(name)?;
    if let Some(body_name) = &body.name {
        if *body_name != name {
            return Err(ApiError::bad_request(format!(
                "Wrong input: name: the body says \"{body_name}\" but the path says `{name}`"
            )));
        }
    }
    let config = body.into_config()?;
    let db = s.db.clone();
    blocking(move || db.create_collection(&name, config)).await??;
    Ok(t.ok(true))
}

/// Qdrant's CollectionInfo shape.
#[utoipa::path(get, path = "/collections/{name}", tag = "collections",
    params(crate::openapi::common::CollectionPath),
    responses((status = 200, description = "Status, sizes and configuration", body = crate::openapi::collections::CollectionInfoResponse)))]
pub(crate) async fn get_collection(
    t: Timer,
    State(s): State<AppState>,
    name: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let c = s.db.collection(&path(name)?)?;
    let info = blocking(move || c.info()).await?;
    Ok(t.ok(crate::openapi::collections::CollectionInfo::from(&info)))
}

/// Deletes a collection; a missing one answers `result: false` (as Qdrant does).
#[utoipa::path(delete, path = "/collections/{name}", tag = "collections",
    params(crate::openapi::common::CollectionPath),
    responses((status = 200, description = "`true` if it existed, `false` if not", body = crate::openapi::common::BoolResponse)))]
pub(crate) async fn delete_collection(
    t: Timer,
    State(s): State<AppState>,
    name: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let name = path(name)?;
    let db = s.db.clone();
    let existed = blocking(move || db.delete_collection(&name)).await??;
    Ok(t.ok(existed))
}

fn to_point(body: PointBody) -> PointStruct {
    PointStruct::new(
        body.id.unwrap_or_else(PointId::new_uuid),
        body.vector,
        body.payload.unwrap_or_default(),
    )
}

/// PUT /collections/{name}/points/{id}: one point, `{"vector", "payload"}`.
#[utoipa::path(put, path = "/collections/{name}/points/{id}", tag = "points",
    params(crate::openapi::common::PointPath), request_body = crate::wire::PointBody,
    responses((status = 200, description = "Stored", body = crate::openapi::points::SeedUpsertResponse)))]
pub(crate) async fn put_point(
    t: Timer,
    State(s): State<AppState>,
    p: Result<Path<(String, String)>, PathRejection>,
    JsonBody(body): JsonBody,
) -> ApiResult {
    let (name, raw_id) = path(p)?;
    let id = point_id(&raw_id)?;
    let body: PointBody = from_value(body, "")?;
    if body.id.is_some_and(|b| b != id) {
        return Err(ApiError::bad_request(format!(
            "Wrong input: id: the body's id differs from the path's `{id}`"
        )));
    }
    let c = s.db.collection(&name)?;
    let point = PointStruct::new(id, body.vector, body.payload.unwrap_or_default());
    let r = blocking(move || c.upsert(vec![point])).await??;
    Ok(t.ok(crate::openapi::points::SeedUpsertResult::of(r, vec![id])))
}

/// POST /collections/{name}/points: a JSON array of points is a seed batch upsert; an object
/// with `ids` is Qdrant's retrieve.
#[utoipa::path(post, path = "/collections/{name}/points", tag = "points",
    params(crate::openapi::common::CollectionPath, crate::openapi::common::ReadQuery), request_body = crate::openapi::points::PostPoints,
    responses((status = 200, description = "The batch's result, or the retrieved points", body = crate::openapi::points::PostPointsResponse)))]
pub(crate) async fn post_points(
    t: Timer,
    State(s): State<AppState>,
    name: Result<Path<String>, PathRejection>,
    params: Params,
    JsonBody(body): JsonBody,
) -> ApiResult {
    let name = path(name)?;
    let c = s.db.collection(&name)?;
    let items = match body {
        Value::Array(items) => items,
        Value::Object(m) if m.contains_key("ids") => {
            let req = crate::extract::parse_value(Value::Object(m))?;
            return qdrant::retrieve(t, &s, read_opts(params)?, c, req).await;
        }
        _ => {
            return Err(ApiError::bad_request(
                "Wrong input: expected a JSON array of points [{\"id\"?, \"vector\", \"payload\"?}, …] or {\"ids\": […]}",
            ))
        }
    };
    let points = items
        .into_iter()
        .enumerate()
        .map(|(i, v)| from_value::<PointBody>(v, &format!("points[{i}]")).map(to_point))
        .collect::<Result<Vec<_>, _>>()?;
    let ids: Vec<PointId> = points.iter().map(|p| p.id).collect();
    let r = blocking(move || c.upsert(points)).await??;
    Ok(t.ok(crate::openapi::points::SeedUpsertResult::of(r, ids)))
}

/// One page of GET …/points.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(crate) struct PointsPage {
    points: Vec<render::RecordOut>,
    /// Points in the collection.
    total: usize,
    /// The `offset` of the next page; `null` on the last page.
    next_offset: Option<usize>,
}

fn query_usize(q: &HashMap<String, String>, key: &str) -> Result<Option<usize>, ApiError> {
    q.get(key)
        .map(|v| {
            v.parse::<usize>().map_err(|_| {
                ApiError::bad_request(format!(
                    "Wrong input: {key}: expected a non-negative integer, got `{v}`"
                ))
            })
        })
        .transpose()
}

/// GET /collections/{name}/points[?limit=&offset=]: points in id order.
#[utoipa::path(get, path = "/collections/{name}/points", tag = "points",
    params(crate::openapi::common::CollectionPath, crate::openapi::points::ListPointsQuery),
    responses((status = 200, description = "A page of points in id order", body = crate::openapi::points::PointsPageResponse)))]
pub(crate) async fn list_points(
    t: Timer,
    State(s): State<AppState>,
    name: Result<Path<String>, PathRejection>,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> ApiResult {
    let c = s.db.collection(&path(name)?)?;
    let Query(q) =
        q.map_err(|e| ApiError::bad_request(format!("Bad query string: {}", e.body_text())))?;
    let offset = query_usize(&q, "offset")?.unwrap_or(0);
    let limit = query_usize(&q, "limit")?.unwrap_or(usize::MAX);
    let (points, total) = blocking(move || c.list(offset, limit)).await?;
    let end = offset.saturating_add(points.len());
    let next_offset = (end < total).then_some(end);
    Ok(t.ok(PointsPage {
        points: render::records(points),
        total,
        next_offset,
    }))
}

#[utoipa::path(get, path = "/collections/{name}/points/{id}", tag = "points",
    params(crate::openapi::common::PointPath),
    responses((status = 200, description = "The point, with payload and vectors", body = crate::openapi::points::RecordResponse)))]
pub(crate) async fn get_point(
    t: Timer,
    State(s): State<AppState>,
    p: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult {
    let (name, raw_id) = path(p)?;
    let id = point_id(&raw_id)?;
    let c = s.db.collection(&name)?;
    match c.get(id) {
        Some(r) => Ok(t.ok(render::RecordOut::from(r))),
        None => Err(rvdb_engine::EngineError::PointNotFound(id).into()),
    }
}

#[utoipa::path(delete, path = "/collections/{name}/points/{id}", tag = "points",
    params(crate::openapi::common::PointPath),
    responses((status = 200, description = "Deleted (404 if it did not exist)", body = crate::openapi::common::UpdateResponse)))]
pub(crate) async fn delete_point(
    t: Timer,
    State(s): State<AppState>,
    p: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult {
    let (name, raw_id) = path(p)?;
    let id = point_id(&raw_id)?;
    let c = s.db.collection(&name)?;
    let r = blocking(move || c.delete_existing(id)).await??;
    Ok(t.ok(r))
}

/// POST /collections/{name}/points/search: the seed's search and Qdrant's legacy one
/// (`with_payload` defaults to true here, as the seed's users expect).
#[utoipa::path(post, path = "/collections/{name}/points/search", tag = "search",
    params(crate::openapi::common::CollectionPath, crate::openapi::common::ReadQuery), request_body = crate::openapi::search::SearchRequest,
    responses((status = 200, description = "Hits, best first (payloads included by default)", body = crate::openapi::search::SearchResponse)))]
pub(crate) async fn search(
    t: Timer,
    State(s): State<AppState>,
    name: Result<Path<String>, PathRejection>,
    params: Params,
    crate::extract::Body(body): crate::extract::Body<crate::openapi::search::SearchRequest>,
) -> ApiResult {
    let c = s.db.collection(&path(name)?)?;
    let opts = read_opts(params)?;
    let req = body.into_search("", true)?;
    let hits = read(&s, opts, move || c.search(&req)).await??;
    Ok(t.ok(render::hits(hits)))
}

pub(crate) async fn no_route(method: Method, uri: Uri) -> ApiError {
    ApiError::not_found(format!("Not found: no route for {method} {}", uri.path()))
}

pub(crate) async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError {
        status: StatusCode::METHOD_NOT_ALLOWED,
        message: format!("Method {method} is not allowed on {}", uri.path()),
    }
}
