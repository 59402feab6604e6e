//! Server settings, from lowest to highest precedence:
//!
//! 1. built-in defaults;
//! 2. a YAML config file (`--config FILE` or `RVDB_CONFIG`), in Qdrant's layout
//!    (`service.http_port`, `storage.storage_path`, …);
//! 3. `RVDB__SECTION__KEY` environment variables (`RVDB__SERVICE__HTTP_PORT=6334`);
//! 4. the seed's variables `HOST`, `PORT`, `STORAGE_PATH` (and `RVDB_MAX_BODY_BYTES`, `RUST_LOG`);
//! 5. command-line flags.
//!
//! A bad value or an unknown key stops the server at start with a message that names the
//! setting (`invalid config: service.http_port: …`). Key values never appear in messages, nor in
//! `--print-config`, which prints the effective settings.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;
use config::{Environment, File, FileFormat, Value, ValueKind};
use serde_json::json;

/// Options of `rustvecdb serve` (and of `rustvecdb` with no subcommand).
#[derive(Clone, Args)]
pub struct ServeArgs {
    /// YAML config file, in Qdrant's layout (service.host, service.http_port, service.api_key,
    /// storage.storage_path, …). Unset: no file.
    #[arg(long, env = "RVDB_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1].
    #[arg(long, env = "HOST")]
    pub host: Option<String>,
    /// Port to listen on; 0 picks a free one (the address is printed on stdout) [default: 6333].
    #[arg(long, env = "PORT")]
    pub port: Option<u16>,
    /// Directory for durable storage (created if missing). Unset: everything stays in memory.
    #[arg(long, env = "STORAGE_PATH")]
    pub storage_path: Option<PathBuf>,
    /// Largest request body accepted, in bytes [default: 33554432, i.e.
    /// service.max_request_size_mb = 32].
    #[arg(long, env = "RVDB_MAX_BODY_BYTES")]
    pub max_body_bytes: Option<usize>,
    /// Log filter, e.g. info, debug, rvdb_engine=debug (RUST_LOG syntax) [default: info].
    #[arg(long = "log", env = "RUST_LOG")]
    pub log: Option<String>,
    /// Read-write API key. Prefer the config file or RVDB__SERVICE__API_KEY: flags are visible
    /// to other users in `ps`.
    #[arg(long, value_name = "KEY")]
    pub api_key: Option<String>,
    /// Read-only API key (reads and searches only).
    #[arg(long, value_name = "KEY")]
    pub read_only_api_key: Option<String>,
    /// Answer 408 to requests that take longer than this; 0: no limit [default: 0].
    #[arg(long, value_name = "SECS")]
    pub request_timeout_secs: Option<u64>,
    /// Serve HTTPS (needs a certificate and a key: --tls-cert/--tls-key or tls.cert/tls.key).
    #[arg(long)]
    pub enable_tls: bool,
    /// PEM certificate chain for HTTPS (tls.cert).
    #[arg(long, value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for HTTPS (tls.key).
    #[arg(long, value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// Search worker threads (reads run on them, one request each at a time); 0: one per core
    /// (performance.max_search_threads) [default: 0].
    #[arg(long, value_name = "N")]
    pub search_threads: Option<usize>,
    /// Reads that may wait for a search worker; past that a read is answered 503 at once
    /// (performance.search_queue_size) [default: 1024].
    #[arg(long, value_name = "N")]
    pub search_queue: Option<usize>,
    /// How long a request that arrives while the collections load waits for them before it is
    /// answered 503 (service.loading_wait_secs) [default: 60].
    #[arg(long, value_name = "SECS")]
    pub loading_wait_secs: Option<u64>,
    /// Print the effective settings as JSON (keys redacted) and exit.
    #[arg(long)]
    pub print_config: bool,
}

/// The effective settings.
#[derive(Clone)]
pub struct Settings {
    pub config_file: Option<PathBuf>,
    pub host: String,
    pub http_port: u16,
    pub api_key: Option<String>,
    pub read_only_api_key: Option<String>,
    pub max_body_bytes: usize,
    /// 0: no limit.
    pub request_timeout_secs: u64,
    pub enable_cors: bool,
    /// Empty: any origin (when CORS is on).
    pub cors_allowed_origins: Vec<String>,
    pub enable_tls: bool,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub storage_path: Option<PathBuf>,
    /// Where snapshots are written (unset: `<storage_path>/snapshots`, or a temporary
    /// directory in memory).
    pub snapshots_path: Option<PathBuf>,
    pub log_level: String,
    /// 0: one per core.
    pub search_threads: usize,
    pub search_queue: usize,
    pub loading_wait_secs: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            config_file: None,
            host: "127.0.0.1".into(),
            http_port: 6333,
            api_key: None,
            read_only_api_key: None,
            max_body_bytes: 32 << 20,
            request_timeout_secs: 0,
            enable_cors: true,
            cors_allowed_origins: Vec::new(),
            enable_tls: false,
            tls_cert: None,
            tls_key: None,
            storage_path: None,
            snapshots_path: None,
            log_level: "info".into(),
            search_threads: 0,
            search_queue: 1024,
            loading_wait_secs: 60,
        }
    }
}

/// Every setting the file and `RVDB__…` variables may hold.
const KEYS: [&str; 17] = [
    "log_level",
    "performance.max_search_threads",
    "performance.search_queue_size",
    "service.api_key",
    "service.cors_allowed_origins",
    "service.enable_cors",
    "service.enable_tls",
    "service.host",
    "service.http_port",
    "service.loading_wait_secs",
    "service.max_request_size_mb",
    "service.read_only_api_key",
    "service.request_timeout_secs",
    "storage.snapshots_path",
    "storage.storage_path",
    "tls.cert",
    "tls.key",
];

const ENV_PREFIX: &str = "RVDB";

/// The `RVDB__…` variable that sets a dotted key.
fn env_name(key: &str) -> String {
    format!("{ENV_PREFIX}__{}", key.to_uppercase().replace('.', "__"))
}

/// What messages about values need: the file being read.
struct Ctx {
    file: Option<PathBuf>,
}

impl Ctx {
    /// Where a value came from: the variable's name or the file's path (the config crate's
    /// own origin for a file is a path relative to the working directory).
    fn origin(&self, key: &str, v: &Value) -> String {
        match (v.origin(), &self.file) {
            (Some("the environment"), _) | (_, None) => format!("from {}", env_name(key)),
            (_, Some(f)) => format!("in {}", f.display()),
        }
    }

    fn invalid(&self, key: &str, v: &Value, why: impl std::fmt::Display) -> anyhow::Error {
        anyhow::anyhow!("invalid config: {key}: {why} ({})", self.origin(key, v))
    }
}

/// Flattens the merged tree into (dotted key, leaf value), refusing unknown keys.
fn flatten(
    cx: &Ctx,

    prefix: &str,
    table: config::Map<String, Value>,
    out: &mut Vec<(String, Value)>,
) -> anyhow::Result<()> {
    for (k, v) in table {
        let key = if prefix.is_empty() {
            k
        } else {
            format!("{prefix}.{k}")
        };
        if KEYS.contains(&key.as_str()) {
            out.push((key, v));
            continue;
        }
        let section = KEYS
            .iter()
            .any(|known| known.starts_with(&format!("{key}.")));
        match v.kind {
            ValueKind::Table(t) if section => flatten(cx, &key, t, out)?,
            ValueKind::Nil if section => {}
            _ if section => {
                return Err(cx.invalid(
                    &key,
                    &v,
                    "expected a mapping of settings (e.g. `service:` with indented keys)",
                ))
            }
            _ => {
                let near: Vec<&str> = KEYS
                    .iter()
                    .filter(|known| {
                        known.starts_with(&format!("{}.", key.split('.').next().unwrap_or("")))
                    })
                    .copied()
                    .collect();
                let hint = if near.is_empty() {
                    format!("known settings: {}", KEYS.join(", "))
                } else {
                    format!("known here: {}", near.join(", "))
                };
                return Err(cx.invalid(&key, &v, format!("unknown setting; {hint}")));
            }
        }
    }
    Ok(())
}

/// A scalar as text (numbers and booleans too: an env variable's `12345` is a string here,
/// but YAML reads `api_key: 12345` as a number). `secret`: never echo the value.
fn text(cx: &Ctx, key: &str, v: &Value) -> anyhow::Result<Option<String>> {
    Ok(match &v.kind {
        ValueKind::Nil => None,
        ValueKind::String(s) => Some(s.clone()),
        ValueKind::Boolean(b) => Some(b.to_string()),
        ValueKind::I64(n) => Some(n.to_string()),
        ValueKind::I128(n) => Some(n.to_string()),
        ValueKind::U64(n) => Some(n.to_string()),
        ValueKind::U128(n) => Some(n.to_string()),
        ValueKind::Float(f) => Some(f.to_string()),
        ValueKind::Table(_) | ValueKind::Array(_) => {
            return Err(cx.invalid(key, v, "expected a single value, not a list or mapping"))
        }
    })
}

/// A whole number ≥ 0 (`secret` values are not echoed).
fn whole(cx: &Ctx, key: &str, v: &Value) -> anyhow::Result<Option<u64>> {
    let n: i128 = match &v.kind {
        ValueKind::Nil => return Ok(None),
        ValueKind::I64(n) => i128::from(*n),
        ValueKind::I128(n) => *n,
        ValueKind::U64(n) => i128::from(*n),
        ValueKind::U128(n) => i128::try_from(*n).unwrap_or(i128::MAX),
        ValueKind::String(s) => s
            .trim()
            .parse::<i128>()
            .map_err(|_| cx.invalid(key, v, format!("expected a whole number, got `{s}`")))?,
        ValueKind::Float(f) => {
            return Err(cx.invalid(key, v, format!("expected a whole number, got {f}")))
        }
        _ => return Err(cx.invalid(key, v, "expected a whole number")),
    };
    if n < 0 {
        return Err(cx.invalid(key, v, format!("must not be negative, got {n}")));
    }
    u64::try_from(n)
        .map(Some)
        .map_err(|_| cx.invalid(key, v, format!("{n} is too large")))
}

fn boolean(cx: &Ctx, key: &str, v: &Value) -> anyhow::Result<Option<bool>> {
    match &v.kind {
        ValueKind::Nil => Ok(None),
        ValueKind::Boolean(b) => Ok(Some(*b)),
        ValueKind::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(Some(true)),
            "false" => Ok(Some(false)),
            _ => Err(cx.invalid(key, v, format!("expected true or false, got `{s}`"))),
        },
        _ => Err(cx.invalid(key, v, "expected true or false")),
    }
}

/// A list of strings, or one string of comma-separated items (as an env variable gives).
fn list(cx: &Ctx, key: &str, v: &Value) -> anyhow::Result<Option<Vec<String>>> {
    match &v.kind {
        ValueKind::Nil => Ok(None),
        ValueKind::Array(items) => items
            .iter()
            .map(|i| {
                text(cx, key, i)?.ok_or_else(|| cx.invalid(key, v, "a list item is empty (null)"))
            })
            .collect::<anyhow::Result<Vec<_>>>()
            .map(Some),
        ValueKind::String(s) => Ok(Some(
            s.split(',')
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty())
                .collect(),
        )),
        _ => Err(cx.invalid(key, v, "expected a list of strings")),
    }
}

/// Non-empty text or unset (an empty `api_key: ""` means no key, as unset does).
fn nonempty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.trim().is_empty())
}

impl Settings {
    /// Reads the file and the environment, applies the flags, and checks the result.
    pub fn load(args: &ServeArgs) -> anyhow::Result<Settings> {
        let mut s = Settings::default();
        let mut builder = config::Config::builder();
        if let Some(path) = args.config.as_ref().filter(|p| !p.as_os_str().is_empty()) {
            let text = std::fs::read_to_string(path).with_context(|| {
                format!(
                    "invalid config: --config / RVDB_CONFIG: cannot read {}",
                    path.display()
                )
            })?;
            // Parse it alone first, so that a syntax error names the file.
            config::Config::builder()
                .add_source(File::from_str(&text, FileFormat::Yaml))
                .build()
                .map_err(|e| anyhow::anyhow!("invalid config: {}: {e}", path.display()))?;
            builder = builder.add_source(File::from_str(&text, FileFormat::Yaml));
            s.config_file = Some(path.clone());
        }
        let cx = &Ctx {
            file: s.config_file.clone(),
        };
        builder = builder.add_source(
            Environment::with_prefix(ENV_PREFIX)
                .prefix_separator("__")
                .separator("__"),
        );
        let merged = match builder
            .build()
            .map_err(|e| anyhow::anyhow!("invalid config: {e}"))?
            .cache
            .kind
        {
            ValueKind::Table(t) => t,
            ValueKind::Nil => config::Map::new(),
            _ => bail!(
                "invalid config: the file must hold a mapping of settings (service:, storage:, …)"
            ),
        };
        let mut leaves = Vec::new();
        flatten(cx, "", merged, &mut leaves)?;
        for (key, v) in &leaves {
            let key = key.as_str();
            match key {
                "log_level" => {
                    if let Some(t) = nonempty(text(cx, key, v)?) {
                        s.log_level = t;
                    }
                }
                "service.host" => {
                    if let Some(t) = text(cx, key, v)? {
                        if t.trim().is_empty() {
                            return Err(cx.invalid(key, v, "must not be empty"));
                        }
                        s.host = t;
                    }
                }
                "service.http_port" => {
                    if let Some(n) = whole(cx, key, v)? {
                        s.http_port = u16::try_from(n).map_err(|_| {
                            cx.invalid(key, v, format!("a port is 0..=65535, got {n}"))
                        })?;
                    }
                }
                "service.api_key" => {
                    s.api_key = nonempty(secret_text(cx, key, v)?);
                }
                "service.read_only_api_key" => {
                    s.read_only_api_key = nonempty(secret_text(cx, key, v)?);
                }
                "service.max_request_size_mb" => {
                    if let Some(n) = whole(cx, key, v)? {
                        if n == 0 {
                            return Err(cx.invalid(key, v, "must be at least 1"));
                        }
                        s.max_body_bytes = usize::try_from(n)
                            .ok()
                            .and_then(|n| n.checked_mul(1 << 20))
                            .ok_or_else(|| cx.invalid(key, v, format!("{n} MB is too large")))?;
                    }
                }
                "performance.max_search_threads" => {
                    if let Some(n) = whole(cx, key, v)? {
                        s.search_threads = usize::try_from(n)
                            .ok()
                            .filter(|&n| n <= 1024)
                            .ok_or_else(|| cx.invalid(key, v, "at most 1024 threads"))?;
                    }
                }
                "performance.search_queue_size" => {
                    if let Some(n) = whole(cx, key, v)? {
                        s.search_queue = usize::try_from(n)
                            .ok()
                            .filter(|&n| n <= 1 << 20)
                            .ok_or_else(|| cx.invalid(key, v, "at most 1048576"))?;
                    }
                }
                "service.loading_wait_secs" => {
                    if let Some(n) = whole(cx, key, v)? {
                        s.loading_wait_secs = n;
                    }
                }
                "service.request_timeout_secs" => {
                    if let Some(n) = whole(cx, key, v)? {
                        s.request_timeout_secs = n;
                    }
                }
                "service.enable_cors" => {
                    if let Some(b) = boolean(cx, key, v)? {
                        s.enable_cors = b;
                    }
                }
                "service.cors_allowed_origins" => {
                    if let Some(l) = list(cx, key, v)? {
                        for o in &l {
                            rvdb_api::Cors::check_origin(o).map_err(|e| cx.invalid(key, v, e))?;
                        }
                        s.cors_allowed_origins = l;
                    }
                }
                "service.enable_tls" => {
                    if let Some(b) = boolean(cx, key, v)? {
                        s.enable_tls = b;
                    }
                }
                "tls.cert" => s.tls_cert = nonempty(text(cx, key, v)?).map(PathBuf::from),
                "tls.key" => s.tls_key = nonempty(text(cx, key, v)?).map(PathBuf::from),
                "storage.storage_path" => {
                    s.storage_path = nonempty(text(cx, key, v)?).map(PathBuf::from)
                }
                "storage.snapshots_path" => {
                    s.snapshots_path = nonempty(text(cx, key, v)?).map(PathBuf::from)
                }
                other => unreachable!("{other} is in KEYS but not handled"),
            }
        }
        s.apply_flags(args);
        s.check()?;
        Ok(s)
    }

    /// The seed's variables and the flags (clap already let a flag win over its variable).
    fn apply_flags(&mut self, a: &ServeArgs) {
        if let Some(h) = a.host.as_ref().filter(|h| !h.is_empty()) {
            self.host = h.clone();
        }
        if let Some(p) = a.port {
            self.http_port = p;
        }
        if let Some(p) = a
            .storage_path
            .as_ref()
            .filter(|p| !p.as_os_str().is_empty())
        {
            self.storage_path = Some(p.clone());
        }
        if let Some(b) = a.max_body_bytes {
            self.max_body_bytes = b;
        }
        if let Some(l) = a.log.as_ref().filter(|l| !l.trim().is_empty()) {
            self.log_level = l.clone();
        }
        if let Some(k) = nonempty(a.api_key.clone()) {
            self.api_key = Some(k);
        }
        if let Some(k) = nonempty(a.read_only_api_key.clone()) {
            self.read_only_api_key = Some(k);
        }
        if let Some(t) = a.request_timeout_secs {
            self.request_timeout_secs = t;
        }
        if let Some(n) = a.search_threads {
            self.search_threads = n;
        }
        if let Some(n) = a.search_queue {
            self.search_queue = n;
        }
        if let Some(n) = a.loading_wait_secs {
            self.loading_wait_secs = n;
        }
        if a.enable_tls {
            self.enable_tls = true;
        }
        if let Some(c) = &a.tls_cert {
            self.tls_cert = Some(c.clone());
        }
        if let Some(k) = &a.tls_key {
            self.tls_key = Some(k.clone());
        }
    }

    /// Checks that span settings, and those the flags may have set.
    fn check(&self) -> anyhow::Result<()> {
        if self.max_body_bytes == 0 {
            bail!("invalid config: --max-body-bytes / RVDB_MAX_BODY_BYTES: must be at least 1");
        }
        if let (Some(rw), Some(ro)) = (&self.api_key, &self.read_only_api_key) {
            if rw == ro {
                bail!(
                    "invalid config: service.read_only_api_key: must differ from service.api_key"
                );
            }
        }
        if self.enable_tls {
            if self.tls_cert.is_none() {
                bail!("invalid config: tls.cert: service.enable_tls is true but no certificate file is set (tls.cert or --tls-cert)");
            }
            if self.tls_key.is_none() {
                bail!("invalid config: tls.key: service.enable_tls is true but no private key file is set (tls.key or --tls-key)");
            }
        }
        tracing_subscriber::EnvFilter::try_new(&self.log_level).map_err(|e| {
            anyhow::anyhow!(
                "invalid config: log_level (or RUST_LOG / --log): `{}`: {e}",
                self.log_level
            )
        })?;
        Ok(())
    }

    /// The settings as JSON, in the file's layout, keys redacted.
    pub fn to_json(&self) -> serde_json::Value {
        let redact = |k: &Option<String>| k.as_ref().map(|_| "<redacted>");
        json!({
            "config_file": self.config_file,
            "log_level": self.log_level,
            "service": {
                "host": self.host,
                "http_port": self.http_port,
                "api_key": redact(&self.api_key),
                "read_only_api_key": redact(&self.read_only_api_key),
                "max_request_size_bytes": self.max_body_bytes,
                "request_timeout_secs": self.request_timeout_secs,
                "enable_cors": self.enable_cors,
                "cors_allowed_origins": self.cors_allowed_origins,
                "enable_tls": self.enable_tls,
                "loading_wait_secs": self.loading_wait_secs,
            },
            "performance": {
                "max_search_threads": self.search_threads,
                "search_queue_size": self.search_queue,
            },
            "tls": {"cert": self.tls_cert, "key": self.tls_key},
            "storage": {"storage_path": self.storage_path, "snapshots_path": self.snapshots_path},
        })
    }

    /// One line for the log: which authentication is on (never the keys).
    pub fn auth_mode(&self) -> &'static str {
        match (&self.api_key, &self.read_only_api_key) {
            (None, None) => "off (no API key set: every request is allowed)",
            (Some(_), None) => "API key required (read-write key)",
            (Some(_), Some(_)) => "API key required (read-write and read-only keys)",
            (None, Some(_)) => "API key required (read-only key only: no request can write)",
        }
    }
}

/// Like `text`, but a wrong type does not echo the value.
fn secret_text(cx: &Ctx, key: &str, v: &Value) -> anyhow::Result<Option<String>> {
    match &v.kind {
        ValueKind::Table(_) | ValueKind::Array(_) => {
            Err(cx.invalid(key, v, "expected a string, not a list or mapping"))
        }
        _ => text(cx, key, v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sorted_and_unique() {
        let mut k = KEYS;
        k.sort_unstable();
        assert_eq!(k, KEYS);
        assert!(k.windows(2).all(|w| w[0] != w[1]));
    }
}
