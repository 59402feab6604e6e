//! Snapshots: a collection (or every collection) as one tar file that can be downloaded and
//! recovered into this or another server.
//!
//! A collection snapshot holds `config.json`, `state.bin`, the segment directories it names and
//! the log files past it (a durable collection, taken right after a flush, so the log part is
//! short), or `config.json` and a `checkpoint.bin` with every point (an in-memory collection).
//! Either layout opens like a collection directory. A full snapshot holds
//! `collections/<name>.snapshot` for every collection and `aliases.json`.
//!
//! Next to each snapshot file, `<file>.checksum` holds its SHA-256 (hex), reported when listed.
//! Recovery unpacks into a hidden directory beside the collections, opens it there (which checks
//! every checksum), and only then swaps it in for the collection of the same name: a damaged
//! snapshot leaves the existing collection as it was.
//!
//! Every file operation goes through the database's [`Vfs`], so the fault-injecting backend
//! covers snapshots too.

use std::collections::BTreeMap;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use rvdb_storage::{Vfs, VfsFile};
use sha2::{Digest, Sha256};
use time::macros::format_description;
use time::OffsetDateTime;

use crate::collection::{Collection, CONFIG_FILE};
use crate::{Database, EngineError, Result};

/// What the snapshot routes report of a snapshot file (Qdrant's `SnapshotDescription`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SnapshotDescription {
    pub name: String,
    /// UTC, `YYYY-MM-DDTHH:MM:SS`.
    pub creation_time: Option<String>,
    pub size: u64,
    /// SHA-256 of the file, hex.
    pub checksum: Option<String>,
}

pub(crate) const SUFFIX: &str = ".snapshot";
const CHECKSUM_SUFFIX: &str = ".checksum";
/// Buffer size for streaming archives and the files in them.
const BUF: usize = 1 << 20;

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> EngineError + '_ {
    move |source| {
        EngineError::Storage(rvdb_storage::StorageError::Io {
            path: path.to_path_buf(),
            source,
        })
    }
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A Unix time as UTC date and time (the epoch for one past the year 9999).
fn utc(secs: u64) -> OffsetDateTime {
    i64::try_from(secs)
        .ok()
        .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// `YYYY-MM-DDTHH:MM:SS`, UTC.
fn iso_time(secs: u64) -> String {
    utc(secs)
        .format(format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]"
        ))
        .expect("a date formats")
}

/// `YYYY-MM-DD-HH-MM-SS`, UTC, as in Qdrant's snapshot names.
fn name_time(secs: u64) -> String {
    utc(secs)
        .format(format_description!(
            "[year]-[month]-[day]-[hour]-[minute]-[second]"
        ))
        .expect("a date formats")
}

/// Checks a snapshot name from a URL: a plain file name ending in `.snapshot`.
pub fn validate_snapshot_name(name: &str) -> Result<()> {
    if name.is_empty()
        || name.starts_with('.')
        || name.contains(['/', '\\'])
        || !name.ends_with(SUFFIX)
    {
        return Err(EngineError::bad(format!(
            "snapshot name `{name}`: expected a file name ending in `{SUFFIX}`"
        )));
    }
    Ok(())
}

/// SHA-256 of a file of the real file system, hex.
pub fn file_sha256(path: &Path) -> Result<String> {
    sha256_in(&rvdb_storage::FileVfs, path)
}

/// SHA-256 of a file, hex.
fn sha256_in(vfs: &dyn Vfs, path: &Path) -> Result<String> {
    let mut reader = Hashing::new(vfs.open_read(path).map_err(io_err(path))?);
    io::copy(&mut reader, &mut io::sink()).map_err(io_err(path))?;
    Ok(hex(&reader.hash.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `path` is there and not a directory.
fn is_file(vfs: &dyn Vfs, path: &Path) -> bool {
    vfs.metadata(path).is_ok_and(|m| !m.is_dir)
}

/// Describes a snapshot file; `checksum`: its SHA-256 if known, else read from its checksum file.
fn describe(vfs: &dyn Vfs, path: &Path, checksum: Option<String>) -> Result<SnapshotDescription> {
    let meta = vfs.metadata(path).map_err(io_err(path))?;
    let checksum = checksum.or_else(|| {
        vfs.read(&checksum_path(path))
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .map(|s| s.trim().to_string())
    });
    let created = vfs
        .modified(path)
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| iso_time(d.as_secs()));
    Ok(SnapshotDescription {
        name: path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string(),
        creation_time: created,
        size: meta.len,
        checksum,
    })
}

fn checksum_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(CHECKSUM_SUFFIX);
    PathBuf::from(p)
}

/// The names in directory `dir`, sorted.
fn sorted_names(vfs: &dyn Vfs, dir: &Path) -> Result<Vec<String>> {
    let mut names: Vec<String> = vfs
        .read_dir(dir)
        .map_err(io_err(dir))?
        .into_iter()
        .map(|e| e.name.to_string_lossy().into_owned())
        .collect();
    names.sort();
    Ok(names)
}

/// Every `.snapshot` file in `dir`, newest first.
fn list_dir(vfs: &dyn Vfs, dir: &Path) -> Result<Vec<SnapshotDescription>> {
    let entries = match vfs.read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err(dir)(e)),
    };
    let mut out = Vec::new();
    for e in entries {
        let Some(name) = e.name.to_str() else {
            continue;
        };
        let path = dir.join(name);
        if name.ends_with(SUFFIX) && !name.starts_with('.') && is_file(vfs, &path) {
            out.push(describe(vfs, &path, None)?);
        }
    }
    out.sort_by(|a, b| {
        b.creation_time
            .cmp(&a.creation_time)
            .then(a.name.cmp(&b.name))
    });
    Ok(out)
}

const MANIFEST: &str = "manifest.json";

/// `Write` over a [`VfsFile`], for the tar builder.
struct VfsWriter(Box<dyn VfsFile>);

impl Write for VfsWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write_all(buf)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A tar being written, and the manifest of what went in (written last).
pub(crate) struct Tarball<'a> {
    /// Where the files added with [`Tarball::add_file`] are read.
    vfs: &'a dyn Vfs,
    builder: tar::Builder<BufWriter<VfsWriter>>,
    /// path → (size, SHA-256 hex)
    manifest: BTreeMap<String, (u64, String)>,
}

impl Tarball<'_> {
    fn add_bytes(&mut self, path: &str, bytes: &[u8]) -> Result<()> {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(now_secs());
        header.set_cksum();
        self.builder
            .append_data(&mut header, path, bytes)
            .map_err(io_err(Path::new(path)))?;
        self.manifest.insert(
            path.to_string(),
            (bytes.len() as u64, hex(&Sha256::digest(bytes))),
        );
        Ok(())
    }

    /// Streams a file into the archive (hashing it on the way): exactly the length it has when
    /// opened, so a file that grows meanwhile (the log) is taken as one consistent prefix.
    fn add_file(&mut self, name: &str, path: &Path) -> Result<()> {
        let len = self.vfs.metadata(path).map_err(io_err(path))?.len;
        let file = self.vfs.open_read(path).map_err(io_err(path))?;
        let mut header = tar::Header::new_gnu();
        header.set_size(len);
        header.set_mode(0o644);
        header.set_mtime(now_secs());
        header.set_cksum();
        let mut reader = Hashing::new(file.take(len));
        self.builder
            .append_data(&mut header, name, &mut reader)
            .map_err(io_err(path))?;
        if reader.read != len {
            // the file shrank while it was read: nothing here truncates files under a snapshot
            return Err(io_err(path)(io::Error::other(format!(
                "{} bytes read of {len}",
                reader.read
            ))));
        }
        self.manifest
            .insert(name.to_string(), (len, hex(&reader.hash.finalize())));
        Ok(())
    }
}

/// A reader that hashes what passes through it.
struct Hashing<R> {
    inner: R,
    hash: Sha256,
    read: u64,
}

impl<R> Hashing<R> {
    fn new(inner: R) -> Self {
        Hashing {
            inner,
            hash: Sha256::new(),
            read: 0,
        }
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        self.read += n as u64;
        Ok(n)
    }
}

/// Checks an unpacked snapshot against its manifest: every file listed, with its size and
/// SHA-256, and nothing else.
fn verify_manifest(vfs: &dyn Vfs, dir: &Path) -> Result<()> {
    let bad = |why: String| EngineError::bad(format!("snapshot is damaged: {why}"));
    let manifest_path = dir.join(MANIFEST);
    let bytes = match vfs.read(&manifest_path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(bad(format!("no {MANIFEST} inside")))
        }
        Err(e) => return Err(io_err(&manifest_path)(e)),
    };
    let manifest: BTreeMap<String, (u64, String)> =
        serde_json::from_slice(&bytes).map_err(|e| bad(format!("{MANIFEST}: {e}")))?;
    let mut seen = 0;
    for (name, (size, sum)) in &manifest {
        let path = dir.join(name);
        if !is_file(vfs, &path) {
            return Err(bad(format!("{name} is missing")));
        }
        let file = vfs.open_read(&path).map_err(io_err(&path))?;
        let mut reader = Hashing::new(file);
        io::copy(&mut reader, &mut io::sink()).map_err(io_err(&path))?;
        if reader.read != *size || hex(&reader.hash.finalize()) != *sum {
            return Err(bad(format!("{name} does not match its checksum")));
        }
        seen += 1;
    }
    let mut on_disk = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in vfs.read_dir(&d).map_err(io_err(&d))? {
            if e.is_dir {
                stack.push(d.join(&e.name));
            } else {
                on_disk += 1;
            }
        }
    }
    if on_disk != seen + 1 {
        return Err(bad(format!(
            "{} files inside, the manifest lists {seen}",
            on_disk - 1
        )));
    }
    Ok(())
}

/// Writes a tar built by `fill` to `dir/<stem>-<time>.snapshot` (through a hidden temporary
/// name, fsynced, with its checksum file), and describes it. On failure nothing of it is left
/// under the final name.
fn write_snapshot(
    vfs: &dyn Vfs,
    dir: &Path,
    stem: &str,
    fill: impl FnOnce(&mut Tarball) -> Result<()>,
) -> Result<SnapshotDescription> {
    rvdb_storage::create_dir_all_durable(vfs, dir)?;
    let base = format!("{stem}-{}", name_time(now_secs()));
    let mut name = format!("{base}{SUFFIX}");
    let mut n = 1;
    while vfs.exists(&dir.join(&name)) {
        n += 1;
        name = format!("{base}-{n}{SUFFIX}");
    }
    let final_path = dir.join(&name);
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut renamed = false;
    let result = (|| -> Result<String> {
        let file = vfs.create(&tmp).map_err(io_err(&tmp))?;
        let mut tb = Tarball {
            vfs,
            builder: tar::Builder::new(BufWriter::with_capacity(BUF, VfsWriter(file))),
            manifest: Default::default(),
        };
        fill(&mut tb)?;
        let manifest = serde_json::to_vec_pretty(&tb.manifest).expect("manifest serializes");
        tb.add_bytes(MANIFEST, &manifest)?;
        let VfsWriter(file) = tb
            .builder
            .into_inner()
            .map_err(io_err(&tmp))?
            .into_inner()
            .map_err(|e| io_err(&tmp)(e.into_error()))?;
        file.sync_all().map_err(io_err(&tmp))?;
        drop(file);
        let sum = sha256_in(vfs, &tmp)?;
        rvdb_storage::atomic_write_in(vfs, &checksum_path(&final_path), sum.as_bytes())?;
        vfs.rename(&tmp, &final_path).map_err(io_err(&final_path))?;
        renamed = true;
        rvdb_storage::fsync_dir_in(vfs, dir)?;
        Ok(sum)
    })();
    match result {
        Ok(sum) => describe(vfs, &final_path, Some(sum)),
        Err(e) => {
            let _ = vfs.remove_file(&tmp);
            if renamed {
                let _ = vfs.remove_file(&final_path);
            }
            let _ = vfs.remove_file(&checksum_path(&final_path));
            let _ = vfs.fsync_dir(dir);
            Err(e)
        }
    }
}

/// Where tar entry `path` goes under `dest`, the way `tar::Entry::unpack_in` places it: leading
/// `/` and `.` components are dropped; `None` for a path with `..` (outside `dest`).
fn entry_dest(dest: &Path, path: &Path) -> Option<PathBuf> {
    let mut out = dest.to_path_buf();
    for part in path.components() {
        match part {
            Component::Prefix(_) | Component::RootDir | Component::CurDir => {}
            Component::ParentDir => return None,
            Component::Normal(p) => out.push(p),
        }
    }
    Some(out)
}

/// Unpacks a tar into `dest` (created), refusing entries that would land outside it, checks it
/// against its manifest and makes it durable.
fn unpack(vfs: &dyn Vfs, archive: &Path, dest: &Path) -> Result<()> {
    let damaged = |e: io::Error| EngineError::bad(format!("snapshot: damaged archive: {e}"));
    let file = vfs.open_read(archive).map_err(io_err(archive))?;
    vfs.create_dir_all(dest).map_err(io_err(dest))?;
    let mut ar = tar::Archive::new(io::BufReader::with_capacity(BUF, file));
    let entries = ar
        .entries()
        .map_err(|e| EngineError::bad(format!("snapshot: not a tar archive: {e}")))?;
    let mut buf = vec![0u8; BUF];
    for entry in entries {
        let mut entry = entry.map_err(damaged)?;
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions()
            || kind.is_pax_local_extensions()
            || kind.is_gnu_longname()
            || kind.is_gnu_longlink()
        {
            continue;
        }
        let path = entry.path().map_err(damaged)?.into_owned();
        let Some(to) = entry_dest(dest, &path) else {
            return Err(EngineError::bad(
                "snapshot: an entry points outside the snapshot",
            ));
        };
        if to == dest {
            continue;
        }
        if kind.is_hard_link() || kind.is_symlink() {
            return Err(EngineError::bad(format!(
                "snapshot: damaged archive: {} is a link; a snapshot holds files only",
                path.display()
            )));
        }
        // old tar headers mark directories with a trailing `/`
        if kind.is_dir()
            || (entry.header().as_ustar().is_none() && entry.path_bytes().ends_with(b"/"))
        {
            vfs.create_dir_all(&to).map_err(io_err(&to))?;
            continue;
        }
        if let Some(parent) = to.parent() {
            vfs.create_dir_all(parent).map_err(io_err(parent))?;
        }
        // reading the entry fails for a damaged archive; writing the copy, for our disk
        let out = vfs.create(&to).map_err(io_err(&to))?;
        loop {
            let n = entry.read(&mut buf).map_err(damaged)?;
            if n == 0 {
                break;
            }
            out.write_all(&buf[..n]).map_err(io_err(&to))?;
        }
        out.sync_all().map_err(io_err(&to))?;
    }
    verify_manifest(vfs, dest)?;
    sync_dirs(vfs, dest)
}

/// Makes the entries of `dir` and of every directory below it durable.
fn sync_dirs(vfs: &dyn Vfs, dir: &Path) -> Result<()> {
    for e in vfs.read_dir(dir).map_err(io_err(dir))? {
        if e.is_dir {
            sync_dirs(vfs, &dir.join(&e.name))?;
        }
    }
    Ok(rvdb_storage::fsync_dir_in(vfs, dir)?)
}

/// Removes what snapshot work interrupted by a crash left in the snapshots directory: hidden
/// entries (`.uploads/`, `.full-*`, `.recover-*`, `.stream-*`, `.<name>.tmp`), at the top, in
/// each collection's directory and in its shards' (`shards/<id>`). Failures are only logged.
pub(crate) fn remove_leftovers(vfs: &dyn Vfs, dir: &Path) {
    let hidden = |d: &Path| -> Vec<(PathBuf, bool)> {
        vfs.read_dir(d)
            .map(|entries| {
                entries
                    .into_iter()
                    .filter(|e| e.name.to_string_lossy().starts_with('.'))
                    .map(|e| (d.join(&e.name), e.is_dir))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut leftovers = hidden(dir);
    let collections = dir.join("collections");
    if let Ok(entries) = vfs.read_dir(&collections) {
        for e in entries {
            let cdir = collections.join(&e.name);
            leftovers.extend(hidden(&cdir));
            let shards = cdir.join("shards");
            if let Ok(shard_dirs) = vfs.read_dir(&shards) {
                for s in shard_dirs {
                    leftovers.extend(hidden(&shards.join(&s.name)));
                }
            }
        }
    }
    for (path, is_dir) in leftovers {
        let removed = if is_dir {
            vfs.remove_dir_all(&path)
        } else {
            vfs.remove_file(&path)
        };
        match removed {
            Ok(()) => {
                tracing::info!(path = %path.display(), "removed a leftover of interrupted snapshot work")
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "could not remove a leftover of snapshot work")
            }
        }
    }
}

impl Collection {
    /// Writes a snapshot of this collection into `dir`; `vfs`: the database's, which holds both.
    pub(crate) fn snapshot_to(&self, vfs: &dyn Vfs, dir: &Path) -> Result<SnapshotDescription> {
        self.snapshot_to_named(vfs, dir, self.name())
    }

    /// Like [`Collection::snapshot_to`], the file named `<stem>-<time>.snapshot`.
    pub(crate) fn snapshot_to_named(
        &self,
        vfs: &dyn Vfs,
        dir: &Path,
        stem: &str,
    ) -> Result<SnapshotDescription> {
        // no optimizer step or flush while the files are read: the state file and the
        // segments it names stay as they are; the log only grows
        let _o = self.optimizer_lock.lock();
        match self.dir() {
            Some(cdir) => {
                self.flush()?;
                let cdir = cdir.to_path_buf();
                write_snapshot(vfs, dir, stem, |b| {
                    b.add_file(CONFIG_FILE, &cdir.join(CONFIG_FILE))?;
                    let state = cdir.join(crate::persist::STATE_FILE);
                    b.add_file(crate::persist::STATE_FILE, &state)?;
                    for id in self.sealed_ids() {
                        let sdir = crate::persist::segment_dir(&cdir, id);
                        for f in sorted_names(vfs, &sdir)? {
                            if f.starts_with('.') {
                                continue;
                            }
                            let name = format!("{}/{id}/{f}", crate::persist::SEGMENTS_DIR);
                            b.add_file(&name, &sdir.join(&f))?;
                        }
                    }
                    let wal = cdir.join("wal");
                    for f in sorted_names(vfs, &wal)? {
                        b.add_file(&format!("wal/{f}"), &wal.join(&f))?;
                    }
                    Ok(())
                })
            }
            None => {
                let (config, checkpoint) = self.dump();
                write_snapshot(vfs, dir, stem, |b| {
                    b.add_bytes(CONFIG_FILE, &config)?;
                    b.add_bytes("checkpoint.bin", &checkpoint)
                })
            }
        }
    }
}

impl Database {
    /// Where snapshots go: `snapshots_path` if set, else `<storage>/snapshots`, else (in
    /// memory) a directory in the system's temporary directory.
    pub fn snapshots_dir(&self) -> PathBuf {
        if let Some(p) = &self.options().snapshots_path {
            return p.clone();
        }
        match &self.options().storage_path {
            Some(s) => s.join("snapshots"),
            None => {
                std::env::temp_dir().join(format!("rustvecdb-snapshots-{}", std::process::id()))
            }
        }
    }

    fn collection_snapshots_dir(&self, name: &str) -> PathBuf {
        self.snapshots_dir().join("collections").join(name)
    }

    /// Creates a snapshot of a collection (by name or alias).
    pub fn create_snapshot(&self, name: &str) -> Result<SnapshotDescription> {
        let c = self.collection(name)?;
        let dir = self.collection_snapshots_dir(c.name());
        let d = c.snapshot_to(&*self.vfs, &dir)?;
        tracing::info!(collection = c.name(), snapshot = %d.name, size = d.size, "snapshot created");
        Ok(d)
    }

    /// The snapshots of a collection, newest first.
    pub fn list_snapshots(&self, name: &str) -> Result<Vec<SnapshotDescription>> {
        let c = self.collection(name)?;
        list_dir(&*self.vfs, &self.collection_snapshots_dir(c.name()))
    }

    /// The file of a collection's snapshot (`NotFound`-style error if there is none).
    pub fn snapshot_path(&self, name: &str, snapshot: &str) -> Result<PathBuf> {
        validate_snapshot_name(snapshot)?;
        let c = self.collection(name)?;
        let path = self.collection_snapshots_dir(c.name()).join(snapshot);
        if !is_file(&*self.vfs, &path) {
            return Err(EngineError::SnapshotNotFound(snapshot.to_string()));
        }
        Ok(path)
    }

    /// Deletes a collection's snapshot.
    pub fn delete_snapshot(&self, name: &str, snapshot: &str) -> Result<()> {
        let path = self.snapshot_path(name, snapshot)?;
        remove_snapshot_file(&*self.vfs, &path)
    }

    /// A collection's one shard (id 0); Qdrant's "Not found: shard {id}" for any other.
    fn check_shard(shard: u32) -> Result<()> {
        if shard != 0 {
            return Err(EngineError::ShardNotFound(shard));
        }
        Ok(())
    }

    /// Whether collection `name` (or alias) has shard `shard`: `CollectionNotFound` or
    /// `ShardNotFound` if not (checked before a recovery reads its file, as Qdrant does).
    pub fn check_collection_shard(&self, name: &str, shard: u32) -> Result<()> {
        self.collection(name)?;
        Self::check_shard(shard)
    }

    /// Where the snapshots of a shard of a collection go: `shards/<id>` in the collection's
    /// snapshot directory, as in Qdrant (so they are not listed with the collection's).
    fn shard_snapshots_dir(&self, name: &str, shard: u32) -> PathBuf {
        self.collection_snapshots_dir(name)
            .join("shards")
            .join(shard.to_string())
    }

    /// Creates a snapshot of shard `shard` of a collection (the collection's only shard is 0,
    /// so it holds the same files as a collection snapshot).
    pub fn create_shard_snapshot(&self, name: &str, shard: u32) -> Result<SnapshotDescription> {
        let c = self.collection(name)?;
        Self::check_shard(shard)?;
        let dir = self.shard_snapshots_dir(c.name(), shard);
        let d = c.snapshot_to_named(&*self.vfs, &dir, &format!("{}-shard-{shard}", c.name()))?;
        tracing::info!(collection = c.name(), shard, snapshot = %d.name, size = d.size, "shard snapshot created");
        Ok(d)
    }

    /// The snapshots of a shard, newest first.
    pub fn list_shard_snapshots(&self, name: &str, shard: u32) -> Result<Vec<SnapshotDescription>> {
        let c = self.collection(name)?;
        Self::check_shard(shard)?;
        list_dir(&*self.vfs, &self.shard_snapshots_dir(c.name(), shard))
    }

    /// The file of a shard's snapshot.
    pub fn shard_snapshot_path(&self, name: &str, shard: u32, snapshot: &str) -> Result<PathBuf> {
        let c = self.collection(name)?;
        Self::check_shard(shard)?;
        validate_snapshot_name(snapshot)?;
        let path = self.shard_snapshots_dir(c.name(), shard).join(snapshot);
        if !is_file(&*self.vfs, &path) {
            return Err(EngineError::SnapshotNotFound(snapshot.to_string()));
        }
        Ok(path)
    }

    /// Deletes a shard's snapshot.
    pub fn delete_shard_snapshot(&self, name: &str, shard: u32, snapshot: &str) -> Result<()> {
        let path = self.shard_snapshot_path(name, shard, snapshot)?;
        remove_snapshot_file(&*self.vfs, &path)
    }

    /// Writes a fresh snapshot of a shard into a hidden directory of the snapshots directory
    /// and returns the file, already unlinked where the system allows reading an unlinked
    /// file (Unix), so that it is gone once the caller has read it; elsewhere the caller removes
    /// it. A crash before that leaves a hidden directory, removed at the next start.
    pub fn stream_shard_snapshot(
        &self,
        name: &str,
        shard: u32,
    ) -> Result<(std::fs::File, u64, String)> {
        let c = self.collection(name)?;
        Self::check_shard(shard)?;
        let dir = self
            .snapshots_dir()
            .join(format!(".stream-{}", uuid::Uuid::new_v4()));
        let result = (|| {
            let d =
                c.snapshot_to_named(&*self.vfs, &dir, &format!("{}-shard-{shard}", c.name()))?;
            let path = dir.join(&d.name);
            let file = std::fs::File::open(&path).map_err(io_err(&path))?;
            Ok((file, d.size, d.name))
        })();
        let _ = self.vfs.remove_dir_all(&dir);
        result
    }

    /// Recovers shard `shard` of an existing collection from a snapshot file (of a shard or of
    /// the collection: the layout is the same). The collection is replaced whole, its
    /// configuration included, as [`Database::recover_snapshot`] does.
    pub fn recover_shard_snapshot(
        &self,
        name: &str,
        shard: u32,
        file: &Path,
        checksum: Option<&str>,
    ) -> Result<()> {
        let c = self.collection(name)?;
        Self::check_shard(shard)?;
        let name = c.name().to_string();
        drop(c);
        self.recover_snapshot(&name, file, checksum)
    }

    /// Creates a snapshot of the whole storage: every collection and the aliases.
    pub fn create_full_snapshot(&self) -> Result<SnapshotDescription> {
        let vfs = &*self.vfs;
        let work = self
            .snapshots_dir()
            .join(format!(".full-{}", uuid::Uuid::new_v4()));
        let result = (|| {
            let mut parts = Vec::new();
            for name in self.collection_names() {
                let Ok(c) = self.collection(&name) else {
                    continue;
                };
                let d = c.snapshot_to(vfs, &work)?;
                parts.push((name, work.join(&d.name)));
            }
            let aliases =
                serde_json::to_vec_pretty(&self.aliases().into_iter().collect::<BTreeMap<_, _>>())
                    .expect("aliases serialize");
            write_snapshot(vfs, &self.snapshots_dir(), "full-snapshot", |b| {
                for (name, path) in &parts {
                    b.add_file(&format!("collections/{name}{SUFFIX}"), path)?;
                }
                b.add_bytes("aliases.json", &aliases)
            })
        })();
        let _ = vfs.remove_dir_all(&work);
        let d = result?;
        tracing::info!(snapshot = %d.name, size = d.size, "full snapshot created");
        Ok(d)
    }

    /// The full snapshots, newest first.
    pub fn list_full_snapshots(&self) -> Result<Vec<SnapshotDescription>> {
        list_dir(&*self.vfs, &self.snapshots_dir())
    }

    /// The file of a full snapshot.
    pub fn full_snapshot_path(&self, snapshot: &str) -> Result<PathBuf> {
        validate_snapshot_name(snapshot)?;
        let path = self.snapshots_dir().join(snapshot);
        if !is_file(&*self.vfs, &path) {
            return Err(EngineError::SnapshotNotFound(snapshot.to_string()));
        }
        Ok(path)
    }

    pub fn delete_full_snapshot(&self, snapshot: &str) -> Result<()> {
        remove_snapshot_file(&*self.vfs, &self.full_snapshot_path(snapshot)?)
    }

    /// A directory for uploads on the snapshots' file system (so the final rename is cheap).
    pub fn upload_dir(&self) -> Result<PathBuf> {
        let dir = self.snapshots_dir().join(".uploads");
        self.vfs.create_dir_all(&dir).map_err(io_err(&dir))?;
        Ok(dir)
    }

    /// Checks a snapshot file's SHA-256 against the one the client sent, if any.
    fn check_sha256(&self, file: &Path, checksum: Option<&str>) -> Result<()> {
        if let Some(want) = checksum {
            let got = sha256_in(&*self.vfs, file)?;
            if !got.eq_ignore_ascii_case(want.trim()) {
                return Err(EngineError::bad(format!(
                    "checksum: the snapshot's SHA-256 is {got}, expected {want}"
                )));
            }
        }
        Ok(())
    }

    /// Replaces (or creates) collection `name` with the content of a snapshot file. The
    /// snapshot is unpacked and opened beside the collections first; the existing collection
    /// is only replaced once that has worked. `checksum`: the SHA-256 the file must have.
    pub fn recover_snapshot(&self, name: &str, file: &Path, checksum: Option<&str>) -> Result<()> {
        crate::database::validate_name(name)?;
        self.check_sha256(file, checksum)?;
        let vfs = &*self.vfs;
        let staging_root = match self.root() {
            Some(root) => root.to_path_buf(),
            None => self.snapshots_dir(),
        };
        let tmp = staging_root.join(format!(".tmp-{}", uuid::Uuid::new_v4()));
        let result = (|| {
            unpack(vfs, file, &tmp)?;
            if !is_file(vfs, &tmp.join(CONFIG_FILE)) {
                return Err(EngineError::bad(
                    "snapshot: no config.json inside; is this a collection snapshot?",
                ));
            }
            // opening checks every file's checksum; the trial copy is dropped again
            let trial = Collection::open(name, &tmp, u64::MAX, self.vfs.clone())
                .map_err(|e| EngineError::bad(format!("snapshot cannot be recovered: {e}")))?;
            if !trial.problems.lock().is_empty() {
                return Err(EngineError::bad(format!(
                    "snapshot cannot be recovered: {}",
                    trial.problems.lock().join("; ")
                )));
            }
            match self.root() {
                Some(_) => {
                    drop(trial);
                    self.swap_in(name, &tmp)
                }
                None => self.put_collection(name, Arc::new(trial.into_memory())),
            }
        })();
        let _ = vfs.remove_dir_all(&tmp);
        if result.is_ok() {
            tracing::info!(collection = name, snapshot = %file.display(), "collection recovered from a snapshot");
        }
        result
    }

    /// Recovers every collection of a full snapshot, then its aliases.
    pub fn recover_full_snapshot(
        &self,
        file: &Path,
        checksum: Option<&str>,
    ) -> Result<Vec<String>> {
        self.check_sha256(file, checksum)?;
        let vfs = &*self.vfs;
        let work = self
            .snapshots_dir()
            .join(format!(".recover-{}", uuid::Uuid::new_v4()));
        let result = (|| {
            unpack(vfs, file, &work)?;
            let dir = work.join("collections");
            let mut names = Vec::new();
            if let Ok(entries) = vfs.read_dir(&dir) {
                for e in entries {
                    let n = e.name.to_string_lossy().to_string();
                    if let Some(stem) = n.strip_suffix(SUFFIX) {
                        names.push(stem.to_string());
                    }
                }
            }
            let aliases_path = work.join("aliases.json");
            if names.is_empty() && !is_file(vfs, &aliases_path) {
                return Err(EngineError::bad(
                    "snapshot: neither collections nor aliases.json inside; is this a full snapshot?",
                ));
            }
            names.sort();
            for n in &names {
                self.recover_snapshot(n, &dir.join(format!("{n}{SUFFIX}")), None)?;
            }
            let bytes = match vfs.read(&aliases_path) {
                Ok(bytes) => Some(bytes),
                Err(e) if e.kind() == io::ErrorKind::NotFound => None,
                Err(e) => return Err(io_err(&aliases_path)(e)),
            };
            if let Some(bytes) = bytes {
                let aliases: BTreeMap<String, String> = serde_json::from_slice(&bytes)
                    .map_err(|e| EngineError::bad(format!("snapshot: aliases.json: {e}")))?;
                let actions: Vec<crate::AliasAction> = aliases
                    .into_iter()
                    .filter(|(_, c)| self.collection_exists(c))
                    .map(|(alias, collection)| crate::AliasAction::Create { alias, collection })
                    .collect();
                self.update_aliases(&actions)?;
            }
            Ok(names)
        })();
        let _ = vfs.remove_dir_all(&work);
        result
    }
}

fn remove_snapshot_file(vfs: &dyn Vfs, path: &Path) -> Result<()> {
    vfs.remove_file(path).map_err(io_err(path))?;
    let _ = vfs.remove_file(&checksum_path(path));
    if let Some(dir) = path.parent() {
        rvdb_storage::fsync_dir_in(vfs, dir)?;
    }
    Ok(())
}

impl Collection {
    /// The same collection, detached from its files (for an in-memory database).
    pub(crate) fn into_memory(self) -> Collection {
        let mut c = self;
        c.detach_files();
        c.stop.store(false, Ordering::Relaxed);
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(iso_time(0), "1970-01-01T00:00:00");
        assert_eq!(iso_time(951_782_400), "2000-02-29T00:00:00");
        assert_eq!(iso_time(1_700_000_000), "2023-11-14T22:13:20");
        assert_eq!(iso_time(4_102_444_799), "2099-12-31T23:59:59");
        assert_eq!(name_time(1_700_000_000), "2023-11-14-22-13-20");
        assert_eq!(name_time(253_402_300_799), "9999-12-31-23-59-59");
    }

    #[test]
    fn names_are_plain_snapshot_files() {
        assert!(validate_snapshot_name("a-2024.snapshot").is_ok());
        for bad in ["", "../x.snapshot", "a/b.snapshot", ".x.snapshot", "x.tar"] {
            assert!(validate_snapshot_name(bad).is_err(), "{bad}");
        }
    }
}
