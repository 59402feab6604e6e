//! Global resource quotas (Qdrant's `/quotas`): limits on the process's resident memory and
//! on the storage file system's fill level, past which updates that add data are refused
//! (the API answers 507) until usage falls `release_margin_percent` points below the limit.
//!
//! The configuration is persisted in `<storage>/quota.json` (written atomically before it takes
//! effect) and read at start; in memory it lasts as long as the process. Usage is measured on
//! each check: resident memory from `/proc/self/statm` against the cgroup memory limit when one
//! applies, else `MemTotal`; disk from `statvfs` of the storage directory (none in memory).
//! Where a number cannot be read it is `None` and its limit is not enforced.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;
use rvdb_storage::Vfs;

use crate::{Database, EngineError, Result};

/// The quota file, at the root of the storage directory.
pub const QUOTA_FILE: &str = "quota.json";
/// `release_margin_percent` when unset.
pub const DEFAULT_RELEASE_MARGIN: u8 = 5;

/// Limits on node resources; an unset limit leaves that resource uncapped, and nothing is
/// enforced while `enabled` is false.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct QuotaConfig {
    #[serde(default)]
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_resident_memory_percent: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_disk_usage_percent: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_margin_percent: Option<u8>,
}

impl QuotaConfig {
    /// Checks the ranges: limits 1–100, the margin 0–100.
    pub fn validate(&self) -> Result<()> {
        let check = |field: &str, v: Option<u8>, min: u8| match v {
            Some(p) if p < min || p > 100 => Err(EngineError::Invalid {
                field: field.to_string(),
                problem: format!("value {p} invalid, must be from {min} to 100"),
            }),
            _ => Ok(()),
        };
        check(
            "max_resident_memory_percent",
            self.max_resident_memory_percent,
            1,
        )?;
        check("max_disk_usage_percent", self.max_disk_usage_percent, 1)?;
        check("release_margin_percent", self.release_margin_percent, 0)
    }
}

/// Usage of the quota-managed resources on this node, in percent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QuotaUsage {
    pub resident_memory_percent: Option<u8>,
    pub disk_usage_percent: Option<u8>,
}

/// A limit that has tripped and not yet been released.
#[derive(Debug, Default)]
struct Tripped {
    memory: bool,
    disk: bool,
}

/// The quota in force, its file and what has tripped.
pub struct Quotas {
    vfs: Arc<dyn Vfs>,
    /// `<storage>/quota.json`; `None` in memory.
    file: Option<PathBuf>,
    /// The storage directory, whose file system the disk limit is about.
    storage: Option<PathBuf>,
    state: Mutex<(QuotaConfig, Tripped)>,
}

impl Database {
    /// The quotas of this database: the persisted configuration if there is one, else
    /// disabled. A quota file that cannot be read is an error (it must not silently turn
    /// into "no limits").
    pub fn open_quotas(&self) -> Result<Quotas> {
        let storage = self.options().storage_path.clone();
        let file = storage.as_ref().map(|s| s.join(QUOTA_FILE));
        let mut config = QuotaConfig::default();
        if let Some(path) = &file {
            match self.vfs.read(path) {
                Ok(bytes) => {
                    config = serde_json::from_slice(&bytes).map_err(|e| EngineError::Corrupt {
                        what: path.display().to_string(),
                        reason: format!("quota config: {e}"),
                    })?;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(EngineError::Storage(rvdb_storage::StorageError::Io {
                        path: path.clone(),
                        source: e,
                    }))
                }
            }
        }
        Ok(Quotas {
            vfs: self.vfs.clone(),
            file,
            storage,
            state: Mutex::new((config, Tripped::default())),
        })
    }
}

impl Database {
    /// [`Database::open_quotas`], or when the quota file cannot be read, quotas disabled that
    /// PUT /quotas can replace (the file is rewritten then); the problem is logged. The server
    /// uses this (its router cannot fail to start; Qdrant refuses to start instead).
    pub fn open_quotas_or_disabled(&self) -> Quotas {
        self.open_quotas().unwrap_or_else(|e| {
            tracing::error!(error = %e, "the quota config cannot be read; quotas are not enforced until PUT /quotas replaces it");
            let storage = self.options().storage_path.clone();
            Quotas {
                vfs: self.vfs.clone(),
                file: storage.as_ref().map(|s| s.join(QUOTA_FILE)),
                storage,
                state: Mutex::new((QuotaConfig::default(), Tripped::default())),
            }
        })
    }
}

impl Quotas {
    pub fn config(&self) -> QuotaConfig {
        self.state.lock().0
    }

    /// Persists `config` (when the database has a directory), then enforces it; a tripped
    /// limit is cleared.
    pub fn set_config(&self, config: QuotaConfig) -> Result<()> {
        config.validate()?;
        let mut state = self.state.lock();
        if let Some(path) = &self.file {
            let bytes = serde_json::to_vec_pretty(&config).expect("a quota config serializes");
            rvdb_storage::atomic_write_in(&*self.vfs, path, &bytes)?;
        }
        *state = (config, Tripped::default());
        tracing::info!(?config, "quota config changed");
        Ok(())
    }

    /// Current usage.
    pub fn usage(&self) -> QuotaUsage {
        QuotaUsage {
            resident_memory_percent: resident_memory_percent(),
            disk_usage_percent: self.storage.as_deref().and_then(disk_usage_percent),
        }
    }

    /// Whether each enforced limit is tripped now (measuring usage), by resource (`memory`,
    /// `disk`): none while the quota is disabled or for a resource without a limit.
    pub fn exceeded(&self) -> Vec<(&'static str, bool)> {
        self.judge_all()
            .into_iter()
            .map(|(resource, verdict)| (resource, verdict.is_err()))
            .collect()
    }

    /// `Ok` when an update that adds data may go ahead; else why not, in Qdrant's words.
    pub fn check_update(&self) -> std::result::Result<(), String> {
        self.judge_all()
            .into_iter()
            .try_for_each(|(_, verdict)| verdict)
    }

    /// The verdict on each resource that has a limit in force.
    fn judge_all(&self) -> Vec<(&'static str, std::result::Result<(), String>)> {
        let config = self.state.lock().0;
        if !config.enabled {
            return Vec::new();
        }
        let usage = self.usage();
        let margin = config
            .release_margin_percent
            .unwrap_or(DEFAULT_RELEASE_MARGIN);
        let mut state = self.state.lock();
        if state.0 != config {
            // changed meanwhile: judged by the new one next time
            return Vec::new();
        }
        let mut out = Vec::new();
        if config.max_resident_memory_percent.is_some() {
            let verdict = judge(
                &mut state.1.memory,
                usage.resident_memory_percent,
                config.max_resident_memory_percent,
                margin,
                "Resident memory usage",
                "total memory",
                "Reduce memory usage (e.g. delete points or drop collections)",
                "max_resident_memory_percent",
            );
            out.push(("memory", verdict));
        }
        if config.max_disk_usage_percent.is_some() {
            let verdict = judge(
                &mut state.1.disk,
                usage.disk_usage_percent,
                config.max_disk_usage_percent,
                margin,
                "Disk usage",
                "total capacity",
                "Reduce disk usage (e.g. delete points or drop collections)",
                "max_disk_usage_percent",
            );
            out.push(("disk", verdict));
        }
        out
    }
}

/// Applies one limit with its release margin; `tripped` remembers a limit reached until usage
/// falls below `limit - margin`.
#[allow(clippy::too_many_arguments)]
fn judge(
    tripped: &mut bool,
    used: Option<u8>,
    limit: Option<u8>,
    margin: u8,
    what: &str,
    of: &str,
    remedy: &str,
    parameter: &str,
) -> std::result::Result<(), String> {
    let (Some(used), Some(limit)) = (used, limit) else {
        *tripped = false;
        return Ok(());
    };
    let release = limit.saturating_sub(margin);
    if used >= limit {
        *tripped = true;
        return Err(format!(
            "{what} is at {used}% of {of}, exceeding the configured limit of {limit}%. \
             Help: {remedy}, or raise `{parameter}` in the global quota config."
        ));
    }
    if *tripped && used >= release {
        return Err(format!(
            "{what} is at {used}% of {of}. It reached the configured limit of {limit}% and has \
             to fall below {release}% before this node takes writes again. Help: {remedy}, or \
             raise `{parameter}` in the global quota config."
        ));
    }
    *tripped = false;
    Ok(())
}

/// `used` as a percentage of `total` (clamped to 100; `None` for a zero total).
fn percent_of(used: u64, total: u64) -> Option<u8> {
    (total > 0).then(|| (used.saturating_mul(100) / total).min(100) as u8)
}

/// The process's resident memory as a percentage of the memory available to it.
fn resident_memory_percent() -> Option<u8> {
    percent_of(resident_bytes()?, memory_limit_bytes()?)
}

#[cfg(target_os = "linux")]
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf only reads a system setting.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    (page > 0).then(|| pages * page as u64)
}

#[cfg(not(target_os = "linux"))]
fn resident_bytes() -> Option<u64> {
    None
}

/// The cgroup memory limit if one applies (v2, then v1), else the total memory.
#[cfg(target_os = "linux")]
fn memory_limit_bytes() -> Option<u64> {
    let total = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        let line = m.lines().find(|l| l.starts_with("MemTotal:"))?;
        let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb * 1024)
    });
    let cgroup = [
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ]
    .iter()
    .find_map(|p| std::fs::read_to_string(p).ok()?.trim().parse::<u64>().ok());
    match (cgroup, total) {
        (Some(c), Some(t)) => Some(c.min(t)),
        (c, t) => c.or(t),
    }
}

#[cfg(not(target_os = "linux"))]
fn memory_limit_bytes() -> Option<u64> {
    None
}

/// How full the file system holding `dir` is (space used of its capacity).
#[cfg(unix)]
fn disk_usage_percent(dir: &Path) -> Option<u8> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: `c` is a valid NUL-terminated path and `st` a zeroed out-parameter.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    let frsize = st.f_frsize as u64;
    let total = st.f_blocks as u64 * frsize;
    let available = st.f_bavail as u64 * frsize;
    percent_of(total.saturating_sub(available), total)
}

#[cfg(not(unix))]
fn disk_usage_percent(_dir: &Path) -> Option<u8> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limit_trips_at_the_limit_and_releases_below_the_margin() {
        let mut tripped = false;
        let j = |t: &mut bool, used| {
            judge(
                t,
                Some(used),
                Some(90),
                5,
                "Disk usage",
                "total capacity",
                "Reduce",
                "max_disk_usage_percent",
            )
        };
        assert!(j(&mut tripped, 89).is_ok());
        let e = j(&mut tripped, 90).unwrap_err();
        assert!(
            e.starts_with(
                "Disk usage is at 90% of total capacity, exceeding the configured limit of 90%"
            ),
            "{e}"
        );
        let e = j(&mut tripped, 87).unwrap_err();
        assert!(e.contains("has to fall below 85%"), "{e}");
        assert!(j(&mut tripped, 84).is_ok());
        assert!(
            j(&mut tripped, 87).is_ok(),
            "released: only the limit trips it again"
        );
        // an unreadable number or no limit enforces nothing
        assert!(judge(&mut tripped, None, Some(1), 5, "", "", "", "").is_ok());
        assert!(judge(&mut tripped, Some(100), None, 5, "", "", "", "").is_ok());
    }

    #[test]
    fn ranges_are_checked() {
        let ok = QuotaConfig {
            enabled: true,
            max_resident_memory_percent: Some(100),
            max_disk_usage_percent: Some(1),
            release_margin_percent: Some(0),
        };
        assert!(ok.validate().is_ok());
        for bad in [
            QuotaConfig {
                max_disk_usage_percent: Some(0),
                ..ok
            },
            QuotaConfig {
                max_resident_memory_percent: Some(101),
                ..ok
            },
            QuotaConfig {
                release_margin_percent: Some(101),
                ..ok
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn usage_is_measured_here() {
        assert!(percent_of(1, 0).is_none());
        assert_eq!(percent_of(50, 200), Some(25));
        assert_eq!(percent_of(300, 200), Some(100));
        #[cfg(target_os = "linux")]
        {
            assert!(resident_memory_percent().is_some());
            assert!(disk_usage_percent(&std::env::temp_dir()).is_some());
        }
    }

    #[test]
    fn the_config_persists_and_a_bad_file_is_an_error() {
        let dir = std::env::temp_dir().join(format!("rvdb-quota-{}", uuid::Uuid::new_v4()));
        let db = Database::open(crate::DatabaseOptions::persistent(&dir)).unwrap();
        let q = db.open_quotas().unwrap();
        assert_eq!(q.config(), QuotaConfig::default());
        let c = QuotaConfig {
            enabled: true,
            max_disk_usage_percent: Some(100),
            ..Default::default()
        };
        q.set_config(c).unwrap();
        assert_eq!(db.open_quotas().unwrap().config(), c);
        // 100% is only reached by a full disk
        assert!(q.check_update().is_ok());
        assert_eq!(q.exceeded(), vec![("disk", false)]);
        q.set_config(QuotaConfig {
            max_disk_usage_percent: Some(1),
            ..c
        })
        .unwrap();
        assert_eq!(q.exceeded(), vec![("disk", true)]);
        assert!(q
            .check_update()
            .unwrap_err()
            .starts_with("Disk usage is at "));
        q.set_config(QuotaConfig::default()).unwrap();
        assert!(q.exceeded().is_empty());
        std::fs::write(dir.join(QUOTA_FILE), b"{nope").unwrap();
        assert!(db.open_quotas().is_err());
        let fallback = db.open_quotas_or_disabled();
        assert_eq!(fallback.config(), QuotaConfig::default());
        fallback.set_config(c).unwrap();
        assert_eq!(
            db.open_quotas().unwrap().config(),
            c,
            "PUT repairs the file"
        );
        drop(db);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
