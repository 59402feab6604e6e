//! The OpenAPI 3.1 description of the HTTP API, derived from the code: every handler carries a
//! `#[utoipa::path]` (method, path, parameters, body, answers) and every body a schema type.
//!
//! Most bodies are parsed by hand from JSON (`convert`, `qdrant`), so their schemas are typed
//! structs in this module kept beside those parsers; the tests below feed example bodies to
//! both. The filter DSL's schemas are the types that parse it (`rvdb_filter::wire`). Response
//! shapes that already are typed structs (`render::RecordOut`, `render::ScoredOut`,
//! `qdrant::QueryOut`, `handlers::PointsPage`, `wire::PointBody`) derive their schema directly.
//!
//! GET /openapi.json serves the spec; `rustvecdb openapi` prints it; `docs/openapi.json` is the
//! committed copy, and `tests/openapi.rs` fails when it drifts (`make openapi` regenerates it).

// Schema types describe bodies; they are never built, only read in tests.
#![allow(dead_code)]

pub(crate) mod collections;
pub(crate) mod common;
pub(crate) mod extra;
pub(crate) mod filter;
pub(crate) mod points;
pub(crate) mod search;
pub(crate) mod snapshots;

use std::sync::LazyLock;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{
    ContentBuilder, HttpMethod, Ref, RefOr, ResponseBuilder, SecurityRequirement,
};
use utoipa::{Modify, OpenApi};

use crate::{dashboard, extra as ex, handlers, metrics, qdrant, snapshots as snap};

/// The spec's root: every documented route, with the conventions added by [`Conventions`].
#[derive(OpenApi)]
#[openapi(
    info(
        title = "rustvecdb",
        description = "A vector database with a Qdrant-compatible REST API.\n\n\
            Answers are JSON in Qdrant's envelope: `{\"result\": …, \"status\": \"ok\", \"time\": seconds}`; \
            errors are `{\"status\": {\"error\": \"…\"}, \"time\": 0}` with a 4xx or 5xx status. \
            With an API key configured, every route but `/`, the probes and the dashboard needs \
            the key in an `api-key` header or as `Authorization: Bearer <key>`; a read-only key \
            may only read.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        qdrant::root,
        qdrant::healthz,
        qdrant::livez,
        qdrant::readyz,
        handlers::health,
        handlers::stats,
        metrics::metrics,
        metrics::telemetry,
        openapi_json,
        dashboard::index,
        dashboard::slash,
        dashboard::asset,
        handlers::list_collections,
        handlers::create_collection,
        handlers::get_collection,
        qdrant::update_collection,
        handlers::delete_collection,
        qdrant::collection_exists,
        qdrant::list_aliases,
        qdrant::update_aliases,
        qdrant::collection_aliases,
        qdrant::create_index,
        qdrant::delete_index,
        qdrant::create_vector_name,
        qdrant::delete_vector_name,
        handlers::post_points,
        handlers::list_points,
        qdrant::upsert,
        handlers::put_point,
        handlers::get_point,
        handlers::delete_point,
        qdrant::delete_points,
        qdrant::set_payload,
        qdrant::overwrite_payload,
        qdrant::delete_payload,
        qdrant::clear_payload,
        qdrant::update_vectors,
        qdrant::delete_vectors,
        qdrant::batch_update,
        qdrant::scroll,
        qdrant::count,
        ex::facet,
        ex::matrix_pairs,
        ex::matrix_offsets,
        ex::cluster,
        ex::collection_cluster,
        ex::update_collection_cluster,
        ex::recover_cluster,
        ex::remove_peer,
        ex::create_shard_key,
        ex::delete_shard_key,
        ex::list_shard_keys,
        ex::cluster_telemetry,
        ex::optimizations,
        ex::issues,
        ex::clear_issues,
        crate::quota::get_quotas,
        crate::quota::update_quotas,
        qdrant::query,
        qdrant::query_batch,
        qdrant::query_groups,
        handlers::search,
        qdrant::search_batch,
        qdrant::recommend,
        qdrant::recommend_batch,
        snap::list,
        snap::create,
        snap::download,
        snap::delete,
        snap::recover,
        snap::upload,
        snap::list_shard,
        snap::create_shard,
        snap::download_shard,
        snap::delete_shard,
        snap::stream_shard,
        snap::recover_shard,
        snap::upload_shard,
        snap::list_full,
        snap::create_full,
        snap::download_full,
        snap::delete_full,
        snap::recover_full,
        snap::upload_full,
    ),
    components(schemas(common::ErrorResponse)),
    modifiers(&Conventions),
    tags(
        (name = "service", description = "Probes, version, statistics, metrics and this spec"),
        (name = "dashboard", description = "The web dashboard (static assets, no data)"),
        (name = "collections", description = "Create, inspect, change and delete collections"),
        (name = "aliases", description = "Other names of collections"),
        (name = "indexes", description = "Payload indexes"),
        (name = "points", description = "Write, read and page through points"),
        (name = "search", description = "Nearest neighbours, recommendations, fusion, groups"),
        (name = "cluster", description = "Cluster and shard routes, as a single node without Qdrant's cluster mode answers them"),
        (name = "snapshots", description = "Back up and restore collections, or the whole storage"),
    ),
)]
pub(crate) struct ApiDoc;

/// The spec as an object.
pub fn spec() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The spec as pretty JSON with a final newline: what GET /openapi.json serves and
/// `docs/openapi.json` holds.
pub fn spec_json() -> String {
    static JSON: LazyLock<String> = LazyLock::new(|| {
        let mut s = spec().to_pretty_json().expect("the spec serializes");
        s.push('\n');
        s
    });
    JSON.clone()
}

/// GET /openapi.json.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "service",
    responses((status = 200, description = "This OpenAPI 3.1 document", content_type = "application/json", body = Object)),
)]
pub(crate) async fn openapi_json() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], spec_json()).into_response()
}

/// Adds what every operation shares: the version, the API-key schemes and the error answers.
struct Conventions;

/// Error answers by status: (name of the shared response, status, description).
const ERRORS: [(&str, &str, &str); 8] = [
    (
        "BadRequest",
        "400",
        "Malformed request: the message names the rejected field",
    ),
    (
        "Unauthorized",
        "401",
        "No API key, or a wrong one (only when keys are configured)",
    ),
    (
        "Forbidden",
        "403",
        "The read-only API key was used for a write",
    ),
    (
        "NotFound",
        "404",
        "The collection (or point, alias) does not exist",
    ),
    (
        "PayloadTooLarge",
        "413",
        "The body exceeds the configured limit",
    ),
    (
        "Unprocessable",
        "422",
        "The body parses but breaks a rule (e.g. `limit: 0`)",
    ),
    (
        "InternalError",
        "500",
        "A failure on the server's side (details in its log)",
    ),
    (
        "InsufficientStorage",
        "507",
        "No space left on the storage device; the write was not applied",
    ),
];

/// Routes whose `limit` (or `group_size`) must be 1 or larger: 422 otherwise.
const LIMITED: [&str; 11] = [
    "/collections/{name}/facet",
    "/collections/{name}/points/query",
    "/collections/{name}/points/query/batch",
    "/collections/{name}/points/query/groups",
    "/collections/{name}/points/recommend",
    "/collections/{name}/points/recommend/batch",
    "/collections/{name}/points/scroll",
    "/collections/{name}/points/search",
    "/collections/{name}/points/search/batch",
    "/collections/{name}/points/search/matrix/offsets",
    "/collections/{name}/points/search/matrix/pairs",
];

impl Modify for Conventions {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        api.info.version = env!("CARGO_PKG_VERSION").to_string();
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("api-key"))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        for (name, _, description) in ERRORS {
            components.responses.insert(
                name.to_string(),
                RefOr::T(
                    ResponseBuilder::new()
                        .description(description)
                        .content(
                            "application/json",
                            ContentBuilder::new()
                                .schema(Some(Ref::from_schema_name("ErrorResponse")))
                                .build(),
                        )
                        .build(),
                ),
            );
        }
        for (path, item) in api.paths.paths.iter_mut() {
            let open = crate::auth::is_open_path(path);
            for (method, op) in [
                (HttpMethod::Get, &mut item.get),
                (HttpMethod::Put, &mut item.put),
                (HttpMethod::Post, &mut item.post),
                (HttpMethod::Patch, &mut item.patch),
                (HttpMethod::Delete, &mut item.delete),
            ] {
                if let Some(op) = op {
                    add_errors(op, path, open, method);
                }
            }
        }
    }
}

fn add_errors(op: &mut Operation, path: &str, open: bool, method: HttpMethod) {
    let has_body = op.request_body.is_some();
    let has_params = op.parameters.as_ref().is_some_and(|p| !p.is_empty());
    let mut add = |name: &str| {
        let (_, status, _) = ERRORS.iter().find(|e| e.0 == name).expect("listed");
        op.responses
            .responses
            .entry(status.to_string())
            .or_insert_with(|| RefOr::Ref(Ref::from_response_name(name)));
    };
    if has_body || has_params {
        add("BadRequest");
    }
    let writes = match method {
        HttpMethod::Get => false,
        HttpMethod::Post => !crate::auth::post_reads_only(path),
        _ => true,
    };
    if !open {
        add("Unauthorized");
        // POST …/points writes when its body is an array (the seed's batch insert)
        if writes || path == "/collections/{name}/points" {
            add("Forbidden");
        }
    }
    if path.starts_with("/collections/{name}") {
        add("NotFound");
    }
    if has_body {
        add("PayloadTooLarge");
    }
    if LIMITED.contains(&path) {
        add("Unprocessable");
    }
    if !open && path != "/openapi.json" {
        add("InternalError");
    }
    if !open && writes && path.starts_with("/collections") {
        add("InsufficientStorage");
    }
    if !open {
        op.security = Some(vec![
            SecurityRequirement::new("api_key", Vec::<String>::new()),
            SecurityRequirement::new("bearer", Vec::<String>::new()),
        ]);
    }
}

#[cfg(test)]
mod tests;
