//! Error type shared by every storage operation: `StorageError` (I/O, corruption, an
//! out-of-order append, a sticky fsync failure), each naming its file; `is_disk_full` tells a
//! full disk (507) from other failures.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, StorageError>;

/// Errors returned by the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// An operating-system I/O call failed on `path`.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// File or directory the failing call was about.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A WAL file contains data that cannot be a torn tail: a bad record in a
    /// file that is not the last one, a bad file header, or sequence numbers
    /// that do not strictly increase.
    #[error("corrupt WAL file {path} at offset {offset}: {reason}")]
    Corrupt {
        /// The WAL file.
        path: PathBuf,
        /// Byte offset of the offending record (or header) in that file.
        offset: u64,
        /// Human-readable description.
        reason: String,
    },
    /// [`Wal::append`](crate::Wal::append) was called with a sequence number
    /// that is not greater than the last one in the log. Nothing was written.
    #[error("out-of-order WAL append: seq {seq} is not greater than last seq {last_seq}")]
    OutOfOrder {
        /// The rejected sequence number.
        seq: u64,
        /// The last sequence number in the log.
        last_seq: u64,
    },
    /// An fsync of the WAL file `path` failed, in this call or an earlier
    /// one. The log cannot tell which of its unsynced bytes reached the disk
    /// (the kernel may have dropped them), so every later append and sync
    /// fails with this error until the WAL is reopened, which re-reads what
    /// is really on disk. Records acknowledged as durable before the failure
    /// stay durable.
    #[error(
        "an fsync of WAL file {path} failed; the WAL must be reopened before further writes: {source}"
    )]
    SyncFailed {
        /// The file whose fsync failed.
        path: PathBuf,
        /// The error of that fsync (shared by every later report of it).
        #[source]
        source: Arc<io::Error>,
    },
}

impl StorageError {
    /// True when the error is an I/O error caused by a full disk
    /// (`ErrorKind::StorageFull`, or raw OS error `ENOSPC`).
    pub fn is_disk_full(&self) -> bool {
        match self {
            StorageError::Io { source, .. } => {
                if source.kind() == io::ErrorKind::StorageFull {
                    return true;
                }
                #[cfg(unix)]
                {
                    // ENOSPC is 28 on Linux, macOS and the BSDs.
                    source.raw_os_error() == Some(28)
                }
                #[cfg(windows)]
                {
                    // ERROR_HANDLE_DISK_FULL (39), ERROR_DISK_FULL (112).
                    matches!(source.raw_os_error(), Some(39) | Some(112))
                }
                #[cfg(not(any(unix, windows)))]
                {
                    false
                }
            }
            _ => false,
        }
    }

    /// Build an [`StorageError::Io`] for `path`.
    pub(crate) fn io(path: &Path, source: io::Error) -> Self {
        StorageError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// Build a [`StorageError::Corrupt`].
    pub(crate) fn corrupt(path: &Path, offset: u64, reason: impl Into<String>) -> Self {
        StorageError::Corrupt {
            path: path.to_path_buf(),
            offset,
            reason: reason.into(),
        }
    }
}

/// `map_err` helper: `.map_err(io_at(path))`.
pub(crate) fn io_at(path: &Path) -> impl FnOnce(io::Error) -> StorageError + '_ {
    move |source| StorageError::io(path, source)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_full_detection() {
        let full = StorageError::io(Path::new("x"), io::Error::from(io::ErrorKind::StorageFull));
        assert!(full.is_disk_full());
        #[cfg(unix)]
        {
            let raw = StorageError::io(Path::new("x"), io::Error::from_raw_os_error(28));
            assert!(raw.is_disk_full());
        }
        let other = StorageError::io(Path::new("x"), io::Error::from(io::ErrorKind::NotFound));
        assert!(!other.is_disk_full());
        let corrupt = StorageError::corrupt(Path::new("x"), 3, "bad");
        assert!(!corrupt.is_disk_full());
        assert_eq!(corrupt.to_string(), "corrupt WAL file x at offset 3: bad");
    }
}
