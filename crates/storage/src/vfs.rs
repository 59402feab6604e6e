//! Storage I/O behind a small trait, with three backends: the real file
//! system ([`FileVfs`]), an in-memory file system that models what survives
//! a power loss ([`MemoryVfs`]) and a fault-injecting wrapper ([`FaultyVfs`]).

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::ops::Deref;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use parking_lot::Mutex;

/// A file system as the storage layer sees it.
///
/// Every method reports plain [`io::Error`]s; the callers in this crate
/// attach the path. Directory changes (creating, renaming or removing an
/// entry) are durable only after [`Vfs::fsync_dir`] on the directory that
/// holds the entry; file contents only after [`VfsFile::sync_data`] or
/// [`VfsFile::sync_all`].
pub trait Vfs: Send + Sync + fmt::Debug {
    /// Create `path` and any missing parents (like `mkdir -p`).
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    /// The entries of the directory `path`, in no particular order.
    fn read_dir(&self, path: &Path) -> io::Result<Vec<VfsDirEntry>>;
    /// The whole content of the file `path`.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// Open the file `path` for reading from its start, for files too large to read whole.
    /// The memory backend reads the bytes the file had when it was opened.
    fn open_read(&self, path: &Path) -> io::Result<Box<dyn Read + Send>>;
    /// When the file `path` was last written (its modification time).
    fn modified(&self, path: &Path) -> io::Result<SystemTime>;
    /// Open the existing file `path` for writing, positioned at its end.
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn VfsFile>>;
    /// Create `path`, or truncate it when it exists, for writing.
    fn create(&self, path: &Path) -> io::Result<Box<dyn VfsFile>>;
    /// Create `path` for writing; fails with `AlreadyExists` when it exists.
    fn create_new(&self, path: &Path) -> io::Result<Box<dyn VfsFile>>;
    /// Rename `from` to `to`, replacing a file at `to`.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Remove the file `path`.
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Remove the directory `path` with everything below it.
    fn remove_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Make the creations, renames and removals of entries in the directory
    /// `path` durable.
    fn fsync_dir(&self, path: &Path) -> io::Result<()>;
    /// Size and kind of `path`.
    fn metadata(&self, path: &Path) -> io::Result<VfsMetadata>;
    /// Whether `path` exists (as a file or a directory).
    fn exists(&self, path: &Path) -> bool {
        self.metadata(path).is_ok()
    }
    /// A read-only view of the whole file `path` as it is now. Later writes
    /// to the file may or may not show through it (they do with the file
    /// backend's `mmap`); files that are mapped should not be modified.
    fn map(&self, path: &Path) -> io::Result<Mapped>;
}

/// An open file of a [`Vfs`], for writing.
///
/// All methods take `&self` so that one handle can be shared (in an `Arc`)
/// between a writer and a thread that syncs it. Writes go to the handle's
/// position, which starts at the end of the file ([`Vfs::open_append`]) or
/// at 0 ([`Vfs::create`]) and is moved by [`VfsFile::set_len`]. Concurrent
/// writes through one handle are not supported.
pub trait VfsFile: Send + Sync + fmt::Debug {
    /// Write all of `buf` at the handle's position and advance it.
    fn write_all(&self, buf: &[u8]) -> io::Result<()>;
    /// Truncate (or zero-extend) the file to `len` bytes and move the
    /// position there.
    fn set_len(&self, len: u64) -> io::Result<()>;
    /// Make the file's data (and its size) durable (`fdatasync`).
    fn sync_data(&self) -> io::Result<()>;
    /// Make the file's data and metadata durable (`fsync`).
    fn sync_all(&self) -> io::Result<()>;
    /// Current size of the file in bytes.
    fn len(&self) -> io::Result<u64>;
    /// Whether the file is empty.
    fn is_empty(&self) -> io::Result<bool> {
        Ok(self.len()? == 0)
    }
}

/// One entry returned by [`Vfs::read_dir`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VfsDirEntry {
    /// File name (the last path component).
    pub name: OsString,
    /// True for a directory, false for a file.
    pub is_dir: bool,
}

/// What [`Vfs::metadata`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VfsMetadata {
    /// Size in bytes (0 for directories of the memory backend).
    pub len: u64,
    /// True for a directory.
    pub is_dir: bool,
}

/// A cheaply clonable, read-only view of a whole file, as returned by
/// [`Vfs::map`]. Derefs to `[u8]`.
#[derive(Clone)]
pub struct Mapped(Arc<MappedInner>);

enum MappedInner {
    Mmap(memmap2::Mmap),
    Bytes(Vec<u8>),
}

impl Mapped {
    /// A view over bytes held in memory.
    pub fn from_vec(bytes: Vec<u8>) -> Mapped {
        Mapped(Arc::new(MappedInner::Bytes(bytes)))
    }
}

impl From<Vec<u8>> for Mapped {
    fn from(bytes: Vec<u8>) -> Self {
        Mapped::from_vec(bytes)
    }
}

impl Deref for Mapped {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match &*self.0 {
            MappedInner::Mmap(m) => m,
            MappedInner::Bytes(b) => b,
        }
    }
}

impl AsRef<[u8]> for Mapped {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl fmt::Debug for Mapped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &*self.0 {
            MappedInner::Mmap(_) => "mmap",
            MappedInner::Bytes(_) => "bytes",
        };
        f.debug_struct("Mapped")
            .field("kind", &kind)
            .field("len", &self.len())
            .finish()
    }
}

/// The real file system, through `std::fs` and `memmap2`.
#[derive(Debug, Default, Clone, Copy)]
pub struct FileVfs;

/// The real file system as a shareable [`Vfs`].
pub fn default_vfs() -> Arc<dyn Vfs> {
    Arc::new(FileVfs)
}

#[derive(Debug)]
struct StdFile {
    file: File,
}

impl VfsFile for StdFile {
    fn write_all(&self, buf: &[u8]) -> io::Result<()> {
        (&self.file).write_all(buf)
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.file.set_len(len)?;
        (&self.file).seek(SeekFrom::Start(len))?;
        Ok(())
    }
    fn sync_data(&self) -> io::Result<()> {
        self.file.sync_data()
    }
    fn sync_all(&self) -> io::Result<()> {
        self.file.sync_all()
    }
    fn len(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }
}

impl Vfs for FileVfs {
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        fs::create_dir_all(path)
    }
    fn read_dir(&self, path: &Path) -> io::Result<Vec<VfsDirEntry>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(path)? {
            let entry = entry?;
            out.push(VfsDirEntry {
                name: entry.file_name(),
                is_dir: entry.file_type()?.is_dir(),
            });
        }
        Ok(out)
    }
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        fs::read(path)
    }
    fn open_read(&self, path: &Path) -> io::Result<Box<dyn Read + Send>> {
        Ok(Box::new(File::open(path)?))
    }
    fn modified(&self, path: &Path) -> io::Result<SystemTime> {
        fs::metadata(path)?.modified()
    }
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn VfsFile>> {
        let mut file = OpenOptions::new().write(true).open(path)?;
        file.seek(SeekFrom::End(0))?;
        Ok(Box::new(StdFile { file }))
    }
    fn create(&self, path: &Path) -> io::Result<Box<dyn VfsFile>> {
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)?;
        Ok(Box::new(StdFile { file }))
    }
    fn create_new(&self, path: &Path) -> io::Result<Box<dyn VfsFile>> {
        let file = OpenOptions::new().write(true).create_new(true).open(path)?;
        Ok(Box::new(StdFile { file }))
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }
    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        fs::remove_dir_all(path)
    }
    fn fsync_dir(&self, path: &Path) -> io::Result<()> {
        #[cfg(unix)]
        {
            let dir = File::open(path)?;
            match dir.sync_all() {
                // Some file systems cannot sync directories; nothing to do there.
                Err(e)
                    if e.kind() == io::ErrorKind::Unsupported
                        || e.kind() == io::ErrorKind::InvalidInput =>
                {
                    Ok(())
                }
                other => other,
            }
        }
        #[cfg(not(unix))]
        {
            let _ = path;
            Ok(())
        }
    }
    fn metadata(&self, path: &Path) -> io::Result<VfsMetadata> {
        let m = fs::metadata(path)?;
        Ok(VfsMetadata {
            len: m.len(),
            is_dir: m.is_dir(),
        })
    }
    fn map(&self, path: &Path) -> io::Result<Mapped> {
        let file = File::open(path)?;
        if file.metadata()?.len() == 0 {
            // mmap of length 0 is an error on most systems.
            return Ok(Mapped::from_vec(Vec::new()));
        }
        // SAFETY: the map is read-only. Like every mmap it is undefined
        // behaviour if the file is truncated or modified while mapped; the
        // storage layer only maps files that are complete and never written
        // again (documented on `Vfs::map`).
        let mmap = unsafe { memmap2::Mmap::map(&file)? };
        Ok(Mapped(Arc::new(MappedInner::Mmap(mmap))))
    }
}

// ---------------------------------------------------------------------------
// MemoryVfs
// ---------------------------------------------------------------------------

/// An in-memory file system that knows which bytes are durable.
///
/// It is modelled on inodes: directories and files have ids, and a directory
/// maps names to ids. Each file keeps its current bytes and its durable
/// bytes (a copy taken by the last `sync_data`/`sync_all`); each directory
/// keeps its current entries and its durable entries (a copy taken by the
/// last [`Vfs::fsync_dir`] on it). [`MemoryVfs::crash`] simulates a power
/// loss: every directory and file reachable from the root through durable
/// entries gets its durable state back, everything else is gone, and every
/// handle opened before the crash fails from then on.
///
/// Paths are normalised: `.` components and a leading `/` are ignored, so
/// `/a/b` and `a/b` name the same file; `..` is refused. The root always
/// exists. Clones share the same file system.
#[derive(Clone, Default)]
pub struct MemoryVfs {
    inner: Arc<MemInner>,
}

#[derive(Default)]
struct MemInner {
    state: Mutex<MemState>,
    syncs: AtomicU64,
    dir_syncs: AtomicU64,
    /// Time each file sync takes, in nanoseconds (a simulated slow disk).
    sync_delay_ns: AtomicU64,
}

const ROOT: u64 = 0;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Node {
    File(u64),
    Dir(u64),
}

#[derive(Clone, Default)]
struct MemDir {
    live: BTreeMap<OsString, Node>,
    durable: BTreeMap<OsString, Node>,
}

#[derive(Clone, Default)]
struct MemFileData {
    data: Vec<u8>,
    durable: Vec<u8>,
    /// Set by every change of `data`.
    modified: Option<SystemTime>,
}

#[derive(Clone)]
struct MemState {
    next_id: u64,
    dirs: HashMap<u64, MemDir>,
    files: HashMap<u64, MemFileData>,
    /// Bumped by every crash; handles of older generations are dead.
    generation: u64,
}

impl Default for MemState {
    fn default() -> Self {
        MemState {
            next_id: ROOT + 1,
            dirs: HashMap::from([(ROOT, MemDir::default())]),
            files: HashMap::new(),
            generation: 0,
        }
    }
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("{}: no such file or directory", path.display()),
    )
}

fn components(path: &Path) -> io::Result<Vec<OsString>> {
    let mut out = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(name) => out.push(name.to_os_string()),
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
            Component::ParentDir => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "MemoryVfs does not support `..` in paths",
                ))
            }
        }
    }
    Ok(out)
}

impl MemState {
    fn lookup(&self, path: &Path) -> io::Result<Node> {
        let mut node = Node::Dir(ROOT);
        for name in components(path)? {
            let Node::Dir(dir) = node else {
                return Err(io::Error::new(
                    io::ErrorKind::NotADirectory,
                    format!("{}: a parent is not a directory", path.display()),
                ));
            };
            node = *self.dirs[&dir]
                .live
                .get(&name)
                .ok_or_else(|| not_found(path))?;
        }
        Ok(node)
    }

    /// Removes `path`'s entry from its directory (not yet durable: until the directory is
    /// fsynced a crash brings it back).
    fn unlink(&mut self, path: &Path) -> io::Result<()> {
        let (dir, name) = self.parent_of(path)?;
        self.dirs
            .get_mut(&dir)
            .expect("live dir")
            .live
            .remove(&name);
        Ok(())
    }

    /// The directory holding `path` and the last component.
    fn parent_of(&self, path: &Path) -> io::Result<(u64, OsString)> {
        let mut parts = components(path)?;
        let name = parts
            .pop()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the root has no parent"))?;
        let parent: PathBuf = parts.iter().collect();
        match self.lookup(&parent)? {
            Node::Dir(id) => Ok((id, name)),
            Node::File(_) => Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("{}: parent is not a directory", path.display()),
            )),
        }
    }

    fn file_id(&self, path: &Path) -> io::Result<u64> {
        match self.lookup(path)? {
            Node::File(id) => Ok(id),
            Node::Dir(_) => Err(io::Error::new(
                io::ErrorKind::IsADirectory,
                format!("{}: is a directory", path.display()),
            )),
        }
    }

    fn dir_id(&self, path: &Path) -> io::Result<u64> {
        match self.lookup(path)? {
            Node::Dir(id) => Ok(id),
            Node::File(_) => Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("{}: not a directory", path.display()),
            )),
        }
    }

    fn alloc(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Make every durable entry and byte the current state; drop the rest.
    fn crash(&mut self) {
        let mut dirs = HashMap::new();
        let mut files = HashMap::new();
        let mut stack = vec![ROOT];
        while let Some(id) = stack.pop() {
            let Some(dir) = self.dirs.get(&id) else {
                continue;
            };
            let entries = dir.durable.clone();
            for node in entries.values() {
                match *node {
                    Node::Dir(d) => stack.push(d),
                    Node::File(f) => {
                        if let Some(file) = self.files.get(&f) {
                            files.insert(
                                f,
                                MemFileData {
                                    data: file.durable.clone(),
                                    durable: file.durable.clone(),
                                    modified: file.modified,
                                },
                            );
                        }
                    }
                }
            }
            dirs.insert(
                id,
                MemDir {
                    live: entries.clone(),
                    durable: entries,
                },
            );
        }
        self.dirs = dirs;
        self.files = files;
        self.generation += 1;
    }

    fn open_handle(&self, inner: &Arc<MemInner>, id: u64, pos: u64) -> Box<dyn VfsFile> {
        Box::new(MemFile {
            inner: Arc::clone(inner),
            id,
            generation: self.generation,
            pos: AtomicU64::new(pos),
        })
    }

    fn create_file(&mut self, path: &Path, must_be_new: bool) -> io::Result<u64> {
        let (parent, name) = self.parent_of(path)?;
        match self.dirs[&parent].live.get(&name) {
            Some(_) if must_be_new => Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{}: already exists", path.display()),
            )),
            Some(Node::Dir(_)) => Err(io::Error::new(
                io::ErrorKind::IsADirectory,
                format!("{}: is a directory", path.display()),
            )),
            Some(Node::File(id)) => {
                let id = *id;
                let file = self.files.get_mut(&id).expect("live file");
                file.data.clear();
                file.modified = Some(SystemTime::now());
                Ok(id)
            }
            None => {
                let id = self.alloc();
                let file = MemFileData {
                    modified: Some(SystemTime::now()),
                    ..MemFileData::default()
                };
                self.files.insert(id, file);
                self.dirs
                    .get_mut(&parent)
                    .expect("live dir")
                    .live
                    .insert(name, Node::File(id));
                Ok(id)
            }
        }
    }
}

impl MemoryVfs {
    /// An empty file system holding only the root directory.
    pub fn new() -> MemoryVfs {
        MemoryVfs::default()
    }

    /// Simulate a power loss (see the type's documentation). Handles opened
    /// before the call fail afterwards.
    pub fn crash(&self) {
        self.inner.state.lock().crash();
    }

    /// An independent file system holding what would be left if the power
    /// failed now; `self` is not changed.
    pub fn crashed_copy(&self) -> MemoryVfs {
        let mut state = self.inner.state.lock().clone();
        state.crash();
        MemoryVfs {
            inner: Arc::new(MemInner {
                state: Mutex::new(state),
                ..MemInner::default()
            }),
        }
    }

    /// The content `path` would have after a crash now, or `None` when it
    /// would not exist.
    pub fn durable_read(&self, path: &Path) -> Option<Vec<u8>> {
        self.crashed_copy().read(path).ok()
    }

    /// Number of file syncs (`sync_data`/`sync_all`) so far.
    pub fn sync_count(&self) -> u64 {
        self.inner.syncs.load(Ordering::Relaxed)
    }

    /// Number of directory syncs so far.
    pub fn dir_sync_count(&self) -> u64 {
        self.inner.dir_syncs.load(Ordering::Relaxed)
    }

    /// Make every file sync sleep for `delay` first, like a slow disk.
    pub fn set_sync_delay(&self, delay: Duration) {
        let ns = u64::try_from(delay.as_nanos()).unwrap_or(u64::MAX);
        self.inner.sync_delay_ns.store(ns, Ordering::Relaxed);
    }
}

impl fmt::Debug for MemoryVfs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.inner.state.lock();
        f.debug_struct("MemoryVfs")
            .field("dirs", &state.dirs.len())
            .field("files", &state.files.len())
            .field("generation", &state.generation)
            .finish_non_exhaustive()
    }
}

struct MemFile {
    inner: Arc<MemInner>,
    id: u64,
    generation: u64,
    pos: AtomicU64,
}

impl fmt::Debug for MemFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemFile")
            .field("id", &self.id)
            .field("generation", &self.generation)
            .field("pos", &self.pos.load(Ordering::Relaxed))
            .finish()
    }
}

impl MemFile {
    fn with<R>(&self, f: impl FnOnce(&mut MemFileData) -> R) -> io::Result<R> {
        let mut state = self.inner.state.lock();
        if state.generation != self.generation {
            return Err(io::Error::other(
                "MemoryVfs: file handle opened before a simulated crash",
            ));
        }
        let file = state
            .files
            .get_mut(&self.id)
            .ok_or_else(|| io::Error::other("MemoryVfs: file is gone"))?;
        Ok(f(file))
    }

    fn sync(&self) -> io::Result<()> {
        let delay = self.inner.sync_delay_ns.load(Ordering::Relaxed);
        if delay > 0 {
            std::thread::sleep(Duration::from_nanos(delay));
        }
        self.with(|file| file.durable.clone_from(&file.data))?;
        self.inner.syncs.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

impl VfsFile for MemFile {
    fn write_all(&self, buf: &[u8]) -> io::Result<()> {
        self.with(|file| {
            let pos = self.pos.load(Ordering::Relaxed) as usize;
            let end = pos + buf.len();
            if file.data.len() < end {
                file.data.resize(end, 0);
            }
            file.data[pos..end].copy_from_slice(buf);
            file.modified = Some(SystemTime::now());
            self.pos.store(end as u64, Ordering::Relaxed);
        })
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.with(|file| {
            file.data.resize(len as usize, 0);
            file.modified = Some(SystemTime::now());
            self.pos.store(len, Ordering::Relaxed);
        })
    }
    fn sync_data(&self) -> io::Result<()> {
        self.sync()
    }
    fn sync_all(&self) -> io::Result<()> {
        self.sync()
    }
    fn len(&self) -> io::Result<u64> {
        self.with(|file| file.data.len() as u64)
    }
}

impl Vfs for MemoryVfs {
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        let mut state = self.inner.state.lock();
        let mut dir = ROOT;
        for name in components(path)? {
            let existing = state.dirs[&dir].live.get(&name).copied();
            dir = match existing {
                Some(Node::Dir(id)) => id,
                Some(Node::File(_)) => {
                    return Err(io::Error::new(
                        io::ErrorKind::AlreadyExists,
                        format!("{}: a component is a file", path.display()),
                    ))
                }
                None => {
                    let id = state.alloc();
                    state.dirs.insert(id, MemDir::default());
                    state
                        .dirs
                        .get_mut(&dir)
                        .expect("live dir")
                        .live
                        .insert(name, Node::Dir(id));
                    id
                }
            };
        }
        Ok(())
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<VfsDirEntry>> {
        let state = self.inner.state.lock();
        let id = state.dir_id(path)?;
        Ok(state.dirs[&id]
            .live
            .iter()
            .map(|(name, node)| VfsDirEntry {
                name: name.clone(),
                is_dir: matches!(node, Node::Dir(_)),
            })
            .collect())
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let state = self.inner.state.lock();
        let id = state.file_id(path)?;
        Ok(state.files[&id].data.clone())
    }

    fn open_read(&self, path: &Path) -> io::Result<Box<dyn Read + Send>> {
        Ok(Box::new(io::Cursor::new(self.read(path)?)))
    }

    fn modified(&self, path: &Path) -> io::Result<SystemTime> {
        let state = self.inner.state.lock();
        let id = state.file_id(path)?;
        Ok(state.files[&id].modified.unwrap_or(SystemTime::UNIX_EPOCH))
    }

    fn open_append(&self, path: &Path) -> io::Result<Box<dyn VfsFile>> {
        let state = self.inner.state.lock();
        let id = state.file_id(path)?;
        let len = state.files[&id].data.len() as u64;
        Ok(state.open_handle(&self.inner, id, len))
    }

    fn create(&self, path: &Path) -> io::Result<Box<dyn VfsFile>> {
        let mut state = self.inner.state.lock();
        let id = state.create_file(path, false)?;
        Ok(state.open_handle(&self.inner, id, 0))
    }

    fn create_new(&self, path: &Path) -> io::Result<Box<dyn VfsFile>> {
        let mut state = self.inner.state.lock();
        let id = state.create_file(path, true)?;
        Ok(state.open_handle(&self.inner, id, 0))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut state = self.inner.state.lock();
        let (from_dir, from_name) = state.parent_of(from)?;
        let node = *state.dirs[&from_dir]
            .live
            .get(&from_name)
            .ok_or_else(|| not_found(from))?;
        let (to_dir, to_name) = state.parent_of(to)?;
        match (node, state.dirs[&to_dir].live.get(&to_name)) {
            (_, Some(Node::Dir(target))) if Node::Dir(*target) != node => {
                return Err(io::Error::new(
                    io::ErrorKind::IsADirectory,
                    format!("{}: is a directory", to.display()),
                ))
            }
            (Node::Dir(_), Some(Node::File(_))) => {
                return Err(io::Error::new(
                    io::ErrorKind::NotADirectory,
                    format!("{}: not a directory", to.display()),
                ))
            }
            _ => {}
        }
        state
            .dirs
            .get_mut(&from_dir)
            .expect("live dir")
            .live
            .remove(&from_name);
        state
            .dirs
            .get_mut(&to_dir)
            .expect("live dir")
            .live
            .insert(to_name, node);
        Ok(())
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        let mut state = self.inner.state.lock();
        state.file_id(path)?;
        state.unlink(path)
    }

    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        let mut state = self.inner.state.lock();
        state.dir_id(path)?;
        state.unlink(path)
    }

    fn fsync_dir(&self, path: &Path) -> io::Result<()> {
        let mut state = self.inner.state.lock();
        let id = state.dir_id(path)?;
        let dir = state.dirs.get_mut(&id).expect("live dir");
        dir.durable.clone_from(&dir.live);
        self.inner.dir_syncs.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn metadata(&self, path: &Path) -> io::Result<VfsMetadata> {
        let state = self.inner.state.lock();
        Ok(match state.lookup(path)? {
            Node::File(id) => VfsMetadata {
                len: state.files[&id].data.len() as u64,
                is_dir: false,
            },
            Node::Dir(_) => VfsMetadata {
                len: 0,
                is_dir: true,
            },
        })
    }

    fn map(&self, path: &Path) -> io::Result<Mapped> {
        self.read(path).map(Mapped::from_vec)
    }
}

// ---------------------------------------------------------------------------
// FaultyVfs
// ---------------------------------------------------------------------------

/// A [`Vfs`] wrapper that injects failures, for tests.
///
/// * [`FaultyVfs::fail_nth_write`]: the n-th [`VfsFile::write_all`] from now
///   (1 = the next one) writes the first half of its buffer and then fails.
/// * [`FaultyVfs::fail_nth_sync`]: the n-th file sync from now fails without
///   syncing.
/// * [`FaultyVfs::fail_nth_read`]: the n-th read from now fails without
///   reading: a [`Vfs::read`] or [`Vfs::map`], or one `read` call on a handle
///   from [`Vfs::open_read`].
/// * [`FaultyVfs::set_disk_full`]: while set, every write writes the first
///   half of its buffer and fails with `ENOSPC` (`ErrorKind::StorageFull`),
///   and creating files fails the same way.
///
/// Clones share the same counters and switches.
#[derive(Clone, Debug)]
pub struct FaultyVfs {
    inner: Arc<dyn Vfs>,
    faults: Arc<Faults>,
}

#[derive(Debug, Default)]
struct Faults {
    writes: AtomicU64,
    syncs: AtomicU64,
    reads: AtomicU64,
    /// Absolute write number that fails (0: none).
    fail_write_at: AtomicU64,
    /// Absolute sync number that fails (0: none).
    fail_sync_at: AtomicU64,
    /// Absolute read number that fails (0: none).
    fail_read_at: AtomicU64,
    disk_full: AtomicBool,
}

fn disk_full_error() -> io::Error {
    #[cfg(unix)]
    {
        io::Error::from_raw_os_error(28)
    }
    #[cfg(not(unix))]
    {
        io::Error::new(io::ErrorKind::StorageFull, "no space left on device")
    }
}

impl FaultyVfs {
    /// Wrap `inner`; no fault is armed.
    pub fn new(inner: Arc<dyn Vfs>) -> FaultyVfs {
        FaultyVfs {
            inner,
            faults: Arc::default(),
        }
    }

    /// Make the `n`-th write from now fail (`n >= 1`); replaces an earlier
    /// armed write fault.
    pub fn fail_nth_write(&self, n: u64) {
        assert!(n >= 1, "n counts from 1");
        let at = self.faults.writes.load(Ordering::SeqCst) + n;
        self.faults.fail_write_at.store(at, Ordering::SeqCst);
    }

    /// Make the `n`-th file sync from now fail (`n >= 1`); replaces an
    /// earlier armed sync fault.
    pub fn fail_nth_sync(&self, n: u64) {
        assert!(n >= 1, "n counts from 1");
        let at = self.faults.syncs.load(Ordering::SeqCst) + n;
        self.faults.fail_sync_at.store(at, Ordering::SeqCst);
    }

    /// Make the `n`-th read from now fail (`n >= 1`); replaces an earlier
    /// armed read fault.
    pub fn fail_nth_read(&self, n: u64) {
        assert!(n >= 1, "n counts from 1");
        let at = self.faults.reads.load(Ordering::SeqCst) + n;
        self.faults.fail_read_at.store(at, Ordering::SeqCst);
    }

    /// Set or clear the "disk full" switch.
    pub fn set_disk_full(&self, full: bool) {
        self.faults.disk_full.store(full, Ordering::SeqCst);
    }

    /// Writes attempted so far (failed ones included).
    pub fn write_count(&self) -> u64 {
        self.faults.writes.load(Ordering::SeqCst)
    }

    /// File syncs attempted so far (failed ones included).
    pub fn sync_count(&self) -> u64 {
        self.faults.syncs.load(Ordering::SeqCst)
    }

    /// Reads attempted so far (failed ones included).
    pub fn read_count(&self) -> u64 {
        self.faults.reads.load(Ordering::SeqCst)
    }

    fn check_create(&self) -> io::Result<()> {
        if self.faults.disk_full.load(Ordering::SeqCst) {
            return Err(disk_full_error());
        }
        Ok(())
    }

    fn wrap(&self, file: Box<dyn VfsFile>) -> Box<dyn VfsFile> {
        Box::new(FaultyFile {
            inner: file,
            faults: Arc::clone(&self.faults),
        })
    }
}

impl Faults {
    /// Counts a read; the armed one fails.
    fn read(&self) -> io::Result<()> {
        let n = self.reads.fetch_add(1, Ordering::SeqCst) + 1;
        if self.fail_read_at.load(Ordering::SeqCst) == n {
            return Err(io::Error::other("injected read failure"));
        }
        Ok(())
    }
}

/// A handle from [`FaultyVfs::open_read`].
struct FaultyReader {
    inner: Box<dyn Read + Send>,
    faults: Arc<Faults>,
}

impl Read for FaultyReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.faults.read()?;
        self.inner.read(buf)
    }
}

#[derive(Debug)]
struct FaultyFile {
    inner: Box<dyn VfsFile>,
    faults: Arc<Faults>,
}

impl FaultyFile {
    fn sync(&self, f: impl FnOnce() -> io::Result<()>) -> io::Result<()> {
        let n = self.faults.syncs.fetch_add(1, Ordering::SeqCst) + 1;
        if self.faults.fail_sync_at.load(Ordering::SeqCst) == n {
            return Err(io::Error::other("injected fsync failure"));
        }
        f()
    }
}

impl VfsFile for FaultyFile {
    fn write_all(&self, buf: &[u8]) -> io::Result<()> {
        let n = self.faults.writes.fetch_add(1, Ordering::SeqCst) + 1;
        let error = if self.faults.disk_full.load(Ordering::SeqCst) {
            Some(disk_full_error())
        } else if self.faults.fail_write_at.load(Ordering::SeqCst) == n {
            Some(io::Error::other("injected write failure"))
        } else {
            None
        };
        match error {
            Some(e) => {
                // A torn write: part of the buffer lands before the error.
                self.inner.write_all(&buf[..buf.len() / 2])?;
                Err(e)
            }
            None => self.inner.write_all(buf),
        }
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.inner.set_len(len)
    }
    fn sync_data(&self) -> io::Result<()> {
        self.sync(|| self.inner.sync_data())
    }
    fn sync_all(&self) -> io::Result<()> {
        self.sync(|| self.inner.sync_all())
    }
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }
}

impl Vfs for FaultyVfs {
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        self.inner.create_dir_all(path)
    }
    fn read_dir(&self, path: &Path) -> io::Result<Vec<VfsDirEntry>> {
        self.inner.read_dir(path)
    }
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.faults.read()?;
        self.inner.read(path)
    }
    fn open_read(&self, path: &Path) -> io::Result<Box<dyn Read + Send>> {
        Ok(Box::new(FaultyReader {
            inner: self.inner.open_read(path)?,
            faults: Arc::clone(&self.faults),
        }))
    }
    fn modified(&self, path: &Path) -> io::Result<SystemTime> {
        self.inner.modified(path)
    }
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn VfsFile>> {
        Ok(self.wrap(self.inner.open_append(path)?))
    }
    fn create(&self, path: &Path) -> io::Result<Box<dyn VfsFile>> {
        self.check_create()?;
        Ok(self.wrap(self.inner.create(path)?))
    }
    fn create_new(&self, path: &Path) -> io::Result<Box<dyn VfsFile>> {
        self.check_create()?;
        Ok(self.wrap(self.inner.create_new(path)?))
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.inner.rename(from, to)
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.inner.remove_file(path)
    }
    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        self.inner.remove_dir_all(path)
    }
    fn fsync_dir(&self, path: &Path) -> io::Result<()> {
        self.inner.fsync_dir(path)
    }
    fn metadata(&self, path: &Path) -> io::Result<VfsMetadata> {
        self.inner.metadata(path)
    }
    fn map(&self, path: &Path) -> io::Result<Mapped> {
        self.faults.read()?;
        self.inner.map(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Behaviour every backend shares, run under the directory `root`.
    fn check_basic_ops(vfs: &dyn Vfs, root: &Path) {
        let dir = root.join("a").join("b");
        vfs.create_dir_all(&dir).unwrap();
        vfs.create_dir_all(&dir).unwrap(); // idempotent
        assert!(vfs.metadata(&dir).unwrap().is_dir);
        assert!(!vfs.exists(&dir.join("f")));

        let f = dir.join("f");
        let file = vfs.create_new(&f).unwrap();
        assert!(file.is_empty().unwrap());
        file.write_all(b"hello ").unwrap();
        file.write_all(b"world").unwrap();
        file.sync_data().unwrap();
        assert_eq!(file.len().unwrap(), 11);
        drop(file);
        assert_eq!(
            vfs.create_new(&f).unwrap_err().kind(),
            io::ErrorKind::AlreadyExists
        );
        assert_eq!(vfs.read(&f).unwrap(), b"hello world");
        assert_eq!(
            vfs.metadata(&f).unwrap(),
            VfsMetadata {
                len: 11,
                is_dir: false
            }
        );

        // Append handles start at the end; set_len truncates and moves there.
        let file = vfs.open_append(&f).unwrap();
        file.write_all(b"!").unwrap();
        file.set_len(5).unwrap();
        file.write_all(b"_x").unwrap();
        file.sync_all().unwrap();
        drop(file);
        assert_eq!(vfs.read(&f).unwrap(), b"hello_x");

        // create truncates.
        let file = vfs.create(&f).unwrap();
        file.write_all(b"new").unwrap();
        drop(file);
        assert_eq!(vfs.read(&f).unwrap(), b"new");

        // map: content and an empty file.
        let mapped = vfs.map(&f).unwrap();
        assert_eq!(&*mapped, b"new");
        let cloned = mapped.clone();
        assert_eq!(cloned.as_ref(), b"new");
        let empty = dir.join("empty");
        drop(vfs.create(&empty).unwrap());
        assert!(vfs.map(&empty).unwrap().is_empty());

        // rename replaces, read_dir lists, remove_file removes.
        vfs.rename(&f, &empty).unwrap();
        assert!(!vfs.exists(&f));
        assert_eq!(vfs.read(&empty).unwrap(), b"new");
        vfs.create_dir_all(&dir.join("sub")).unwrap();
        let mut entries = vfs.read_dir(&dir).unwrap();
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        assert_eq!(
            entries,
            [
                VfsDirEntry {
                    name: "empty".into(),
                    is_dir: false
                },
                VfsDirEntry {
                    name: "sub".into(),
                    is_dir: true
                }
            ]
        );
        vfs.fsync_dir(&dir).unwrap();
        vfs.remove_file(&empty).unwrap();
        assert_eq!(
            vfs.read(&empty).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        assert_eq!(
            vfs.open_append(&empty).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        assert!(vfs.fsync_dir(&dir.join("nope")).is_err());

        vfs.remove_dir_all(&root.join("a")).unwrap();
        assert!(!vfs.exists(&dir));
        assert!(vfs.read_dir(root).unwrap().is_empty());
    }

    #[test]
    fn file_vfs_basic_ops() {
        let tmp = tempfile::tempdir().unwrap();
        check_basic_ops(&FileVfs, tmp.path());
    }

    #[test]
    fn memory_vfs_basic_ops() {
        let vfs = MemoryVfs::new();
        check_basic_ops(&vfs, Path::new("/root"));
        // Paths are normalised.
        assert!(vfs.exists(Path::new("root")));
        assert!(vfs.exists(Path::new("./root/.")));
    }

    /// `open_read` streams a file from its start; `modified` follows writes.
    fn check_open_read_and_modified(vfs: &dyn Vfs, root: &Path) {
        vfs.create_dir_all(root).unwrap();
        let f = root.join("r");
        let data: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
        let file = vfs.create_new(&f).unwrap();
        file.write_all(&data).unwrap();
        let mut got = Vec::new();
        vfs.open_read(&f).unwrap().read_to_end(&mut got).unwrap();
        assert_eq!(got, data);
        assert_eq!(
            vfs.open_read(&root.join("nope")).err().unwrap().kind(),
            io::ErrorKind::NotFound
        );
        let before = vfs.modified(&f).unwrap();
        assert!(before > SystemTime::UNIX_EPOCH);
        std::thread::sleep(Duration::from_millis(20));
        file.write_all(b"more").unwrap();
        assert!(vfs.modified(&f).unwrap() > before);
        assert!(vfs.modified(&root.join("nope")).is_err());
    }

    #[test]
    fn open_read_and_modified_on_every_backend() {
        let tmp = tempfile::tempdir().unwrap();
        check_open_read_and_modified(&FileVfs, tmp.path());
        let mem = MemoryVfs::new();
        check_open_read_and_modified(&mem, Path::new("/m"));
        check_open_read_and_modified(&FaultyVfs::new(Arc::new(mem)), Path::new("/f"));
    }

    #[test]
    fn faulty_vfs_injects_read_errors() {
        let mem = MemoryVfs::new();
        let vfs = FaultyVfs::new(Arc::new(mem.clone()));
        let path = Path::new("/f");
        drop(mem.create_new(path).unwrap());
        mem.open_append(path).unwrap().write_all(b"abcdef").unwrap();
        vfs.fail_nth_read(2);
        assert_eq!(vfs.read(path).unwrap(), b"abcdef");
        let err = vfs.map(path).unwrap_err();
        assert_eq!(err.to_string(), "injected read failure");
        assert_eq!(&*vfs.map(path).unwrap(), b"abcdef");
        // each read call on a handle counts
        let mut r = vfs.open_read(path).unwrap();
        vfs.fail_nth_read(2);
        let mut buf = [0u8; 4];
        assert_eq!(r.read(&mut buf).unwrap(), 4);
        assert!(r.read(&mut buf).is_err());
        assert_eq!(r.read(&mut buf).unwrap(), 2);
        assert_eq!(vfs.read_count(), 6);
        // writes and syncs are not reads
        assert_eq!((vfs.write_count(), vfs.sync_count()), (0, 0));
    }

    #[test]
    fn file_vfs_map_sees_file_bytes() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("seg");
        let data: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
        fs::write(&path, &data).unwrap();
        let mapped = FileVfs.map(&path).unwrap();
        assert_eq!(&*mapped, &data[..]);
        assert!(format!("{mapped:?}").contains("mmap"));
        assert!(FileVfs.map(&tmp.path().join("missing")).is_err());
    }

    #[test]
    fn memory_crash_drops_unsynced_bytes() {
        let vfs = MemoryVfs::new();
        let dir = Path::new("/d");
        vfs.create_dir_all(dir).unwrap();
        vfs.fsync_dir(Path::new("/")).unwrap();
        let path = dir.join("f");
        let file = vfs.create_new(&path).unwrap();
        vfs.fsync_dir(dir).unwrap();
        file.write_all(b"durable").unwrap();
        file.sync_data().unwrap();
        file.write_all(b" lost").unwrap();
        assert_eq!(vfs.read(&path).unwrap(), b"durable lost");
        assert_eq!(vfs.durable_read(&path).unwrap(), b"durable");
        // A truncation that is not synced is undone too.
        file.set_len(3).unwrap();
        assert_eq!(vfs.durable_read(&path).unwrap(), b"durable");
        vfs.crash();
        assert_eq!(vfs.read(&path).unwrap(), b"durable");
        // Handles from before the crash are dead.
        assert!(file.write_all(b"x").is_err());
        assert!(file.sync_data().is_err());
        assert_eq!(vfs.sync_count(), 1);
    }

    #[test]
    fn memory_crash_rolls_back_unsynced_directory_changes() {
        let vfs = MemoryVfs::new();
        let dir = Path::new("/d");
        vfs.create_dir_all(dir).unwrap();
        // The directory itself is not durable until its parent is synced.
        assert!(vfs.crashed_copy().metadata(dir).is_err());
        vfs.fsync_dir(Path::new("/")).unwrap();
        assert!(vfs.crashed_copy().metadata(dir).unwrap().is_dir);

        // A synced file whose creation was not: gone after a crash.
        let a = dir.join("a");
        let file = vfs.create_new(&a).unwrap();
        file.write_all(b"aaa").unwrap();
        file.sync_all().unwrap();
        assert_eq!(vfs.durable_read(&a), None);
        vfs.fsync_dir(dir).unwrap();
        assert_eq!(vfs.durable_read(&a).unwrap(), b"aaa");

        // Rename and removal without a directory sync are rolled back.
        let b = dir.join("b");
        vfs.rename(&a, &b).unwrap();
        let after = vfs.crashed_copy();
        assert_eq!(after.read(&a).unwrap(), b"aaa");
        assert!(!after.exists(&b));
        vfs.fsync_dir(dir).unwrap();
        let after = vfs.crashed_copy();
        assert!(!after.exists(&a));
        assert_eq!(after.read(&b).unwrap(), b"aaa");
        vfs.remove_file(&b).unwrap();
        assert_eq!(vfs.durable_read(&b).unwrap(), b"aaa");
        vfs.fsync_dir(dir).unwrap();
        assert_eq!(vfs.durable_read(&b), None);

        // Removing and re-creating a directory does not bring back its old
        // entries, whatever is synced.
        let c = dir.join("c");
        drop(vfs.create_new(&c).unwrap());
        vfs.fsync_dir(dir).unwrap();
        vfs.remove_dir_all(dir).unwrap();
        vfs.create_dir_all(dir).unwrap();
        vfs.fsync_dir(Path::new("/")).unwrap();
        vfs.crash();
        assert!(vfs.read_dir(dir).unwrap().is_empty());
    }

    #[test]
    fn faulty_vfs_injects_write_sync_and_disk_full_errors() {
        let mem = MemoryVfs::new();
        let vfs = FaultyVfs::new(Arc::new(mem.clone()));
        let path = Path::new("/f");
        let file = vfs.create_new(path).unwrap();

        vfs.fail_nth_write(2);
        file.write_all(b"1111").unwrap();
        let err = file.write_all(b"2222").unwrap_err();
        assert_eq!(err.to_string(), "injected write failure");
        // A torn write: half of the buffer landed.
        assert_eq!(mem.read(path).unwrap(), b"111122");
        file.write_all(b"3").unwrap();
        assert_eq!(vfs.write_count(), 3);

        vfs.fail_nth_sync(1);
        assert!(file.sync_data().is_err());
        assert_eq!(mem.sync_count(), 0);
        file.sync_data().unwrap();
        assert_eq!((vfs.sync_count(), mem.sync_count()), (2, 1));

        vfs.set_disk_full(true);
        let err = file.write_all(b"full").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::StorageFull);
        assert!(crate::StorageError::io(path, err).is_disk_full());
        assert_eq!(
            vfs.create(Path::new("/g")).unwrap_err().kind(),
            io::ErrorKind::StorageFull
        );
        vfs.set_disk_full(false);
        file.write_all(b"ok").unwrap();
        assert_eq!(vfs.read(path).unwrap(), b"1111223fuok");
    }
}
