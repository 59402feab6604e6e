//! What the body types in `openapi/` share: the error wording (400 "Wrong input: path: …" for a
//! value of the wrong shape, 422 "Validation error" for one that breaks a rule, as Qdrant
//! answers), `typed` for a part of a body parsed on its own, and the filter glue. A body is
//! parsed once, by its type (`extract::Body`); `null` always means "not given".

use rvdb_engine::{Filter, UniversalQuery};
use serde_json::{Map, Value};

use crate::ApiError;

pub(crate) type Obj = Map<String, Value>;

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

/// `m[key]` parsed as `T` (`None` when missing or null); a mismatch names its JSON path
/// (`hnsw_config.m: invalid value: integer `-1`, expected usize`).
pub(crate) fn typed<T: serde::de::DeserializeOwned>(
    m: &Obj,
    key: &str,
    at: &str,
) -> Result<Option<T>, ApiError> {
    let Some(v) = field(m, key) else {
        return Ok(None);
    };
    serde_path_to_error::deserialize(v).map(Some).map_err(|e| {
        let inner = e.path().to_string();
        let at = join(at, key);
        let at = if inner == "." {
            at
        } else {
            format!("{at}.{inner}")
        };
        bad(&at, e.into_inner())
    })
}

pub(crate) fn object(v: Value, at: &str) -> Result<Obj, ApiError> {
    match v {
        Value::Object(m) => Ok(m),
        _ => Err(bad(at, "expected a JSON object")),
    }
}

/// A field, `None` when missing or null.
pub(crate) fn field<'a>(m: &'a Obj, key: &str) -> Option<&'a Value> {
    m.get(key).filter(|v| !v.is_null())
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
