//! The engine's error enum: each variant says whose fault it was and carries the data; the API
//! chooses the status and renders Qdrant's wording (`rvdb_api::error`).

use rvdb_filter::PointId;
use rvdb_storage::StorageError;

/// Why an engine call failed.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The caller named a collection that does not exist.
    #[error("collection `{0}` does not exist")]
    CollectionNotFound(String),
    /// The caller named a point that does not exist.
    #[error("no point with id {0}")]
    PointNotFound(PointId),
    /// The caller named an alias that does not exist.
    #[error("alias `{0}` does not exist")]
    AliasNotFound(String),
    /// The caller named a snapshot that does not exist.
    #[error("snapshot `{0}` does not exist")]
    SnapshotNotFound(String),
    /// The caller named a shard the collection does not have (it has one, shard 0).
    #[error("shard {0} does not exist")]
    ShardNotFound(u32),
    /// The collection exists already.
    #[error("collection `{0}` already exists")]
    AlreadyExists(String),
    /// The request is malformed or inconsistent with the collection (the message names the field).
    #[error("{0}")]
    BadInput(String),
    /// A well-formed value breaks one of Qdrant's rules (`hnsw_config.ef_construct` below 4, …).
    #[error("{field}: {problem}")]
    Invalid { field: String, problem: String },
    /// Persisting failed. The write was not acknowledged; if its record reached the log but the
    /// fsync failed, it is applied (memory follows the log), otherwise nothing was applied.
    #[error("storage failure: {0}")]
    Storage(#[from] StorageError),
    /// The storage directory cannot be used (it is a file, or another process holds it).
    #[error("{0}")]
    StorageUnavailable(String),
    /// The files on disk are not what we wrote.
    #[error("corrupt data in {what}: {reason}")]
    Corrupt { what: String, reason: String },
}

impl EngineError {
    pub(crate) fn bad(msg: impl Into<String>) -> Self {
        EngineError::BadInput(msg.into())
    }

    /// Whether the error comes from a full disk (the API answers 507).
    pub fn is_disk_full(&self) -> bool {
        matches!(self, EngineError::Storage(e) if e.is_disk_full())
    }
}
