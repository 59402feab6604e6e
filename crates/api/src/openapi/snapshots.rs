//! Schemas of the snapshot routes (`crate::snapshots`).

use utoipa::{IntoParams, ToSchema};

use super::common::envelope;

/// A snapshot file (Qdrant's `SnapshotDescription`).
#[derive(ToSchema)]
pub(crate) struct SnapshotDescription {
    /// File name, e.g. `docs-2026-11-29-17-40-00.snapshot`.
    pub name: String,
    /// UTC, `YYYY-MM-DDTHH:MM:SS`.
    pub creation_time: Option<String>,
    /// Bytes.
    pub size: u64,
    /// SHA-256 of the file, hex.
    pub checksum: Option<String>,
}

envelope! {
    /// The snapshot just created.
    SnapshotResponse => SnapshotDescription;
    /// Snapshots, newest first.
    SnapshotListResponse => Vec<SnapshotDescription>;
}

/// Where to recover a snapshot from.
#[derive(ToSchema)]
pub(crate) struct SnapshotRecover {
    /// `file:///absolute/path` (or an absolute path) of a snapshot file on the server. URLs
    /// (`http(s)://`) are refused: upload the file instead.
    pub location: String,
    /// Accepted for compatibility (one node: no effect): `no_sync`, `snapshot` or `replica`.
    pub priority: Option<String>,
    /// SHA-256 (hex) the file must have; refused (400) when it differs.
    pub checksum: Option<String>,
}

/// A multipart form with the snapshot file.
#[derive(ToSchema)]
pub(crate) struct SnapshotUpload {
    /// The snapshot file (the first file field is taken when none is named `snapshot`).
    #[schema(value_type = String, format = Binary)]
    pub snapshot: Vec<u8>,
}

/// A snapshot of the collection in the path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct SnapshotPath {
    /// Name of the collection (or of an alias of it).
    pub name: String,
    /// The snapshot's file name.
    pub snapshot: String,
}

/// A full snapshot.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct FullSnapshotPath {
    /// The snapshot's file name.
    pub snapshot: String,
}

/// Options of an upload.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct UploadQuery {
    /// Accepted; the answer always comes when the recovery is done.
    pub wait: Option<bool>,
    /// Accepted for compatibility: `no_sync`, `snapshot` or `replica`.
    pub priority: Option<String>,
    /// SHA-256 (hex) the file must have.
    pub checksum: Option<String>,
}

/// A shard of the collection in the path (a collection has one shard, 0).
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct ShardPath {
    /// Name of the collection (or of an alias of it).
    pub name: String,
    /// The shard: 0 (any other is answered 404 `Not found: shard {id}`).
    pub shard_id: u32,
}

/// A snapshot of a shard of the collection in the path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct ShardSnapshotPath {
    /// Name of the collection (or of an alias of it).
    pub name: String,
    /// The shard: 0.
    pub shard_id: u32,
    /// The snapshot's file name.
    pub snapshot: String,
}
