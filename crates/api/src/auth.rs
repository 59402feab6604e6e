//! API keys, as Qdrant does them: with `service.api_key` set, every request except the probes
//! (`/`, `/healthz`, `/livez`, `/readyz`) and the dashboard's static files carries the key in an `api-key` header or as
//! `Authorization: Bearer <key>`. A `service.read_only_api_key` may read (every GET and the
//! POSTs that only read: retrieve, scroll, count, search, query, recommend, …) and nothing else.
//!
//! - no key: 401 `Must provide an API key or an Authorization bearer token`
//! - a key that matches neither: 401 `Invalid API key`
//! - the read-only key on a write: 403
//!
//! Keys are compared in constant time (for keys of equal length) and never logged.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use crate::ApiError;

/// Paths anyone may call, key or not (Qdrant's whitelist: the root and the probes).
pub(crate) const OPEN_PATHS: [&str; 4] = ["/", "/healthz", "/livez", "/readyz"];

/// The dashboard's page and assets are open too: they hold no data, and the page asks for the
/// key it then sends with every API call.
const DASHBOARD: &str = "/dashboard";

/// Whether a request path (or a route template) needs no key.
pub(crate) fn is_open_path(path: &str) -> bool {
    OPEN_PATHS.contains(&path)
        || path == DASHBOARD
        || path
            .strip_prefix(DASHBOARD)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// Whether a POST route template only reads.
pub(crate) fn post_reads_only(route: &str) -> bool {
    READ_ONLY_POSTS.binary_search(&route).is_ok()
}

/// POST routes that only read (route templates). Sorted: looked up by binary search.
const READ_ONLY_POSTS: [&str; 18] = [
    "/collections/{name}/facet",
    "/collections/{name}/points",
    "/collections/{name}/points/count",
    "/collections/{name}/points/discover",
    "/collections/{name}/points/discover/batch",
    "/collections/{name}/points/facet",
    "/collections/{name}/points/query",
    "/collections/{name}/points/query/batch",
    "/collections/{name}/points/query/groups",
    "/collections/{name}/points/recommend",
    "/collections/{name}/points/recommend/batch",
    "/collections/{name}/points/recommend/groups",
    "/collections/{name}/points/scroll",
    "/collections/{name}/points/search",
    "/collections/{name}/points/search/batch",
    "/collections/{name}/points/search/groups",
    "/collections/{name}/points/search/matrix/offsets",
    "/collections/{name}/points/search/matrix/pairs",
];

/// POST …/points is a retrieve (`{"ids": […]}`, a read) or the seed's batch insert (a JSON
/// array, a write): the body decides.
const POINTS_ROUTE: &str = "/collections/{name}/points";

/// The keys, as bytes; `None` for one that is not set.
#[derive(Clone)]
pub(crate) struct Keys {
    read_write: Option<Arc<[u8]>>,
    read_only: Option<Arc<[u8]>>,
    max_body_bytes: usize,
}

/// What a request's key allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    ReadWrite,
    ReadOnly,
}

impl Keys {
    /// `None` when neither key is set (no authentication).
    pub(crate) fn new(
        api_key: Option<&str>,
        read_only_api_key: Option<&str>,
        max_body_bytes: usize,
    ) -> Option<Keys> {
        let key = |k: Option<&str>| k.filter(|k| !k.is_empty()).map(|k| Arc::from(k.as_bytes()));
        let keys = Keys {
            read_write: key(api_key),
            read_only: key(read_only_api_key),
            max_body_bytes,
        };
        (keys.read_write.is_some() || keys.read_only.is_some()).then_some(keys)
    }

    /// Checks the presented key against both keys (both comparisons always run).
    fn access(&self, presented: &[u8]) -> Option<Access> {
        let rw = self
            .read_write
            .as_deref()
            .map_or(subtle::Choice::from(0), |k| k.ct_eq(presented));
        let ro = self
            .read_only
            .as_deref()
            .map_or(subtle::Choice::from(0), |k| k.ct_eq(presented));
        if bool::from(rw) {
            Some(Access::ReadWrite)
        } else if bool::from(ro) {
            Some(Access::ReadOnly)
        } else {
            None
        }
    }
}

/// The key a request presents: `api-key`, else `Authorization: Bearer …`.
fn presented_key(req: &Request) -> Option<&[u8]> {
    if let Some(v) = req.headers().get("api-key") {
        return Some(v.as_bytes());
    }
    let auth = req.headers().get(header::AUTHORIZATION)?.as_bytes();
    const BEARER: &[u8] = b"Bearer ";
    (auth.len() >= BEARER.len() && auth[..BEARER.len()].eq_ignore_ascii_case(BEARER))
        .then(|| &auth[BEARER.len()..])
}

fn unauthorized(msg: &str) -> Response {
    ApiError {
        status: StatusCode::UNAUTHORIZED,
        message: msg.to_string(),
    }
    .into_response()
}

fn read_only_refused(method: &Method, route: &str) -> Response {
    ApiError {
        status: StatusCode::FORBIDDEN,
        message: format!(
            "Forbidden: the read-only API key cannot be used for {method} {route}, which writes; use the read-write key (service.api_key)"
        ),
    }
    .into_response()
}

/// Whether a request with this method and route template (or raw path) only reads.
fn reads_only(method: &Method, route: &str) -> bool {
    match *method {
        Method::GET | Method::HEAD => true,
        Method::POST => post_reads_only(route),
        _ => false,
    }
}

/// The middleware (added only when a key is set).
pub(crate) async fn require_key(State(keys): State<Keys>, req: Request, next: Next) -> Response {
    if is_open_path(req.uri().path()) {
        return next.run(req).await;
    }
    let Some(presented) = presented_key(&req) else {
        return unauthorized("Must provide an API key or an Authorization bearer token");
    };
    match keys.access(presented) {
        None => unauthorized("Invalid API key"),
        Some(Access::ReadWrite) => next.run(req).await,
        Some(Access::ReadOnly) => {
            let route = req
                .extensions()
                .get::<MatchedPath>()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_else(|| req.uri().path().to_owned());
            let method = req.method().clone();
            if !reads_only(&method, &route) {
                return read_only_refused(&method, &route);
            }
            if method == Method::POST && route == POINTS_ROUTE {
                // Peek at the body: an array is the seed's batch insert.
                let (parts, body) = req.into_parts();
                let bytes = match axum::body::to_bytes(body, keys.max_body_bytes).await {
                    Ok(b) => b,
                    Err(_) => {
                        return ApiError {
                            status: StatusCode::PAYLOAD_TOO_LARGE,
                            message: format!(
                                "Payload too large: the request body exceeds the limit of {} bytes",
                                keys.max_body_bytes
                            ),
                        }
                        .into_response()
                    }
                };
                if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
                    return read_only_refused(&method, &route);
                }
                return next
                    .run(Request::from_parts(parts, Body::from(bytes)))
                    .await;
            }
            next.run(req).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_only_posts_sorted() {
        let mut sorted = READ_ONLY_POSTS;
        sorted.sort_unstable();
        assert_eq!(READ_ONLY_POSTS, sorted);
    }

    #[test]
    fn keys_compare() {
        let k = Keys::new(Some("rw-key"), Some("ro-key"), 1).unwrap();
        assert_eq!(k.access(b"rw-key"), Some(Access::ReadWrite));
        assert_eq!(k.access(b"ro-key"), Some(Access::ReadOnly));
        assert_eq!(k.access(b"rw-ke"), None);
        assert_eq!(k.access(b""), None);
        assert!(Keys::new(None, Some(""), 1).is_none());
        let only_ro = Keys::new(None, Some("ro"), 1).unwrap();
        assert_eq!(only_ro.access(b"ro"), Some(Access::ReadOnly));
        assert_eq!(only_ro.access(b""), None);
    }

    #[test]
    fn only_the_probes_and_the_dashboard_are_open() {
        for open in [
            "/",
            "/healthz",
            "/dashboard",
            "/dashboard/app.js",
            "/dashboard/",
        ] {
            assert!(is_open_path(open), "{open}");
        }
        for closed in [
            "/collections",
            "/dashboards",
            "/dashboardx/a",
            "/openapi.json",
        ] {
            assert!(!is_open_path(closed), "{closed}");
        }
    }

    #[test]
    fn classify() {
        assert!(reads_only(&Method::GET, "/collections/{name}"));
        assert!(reads_only(
            &Method::POST,
            "/collections/{name}/points/query"
        ));
        assert!(!reads_only(
            &Method::POST,
            "/collections/{name}/points/delete"
        ));
        assert!(!reads_only(&Method::PUT, "/collections/{name}/points"));
        assert!(!reads_only(&Method::DELETE, "/collections/{name}"));
    }
}
