//! One error type for every handler and its single mapping to an HTTP status, rendered in the
//! error envelope `{"status": {"error": …}, "time": 0.0}`; server-side failures are logged.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use rvdb_engine::EngineError;

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
            | EngineError::SnapshotNotFound(_)
            | EngineError::ShardNotFound(_) => StatusCode::NOT_FOUND,
            EngineError::AlreadyExists(_) => StatusCode::CONFLICT,
            EngineError::BadInput(_) => StatusCode::BAD_REQUEST,
            EngineError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            EngineError::Storage(_) if e.is_disk_full() => StatusCode::INSUFFICIENT_STORAGE,
            EngineError::Storage(_)
            | EngineError::Corrupt { .. }
            | EngineError::StorageUnavailable(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status.is_server_error() {
            tracing::error!(error = %e, "request failed on the server side");
        }
        let message = match &e {
            // Qdrant's wording, which clients and tests match on
            EngineError::CollectionNotFound(name) => {
                format!("Not found: Collection `{name}` doesn't exist!")
            }
            EngineError::PointNotFound(id) => format!("Not found: No point with id {id} found"),
            EngineError::AliasNotFound(name) => format!("Not found: Alias `{name}` doesn't exist!"),
            EngineError::SnapshotNotFound(name) => {
                format!("Not found: Snapshot `{name}` doesn't exist!")
            }
            EngineError::ShardNotFound(id) => format!("Not found: shard {id}"),
            EngineError::AlreadyExists(name) => {
                format!("Wrong input: Collection `{name}` already exists!")
            }
            EngineError::BadInput(msg) => format!("Wrong input: {msg}"),
            EngineError::Invalid { field, problem } => {
                format!("Validation error in JSON body: [{field}: {problem}]")
            }
            EngineError::Storage(_) if status == StatusCode::INSUFFICIENT_STORAGE => format!(
                "Service internal error: no space left on the storage device; the write was not applied ({e})"
            ),
            EngineError::Storage(_) => format!(
                "Service internal error: {e}; the write was not acknowledged (it may or may not have reached the disk if the failure was an fsync)"
            ),
            EngineError::Corrupt { .. } => format!("Service internal error: {e}"),
            EngineError::StorageUnavailable(msg) => msg.clone(),
        };
        ApiError { status, message }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (
            self.status,
            Json(crate::openapi::common::ErrorResponse {
                status: crate::openapi::common::ErrorStatus {
                    error: self.message,
                },
                time: 0.0,
            }),
        )
            .into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            // overloaded or still loading: worth another try shortly
            r.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("1"),
            );
        }
        r
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

#[cfg(test)]
mod tests {
    use super::*;
    use rvdb_engine::StorageError;

    fn io(kind: std::io::Error) -> EngineError {
        EngineError::Storage(StorageError::Io {
            path: "/data/wal.log".into(),
            source: kind,
        })
    }

    #[test]
    fn a_full_disk_is_507_and_other_io_errors_are_500_with_the_reason() {
        let full = ApiError::from(io(std::io::Error::from_raw_os_error(28)));
        assert_eq!(full.status, StatusCode::INSUFFICIENT_STORAGE);
        assert!(full.message.contains("no space left"), "{}", full.message);
        let eio = ApiError::from(io(std::io::Error::from_raw_os_error(5)));
        assert_eq!(eio.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(eio.message.contains("/data/wal.log"), "{}", eio.message);
        let broken = ApiError::from(EngineError::StorageUnavailable(
            "collection `a` could not be loaded: bad".into(),
        ));
        assert_eq!(broken.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(broken.message.contains("could not be loaded"));
    }
}
