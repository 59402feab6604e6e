//! Observability: GET /metrics (Prometheus text format 0.0.4) and GET /telemetry (JSON in
//! Qdrant's envelope), both in Qdrant's names and shapes, with our own `rvdb_*` series beside.
//!
//! Every response is recorded by [`track`] under its route *template* (`/collections/{name}`),
//! never the raw path, so the number of series stays bounded; a request that matched no route
//! is `unmatched`. Two records are kept: our `rvdb_http_*` series (through the `metrics` facade
//! into a Prometheus recorder owned by the router, not a global one), and a table in Qdrant's
//! shape (count, latencies, Qdrant's histogram buckets) by route and status, and by collection
//! too for requests on a collection that exists. Collection figures are computed at scrape
//! time, so a deleted collection's series disappear with it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, MatchedPath, Query, RawPathParams, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};
use rvdb_engine::{CollectionInfo, CollectionSummary, Database};
use serde::Deserialize;

use crate::extract::Timer;
use crate::telemetry as tm;
use crate::ApiError;

const REQUESTS: &str = "rvdb_http_requests_total";
const DURATION: &str = "rvdb_http_request_duration_seconds";
/// Histogram buckets of `rvdb_http_request_duration_seconds`, in seconds: 100 µs to 30 s.
const BUCKETS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    10.0, 30.0,
];
/// Qdrant's bucket bounds for `rest_responses_duration_seconds`, in microseconds.
const QDRANT_BUCKETS_MICROS: [u64; 16] = [
    1, 5, 10, 50, 100, 500, 1_000, 5_000, 10_000, 50_000, 100_000, 500_000, 1_000_000, 5_000_000,
    10_000_000, 50_000_000,
];
/// Qdrant's average is over this many latest responses.
const AVG_WINDOW: usize = 128;
/// Qdrant reports the avg/min/max gauges and the histogram only for this status.
const TIMINGS_FOR_STATUS: u16 = 200;
/// Histogram samples are folded into buckets at least this often (and at every scrape).
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Route label of a request that matched no route (404s, probes of random paths).
const UNMATCHED: &str = "unmatched";

/// The responses of one route with one status: what Qdrant's `OperationDurationStatistics`
/// holds.
#[derive(Clone)]
struct ResponseStats {
    count: u64,
    fail_count: u64,
    total_micros: u64,
    min_micros: u64,
    max_micros: u64,
    /// The latest durations (at most [`AVG_WINDOW`]); `next` is where the next one goes.
    recent: Vec<u64>,
    next: usize,
    /// Responses per bucket of [`QDRANT_BUCKETS_MICROS`] (not cumulative; slower ones are
    /// only in `count`).
    buckets: [u64; 16],
    last_unix_ms: u64,
}

impl ResponseStats {
    fn new() -> Self {
        ResponseStats {
            count: 0,
            fail_count: 0,
            total_micros: 0,
            min_micros: 0,
            max_micros: 0,
            recent: Vec::new(),
            next: 0,
            buckets: [0; 16],
            last_unix_ms: 0,
        }
    }

    fn add(&mut self, micros: u64, failed: bool, now_unix_ms: u64) {
        self.min_micros = if self.count == 0 {
            micros
        } else {
            self.min_micros.min(micros)
        };
        self.max_micros = self.max_micros.max(micros);
        self.count += 1;
        self.fail_count += u64::from(failed);
        self.total_micros = self.total_micros.saturating_add(micros);
        if self.recent.len() < AVG_WINDOW {
            self.recent.push(micros);
        } else {
            self.recent[self.next] = micros;
        }
        self.next = (self.next + 1) % AVG_WINDOW;
        if let Some(b) = QDRANT_BUCKETS_MICROS.iter().position(|&b| micros <= b) {
            self.buckets[b] += 1;
        }
        self.last_unix_ms = now_unix_ms;
    }

    fn avg_micros(&self) -> f64 {
        if self.recent.is_empty() {
            0.0
        } else {
            self.recent.iter().sum::<u64>() as f64 / self.recent.len() as f64
        }
    }

    fn to_wire(&self) -> tm::OperationDurationStatistics {
        tm::OperationDurationStatistics {
            count: self.count,
            fail_count: self.fail_count,
            avg_duration_micros: self.avg_micros(),
            min_duration_micros: self.min_micros as f64,
            max_duration_micros: self.max_micros as f64,
            total_duration_micros: self.total_micros,
            last_responded: rfc3339(self.last_unix_ms),
        }
    }
}

/// ("GET /collections/{name}", status) → statistics.
type Table = BTreeMap<(String, u16), ResponseStats>;

#[derive(Default)]
struct Requests {
    all: Table,
    /// Collection name (as in the path) → its requests.
    by_collection: BTreeMap<String, Table>,
}

/// What the observability middleware and routes share.
pub(crate) struct Observer {
    db: Arc<Database>,
    /// The global quotas, for `quota_exceeded`.
    quotas: Arc<rvdb_engine::Quotas>,
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    /// The process's telemetry id.
    id: String,
    started: Instant,
    started_unix_ms: u64,
    /// `started` + this many ms: the last histogram upkeep.
    last_upkeep_ms: AtomicU64,
    requests: Mutex<Requests>,
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Unix milliseconds as RFC 3339 in UTC, e.g. `2026-12-07T11:26:17.120Z`.
fn rfc3339(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // civil from days (Howard Hinnant's algorithm)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        unix_ms % 1000
    )
}

impl Observer {
    pub(crate) fn new(db: Arc<Database>, quotas: Arc<rvdb_engine::Quotas>) -> Arc<Observer> {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(DURATION.to_string()), &BUCKETS)
            .expect("non-empty bucket list")
            .build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            metrics::describe_counter!(
                REQUESTS,
                "HTTP requests answered, by route template, method and status code."
            );
            metrics::describe_histogram!(
                DURATION,
                metrics::Unit::Seconds,
                "Time to produce the response head, by route template and method."
            );
        });
        Arc::new(Observer {
            db,
            quotas,
            recorder,
            handle,
            id: uuid::Uuid::new_v4().to_string(),
            started: Instant::now(),
            started_unix_ms: unix_ms(),
            last_upkeep_ms: AtomicU64::new(0),
            requests: Mutex::new(Requests::default()),
        })
    }

    fn record(
        &self,
        method: &str,
        route: &str,
        collection: Option<String>,
        status: StatusCode,
        elapsed: Duration,
    ) {
        let status_label = status.as_str().to_owned();
        metrics::with_local_recorder(&self.recorder, || {
            metrics::counter!(
                REQUESTS,
                "route" => route.to_owned(),
                "method" => method.to_owned(),
                "status" => status_label,
            )
            .increment(1);
            metrics::histogram!(
                DURATION,
                "route" => route.to_owned(),
                "method" => method.to_owned(),
            )
            .record(elapsed.as_secs_f64());
        });
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        let failed = status.is_server_error();
        let now = unix_ms();
        let key = (format!("{method} {route}"), status.as_u16());
        {
            let mut r = self.requests.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(c) = collection {
                r.by_collection
                    .entry(c)
                    .or_default()
                    .entry(key.clone())
                    .or_insert_with(ResponseStats::new)
                    .add(micros, failed, now);
            }
            r.all
                .entry(key)
                .or_insert_with(ResponseStats::new)
                .add(micros, failed, now);
        }
        let now_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let last = self.last_upkeep_ms.load(Ordering::Relaxed);
        if now_ms.saturating_sub(last) >= UPKEEP_EVERY.as_millis() as u64
            && self
                .last_upkeep_ms
                .compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.handle.run_upkeep();
        }
    }

    fn uptime(&self) -> Duration {
        self.started.elapsed()
    }
}

/// Middleware: counts and times every request (outside authentication, so refusals count).
pub(crate) async fn track(State(obs): State<Arc<Observer>>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let route = parts
        .extensions
        .get::<MatchedPath>()
        .map_or_else(|| UNMATCHED.to_owned(), |p| p.as_str().to_owned());
    // the collection a `/collections/{name}…` route names (percent-decoded)
    let collection = if route.starts_with("/collections/{name}") {
        RawPathParams::from_request_parts(&mut parts, &())
            .await
            .ok()
            .and_then(|p| {
                p.iter()
                    .find(|(k, _)| *k == "name")
                    .map(|(_, v)| v.to_owned())
            })
    } else {
        None
    };
    // a fixed set, so that odd methods cannot grow the number of series
    let method = match parts.method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    };
    let start = Instant::now();
    let resp = next.run(Request::from_parts(parts, body)).await;
    let elapsed = start.elapsed();
    // only names that exist (as a collection or an alias) once answered, so that requests
    // for made-up names cannot grow the table
    let collection = collection.filter(|c| obs.db.collection(c).is_ok());
    obs.record(method, &route, collection, resp.status(), elapsed);
    resp
}

/// One collection as read at a scrape.
struct Snapshot {
    info: CollectionInfo,
    summary: CollectionSummary,
    /// Each vector space with the points that have a vector in it.
    vectors: Vec<(String, u64)>,
    /// Where each dense vector space's data is held.
    storage: Vec<rvdb_engine::VectorStorage>,
    /// Bytes of the collection's files.
    disk_bytes: u64,
}

/// Reads every collection (off the async workers: counting scans the points).
async fn snapshot(db: Arc<Database>) -> Result<Vec<Snapshot>, ApiError> {
    tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        for name in db.collection_names() {
            // deleted meanwhile: skip it
            let Ok(coll) = db.collection(&name) else {
                continue;
            };
            let info = coll.info();
            let vectors = info
                .config
                .vectors
                .spaces()
                .iter()
                .map(|(space, _)| {
                    let filter = rvdb_filter::Filter::from_qdrant(
                        &serde_json::json!({"must": [{"has_vector": space}]}),
                    )
                    .expect("a has_vector filter parses");
                    (space.to_string(), coll.count(Some(&filter)) as u64)
                })
                .collect();
            out.push(Snapshot {
                summary: CollectionSummary::from(info.clone()),
                info,
                vectors,
                storage: coll.vector_storage(),
                disk_bytes: coll.disk_bytes(),
            });
        }
        out
    })
    .await
    .map_err(|_| ApiError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        message: "Service internal error: collecting statistics failed".into(),
    })
}

/// `"a\"b"` → `a\"b` inside a label value (Prometheus text escaping).
fn label(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// `{a="x",b="y"}` (empty for no labels).
fn labels(pairs: &[(&str, &str)]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let inner: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", label(v)))
        .collect();
    format!("{{{}}}", inner.join(","))
}

/// Writes one metric family; a family with no samples is left out, as Qdrant does.
fn family(out: &mut String, name: &str, kind: &str, help: &str, samples: &[(String, f64)]) {
    if samples.is_empty() {
        return;
    }
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    for (l, v) in samples {
        let _ = writeln!(out, "{name}{l} {v}");
    }
    out.push('\n');
}

fn one(v: f64) -> Vec<(String, f64)> {
    vec![(String::new(), v)]
}

/// Qdrant's request families from one table; `collection` adds that label (per_collection).
#[derive(Default)]
struct RestFamilies {
    total: Vec<(String, f64)>,
    fail: Vec<(String, f64)>,
    avg: Vec<(String, f64)>,
    min: Vec<(String, f64)>,
    max: Vec<(String, f64)>,
    /// Bucket, sum and count lines, written under one TYPE.
    histogram: Vec<String>,
}

impl RestFamilies {
    fn add(&mut self, table: &Table, collection: Option<&str>) {
        for ((key, status), s) in table {
            let (method, endpoint) = key.split_once(' ').unwrap_or(("OTHER", key));
            let status = status.to_string();
            let mut pairs = vec![
                ("method", method),
                ("endpoint", endpoint),
                ("status", status.as_str()),
            ];
            if let Some(c) = collection {
                pairs.push(("collection", c));
            }
            let l = labels(&pairs);
            self.total.push((l.clone(), s.count as f64));
            self.fail.push((l.clone(), s.fail_count as f64));
            if status != TIMINGS_FOR_STATUS.to_string() {
                continue;
            }
            self.avg.push((l.clone(), s.avg_micros() / 1e6));
            self.min.push((l.clone(), s.min_micros as f64 / 1e6));
            self.max.push((l.clone(), s.max_micros as f64 / 1e6));
            let name = "rest_responses_duration_seconds";
            let mut cumulative = 0;
            for (bound, n) in QDRANT_BUCKETS_MICROS.iter().zip(s.buckets) {
                cumulative += n;
                let mut with_le = pairs.clone();
                let le = (*bound as f64 / 1e6).to_string();
                with_le.push(("le", le.as_str()));
                self.histogram
                    .push(format!("{name}_bucket{} {cumulative}", labels(&with_le)));
            }
            let mut with_le = pairs.clone();
            with_le.push(("le", "+Inf"));
            self.histogram
                .push(format!("{name}_bucket{} {}", labels(&with_le), s.count));
            self.histogram
                .push(format!("{name}_sum{l} {}", s.total_micros as f64 / 1e6));
            self.histogram.push(format!("{name}_count{l} {}", s.count));
        }
    }

    fn write(self, out: &mut String) {
        family(
            out,
            "rest_responses_total",
            "counter",
            "total number of responses",
            &self.total,
        );
        family(
            out,
            "rest_responses_fail_total",
            "counter",
            "total number of failed responses",
            &self.fail,
        );
        family(
            out,
            "rest_responses_avg_duration_seconds",
            "gauge",
            "average response duration",
            &self.avg,
        );
        family(
            out,
            "rest_responses_min_duration_seconds",
            "gauge",
            "minimum response duration",
            &self.min,
        );
        family(
            out,
            "rest_responses_max_duration_seconds",
            "gauge",
            "maximum response duration",
            &self.max,
        );
        if !self.histogram.is_empty() {
            out.push_str("# HELP rest_responses_duration_seconds response duration histogram\n");
            out.push_str("# TYPE rest_responses_duration_seconds histogram\n");
            for line in self.histogram {
                out.push_str(&line);
                out.push('\n');
            }
            out.push('\n');
        }
    }
}

/// Qdrant's families: app, collections, cluster, requests, memory and process.
fn render_qdrant(out: &mut String, obs: &Observer, snaps: &[Snapshot], per_collection: bool) {
    family(
        out,
        "app_info",
        "gauge",
        "information about qdrant server",
        &[(
            labels(&[
                ("name", "rustvecdb"),
                ("version", env!("CARGO_PKG_VERSION")),
            ]),
            1.0,
        )],
    );
    // there is no recovery mode: never in it
    family(
        out,
        "app_status_recovery_mode",
        "gauge",
        "features enabled in qdrant server",
        &one(0.0),
    );
    // as Qdrant: one series per resource with a limit, none while the quota is disabled
    let exceeded: Vec<(String, f64)> = obs
        .quotas
        .exceeded()
        .into_iter()
        .map(|(resource, over)| (labels(&[("resource", resource)]), f64::from(u8::from(over))))
        .collect();
    family(
        out,
        "quota_exceeded",
        "gauge",
        "whether this node is at or over a quota limit (and not yet back under the release margin), refusing updates that add data",
        &exceeded,
    );
    let n = snaps.len() as f64;
    family(
        out,
        "collections_total",
        "gauge",
        "number of collections",
        &one(n),
    );
    let by_vector: Vec<(String, f64)> = snaps
        .iter()
        .flat_map(|s| {
            s.vectors.iter().map(|(space, count)| {
                (
                    labels(&[("collection", &s.info.name), ("vector", space)]),
                    *count as f64,
                )
            })
        })
        .collect();
    family(
        out,
        "collections_vector_total",
        "gauge",
        "total number of vectors in all collections",
        &one(by_vector.iter().map(|(_, v)| v).sum::<f64>()),
    );
    // /metrics reads every collection in full (Qdrant's details level 2 and above)
    family(
        out,
        "collections_full_total",
        "gauge",
        "number of full collections",
        &one(n),
    );
    family(
        out,
        "collections_aggregated_total",
        "gauge",
        "number of aggregated collections",
        &one(0.0),
    );
    family(
        out,
        "collection_vectors",
        "gauge",
        "amount of vectors grouped by vector name",
        &by_vector,
    );
    let per = |f: &dyn Fn(&Snapshot) -> f64| -> Vec<(String, f64)> {
        snaps
            .iter()
            .map(|s| (labels(&[("id", &s.info.name)]), f(s)))
            .collect()
    };
    family(
        out,
        "collection_running_optimizations",
        "gauge",
        "number of currently running optimization tasks per collection",
        &per(&|s| f64::from(u8::from(s.info.status == "yellow"))),
    );
    family(
        out,
        "collection_points",
        "gauge",
        "approximate amount of points per collection",
        &per(&|s| s.info.points_count as f64),
    );
    family(
        out,
        "cluster_enabled",
        "gauge",
        "is cluster support enabled",
        &one(0.0),
    );

    let mut rest = RestFamilies::default();
    {
        let mut r = obs.requests.lock().unwrap_or_else(|e| e.into_inner());
        // a deleted collection's requests go with it
        r.by_collection.retain(|c, _| obs.db.collection(c).is_ok());
        if per_collection {
            for (c, table) in &r.by_collection {
                rest.add(table, Some(c));
            }
        } else {
            rest.add(&r.all, None);
        }
    }
    rest.write(out);

    let mem = proc_memory();
    if let Some(m) = &mem {
        family(
            out,
            "memory_allocated_bytes",
            "gauge",
            "Total number of bytes allocated by the application",
            &one(m.allocated_bytes as f64),
        );
        family(
            out,
            "memory_resident_bytes",
            "gauge",
            "Maximum number of bytes in physically resident data pages mapped",
            &one(m.resident_bytes as f64),
        );
    }
    if let Some(p) = proc_process() {
        family(
            out,
            "process_threads",
            "gauge",
            "count of active threads",
            &one(p.threads as f64),
        );
        family(
            out,
            "process_open_mmaps",
            "gauge",
            "count of open mmaps",
            &one(p.mmaps as f64),
        );
        if let Some(max) = p.max_mmaps {
            family(
                out,
                "system_max_mmaps",
                "gauge",
                "system wide limit of open mmaps",
                &one(max as f64),
            );
        }
        family(
            out,
            "process_open_fds",
            "gauge",
            "count of currently open file descriptors",
            &one(p.open_fds as f64),
        );
        if let Some(max) = p.max_fds {
            family(
                out,
                "process_max_fds",
                "gauge",
                "limit for open file descriptors",
                &one(max as f64),
            );
        }
        family(
            out,
            "process_minor_page_faults_total",
            "counter",
            "count of minor page faults which didn't cause a disk access",
            &one(p.minor_faults as f64),
        );
        family(
            out,
            "process_major_page_faults_total",
            "counter",
            "count of disk accesses caused by a mmap page fault",
            &one(p.major_faults as f64),
        );
    }
}

/// Our collection gauges and process facts, in Prometheus text.
fn render_gauges(out: &mut String, snaps: &[Snapshot], uptime: Duration) {
    let per = |f: &dyn Fn(&CollectionSummary) -> f64| -> Vec<(String, f64)> {
        snaps
            .iter()
            .map(|s| (labels(&[("collection", &s.summary.name)]), f(&s.summary)))
            .collect()
    };
    let all = |name: &str, help: &str, rows: Vec<(String, f64)>, out: &mut String| {
        // ours are written even when empty, with their HELP and TYPE
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} gauge");
        for (l, v) in rows {
            let _ = writeln!(out, "{name}{l} {v}");
        }
        out.push('\n');
    };
    all(
        "rvdb_build_info",
        "Always 1; the labels say which build is running.",
        vec![(labels(&[("version", env!("CARGO_PKG_VERSION"))]), 1.0)],
        out,
    );
    all(
        "rvdb_uptime_seconds",
        "Seconds since the HTTP layer started.",
        one(uptime.as_secs_f64()),
        out,
    );
    all(
        "rvdb_collections",
        "Number of collections.",
        one(snaps.len() as f64),
        out,
    );
    all(
        "rvdb_collection_points",
        "Points stored in the collection.",
        per(&|c| c.points_count as f64),
        out,
    );
    all(
        "rvdb_collection_segments",
        "Segments of the collection.",
        per(&|c| c.segments_count as f64),
        out,
    );
    all(
        "rvdb_collection_wal_bytes",
        "Bytes of write-ahead log not yet folded into a checkpoint (0 in memory).",
        per(&|c| c.wal_bytes as f64),
        out,
    );
    all(
        "rvdb_optimizer_running",
        "1 while the optimizer has work on the collection (status yellow).",
        per(&|c| f64::from(u8::from(c.status == "yellow"))),
        out,
    );
}

/// Query parameters of GET /metrics.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct MetricsQuery {
    /// If true, `per_collection` is ignored, so that no collection name is shown.
    pub anonymize: Option<bool>,
    /// If true, the `rest_responses_*` families carry a `collection` label (requests on
    /// each existing collection) instead of counting all requests.
    pub per_collection: Option<bool>,
    /// Accepted for compatibility (whole seconds, at least 1).
    pub timeout: Option<u64>,
}

/// Query parameters of GET /telemetry.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct TelemetryQuery {
    /// If true, collection names are replaced by a hash, load errors are left out, and so are
    /// per-collection request statistics.
    pub anonymize: Option<bool>,
    /// 0 (default): counts; 1: build features, system, memory and aggregated collections;
    /// 2 and above: full collections.
    pub details_level: Option<u64>,
    /// If true, request statistics by collection too (`requests.rest.per_collection_responses`).
    pub per_collection: Option<bool>,
    /// Accepted for compatibility (whole seconds, at least 1).
    pub timeout: Option<u64>,
}

pub(crate) type MetricsParams = Result<Query<MetricsQuery>, QueryRejection>;
pub(crate) type TelemetryParams = Result<Query<TelemetryQuery>, QueryRejection>;

/// The query, or a 400 naming what is wrong with it.
fn query<T>(params: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    params
        .map(|Query(q)| q)
        .map_err(|e| ApiError::bad_request(format!("Bad query string: {}", e.body_text())))
}

fn check_timeout(timeout: Option<u64>) -> Result<(), ApiError> {
    match timeout {
        Some(0) => Err(ApiError::bad_request(
            "Wrong input: timeout: expected a whole number of seconds of at least 1, got `0`",
        )),
        _ => Ok(()),
    }
}

/// GET /metrics.
#[utoipa::path(get, path = "/metrics", tag = "service", params(MetricsQuery),
    responses((status = 200, description = "Prometheus text format 0.0.4: Qdrant's metric families (app_info, collections_total, collection_points, rest_responses_total, rest_responses_duration_seconds, memory_*, process_*, …) and ours (rvdb_*)", content_type = "text/plain; version=0.0.4", body = String)))]
pub(crate) async fn metrics(params: MetricsParams, obs: Arc<Observer>) -> Response {
    let o = match query(params).and_then(|q| check_timeout(q.timeout).map(|()| q)) {
        Ok(o) => o,
        Err(e) => return e.into_response(),
    };
    let per_collection = o.per_collection == Some(true) && o.anonymize != Some(true);
    let snaps = match snapshot(obs.db.clone()).await {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let mut out = String::new();
    render_qdrant(&mut out, &obs, &snaps, per_collection);
    obs.handle.run_upkeep();
    let ours = obs.handle.render();
    out.push_str(&ours);
    if !out.is_empty() && !out.ends_with("\n\n") {
        out.push('\n');
    }
    render_gauges(&mut out, &snaps, obs.uptime());
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}

/// A collection's name as `anonymize=true` shows it: a stable hash, not the name.
fn anonymized(name: &str) -> String {
    // FNV-1a, 64 bits: stable across runs and builds
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

fn wire_table(t: &Table) -> BTreeMap<String, BTreeMap<String, tm::OperationDurationStatistics>> {
    let mut out: BTreeMap<String, BTreeMap<String, _>> = BTreeMap::new();
    for ((route, status), s) in t {
        out.entry(route.clone())
            .or_default()
            .insert(status.to_string(), s.to_wire());
    }
    out
}

/// GET /telemetry: Qdrant's telemetry, by `details_level`, in the envelope.
#[utoipa::path(get, path = "/telemetry", tag = "service", params(TelemetryQuery),
    responses((status = 200, description = "Qdrant's telemetry: app, collections (by details_level), cluster, request statistics by route and status, memory", body = crate::openapi::collections::TelemetryResponse)))]
pub(crate) async fn telemetry(t: Timer, params: TelemetryParams, obs: Arc<Observer>) -> Response {
    let o = match query(params).and_then(|q| check_timeout(q.timeout).map(|()| q)) {
        Ok(o) => o,
        Err(e) => return e.into_response(),
    };
    let anonymize = o.anonymize == Some(true);
    let snaps = match snapshot(obs.db.clone()).await {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let name = |n: &str| {
        if anonymize {
            anonymized(n)
        } else {
            n.to_owned()
        }
    };
    let level = o.details_level.unwrap_or(0);
    let collections = (level >= 1).then(|| {
        snaps
            .iter()
            .map(|s| {
                let mut config = crate::openapi::collections::CollectionInfo::from(&s.info).config;
                if anonymize {
                    // user data
                    config.metadata = None;
                }
                if level >= 2 {
                    let c = &s.summary;
                    tm::CollectionTelemetryEnum::Full(Box::new(tm::CollectionTelemetry {
                        id: name(&c.name),
                        config,
                        points_count: c.points_count as u64,
                        segments_count: c.segments_count as u64,
                        indexed_vectors_count: c.indexed_vectors_count as u64,
                        status: c.status,
                        wal_bytes: c.wal_bytes,
                        optimizer_status: "ok",
                        optimizer_running: c.status == "yellow",
                        problems: c.problems.clone(),
                        disk_bytes: s.disk_bytes,
                        vectors: c
                            .vectors
                            .iter()
                            .map(|(space, distance, dim)| {
                                let storage = s.storage.iter().find(|v| &v.name == space);
                                tm::VectorTelemetry {
                                    name: space.clone(),
                                    distance,
                                    size: dim.map(|d| d as u64),
                                    vectors: s
                                        .vectors
                                        .iter()
                                        .find(|(n, _)| n == space)
                                        .map_or(0, |(_, v)| *v),
                                    ram_bytes: storage.map_or(0, |v| v.ram_bytes),
                                    mapped_bytes: storage.map_or(0, |v| v.mapped_bytes),
                                    quantized_bytes: storage.map_or(0, |v| v.quantized_bytes),
                                }
                            })
                            .collect(),
                    }))
                } else {
                    tm::CollectionTelemetryEnum::Aggregated(Box::new(
                        tm::CollectionsAggregatedTelemetry {
                            vectors: s.vectors.iter().map(|(_, v)| v).sum(),
                            optimizers_status: "ok",
                            params: config.params,
                        },
                    ))
                }
            })
            .collect()
    });
    let (all, per_collection, total) = {
        let mut r = obs.requests.lock().unwrap_or_else(|e| e.into_inner());
        r.by_collection.retain(|c, _| obs.db.collection(c).is_ok());
        let per = if o.per_collection == Some(true) && !anonymize {
            r.by_collection
                .iter()
                .map(|(c, t)| (c.clone(), wire_table(t)))
                .collect()
        } else {
            BTreeMap::new()
        };
        (
            wire_table(&r.all),
            per,
            r.all.values().map(|s| s.count).sum(),
        )
    };
    let body = tm::TelemetryData {
        id: obs.id.clone(),
        app: tm::AppBuildTelemetry {
            name: "rustvecdb",
            version: env!("CARGO_PKG_VERSION"),
            features: (level >= 1).then_some(tm::AppFeaturesTelemetry {
                debug: cfg!(debug_assertions),
                service_debug_feature: false,
                recovery_mode: false,
                gpu: false,
                rocksdb: false,
                staging: false,
            }),
            system: (level >= 1).then(system),
            startup: rfc3339(obs.started_unix_ms),
            qdrant_api_version: crate::QDRANT_API_VERSION,
            startup_unix_seconds: obs.started_unix_ms / 1000,
            uptime_seconds: obs.uptime().as_secs_f64(),
        },
        collections: tm::CollectionsTelemetry {
            number_of_collections: snaps.len() as u64,
            collections,
            total_points: snaps.iter().map(|s| s.info.points_count as u64).sum(),
            storage: if obs.db.options().storage_path.is_some() {
                "disk"
            } else {
                "memory"
            },
            failed_to_load: obs
                .db
                .failed_collections()
                .into_iter()
                .map(|(n, error)| tm::FailedCollection {
                    name: name(&n),
                    error: if anonymize { String::new() } else { error },
                })
                .collect(),
        },
        cluster: tm::ClusterTelemetry { enabled: false },
        requests: tm::RequestsTelemetry {
            rest: tm::WebApiTelemetry {
                responses: all,
                per_collection_responses: per_collection,
            },
            grpc: tm::GrpcTelemetry {
                responses: BTreeMap::new(),
            },
            total,
        },
        memory: if level >= 1 { proc_memory() } else { None },
    };
    t.ok(body)
}

/// The machine, from /etc/os-release, /proc and the CPU.
fn system() -> tm::RunningEnvironmentTelemetry {
    let os = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    let field = |k: &str| {
        os.lines()
            .find_map(|l| l.strip_prefix(k)?.strip_prefix('='))
            .map(|v| v.trim_matches('"').to_string())
    };
    let mem_total_kib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| status_field(&m, "MemTotal:"));
    // cgroup v2 limit in bytes, when one is set
    let cgroup_kib = std::fs::read_to_string("/sys/fs/cgroup/memory.max")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .map(|b| b / 1024);
    let ram_size = match (cgroup_kib, mem_total_kib) {
        (Some(c), Some(m)) => Some(c.min(m)),
        (c, m) => c.or(m),
    };
    let mut flags: Vec<&str> = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        for (on, name) in [
            (std::arch::is_x86_feature_detected!("sse"), "sse"),
            (std::arch::is_x86_feature_detected!("avx"), "avx"),
            (std::arch::is_x86_feature_detected!("avx2"), "avx2"),
            (std::arch::is_x86_feature_detected!("fma"), "fma"),
            (std::arch::is_x86_feature_detected!("f16c"), "f16c"),
            (std::arch::is_x86_feature_detected!("avx512f"), "avx512f"),
        ] {
            if on {
                flags.push(name);
            }
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        if std::arch::is_aarch64_feature_detected!("neon") {
            flags.push("neon");
        }
    }
    tm::RunningEnvironmentTelemetry {
        distribution: field("ID"),
        distribution_version: field("VERSION_ID"),
        is_docker: std::path::Path::new("/.dockerenv").exists(),
        cores: std::thread::available_parallelism()
            .ok()
            .map(|n| n.get() as u64),
        ram_size,
        cpu_flags: flags.join(","),
        cpu_endian: if cfg!(target_endian = "little") {
            "little"
        } else {
            "big"
        },
    }
}

/// `Key:   123 kB` → 123.
fn status_field(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// The process's memory from /proc/self/status (`None` where there is no /proc).
fn proc_memory() -> Option<tm::MemoryTelemetry> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    Some(tm::MemoryTelemetry {
        allocated_bytes: status_field(&status, "RssAnon:")? * 1024,
        resident_bytes: status_field(&status, "VmRSS:")? * 1024,
        mapped_bytes: status_field(&status, "RssFile:").unwrap_or(0) * 1024,
    })
}

/// What Qdrant's `process_*` families report, read from /proc.
struct ProcessFacts {
    threads: u64,
    mmaps: u64,
    max_mmaps: Option<u64>,
    open_fds: u64,
    max_fds: Option<u64>,
    minor_faults: u64,
    major_faults: u64,
}

fn proc_process() -> Option<ProcessFacts> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // fields after the `(comm)`, which may hold spaces: state is field 3
    let after = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    let num = |field: usize| f.get(field - 3).and_then(|v| v.parse::<u64>().ok());
    // own faults and those of waited-for children, as Qdrant sums them
    let minor_faults = num(10)? + num(11)?;
    let major_faults = num(12)? + num(13)?;
    let mmaps = std::fs::read_to_string("/proc/self/maps")
        .ok()?
        .lines()
        .count() as u64;
    let open_fds = std::fs::read_dir("/proc/self/fd").ok()?.count() as u64;
    let max_fds = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|l| {
            let line = l.lines().find(|l| l.starts_with("Max open files"))?;
            let mut v = line["Max open files".len()..].split_whitespace();
            let soft = v.next()?.parse::<u64>().ok();
            let hard = v.next()?.parse::<u64>().ok();
            match (soft, hard) {
                (Some(s), Some(h)) => Some(s.min(h)),
                (s, h) => s.or(h),
            }
        });
    Some(ProcessFacts {
        threads: status_field(&status, "Threads:")?,
        mmaps,
        max_mmaps: std::fs::read_to_string("/proc/sys/vm/max_map_count")
            .ok()
            .and_then(|s| s.trim().parse().ok()),
        open_fds,
        max_fds,
        minor_faults,
        major_faults,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_escaping() {
        assert_eq!(label(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(label("x\ny"), "x\\ny");
        assert_eq!(label("plain_name-1"), "plain_name-1");
    }

    #[test]
    fn rfc3339_matches_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(rfc3339(1_796_642_777_000), "2026-12-07T11:26:17.000Z");
    }

    #[test]
    fn stats_keep_the_latest_128_for_the_average() {
        let mut s = ResponseStats::new();
        for _ in 0..AVG_WINDOW {
            s.add(1_000, false, 0);
        }
        for _ in 0..AVG_WINDOW {
            s.add(3_000, true, 5);
        }
        assert_eq!(s.count, 256);
        assert_eq!(s.fail_count, 128);
        assert_eq!(s.avg_micros(), 3_000.0);
        assert_eq!((s.min_micros, s.max_micros), (1_000, 3_000));
        assert_eq!(s.total_micros, 128 * 4_000);
        // 1 ms falls in the 1 000 µs bucket, 3 ms in the 5 000 µs one
        assert_eq!(s.buckets[6], 128);
        assert_eq!(s.buckets[7], 128);
        assert_eq!(s.last_unix_ms, 5);
    }
}
