//! The HTTP layer: routes, wire types (DTOs) and the one mapping from engine errors to status
//! codes. Handlers are thin: parse and validate the body, make one engine call on the blocking
//! pool, wrap the result in Qdrant's envelope (`{"result": …, "status": "ok", "time": s}`).
//!
//! Both dialects share routes; the body's shape decides (see `../../shared/DESIGN.md`): a JSON
//! array on POST …/points is a seed batch; a filter whose keys are `must`/`should`/`must_not`/
//! `min_should` is Qdrant's DSL, any other object the seed's equality filter; a create body with
//! `vectors` is Qdrant's, one with `distance` the seed's.

mod error;
mod extract;
mod handlers;
mod wire;

use std::sync::Arc;
use std::time::Instant;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};
use axum::Router;
use rvdb_engine::Database;

pub use error::ApiError;

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
    Router::new()
        .route("/health", get(handlers::health))
        .route("/stats", get(handlers::stats))
        .route("/collections", get(handlers::list_collections))
        .route(
            "/collections/{name}",
            put(handlers::create_collection)
                .get(handlers::get_collection)
                .delete(handlers::delete_collection),
        )
        .route(
            "/collections/{name}/points",
            post(handlers::post_points).get(handlers::list_points),
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
