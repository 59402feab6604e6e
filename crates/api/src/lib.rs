//! The HTTP layer: routes, wire types (DTOs) and the one mapping from engine errors to status
//! codes. Handlers are thin: parse and validate the body, make one engine call on the blocking
//! pool, wrap the result in Qdrant's envelope (`{"result": …, "status": "ok", "time": s}`).
//!
//! Both dialects share routes; the body's shape decides (see `../../shared/DESIGN.md`): a JSON
//! array on POST …/points is a seed batch; a filter whose keys are `must`/`should`/`must_not`/
//! `min_should` is Qdrant's DSL, any other object the seed's equality filter; a create body with
//! `vectors` is Qdrant's, one with `distance` the seed's.

mod convert;
mod error;
mod extract;
mod handlers;
mod qdrant;
mod render;
mod wire;

use std::sync::Arc;
use std::time::Instant;

use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post, put};
use axum::Router;
use rvdb_engine::Database;

pub use error::ApiError;
pub use qdrant::QDRANT_API_VERSION;

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Largest request body accepted, in bytes (larger ones get 413).
    pub max_body_bytes: usize,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            max_body_bytes: 32 << 20,
        }
    }
}

/// What every handler can reach.
#[derive(Clone)]
pub(crate) struct AppState {
    pub db: Arc<Database>,
    pub started: Instant,
    pub config: Arc<ApiConfig>,
}

/// Builds the router for a database (tests can drive it without a socket).
pub fn router(db: Arc<Database>, config: ApiConfig) -> Router {
    let state = AppState {
        db,
        started: Instant::now(),
        config: Arc::new(config.clone()),
    };
    use handlers as h;
    use qdrant as q;
    Router::new()
        .route("/", get(q::root))
        .route("/healthz", get(q::healthz))
        .route("/livez", get(q::livez))
        .route("/readyz", get(q::readyz))
        .route("/aliases", get(q::list_aliases))
        .route("/collections/aliases", post(q::update_aliases))
        .route("/collections/{name}/aliases", get(q::collection_aliases))
        .route("/collections/{name}/exists", get(q::collection_exists))
        .route("/collections/{name}/index", put(q::create_index))
        .route("/collections/{name}/index/{field}", delete(q::delete_index))
        .route("/collections/{name}/points/delete", post(q::delete_points))
        .route(
            "/collections/{name}/points/payload",
            post(q::set_payload).put(q::overwrite_payload),
        )
        .route(
            "/collections/{name}/points/payload/delete",
            post(q::delete_payload),
        )
        .route(
            "/collections/{name}/points/payload/clear",
            post(q::clear_payload),
        )
        .route("/collections/{name}/points/vectors", put(q::update_vectors))
        .route(
            "/collections/{name}/points/vectors/delete",
            post(q::delete_vectors),
        )
        .route("/collections/{name}/points/batch", post(q::batch_update))
        .route("/collections/{name}/points/scroll", post(q::scroll))
        .route("/collections/{name}/points/count", post(q::count))
        .route("/collections/{name}/points/query", post(q::query))
        .route(
            "/collections/{name}/points/query/batch",
            post(q::query_batch),
        )
        .route(
            "/collections/{name}/points/query/groups",
            post(q::query_groups),
        )
        .route(
            "/collections/{name}/points/search/batch",
            post(q::search_batch),
        )
        .route("/collections/{name}/points/recommend", post(q::recommend))
        .route(
            "/collections/{name}/points/recommend/batch",
            post(q::recommend_batch),
        )
        .route("/health", get(handlers::health))
        .route("/stats", get(handlers::stats))
        .route("/collections", get(handlers::list_collections))
        .route(
            "/collections/{name}",
            put(h::create_collection)
                .get(h::get_collection)
                .patch(q::update_collection)
                .delete(h::delete_collection),
        )
        .route(
            "/collections/{name}/points",
            post(h::post_points).get(h::list_points).put(q::upsert),
        )
        .route("/collections/{name}/points/search", post(handlers::search))
        .route(
            "/collections/{name}/points/{id}",
            put(handlers::put_point)
                .get(handlers::get_point)
                .delete(handlers::delete_point),
        )
        .fallback(handlers::no_route)
        .method_not_allowed_fallback(handlers::method_not_allowed)
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            error::panic_response,
        ))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}
