//! One error type for every handler and its single mapping to an HTTP status.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use rvdb_engine::EngineError;
use serde_json::json;

/// An error answered in Qdrant's envelope: `{"status": {"error": "…"}, "time": s}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn bad_request(msg: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: msg.into(),
        }
    }

    pub fn not_found(msg: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::NOT_FOUND,
            message: msg.into(),
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        let status = match &e {
            EngineError::CollectionNotFound(_)
            | EngineError::PointNotFound(_)
            | EngineError::AliasNotFound(_)
            | EngineError::SnapshotNotFound(_) => StatusCode::NOT_FOUND,
            EngineError::AlreadyExists(_) => StatusCode::CONFLICT,
            EngineError::BadInput(_) => StatusCode::BAD_REQUEST,
            EngineError::Storage(_) if e.is_disk_full() => StatusCode::INSUFFICIENT_STORAGE,
            EngineError::Storage(_)
            | EngineError::Corrupt { .. }
            | EngineError::StorageUnavailable(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status.is_server_error() {
            tracing::error!(error = %e, "request failed on the server side");
        }
        let message = match status {
            StatusCode::INSUFFICIENT_STORAGE => {
                "Service internal error: no space left on the storage device; the write was not applied".to_string()
            }
            StatusCode::INTERNAL_SERVER_ERROR => {
                "Service internal error: storage failure, the write was not acknowledged (details in the server log)".to_string()
            }
            _ => e.to_string(),
        };
        ApiError { status, message }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({"status": {"error": self.message}, "time": 0.0})),
        )
            .into_response()
    }
}

/// A handler panicked: answer 500 in the envelope instead of dropping the connection.
pub(crate) fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    ApiError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        message: "Service internal error: unexpected failure (details in the server log)".into(),
    }
    .into_response()
}
