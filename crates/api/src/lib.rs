//! The HTTP layer: routes, wire types (DTOs) and the one mapping from engine errors to status
//! codes. Handlers are thin: parse and validate the body, make one engine call on the blocking
//! pool, wrap the result in Qdrant's envelope (`{"result": …, "status": "ok", "time": s}`).
//!
//! Both dialects share routes; the body's shape decides (see `../../shared/DESIGN.md`): a JSON
//! array on POST …/points is a seed batch; a filter whose keys are `must`/`should`/`must_not`/
//! `min_should` is Qdrant's DSL, any other object the seed's equality filter; a create body with
//! `vectors` is Qdrant's, one with `distance` the seed's.

mod auth;
mod convert;
mod dashboard;
mod error;
mod extract;
mod handlers;
mod layers;
mod metrics;
mod openapi;
mod qdrant;
mod render;
mod snapshots;
mod wire;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post, put};
use axum::Router;
use rvdb_engine::{CollectionConfig, Database};

pub use error::ApiError;
pub use layers::Cors;
pub use qdrant::QDRANT_API_VERSION;

/// The OpenAPI 3.1 document of this API, as GET /openapi.json serves it (pretty JSON, final
/// newline); `docs/openapi.json` is a committed copy.
pub fn openapi_json() -> String {
    openapi::spec_json()
}

/// Settings of the HTTP layer.
#[derive(Clone)]
pub struct ApiConfig {
    /// Largest request body accepted, in bytes (larger ones get 413).
    pub max_body_bytes: usize,
    /// Read-write key: when set (or `read_only_api_key` is), every route but `/`, the probes and
    /// the dashboard's static files needs a key in `api-key` or `Authorization: Bearer`.
    pub api_key: Option<String>,
    /// A key that may only read.
    pub read_only_api_key: Option<String>,
    /// Answer 408 when a request takes longer (`None`: no limit).
    pub request_timeout: Option<Duration>,
    /// Which browser origins may call the API.
    pub cors: Cors,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            max_body_bytes: 32 << 20,
            api_key: None,
            read_only_api_key: None,
            request_timeout: None,
            cors: Cors::Disabled,
        }
    }
}

/// Never prints the keys, only whether they are set.
impl std::fmt::Debug for ApiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = |k: &Option<String>| if k.is_some() { "<set>" } else { "<unset>" };
        f.debug_struct("ApiConfig")
            .field("max_body_bytes", &self.max_body_bytes)
            .field("api_key", &set(&self.api_key))
            .field("read_only_api_key", &set(&self.read_only_api_key))
            .field("request_timeout", &self.request_timeout)
            .field("cors", &self.cors)
            .finish()
    }
}

/// The collection config that PUT /collections/{name} makes of a body (Qdrant's
/// `{"vectors": {"size", "distance"}, …}` or the seed's `{"distance"}`), defaults included:
/// for tools that create collections without going through HTTP (`rustvecdb import`).
pub fn collection_config(body: &serde_json::Value) -> Result<CollectionConfig, ApiError> {
    match body {
        serde_json::Value::Object(m) => qdrant::create_config(m),
        _ => Err(ApiError::bad_request(
            "Wrong input: a collection config is a JSON object",
        )),
    }
}

/// A router for the time the database loads: `/healthz` and `/livez` answer at once, `/readyz`
/// and every other route answer 503 until `slot` holds the full router (see [`router`]), then
/// every request goes to it.
pub fn loading_router(slot: Arc<std::sync::OnceLock<Router>>) -> Router {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    use tower::ServiceExt;
    Router::new().fallback_service(tower::service_fn(move |req: axum::extract::Request| {
        let slot = slot.clone();
        async move {
            if let Some(app) = slot.get() {
                return app.clone().oneshot(req).await;
            }
            Ok(match req.uri().path() {
                "/healthz" => qdrant::plain_text("healthz check passed"),
                "/livez" => qdrant::plain_text("livez check passed"),
                _ => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    axum::Json(serde_json::json!({
                        "status": {"error": "Service unavailable: collections are still loading"},
                        "time": 0.0
                    })),
                )
                    .into_response(),
            })
        }
    }))
}

/// What every handler can reach.
#[derive(Clone)]
pub(crate) struct AppState {
    pub db: Arc<Database>,
    pub started: Instant,
    pub config: Arc<ApiConfig>,
}

/// Builds the router for a database (tests can drive it without a socket).
///
/// Layers, innermost first: body limit, panic guard, timeout, API keys, metrics, trace, CORS.
/// Each wraps every route and the fallback after routing, so the metrics and the read-only
/// check see the matched route template.
pub fn router(db: Arc<Database>, config: ApiConfig) -> Router {
    let observer = metrics::Observer::new(db.clone());
    let keys = auth::Keys::new(
        config.api_key.as_deref(),
        config.read_only_api_key.as_deref(),
        config.max_body_bytes,
    );
    let state = AppState {
        db,
        started: Instant::now(),
        config: Arc::new(config.clone()),
    };
    use handlers as h;
    use qdrant as q;
    let app = Router::new()
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
        .route(
            "/collections/{name}/snapshots",
            get(snapshots::list).post(snapshots::create),
        )
        .route(
            "/collections/{name}/snapshots/recover",
            put(snapshots::recover),
        )
        .route(
            "/collections/{name}/snapshots/upload",
            // snapshots are streamed to disk, so no body limit applies
            post(snapshots::upload).layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/collections/{name}/snapshots/{snapshot}",
            get(snapshots::download).delete(snapshots::delete),
        )
        .route(
            "/snapshots",
            get(snapshots::list_full).post(snapshots::create_full),
        )
        .route("/snapshots/recover", put(snapshots::recover_full))
        .route(
            "/snapshots/upload",
            post(snapshots::upload_full).layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/snapshots/{snapshot}",
            get(snapshots::download_full).delete(snapshots::delete_full),
        )
        .route("/metrics", {
            let obs = observer.clone();
            get(move || metrics::metrics(obs))
        })
        .route("/telemetry", {
            let obs = observer.clone();
            get(move |t: extract::Timer| metrics::telemetry(t, obs))
        })
        .route("/openapi.json", get(openapi::openapi_json))
        .route("/dashboard", get(dashboard::index))
        .route("/dashboard/", get(dashboard::slash))
        .route("/dashboard/{file}", get(dashboard::asset))
        .fallback(handlers::no_route)
        .method_not_allowed_fallback(handlers::method_not_allowed)
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            error::panic_response,
        ));
    let app = match config.request_timeout {
        Some(limit) if !limit.is_zero() => {
            app.layer(axum::middleware::from_fn_with_state(limit, layers::timeout))
        }
        _ => app,
    };
    let app = match keys {
        Some(keys) => app.layer(axum::middleware::from_fn_with_state(
            keys,
            auth::require_key,
        )),
        None => app,
    };
    let app = app
        .layer(axum::middleware::from_fn_with_state(
            observer,
            metrics::track,
        ))
        .layer(tower_http::trace::TraceLayer::new_for_http());
    let app = match config.cors.layer() {
        Some(cors) => app.layer(cors),
        None => app,
    };
    app.with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    async fn status(app: &Router, path: &str) -> u16 {
        let req = Request::get(path).body(Body::empty()).unwrap();
        app.clone().oneshot(req).await.unwrap().status().as_u16()
    }

    #[tokio::test]
    async fn probes_answer_while_loading_and_readyz_only_once_loaded() {
        let slot = Arc::new(std::sync::OnceLock::new());
        let app = loading_router(slot.clone());
        assert_eq!(status(&app, "/healthz").await, 200);
        assert_eq!(status(&app, "/livez").await, 200);
        assert_eq!(status(&app, "/readyz").await, 503);
        assert_eq!(status(&app, "/collections").await, 503);
        let db = Database::open(rvdb_engine::DatabaseOptions::in_memory()).unwrap();
        let _ = slot.set(router(Arc::new(db), ApiConfig::default()));
        assert_eq!(status(&app, "/readyz").await, 200);
        assert_eq!(status(&app, "/collections").await, 200);
        assert_eq!(status(&app, "/collections/nope").await, 404);
    }
}
