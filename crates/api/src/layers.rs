//! Cross-cutting HTTP settings: CORS and the per-request timeout.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::cors::{AllowOrigin, Any, CorsLayer};

use crate::ApiError;

/// Which browser origins may call the API (CORS).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Cors {
    /// No CORS headers: browsers refuse cross-origin calls.
    #[default]
    Disabled,
    /// Any origin (Qdrant's default).
    AnyOrigin,
    /// Only these origins, e.g. `https://app.example.com`.
    Origins(Vec<String>),
}

impl Cors {
    /// Checks one origin as written in the configuration (`*` or `scheme://host[:port]`).
    pub fn check_origin(origin: &str) -> Result<(), String> {
        if origin == "*" {
            return Ok(());
        }
        let rest = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
            .ok_or_else(|| {
                format!("`{origin}`: an origin is `*` or starts with http:// or https://")
            })?;
        if rest.is_empty() || rest.contains('/') {
            return Err(format!(
                "`{origin}`: an origin is scheme://host[:port], with no path"
            ));
        }
        HeaderValue::from_str(origin)
            .map(|_| ())
            .map_err(|_| format!("`{origin}`: not a valid header value"))
    }

    pub(crate) fn layer(&self) -> Option<CorsLayer> {
        let base = || {
            CorsLayer::new()
                .allow_methods(Any)
                .allow_headers(Any)
                .max_age(Duration::from_secs(3600))
        };
        match self {
            Cors::Disabled => None,
            Cors::AnyOrigin => Some(base().allow_origin(Any)),
            Cors::Origins(list) if list.iter().any(|o| o == "*") => Some(base().allow_origin(Any)),
            Cors::Origins(list) => {
                let origins: Vec<HeaderValue> = list
                    .iter()
                    .filter_map(|o| match HeaderValue::from_str(o) {
                        Ok(v) => Some(v),
                        Err(_) => {
                            tracing::warn!(origin = %o, "ignoring an invalid CORS origin");
                            None
                        }
                    })
                    .collect();
                Some(base().allow_origin(AllowOrigin::list(origins)))
            }
        }
    }
}

/// Middleware: answers 408 in the envelope when the handler takes longer than the limit.
///
/// The work is not cancelled once it reached the engine: a write that times out may still be
/// applied.
pub(crate) async fn timeout(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => ApiError {
            status: StatusCode::REQUEST_TIMEOUT,
            message: format!(
                "Timeout: the request did not finish within {} s (service.request_timeout_secs); a write may still be applied",
                limit.as_secs_f64()
            ),
        }
        .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::routing::get;
    use axum::Router;
    use tower::ServiceExt;

    #[tokio::test]
    async fn slow_requests_get_408() {
        let app = Router::new()
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    "late"
                }),
            )
            .route("/fast", get(|| async { "ok" }))
            .layer(axum::middleware::from_fn_with_state(
                Duration::from_millis(50),
                timeout,
            ));
        let call = |p: &'static str| {
            app.clone()
                .oneshot(Request::get(p).body(Body::empty()).unwrap())
        };
        let slow = call("/slow").await.unwrap();
        assert_eq!(slow.status(), StatusCode::REQUEST_TIMEOUT);
        let body = axum::body::to_bytes(slow.into_body(), 1 << 16)
            .await
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert!(v["status"]["error"]
            .as_str()
            .unwrap()
            .contains("service.request_timeout_secs"));
        assert_eq!(call("/fast").await.unwrap().status(), StatusCode::OK);
    }

    #[test]
    fn origins() {
        assert!(Cors::check_origin("*").is_ok());
        assert!(Cors::check_origin("https://app.example.com").is_ok());
        assert!(Cors::check_origin("http://localhost:3000").is_ok());
        assert!(Cors::check_origin("example.com").is_err());
        assert!(Cors::check_origin("https://example.com/path").is_err());
        assert!(Cors::check_origin("https://").is_err());
    }
}
