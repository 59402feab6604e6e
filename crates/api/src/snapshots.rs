//! Qdrant's snapshot routes: per collection (`/collections/{name}/snapshots…`) and for the whole
//! storage (`/snapshots…`): create, list, download, delete, recover from a file, upload.

use std::collections::HashMap;
use std::path::PathBuf;

use axum::body::Body;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tokio::io::AsyncWriteExt;

use crate::extract::{JsonBody, Timer};
use crate::handlers::{blocking, path};
use crate::{ApiError, AppState};

type ApiResult = Result<Response, ApiError>;
type Params = Result<Query<HashMap<String, String>>, QueryRejection>;

/// `priority` and `checksum` of the recover and upload routes (`wait` is accepted: every
/// snapshot call answers when it is done).
struct RecoverParams {
    checksum: Option<String>,
}

fn params(p: Params) -> Result<HashMap<String, String>, ApiError> {
    p.map(|Query(q)| q)
        .map_err(|e| ApiError::bad_request(format!("Bad query string: {}", e.body_text())))
}

fn check_priority(v: Option<&str>, at: &str) -> Result<(), ApiError> {
    match v {
        None | Some("no_sync" | "snapshot" | "replica") => Ok(()),
        Some(other) => Err(ApiError::bad_request(format!(
            "Wrong input: {at}: expected one of no_sync, snapshot, replica, got `{other}`"
        ))),
    }
}

fn check_wait(q: &HashMap<String, String>) -> Result<(), ApiError> {
    match q.get("wait").map(String::as_str) {
        None | Some("true" | "false") => Ok(()),
        Some(v) => Err(ApiError::bad_request(format!(
            "Wrong input: wait: expected true or false, got `{v}`"
        ))),
    }
}

fn recover_params(q: &HashMap<String, String>) -> Result<RecoverParams, ApiError> {
    check_wait(q)?;
    check_priority(q.get("priority").map(String::as_str), "priority")?;
    Ok(RecoverParams {
        checksum: q.get("checksum").cloned(),
    })
}

/// A snapshot location: `file:///abs/path` or an absolute path on the server.
fn location(body: &Value) -> Result<PathBuf, ApiError> {
    let bad = |why: &str| ApiError::bad_request(format!("Wrong input: location: {why}"));
    let loc = body
        .get("location")
        .ok_or_else(|| bad("missing"))?
        .as_str()
        .ok_or_else(|| bad("expected a string"))?;
    if loc.starts_with("http://") || loc.starts_with("https://") {
        return Err(bad(
            "downloading from a URL is not supported; upload the file to …/snapshots/upload, or give a file:// path on the server",
        ));
    }
    let p = loc.strip_prefix("file://").unwrap_or(loc);
    let p = PathBuf::from(p);
    if !p.is_absolute() {
        return Err(bad("expected file:///absolute/path or an absolute path"));
    }
    if !p.is_file() {
        return Err(ApiError {
            status: StatusCode::NOT_FOUND,
            message: format!("Not found: snapshot file {} does not exist", p.display()),
        });
    }
    Ok(p)
}

fn body_recover_params(body: &Value) -> Result<RecoverParams, ApiError> {
    if !body.is_object() {
        return Err(ApiError::bad_request(
            "Wrong input: expected a JSON object with `location`",
        ));
    }
    check_priority(body.get("priority").and_then(Value::as_str), "priority")?;
    let checksum = match body.get("checksum") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            return Err(ApiError::bad_request(
                "Wrong input: checksum: expected a string",
            ))
        }
    };
    Ok(RecoverParams { checksum })
}

/// Streams a snapshot file.
async fn send_file(path: PathBuf) -> ApiResult {
    let file = tokio::fs::File::open(&path).await.map_err(|e| ApiError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        message: format!("Service internal error: cannot read the snapshot: {e}"),
    })?;
    let len = file.metadata().await.map(|m| m.len()).ok();
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("snapshot")
        .to_string();
    let mut resp = Body::from_stream(tokio_util::io::ReaderStream::new(file)).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/octet-stream"),
    );
    if let Ok(v) = header::HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Some(len) = len {
        h.insert(header::CONTENT_LENGTH, len.into());
    }
    Ok(resp)
}

/// Saves the multipart field `snapshot` (or the first file field) to a temporary file.
async fn receive_upload(s: &AppState, mut form: Multipart) -> Result<TempFile, ApiError> {
    let db = s.db.clone();
    let dir = blocking(move || db.upload_dir()).await??;
    let bad = |e: axum::extract::multipart::MultipartError| {
        ApiError::bad_request(format!("Wrong input: multipart body: {}", e.body_text()))
    };
    while let Some(mut field) = form.next_field().await.map_err(bad)? {
        if field.name() != Some("snapshot") && field.file_name().is_none() {
            continue;
        }
        let tmp = TempFile(dir.join(format!("{}.upload", uuid::Uuid::new_v4())));
        let io = |e: std::io::Error| {
            ApiError::from(rvdb_engine::EngineError::Storage(rvdb_storage_io_error(
                &tmp.0, e,
            )))
        };
        let mut out = tokio::fs::File::create(&tmp.0).await.map_err(io)?;
        while let Some(chunk) = field.chunk().await.map_err(bad)? {
            out.write_all(&chunk).await.map_err(io)?;
        }
        out.flush().await.map_err(io)?;
        return Ok(tmp);
    }
    Err(ApiError::bad_request(
        "Wrong input: multipart body: no `snapshot` file field",
    ))
}

fn rvdb_storage_io_error(path: &std::path::Path, e: std::io::Error) -> rvdb_engine::StorageError {
    rvdb_engine::StorageError::Io {
        path: path.to_path_buf(),
        source: e,
    }
}

/// A file removed when dropped.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

// ---- per collection ----

#[utoipa::path(post, path = "/collections/{name}/snapshots", tag = "snapshots",
    params(crate::openapi::common::CollectionPath, crate::openapi::common::WaitQuery),
    responses((status = 200, description = "Created (after a flush of the collection)", body = crate::openapi::snapshots::SnapshotResponse)))]
pub(crate) async fn create(
    t: Timer,
    State(s): State<AppState>,
    name: Result<Path<String>, PathRejection>,
    q: Params,
) -> ApiResult {
    check_wait(&params(q)?)?;
    let name = path(name)?;
    let db = s.db.clone();
    let d = blocking(move || db.create_snapshot(&name)).await??;
    Ok(t.ok(d))
}

#[utoipa::path(get, path = "/collections/{name}/snapshots", tag = "snapshots",
    params(crate::openapi::common::CollectionPath),
    responses((status = 200, description = "The collection's snapshots", body = crate::openapi::snapshots::SnapshotListResponse)))]
pub(crate) async fn list(
    t: Timer,
    State(s): State<AppState>,
    name: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let name = path(name)?;
    let db = s.db.clone();
    Ok(t.ok(blocking(move || db.list_snapshots(&name)).await??))
}

#[utoipa::path(get, path = "/collections/{name}/snapshots/{snapshot}", tag = "snapshots",
    params(crate::openapi::snapshots::SnapshotPath),
    responses((status = 200, description = "The snapshot file", content_type = "application/octet-stream", body = Vec<u8>)))]
pub(crate) async fn download(
    State(s): State<AppState>,
    p: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult {
    let (name, snap) = path(p)?;
    let db = s.db.clone();
    send_file(blocking(move || db.snapshot_path(&name, &snap)).await??).await
}

#[utoipa::path(delete, path = "/collections/{name}/snapshots/{snapshot}", tag = "snapshots",
    params(crate::openapi::snapshots::SnapshotPath, crate::openapi::common::WaitQuery),
    responses((status = 200, description = "Deleted", body = crate::openapi::common::BoolResponse)))]
pub(crate) async fn delete(
    t: Timer,
    State(s): State<AppState>,
    p: Result<Path<(String, String)>, PathRejection>,
    q: Params,
) -> ApiResult {
    check_wait(&params(q)?)?;
    let (name, snap) = path(p)?;
    let db = s.db.clone();
    blocking(move || db.delete_snapshot(&name, &snap)).await??;
    Ok(t.ok(true))
}

/// PUT /collections/{name}/snapshots/recover `{"location", "priority", "checksum"}`.
#[utoipa::path(put, path = "/collections/{name}/snapshots/recover", tag = "snapshots",
    params(crate::openapi::common::CollectionPath, crate::openapi::common::WaitQuery), request_body = crate::openapi::snapshots::SnapshotRecover,
    responses((status = 200, description = "Recovered: the collection of that name (if any) was replaced whole", body = crate::openapi::common::BoolResponse)))]
pub(crate) async fn recover(
    t: Timer,
    State(s): State<AppState>,
    name: Result<Path<String>, PathRejection>,
    q: Params,
    JsonBody(body): JsonBody,
) -> ApiResult {
    check_wait(&params(q)?)?;
    let name = path(name)?;
    let rp = body_recover_params(&body)?;
    let file = location(&body)?;
    let db = s.db.clone();
    blocking(move || db.recover_snapshot(&name, &file, rp.checksum.as_deref())).await??;
    Ok(t.ok(true))
}

/// POST /collections/{name}/snapshots/upload (multipart, field `snapshot`).
#[utoipa::path(post, path = "/collections/{name}/snapshots/upload", tag = "snapshots",
    params(crate::openapi::common::CollectionPath, crate::openapi::snapshots::UploadQuery),
    request_body(content = crate::openapi::snapshots::SnapshotUpload, content_type = "multipart/form-data"),
    responses((status = 200, description = "Recovered from the upload: the collection of that name (if any) was replaced whole", body = crate::openapi::common::BoolResponse)))]
pub(crate) async fn upload(
    t: Timer,
    State(s): State<AppState>,
    name: Result<Path<String>, PathRejection>,
    q: Params,
    form: Multipart,
) -> ApiResult {
    let rp = recover_params(&params(q)?)?;
    let name = path(name)?;
    let file = receive_upload(&s, form).await?;
    let db = s.db.clone();
    blocking(move || {
        let r = db.recover_snapshot(&name, &file.0, rp.checksum.as_deref());
        drop(file);
        r
    })
    .await??;
    Ok(t.ok(true))
}

// ---- whole storage ----

#[utoipa::path(post, path = "/snapshots", tag = "snapshots",
    params(crate::openapi::common::WaitQuery),
    responses((status = 200, description = "Created: every collection and the aliases", body = crate::openapi::snapshots::SnapshotResponse)))]
pub(crate) async fn create_full(t: Timer, State(s): State<AppState>, q: Params) -> ApiResult {
    check_wait(&params(q)?)?;
    let db = s.db.clone();
    Ok(t.ok(blocking(move || db.create_full_snapshot()).await??))
}

#[utoipa::path(get, path = "/snapshots", tag = "snapshots",
    responses((status = 200, description = "The full snapshots", body = crate::openapi::snapshots::SnapshotListResponse)))]
pub(crate) async fn list_full(t: Timer, State(s): State<AppState>) -> ApiResult {
    let db = s.db.clone();
    Ok(t.ok(blocking(move || db.list_full_snapshots()).await??))
}

#[utoipa::path(get, path = "/snapshots/{snapshot}", tag = "snapshots",
    params(crate::openapi::snapshots::FullSnapshotPath),
    responses((status = 200, description = "The snapshot file", content_type = "application/octet-stream", body = Vec<u8>)))]
pub(crate) async fn download_full(
    State(s): State<AppState>,
    p: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let snap = path(p)?;
    let db = s.db.clone();
    send_file(blocking(move || db.full_snapshot_path(&snap)).await??).await
}

#[utoipa::path(delete, path = "/snapshots/{snapshot}", tag = "snapshots",
    params(crate::openapi::snapshots::FullSnapshotPath, crate::openapi::common::WaitQuery),
    responses((status = 200, description = "Deleted", body = crate::openapi::common::BoolResponse)))]
pub(crate) async fn delete_full(
    t: Timer,
    State(s): State<AppState>,
    p: Result<Path<String>, PathRejection>,
    q: Params,
) -> ApiResult {
    check_wait(&params(q)?)?;
    let snap = path(p)?;
    let db = s.db.clone();
    blocking(move || db.delete_full_snapshot(&snap)).await??;
    Ok(t.ok(true))
}

/// PUT /snapshots/recover `{"location", "checksum"}` (not in Qdrant's API, which recovers a
/// full snapshot only at start): recovers every collection in it, then its aliases.
#[utoipa::path(put, path = "/snapshots/recover", tag = "snapshots",
    params(crate::openapi::common::WaitQuery), request_body = crate::openapi::snapshots::SnapshotRecover,
    responses((status = 200, description = "Every collection of the snapshot recovered (each replaced whole), then its aliases", body = crate::openapi::common::BoolResponse)))]
pub(crate) async fn recover_full(
    t: Timer,
    State(s): State<AppState>,
    q: Params,
    JsonBody(body): JsonBody,
) -> ApiResult {
    check_wait(&params(q)?)?;
    let rp = body_recover_params(&body)?;
    let file = location(&body)?;
    let db = s.db.clone();
    blocking(move || db.recover_full_snapshot(&file, rp.checksum.as_deref())).await??;
    Ok(t.ok(true))
}

/// POST /snapshots/upload (multipart, field `snapshot`): like `recover_full`, from an upload.
#[utoipa::path(post, path = "/snapshots/upload", tag = "snapshots",
    params(crate::openapi::snapshots::UploadQuery),
    request_body(content = crate::openapi::snapshots::SnapshotUpload, content_type = "multipart/form-data"),
    responses((status = 200, description = "Every collection of the uploaded snapshot recovered, then its aliases", body = crate::openapi::common::BoolResponse)))]
pub(crate) async fn upload_full(
    t: Timer,
    State(s): State<AppState>,
    q: Params,
    form: Multipart,
) -> ApiResult {
    let rp = recover_params(&params(q)?)?;
    let file = receive_upload(&s, form).await?;
    let db = s.db.clone();
    blocking(move || {
        let r = db.recover_full_snapshot(&file.0, rp.checksum.as_deref());
        drop(file);
        r
    })
    .await??;
    Ok(t.ok(true))
}

// ---- per shard (a collection has one, shard 0; any other is Qdrant's 404 `shard {id}`) ----

#[utoipa::path(post, path = "/collections/{name}/shards/{shard_id}/snapshots", tag = "snapshots",
    params(crate::openapi::snapshots::ShardPath, crate::openapi::common::WaitQuery),
    responses((status = 200, description = "Created (after a flush of the collection); kept apart from the collection's snapshots", body = crate::openapi::snapshots::SnapshotResponse)))]
pub(crate) async fn create_shard(
    t: Timer,
    State(s): State<AppState>,
    p: Result<Path<(String, u32)>, PathRejection>,
    q: Params,
) -> ApiResult {
    check_wait(&params(q)?)?;
    let (name, shard) = path(p)?;
    let db = s.db.clone();
    Ok(t.ok(blocking(move || db.create_shard_snapshot(&name, shard)).await??))
}

#[utoipa::path(get, path = "/collections/{name}/shards/{shard_id}/snapshots", tag = "snapshots",
    params(crate::openapi::snapshots::ShardPath),
    responses((status = 200, description = "The shard's snapshots, newest first", body = crate::openapi::snapshots::SnapshotListResponse)))]
pub(crate) async fn list_shard(
    t: Timer,
    State(s): State<AppState>,
    p: Result<Path<(String, u32)>, PathRejection>,
) -> ApiResult {
    let (name, shard) = path(p)?;
    let db = s.db.clone();
    Ok(t.ok(blocking(move || db.list_shard_snapshots(&name, shard)).await??))
}

#[utoipa::path(get, path = "/collections/{name}/shards/{shard_id}/snapshots/{snapshot}", tag = "snapshots",
    params(crate::openapi::snapshots::ShardSnapshotPath),
    responses((status = 200, description = "The snapshot file", content_type = "application/octet-stream", body = Vec<u8>)))]
pub(crate) async fn download_shard(
    State(s): State<AppState>,
    p: Result<Path<(String, u32, String)>, PathRejection>,
) -> ApiResult {
    let (name, shard, snap) = path(p)?;
    let db = s.db.clone();
    send_file(blocking(move || db.shard_snapshot_path(&name, shard, &snap)).await??).await
}

#[utoipa::path(delete, path = "/collections/{name}/shards/{shard_id}/snapshots/{snapshot}", tag = "snapshots",
    params(crate::openapi::snapshots::ShardSnapshotPath, crate::openapi::common::WaitQuery),
    responses((status = 200, description = "Deleted", body = crate::openapi::common::BoolResponse)))]
pub(crate) async fn delete_shard(
    t: Timer,
    State(s): State<AppState>,
    p: Result<Path<(String, u32, String)>, PathRejection>,
    q: Params,
) -> ApiResult {
    check_wait(&params(q)?)?;
    let (name, shard, snap) = path(p)?;
    let db = s.db.clone();
    blocking(move || db.delete_shard_snapshot(&name, shard, &snap)).await??;
    Ok(t.ok(true))
}

/// GET /collections/{name}/shards/{shard_id}/snapshot: a fresh snapshot of the shard, streamed
/// as it is read and not kept.
#[utoipa::path(get, path = "/collections/{name}/shards/{shard_id}/snapshot", tag = "snapshots",
    params(crate::openapi::snapshots::ShardPath),
    responses((status = 200, description = "A snapshot of the shard made for this request (not listed, not kept)", content_type = "application/octet-stream", body = Vec<u8>)))]
pub(crate) async fn stream_shard(
    State(s): State<AppState>,
    p: Result<Path<(String, u32)>, PathRejection>,
) -> ApiResult {
    let (name, shard) = path(p)?;
    let db = s.db.clone();
    let (file, len, file_name) = blocking(move || db.stream_shard_snapshot(&name, shard)).await??;
    let file = tokio::fs::File::from_std(file);
    let mut resp = Body::from_stream(tokio_util::io::ReaderStream::new(file)).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/octet-stream"),
    );
    if let Ok(v) = header::HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CONTENT_LENGTH, len.into());
    Ok(resp)
}

/// PUT /collections/{name}/shards/{shard_id}/snapshots/recover `{"location", "priority",
/// "checksum"}`: the collection must exist; it is replaced whole by the snapshot's content
/// (a shard snapshot or a collection snapshot: the same files).
#[utoipa::path(put, path = "/collections/{name}/shards/{shard_id}/snapshots/recover", tag = "snapshots",
    params(crate::openapi::snapshots::ShardPath, crate::openapi::common::WaitQuery), request_body = crate::openapi::snapshots::SnapshotRecover,
    responses((status = 200, description = "Recovered: the shard (the whole collection, configuration included) replaced by the snapshot's content", body = crate::openapi::common::BoolResponse)))]
pub(crate) async fn recover_shard(
    t: Timer,
    State(s): State<AppState>,
    p: Result<Path<(String, u32)>, PathRejection>,
    q: Params,
    JsonBody(body): JsonBody,
) -> ApiResult {
    check_wait(&params(q)?)?;
    let (name, shard) = path(p)?;
    let rp = body_recover_params(&body)?;
    let db = s.db.clone();
    let n = name.clone();
    blocking(move || db.check_collection_shard(&n, shard)).await??;
    let file = location(&body)?;
    let db = s.db.clone();
    blocking(move || db.recover_shard_snapshot(&name, shard, &file, rp.checksum.as_deref()))
        .await??;
    Ok(t.ok(true))
}

/// POST /collections/{name}/shards/{shard_id}/snapshots/upload (multipart, field `snapshot`).
#[utoipa::path(post, path = "/collections/{name}/shards/{shard_id}/snapshots/upload", tag = "snapshots",
    params(crate::openapi::snapshots::ShardPath, crate::openapi::snapshots::UploadQuery),
    request_body(content = crate::openapi::snapshots::SnapshotUpload, content_type = "multipart/form-data"),
    responses((status = 200, description = "Recovered from the upload: the shard (the whole collection, configuration included) replaced", body = crate::openapi::common::BoolResponse)))]
pub(crate) async fn upload_shard(
    t: Timer,
    State(s): State<AppState>,
    p: Result<Path<(String, u32)>, PathRejection>,
    q: Params,
    form: Multipart,
) -> ApiResult {
    let rp = recover_params(&params(q)?)?;
    let (name, shard) = path(p)?;
    // The body is read before the collection and shard are checked (recover_shard_snapshot
    // does), so a 404 reaches a client still sending its upload instead of a reset connection.
    let file = receive_upload(&s, form).await?;
    let db = s.db.clone();
    blocking(move || {
        let r = db.recover_shard_snapshot(&name, shard, &file.0, rp.checksum.as_deref());
        drop(file);
        r
    })
    .await??;
    Ok(t.ok(true))
}
