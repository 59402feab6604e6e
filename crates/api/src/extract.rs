//! Extractors that turn every malformed request into an `ApiError` in the envelope: `JsonBody`
//! and `RawBody` (400 for malformed JSON, 413 over the limit), `Timer` and the success envelope,
//! and `from_value`, which names where a part of the body failed (`points[3]`).

use std::convert::Infallible;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::Value;

use crate::{ApiError, AppState};

/// When the handler started: the envelope's `time`.
pub(crate) struct Timer(Instant);

impl<S: Send + Sync> FromRequestParts<S> for Timer {
    type Rejection = Infallible;

    async fn from_request_parts(_: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Timer(Instant::now()))
    }
}

impl Timer {
    /// `{"result": …, "status": "ok", "time": seconds}`.
    pub(crate) fn ok<T: Serialize>(&self, result: T) -> Response {
        let time = self.0.elapsed().as_secs_f64();
        Json(Envelope {
            result,
            status: "ok",
            time,
        })
        .into_response()
    }
}

/// Qdrant's success envelope, serialized straight from the result (no intermediate `Value`).
#[derive(Serialize)]
struct Envelope<T> {
    result: T,
    status: &'static str,
    time: f64,
}

/// A request body parsed as JSON (any content type), or a 400/413 that says what is wrong.
pub(crate) struct JsonBody(pub Value);

/// A request body as raw bytes (non-empty), or a 400/413 that says what is wrong; for handlers
/// that parse straight into typed structs on their hot path.
pub(crate) struct RawBody(pub Bytes);

impl FromRequest<AppState> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError {
                    status: StatusCode::PAYLOAD_TOO_LARGE,
                    message: format!(
                        "Payload too large: the request body exceeds the limit of {} bytes",
                        state.config.max_body_bytes
                    ),
                }
            } else {
                ApiError::bad_request(format!("Could not read the request body: {e}"))
            }
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::bad_request(
                "Format error in JSON body: the body is empty",
            ));
        }
        Ok(RawBody(bytes))
    }
}

impl RawBody {
    /// The body parsed as JSON.
    pub(crate) fn json(&self) -> Result<Value, ApiError> {
        serde_json::from_slice(&self.0)
            .map_err(|e| ApiError::bad_request(format!("Format error in JSON body: {e}")))
    }
}

impl FromRequest<AppState> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        RawBody::from_request(req, state)
            .await?
            .json()
            .map(JsonBody)
    }
}

/// Deserializes a JSON value into `T`, naming where it failed (`at`: e.g. `points[3]`).
pub(crate) fn from_value<T: serde::de::DeserializeOwned>(
    v: Value,
    at: &str,
) -> Result<T, ApiError> {
    serde_json::from_value(v).map_err(|e| {
        if at.is_empty() {
            ApiError::bad_request(format!("Format error in JSON body: {e}"))
        } else {
            ApiError::bad_request(format!("Format error in JSON body: {at}: {e}"))
        }
    })
}

/// A request body parsed straight from its bytes into its one Rust type `T` (the same type
/// describes the body in /openapi.json), or a 400 that names the JSON path that failed
/// (`points[3].id: …`).
pub(crate) struct Body<T>(pub T);

impl<T: serde::de::DeserializeOwned> FromRequest<AppState> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let raw = RawBody::from_request(req, state).await?;
        parse_body(&raw.0).map(Body)
    }
}

/// Parses a whole JSON body into `T` (see [`Body`]).
pub(crate) fn parse_body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let v = serde_path_to_error::deserialize(&mut de).map_err(path_error)?;
    de.end()
        .map_err(|e| ApiError::bad_request(format!("Format error in JSON body: {e}")))?;
    Ok(v)
}

/// A JSON value (a body already parsed to tell its shape) into `T`, naming the path that failed.
pub(crate) fn parse_value<T: serde::de::DeserializeOwned>(v: Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(v).map_err(path_error)
}

/// A typed-parse failure as Qdrant words it: malformed JSON is a "Format error", a value of the
/// wrong shape is "Wrong input" naming its path.
fn path_error(e: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    if e.inner().is_syntax() || e.inner().is_eof() || e.inner().is_io() {
        return ApiError::bad_request(format!("Format error in JSON body: {}", e.into_inner()));
    }
    ApiError::bad_request(format!("Wrong input: {}", path_message(e)))
}

/// `path: message` of a typed-parse failure (no line and column: the path names the place).
/// A message that starts with a path of its own (`size: …`, from a part parsed on its own, or
/// `mmr: …` naming the key refused) continues the outer path.
pub(crate) fn path_message(e: serde_path_to_error::Error<serde_json::Error>) -> String {
    let path = e.path().to_string();
    let text = e.into_inner().to_string();
    let msg = match text.rsplit_once(" at line ") {
        Some((m, _)) => m,
        None => &text,
    };
    let (path, msg) = match msg.split_once(": ") {
        Some((head, rest)) if is_path(head) => (crate::convert::join_path(&path, head), rest),
        _ => (path, msg),
    };
    if path == "." || path.is_empty() {
        msg.to_string()
    } else {
        format!("{path}: {msg}")
    }
}

/// Whether `s` reads as a JSON path (`size`, `vectors.a[2].size`), not words.
fn is_path(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '[' | ']' | '-'))
}
