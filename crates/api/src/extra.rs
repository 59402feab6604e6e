//! Handlers of Qdrant's facet and search-matrix reads.

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
