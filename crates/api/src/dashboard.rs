//! The web dashboard: one page of plain HTML, CSS and JavaScript, embedded in the binary (no
//! CDN, nothing fetched but this server's own API). GET /dashboard and its assets need no API
//! key: they hold no data; the page asks for the key and sends it with every API call.
//! Sources: `crates/api/dashboard/`.

use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::ApiError;

const INDEX: &str = include_str!("../dashboard/index.html");

/// The assets under /dashboard/: (file name, content type, bytes).
const ASSETS: [(&str, &str, &str); 2] = [
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../dashboard/app.js"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("../dashboard/style.css"),
    ),
];

fn page(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

/// GET /dashboard.
#[utoipa::path(get, path = "/dashboard", tag = "dashboard",
    responses((status = 200, description = "The dashboard's page", content_type = "text/html", body = String)))]
pub(crate) async fn index() -> Response {
    page("text/html; charset=utf-8", INDEX)
}

/// GET /dashboard/: a permanent redirect to the page.
#[utoipa::path(get, path = "/dashboard/", tag = "dashboard",
    responses((status = 308, description = "Redirect to /dashboard", headers(("location" = String)))))]
pub(crate) async fn slash() -> Response {
    (
        axum::http::StatusCode::PERMANENT_REDIRECT,
        [(header::LOCATION, "/dashboard")],
    )
        .into_response()
}

/// GET /dashboard/{file}: the page's script and style sheet.
#[utoipa::path(get, path = "/dashboard/{file}", tag = "dashboard",
    params(("file" = String, Path, description = "`app.js` or `style.css`")),
    responses(
        (status = 200, description = "The asset", content_type = "text/javascript", body = String),
        (status = 404, description = "No such asset", body = crate::openapi::common::ErrorResponse),
    ))]
pub(crate) async fn asset(Path(file): Path<String>) -> Result<Response, ApiError> {
    ASSETS
        .iter()
        .find(|(name, _, _)| *name == file)
        .map(|&(_, content_type, body)| page(content_type, body))
        .ok_or_else(|| ApiError::not_found(format!("Not found: no dashboard asset `{file}`")))
}
