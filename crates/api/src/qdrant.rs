//! Handlers of the Qdrant REST dialect (routes the seed does not have, and the Qdrant side of
//! the shared ones): collections, aliases, payload indexes, point operations, batches, scroll,
//! count, query and its batches and groups, legacy search and recommend. `wait` is parsed on
//! every write: `true` answers once the write is fsynced, otherwise once it is logged.

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use rvdb_engine::{
    AliasAction, Collection, Database, Durability, Lookup, PointUpdate, UpdateResult,
};

use crate::convert::{self};
use crate::extract::{Body, Timer};
use crate::handlers::{blocking, path};
use crate::render;
use crate::{ApiError, AppState};

type ApiResult = Result<Response, ApiError>;
use crate::handlers::{read, read_opts, Params};

/// The version of the Qdrant API this server implements (the client checks it).
pub const QDRANT_API_VERSION: &str = "1.19.0";

#[utoipa::path(get, path = "/", tag = "service",
    responses((status = 200, description = "Name and versions (not in the envelope)", body = crate::openapi::collections::RootInfo)))]
pub(crate) async fn root() -> Response {
    axum::Json(crate::openapi::collections::RootInfo {
        title: "rustvecdb - vector search engine (Qdrant-compatible API)".into(),
        version: QDRANT_API_VERSION.into(),
        rustvecdb_version: env!("CARGO_PKG_VERSION").into(),
    })
    .into_response()
}

/// A 200 with a plain-text body (the probes' answers).
pub(crate) fn plain_text(body: &'static str) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

#[utoipa::path(get, path = "/healthz", tag = "service",
    responses((status = 200, description = "`healthz check passed`", content_type = "text/plain", body = String)))]
pub(crate) async fn healthz() -> Response {
    plain_text("healthz check passed")
}

#[utoipa::path(get, path = "/livez", tag = "service",
    responses((status = 200, description = "`livez check passed`", content_type = "text/plain", body = String)))]
pub(crate) async fn livez() -> Response {
    plain_text("livez check passed")
}

#[utoipa::path(get, path = "/readyz", tag = "service",
    responses((status = 200, description = "`all shards are ready`", content_type = "text/plain", body = String)))]
pub(crate) async fn readyz() -> Response {
    plain_text("all shards are ready")
}

/// `?wait=true` answers "completed" once the write's log record is fsynced; otherwise (Qdrant's
/// default) "acknowledged" as soon as it is appended to the log (and applied: visible to reads).
fn wait(params: Params) -> Result<bool, ApiError> {
    let Query(q) = params
        .map_err(|e| ApiError::bad_request(format!("Bad query string: {}", e.body_text())))?;
    match q.get("wait").map(String::as_str) {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(v) => Err(ApiError::bad_request(format!(
            "Wrong input: wait: expected true or false, got `{v}`"
        ))),
    }
}

fn durability(wait: bool) -> Durability {
    if wait {
        Durability::Fsync
    } else {
        Durability::Logged
    }
}

fn update_json(r: UpdateResult, wait: bool) -> crate::openapi::common::UpdateResult {
    crate::openapi::common::UpdateResult::of(r, wait)
}

fn collection(
    s: &AppState,
    name: Result<Path<String>, PathRejection>,
) -> Result<Arc<Collection>, ApiError> {
    Ok(s.db.collection(&path(name)?)?)
}

#[utoipa::path(get, path = "/collections/{name}/exists", tag = "collections",
    params(crate::openapi::common::CollectionPath),
    responses((status = 200, description = "Whether a collection or alias of that name exists", body = crate::openapi::collections::CollectionExistenceResponse)))]
pub(crate) async fn collection_exists(
    t: Timer,
    State(s): State<AppState>,
    name: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let name = path(name)?;
    // an alias counts, as in Qdrant
    Ok(t.ok(crate::openapi::collections::CollectionExistence {
        exists: s.db.collection(&name).is_ok(),
    }))
}

/// PATCH /collections/{name}.
#[utoipa::path(patch, path = "/collections/{name}", tag = "collections",
    params(crate::openapi::common::CollectionPath), request_body = crate::openapi::collections::UpdateCollection,
    responses((status = 200, description = "Updated", body = crate::openapi::common::BoolResponse)))]
pub(crate) async fn update_collection(
    t: Timer,
    State(s): State<AppState>,
    name: Result<Path<String>, PathRejection>,
    Body(body): Body<crate::openapi::collections::UpdateCollection>,
) -> ApiResult {
    let c = collection(&s, name)?;
    let (settings, vectors, sparse) = body.into_diffs()?;
    blocking(move || c.update_config_with_sparse(&settings, &vectors, &sparse)).await??;
    Ok(t.ok(true))
}

#[utoipa::path(post, path = "/collections/aliases", tag = "aliases",
    request_body = crate::openapi::collections::ChangeAliasesOperation,
    responses(
        (status = 200, description = "All actions applied", body = crate::openapi::common::BoolResponse),
        (status = 409, description = "The alias exists", body = crate::openapi::common::ErrorResponse),
    ))]
pub(crate) async fn update_aliases(
    t: Timer,
    State(s): State<AppState>,
    Body(body): Body<crate::openapi::collections::ChangeAliasesOperation>,
) -> ApiResult {
    let actions: Vec<AliasAction> = body.actions.into_iter().map(Into::into).collect();
    let db = s.db.clone();
    blocking(move || db.update_aliases(&actions)).await??;
    Ok(t.ok(true))
}

fn aliases_json(list: Vec<(String, String)>) -> crate::openapi::collections::CollectionsAliases {
    use crate::openapi::collections::{AliasDescription, CollectionsAliases};
    CollectionsAliases {
        aliases: list
            .into_iter()
            .map(|(alias_name, collection_name)| AliasDescription {
                alias_name,
                collection_name,
            })
            .collect(),
    }
}

#[utoipa::path(get, path = "/aliases", tag = "aliases",
    responses((status = 200, description = "Every alias", body = crate::openapi::collections::CollectionsAliasesResponse)))]
pub(crate) async fn list_aliases(t: Timer, State(s): State<AppState>) -> Response {
    t.ok(aliases_json(s.db.aliases()))
}

#[utoipa::path(get, path = "/collections/{name}/aliases", tag = "aliases",
    params(crate::openapi::common::CollectionPath),
    responses((status = 200, description = "The collection's aliases", body = crate::openapi::collections::CollectionsAliasesResponse)))]
pub(crate) async fn collection_aliases(
    t: Timer,
    State(s): State<AppState>,
    name: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let name = path(name)?;
    if !s.db.collection_exists(&name) {
        return Err(rvdb_engine::EngineError::CollectionNotFound(name).into());
    }
    Ok(t.ok(aliases_json(
        s.db.aliases()
            .into_iter()
            .filter(|(_, c)| *c == name)
            .collect(),
    )))
}

/// PUT /collections/{name}/points: `{"points": […]}` or `{"batch": {…}}`.
#[utoipa::path(put, path = "/collections/{name}/points", tag = "points",
    params(crate::openapi::common::CollectionPath, crate::openapi::common::WaitQuery), request_body = crate::openapi::points::PointInsertOperations,
    responses((status = 200, description = "Stored", body = crate::openapi::common::UpdateResponse)))]
pub(crate) async fn upsert(
    t: Timer,
    State(s): State<AppState>,
    name: Result<Path<String>, PathRejection>,
    params: Params,
    Body(body): Body<crate::openapi::points::PointInsertOperations>,
) -> ApiResult {
    let c = collection(&s, name)?;
    let wait = wait(params)?;
    let points = body.into_points("")?;
    let r = blocking(move || c.upsert_with(points, durability(wait))).await??;
    Ok(t.ok(update_json(r, wait)))
}

/// POST /collections/{name}/points with `{"ids": …}`: retrieve.
pub(crate) async fn retrieve(
    t: Timer,
    s: &AppState,
    opts: crate::handlers::ReadOpts,
    c: Arc<Collection>,
    body: crate::openapi::points::PointRequest,
) -> ApiResult {
    let ids = body.ids;
    let with_payload = body
        .with_payload
        .map_or(rvdb_engine::PayloadSelector::All, Into::into);
    let with_vector: rvdb_engine::VectorSelector =
        body.with_vector.map(Into::into).unwrap_or_default();
    let records = read(s, opts, move || {
        c.retrieve(&ids, &with_payload, &with_vector)
    })
    .await??;
    Ok(t.ok(render::records(records)))
}

async fn run_update(
    t: Timer,
    c: Arc<Collection>,
    params: Params,
    update: PointUpdate,
) -> ApiResult {
    let wait = wait(params)?;
    let r = blocking(move || c.update_with(update, durability(wait))).await??;
    Ok(t.ok(update_json(r, wait)))
}

/// A write route: `$body` is the body parsed as `$schema`, the type that also describes it in
/// the spec (`#[utoipa::path]`, built from the method, path, body type and a description).
macro_rules! update_route {
    ($method:ident $path:literal, $schema:ty, $doc:literal, $name:ident, |$body:ident| $make:expr) => {
        #[doc = $doc]
        #[utoipa::path($method, path = $path, tag = "points", description = $doc,
            params(crate::openapi::common::CollectionPath, crate::openapi::common::WaitQuery),
            request_body = $schema,
            responses((status = 200, description = "Applied", body = crate::openapi::common::UpdateResponse)))]
        pub(crate) async fn $name(
            t: Timer,
            State(s): State<AppState>,
            name: Result<Path<String>, PathRejection>,
            params: Params,
            Body($body): Body<$schema>,
        ) -> ApiResult {
            let c = collection(&s, name)?;
            let update: PointUpdate = $make;
            run_update(t, c, params, update).await
        }
    };
}

use crate::openapi::points as op;
use crate::openapi::search;

update_route!(
    post "/collections/{name}/points/delete", op::PointsSelector,
    "Deletes the points with these ids, or those a filter matches.",
    delete_points, |b| PointUpdate::Delete(b.into_selector("")?)
);
update_route!(
    post "/collections/{name}/points/payload", op::SetPayload,
    "Merges keys into the selected points' payloads.",
    set_payload, |b| b.into_update("")?
);
update_route!(
    put "/collections/{name}/points/payload", op::OverwritePayload,
    "Replaces the selected points' payloads.",
    overwrite_payload, |b| b.into_update("")?
);
update_route!(
    post "/collections/{name}/points/payload/delete", op::DeletePayload,
    "Removes keys from the selected points' payloads.",
    delete_payload, |b| b.into_update("")?
);
update_route!(
    post "/collections/{name}/points/payload/clear", op::PointsSelector,
    "Removes the whole payload of the selected points.",
    clear_payload, |b| PointUpdate::ClearPayload(b.into_selector("")?)
);
update_route!(
    put "/collections/{name}/points/vectors", op::UpdateVectors,
    "Sets vectors of existing points, keeping their other vectors.",
    update_vectors, |b| b.into_update()
);
update_route!(
    post "/collections/{name}/points/vectors/delete", op::DeleteVectors,
    "Drops named vectors of the selected points.",
    delete_vectors, |b| b.into_update("")?
);

/// POST /collections/{name}/points/batch: operations applied in order; the first failure stops.
#[utoipa::path(post, path = "/collections/{name}/points/batch", tag = "points",
    params(crate::openapi::common::CollectionPath, crate::openapi::common::WaitQuery), request_body = crate::openapi::points::UpdateOperations,
    responses((status = 200, description = "One result per operation", body = crate::openapi::common::UpdateBatchResponse)))]
pub(crate) async fn batch_update(
    t: Timer,
    State(s): State<AppState>,
    name: Result<Path<String>, PathRejection>,
    params: Params,
    Body(body): Body<op::UpdateOperations>,
) -> ApiResult {
    let c = collection(&s, name)?;
    let wait = wait(params)?;
    let updates = body
        .operations
        .into_iter()
        .enumerate()
        .map(|(i, o)| o.into_update(&format!("operations[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let results = blocking(move || -> Result<Vec<_>, rvdb_engine::EngineError> {
        updates
            .into_iter()
            .map(|u| {
                c.update_with(u, durability(wait))
                    .map(|r| update_json(r, wait))
            })
            .collect()
    })
    .await??;
    Ok(t.ok(results))
}

/// POST /collections/{name}/points/scroll.
#[utoipa::path(post, path = "/collections/{name}/points/scroll", tag = "points",
    params(crate::openapi::common::CollectionPath, crate::openapi::common::ReadQuery), request_body(content = Option<crate::openapi::points::ScrollRequest>, description = "`null` stands for `{}` (the first 10 points); an empty body is refused"),
    responses((status = 200, description = "A page of points and the next page's offset", body = crate::openapi::points::ScrollResponse)))]
pub(crate) async fn scroll(
    t: Timer,
    State(s): State<AppState>,
    name: Result<Path<String>, PathRejection>,
    params: Params,
    Body(body): Body<Option<op::ScrollRequest>>,
) -> ApiResult {
    let c = collection(&s, name)?;
    let opts = read_opts(params)?;
    let req = body.unwrap_or_default().into_request()?;
    let (records, next) = read(&s, opts, move || c.scroll(&req)).await??;
    Ok(t.ok(op::ScrollResult {
        points: render::records(records),
        next_page_offset: next,
    }))
}

/// POST /collections/{name}/points/count.
#[utoipa::path(post, path = "/collections/{name}/points/count", tag = "points",
    params(crate::openapi::common::CollectionPath, crate::openapi::common::ReadQuery), request_body(content = Option<crate::openapi::points::CountRequest>, description = "`null` stands for `{}` (count every point); an empty body is refused"),
    responses((status = 200, description = "How many points match", body = crate::openapi::points::CountResponse)))]
pub(crate) async fn count(
    t: Timer,
    State(s): State<AppState>,
    name: Result<Path<String>, PathRejection>,
    params: Params,
    Body(body): Body<Option<op::CountRequest>>,
) -> ApiResult {
    let c = collection(&s, name)?;
    let opts = read_opts(params)?;
    let filter = op::optional_filter(body.unwrap_or_default().filter, "filter")?;
    let n = read(&s, opts, move || c.count(filter.as_ref())).await?;
    Ok(t.ok(op::CountResult { count: n as u64 }))
}

type LookupTarget = Option<(Arc<Collection>, Option<String>)>;

fn lookup_collection(
    db: &Database,
    lookup: &Option<(String, Option<String>)>,
) -> Result<LookupTarget, ApiError> {
    lookup
        .as_ref()
        .map(|(name, vector)| Ok((db.collection(name)?, vector.clone())))
        .transpose()
}

fn run_query(
    c: &Collection,
    db: &Database,
    req: &convert::QueryRequest,
) -> Result<Vec<rvdb_engine::ScoredPoint>, ApiError> {
    let lookup = lookup_collection(db, &req.lookup)?;
    let lookup = lookup.as_ref().map(|(c, v)| Lookup {
        collection: c,
        vector: v.clone(),
    });
    Ok(c.query(&req.query, lookup.as_ref())?)
}

/// The result of one query (serialized from the hits directly: f32 scores stay short).
#[derive(serde::Serialize, utoipa::ToSchema)]
#[schema(as = QueryResult)]
pub(crate) struct QueryOut {
    points: Vec<render::ScoredOut>,
}

/// POST /collections/{name}/points/query.
#[utoipa::path(post, path = "/collections/{name}/points/query", tag = "search",
    params(crate::openapi::common::CollectionPath, crate::openapi::common::ReadQuery), request_body = crate::openapi::search::QueryRequest,
    responses((status = 200, description = "Hits, best first", body = crate::openapi::search::QueryResponse)))]
pub(crate) async fn query(
    t: Timer,
    State(s): State<AppState>,
    name: Result<Path<String>, PathRejection>,
    params: Params,
    Body(body): Body<crate::openapi::search::QueryRequest>,
) -> ApiResult {
    let c = collection(&s, name)?;
    let opts = read_opts(params)?;
    let req = body.into_query("")?;
    let db = s.db.clone();
    let hits = read(&s, opts, move || run_query(&c, &db, &req)).await??;
    Ok(t.ok(QueryOut {
        points: render::hits(hits),
    }))
}

/// POST /collections/{name}/points/query/batch.
#[utoipa::path(post, path = "/collections/{name}/points/query/batch", tag = "search",
    params(crate::openapi::common::CollectionPath, crate::openapi::common::ReadQuery), request_body = crate::openapi::search::QueryRequestBatch,
    responses((status = 200, description = "One result per query", body = crate::openapi::search::QueryBatchResponse)))]
pub(crate) async fn query_batch(
    t: Timer,
    State(s): State<AppState>,
    name: Result<Path<String>, PathRejection>,
    params: Params,
    Body(body): Body<crate::openapi::search::QueryRequestBatch>,
) -> ApiResult {
    let c = collection(&s, name)?;
    let opts = read_opts(params)?;
    let reqs = search::each(body.searches, |q, at| q.into_query(at))?;
    let db = s.db.clone();
    let all = read(&s, opts, move || -> Result<Vec<QueryOut>, ApiError> {
        reqs.iter()
            .map(|r| {
                Ok(QueryOut {
                    points: render::hits(run_query(&c, &db, r)?),
                })
            })
            .collect()
    })
    .await??;
    Ok(t.ok(all))
}

/// POST /collections/{name}/points/query/groups.
#[utoipa::path(post, path = "/collections/{name}/points/query/groups", tag = "search",
    params(crate::openapi::common::CollectionPath, crate::openapi::common::ReadQuery), request_body = crate::openapi::search::QueryGroupsRequest,
    responses((status = 200, description = "Groups of hits, best group first", body = crate::openapi::search::GroupsResponse)))]
pub(crate) async fn query_groups(
    t: Timer,
    State(s): State<AppState>,
    name: Result<Path<String>, PathRejection>,
    params: Params,
    Body(body): Body<crate::openapi::search::QueryGroupsRequest>,
) -> ApiResult {
    let c = collection(&s, name)?;
    let opts = read_opts(params)?;
    let (req, group) = body.into_parts()?;
    let db = s.db.clone();
    let groups = read(
        &s,
        opts,
        move || -> Result<search::GroupsResult, ApiError> {
            let lookup = lookup_collection(&db, &req.lookup)?;
            let lookup = lookup.as_ref().map(|(c, v)| Lookup {
                collection: c,
                vector: v.clone(),
            });
            let groups = c.query_groups(&req.query, lookup.as_ref(), &group)?;
            Ok(groups.into())
        },
    )
    .await??;
    Ok(t.ok(groups))
}

#[utoipa::path(post, path = "/collections/{name}/points/search/batch", tag = "search",
    params(crate::openapi::common::CollectionPath, crate::openapi::common::ReadQuery), request_body = crate::openapi::search::SearchRequestBatch,
    responses((status = 200, description = "One list of hits per search", body = crate::openapi::search::SearchBatchResponse)))]
pub(crate) async fn search_batch(
    t: Timer,
    State(s): State<AppState>,
    name: Result<Path<String>, PathRejection>,
    params: Params,
    Body(body): Body<crate::openapi::search::SearchRequestBatch>,
) -> ApiResult {
    let c = collection(&s, name)?;
    let opts = read_opts(params)?;
    let reqs = search::each(body.searches, |q, at| q.into_search(at, false))?;
    let all = read(
        &s,
        opts,
        move || -> Result<Vec<Vec<render::ScoredOut>>, rvdb_engine::EngineError> {
            reqs.iter().map(|r| c.search(r).map(render::hits)).collect()
        },
    )
    .await??;
    Ok(t.ok(all))
}

#[utoipa::path(post, path = "/collections/{name}/points/recommend", tag = "search",
    params(crate::openapi::common::CollectionPath, crate::openapi::common::ReadQuery), request_body = crate::openapi::search::RecommendRequest,
    responses((status = 200, description = "Hits, best first", body = crate::openapi::search::SearchResponse)))]
pub(crate) async fn recommend(
    t: Timer,
    State(s): State<AppState>,
    name: Result<Path<String>, PathRejection>,
    params: Params,
    Body(body): Body<crate::openapi::search::RecommendRequest>,
) -> ApiResult {
    let c = collection(&s, name)?;
    let opts = read_opts(params)?;
    let req = body.into_query("")?;
    let db = s.db.clone();
    let hits = read(&s, opts, move || run_query(&c, &db, &req)).await??;
    Ok(t.ok(render::hits(hits)))
}

#[utoipa::path(post, path = "/collections/{name}/points/recommend/batch", tag = "search",
    params(crate::openapi::common::CollectionPath, crate::openapi::common::ReadQuery), request_body = crate::openapi::search::RecommendRequestBatch,
    responses((status = 200, description = "One list of hits per request", body = crate::openapi::search::SearchBatchResponse)))]
pub(crate) async fn recommend_batch(
    t: Timer,
    State(s): State<AppState>,
    name: Result<Path<String>, PathRejection>,
    params: Params,
    Body(body): Body<crate::openapi::search::RecommendRequestBatch>,
) -> ApiResult {
    let c = collection(&s, name)?;
    let opts = read_opts(params)?;
    let reqs = search::each(body.searches, |q, at| q.into_query(at))?;
    let db = s.db.clone();
    let all = read(
        &s,
        opts,
        move || -> Result<Vec<Vec<render::ScoredOut>>, ApiError> {
            reqs.iter()
                .map(|r| run_query(&c, &db, r).map(render::hits))
                .collect()
        },
    )
    .await??;
    Ok(t.ok(all))
}

/// PUT /collections/{name}/index.
#[utoipa::path(put, path = "/collections/{name}/index", tag = "indexes",
    params(crate::openapi::common::CollectionPath, crate::openapi::common::WaitQuery), request_body = crate::openapi::collections::CreateFieldIndex,
    responses((status = 200, description = "Indexed", body = crate::openapi::common::UpdateResponse)))]
pub(crate) async fn create_index(
    t: Timer,
    State(s): State<AppState>,
    name: Result<Path<String>, PathRejection>,
    params: Params,
    Body(body): Body<crate::openapi::collections::CreateFieldIndex>,
) -> ApiResult {
    let c = collection(&s, name)?;
    let wait = wait(params)?;
    let kind = body.field_schema.kind();
    let field_name = body.field_name;
    let r = blocking(move || c.create_index(&field_name, kind)).await??;
    Ok(t.ok(update_json(r, wait)))
}

/// PUT /collections/{name}/vectors/{vector_name}: adds a vector space to the collection.
#[utoipa::path(put, path = "/collections/{name}/vectors/{vector_name}", tag = "collections",
    params(crate::openapi::common::VectorNamePath, crate::openapi::common::WaitQuery), request_body = crate::openapi::collections::VectorNameConfig,
    responses((status = 200, description = "Created: points written before have no vector in it", body = crate::openapi::common::UpdateResponse)))]
pub(crate) async fn create_vector_name(
    t: Timer,
    State(s): State<AppState>,
    p: Result<Path<(String, String)>, PathRejection>,
    params: Params,
    Body(body): Body<crate::openapi::collections::VectorNameConfig>,
) -> ApiResult {
    let (name, vector_name) = path(p)?;
    let c = s.db.collection(&name)?;
    let wait = wait(params)?;
    let space = body.into_engine()?;
    let r = blocking(move || c.create_vector_name(&vector_name, space)).await??;
    Ok(t.ok(update_json(r, wait)))
}

/// DELETE /collections/{name}/vectors/{vector_name}: drops a vector space and every point's
/// vector in it.
#[utoipa::path(delete, path = "/collections/{name}/vectors/{vector_name}", tag = "collections",
    params(crate::openapi::common::VectorNamePath, crate::openapi::common::WaitQuery),
    responses((status = 200, description = "Dropped", body = crate::openapi::common::UpdateResponse)))]
pub(crate) async fn delete_vector_name(
    t: Timer,
    State(s): State<AppState>,
    p: Result<Path<(String, String)>, PathRejection>,
    params: Params,
) -> ApiResult {
    let (name, vector_name) = path(p)?;
    let c = s.db.collection(&name)?;
    let wait = wait(params)?;
    let r = blocking(move || c.delete_vector_name(&vector_name)).await??;
    Ok(t.ok(update_json(r, wait)))
}

#[utoipa::path(delete, path = "/collections/{name}/index/{field}", tag = "indexes",
    params(crate::openapi::common::IndexPath, crate::openapi::common::WaitQuery),
    responses((status = 200, description = "Dropped", body = crate::openapi::common::UpdateResponse)))]
pub(crate) async fn delete_index(
    t: Timer,
    State(s): State<AppState>,
    p: Result<Path<(String, String)>, PathRejection>,
    params: Params,
) -> ApiResult {
    let (name, field_name) = path(p)?;
    let c = s.db.collection(&name)?;
    let wait = wait(params)?;
    let r = blocking(move || c.delete_index(&field_name)).await??;
    Ok(t.ok(update_json(r, wait)))
}
