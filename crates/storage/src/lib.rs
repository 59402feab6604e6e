//! Durable file layer of rustvecdb.
//!
//! This crate owns every byte that has to survive a crash:
//!
//! * [`Wal`] — a write-ahead log made of CRC-framed records spread over a
//!   sequence of files in one directory. Its on-disk format and recovery
//!   rules are described below.
//! * [`atomic_write`] and [`fsync_dir`] — helpers to replace a whole file
//!   atomically (write a temporary file, fsync, rename, fsync the directory).
//! * [`checksummed`] and [`verify_checksummed`] — a minimal CRC-32C frame for
//!   other files (snapshots, manifests) that need corruption detection.
//!
//! All fallible functions return [`Result`], whose error type
//! [`StorageError`] always names the file involved.
//!
//! # WAL on-disk format
//!
//! A WAL is a directory holding files named `wal-{first_seq:020}.log`, where
//! `first_seq` is the (zero-padded, 20 decimal digits) sequence number of the
//! first record the file will hold: a freshly created file takes
//! `last_seq + 1`, so every record in a file has `seq >= first_seq`. Files
//! are read in ascending `first_seq` order; other names in the directory are
//! ignored. All integers are little-endian.
//!
//! Each file starts with an 8-byte header:
//!
//! | offset | size | field                          |
//! |-------:|-----:|--------------------------------|
//! | 0      | 8    | magic, the ASCII bytes `RVDBWAL1` |
//!
//! followed by zero or more records, each laid out as:
//!
//! | offset | size  | field                                                   |
//! |-------:|------:|---------------------------------------------------------|
//! | 0      | 4     | `len: u32` — body length in bytes (at most 1 GiB)       |
//! | 4      | 4     | `crc: u32` — CRC-32C (Castagnoli) over bytes 8..16 (the `seq` field) followed by the body |
//! | 8      | 8     | `seq: u64` — sequence number                            |
//! | 16     | `len` | `body`                                                  |
//!
//! Sequence numbers strictly increase across all records of all files.
//! Each record is written with one `write_all` of the pre-assembled frame.
//!
//! ## Recovery rules ([`Wal::open`])
//!
//! * In the **last** file, the first record that is incomplete or invalid
//!   (fewer than 16 bytes left, `len` above 1 GiB, `len` past end of file,
//!   CRC mismatch — which includes a zero-filled tail) is taken to be an
//!   interrupted write: the file is truncated to the end of the last good
//!   record, fsynced, and a `tracing` warning reports the dropped bytes.
//!   Everything after that point is dropped, including any valid-looking
//!   records behind a damaged one (an error-level log says so when that is
//!   detected).
//! * A last file whose 8-byte header is incomplete (a prefix of the magic,
//!   possibly followed by zero bytes — a crash while creating the file) is an
//!   empty torn file: it is rewritten as an empty WAL file.
//! * Any invalid record or header in a file that is **not** the last one, a
//!   header that is neither the magic nor a torn prefix of it, and a
//!   CRC-valid record whose `seq` is not greater than the previous record's
//!   (or is below its file's `first_seq`) yield [`StorageError::Corrupt`].
//!
//! # Example
//!
//! ```
//! use rvdb_storage::{Wal, WalOptions};
//!
//! # fn main() -> rvdb_storage::Result<()> {
//! let dir = std::env::temp_dir().join(format!("rvdb-storage-doc-{}", std::process::id()));
//! # let _ = std::fs::remove_dir_all(&dir);
//! let (mut wal, replayed) = Wal::open(&dir, WalOptions::default())?;
//! assert!(replayed.is_empty());
//! wal.append(1, b"first")?;
//! wal.append_sync(2, b"second")?;
//! drop(wal);
//!
//! let (wal, replayed) = Wal::open(&dir, WalOptions::default())?;
//! assert_eq!(replayed.len(), 2);
//! assert_eq!(replayed[1].body, b"second");
//! assert_eq!(wal.last_seq(), 2);
//! # drop(wal);
//! # std::fs::remove_dir_all(&dir).unwrap();
//! # Ok(())
//! # }
//! ```

mod error;
mod fs;
mod vfs;
mod wal;

pub use error::{Result, StorageError};
pub use fs::{
    atomic_write, atomic_write_in, checksummed, fsync_dir, fsync_dir_in, verify_checksummed,
};
pub use vfs::{
    default_vfs, FaultyVfs, FileVfs, Mapped, MemoryVfs, Vfs, VfsDirEntry, VfsFile, VfsMetadata,
};
pub use wal::{Wal, WalOptions, WalRecord, WalSync, WalSyncStats, MAX_RECORD_LEN, WAL_MAGIC};
