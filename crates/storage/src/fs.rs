//! Atomic file replacement, directory fsync and a small checksum frame.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{io_at, Result, StorageError};
use crate::vfs::{FileVfs, Vfs};

/// Distinguishes temporary files of concurrent `atomic_write` calls in one process.
static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Directory holding `path` (`.` for a bare file name).
pub(crate) fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Write `bytes` to `path` atomically, on the real file system.
///
/// The data is written to a temporary file in the same directory (named
/// `.{file name}.tmp.{pid}.{n}`), fsynced, renamed over `path`, and then the
/// directory is fsynced. After a crash `path` holds either the complete old
/// content or the complete new content; a crash before the rename can leave
/// the temporary file behind. On error the temporary file is removed.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<()> {
    atomic_write_in(&FileVfs, path, bytes)
}

/// [`atomic_write`] through `vfs`.
pub fn atomic_write_in(vfs: &dyn Vfs, path: &Path, bytes: &[u8]) -> Result<()> {
    let file_name = path.file_name().ok_or_else(|| {
        StorageError::io(
            path,
            io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"),
        )
    })?;
    let dir = parent_dir(path);
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(file_name);
    tmp_name.push(format!(
        ".tmp.{}.{}",
        std::process::id(),
        TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let tmp_path: PathBuf = dir.join(tmp_name);

    let result = write_and_sync_new(vfs, &tmp_path, bytes)
        .and_then(|()| vfs.rename(&tmp_path, path).map_err(io_at(path)));
    if let Err(e) = result {
        let _ = vfs.remove_file(&tmp_path);
        return Err(e);
    }
    fsync_dir_in(vfs, dir)
}

/// Create `path` (which must not exist), write `bytes`, fsync it.
fn write_and_sync_new(vfs: &dyn Vfs, path: &Path, bytes: &[u8]) -> Result<()> {
    let file = vfs.create_new(path).map_err(io_at(path))?;
    file.write_all(bytes).map_err(io_at(path))?;
    file.sync_all().map_err(io_at(path))
}

/// fsync a directory of the real file system, making file creations, renames
/// and deletions inside it durable.
///
/// On Unix the directory is opened and `fsync`ed; a file system that reports
/// that directories cannot be synchronised (`EINVAL`, unsupported) is treated
/// as success. On other platforms this is a no-op.
pub fn fsync_dir(path: &Path) -> Result<()> {
    fsync_dir_in(&FileVfs, path)
}

/// [`fsync_dir`] through `vfs`.
pub fn fsync_dir_in(vfs: &dyn Vfs, path: &Path) -> Result<()> {
    vfs.fsync_dir(path).map_err(io_at(path))
}

/// Create `dir` and its missing parents through `vfs`, then fsync the parent
/// of every directory that was created, so that the new directories survive
/// a crash.
pub fn create_dir_all_durable(vfs: &dyn Vfs, dir: &Path) -> Result<()> {
    let mut missing = Vec::new();
    let mut cur = dir;
    while !cur.as_os_str().is_empty() && !vfs.exists(cur) {
        missing.push(cur);
        match cur.parent() {
            Some(p) => cur = p,
            None => break,
        }
    }
    vfs.create_dir_all(dir).map_err(io_at(dir))?;
    for created in missing.iter().rev() {
        fsync_dir_in(vfs, parent_dir(created))?;
    }
    Ok(())
}

/// Frame `bytes` with a checksum: `crc32c(bytes)` as a little-endian `u32`,
/// followed by `bytes`. There is no magic and no length field.
pub fn checksummed(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + bytes.len());
    out.extend_from_slice(&crc32c::crc32c(bytes).to_le_bytes());
    out.extend_from_slice(bytes);
    out
}

/// Check a frame produced by [`checksummed`] and return the payload, or
/// `None` when the data is shorter than 4 bytes or the checksum does not match.
pub fn verify_checksummed(data: &[u8]) -> Option<&[u8]> {
    let (crc, payload) = data.split_first_chunk::<4>()?;
    (u32::from_le_bytes(*crc) == crc32c::crc32c(payload)).then_some(payload)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("manifest.json");
        atomic_write(&path, b"old content").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"old content");
        atomic_write(&path, b"new").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        atomic_write(&path, b"").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("manifest.json")]);
    }

    #[test]
    fn atomic_write_failures_leave_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let err = atomic_write(&dir.path().join("missing").join("file"), b"x").unwrap_err();
        assert!(matches!(err, StorageError::Io { .. }), "{err}");

        // Renaming over a non-empty directory fails after the temp file was written.
        let target = dir.path().join("target");
        fs::create_dir(&target).unwrap();
        fs::write(target.join("inner"), b"keep").unwrap();
        let err = atomic_write(&target, b"x").unwrap_err();
        assert!(
            matches!(&err, StorageError::Io { path, .. } if *path == target),
            "{err}"
        );
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("target")]);
    }

    #[test]
    fn fsync_dir_works_and_reports_missing_dir() {
        let dir = tempfile::tempdir().unwrap();
        fsync_dir(dir.path()).unwrap();
        #[cfg(unix)]
        assert!(fsync_dir(&dir.path().join("nope")).is_err());
    }

    #[test]
    fn checksummed_round_trip_and_flip_detection() {
        for payload in [&b""[..], b"a", b"hello checksummed world"] {
            let framed = checksummed(payload);
            assert_eq!(framed.len(), payload.len() + 4);
            assert_eq!(verify_checksummed(&framed), Some(payload));
            for i in 0..framed.len() {
                let mut bad = framed.clone();
                bad[i] ^= 0x01;
                assert_eq!(verify_checksummed(&bad), None, "flip at byte {i}");
            }
        }
        assert_eq!(verify_checksummed(b""), None);
        assert_eq!(verify_checksummed(b"abc"), None);
    }
}
