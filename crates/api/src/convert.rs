//! What the body types in `openapi/` share: the error wording (400 "Wrong input: path: …" for a
//! value of the wrong shape, 422 "Validation error" for one that breaks a rule, as Qdrant
//! answers), path joining, and the seed-or-Qdrant filter of the search route. A body is
//! parsed once, by its type (`extract::Body`); `null` always means "not given".

use rvdb_engine::{Filter, UniversalQuery};
use serde_json::Value;

use crate::ApiError;

pub(crate) fn bad(at: &str, msg: impl std::fmt::Display) -> ApiError {
    if at.is_empty() {
        ApiError::bad_request(format!("Wrong input: {msg}"))
    } else {
        ApiError::bad_request(format!("Wrong input: {at}: {msg}"))
    }
}

/// 422, Qdrant's answer to a body that parses but breaks a rule (e.g. `limit: 0`).
pub(crate) fn invalid(at: &str, msg: impl std::fmt::Display) -> ApiError {
    ApiError {
        status: axum::http::StatusCode::UNPROCESSABLE_ENTITY,
        message: format!("Validation error in JSON body: [{at}: {msg}]"),
    }
}

/// `at` and a path below it (`.` is the root, as serde_path_to_error names it).
pub(crate) fn join_path(at: &str, below: &str) -> String {
    if at == "." || at.is_empty() {
        below.to_string()
    } else if below.starts_with('[') {
        format!("{at}{below}")
    } else {
        format!("{at}.{below}")
    }
}

pub(crate) fn join(at: &str, key: &str) -> String {
    if at.is_empty() {
        key.to_string()
    } else {
        format!("{at}.{key}")
    }
}

/// A search body's filter: Qdrant's, or the seed's flat equality filter (`null`: none).
pub(crate) fn any_filter(v: Option<&Value>, at: &str) -> Result<Option<Filter>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => Filter::from_json_at(v, at).map_err(|e| bad("", e)),
    }
}

/// A parsed /points/query body, with the `lookup_from` collection (if any).
pub(crate) struct QueryRequest {
    pub query: UniversalQuery,
    pub lookup: Option<(String, Option<String>)>,
}
