//! Durable file layer of rustvecdb.
//!
//! This crate owns every byte that has to survive a crash:
//!
//! * [`Vfs`] — the small trait all storage I/O goes through, with three
//!   backends (see [below](#io-backends-vfs)).
//! * [`Wal`] — a write-ahead log made of CRC-framed records spread over a
//!   sequence of files in one directory, with group commit through
//!   [`WalSync`]. Its on-disk format, recovery rules and durability
//!   semantics are described below.
//! * [`atomic_write`] and [`fsync_dir`] (and [`atomic_write_in`],
//!   [`fsync_dir_in`] for any [`Vfs`]) — helpers to replace a whole file
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
//! ## Recovery rules ([`Wal::open`], [`Wal::open_in`])
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
//! # I/O backends ([`Vfs`])
//!
//! Every file operation of this crate goes through an `Arc<dyn Vfs>`; the
//! functions without `_in` ([`Wal::open`], [`atomic_write`], [`fsync_dir`])
//! use the real file system ([`default_vfs`]).
//!
//! * [`FileVfs`] — `std::fs`: `sync_data` is `fdatasync`, `sync_all` is
//!   `fsync`, [`Vfs::fsync_dir`] fsyncs the directory, and [`Vfs::map`] is a
//!   read-only `mmap` (`memmap2`; an empty file gives an empty view without
//!   mapping).
//! * [`MemoryVfs`] — in memory, for tests. It tracks which bytes of each
//!   file were synced and which directory entries were made durable by a
//!   directory fsync. [`MemoryVfs::crash`] simulates a power loss: unsynced
//!   bytes (and unsynced truncations) are undone, and so is every creation,
//!   rename or removal of an entry that was not followed by an fsync of its
//!   directory. [`MemoryVfs::crashed_copy`] shows that state without
//!   changing the file system.
//! * [`FaultyVfs`] — wraps another backend and fails the n-th write (after
//!   writing half of it, like a torn write), the n-th file sync, the n-th
//!   read, or every write and file creation with `ENOSPC` while its "disk
//!   full" switch is set.
//!
//! The model assumed of the media (and implemented by [`MemoryVfs`]): a
//! write may reach the disk partly or not at all until the file is synced;
//! a synced file's content and size survive a power loss; a directory entry
//! survives only once its directory was fsynced.
//!
//! # WAL durability and group commit
//!
//! [`Wal::append`] writes a record but does not make it durable. Durability
//! comes from [`WalSync::sync_to`], on a `Clone + Send + Sync` handle from
//! [`Wal::sync_handle`] that needs no `&mut Wal`: the intended use is that
//! writers call `append` while holding the engine's writer lock and call
//! `sync_to(seq)` after releasing it. `sync_to(seq)` returns once every
//! record with a seq up to `seq` is durable. It returns at once when an
//! earlier fsync covered `seq`; otherwise one caller becomes the leader and
//! fsyncs the current file, which covers every record appended before the
//! fsync started, and every waiter it covers is released by it — concurrent
//! writers share fsyncs. [`Wal::sync`] is `sync_to(last_seq)` and
//! [`Wal::append_sync`] is `append` + `sync`. [`Wal::durable_seq`] tells how
//! far the log is durable; on open it equals [`Wal::last_seq`] (open fsyncs
//! the current file once, so replayed records are durable too).
//!
//! Rotation (explicit, or inside `append` when the current file exceeds
//! [`WalOptions::file_size_limit`]) fsyncs the old file before the new one
//! is created and the directory fsynced, so only the current file can hold
//! unsynced records, and the group commit always syncs the current file.
//!
//! ## When an fsync fails
//!
//! A failed fsync is **sticky**: after the kernel reported an error for a
//! file's writeback it may have dropped the dirty pages and marked them
//! clean, so a later fsync can succeed without the data being on disk, and
//! the log can no longer tell what reached the disk. So once an fsync of
//! the WAL fails (in `sync_to`, `sync`, or the one done by rotation), every
//! later `sync_to` of a seq that was not yet durable, every `append`,
//! `sync` and `rotate` fails with [`StorageError::SyncFailed`] until the WAL
//! is dropped and reopened, which re-reads what is really on disk (records
//! that were written but never acknowledged may or may not be there).
//! Records that were durable before the failure stay acknowledged.
//!
//! A failed **write** (including `ENOSPC`: [`StorageError::is_disk_full`])
//! is not sticky: the append fails, the file is truncated back so no
//! partial record remains, and later appends work once space is available.
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
//!
//! // Group commit: append under the writer's lock, wait for durability
//! // outside it. Any number of threads can share fsyncs this way.
//! let wal = std::sync::Mutex::new(wal);
//! let sync = wal.lock().unwrap().sync_handle();
//! let seq = {
//!     let mut wal = wal.lock().unwrap();
//!     let seq = wal.last_seq() + 1;
//!     wal.append(seq, b"third")?;
//!     seq
//! };
//! sync.sync_to(seq)?;
//! assert!(sync.durable_seq() >= 3);
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
    atomic_write, atomic_write_in, checksummed, create_dir_all_durable, fsync_dir, fsync_dir_in,
    verify_checksummed,
};
pub use vfs::{
    default_vfs, FaultyVfs, FileVfs, Mapped, MemoryVfs, Vfs, VfsDirEntry, VfsFile, VfsMetadata,
};
pub use wal::{Wal, WalOptions, WalRecord, WalSync, WalSyncStats, MAX_RECORD_LEN, WAL_MAGIC};
