//! The HTTP layer: routes, wire types (DTOs) and the one mapping from engine errors to status
//! codes. Handlers are thin: parse and validate the body, make one engine call on the blocking
//! pool, wrap the result in Qdrant's envelope (`{"result": …, "status": "ok", "time": s}`).
//!
//! Both dialects share routes; the body's shape decides (see `../../shared/DESIGN.md`): a JSON
//! array on POST …/points is a seed batch; a filter whose keys are `must`/`should`/`must_not`/
//! `min_should` is Qdrant's DSL, any other object the seed's equality filter; a create body with
//! `vectors` is Qdrant's, one with `distance` the seed's.
//!
//! Here: `router` (every route and its layers), `ApiConfig`, and `loading_router`, which answers
//! the probes while the database loads and makes other requests wait for it.

mod auth;
mod convert;
mod dashboard;
mod error;
mod extra;
mod extract;
mod handlers;
mod layers;
mod metrics;
mod openapi;
mod qdrant;
mod quota;
mod render;
mod snapshots;
mod telemetry;
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
    /// Search workers: reads (search, query, scroll, count, retrieve) run on this many
    /// threads, one request each at a time (0: one per core).
    pub search_threads: usize,
    /// Reads that may wait for a search worker; past that a read is answered 503 at once.
    pub search_queue: usize,
    /// How long a request that arrives while the collections load waits for them before it is
    /// answered 503 (with Retry-After).
    pub loading_wait: Duration,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            max_body_bytes: 32 << 20,
            api_key: None,
            read_only_api_key: None,
            request_timeout: None,
            cors: Cors::Disabled,
            search_threads: 0,
            search_queue: 1024,
            loading_wait: Duration::from_secs(60),
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
            .field("search_threads", &self.search_threads)
            .field("search_queue", &self.search_queue)
            .field("loading_wait", &self.loading_wait)
            .finish()
    }
}

/// The collection config that PUT /collections/{name} makes of a body (Qdrant's
/// `{"vectors": {"size", "distance"}, …}` or the seed's `{"distance"}`), defaults included:
/// for tools that create collections without going through HTTP (`rustvecdb import`).
pub fn collection_config(body: &serde_json::Value) -> Result<CollectionConfig, ApiError> {
    crate::extract::parse_value::<openapi::collections::CreateCollection>(body.clone())?
        .into_config()
}

/// The full router once the database is loaded; what [`loading_router`] waits for.
pub struct Loading {
    slot: std::sync::OnceLock<Router>,
    ready: tokio::sync::watch::Sender<bool>,
}

impl Loading {
    pub fn new() -> Arc<Loading> {
        Arc::new(Loading {
            slot: std::sync::OnceLock::new(),
            ready: tokio::sync::watch::Sender::new(false),
        })
    }

    /// The database is loaded: requests waiting for it, and every later one, go to `app`.
    pub fn set(&self, app: Router) {
        let _ = self.slot.set(app);
        self.ready.send_replace(true);
    }

    pub fn is_ready(&self) -> bool {
        self.slot.get().is_some()
    }
}

/// A router for the time the database loads: `/healthz` and `/livez` answer at once and
/// `/readyz` answers 503 until the collections are loaded; any other request waits for the
/// load (up to `wait`), then goes to the full router, so a client that starts as soon as the
/// port opens or `/healthz` answers sees no error. Past `wait` it is answered 503 with
/// Retry-After.
pub fn loading_router(loading: Arc<Loading>, wait: Duration) -> Router {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    use tower::ServiceExt;
    Router::new().fallback_service(tower::service_fn(move |req: axum::extract::Request| {
        let loading = loading.clone();
        async move {
            if let Some(app) = loading.slot.get() {
                return app.clone().oneshot(req).await;
            }
            match req.uri().path() {
                "/healthz" => return Ok(qdrant::plain_text("healthz check passed")),
                "/livez" => return Ok(qdrant::plain_text("livez check passed")),
                "/readyz" => {
                    return Ok(ApiError {
                        status: StatusCode::SERVICE_UNAVAILABLE,
                        message: "Service unavailable: collections are still loading".into(),
                    }
                    .into_response())
                }
                _ => {}
            }
            let mut ready = loading.ready.subscribe();
            let loaded = tokio::time::timeout(wait, async {
                ready.wait_for(|r| *r).await.is_ok()
            })
            .await;
            match (loaded, loading.slot.get()) {
                (Ok(true), Some(app)) => app.clone().oneshot(req).await,
                _ => Ok(ApiError {
                    status: StatusCode::SERVICE_UNAVAILABLE,
                    message: format!(
                        "Service unavailable: collections are still loading after {} s (service.loading_wait_secs)",
                        wait.as_secs_f64()
                    ),
                }
                .into_response()),
            }
        }
    }))
}

/// What every handler can reach.
#[derive(Clone)]
pub(crate) struct AppState {
    pub db: Arc<Database>,
    /// Where reads run (see `rvdb_engine::pool`).
    pub pool: Arc<rvdb_engine::pool::SearchPool>,
    pub started: Instant,
    pub config: Arc<ApiConfig>,
    /// The global quotas (`quota.rs`).
    pub quotas: Arc<rvdb_engine::Quotas>,
}

/// Builds the router for a database (tests can drive it without a socket).
///
/// Layers, innermost first: body limit, panic guard, timeout, API keys, metrics, trace, CORS.
/// Each wraps every route and the fallback after routing, so the metrics and the read-only
/// check see the matched route template.
pub fn router(db: Arc<Database>, config: ApiConfig) -> Router {
    let quotas = Arc::new(db.open_quotas_or_disabled());
    let observer = metrics::Observer::new(db.clone(), quotas.clone());
    let keys = auth::Keys::new(
        config.api_key.as_deref(),
        config.read_only_api_key.as_deref(),
        config.max_body_bytes,
    );
    let pool = rvdb_engine::pool::SearchPool::new(config.search_threads, config.search_queue)
        .expect("could not start the search workers");
    let state = AppState {
        quotas,
        db,
        pool: Arc::new(pool),
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
        .route(
            "/collections/{name}/vectors/{vector_name}",
            put(q::create_vector_name).delete(q::delete_vector_name),
        )
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
        .route("/collections/{name}/facet", post(extra::facet))
        .route("/cluster", get(extra::cluster))
        .route("/cluster/recover", post(extra::recover_cluster))
        .route("/cluster/peer/{peer_id}", delete(extra::remove_peer))
        .route(
            "/collections/{name}/cluster",
            get(extra::collection_cluster).post(extra::update_collection_cluster),
        )
        .route(
            "/collections/{name}/shards",
            put(extra::create_shard_key).get(extra::list_shard_keys),
        )
        .route(
            "/collections/{name}/optimizations",
            get(extra::optimizations),
        )
        .route("/cluster/telemetry", get(extra::cluster_telemetry))
        .route("/quotas", get(quota::get_quotas).put(quota::update_quotas))
        .route(
            "/collections/{name}/shards/delete",
            post(extra::delete_shard_key),
        )
        .route("/issues", get(extra::issues).delete(extra::clear_issues))
        .route(
            "/collections/{name}/points/search/matrix/pairs",
            post(extra::matrix_pairs),
        )
        .route(
            "/collections/{name}/points/search/matrix/offsets",
            post(extra::matrix_offsets),
        )
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
            "/collections/{name}/shards/{shard_id}/snapshots",
            get(snapshots::list_shard).post(snapshots::create_shard),
        )
        .route(
            "/collections/{name}/shards/{shard_id}/snapshots/recover",
            put(snapshots::recover_shard),
        )
        .route(
            "/collections/{name}/shards/{shard_id}/snapshots/upload",
            post(snapshots::upload_shard).layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/collections/{name}/shards/{shard_id}/snapshots/{snapshot}",
            get(snapshots::download_shard).delete(snapshots::delete_shard),
        )
        .route(
            "/collections/{name}/shards/{shard_id}/snapshot",
            get(snapshots::stream_shard),
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
            get(move |q: metrics::MetricsParams| metrics::metrics(q, obs))
        })
        .route("/telemetry", {
            let obs = observer.clone();
            get(move |t: extract::Timer, q: metrics::TelemetryParams| metrics::telemetry(t, q, obs))
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
    // inside the key check: a request without the right key is refused before usage is read
    let app = app.layer(axum::middleware::from_fn_with_state(
        state.clone(),
        quota::enforce,
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
        // a 5xx is logged where it arises (internal errors at ERROR); an overloaded or
        // loading 503 is expected under load and must not flood the log at ERROR
        .layer(
            tower_http::trace::TraceLayer::new_for_http().on_failure(
                tower_http::trace::DefaultOnFailure::new().level(tracing::Level::DEBUG),
            ),
        );
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
    async fn probes_answer_while_loading_and_other_requests_wait_for_the_load() {
        let loading = Loading::new();
        let app = loading_router(loading.clone(), Duration::from_secs(30));
        assert_eq!(status(&app, "/healthz").await, 200);
        assert_eq!(status(&app, "/livez").await, 200);
        assert_eq!(status(&app, "/readyz").await, 503);
        // requests that arrive while loading wait, then succeed
        let waiting: Vec<_> = ["/collections", "/collections/nope", "/readyz"]
            .into_iter()
            .map(|p| {
                let app = app.clone();
                tokio::spawn(async move { status(&app, p).await })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(
            waiting[..2].iter().all(|h| !h.is_finished()),
            "they wait for the load"
        );
        let db = Database::open(rvdb_engine::DatabaseOptions::in_memory()).unwrap();
        loading.set(router(Arc::new(db), ApiConfig::default()));
        let got: Vec<u16> = futures_join(waiting).await;
        assert_eq!(
            got,
            vec![200, 404, 503],
            "/readyz does not wait: it said 503 at once"
        );
        assert_eq!(status(&app, "/readyz").await, 200);
        assert_eq!(status(&app, "/collections").await, 200);
    }

    async fn futures_join(hs: Vec<tokio::task::JoinHandle<u16>>) -> Vec<u16> {
        let mut out = Vec::new();
        for h in hs {
            out.push(h.await.unwrap());
        }
        out
    }

    #[tokio::test]
    async fn a_load_longer_than_the_wait_answers_503_with_retry_after() {
        let loading = Loading::new();
        let app = loading_router(loading, Duration::from_millis(100));
        let req = Request::get("/collections").body(Body::empty()).unwrap();
        let began = std::time::Instant::now();
        let r = app.oneshot(req).await.unwrap();
        assert_eq!(r.status().as_u16(), 503);
        assert!(began.elapsed() >= Duration::from_millis(100));
        assert_eq!(r.headers()["retry-after"], "1");
    }
}
