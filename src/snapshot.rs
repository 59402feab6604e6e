//! `rustvecdb snapshot …`: create, list, download and restore snapshots of a running server
//! (`--url`), or restore one into a storage directory that no server is using
//! (`--storage-path`).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use rvdb_engine::{Database, DatabaseOptions};
use serde_json::Value;

#[derive(Debug, Subcommand)]
pub enum SnapshotCommand {
    /// Create a snapshot of one collection (--collection) or of the whole storage, and
    /// optionally download it (--out).
    Create(CreateArgs),
    /// List the snapshots of one collection (--collection) or the full ones.
    List(ServerArgs),
    /// Restore a snapshot file: into a running server (--url: uploaded), or into a storage
    /// directory no server is using (--storage-path). With --collection the file is a
    /// collection snapshot restored under that name; without, a full snapshot.
    Restore(RestoreArgs),
}

#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Base URL of the server.
    #[arg(long, default_value = "http://127.0.0.1:6333")]
    url: String,
    /// API key (sent as `api-key`).
    #[arg(long, env = "RVDB_API_KEY", hide_env_values = true, value_name = "KEY")]
    api_key: Option<String>,
    /// The collection; unset: full snapshots (every collection and the aliases).
    #[arg(long)]
    collection: Option<String>,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// Download the new snapshot to this file.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The snapshot file.
    file: PathBuf,
    /// Base URL of a running server to upload it to.
    #[arg(
        long,
        conflicts_with = "storage_path",
        required_unless_present = "storage_path"
    )]
    url: Option<String>,
    /// API key for --url.
    #[arg(long, env = "RVDB_API_KEY", hide_env_values = true, value_name = "KEY")]
    api_key: Option<String>,
    /// Storage directory to restore into directly (no server may be using it).
    #[arg(long, value_name = "DIR")]
    storage_path: Option<PathBuf>,
    /// Restore a collection snapshot under this name (unset: the file is a full snapshot).
    #[arg(long)]
    collection: Option<String>,
    /// SHA-256 the file must have.
    #[arg(long)]
    checksum: Option<String>,
}

struct Client {
    http: reqwest::blocking::Client,
    base: reqwest::Url,
    key: Option<String>,
}

impl Client {
    fn new(url: &str, key: Option<String>) -> anyhow::Result<Client> {
        let base = reqwest::Url::parse(url).with_context(|| format!("--url {url}"))?;
        Ok(Client {
            http: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(3600))
                .build()?,
            base,
            key: key.filter(|k| !k.is_empty()),
        })
    }

    fn url(&self, segments: &[&str]) -> anyhow::Result<reqwest::Url> {
        let mut u = self.base.clone();
        u.path_segments_mut()
            .map_err(|()| anyhow::anyhow!("--url {}: not a base URL", self.base))?
            .pop_if_empty()
            .extend(segments);
        Ok(u)
    }

    fn send(
        &self,
        rb: reqwest::blocking::RequestBuilder,
    ) -> anyhow::Result<reqwest::blocking::Response> {
        let rb = match &self.key {
            Some(k) => rb.header("api-key", k),
            None => rb,
        };
        let resp = rb.send().context("the server did not answer")?;
        if !resp.status().is_success() {
            let status = resp.status();
            let text = resp.text().unwrap_or_default();
            let msg = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v["status"]["error"].as_str().map(str::to_string))
                .unwrap_or(text);
            bail!("{status}: {msg}");
        }
        Ok(resp)
    }

    fn json(&self, rb: reqwest::blocking::RequestBuilder) -> anyhow::Result<Value> {
        let v: Value = self.send(rb)?.json().context("the answer is not JSON")?;
        Ok(v["result"].clone())
    }

    /// `/collections/{c}/snapshots` or `/snapshots`.
    fn base_segments(collection: &Option<String>) -> Vec<&str> {
        match collection {
            Some(c) => vec!["collections", c.as_str(), "snapshots"],
            None => vec!["snapshots"],
        }
    }
}

pub fn run(cmd: SnapshotCommand) -> anyhow::Result<()> {
    match cmd {
        SnapshotCommand::Create(a) => {
            let s = &a.server;
            let client = Client::new(&s.url, s.api_key.clone())?;
            let segs = Client::base_segments(&s.collection);
            let mut u = client.url(&segs)?;
            u.set_query(Some("wait=true"));
            let d = client.json(client.http.post(u))?;
            println!("{}", serde_json::to_string_pretty(&d)?);
            if let Some(out) = &a.out {
                let name = d["name"].as_str().context("the answer names no snapshot")?;
                let mut segs = segs.clone();
                segs.push(name);
                let mut resp = client.send(client.http.get(client.url(&segs)?))?;
                let mut f = std::fs::File::create(out)
                    .with_context(|| format!("creating {}", out.display()))?;
                let n = resp.copy_to(&mut f).context("downloading the snapshot")?;
                f.sync_all()?;
                let sum = rvdb_engine::file_sha256(out)?;
                if let Some(want) = d["checksum"].as_str() {
                    if sum != want {
                        bail!("the download's SHA-256 is {sum}, the server reported {want}");
                    }
                }
                eprintln!("downloaded {n} bytes to {} (sha256 {sum})", out.display());
            }
            Ok(())
        }
        SnapshotCommand::List(s) => {
            let client = Client::new(&s.url, s.api_key.clone())?;
            let list = client.json(
                client
                    .http
                    .get(client.url(&Client::base_segments(&s.collection))?),
            )?;
            println!("{}", serde_json::to_string_pretty(&list)?);
            Ok(())
        }
        SnapshotCommand::Restore(a) => restore(a),
    }
}

fn restore(a: RestoreArgs) -> anyhow::Result<()> {
    if !a.file.is_file() {
        bail!("{}: no such file", a.file.display());
    }
    match (&a.url, &a.storage_path) {
        (Some(url), _) => {
            let client = Client::new(url, a.api_key.clone())?;
            let mut segs = Client::base_segments(&a.collection);
            segs.push("upload");
            let mut u = client.url(&segs)?;
            if let Some(sum) = &a.checksum {
                u.query_pairs_mut().append_pair("checksum", sum);
            }
            let form = reqwest::blocking::multipart::Form::new()
                .file("snapshot", &a.file)
                .with_context(|| format!("reading {}", a.file.display()))?;
            client.json(client.http.post(u).multipart(form))?;
        }
        (None, Some(dir)) => {
            let db = Database::open(DatabaseOptions {
                background_optimizer: false,
                ..DatabaseOptions::persistent(dir)
            })
            .with_context(|| format!("opening {}", dir.display()))?;
            match &a.collection {
                Some(c) => db.recover_snapshot(c, &a.file, a.checksum.as_deref())?,
                None => {
                    let names = db.recover_full_snapshot(&a.file, a.checksum.as_deref())?;
                    eprintln!("restored collections: {}", names.join(", "));
                }
            }
        }
        (None, None) => bail!("give --url or --storage-path"),
    }
    eprintln!("restored {}", a.file.display());
    Ok(())
}
