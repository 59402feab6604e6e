//! `rustvecdb bench load`: the server under many concurrent clients.
//!
//! Starts a server (this binary, in memory unless `--storage` is given, or uses `--url`), loads
//! a clustered data set over HTTP, waits until it is green, then for each number of connections
//! runs a closed loop of `POST /collections/{c}/points/query` (each connection sends its next
//! query when the previous answer arrived, as wrk does) and prints one JSON line: throughput,
//! latency p50/p90/p99/max from an HDR histogram, errors, timeouts, overload refusals, and the
//! recall@10 of the answers (checked against exact top-10 computed here). A mixed run follows:
//! some connections upsert batches with `wait=true` while the others search; afterwards every
//! acknowledged point must be there, and the exact count must match.
//!
//! The load generator is one thread (a current-thread tokio runtime with raw HTTP/1.1
//! connections), so on a 2-core machine it takes one core, as wrk with one busy thread would.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::Bytes;
use clap::Args;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Points in the collection.
    #[arg(long, default_value_t = 100_000)]
    n: usize,
    /// Their dimension.
    #[arg(long, default_value_t = 128)]
    dim: usize,
    /// Connection counts to measure searches with (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "1,8,64,256")]
    connections: Vec<usize>,
    /// Seconds per search measurement.
    #[arg(long, default_value_t = 20.0)]
    secs: f64,
    /// Beam width of the searches (`params.hnsw_ef`).
    #[arg(long, default_value_t = 64)]
    ef: usize,
    /// Distinct query vectors, sent in turn.
    #[arg(long, default_value_t = 64)]
    queries: usize,
    /// Seconds of the mixed run (0 skips it).
    #[arg(long, default_value_t = 60.0)]
    mixed_secs: f64,
    /// Connections upserting in the mixed run (batches of `--batch`, wait=true).
    #[arg(long, default_value_t = 8)]
    mixed_writers: usize,
    /// Connections searching in the mixed run.
    #[arg(long, default_value_t = 56)]
    mixed_searchers: usize,
    /// Points per upsert in the mixed run.
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// A request without an answer after this many seconds counts as a timeout (wrk's default).
    #[arg(long, default_value_t = 2.0)]
    timeout: f64,
    #[command(flatten)]
    server: ServerArgs,
    /// Collection name (dropped and re-created).
    #[arg(long, default_value = "load")]
    collection: String,
    /// Reuse the collection when it already holds `--n` points (with `--url`).
    #[arg(long)]
    reuse: bool,
    /// The vectors' datatype (float16 stores half the bytes; recall is still checked against
    /// the float32 data set).
    #[arg(long, default_value = "float32", value_parser = ["float32", "float16"])]
    datatype: String,
    /// The collection's quantization: searches walk the codes and rescore the best
    /// `limit × --oversampling` from the originals (`binary-asymmetric`: `binary` with
    /// `--query-encoding scalar8bits`).
    #[arg(long, value_parser = ["int8", "binary", "binary-asymmetric", "product", "turbo"])]
    quantization: Option<String>,
    /// Bits per rotated coordinate of `--quantization turbo` (Qdrant's `bits`).
    #[arg(long, default_value = "bits4", value_parser = ["bits1", "bits1_5", "bits2", "bits4"])]
    turbo_bits: String,
    /// Bits per value of `--quantization binary` (Qdrant's `encoding`).
    #[arg(long, default_value = "one_bit", value_parser = ["one_bit", "two_bits", "one_and_half_bits"])]
    binary_encoding: String,
    /// How a query meets `--quantization binary` codes (Qdrant's `query_encoding`).
    #[arg(long, default_value = "binary", value_parser = ["binary", "scalar4bits", "scalar8bits"])]
    query_encoding: String,
    /// Candidates rescored per result with `--quantization` (`params.quantization.oversampling`).
    #[arg(long, default_value_t = 1.0)]
    oversampling: f64,
    /// Compression of `--quantization product` (x4 … x64).
    #[arg(long, default_value = "x16")]
    compression: String,
    /// The vectors `on_disk`: indexed graphs searched in their mapped files (needs a
    /// persistent server: `--storage`, or a `--url` server with STORAGE_PATH).
    #[arg(long)]
    on_disk: bool,
}

impl LoadArgs {
    /// The create body of the collection.
    fn create_body(&self) -> Value {
        let mut vectors =
            json!({"size": self.dim, "distance": "Euclid", "datatype": self.datatype});
        if self.on_disk {
            vectors["on_disk"] = json!(true);
        }
        let mut body = json!({"vectors": vectors, "hnsw_config": {"m": 16, "ef_construct": 100}});
        if let Some(q) = &self.quantization {
            body["quantization_config"] = match q.as_str() {
                "int8" => json!({"scalar": {"type": "int8", "always_ram": true}}),
                "binary" => json!({"binary": {"always_ram": true,
                    "encoding": self.binary_encoding, "query_encoding": self.query_encoding}}),
                "binary-asymmetric" => json!({"binary": {"always_ram": true,
                    "encoding": self.binary_encoding, "query_encoding": "scalar8bits"}}),
                "turbo" => json!({"turbo": {"bits": self.turbo_bits, "always_ram": true}}),
                _ => json!({"product": {"compression": self.compression, "always_ram": true}}),
            };
        }
        body
    }

    /// The search `params`.
    fn search_params(&self) -> Value {
        let mut p = json!({"hnsw_ef": self.ef});
        if self.quantization.is_some() {
            p["quantization"] = json!({"rescore": true, "oversampling": self.oversampling});
        }
        p
    }
}

/// Which server a load benchmark measures.
#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Measure a running server instead of starting one (e.g. http://127.0.0.1:6333).
    #[arg(long)]
    url: Option<String>,
    /// Give the started server this storage directory (durable) instead of memory.
    #[arg(long)]
    storage: Option<PathBuf>,
    /// Server binary to start (default: this one).
    #[arg(long)]
    bin: Option<PathBuf>,
}

/// The started server, killed when dropped.
pub(crate) struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn start_server(
    bin: Option<&PathBuf>,
    storage: Option<&PathBuf>,
) -> anyhow::Result<(Server, String)> {
    use std::io::BufRead;
    let bin = match bin {
        Some(b) => b.clone(),
        None => std::env::current_exe().context("no path to this binary")?,
    };
    let mut cmd = Command::new(&bin);
    cmd.env("HOST", "127.0.0.1")
        .env("PORT", "0")
        .env_remove("STORAGE_PATH")
        .env_remove("QDRANT__SERVICE__API_KEY")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if let Some(dir) = storage {
        cmd.env("STORAGE_PATH", dir);
    }
    let mut child = cmd
        .spawn()
        .with_context(|| format!("could not start {}", bin.display()))?;
    let stdout = child.stdout.take().expect("piped");
    let server = Server(child);
    let mut lines = std::io::BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        let line = line?;
        if let Some(url) = line.strip_prefix("rustvecdb listening on ") {
            let url = url.trim().to_string();
            // keep draining stdout so that the server never blocks on a full pipe
            std::thread::spawn(move || lines.for_each(drop));
            return Ok((server, url));
        }
    }
    bail!("the server exited before it listened")
}

/// Deterministic clustered Gaussian data (shared/BENCHMARKS.md's shape): 1,000 centres
/// ~ N(0, 1), each with sigma ~ U(0.9, 1.3); a point is a random centre plus N(0, sigma²).
pub(crate) struct Clustered {
    dim: usize,
    centres: Vec<Vec<f32>>,
    sigmas: Vec<f32>,
    rng: StdRng,
}

impl Clustered {
    pub(crate) fn new(dim: usize, seed: u64) -> Self {
        let mut c = Clustered {
            dim,
            centres: Vec::new(),
            sigmas: Vec::new(),
            rng: StdRng::seed_from_u64(seed),
        };
        for _ in 0..1000 {
            let centre = (0..dim).map(|_| c.normal()).collect();
            c.centres.push(centre);
            let s = 0.9 + 0.4 * c.uniform();
            c.sigmas.push(s);
        }
        c
    }

    fn uniform(&mut self) -> f32 {
        // in (0, 1]: never 0, whose logarithm the normal draw takes
        1.0 - self.rng.random::<f32>()
    }

    fn normal(&mut self) -> f32 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
    }

    pub(crate) fn point(&mut self) -> Vec<f32> {
        let k = self.rng.random_range(0..self.centres.len());
        let s = self.sigmas[k];
        (0..self.dim)
            .map(|d| self.centres[k][d] + s * self.normal())
            .collect()
    }
}

/// Exact top-k rows by Euclidean distance.
pub(crate) fn exact_top(base: &[Vec<f32>], q: &[f32], k: usize) -> Vec<u64> {
    let mut d: Vec<(f32, u64)> = base
        .iter()
        .enumerate()
        .map(|(i, x)| {
            let s: f32 = x.iter().zip(q).map(|(a, b)| (a - b) * (a - b)).sum();
            (s, i as u64)
        })
        .collect();
    d.select_nth_unstable_by(k, |a, b| a.0.total_cmp(&b.0));
    d.truncate(k);
    d.sort_by(|a, b| a.0.total_cmp(&b.0));
    d.into_iter().map(|(_, i)| i).collect()
}

/// One keep-alive HTTP/1.1 connection.
pub(crate) struct Conn {
    send: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
}

#[derive(Clone)]
pub(crate) struct Target {
    addr: String,
    host: String,
}

impl Target {
    pub(crate) fn parse(url: &str) -> anyhow::Result<Target> {
        let rest = url
            .strip_prefix("http://")
            .context("--url: only http:// URLs are supported")?;
        let host = rest.trim_end_matches('/').to_string();
        Ok(Target {
            addr: host.clone(),
            host,
        })
    }

    pub(crate) async fn connect(&self) -> anyhow::Result<Conn> {
        let stream = tokio::net::TcpStream::connect(&self.addr).await?;
        stream.set_nodelay(true)?;
        let io = hyper_util::rt::TokioIo::new(stream);
        let (send, conn) = hyper::client::conn::http1::handshake(io).await?;
        tokio::task::spawn_local(async move {
            let _ = conn.await;
        });
        Ok(Conn { send })
    }
}

impl Conn {
    pub(crate) async fn call(
        &mut self,
        t: &Target,
        method: &str,
        path: &str,
        body: Bytes,
    ) -> Answer {
        if self.send.ready().await.is_err() {
            return Answer::Broken;
        }
        let req = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", &t.host)
            .header("content-type", "application/json")
            .body(Full::new(body))
            .expect("valid request");
        let resp = match self.send.send_request(req).await {
            Ok(r) => r,
            Err(_) => return Answer::Broken,
        };
        let status = resp.status().as_u16();
        match resp.into_body().collect().await {
            Ok(b) => Answer::Status(status, b.to_bytes()),
            Err(_) => Answer::Broken,
        }
    }
}

pub(crate) enum Answer {
    Status(u16, Bytes),
    Broken,
}

/// What one measurement counted.
pub(crate) struct Tally {
    hist: Histogram<u64>,
    ok: u64,
    errors: u64,
    timeouts: u64,
    overloaded: u64,
    hits: u64,
    checked: u64,
}

impl Tally {
    fn new() -> Self {
        Tally {
            hist: Histogram::new_with_bounds(1, 120_000_000, 3).expect("histogram bounds"),
            ok: 0,
            errors: 0,
            timeouts: 0,
            overloaded: 0,
            hits: 0,
            checked: 0,
        }
    }

    fn merge(&mut self, o: &Tally) {
        self.hist.add(&o.hist).expect("same bounds");
        self.ok += o.ok;
        self.errors += o.errors;
        self.timeouts += o.timeouts;
        self.overloaded += o.overloaded;
        self.hits += o.hits;
        self.checked += o.checked;
    }

    pub(crate) fn line(&self, run: &str, connections: usize, secs: f64, extra: Value) -> Value {
        let ms = |q: f64| self.hist.value_at_quantile(q) as f64 / 1000.0;
        let mut v = json!({
            "bench": "load",
            "run": run,
            "connections": connections,
            "secs": round3(secs),
            "requests": self.ok,
            "rps": round3(self.ok as f64 / secs),
            "p50_ms": ms(0.5),
            "p90_ms": ms(0.9),
            "p99_ms": ms(0.99),
            "max_ms": self.hist.max() as f64 / 1000.0,
            "errors": self.errors,
            "timeouts": self.timeouts,
            "overloaded": self.overloaded,
        });
        if self.checked > 0 {
            v["recall_at_10"] = json!(round3(self.hits as f64 / self.checked as f64));
        }
        if let (Value::Object(m), Value::Object(e)) = (&mut v, extra) {
            m.extend(e);
        }
        v
    }
}

pub(crate) fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// The prepared queries: bodies and their exact top-10 ids.
pub(crate) struct Queries {
    pub(crate) bodies: Vec<Bytes>,
    pub(crate) truth: Vec<Vec<u64>>,
}

/// Counts how many of the truth's ids an answer holds.
fn hits_of(body: &[u8], truth: &[u64]) -> Option<u64> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let points = v["result"]["points"].as_array()?;
    Some(
        points
            .iter()
            .filter_map(|p| p["id"].as_u64())
            .filter(|id| truth.contains(id))
            .count() as u64,
    )
}

/// The open connection, or a new one; a failed connect counts as an error (after a short
/// pause, so that a refusing server is not hammered).
async fn reconnect<'a>(
    t: &Target,
    conn: &'a mut Option<Conn>,
    tally: &mut Tally,
) -> Option<&'a mut Conn> {
    if conn.is_none() {
        match t.connect().await {
            Ok(c) => *conn = Some(c),
            Err(_) => {
                tally.errors += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
                return None;
            }
        }
    }
    conn.as_mut()
}

/// One searching connection: a closed loop until `stop`.
async fn searcher(
    t: Target,
    path: String,
    qs: Arc<Queries>,
    start_at: usize,
    stop: Arc<AtomicBool>,
    timeout: Duration,
) -> Tally {
    let mut tally = Tally::new();
    let mut conn: Option<Conn> = None;
    let mut i = start_at;
    while !stop.load(Ordering::Relaxed) {
        let Some(c) = reconnect(&t, &mut conn, &mut tally).await else {
            continue;
        };
        let q = i % qs.bodies.len();
        let pass = i / qs.bodies.len();
        i += 1;
        let began = Instant::now();
        let answer = tokio::time::timeout(timeout, c.call(&t, "POST", &path, qs.bodies[q].clone()));
        match answer.await {
            Err(_) => {
                tally.timeouts += 1;
                conn = None;
            }
            Ok(Answer::Broken) => {
                tally.errors += 1;
                conn = None;
            }
            Ok(Answer::Status(200, body)) => {
                let us = began.elapsed().as_micros().max(1) as u64;
                tally.hist.saturating_record(us);
                tally.ok += 1;
                // recall of every 8th answer (parsing each would slow the load generator),
                // a different eighth of the queries on each pass over them, so that every
                // query is checked (by query number alone the same eight always were)
                if (q + pass).is_multiple_of(8) {
                    match hits_of(&body, &qs.truth[q]) {
                        Some(h) => {
                            tally.hits += h;
                            tally.checked += qs.truth[q].len() as u64;
                        }
                        None => tally.errors += 1,
                    }
                }
            }
            Ok(Answer::Status(503 | 429, _)) => tally.overloaded += 1,
            Ok(Answer::Status(_, _)) => tally.errors += 1,
        }
    }
    tally
}

/// One upserting connection: batches of new points with wait=true; returns the ids acknowledged.
async fn writer(
    t: Target,
    path: String,
    batches: Arc<Vec<(Vec<u64>, Bytes)>>,
    me: usize,
    every: usize,
    stop: Arc<AtomicBool>,
    timeout: Duration,
) -> (Tally, Vec<u64>) {
    let mut tally = Tally::new();
    let mut acked = Vec::new();
    let mut conn: Option<Conn> = None;
    let mut b = me;
    while !stop.load(Ordering::Relaxed) && b < batches.len() {
        let Some(c) = reconnect(&t, &mut conn, &mut tally).await else {
            continue;
        };
        let (ids, body) = &batches[b];
        let began = Instant::now();
        // a write is not abandoned at the search timeout: its answer says whether it counts
        match tokio::time::timeout(timeout * 30, c.call(&t, "PUT", &path, body.clone())).await {
            Ok(Answer::Status(200, _)) => {
                tally
                    .hist
                    .saturating_record(began.elapsed().as_micros().max(1) as u64);
                tally.ok += 1;
                acked.extend_from_slice(ids);
                if began.elapsed() > timeout {
                    tally.timeouts += 1;
                }
            }
            Ok(Answer::Status(503 | 429, _)) => tally.overloaded += 1,
            Ok(Answer::Status(..)) => tally.errors += 1,
            Ok(Answer::Broken) | Err(_) => {
                tally.errors += 1;
                conn = None;
            }
        }
        b += every;
    }
    (tally, acked)
}

/// A blocking JSON call (setup and checks, not measured).
pub(crate) fn call(
    rt: &tokio::runtime::Runtime,
    t: &Target,
    method: &str,
    path: &str,
    body: Value,
) -> anyhow::Result<(u16, Value)> {
    let local = tokio::task::LocalSet::new();
    local.block_on(rt, async {
        let mut c = t.connect().await?;
        let body = Bytes::from(serde_json::to_vec(&body)?);
        match c.call(t, method, path, body).await {
            Answer::Status(s, b) => Ok((s, serde_json::from_slice(&b).unwrap_or(Value::Null))),
            Answer::Broken => bail!("{method} {path}: the connection broke"),
        }
    })
}

pub(crate) fn expect_ok(r: anyhow::Result<(u16, Value)>, what: &str) -> anyhow::Result<Value> {
    match r? {
        (200, v) => Ok(v),
        (s, v) => bail!("{what}: {s} {v}"),
    }
}

fn points_body(ids: std::ops::Range<usize>, rows: &[Vec<f32>]) -> Bytes {
    let points: Vec<Value> = ids
        .zip(rows)
        .map(|(id, v)| json!({"id": id, "vector": v}))
        .collect();
    Bytes::from(serde_json::to_vec(&json!({ "points": points })).expect("serialize"))
}

/// Batches of new points to upsert: their ids and the request body.
type Batches = Arc<Vec<(Vec<u64>, Bytes)>>;

/// The writing side of a run: `writers` connections upserting `batches` in turn to `path`.
pub(crate) struct Writes {
    pub(crate) path: String,
    pub(crate) batches: Batches,
    pub(crate) writers: usize,
}

impl Writes {
    /// No writes: a search-only run.
    pub(crate) fn none() -> Writes {
        Writes {
            path: String::new(),
            batches: Arc::new(Vec::new()),
            writers: 0,
        }
    }
}

/// Runs `searchers` closed-loop search connections sending `qs` to `search_path`, beside the
/// writers of `writes`, for `secs` seconds. Returns the searches' tally, the writes' tally with
/// the ids they got acknowledged, and the seconds the run took.
#[allow(clippy::too_many_arguments)]
pub(crate) fn drive(
    rt: &tokio::runtime::Runtime,
    t: &Target,
    search_path: &str,
    qs: &Arc<Queries>,
    searchers: usize,
    writes: &Writes,
    secs: f64,
    timeout: Duration,
) -> (Tally, (Tally, Vec<u64>), f64) {
    let stop = Arc::new(AtomicBool::new(false));
    let local = tokio::task::LocalSet::new();
    let began = Instant::now();
    let (s, w) = local.block_on(rt, async {
        let mut sh = Vec::new();
        for i in 0..searchers {
            sh.push(tokio::task::spawn_local(searcher(
                t.clone(),
                search_path.to_string(),
                qs.clone(),
                i,
                stop.clone(),
                timeout,
            )));
        }
        let mut wh = Vec::new();
        for i in 0..writes.writers {
            wh.push(tokio::task::spawn_local(writer(
                t.clone(),
                writes.path.clone(),
                writes.batches.clone(),
                i,
                writes.writers,
                stop.clone(),
                timeout,
            )));
        }
        tokio::time::sleep(Duration::from_secs_f64(secs)).await;
        stop.store(true, Ordering::Relaxed);
        let mut s = Tally::new();
        for h in sh {
            s.merge(&h.await.expect("searcher"));
        }
        let mut w = Tally::new();
        let mut acked = Vec::new();
        for h in wh {
            let (tw, ids) = h.await.expect("writer");
            w.merge(&tw);
            acked.extend(ids);
        }
        (s, (w, acked))
    });
    (s, w, began.elapsed().as_secs_f64())
}

/// The load generator's runtime, and the server: the one at `--url`, or one started from
/// `--bin` (this binary by default) with `--storage` (memory by default), killed when dropped.
pub(crate) fn setup(
    a: &ServerArgs,
) -> anyhow::Result<(tokio::runtime::Runtime, Option<Server>, String, Target)> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (server, url) = match &a.url {
        Some(u) => (None, u.clone()),
        None => {
            let (s, u) = start_server(a.bin.as_ref(), a.storage.as_ref())?;
            (Some(s), u)
        }
    };
    let t = Target::parse(&url)?;
    Ok((rt, server, url, t))
}

pub fn load(a: LoadArgs) -> anyhow::Result<()> {
    if a.connections.contains(&0) || a.queries == 0 || a.batch == 0 {
        bail!("--connections, --queries and --batch must be positive");
    }
    let (rt, _server, url, t) = setup(&a.server)?;
    let c = &a.collection;
    eprintln!("server: {url}; generating {} × {} points", a.n, a.dim);
    let mut gen = Clustered::new(a.dim, 42);
    let base: Vec<Vec<f32>> = (0..a.n).map(|_| gen.point()).collect();
    let queries: Vec<Vec<f32>> = (0..a.queries).map(|_| gen.point()).collect();
    let truth: Vec<Vec<u64>> = queries
        .iter()
        .map(|q| exact_top(&base, q, 10.min(a.n)))
        .collect();

    let existing = call(&rt, &t, "GET", &format!("/collections/{c}"), Value::Null)?;
    let reuse = a.reuse
        && existing.0 == 200
        && existing.1["result"]["points_count"].as_u64() == Some(a.n as u64);
    if !reuse {
        let _ = call(&rt, &t, "DELETE", &format!("/collections/{c}"), Value::Null)?;
        expect_ok(
            call(
                &rt,
                &t,
                "PUT",
                &format!("/collections/{c}"),
                a.create_body(),
            ),
            "create the collection",
        )?;
        let began = Instant::now();
        let upsert = format!("/collections/{c}/points?wait=true");
        let local = tokio::task::LocalSet::new();
        local.block_on(&rt, async {
            let mut conn = t.connect().await?;
            for start in (0..a.n).step_by(1000) {
                let end = (start + 1000).min(a.n);
                let body = points_body(start..end, &base[start..end]);
                match conn.call(&t, "PUT", &upsert, body).await {
                    Answer::Status(200, _) => {}
                    Answer::Status(s, b) => bail!("upsert: {s} {}", String::from_utf8_lossy(&b)),
                    Answer::Broken => bail!("upsert: the connection broke"),
                }
            }
            anyhow::Ok(())
        })?;
        let loaded = began.elapsed().as_secs_f64();
        let green_began = Instant::now();
        loop {
            let info = expect_ok(
                call(&rt, &t, "GET", &format!("/collections/{c}"), Value::Null),
                "collection info",
            )?;
            let r = &info["result"];
            // green: every sealed segment has its graph (the appendable rest is scanned)
            if r["status"] == "green" && r["optimizer_status"] == "ok" {
                break;
            }
            if green_began.elapsed() > Duration::from_secs(300) {
                bail!("not green after 300 s: {r}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        println!(
            "{}",
            json!({"bench": "load", "run": "setup", "points": a.n, "dim": a.dim,
                   "ingest_seconds": round3(loaded),
                   "green_seconds_after_ingest": round3(green_began.elapsed().as_secs_f64())})
        );
    }

    let qs = Arc::new(Queries {
        bodies: queries
            .iter()
            .map(|q| {
                Bytes::from(
                    serde_json::to_vec(
                        &json!({"query": q, "limit": 10, "params": a.search_params()}),
                    )
                    .expect("serialize"),
                )
            })
            .collect(),
        truth,
    });
    let search_path = format!("/collections/{c}/points/query");
    let timeout = Duration::from_secs_f64(a.timeout);
    let run = |searchers: usize, writers: usize, secs: f64, batches: Batches| {
        let writes = Writes {
            path: format!("/collections/{c}/points?wait=true"),
            batches,
            writers,
        };
        drive(
            &rt,
            &t,
            &search_path,
            &qs,
            searchers,
            &writes,
            secs,
            timeout,
        )
    };

    let no_batches = Arc::new(Vec::new());
    // warm-up: caches, connections, the allocator
    let _ = run(8, 0, 2.0, no_batches.clone());
    for &conns in &a.connections {
        let (s, _, secs) = run(conns, 0, a.secs, no_batches.clone());
        println!(
            "{}",
            s.line(
                "search",
                conns,
                secs,
                json!({"hnsw_ef": a.ef, "n": a.n, "quantization": a.quantization,
                       "oversampling": a.quantization.as_ref().map(|_| a.oversampling),
                       "on_disk": a.on_disk})
            )
        );
    }
    // the server's memory (its telemetry) and the collection's, after the searches
    if let Ok((200, t)) = call(&rt, &t, "GET", "/telemetry?details_level=2", Value::Null) {
        let m = &t["result"]["memory"];
        let coll = t["result"]["collections"]["collections"]
            .as_array()
            .and_then(|cs| cs.iter().find(|x| x["id"] == json!(c)));
        println!(
            "{}",
            json!({"bench": "load", "run": "memory",
                   "anonymous_bytes": m["allocated_bytes"], "resident_bytes": m["resident_bytes"],
                   "mapped_resident_bytes": m["mapped_bytes"],
                   "vectors": coll.map(|x| x["vectors"].clone()),
                   "disk_bytes": coll.map(|x| x["disk_bytes"].clone())})
        );
    }

    if a.mixed_secs > 0.0 && (a.mixed_writers > 0 || a.mixed_searchers > 0) {
        // enough batches of new points for the run at any plausible write rate
        let max_batches = ((a.mixed_secs * 400.0) as usize).max(a.mixed_writers);
        let mut batches = Vec::with_capacity(max_batches);
        let mut next = a.n as u64;
        for _ in 0..max_batches {
            let rows: Vec<Vec<f32>> = (0..a.batch).map(|_| gen.point()).collect();
            let ids: Vec<u64> = (next..next + a.batch as u64).collect();
            let body = points_body(next as usize..next as usize + a.batch, &rows);
            next += a.batch as u64;
            batches.push((ids, body));
        }
        let (s, (w, acked), secs) = run(
            a.mixed_searchers,
            a.mixed_writers,
            a.mixed_secs,
            Arc::new(batches),
        );
        let conns = a.mixed_searchers + a.mixed_writers;
        // the new points come from the same clusters and may displace the base truth, so no
        // recall is reported for the mixed run
        let mut s = s;
        s.checked = 0;
        println!(
            "{}",
            s.line(
                "mixed-search",
                a.mixed_searchers,
                secs,
                json!({"hnsw_ef": a.ef, "total_connections": conns})
            )
        );
        println!(
            "{}",
            w.line(
                "mixed-upsert",
                a.mixed_writers,
                secs,
                json!({"batch": a.batch, "points_per_s": round3((w.ok as usize * a.batch) as f64 / secs), "total_connections": conns})
            )
        );
        // every acknowledged point is there, and the exact count adds up
        let mut missing = 0usize;
        for chunk in acked.chunks(1000) {
            let v = expect_ok(
                call(
                    &rt,
                    &t,
                    "POST",
                    &format!("/collections/{c}/points"),
                    json!({"ids": chunk, "with_payload": false}),
                ),
                "retrieve",
            )?;
            let found = v["result"].as_array().map_or(0, |a| a.len());
            missing += chunk.len() - found;
        }
        let count = expect_ok(
            call(
                &rt,
                &t,
                "POST",
                &format!("/collections/{c}/points/count"),
                json!({"exact": true}),
            ),
            "count",
        )?["result"]["count"]
            .as_u64()
            .unwrap_or(0);
        let expected = (a.n + acked.len()) as u64;
        let ok = missing == 0 && (count == expected || (w.errors > 0 && count >= expected));
        println!(
            "{}",
            json!({"bench": "load", "run": "mixed-check", "acknowledged_points": acked.len(),
                   "missing": missing, "count": count, "expected_count": expected, "ok": ok})
        );
        if !ok {
            bail!("mixed run: {missing} acknowledged points missing, count {count} (expected {expected})");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clustered_data_is_deterministic_and_exact_top_is_sorted() {
        let mut a = Clustered::new(8, 42);
        let mut b = Clustered::new(8, 42);
        let pa: Vec<Vec<f32>> = (0..50).map(|_| a.point()).collect();
        let pb: Vec<Vec<f32>> = (0..50).map(|_| b.point()).collect();
        assert_eq!(pa, pb);
        let top = exact_top(&pa, &pa[7], 5);
        assert_eq!(top[0], 7, "a point is its own nearest");
        assert_eq!(top.len(), 5);
    }

    #[test]
    fn hits_count_the_truths_ids() {
        let body = br#"{"result":{"points":[{"id":3},{"id":9},{"id":4}]},"status":"ok"}"#;
        assert_eq!(hits_of(body, &[3, 4, 5]), Some(2));
        assert_eq!(hits_of(b"not json", &[1]), None);
    }
}
