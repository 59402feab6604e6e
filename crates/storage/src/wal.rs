//! CRC-framed write-ahead log with group commit: `Wal` (append, sync, rotate, `remove_before`,
//! open with torn-tail truncation) and `WalSync`, the handle that shares one fsync among
//! concurrent writers.
//!
//! The on-disk format, the recovery rules and the durability semantics are
//! documented at the crate root (`lib.rs`).

use std::ffi::OsStr;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::{Condvar, Mutex};

use crate::error::{io_at, Result, StorageError};
use crate::fs::{create_dir_all_durable, fsync_dir_in};
use crate::vfs::{default_vfs, Vfs, VfsFile};

/// Magic bytes at the start of every WAL file.
pub const WAL_MAGIC: [u8; 8] = *b"RVDBWAL1";

/// Largest accepted record body (1 GiB). Longer `len` fields are corrupt and
/// longer bodies are refused by [`Wal::append`].
pub const MAX_RECORD_LEN: usize = 1 << 30;

/// Size of the file header (the magic).
const FILE_HEADER_LEN: usize = WAL_MAGIC.len();

/// Size of a record header: `len`, `crc`, `seq`.
const RECORD_HEADER_LEN: usize = 16;

/// The frame buffer is shrunk back to this capacity after a larger append.
const FRAME_BUF_KEEP: usize = 1 << 20;

/// Options for [`Wal::open`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalOptions {
    /// When an append finds the current file larger than this many bytes
    /// (and holding at least one record), it first rotates to a new file.
    /// Default: 32 MiB.
    pub file_size_limit: u64,
}

impl Default for WalOptions {
    fn default() -> Self {
        WalOptions {
            file_size_limit: 32 << 20,
        }
    }
}

/// One record read back from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalRecord {
    /// Sequence number given to [`Wal::append`].
    pub seq: u64,
    /// Record payload.
    pub body: Vec<u8>,
}

/// Bookkeeping for one WAL file.
#[derive(Debug)]
struct WalFile {
    path: PathBuf,
    /// Sequence number in the file name.
    first_seq: u64,
    /// Largest seq stored in the file (`None` when it holds no record).
    max_seq: Option<u64>,
    /// Length in bytes of the valid content.
    len: u64,
}

/// An open write-ahead log. See the [crate documentation](crate) for the
/// on-disk format and the durability rules.
///
/// Appends go to the newest ("current") file and are not durable until
/// [`Wal::sync`], [`Wal::append_sync`] or [`WalSync::sync_to`] returns.
pub struct Wal {
    vfs: Arc<dyn Vfs>,
    dir: PathBuf,
    options: WalOptions,
    /// All live files, oldest first; never empty, the last one is current.
    files: Vec<WalFile>,
    /// Write handle of the current file, positioned at its end; shared with
    /// the sync state.
    file: Arc<dyn VfsFile>,
    last_seq: u64,
    /// A failed append could not be rolled back; retry before the next write.
    rollback_pending: bool,
    /// Reused buffer for assembling a frame.
    frame: Vec<u8>,
    /// Group-commit state shared with every [`WalSync`] handle.
    sync: WalSync,
    /// Test hook: the next append writes only this many bytes, then fails.
    #[cfg(test)]
    fail_next_write_after: Option<usize>,
}

impl fmt::Debug for Wal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wal")
            .field("vfs", &self.vfs)
            .field("dir", &self.dir)
            .field("options", &self.options)
            .field("files", &self.files)
            .field("last_seq", &self.last_seq)
            .field("durable_seq", &self.sync.durable_seq())
            .finish_non_exhaustive()
    }
}

/// A handle to make appended records durable without `&mut Wal`: the group
/// commit of the WAL. Cheap to clone; see [`WalSync::sync_to`].
#[derive(Clone)]
pub struct WalSync {
    shared: Arc<SyncShared>,
}

struct SyncShared {
    state: Mutex<SyncState>,
    /// Signalled whenever a leader's fsync finishes.
    done: Condvar,
    fsyncs: AtomicU64,
    sync_calls: AtomicU64,
}

struct SyncState {
    /// The current file and its path.
    file: Arc<dyn VfsFile>,
    path: PathBuf,
    /// Last seq written to the log (every seq up to it is in the current
    /// file or in an older, already synced one).
    appended_seq: u64,
    /// Every record with a seq up to this one is durable.
    durable_seq: u64,
    /// A leader is running an fsync.
    syncing: bool,
    /// The fsync that failed, when one did: sticky until the WAL is reopened.
    failed: Option<(PathBuf, Arc<io::Error>)>,
}

/// Counters of a WAL's group commit, from [`WalSync::stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WalSyncStats {
    /// File data syncs issued (group commits, explicit syncs and rotations).
    pub fsyncs: u64,
    /// Calls of [`WalSync::sync_to`] (including those of [`Wal::sync`]).
    pub sync_calls: u64,
}

impl fmt::Debug for WalSync {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared.state.lock();
        f.debug_struct("WalSync")
            .field("path", &state.path)
            .field("appended_seq", &state.appended_seq)
            .field("durable_seq", &state.durable_seq)
            .field("failed", &state.failed.is_some())
            .finish_non_exhaustive()
    }
}

impl SyncState {
    fn sticky_error(&self) -> Option<StorageError> {
        self.failed
            .as_ref()
            .map(|(path, source)| StorageError::SyncFailed {
                path: path.clone(),
                source: Arc::clone(source),
            })
    }
}

impl WalSync {
    fn new(file: Arc<dyn VfsFile>, path: PathBuf, seq: u64) -> WalSync {
        WalSync {
            shared: Arc::new(SyncShared {
                state: Mutex::new(SyncState {
                    file,
                    path,
                    appended_seq: seq,
                    durable_seq: seq,
                    syncing: false,
                    failed: None,
                }),
                done: Condvar::new(),
                fsyncs: AtomicU64::new(0),
                sync_calls: AtomicU64::new(0),
            }),
        }
    }

    /// Return once every record with a seq up to `seq` is durable.
    ///
    /// Returns at once when an earlier sync already covered `seq`. Otherwise,
    /// if another caller's fsync is running, waits for it (and checks
    /// again); if none is, this caller becomes the leader and fsyncs the
    /// current file, which makes every record appended so far durable and
    /// releases every waiter whose seq it covers. So concurrent writers share
    /// fsyncs.
    ///
    /// Fails with an `InvalidInput` I/O error when `seq` is above the last
    /// appended seq (it would wait forever), and with
    /// [`StorageError::SyncFailed`] when an fsync of the log has failed, now
    /// or earlier: that error is sticky until the WAL is reopened (see the
    /// [crate documentation](crate)). A `seq` that was durable before the
    /// failure still returns `Ok`.
    pub fn sync_to(&self, seq: u64) -> Result<()> {
        self.shared.sync_calls.fetch_add(1, Ordering::Relaxed);
        let mut state = self.shared.state.lock();
        loop {
            if seq <= state.durable_seq {
                return Ok(());
            }
            if let Some(err) = state.sticky_error() {
                return Err(err);
            }
            if seq > state.appended_seq {
                return Err(StorageError::io(
                    &state.path,
                    io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!(
                            "cannot sync the WAL to seq {seq}: the last appended seq is {}",
                            state.appended_seq
                        ),
                    ),
                ));
            }
            if state.syncing {
                self.shared.done.wait(&mut state);
                continue;
            }
            // Become the leader: fsync outside the lock, so that appends and
            // new waiters can proceed meanwhile.
            state.syncing = true;
            let target = state.appended_seq;
            let file = Arc::clone(&state.file);
            let path = state.path.clone();
            drop(state);
            let result = file.sync_data();
            self.shared.fsyncs.fetch_add(1, Ordering::Relaxed);
            state = self.shared.state.lock();
            state.syncing = false;
            match result {
                Ok(()) => state.durable_seq = state.durable_seq.max(target),
                Err(e) => {
                    tracing::error!(
                        path = %path.display(),
                        error = %e,
                        "WAL: fsync failed; the log is unusable until reopened"
                    );
                    state.failed.get_or_insert((path, Arc::new(e)));
                }
            }
            self.shared.done.notify_all();
        }
    }

    /// Every record with a seq up to this one is durable.
    pub fn durable_seq(&self) -> u64 {
        self.shared.state.lock().durable_seq
    }

    /// Counters of fsyncs and sync calls since the WAL was opened.
    pub fn stats(&self) -> WalSyncStats {
        WalSyncStats {
            fsyncs: self.shared.fsyncs.load(Ordering::Relaxed),
            sync_calls: self.shared.sync_calls.load(Ordering::Relaxed),
        }
    }

    fn check_failed(&self) -> Result<()> {
        match self.shared.state.lock().sticky_error() {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }

    fn set_appended(&self, seq: u64) {
        self.shared.state.lock().appended_seq = seq;
    }

    /// fsync `file` (the current file, about to be left behind) directly,
    /// whatever `durable_seq` says: a torn write that a group commit synced
    /// and a rollback then truncated must not stay in a file that is no
    /// longer the last one. On success everything appended is durable.
    fn sync_for_rotation(&self, file: &dyn VfsFile) -> Result<()> {
        self.check_failed()?;
        let result = file.sync_data();
        self.shared.fsyncs.fetch_add(1, Ordering::Relaxed);
        let mut state = self.shared.state.lock();
        match result {
            Ok(()) => {
                state.durable_seq = state.durable_seq.max(state.appended_seq);
                Ok(())
            }
            Err(e) => {
                let path = state.path.clone();
                state.failed.get_or_insert((path, Arc::new(e)));
                self.shared.done.notify_all();
                Err(state.sticky_error().expect("just set"))
            }
        }
    }

    /// Point the handle at a new, empty current file.
    fn switch_file(&self, file: Arc<dyn VfsFile>, path: PathBuf) {
        let mut state = self.shared.state.lock();
        state.file = file;
        state.path = path;
    }
}

impl Wal {
    /// Open the WAL in `dir` on the real file system (created if missing)
    /// and return it together with every record, in order.
    ///
    /// A torn or corrupt tail of the last file is truncated away (see the
    /// [crate documentation](crate)); damage anywhere else is
    /// [`StorageError::Corrupt`]. When the directory holds no WAL file, an
    /// empty `wal-00000000000000000001.log` is created.
    pub fn open(dir: &Path, options: WalOptions) -> Result<(Wal, Vec<WalRecord>)> {
        Wal::open_in(default_vfs(), dir, options)
    }

    /// [`Wal::open`] through `vfs`.
    ///
    /// Directories that had to be created are made durable (their parents
    /// are fsynced), and the current file is fsynced once, so every replayed
    /// record is durable: [`Wal::durable_seq`] starts at [`Wal::last_seq`].
    pub fn open_in(
        vfs: Arc<dyn Vfs>,
        dir: &Path,
        options: WalOptions,
    ) -> Result<(Wal, Vec<WalRecord>)> {
        create_dir_all_durable(&*vfs, dir)?;
        let mut found = Vec::new();
        for entry in vfs.read_dir(dir).map_err(io_at(dir))? {
            let Some(first_seq) = parse_file_name(&entry.name) else {
                continue;
            };
            if !entry.is_dir {
                found.push((first_seq, dir.join(&entry.name)));
            }
        }
        found.sort_unstable_by_key(|&(first_seq, _)| first_seq);

        let mut files = Vec::with_capacity(found.len() + 1);
        let mut records = Vec::new();
        let mut last_seq = 0u64;
        let count = found.len();
        // The last file was just rewritten and synced by the recovery.
        let mut last_synced = false;
        for (i, (first_seq, path)) in found.into_iter().enumerate() {
            let is_last = i + 1 == count;
            let data = vfs.read(&path).map_err(io_at(&path))?;
            let parsed = parse_file(&path, &data, is_last, first_seq, last_seq, &mut records)?;
            if let Some(seq) = parsed.max_seq {
                last_seq = seq;
            }
            let mut len = parsed.good_len as u64;
            if let Some(torn) = parsed.torn {
                let dropped = data.len() as u64 - len;
                if torn.valid_records_follow {
                    tracing::error!(
                        path = %path.display(),
                        offset = torn.offset,
                        dropped_bytes = dropped,
                        reason = %torn.reason,
                        "WAL: damaged record in the last file is followed by valid-looking \
                         records; dropping everything from the damaged record on"
                    );
                } else {
                    tracing::warn!(
                        path = %path.display(),
                        offset = torn.offset,
                        dropped_bytes = dropped,
                        reason = %torn.reason,
                        "WAL: dropping {dropped} bytes of torn tail from the last file"
                    );
                }
                if parsed.header_ok {
                    truncate_file(&*vfs, &path, len)?;
                } else {
                    drop(create_wal_file(&*vfs, &path, false)?);
                    fsync_dir_in(&*vfs, dir)?;
                    len = FILE_HEADER_LEN as u64;
                }
                last_synced = true;
            }
            files.push(WalFile {
                path,
                first_seq,
                max_seq: parsed.max_seq,
                len,
            });
        }

        let file: Arc<dyn VfsFile> = match files.last() {
            Some(current) => {
                let path = &current.path;
                let file = vfs.open_append(path).map_err(io_at(path))?;
                if file.len().map_err(io_at(path))? != current.len {
                    file.set_len(current.len).map_err(io_at(path))?;
                }
                // Replayed records may still sit in the page cache of a
                // process that died without syncing: make them durable.
                if !last_synced {
                    file.sync_data().map_err(io_at(path))?;
                }
                Arc::from(file)
            }
            None => {
                let path = dir.join(file_name(1));
                let file = create_wal_file(&*vfs, &path, true)?;
                fsync_dir_in(&*vfs, dir)?;
                files.push(WalFile {
                    path,
                    first_seq: 1,
                    max_seq: None,
                    len: FILE_HEADER_LEN as u64,
                });
                Arc::from(file)
            }
        };
        // The current file's name promises that every seq below it was used,
        // even when the files holding those records were removed.
        let current = files.last().expect("WAL has a current file");
        last_seq = last_seq.max(current.first_seq.saturating_sub(1));
        let sync = WalSync::new(Arc::clone(&file), current.path.clone(), last_seq);

        let wal = Wal {
            vfs,
            dir: dir.to_path_buf(),
            options,
            files,
            file,
            last_seq,
            rollback_pending: false,
            frame: Vec::new(),
            sync,
            #[cfg(test)]
            fail_next_write_after: None,
        };
        Ok((wal, records))
    }

    /// Append one record with a single write to the current file. The record
    /// is not durable until [`Wal::sync`] or [`WalSync::sync_to`].
    ///
    /// Fails with [`StorageError::OutOfOrder`] (writing nothing) unless
    /// `seq > self.last_seq()`, and with an `InvalidInput` I/O error when the
    /// body exceeds [`MAX_RECORD_LEN`]. Rotates to a new file first when the
    /// current file is larger than [`WalOptions::file_size_limit`]. On a write
    /// error (a full disk included) the file is truncated back to its
    /// previous length, so the log holds no partial record and stays
    /// appendable. After a failed fsync every append fails with
    /// [`StorageError::SyncFailed`] until the WAL is reopened.
    pub fn append(&mut self, seq: u64, body: &[u8]) -> Result<()> {
        if seq <= self.last_seq {
            return Err(StorageError::OutOfOrder {
                seq,
                last_seq: self.last_seq,
            });
        }
        if body.len() > MAX_RECORD_LEN {
            return Err(StorageError::io(
                &self.current().path,
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "WAL record body of {} bytes exceeds the maximum of {MAX_RECORD_LEN}",
                        body.len()
                    ),
                ),
            ));
        }
        self.sync.check_failed()?;
        self.finish_rollback()?;
        let current = self.current();
        if current.max_seq.is_some() && current.len > self.options.file_size_limit {
            self.rotate()?;
        }

        encode_frame(&mut self.frame, seq, body);
        let result = self.write_frame();
        let frame_len = self.frame.len() as u64;
        if self.frame.capacity() > FRAME_BUF_KEEP {
            self.frame = Vec::new();
        }
        match result {
            Ok(()) => {
                let current = self.current_mut();
                current.len += frame_len;
                current.max_seq = Some(seq);
                self.last_seq = seq;
                self.sync.set_appended(seq);
                Ok(())
            }
            Err(e) => {
                self.rollback();
                Err(StorageError::io(&self.current().path, e))
            }
        }
    }

    /// Make every appended record durable: `sync_to(self.last_seq())` of
    /// the [group commit](WalSync::sync_to). Older files were synced when
    /// the log rotated away from them.
    pub fn sync(&mut self) -> Result<()> {
        self.finish_rollback()?;
        self.sync.sync_to(self.last_seq)
    }

    /// [`Wal::append`] followed by [`Wal::sync`].
    pub fn append_sync(&mut self, seq: u64, body: &[u8]) -> Result<()> {
        self.append(seq, body)?;
        self.sync()
    }

    /// A handle with which any thread can wait for appended records to become
    /// durable, sharing fsyncs with the others (group commit).
    pub fn sync_handle(&self) -> WalSync {
        self.sync.clone()
    }

    /// Every record with a seq up to this one is durable.
    pub fn durable_seq(&self) -> u64 {
        self.sync.durable_seq()
    }

    /// Sync and close the current file and start a new, empty one named
    /// after `last_seq() + 1`; the directory is fsynced. A no-op when the
    /// current file holds no record yet.
    pub fn rotate(&mut self) -> Result<()> {
        self.sync.check_failed()?;
        self.finish_rollback()?;
        if self.current().max_seq.is_none() || self.last_seq == u64::MAX {
            return Ok(());
        }
        self.sync.sync_for_rotation(&*self.file)?;

        let first_seq = self.last_seq + 1;
        let path = self.dir.join(file_name(first_seq));
        let file: Arc<dyn VfsFile> = Arc::from(create_wal_file(&*self.vfs, &path, true)?);
        if let Err(e) = fsync_dir_in(&*self.vfs, &self.dir) {
            drop(file);
            let _ = self.vfs.remove_file(&path);
            return Err(e);
        }
        self.sync.switch_file(Arc::clone(&file), path.clone());
        self.files.push(WalFile {
            path,
            first_seq,
            max_seq: None,
            len: FILE_HEADER_LEN as u64,
        });
        self.file = file;
        Ok(())
    }

    /// Delete, oldest first, every WAL file all of whose records have a seq
    /// below `seq`. The current file is never deleted. Fsyncs the directory
    /// when something was deleted.
    pub fn remove_before(&mut self, seq: u64) -> Result<()> {
        let mut removed = false;
        while self.files.len() > 1 {
            let oldest = &self.files[0];
            if oldest.max_seq.is_some_and(|max| max >= seq) {
                break;
            }
            match self.vfs.remove_file(&oldest.path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    let err = StorageError::io(&oldest.path, e);
                    if removed {
                        let _ = fsync_dir_in(&*self.vfs, &self.dir);
                    }
                    return Err(err);
                }
            }
            self.files.remove(0);
            removed = true;
        }
        if removed {
            fsync_dir_in(&*self.vfs, &self.dir)?;
        }
        Ok(())
    }

    /// Total size in bytes of all WAL files.
    pub fn size_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.len).sum()
    }

    /// The last sequence number appended or replayed; 0 for a brand-new log.
    /// After old files were removed and the remaining current file is empty,
    /// this is the current file's `first_seq - 1`.
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    fn current(&self) -> &WalFile {
        self.files.last().expect("WAL has a current file")
    }

    fn current_mut(&mut self) -> &mut WalFile {
        self.files.last_mut().expect("WAL has a current file")
    }

    fn write_frame(&mut self) -> io::Result<()> {
        #[cfg(test)]
        if let Some(n) = self.fail_next_write_after.take() {
            self.file
                .write_all(&self.frame[..n.min(self.frame.len())])?;
            return Err(io::Error::other("injected write failure"));
        }
        self.file.write_all(&self.frame)
    }

    /// Cut the current file back to its last good length after a failed write.
    fn rollback(&mut self) {
        if let Err(e) = self.truncate_current() {
            tracing::error!(
                path = %self.current().path.display(),
                error = %e,
                "WAL: could not truncate a partially written record; will retry"
            );
            self.rollback_pending = true;
        }
    }

    fn finish_rollback(&mut self) -> Result<()> {
        if self.rollback_pending {
            self.truncate_current()
                .map_err(|e| StorageError::io(&self.current().path, e))?;
            self.rollback_pending = false;
        }
        Ok(())
    }

    fn truncate_current(&mut self) -> io::Result<()> {
        self.file.set_len(self.current().len)
    }
}

/// `wal-{first_seq:020}.log`.
fn file_name(first_seq: u64) -> String {
    format!("wal-{first_seq:020}.log")
}

/// Inverse of [`file_name`]; `None` for any other name.
fn parse_file_name(name: &OsStr) -> Option<u64> {
    let digits = name.to_str()?.strip_prefix("wal-")?.strip_suffix(".log")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// CRC-32C over the little-endian seq followed by the body.
fn record_crc(seq: u64, body: &[u8]) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(&seq.to_le_bytes()), body)
}

/// Assemble a complete record frame into `buf` (cleared first).
fn encode_frame(buf: &mut Vec<u8>, seq: u64, body: &[u8]) {
    let len = u32::try_from(body.len()).expect("body length checked against MAX_RECORD_LEN");
    buf.clear();
    buf.reserve(RECORD_HEADER_LEN + body.len());
    buf.extend_from_slice(&len.to_le_bytes());
    buf.extend_from_slice(&record_crc(seq, body).to_le_bytes());
    buf.extend_from_slice(&seq.to_le_bytes());
    buf.extend_from_slice(body);
}

/// Create (or truncate) a WAL file, write the header and fsync it. On
/// failure the file is removed again when `remove_on_error`.
fn create_wal_file(vfs: &dyn Vfs, path: &Path, remove_on_error: bool) -> Result<Box<dyn VfsFile>> {
    let file = vfs.create(path).map_err(io_at(path))?;
    if let Err(e) = file.write_all(&WAL_MAGIC).and_then(|()| file.sync_all()) {
        drop(file);
        if remove_on_error {
            let _ = vfs.remove_file(path);
        }
        return Err(StorageError::io(path, e));
    }
    Ok(file)
}

/// Truncate `path` to `len` bytes and fsync it.
fn truncate_file(vfs: &dyn Vfs, path: &Path, len: u64) -> Result<()> {
    let file = vfs.open_append(path).map_err(io_at(path))?;
    file.set_len(len).map_err(io_at(path))?;
    file.sync_all().map_err(io_at(path))
}

/// Where and why the valid content of the last file ends early.
#[derive(Debug)]
struct TornTail {
    offset: u64,
    reason: String,
    /// A complete, CRC-valid record starts right after the damaged one.
    valid_records_follow: bool,
}

/// Result of scanning one file.
#[derive(Debug)]
struct ParsedFile {
    /// Largest seq in the file.
    max_seq: Option<u64>,
    /// Byte length of the valid prefix (0 when the header is torn).
    good_len: usize,
    header_ok: bool,
    torn: Option<TornTail>,
}

/// A decoded frame header.
struct FrameHeader {
    len: usize,
    seq: u64,
}

/// Check the frame at the start of `rest`: `Ok(header)` when it is complete
/// and its CRC matches, else a description of the problem.
fn check_frame(rest: &[u8]) -> std::result::Result<FrameHeader, String> {
    let Some((head, after)) = rest.split_first_chunk::<RECORD_HEADER_LEN>() else {
        return Err(format!(
            "incomplete record header ({} of {RECORD_HEADER_LEN} bytes)",
            rest.len()
        ));
    };
    let field = |range: std::ops::Range<usize>| &head[range];
    let len = u32::from_le_bytes(field(0..4).try_into().expect("4 bytes")) as usize;
    let crc = u32::from_le_bytes(field(4..8).try_into().expect("4 bytes"));
    let seq = u64::from_le_bytes(field(8..16).try_into().expect("8 bytes"));
    if len > MAX_RECORD_LEN {
        return Err(format!(
            "record length {len} exceeds the maximum of {MAX_RECORD_LEN}"
        ));
    }
    if after.len() < len {
        return Err(format!(
            "record length {len} runs past the end of the file ({} bytes left)",
            after.len()
        ));
    }
    if record_crc(seq, &after[..len]) != crc {
        return Err(format!("CRC mismatch in record of length {len}"));
    }
    Ok(FrameHeader { len, seq })
}

/// True when `hdr` (at most 8 bytes) is a prefix of the magic followed only
/// by zero bytes: a header whose write was interrupted.
fn is_torn_header(hdr: &[u8]) -> bool {
    let matching = hdr
        .iter()
        .zip(WAL_MAGIC.iter())
        .take_while(|(a, b)| a == b)
        .count();
    hdr[matching..].iter().all(|&b| b == 0)
}

/// Scan one file, pushing its records onto `out`.
fn parse_file(
    path: &Path,
    data: &[u8],
    is_last: bool,
    first_seq: u64,
    prev_seq: u64,
    out: &mut Vec<WalRecord>,
) -> Result<ParsedFile> {
    let hdr = &data[..data.len().min(FILE_HEADER_LEN)];
    if hdr != WAL_MAGIC {
        if is_last && is_torn_header(hdr) {
            return Ok(ParsedFile {
                max_seq: None,
                good_len: 0,
                header_ok: false,
                torn: Some(TornTail {
                    offset: 0,
                    reason: format!("incomplete file header ({} bytes)", data.len()),
                    valid_records_follow: false,
                }),
            });
        }
        let reason = if data.len() < FILE_HEADER_LEN {
            format!("truncated file header ({} bytes)", data.len())
        } else {
            "bad magic".to_owned()
        };
        return Err(StorageError::corrupt(path, 0, reason));
    }

    let mut offset = FILE_HEADER_LEN;
    let mut last = prev_seq;
    let mut max_seq = None;
    while offset < data.len() {
        match check_frame(&data[offset..]) {
            Ok(frame) => {
                if frame.seq <= last {
                    return Err(StorageError::corrupt(
                        path,
                        offset as u64,
                        format!(
                            "sequence number {} is not greater than the previous {last}",
                            frame.seq
                        ),
                    ));
                }
                if frame.seq < first_seq {
                    return Err(StorageError::corrupt(
                        path,
                        offset as u64,
                        format!(
                            "sequence number {} is below the file's first sequence {first_seq}",
                            frame.seq
                        ),
                    ));
                }
                let start = offset + RECORD_HEADER_LEN;
                out.push(WalRecord {
                    seq: frame.seq,
                    body: data[start..start + frame.len].to_vec(),
                });
                last = frame.seq;
                max_seq = Some(frame.seq);
                offset = start + frame.len;
            }
            Err(reason) => {
                if !is_last {
                    return Err(StorageError::corrupt(path, offset as u64, reason));
                }
                return Ok(ParsedFile {
                    max_seq,
                    good_len: offset,
                    header_ok: true,
                    torn: Some(TornTail {
                        offset: offset as u64,
                        valid_records_follow: valid_record_follows(data, offset),
                        reason,
                    }),
                });
            }
        }
    }
    Ok(ParsedFile {
        max_seq,
        good_len: offset,
        header_ok: true,
        torn: None,
    })
}

/// Whether the damaged frame at `offset` has a plausible length and a
/// complete, CRC-valid record starts right after it.
fn valid_record_follows(data: &[u8], offset: usize) -> bool {
    let Some(head) = data[offset..].first_chunk::<4>() else {
        return false;
    };
    let len = u32::from_le_bytes(*head) as usize;
    let next = offset + RECORD_HEADER_LEN + len;
    len <= MAX_RECORD_LEN && next < data.len() && check_frame(&data[next..]).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn opts(file_size_limit: u64) -> WalOptions {
        WalOptions { file_size_limit }
    }

    fn body(seq: u64) -> Vec<u8> {
        format!("record-{seq}-")
            .repeat((seq % 7) as usize)
            .into_bytes()
    }

    fn wal_files(dir: &Path) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| parse_file_name(p.file_name().unwrap()).is_some())
            .collect();
        files.sort();
        files
    }

    fn seqs(records: &[WalRecord]) -> Vec<u64> {
        records.iter().map(|r| r.seq).collect()
    }

    fn expected(seqs: impl IntoIterator<Item = u64>) -> Vec<WalRecord> {
        seqs.into_iter()
            .map(|seq| WalRecord {
                seq,
                body: body(seq),
            })
            .collect()
    }

    fn append_range(wal: &mut Wal, range: impl IntoIterator<Item = u64>) {
        for seq in range {
            wal.append(seq, &body(seq)).unwrap();
        }
    }

    #[test]
    fn file_names_round_trip() {
        assert_eq!(file_name(42), "wal-00000000000000000042.log");
        assert_eq!(parse_file_name(OsStr::new(&file_name(42))), Some(42));
        assert_eq!(
            parse_file_name(OsStr::new(&file_name(u64::MAX))),
            Some(u64::MAX)
        );
        assert_eq!(parse_file_name(OsStr::new("wal-42.log")), None);
        assert_eq!(
            parse_file_name(OsStr::new("wal-0000000000000000004x.log")),
            None
        );
        assert_eq!(
            parse_file_name(OsStr::new("wal-00000000000000000042.log.tmp")),
            None
        );
    }

    #[test]
    fn empty_dir_creates_first_file() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("nested").join("wal");
        let (wal, records) = Wal::open(&dir, WalOptions::default()).unwrap();
        assert!(records.is_empty());
        assert_eq!(wal.last_seq(), 0);
        assert_eq!(wal.size_bytes(), 8);
        let files = wal_files(&dir);
        assert_eq!(files, vec![dir.join("wal-00000000000000000001.log")]);
        assert_eq!(fs::read(&files[0]).unwrap(), b"RVDBWAL1");
    }

    #[test]
    fn round_trip_across_rotations() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut wal, _) = Wal::open(tmp.path(), opts(200)).unwrap();
        append_range(&mut wal, 1..=300);
        wal.sync().unwrap();
        assert_eq!(wal.last_seq(), 300);
        let files = wal_files(tmp.path());
        assert!(files.len() > 10, "expected many files, got {}", files.len());
        let total: u64 = files.iter().map(|p| fs::metadata(p).unwrap().len()).sum();
        assert_eq!(wal.size_bytes(), total);
        // Every file but the last exceeds the limit by at most one record.
        for p in &files[..files.len() - 1] {
            let len = fs::metadata(p).unwrap().len();
            assert!(len > 200 && len <= 200 + 16 + 100 + 200, "{len}");
        }
        drop(wal);

        let (wal, records) = Wal::open(tmp.path(), opts(200)).unwrap();
        assert_eq!(records, expected(1..=300));
        assert_eq!(wal.last_seq(), 300);
        assert_eq!(wal.size_bytes(), total);
        // Each file is named after the first record it holds.
        for p in &files {
            let first = parse_file_name(p.file_name().unwrap()).unwrap();
            let data = fs::read(p).unwrap();
            let seq = u64::from_le_bytes(data[16..24].try_into().unwrap());
            assert_eq!(seq, first);
        }
    }

    #[test]
    fn reopen_appends_further_in_order() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut wal, _) = Wal::open(tmp.path(), opts(1000)).unwrap();
        append_range(&mut wal, 1..=20);
        wal.sync().unwrap();
        drop(wal);

        let (mut wal, records) = Wal::open(tmp.path(), opts(1000)).unwrap();
        assert_eq!(records, expected(1..=20));
        assert!(matches!(
            wal.append(20, b"dup"),
            Err(StorageError::OutOfOrder {
                seq: 20,
                last_seq: 20
            })
        ));
        append_range(&mut wal, 21..=40);
        wal.append_sync(45, &body(45)).unwrap();
        drop(wal);

        let (wal, records) = Wal::open(tmp.path(), opts(1000)).unwrap();
        assert_eq!(seqs(&records), (1..=40).chain([45]).collect::<Vec<_>>());
        assert_eq!(records, expected((1..=40).chain([45])));
        assert_eq!(wal.last_seq(), 45);
    }

    #[test]
    fn explicit_rotate() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut wal, _) = Wal::open(tmp.path(), WalOptions::default()).unwrap();
        wal.rotate().unwrap(); // empty current file: no-op
        assert_eq!(wal_files(tmp.path()).len(), 1);
        append_range(&mut wal, 1..=3);
        wal.rotate().unwrap();
        wal.rotate().unwrap(); // no-op again
        append_range(&mut wal, 4..=5);
        let names: Vec<_> = wal_files(tmp.path())
            .iter()
            .map(|p| p.file_name().unwrap().to_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            names,
            [
                "wal-00000000000000000001.log",
                "wal-00000000000000000004.log"
            ]
        );
        drop(wal);
        let (_, records) = Wal::open(tmp.path(), WalOptions::default()).unwrap();
        assert_eq!(records, expected(1..=5));
    }

    /// Build a WAL with records 1..=n (rotating every `limit` bytes) and
    /// return the last file's path and the offset of its last record.
    fn build_for_tail_test(dir: &Path, n: u64, limit: u64) -> (PathBuf, u64) {
        let (mut wal, _) = Wal::open(dir, opts(limit)).unwrap();
        append_range(&mut wal, 1..n);
        // Force the rotation decision before measuring the offset.
        let current = wal.current();
        if current.max_seq.is_some() && current.len > limit {
            wal.rotate().unwrap();
        }
        let last_start = wal.current().len;
        wal.append_sync(n, &body(n)).unwrap();
        let path = wal.current().path.clone();
        (path, last_start)
    }

    fn check_torn_tail_at_every_offset(n: u64, limit: u64) {
        let tmp = tempfile::tempdir().unwrap();
        let (last_file, last_start) = build_for_tail_test(tmp.path(), n, limit);
        let pristine = fs::read(&last_file).unwrap();
        assert_eq!(body(n).len() + 16, pristine.len() - last_start as usize);
        let other_files: Vec<(PathBuf, Vec<u8>)> = wal_files(tmp.path())
            .into_iter()
            .filter(|p| *p != last_file)
            .map(|p| {
                let d = fs::read(&p).unwrap();
                (p, d)
            })
            .collect();
        for cut in last_start as usize..pristine.len() {
            // Restore the original state, then tear the last record.
            for (p, d) in &other_files {
                fs::write(p, d).unwrap();
            }
            for p in wal_files(tmp.path()) {
                if p != last_file && !other_files.iter().any(|(q, _)| *q == p) {
                    fs::remove_file(p).unwrap();
                }
            }
            fs::write(&last_file, &pristine[..cut]).unwrap();

            let (mut wal, records) = Wal::open(tmp.path(), opts(limit)).unwrap();
            assert_eq!(records, expected(1..n), "cut at {cut}");
            assert_eq!(wal.last_seq(), n - 1);
            assert_eq!(fs::metadata(&last_file).unwrap().len(), last_start);
            wal.append_sync(n, b"replacement").unwrap();
            wal.append_sync(n + 1, &body(n + 1)).unwrap();
            drop(wal);

            let (wal, records) = Wal::open(tmp.path(), opts(limit)).unwrap();
            assert_eq!(seqs(&records), (1..=n + 1).collect::<Vec<_>>());
            assert_eq!(records[n as usize - 1].body, b"replacement");
            assert_eq!(wal.last_seq(), n + 1);
        }
    }

    #[test]
    fn torn_tail_single_file() {
        check_torn_tail_at_every_offset(6, 1 << 20);
    }

    #[test]
    fn torn_tail_multiple_files() {
        check_torn_tail_at_every_offset(40, 150);
    }

    #[test]
    fn torn_tail_of_only_record_in_last_file() {
        // limit 0: every record gets its own file.
        check_torn_tail_at_every_offset(5, 0);
    }

    #[test]
    fn torn_file_header_of_last_file() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut wal, _) = Wal::open(tmp.path(), WalOptions::default()).unwrap();
        append_range(&mut wal, 1..=4);
        wal.rotate().unwrap();
        let new_file = wal.current().path.clone();
        drop(wal);
        assert_eq!(fs::read(&new_file).unwrap(), WAL_MAGIC);

        let mut variants: Vec<Vec<u8>> = (0..8).map(|k| WAL_MAGIC[..k].to_vec()).collect();
        variants.push(vec![0; 8]);
        variants.push(vec![0; 100]);
        variants.push(b"RVDB\0\0\0\0\0\0".to_vec());
        for content in variants {
            fs::write(&new_file, &content).unwrap();
            let (mut wal, records) = Wal::open(tmp.path(), WalOptions::default()).unwrap();
            assert_eq!(records, expected(1..=4), "{content:?}");
            assert_eq!(fs::read(&new_file).unwrap(), WAL_MAGIC);
            assert_eq!(wal.last_seq(), 4);
            wal.append_sync(5, &body(5)).unwrap();
            assert_eq!(wal.current().path, new_file);
            drop(wal);
            let (_, records) = Wal::open(tmp.path(), WalOptions::default()).unwrap();
            assert_eq!(records, expected(1..=5));
            fs::write(&new_file, WAL_MAGIC).unwrap();
        }
    }

    #[test]
    fn bad_magic_is_corrupt() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut wal, _) = Wal::open(tmp.path(), WalOptions::default()).unwrap();
        append_range(&mut wal, 1..=2);
        let path = wal.current().path.clone();
        drop(wal);
        let mut data = fs::read(&path).unwrap();
        data[..8].copy_from_slice(b"NOTAWAL!");
        fs::write(&path, &data).unwrap();
        let err = Wal::open(tmp.path(), WalOptions::default()).unwrap_err();
        assert!(
            matches!(&err, StorageError::Corrupt { path: p, offset: 0, .. } if *p == path),
            "{err}"
        );
    }

    #[test]
    fn flipped_byte_in_last_record_is_dropped() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut wal, _) = Wal::open(tmp.path(), opts(300)).unwrap();
        append_range(&mut wal, 1..=19);
        let last_start = wal.current().len;
        wal.append_sync(20, &body(20)).unwrap();
        let path = wal.current().path.clone();
        drop(wal);
        let pristine = fs::read(&path).unwrap();

        // Any single flipped byte of the last record: body, seq, crc or len.
        for pos in last_start as usize..pristine.len() {
            let mut data = pristine.clone();
            data[pos] ^= 0x40;
            fs::write(&path, &data).unwrap();
            let (mut wal, records) = Wal::open(tmp.path(), opts(300)).unwrap();
            assert_eq!(records, expected(1..=19), "flip at {pos}");
            assert_eq!(fs::metadata(&path).unwrap().len(), last_start);
            wal.append_sync(20, &body(20)).unwrap();
            drop(wal);
            assert_eq!(fs::read(&path).unwrap(), pristine);
        }
    }

    #[test]
    fn damage_in_middle_of_last_file_drops_the_rest() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut wal, _) = Wal::open(tmp.path(), WalOptions::default()).unwrap();
        append_range(&mut wal, 1..=2);
        let third = wal.current().len as usize;
        append_range(&mut wal, 3..=6);
        let path = wal.current().path.clone();
        drop(wal);
        let mut data = fs::read(&path).unwrap();
        data[third + 20] ^= 0xff; // inside record 3's body
        fs::write(&path, &data).unwrap();
        let (wal, records) = Wal::open(tmp.path(), WalOptions::default()).unwrap();
        assert_eq!(records, expected(1..=2));
        assert_eq!(wal.last_seq(), 2);
        assert_eq!(fs::metadata(&path).unwrap().len(), third as u64);
    }

    #[test]
    fn zero_filled_tail_is_ignored() {
        for garbage in [1usize, 7, 15, 16, 17, 4096] {
            let tmp = tempfile::tempdir().unwrap();
            let (mut wal, _) = Wal::open(tmp.path(), WalOptions::default()).unwrap();
            append_range(&mut wal, 1..=10);
            wal.sync().unwrap();
            let path = wal.current().path.clone();
            let good_len = wal.current().len;
            drop(wal);
            let mut data = fs::read(&path).unwrap();
            data.resize(data.len() + garbage, 0);
            fs::write(&path, &data).unwrap();

            let (mut wal, records) = Wal::open(tmp.path(), WalOptions::default()).unwrap();
            assert_eq!(records, expected(1..=10), "{garbage} zero bytes");
            assert_eq!(fs::metadata(&path).unwrap().len(), good_len);
            wal.append_sync(11, &body(11)).unwrap();
            drop(wal);
            let (_, records) = Wal::open(tmp.path(), WalOptions::default()).unwrap();
            assert_eq!(records, expected(1..=11));
        }
    }

    #[test]
    fn oversized_length_in_tail_is_dropped() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut wal, _) = Wal::open(tmp.path(), WalOptions::default()).unwrap();
        append_range(&mut wal, 1..=3);
        let path = wal.current().path.clone();
        let good_len = wal.current().len;
        drop(wal);
        let mut data = fs::read(&path).unwrap();
        data.extend_from_slice(&((MAX_RECORD_LEN as u32) + 1).to_le_bytes());
        data.extend_from_slice(&[0xAB; 40]);
        fs::write(&path, &data).unwrap();
        let (_, records) = Wal::open(tmp.path(), WalOptions::default()).unwrap();
        assert_eq!(records, expected(1..=3));
        assert_eq!(fs::metadata(&path).unwrap().len(), good_len);
    }

    #[test]
    fn corrupt_record_in_non_last_file_is_an_error() {
        type Damage = fn(&mut Vec<u8>);
        let damages: [(&str, Damage); 4] = [
            ("flipped body byte", |d| {
                let i = d.len() - 1;
                d[i] ^= 1;
            }),
            ("truncated record", |d| d.truncate(d.len() - 3)),
            ("zero tail", |d| d.extend_from_slice(&[0; 32])),
            ("truncated header", |d| d.truncate(5)),
        ];
        for (what, damage) in damages {
            let tmp = tempfile::tempdir().unwrap();
            let (mut wal, _) = Wal::open(tmp.path(), opts(100)).unwrap();
            append_range(&mut wal, 1..=30);
            wal.sync().unwrap();
            drop(wal);
            let files = wal_files(tmp.path());
            assert!(files.len() >= 3);
            let victim = &files[1];
            let mut data = fs::read(victim).unwrap();
            damage(&mut data);
            fs::write(victim, &data).unwrap();

            let err = Wal::open(tmp.path(), opts(100)).unwrap_err();
            match &err {
                StorageError::Corrupt { path, .. } => assert_eq!(path, victim, "{what}"),
                other => panic!("{what}: expected Corrupt, got {other}"),
            }
            // Nothing was "repaired".
            assert_eq!(fs::read(victim).unwrap(), data, "{what}");
        }
    }

    #[test]
    fn non_increasing_seq_on_disk_is_corrupt() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join(file_name(1));
        let mut data = WAL_MAGIC.to_vec();
        let mut frame = Vec::new();
        for seq in [1, 2, 2] {
            encode_frame(&mut frame, seq, b"x");
            data.extend_from_slice(&frame);
        }
        fs::write(&path, &data).unwrap();
        let err = Wal::open(tmp.path(), WalOptions::default()).unwrap_err();
        assert!(
            matches!(err, StorageError::Corrupt { offset, .. } if offset == 8 + 2 * 17),
            "{err}"
        );

        // A record below its file's first_seq.
        fs::remove_file(&path).unwrap();
        let mut data = WAL_MAGIC.to_vec();
        encode_frame(&mut frame, 3, b"x");
        data.extend_from_slice(&frame);
        fs::write(tmp.path().join(file_name(5)), &data).unwrap();
        let err = Wal::open(tmp.path(), WalOptions::default()).unwrap_err();
        assert!(
            matches!(err, StorageError::Corrupt { offset: 8, .. }),
            "{err}"
        );
    }

    #[test]
    fn out_of_order_append_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut wal, _) = Wal::open(tmp.path(), WalOptions::default()).unwrap();
        assert!(matches!(
            wal.append(0, b"zero"),
            Err(StorageError::OutOfOrder {
                seq: 0,
                last_seq: 0
            })
        ));
        wal.append(5, b"five").unwrap();
        let size = wal.size_bytes();
        for bad in [5, 4, 1] {
            let err = wal.append(bad, b"bad").unwrap_err();
            assert!(
                matches!(err, StorageError::OutOfOrder { seq, last_seq: 5 } if seq == bad),
                "{err}"
            );
        }
        assert_eq!(wal.size_bytes(), size);
        assert_eq!(wal.last_seq(), 5);
        wal.append_sync(6, b"six").unwrap();
        drop(wal);
        let (_, records) = Wal::open(tmp.path(), WalOptions::default()).unwrap();
        assert_eq!(seqs(&records), [5, 6]);
    }

    #[test]
    fn failed_write_is_rolled_back() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut wal, _) = Wal::open(tmp.path(), WalOptions::default()).unwrap();
        append_range(&mut wal, 1..=2);
        let path = wal.current().path.clone();
        let len = fs::metadata(&path).unwrap().len();
        for partial in [0, 1, 15, 16, 20] {
            wal.fail_next_write_after = Some(partial);
            let err = wal.append(3, &body(3)).unwrap_err();
            assert!(matches!(err, StorageError::Io { .. }), "{err}");
            assert_eq!(fs::metadata(&path).unwrap().len(), len);
            assert_eq!(wal.size_bytes(), len);
            assert_eq!(wal.last_seq(), 2);
        }
        append_range(&mut wal, 3..=4);
        wal.sync().unwrap();
        drop(wal);
        let (_, records) = Wal::open(tmp.path(), WalOptions::default()).unwrap();
        assert_eq!(records, expected(1..=4));
    }

    #[test]
    fn remove_before_keeps_current_and_newer_files() {
        let tmp = tempfile::tempdir().unwrap();
        // Limit 0: each record ends up in its own file.
        let (mut wal, _) = Wal::open(tmp.path(), opts(0)).unwrap();
        append_range(&mut wal, 1..=10);
        assert_eq!(wal_files(tmp.path()).len(), 10);

        wal.remove_before(5).unwrap();
        let files = wal_files(tmp.path());
        let firsts: Vec<u64> = files
            .iter()
            .map(|p| parse_file_name(p.file_name().unwrap()).unwrap())
            .collect();
        assert_eq!(firsts, (5..=10).collect::<Vec<_>>());
        let total: u64 = files.iter().map(|p| fs::metadata(p).unwrap().len()).sum();
        assert_eq!(wal.size_bytes(), total);

        // Never the current file, even when all its records are older.
        wal.remove_before(1000).unwrap();
        assert_eq!(wal_files(tmp.path()), vec![tmp.path().join(file_name(10))]);
        wal.append_sync(11, &body(11)).unwrap();
        drop(wal);

        // Reopen with a large limit: file 11 now collects several records,
        // and stays while any of them is >= seq.
        let (mut wal, records) = Wal::open(tmp.path(), opts(1 << 20)).unwrap();
        assert_eq!(records, expected(10..=11));
        append_range(&mut wal, 12..=15);
        wal.rotate().unwrap();
        wal.append(16, &body(16)).unwrap();
        wal.remove_before(14).unwrap();
        let firsts: Vec<u64> = wal_files(tmp.path())
            .iter()
            .map(|p| parse_file_name(p.file_name().unwrap()).unwrap())
            .collect();
        assert_eq!(firsts, [11, 16]);
        wal.remove_before(16).unwrap();
        assert_eq!(wal_files(tmp.path()), vec![tmp.path().join(file_name(16))]);
        drop(wal);
        let (wal, records) = Wal::open(tmp.path(), opts(1 << 20)).unwrap();
        assert_eq!(records, expected([16]));
        assert_eq!(wal.last_seq(), 16);
    }

    #[test]
    fn last_seq_survives_removing_all_records() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut wal, _) = Wal::open(tmp.path(), WalOptions::default()).unwrap();
        append_range(&mut wal, 1..=7);
        wal.rotate().unwrap();
        wal.remove_before(u64::MAX).unwrap();
        assert_eq!(wal_files(tmp.path()), vec![tmp.path().join(file_name(8))]);
        assert_eq!(wal.size_bytes(), 8);
        drop(wal);

        let (mut wal, records) = Wal::open(tmp.path(), WalOptions::default()).unwrap();
        assert!(records.is_empty());
        assert_eq!(wal.last_seq(), 7);
        assert!(matches!(
            wal.append(3, b"old"),
            Err(StorageError::OutOfOrder { .. })
        ));
        wal.append_sync(8, &body(8)).unwrap();
        drop(wal);
        let (_, records) = Wal::open(tmp.path(), WalOptions::default()).unwrap();
        assert_eq!(records, expected([8]));
    }

    #[test]
    fn foreign_files_are_ignored() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("notes.txt"), b"hello").unwrap();
        fs::write(tmp.path().join("wal-1.log"), b"junk").unwrap();
        fs::create_dir(tmp.path().join(file_name(99))).unwrap();
        let (mut wal, records) = Wal::open(tmp.path(), WalOptions::default()).unwrap();
        assert!(records.is_empty());
        wal.append_sync(1, b"a").unwrap();
        drop(wal);
        let (_, records) = Wal::open(tmp.path(), WalOptions::default()).unwrap();
        assert_eq!(seqs(&records), [1]);
    }

    #[test]
    fn empty_bodies_round_trip() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut wal, _) = Wal::open(tmp.path(), WalOptions::default()).unwrap();
        wal.append(1, b"").unwrap();
        wal.append(2, b"").unwrap();
        wal.sync().unwrap();
        assert_eq!(wal.size_bytes(), 8 + 2 * 16);
        drop(wal);
        let (_, records) = Wal::open(tmp.path(), WalOptions::default()).unwrap();
        assert_eq!(
            records,
            [
                WalRecord {
                    seq: 1,
                    body: vec![]
                },
                WalRecord {
                    seq: 2,
                    body: vec![]
                }
            ]
        );
    }

    #[test]
    fn frame_layout_is_as_documented() {
        let mut frame = Vec::new();
        encode_frame(&mut frame, 0x0102_0304_0506_0708, b"abc");
        assert_eq!(&frame[0..4], &3u32.to_le_bytes());
        let mut crc_input = 0x0102_0304_0506_0708u64.to_le_bytes().to_vec();
        crc_input.extend_from_slice(b"abc");
        assert_eq!(&frame[4..8], &crc32c::crc32c(&crc_input).to_le_bytes());
        assert_eq!(&frame[8..16], &0x0102_0304_0506_0708u64.to_le_bytes());
        assert_eq!(&frame[16..], b"abc");
    }

    // ---- Vfs-based tests: fault injection, crashes, group commit ----

    use crate::vfs::{FaultyVfs, MemoryVfs};

    const MEM_DIR: &str = "/db/wal";

    fn mem_open(vfs: &Arc<dyn Vfs>, limit: u64) -> (Wal, Vec<WalRecord>) {
        Wal::open_in(Arc::clone(vfs), Path::new(MEM_DIR), opts(limit)).unwrap()
    }

    /// Lengths of the WAL files of a memory file system, by name.
    fn mem_file_lens(vfs: &dyn Vfs) -> Vec<(String, u64)> {
        let mut out: Vec<(String, u64)> = vfs
            .read_dir(Path::new(MEM_DIR))
            .unwrap()
            .into_iter()
            .map(|e| {
                let len = vfs.metadata(&Path::new(MEM_DIR).join(&e.name)).unwrap().len;
                (e.name.into_string().unwrap(), len)
            })
            .collect();
        out.sort();
        out
    }

    #[test]
    fn injected_write_failure_leaves_no_partial_record() {
        let mem = MemoryVfs::new();
        let faulty = FaultyVfs::new(Arc::new(mem.clone()));
        let vfs: Arc<dyn Vfs> = Arc::new(faulty.clone());
        let (mut wal, _) = mem_open(&vfs, 1 << 20);
        append_range(&mut wal, 1..=3);
        let before = mem_file_lens(&mem);
        for n in [1, 2] {
            // n = 2: the failing write is the second one, after a good append.
            faulty.fail_nth_write(n);
            if n == 2 {
                wal.append(4, &body(4)).unwrap();
            }
            let seq = wal.last_seq() + 1;
            let err = wal.append(seq, &body(seq)).unwrap_err();
            assert!(matches!(err, StorageError::Io { .. }), "{err}");
            assert!(!err.is_disk_full());
            assert_eq!(wal.last_seq(), seq - 1);
        }
        let after = mem_file_lens(&mem);
        assert_eq!(after.len(), 1);
        assert_eq!(after[0].1, before[0].1 + 16 + body(4).len() as u64);
        assert_eq!(wal.size_bytes(), after[0].1);
        append_range(&mut wal, 5..=6);
        wal.sync().unwrap();
        drop(wal);
        mem.crash();
        let (_, records) = mem_open(&vfs, 1 << 20);
        assert_eq!(records, expected(1..=6));
    }

    #[test]
    fn failed_fsync_is_sticky_until_reopen() {
        let mem = MemoryVfs::new();
        let faulty = FaultyVfs::new(Arc::new(mem.clone()));
        let vfs: Arc<dyn Vfs> = Arc::new(faulty.clone());
        let (mut wal, _) = mem_open(&vfs, 1 << 20);
        let handle = wal.sync_handle();
        wal.append_sync(1, &body(1)).unwrap();
        assert_eq!(wal.durable_seq(), 1);

        faulty.fail_nth_sync(1);
        wal.append(2, &body(2)).unwrap();
        let err = handle.sync_to(2).unwrap_err();
        assert!(matches!(err, StorageError::SyncFailed { .. }), "{err}");
        assert_eq!(wal.durable_seq(), 1);
        // The next fsync would work, but the log refuses to pretend.
        for _ in 0..2 {
            let err = handle.sync_to(2).unwrap_err();
            assert!(matches!(err, StorageError::SyncFailed { .. }), "{err}");
        }
        // What was durable before the failure stays acknowledged.
        handle.sync_to(1).unwrap();
        let err = wal.append(3, &body(3)).unwrap_err();
        assert!(matches!(err, StorageError::SyncFailed { .. }), "{err}");
        assert!(matches!(
            wal.sync().unwrap_err(),
            StorageError::SyncFailed { .. }
        ));
        assert!(matches!(
            wal.rotate().unwrap_err(),
            StorageError::SyncFailed { .. }
        ));
        assert!(matches!(
            wal.append_sync(3, &body(3)).unwrap_err(),
            StorageError::SyncFailed { .. }
        ));
        assert_eq!(wal.last_seq(), 2);
        drop(wal);

        // Reopening re-reads the disk and works again.
        let (mut wal, records) = mem_open(&vfs, 1 << 20);
        assert_eq!(records, expected(1..=2));
        assert_eq!(wal.durable_seq(), 2);
        wal.append_sync(3, &body(3)).unwrap();
        drop(wal);
        mem.crash();
        let (_, records) = mem_open(&vfs, 1 << 20);
        assert_eq!(records, expected(1..=3));
    }

    #[test]
    fn failed_fsync_during_rotation_is_sticky() {
        let mem = MemoryVfs::new();
        let faulty = FaultyVfs::new(Arc::new(mem.clone()));
        let vfs: Arc<dyn Vfs> = Arc::new(faulty.clone());
        let (mut wal, _) = mem_open(&vfs, 0);
        wal.append_sync(1, &body(1)).unwrap();
        faulty.fail_nth_sync(1);
        // Limit 0: this append rotates first, and the rotation's fsync fails.
        let err = wal.append(2, &body(2)).unwrap_err();
        assert!(matches!(err, StorageError::SyncFailed { .. }), "{err}");
        assert!(wal.append(2, &body(2)).is_err());
        assert!(wal.sync_handle().sync_to(1).is_ok());
        assert_eq!(mem_file_lens(&mem).len(), 1);
    }

    #[test]
    fn disk_full_is_reported_and_recoverable() {
        let mem = MemoryVfs::new();
        let faulty = FaultyVfs::new(Arc::new(mem.clone()));
        let vfs: Arc<dyn Vfs> = Arc::new(faulty.clone());
        let limit = 300;
        let (mut wal, _) = mem_open(&vfs, limit);
        let mut acked = Vec::new();
        for seq in 1..=5 {
            wal.append_sync(seq, &body(seq)).unwrap();
            acked.push(seq);
        }
        let before = mem_file_lens(&mem);

        faulty.set_disk_full(true);
        for _ in 0..3 {
            let err = wal.append(6, &body(6)).unwrap_err();
            assert!(err.is_disk_full(), "{err}");
        }
        // Appending until a rotation is due: creating the new file fails too.
        assert_eq!(mem_file_lens(&mem), before);
        assert_eq!(wal.last_seq(), 5);
        faulty.set_disk_full(false);

        let mut seq = 6;
        while mem_file_lens(&mem).len() == before.len() {
            wal.append_sync(seq, &body(seq)).unwrap();
            acked.push(seq);
            seq += 1;
        }
        // The last append rotated; fill the disk while another rotation is due.
        while wal.current().len <= limit {
            wal.append_sync(seq, &body(seq)).unwrap();
            acked.push(seq);
            seq += 1;
        }
        let files = mem_file_lens(&mem).len();
        faulty.set_disk_full(true);
        let err = wal.append(seq, &body(seq)).unwrap_err();
        assert!(err.is_disk_full(), "{err}");
        assert_eq!(mem_file_lens(&mem).len(), files, "no half-created file");
        faulty.set_disk_full(false);
        for _ in 0..3 {
            wal.append_sync(seq, &body(seq)).unwrap();
            acked.push(seq);
            seq += 1;
        }
        drop(wal);
        mem.crash();
        let (_, records) = mem_open(&vfs, limit);
        assert_eq!(records, expected(acked));
    }

    #[test]
    fn crash_keeps_exactly_the_synced_records() {
        for limit in [1 << 20, 200, 0] {
            let mem = MemoryVfs::new();
            let vfs: Arc<dyn Vfs> = Arc::new(mem.clone());
            let (mut wal, _) = mem_open(&vfs, limit);
            let handle = wal.sync_handle();
            append_range(&mut wal, 1..=20);
            handle.sync_to(20).unwrap();
            assert_eq!(handle.durable_seq(), 20);
            append_range(&mut wal, 21..=30);
            // Rotation syncs the file it leaves, so with a small limit more
            // than what was acknowledged can be durable.
            let durable = wal.durable_seq();
            match limit {
                0 => assert_eq!(durable, 29),
                200 => assert!((21..30).contains(&durable), "{durable}"),
                _ => assert_eq!(durable, 20),
            }
            mem.crash();
            drop(wal);
            let (mut wal, records) = mem_open(&vfs, limit);
            // Exactly the durable records survive: none lost, none extra.
            assert_eq!(records, expected(1..=durable), "limit {limit}");
            // The log goes on from there, and survives the next crash.
            let next = durable + 1;
            wal.append(next, b"after crash").unwrap();
            wal.sync().unwrap();
            mem.crash();
            drop(wal);
            let (wal, records) = mem_open(&vfs, limit);
            assert_eq!(wal.last_seq(), next);
            assert_eq!(records.last().unwrap().body, b"after crash");
        }
    }

    #[test]
    fn crash_with_torn_synced_tail_recovers_the_good_prefix() {
        let mem = MemoryVfs::new();
        let vfs: Arc<dyn Vfs> = Arc::new(mem.clone());
        let (mut wal, _) = mem_open(&vfs, 1 << 20);
        append_range(&mut wal, 1..=8);
        wal.sync().unwrap();
        let path = wal.current().path.clone();
        let good_len = wal.current().len;
        let mut frame = Vec::new();
        encode_frame(&mut frame, 9, &body(9));
        drop(wal);
        for cut in [1, 15, 16, frame.len() - 1] {
            // Half a record reached the disk before the power failed.
            let file = mem.open_append(&path).unwrap();
            file.write_all(&frame[..cut]).unwrap();
            file.sync_data().unwrap();
            file.write_all(b"never synced").unwrap();
            mem.crash();
            let (wal, records) = mem_open(&vfs, 1 << 20);
            assert_eq!(records, expected(1..=8), "cut {cut}");
            assert_eq!(mem.read(&path).unwrap().len() as u64, good_len);
            // The truncation was made durable by open.
            assert_eq!(mem.durable_read(&path).unwrap().len() as u64, good_len);
            assert_eq!(wal.last_seq(), 8);
            drop(wal);
        }
    }

    #[test]
    fn crash_right_after_open_of_new_dir_keeps_the_log() {
        let mem = MemoryVfs::new();
        let vfs: Arc<dyn Vfs> = Arc::new(mem.clone());
        let (mut wal, _) = mem_open(&vfs, 1 << 20);
        wal.append_sync(1, b"one").unwrap();
        mem.crash();
        drop(wal);
        // The directories and the first file were made durable by open.
        let (_, records) = mem_open(&vfs, 1 << 20);
        assert_eq!(seqs(&records), [1]);
    }

    #[test]
    fn sync_to_beyond_last_append_is_refused() {
        let mem = MemoryVfs::new();
        let vfs: Arc<dyn Vfs> = Arc::new(mem);
        let (mut wal, _) = mem_open(&vfs, 1 << 20);
        let handle = wal.sync_handle();
        handle.sync_to(0).unwrap();
        let err = handle.sync_to(1).unwrap_err();
        assert!(
            matches!(&err, StorageError::Io { source, .. } if source.kind() == io::ErrorKind::InvalidInput),
            "{err}"
        );
        wal.append(1, b"x").unwrap();
        handle.sync_to(1).unwrap();
        // Covered syncs do not fsync again.
        let fsyncs = handle.stats().fsyncs;
        handle.sync_to(1).unwrap();
        wal.sync().unwrap();
        assert_eq!(handle.stats().fsyncs, fsyncs);
        assert_eq!(handle.stats().sync_calls, 5);
    }

    /// `threads` writers append under a mutex and call `sync_to` after
    /// unlocking; after each `sync_to` the record must survive a crash.
    fn group_commit_run(
        vfs: Arc<dyn Vfs>,
        dir: &Path,
        limit: u64,
        threads: u64,
        per_thread: u64,
        check: Option<MemoryVfs>,
    ) -> WalSyncStats {
        let (wal, _) = Wal::open_in(Arc::clone(&vfs), dir, opts(limit)).unwrap();
        let handle = wal.sync_handle();
        let wal = Mutex::new(wal);
        std::thread::scope(|s| {
            for t in 0..threads {
                let (wal, handle, check) = (&wal, handle.clone(), check.clone());
                s.spawn(move || {
                    for i in 0..per_thread {
                        let seq = {
                            let mut wal = wal.lock();
                            let seq = wal.last_seq() + 1;
                            let body = format!("t{t}-i{i}-seq{seq}");
                            wal.append(seq, body.as_bytes()).unwrap();
                            seq
                        };
                        handle.sync_to(seq).unwrap();
                        assert!(handle.durable_seq() >= seq);
                        if let Some(mem) = &check {
                            let after = mem.crashed_copy();
                            let (_, records) =
                                Wal::open_in(Arc::new(after), dir, opts(limit)).unwrap();
                            let rec = records.iter().find(|r| r.seq == seq);
                            let rec = rec.unwrap_or_else(|| panic!("seq {seq} not durable"));
                            assert!(rec.body.ends_with(format!("seq{seq}").as_bytes()));
                        }
                    }
                });
            }
        });
        let wal = wal.into_inner();
        assert_eq!(wal.last_seq(), threads * per_thread);
        assert_eq!(wal.durable_seq(), threads * per_thread);
        drop(wal);
        let (_, records) = Wal::open_in(vfs, dir, opts(limit)).unwrap();
        assert_eq!(
            seqs(&records),
            (1..=threads * per_thread).collect::<Vec<_>>()
        );
        handle.stats()
    }

    #[test]
    fn group_commit_shares_fsyncs_and_every_acked_seq_is_durable() {
        for limit in [1 << 20, 4096] {
            let mem = MemoryVfs::new();
            // A slow disk, so that writers pile up behind each fsync.
            mem.set_sync_delay(std::time::Duration::from_micros(300));
            let vfs: Arc<dyn Vfs> = Arc::new(mem.clone());
            let appends = 8 * 200;
            let stats = group_commit_run(vfs, Path::new(MEM_DIR), limit, 8, 200, Some(mem.clone()));
            assert_eq!(stats.sync_calls, appends);
            assert!(
                stats.fsyncs < appends / 2,
                "limit {limit}: {} fsyncs for {appends} appends",
                stats.fsyncs
            );
            assert!(mem.sync_count() < appends / 2, "{}", mem.sync_count());
        }
    }

    #[test]
    fn group_commit_on_the_real_file_system() {
        let tmp = tempfile::tempdir().unwrap();
        let stats = group_commit_run(default_vfs(), tmp.path(), 2048, 4, 50, None);
        assert_eq!(stats.sync_calls, 200);
        assert!(stats.fsyncs <= 200 + 200 / 8, "{stats:?}");
    }
}
