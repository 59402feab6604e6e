//! Global quotas (Qdrant's `/quotas`): GET and PUT of the configuration
//! (`rvdb_engine::Quotas`, persisted in `<storage>/quota.json`), and the middleware that
//! enforces it. While a limit is tripped, the updates that add data are answered 507
//! Insufficient Storage with Qdrant's message (which resource, its usage, the limit); reads,
//! point deletes and every other route go on, as in Qdrant ("deleting points is always
//! allowed", while deleting a vector or a payload key is not: it rewrites the point).

use std::collections::HashMap;

use axum::body::Body as AxumBody;
use axum::extract::rejection::QueryRejection;
use axum::extract::{MatchedPath, Query, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::extract::{Body, Timer};
use crate::openapi::extra as x;
use crate::{ApiError, AppState};

/// (method, route template) of the updates a tripped quota refuses. POST …/points is one only
/// when its body is the seed's batch insert (a JSON array); with `{"ids": …}` it is a read.
const LIMITED: [(Method, &str); 10] = [
    (Method::PUT, "/collections/{name}/points"),
    (Method::POST, POINTS),
    (Method::PUT, "/collections/{name}/points/{id}"),
    (Method::POST, "/collections/{name}/points/payload"),
    (Method::PUT, "/collections/{name}/points/payload"),
    (Method::POST, "/collections/{name}/points/payload/delete"),
    (Method::POST, "/collections/{name}/points/payload/clear"),
    (Method::PUT, "/collections/{name}/points/vectors"),
    (Method::POST, "/collections/{name}/points/vectors/delete"),
    (Method::POST, "/collections/{name}/points/batch"),
];

const POINTS: &str = "/collections/{name}/points";

fn limited(method: &Method, route: &str) -> bool {
    LIMITED.iter().any(|(m, r)| m == method && *r == route)
}

fn insufficient_storage(why: String) -> Response {
    ApiError {
        status: StatusCode::INSUFFICIENT_STORAGE,
        message: why,
    }
    .into_response()
}

/// The middleware: refuses a limited update while a quota limit is tripped.
pub(crate) async fn enforce(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let Some(route) = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
    else {
        return next.run(req).await;
    };
    if !limited(req.method(), &route) {
        return next.run(req).await;
    }
    let Err(why) = s.quotas.check_update() else {
        return next.run(req).await;
    };
    if *req.method() == Method::POST && route == POINTS {
        // only the seed's batch insert (a JSON array) adds points
        let (parts, body) = req.into_parts();
        let bytes = match axum::body::to_bytes(body, s.config.max_body_bytes).await {
            Ok(b) => b,
            Err(_) => {
                return ApiError {
                    status: StatusCode::PAYLOAD_TOO_LARGE,
                    message: format!(
                        "Payload too large: the request body exceeds the limit of {} bytes",
                        s.config.max_body_bytes
                    ),
                }
                .into_response()
            }
        };
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
            return insufficient_storage(why);
        }
        return next
            .run(Request::from_parts(parts, AxumBody::from(bytes)))
            .await;
    }
    insufficient_storage(why)
}

/// GET /quotas.
#[utoipa::path(get, path = "/quotas", tag = "service",
    responses((status = 200, description = "The quota in force and this node's usage", body = crate::openapi::extra::QuotaStatusResponse)))]
pub(crate) async fn get_quotas(t: Timer, State(s): State<AppState>) -> Response {
    let usage = s.quotas.usage();
    t.ok(x::QuotaStatus {
        config: x::QuotaConfigBody::of(s.quotas.config()),
        usage: x::QuotaUsage {
            resident_memory_percent: usage.resident_memory_percent,
            disk_usage_percent: usage.disk_usage_percent,
        },
    })
}

/// PUT /quotas: replaces the configuration (persisted before it takes effect; a tripped limit
/// is cleared).
#[utoipa::path(put, path = "/quotas", tag = "service",
    params(("wait" = Option<bool>, Query, description = "Accepted; the answer always comes once the configuration is persisted and in force")),
    request_body = crate::openapi::extra::QuotaConfigBody,
    responses((status = 200, description = "Replaced", body = crate::openapi::common::BoolResponse)))]
pub(crate) async fn update_quotas(
    t: Timer,
    State(s): State<AppState>,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
    Body(body): Body<x::QuotaConfigBody>,
) -> Result<Response, ApiError> {
    let q = q
        .map(|Query(q)| q)
        .map_err(|e| ApiError::bad_request(format!("Bad query string: {}", e.body_text())))?;
    match q.get("wait").map(String::as_str) {
        None | Some("true" | "false") => {}
        Some(v) => {
            return Err(ApiError::bad_request(format!(
                "Bad query string: wait: expected true or false, got `{v}`"
            )))
        }
    }
    let quotas = s.quotas.clone();
    let config = body.into_config();
    crate::handlers::blocking(move || quotas.set_config(config)).await??;
    Ok(t.ok(true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_updates_that_add_data_are_limited() {
        assert!(limited(&Method::PUT, "/collections/{name}/points"));
        assert!(limited(&Method::POST, "/collections/{name}/points/batch"));
        assert!(!limited(&Method::POST, "/collections/{name}/points/delete"));
        assert!(!limited(&Method::DELETE, "/collections/{name}/points/{id}"));
        assert!(!limited(&Method::GET, "/collections/{name}/points"));
        assert!(!limited(&Method::PUT, "/quotas"));
    }
}
