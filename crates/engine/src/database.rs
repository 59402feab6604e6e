//! The database: named collections and their aliases, their directories, the storage lock, and
//! recovery at start (collections open in parallel; one that fails is reported and the others
//! are served); `swap_in` puts a recovered snapshot in place of a collection.
//!
//! Layout under the storage directory (in full: docs/durability.md §2):
//!
//! ```text
//! <storage>/.lock                      held (flock) while a server uses the directory
//! <storage>/aliases.json               {"alias": "collection", …}
//! <storage>/collections/<name>/config.json     vector spaces, settings, payload indexes (JSON)
//! <storage>/collections/<name>/state.bin       which segments, as of a log sequence number
//! <storage>/collections/<name>/segments/<id>/  a sealed segment's files
//! <storage>/collections/<name>/wal/            the write-ahead log past state.bin
//! <storage>/snapshots/                         snapshots (unless storage.snapshots_path is set)
//! ```
//!
//! A collection is created in a hidden temporary directory and renamed into place; it is
//! deleted by renaming it to a hidden name first. Hidden leftovers of a crash are removed at start.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use serde::Serialize;

use rvdb_storage::{atomic_write_in, fsync_dir_in, StorageError, Vfs};
use rvdb_vector::Distance;

use crate::collection::CONFIG_FILE;
use crate::config::StoredConfig;
use crate::{Collection, CollectionConfig, CollectionInfo, EngineError, Result};

/// Where and how the database keeps its data.
#[derive(Debug, Clone)]
pub struct DatabaseOptions {
    /// `None`: memory only. `Some(dir)`: durable, in this directory (created if missing).
    pub storage_path: Option<PathBuf>,
    /// A collection folds its log into a checkpoint once the log exceeds this many bytes
    /// (and the previous checkpoint's size).
    pub checkpoint_wal_bytes: u64,
    /// Where snapshots are written (`None`: `<storage>/snapshots`, or a temporary directory
    /// in memory).
    pub snapshots_path: Option<PathBuf>,
    /// The file system to keep the files on (`None`: the real one, and the storage directory
    /// is locked against other processes; tests pass an in-memory or fault-injecting one).
    pub vfs: Option<Arc<dyn Vfs>>,
    /// Run each collection's optimizer on a background thread (off: call
    /// `Collection::optimize` yourself, as deterministic tests do).
    pub background_optimizer: bool,
}

impl DatabaseOptions {
    pub fn in_memory() -> Self {
        DatabaseOptions {
            storage_path: None,
            checkpoint_wal_bytes: 64 << 20,
            snapshots_path: None,
            vfs: None,
            background_optimizer: true,
        }
    }

    pub fn persistent(dir: impl Into<PathBuf>) -> Self {
        DatabaseOptions {
            storage_path: Some(dir.into()),
            ..Self::in_memory()
        }
    }
}

/// Totals for GET /stats.
#[derive(Debug, Clone, Serialize)]
pub struct DatabaseStats {
    pub collections_count: usize,
    pub total_points: usize,
    /// "memory" or "disk".
    pub storage: &'static str,
    pub storage_path: Option<PathBuf>,
    pub collections: Vec<CollectionSummary>,
}

/// One collection in GET /stats.
#[derive(Debug, Clone, Serialize)]
pub struct CollectionSummary {
    pub name: String,
    /// The distance of the unnamed vector (or of the first named one).
    pub distance: &'static str,
    /// Its dimension, once known.
    pub dim: Option<usize>,
    /// Every vector space: name ("" for the unnamed one), distance, dimension.
    pub vectors: Vec<(String, &'static str, Option<usize>)>,
    pub points_count: usize,
    pub wal_bytes: u64,
    /// Sealed segments plus the appendable one.
    pub segments_count: usize,
    /// "green" or "yellow" (the optimizer has work).
    pub status: &'static str,
    /// Vectors in segments whose HNSW index is built.
    pub indexed_vectors_count: usize,
    /// What went wrong when it was loaded (quarantined segments).
    pub problems: Vec<String>,
}

impl From<CollectionInfo> for CollectionSummary {
    fn from(i: CollectionInfo) -> Self {
        CollectionSummary {
            name: i.name.clone(),
            distance: i.distance().as_str(),
            dim: i.dim(),
            vectors: i
                .config
                .vectors
                .spaces()
                .into_iter()
                .map(|(n, p)| (n.to_string(), p.distance.as_str(), p.size))
                .collect(),
            points_count: i.points_count,
            wal_bytes: i.wal_bytes,
            segments_count: i.segments_count,
            status: i.status,
            indexed_vectors_count: i.indexed_vectors_count,
            problems: i.problems,
        }
    }
}

/// A set of named collections.
pub struct Database {
    options: DatabaseOptions,
    /// `<storage>/collections`, when persistent.
    root: Option<PathBuf>,
    collections: RwLock<BTreeMap<String, Arc<Collection>>>,
    /// Collections whose files could not be loaded, with the reason (their files are kept).
    failed: RwLock<BTreeMap<String, String>>,
    /// Alias → collection name.
    aliases: RwLock<BTreeMap<String, String>>,
    /// Serialises alias changes (and their file).
    alias_writer: Mutex<()>,
    /// Serialises changes to the set of collections and aliases (create, delete, recovery,
    /// alias updates). They do their file work and wait for a closing collection's optimizer
    /// under it; the collections map is locked only to look up and to insert or remove, so
    /// requests to other collections never wait for them.
    structure: Mutex<()>,
    /// Held for the database's lifetime so that two servers never share a directory.
    _lock: Option<File>,
    /// Where the files live.
    pub(crate) vfs: Arc<dyn Vfs>,
}

/// Dropping the database closes its collections: their optimizers stop (a step in progress is
/// waited for) and later writes through a collection handle still held elsewhere are refused.
/// Without this such a handle kept its optimizer running, which could flush into a directory
/// that a database opened afterwards had already loaded.
impl Drop for Database {
    fn drop(&mut self) {
        for c in self.collections.get_mut().values() {
            c.close();
        }
    }
}

const ALIASES_FILE: &str = "aliases.json";

/// One change to the aliases.
#[derive(Debug, Clone, PartialEq)]
pub enum AliasAction {
    Create { alias: String, collection: String },
    Delete { alias: String },
    Rename { old: String, new: String },
}

/// Prefix of a collection directory being replaced by a snapshot recovery:
/// `.replaced-<uuid>-<name>`.
const REPLACED_PREFIX: &str = ".replaced-";

/// The collection a `.replaced-<uuid>-<name>` directory belongs to.
fn replaced_name(dir: &str) -> Option<&str> {
    let rest = dir.strip_prefix(REPLACED_PREFIX)?;
    // a UUID is 36 characters, then `-`
    rest.get(37..)
        .filter(|n| !n.is_empty() && rest.as_bytes()[36] == b'-')
}

/// Longest collection name (a file name on every common file system).
pub const MAX_NAME_LEN: usize = 255;

/// Checks a collection name; the error says what is wrong with it.
pub fn validate_name(name: &str) -> Result<()> {
    let bad = |why: &str| Err(EngineError::bad(format!("collection name `{name}`: {why}")));
    if name.is_empty() {
        return bad("must not be empty");
    }
    if name.len() > MAX_NAME_LEN {
        return bad(&format!("longer than {MAX_NAME_LEN} bytes"));
    }
    if name.starts_with('.') {
        return bad("must not start with `.`");
    }
    if let Some(c) = name.chars().find(|c| {
        matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|') || c.is_control()
    }) {
        return bad(&format!("must not contain {c:?}"));
    }
    Ok(())
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> EngineError + '_ {
    move |source| {
        EngineError::Storage(StorageError::Io {
            path: path.to_path_buf(),
            source,
        })
    }
}

impl Database {
    /// Opens (or creates) a database; with a storage directory, loads every collection in it.
    pub fn open(options: DatabaseOptions) -> Result<Database> {
        let Some(dir) = options.storage_path.clone() else {
            return Ok(Database {
                options,
                root: None,
                collections: RwLock::new(BTreeMap::new()),
                failed: RwLock::new(BTreeMap::new()),
                aliases: RwLock::new(BTreeMap::new()),
                alias_writer: Mutex::new(()),
                structure: Mutex::new(()),
                _lock: None,
                vfs: rvdb_storage::default_vfs(),
            });
        };
        let vfs = options
            .vfs
            .clone()
            .unwrap_or_else(rvdb_storage::default_vfs);
        let v: &dyn Vfs = &*vfs;
        if v.metadata(&dir).is_ok_and(|m| !m.is_dir) {
            return Err(EngineError::StorageUnavailable(format!(
                "storage path {} is a file; it must be a directory (it is created if missing)",
                dir.display()
            )));
        }
        let root = dir.join("collections");
        v.create_dir_all(&root).map_err(io_err(&root))?;
        // the directories may have just been created: make their entries durable
        fsync_dir_in(v, &dir)?;
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            fsync_dir_in(v, parent)?;
        }
        let lock = match options.vfs {
            Some(_) => None,
            None => {
                let lock_path = dir.join(".lock");
                let lock = File::create(&lock_path).map_err(io_err(&lock_path))?;
                if lock.try_lock().is_err() {
                    return Err(EngineError::StorageUnavailable(format!(
                        "storage directory {} is in use by another process",
                        dir.display()
                    )));
                }
                Some(lock)
            }
        };
        let mut entries = v.read_dir(&root).map_err(io_err(&root))?;
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        let mut names = Vec::new();
        for entry in entries {
            let path = root.join(&entry.name);
            let Some(name) = entry.name.to_str().map(str::to_string) else {
                tracing::warn!(path = %path.display(), "skipping a directory whose name is not UTF-8");
                continue;
            };
            if let Some(original) = replaced_name(&name) {
                // a snapshot recovery interrupted between its two renames: the old collection
                // comes back unless the new one made it into place
                if v.exists(&root.join(original)) {
                    v.remove_dir_all(&path).map_err(io_err(&path))?;
                } else {
                    tracing::warn!(collection = original, "a snapshot recovery was interrupted; the collection as it was before is restored");
                    v.rename(&path, &root.join(original))
                        .map_err(io_err(&path))?;
                    names.push((original.to_string(), root.join(original)));
                }
                continue;
            }
            if name.starts_with('.') {
                // a create or delete interrupted by a crash
                tracing::info!(path = %path.display(), "removing leftover of an interrupted operation");
                v.remove_dir_all(&path).map_err(io_err(&path))?;
                continue;
            }
            if entry.is_dir {
                names.push((name, path));
            }
        }
        // collections load side by side; one that cannot be loaded is reported and skipped,
        // the others open
        let opened: Vec<_> = {
            use rayon::prelude::*;
            names
                .par_iter()
                .map(|(name, path)| {
                    Collection::open(name, path, options.checkpoint_wal_bytes, vfs.clone())
                })
                .collect()
        };
        let mut collections = BTreeMap::new();
        let mut failed = BTreeMap::new();
        for ((name, path), c) in names.into_iter().zip(opened) {
            match c {
                Ok(c) => {
                    let c = Arc::new(c);
                    if options.background_optimizer {
                        crate::optimizer::spawn(&c);
                    }
                    collections.insert(name, c);
                }
                Err(e) => {
                    tracing::error!(collection = %name, path = %path.display(), error = %e, "collection could not be loaded; the others are served");
                    failed.insert(name, e.to_string());
                }
            }
        }
        fsync_dir_in(v, &root)?;
        let aliases_path = dir.join(ALIASES_FILE);
        let aliases: BTreeMap<String, String> = match v.read(&aliases_path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| EngineError::Corrupt {
                what: aliases_path.display().to_string(),
                reason: e.to_string(),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(io_err(&aliases_path)(e)),
        };
        tracing::info!(path = %dir.display(), collections = collections.len(), "storage opened");
        let db = Database {
            options,
            root: Some(root),
            collections: RwLock::new(collections),
            failed: RwLock::new(failed),
            aliases: RwLock::new(aliases),
            alias_writer: Mutex::new(()),
            structure: Mutex::new(()),
            _lock: lock,
            vfs,
        };
        crate::snapshot::remove_leftovers(&*db.vfs, &db.snapshots_dir());
        Ok(db)
    }

    /// `<storage>/collections`, when persistent.
    pub(crate) fn root(&self) -> Option<&Path> {
        self.root.as_deref()
    }

    /// Puts a collection staged at `staged` (a directory beside the collections) in place of
    /// collection `name` (if any): the old one is closed and its directory renamed away, the
    /// staged one renamed into place and opened; if that fails, the old one comes back.
    pub(crate) fn swap_in(&self, name: &str, staged: &Path) -> Result<()> {
        let root = self.root.as_ref().expect("a durable database");
        let _s = self.structure.lock();
        if self.aliases.read().contains_key(name) {
            return Err(EngineError::bad(format!(
                "Collection name `{name}` is already used by an alias"
            )));
        }
        let dest = root.join(name);
        // if the process dies between the two renames below, the next start finds no `<name>`
        // but this directory, and renames it back (see `open`)
        let grave = root.join(format!("{REPLACED_PREFIX}{}-{name}", uuid::Uuid::new_v4()));
        let old = self.collections.read().get(name).cloned();
        if let Some(old) = old {
            old.close();
        }
        let v: &dyn Vfs = &*self.vfs;
        let had_dir = v.exists(&dest);
        let reopen_old = || {
            if had_dir {
                if let Ok(c) = self.open_dir(name, &dest) {
                    self.collections.write().insert(name.to_string(), c);
                }
            }
        };
        if had_dir {
            if let Err(e) = v.rename(&dest, &grave) {
                reopen_old();
                return Err(io_err(&dest)(e));
            }
        }
        if let Err(e) = v.rename(staged, &dest) {
            if had_dir {
                let _ = v.rename(&grave, &dest);
            }
            reopen_old();
            return Err(io_err(&dest)(e));
        }
        fsync_dir_in(v, root)?;
        // a segment it cannot read (quarantined at open) fails the swap too: the snapshot was
        // read whole by the caller's trial open, so a copy that is missing points is not served
        let opened = self.open_dir(name, &dest).and_then(|c| {
            let problems = c.problems.lock().clone();
            if problems.is_empty() {
                return Ok(c);
            }
            c.close();
            Err(EngineError::Corrupt {
                what: dest.display().to_string(),
                reason: problems.join("; "),
            })
        });
        match opened {
            Ok(c) => {
                self.collections.write().insert(name.to_string(), c);
                self.failed.write().remove(name);
                if had_dir {
                    if let Err(e) = v.remove_dir_all(&grave) {
                        tracing::warn!(path = %grave.display(), error = %e, "could not remove the replaced collection's files");
                    }
                }
                Ok(())
            }
            Err(e) => {
                // back to the staged name, which the caller removes
                let _ = v.rename(&dest, staged);
                if had_dir {
                    let _ = v.rename(&grave, &dest);
                }
                let _ = fsync_dir_in(v, root);
                reopen_old();
                Err(e)
            }
        }
    }

    /// Opens the collection directory `dir` and starts its optimizer.
    fn open_dir(&self, name: &str, dir: &Path) -> Result<Arc<Collection>> {
        let c = Arc::new(Collection::open(
            name,
            dir,
            self.options.checkpoint_wal_bytes,
            self.vfs.clone(),
        )?);
        if self.options.background_optimizer {
            crate::optimizer::spawn(&c);
        }
        Ok(c)
    }

    /// Removes a collection's directory (if durable): renamed to a hidden name first (the
    /// durable delete), then removed; files that cannot be removed go at the next start.
    fn remove_dir(&self, name: &str) -> Result<()> {
        let Some(root) = &self.root else {
            return Ok(());
        };
        let dir = root.join(name);
        let grave = root.join(format!(".deleted-{}", uuid::Uuid::new_v4()));
        self.vfs.rename(&dir, &grave).map_err(io_err(&dir))?;
        fsync_dir_in(&*self.vfs, root)?;
        if let Err(e) = self.vfs.remove_dir_all(&grave) {
            tracing::warn!(path = %grave.display(), error = %e, "could not remove deleted collection files");
        }
        Ok(())
    }

    /// Puts an in-memory collection in place of collection `name` (if any).
    pub(crate) fn put_collection(&self, name: &str, c: Arc<Collection>) -> Result<()> {
        let _s = self.structure.lock();
        if self.aliases.read().contains_key(name) {
            return Err(EngineError::bad(format!(
                "Collection name `{name}` is already used by an alias"
            )));
        }
        let old = self.collections.read().get(name).cloned();
        if let Some(old) = old {
            old.close();
        }
        if self.options.background_optimizer {
            crate::optimizer::spawn(&c);
        }
        self.collections.write().insert(name.to_string(), c);
        Ok(())
    }

    /// The options the database was opened with.
    pub fn options(&self) -> &DatabaseOptions {
        &self.options
    }

    /// Creates a collection; `AlreadyExists` if the name is taken.
    pub fn create_collection(&self, name: &str, config: CollectionConfig) -> Result<()> {
        validate_name(name)?;
        for (space, p) in &config.sparse_vectors {
            p.check_datatype(&format!("sparse_vectors.{space}.index.datatype"))?;
        }
        for (space, p) in config.vectors.spaces() {
            let at = |field: &str| {
                if space.is_empty() {
                    format!("vectors.{field}")
                } else {
                    format!("vectors.{space}.{field}")
                }
            };
            p.check_datatype(&at("datatype"))?;
            p.check_quantization(&at("quantization_config"))?;
            p.check_memory(&at("memory"))?;
            if let Some(d) = p.size {
                if d == 0 || d > crate::collection::MAX_DIM {
                    let at = if space.is_empty() {
                        "vectors.size".to_string()
                    } else {
                        format!("vectors.{space}.size")
                    };
                    return Err(EngineError::bad(format!(
                        "{at}: must be between 1 and {}, got {d}",
                        crate::collection::MAX_DIM
                    )));
                }
            }
        }
        let _s = self.structure.lock();
        if self.collections.read().contains_key(name) || self.failed.read().contains_key(name) {
            return Err(EngineError::AlreadyExists(name.to_string()));
        }
        if self.aliases.read().contains_key(name) {
            return Err(EngineError::bad(format!(
                "Collection name `{name}` is already used by an alias"
            )));
        }
        let distance = config
            .vectors
            .spaces()
            .first()
            .map_or(Distance::Dot, |(_, p)| p.distance);
        let c = match &self.root {
            None => {
                let c = Arc::new(Collection::in_memory(name, config));
                if self.options.background_optimizer {
                    crate::optimizer::spawn(&c);
                }
                c
            }
            Some(root) => {
                let tmp = root.join(format!(".tmp-{}", uuid::Uuid::new_v4()));
                let build = || -> Result<()> {
                    let v: &dyn Vfs = &*self.vfs;
                    v.create_dir_all(&tmp).map_err(io_err(&tmp))?;
                    let stored = StoredConfig {
                        config: config.clone(),
                        payload_schema: BTreeMap::new(),
                    };
                    atomic_write_in(v, &tmp.join(CONFIG_FILE), &stored.to_bytes())?;
                    fsync_dir_in(v, &tmp)?;
                    let dest = root.join(name);
                    v.rename(&tmp, &dest).map_err(io_err(&dest))?;
                    fsync_dir_in(v, root)?;
                    Ok(())
                };
                if let Err(e) = build() {
                    let _ = self.vfs.remove_dir_all(&tmp);
                    return Err(e);
                }
                self.open_dir(name, &root.join(name))?
            }
        };
        self.collections.write().insert(name.to_string(), c);
        tracing::info!(
            collection = name,
            distance = distance.as_str(),
            "collection created"
        );
        Ok(())
    }

    /// Deletes a collection and its files; returns whether it existed.
    pub fn delete_collection(&self, name: &str) -> Result<bool> {
        let s = self.structure.lock();
        let found = self.collections.read().get(name).cloned();
        let Some(c) = found else {
            // one that could not be loaded can be deleted (its files go)
            if self.failed.read().contains_key(name) {
                self.remove_dir(name)?;
                self.failed.write().remove(name);
                return Ok(true);
            }
            return Ok(false);
        };
        // wait for a running optimizer step or flush, then refuse further writes, so that
        // nothing writes into the directory once it is gone (or reused by a new collection)
        c.close();
        self.remove_dir(name)?;
        self.collections.write().remove(name);
        drop(s);
        // its aliases go with it
        let _g = self.alias_writer.lock();
        let mut aliases = self.aliases.read().clone();
        let before = aliases.len();
        aliases.retain(|_, c| c != name);
        if aliases.len() != before {
            self.store_aliases(&aliases)?;
            *self.aliases.write() = aliases;
        }
        tracing::info!(collection = name, "collection deleted");
        Ok(true)
    }

    /// A collection by name or alias.
    pub fn collection(&self, name: &str) -> Result<Arc<Collection>> {
        let map = self.collections.read();
        if let Some(c) = map.get(name) {
            return Ok(c.clone());
        }
        if let Some(c) = self
            .aliases
            .read()
            .get(name)
            .and_then(|target| map.get(target).cloned())
        {
            return Ok(c);
        }
        match self.failed.read().get(name) {
            Some(why) => Err(EngineError::StorageUnavailable(format!(
                "Service internal error: collection `{name}` could not be loaded: {why}"
            ))),
            None => Err(EngineError::CollectionNotFound(name.to_string())),
        }
    }

    /// Collections that could not be loaded at start, with the reason.
    pub fn failed_collections(&self) -> Vec<(String, String)> {
        self.failed
            .read()
            .iter()
            .map(|(n, w)| (n.clone(), w.clone()))
            .collect()
    }

    /// Whether a collection (not an alias) of this name exists.
    pub fn collection_exists(&self, name: &str) -> bool {
        self.collections.read().contains_key(name)
    }

    /// Every alias with its collection, sorted by alias.
    pub fn aliases(&self) -> Vec<(String, String)> {
        self.aliases
            .read()
            .iter()
            .map(|(a, c)| (a.clone(), c.clone()))
            .collect()
    }

    /// Applies alias changes all together, or none of them.
    pub fn update_aliases(&self, actions: &[AliasAction]) -> Result<()> {
        let _s = self.structure.lock();
        let _g = self.alias_writer.lock();
        let mut aliases = self.aliases.read().clone();
        let collections = self.collections.read();
        for action in actions {
            match action {
                AliasAction::Create { alias, collection } => {
                    validate_name(alias)?;
                    if !collections.contains_key(collection) {
                        return Err(EngineError::CollectionNotFound(collection.clone()));
                    }
                    if collections.contains_key(alias) {
                        return Err(EngineError::bad(format!(
                            "Alias name `{alias}` is already used by a collection"
                        )));
                    }
                    // creating an existing alias re-points it (Qdrant's semantics)
                    aliases.insert(alias.clone(), collection.clone());
                }
                AliasAction::Delete { alias } => {
                    if aliases.remove(alias).is_none() {
                        return Err(EngineError::AliasNotFound(alias.clone()));
                    }
                }
                AliasAction::Rename { old, new } => {
                    validate_name(new)?;
                    let target = aliases
                        .remove(old)
                        .ok_or_else(|| EngineError::AliasNotFound(old.clone()))?;
                    if collections.contains_key(new) {
                        return Err(EngineError::bad(format!(
                            "Alias name `{new}` is already used by a collection"
                        )));
                    }
                    aliases.insert(new.clone(), target);
                }
            }
        }
        drop(collections);
        self.store_aliases(&aliases)?;
        *self.aliases.write() = aliases;
        Ok(())
    }

    fn store_aliases(&self, aliases: &BTreeMap<String, String>) -> Result<()> {
        if let Some(dir) = &self.options.storage_path {
            let bytes = serde_json::to_vec_pretty(aliases).expect("aliases serialize");
            atomic_write_in(&*self.vfs, &dir.join(ALIASES_FILE), &bytes)?;
        }
        Ok(())
    }

    /// Collection names, sorted.
    pub fn collection_names(&self) -> Vec<String> {
        self.collections.read().keys().cloned().collect()
    }

    /// Totals over all collections.
    pub fn stats(&self) -> DatabaseStats {
        let all: Vec<Arc<Collection>> = self.collections.read().values().cloned().collect();
        let collections: Vec<CollectionSummary> = all.iter().map(|c| c.info().into()).collect();
        DatabaseStats {
            collections_count: collections.len(),
            total_points: collections.iter().map(|c| c.points_count).sum(),
            storage: if self.root.is_some() {
                "disk"
            } else {
                "memory"
            },
            storage_path: self.options.storage_path.clone(),
            collections,
        }
    }
}
