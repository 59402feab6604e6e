//! Observability: per-request counters and latency histograms (recorded through the `metrics`
//! facade into a Prometheus recorder owned by the router, not a global one), GET /metrics in
//! Prometheus text format 0.0.4, and GET /telemetry (JSON in Qdrant's envelope).
//!
//! Request series are labelled with the matched route *template* (`/collections/{name}`), never
//! the raw path, so their number stays bounded; a request that matched no route is `unmatched`.
//! Collection gauges are computed from `Database::stats()` at scrape time, so a deleted
//! collection's series disappear with it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};
use rvdb_engine::{Database, DatabaseStats};
use serde_json::json;

use crate::extract::Timer;
use crate::ApiError;

const REQUESTS: &str = "rvdb_http_requests_total";
const DURATION: &str = "rvdb_http_request_duration_seconds";
/// Histogram buckets in seconds: 100 µs to 30 s.
const BUCKETS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    10.0, 30.0,
];
/// Histogram samples are folded into buckets at least this often (and at every scrape).
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Route label of a request that matched no route (404s, probes of random paths).
const UNMATCHED: &str = "unmatched";

/// One row of the telemetry's request table.
#[derive(Default, Clone, Copy)]
struct RequestStat {
    count: u64,
    total_micros: u64,
    min_micros: u64,
    max_micros: u64,
}

/// What the observability middleware and routes share.
pub(crate) struct Observer {
    db: Arc<Database>,
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    started: Instant,
    started_unix: u64,
    /// `started` + this many ms: the last histogram upkeep.
    last_upkeep_ms: AtomicU64,
    /// ("GET /collections/{name}", status) → stats, for /telemetry.
    requests: Mutex<BTreeMap<(String, u16), RequestStat>>,
}

impl Observer {
    pub(crate) fn new(db: Arc<Database>) -> Arc<Observer> {
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
            recorder,
            handle,
            started: Instant::now(),
            started_unix: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            last_upkeep_ms: AtomicU64::new(0),
            requests: Mutex::new(BTreeMap::new()),
        })
    }

    fn record(&self, method: &str, route: &str, status: StatusCode, elapsed: Duration) {
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
        {
            let mut table = self.requests.lock().unwrap_or_else(|e| e.into_inner());
            let s = table
                .entry((format!("{method} {route}"), status.as_u16()))
                .or_default();
            s.min_micros = if s.count == 0 {
                micros
            } else {
                s.min_micros.min(micros)
            };
            s.max_micros = s.max_micros.max(micros);
            s.count += 1;
            s.total_micros = s.total_micros.saturating_add(micros);
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
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| UNMATCHED.to_owned(), |p| p.as_str().to_owned());
    // a fixed set, so that odd methods cannot grow the number of series
    let method = match *req.method() {
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
    let resp = next.run(req).await;
    obs.record(method, &route, resp.status(), start.elapsed());
    resp
}

async fn stats(db: Arc<Database>) -> Result<DatabaseStats, ApiError> {
    tokio::task::spawn_blocking(move || db.stats())
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

/// The collection gauges and process facts, in Prometheus text.
fn render_gauges(out: &mut String, stats: &DatabaseStats, uptime: Duration) {
    let mut gauge = |name: &str, help: &str, rows: &mut dyn Iterator<Item = (String, f64)>| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} gauge");
        for (labels, v) in rows {
            let _ = writeln!(out, "{name}{labels} {v}");
        }
        out.push('\n');
    };
    let per = |f: &dyn Fn(&rvdb_engine::CollectionSummary) -> f64| {
        stats
            .collections
            .iter()
            .map(|c| (format!("{{collection=\"{}\"}}", label(&c.name)), f(c)))
            .collect::<Vec<_>>()
    };
    gauge(
        "rvdb_build_info",
        "Always 1; the labels say which build is running.",
        &mut std::iter::once((
            format!("{{version=\"{}\"}}", env!("CARGO_PKG_VERSION")),
            1.0,
        )),
    );
    gauge(
        "rvdb_uptime_seconds",
        "Seconds since the HTTP layer started.",
        &mut std::iter::once((String::new(), uptime.as_secs_f64())),
    );
    gauge(
        "rvdb_collections",
        "Number of collections.",
        &mut std::iter::once((String::new(), stats.collections_count as f64)),
    );
    gauge(
        "rvdb_collection_points",
        "Points stored in the collection.",
        &mut per(&|c| c.points_count as f64).into_iter(),
    );
    gauge(
        "rvdb_collection_segments",
        "Segments of the collection.",
        &mut per(&|c| c.segments_count as f64).into_iter(),
    );
    gauge(
        "rvdb_collection_wal_bytes",
        "Bytes of write-ahead log not yet folded into a checkpoint (0 in memory).",
        &mut per(&|c| c.wal_bytes as f64).into_iter(),
    );
    gauge(
        "rvdb_optimizer_running",
        "1 while the optimizer has work on the collection (status yellow).",
        &mut per(&|c| f64::from(u8::from(c.status == "yellow"))).into_iter(),
    );
}

/// GET /metrics.
#[utoipa::path(get, path = "/metrics", tag = "service",
    responses((status = 200, description = "Prometheus text format 0.0.4: request counters and latency histograms by route template, collection gauges", content_type = "text/plain; version=0.0.4", body = String)))]
pub(crate) async fn metrics(obs: Arc<Observer>) -> Response {
    let stats = match stats(obs.db.clone()).await {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    obs.handle.run_upkeep();
    let mut out = obs.handle.render();
    if !out.is_empty() && !out.ends_with("\n\n") {
        out.push('\n');
    }
    render_gauges(&mut out, &stats, obs.uptime());
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

/// GET /telemetry: version, uptime, collections and request counters, in the envelope.
#[utoipa::path(get, path = "/telemetry", tag = "service",
    responses((status = 200, description = "Version, uptime, collections and request statistics", body = crate::openapi::collections::TelemetryResponse)))]
pub(crate) async fn telemetry(t: Timer, obs: Arc<Observer>) -> Response {
    let stats = match stats(obs.db.clone()).await {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let collections: Vec<_> = stats
        .collections
        .iter()
        .map(|c| {
            json!({
                "id": c.name,
                "points_count": c.points_count,
                "segments_count": c.segments_count,
                "indexed_vectors_count": c.indexed_vectors_count,
                "status": c.status,
                "wal_bytes": c.wal_bytes,
                "optimizer_status": "ok",
                "optimizer_running": c.status == "yellow",
                "problems": c.problems,
                "vectors": c.vectors.iter().map(|(name, distance, dim)| json!({
                    "name": name, "distance": distance, "size": dim,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let table = obs
        .requests
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let mut responses = serde_json::Map::new();
    let mut total = 0u64;
    for ((route, status), s) in table {
        total += s.count;
        let entry = responses
            .entry(route)
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .expect("an object");
        entry.insert(
            status.to_string(),
            json!({
                "count": s.count,
                "avg_duration_micros": if s.count == 0 { 0.0 } else { s.total_micros as f64 / s.count as f64 },
                "min_duration_micros": s.min_micros,
                "max_duration_micros": s.max_micros,
                "total_duration_micros": s.total_micros,
            }),
        );
    }
    t.ok(json!({
        "app": {
            "name": "rustvecdb",
            "version": env!("CARGO_PKG_VERSION"),
            "qdrant_api_version": crate::QDRANT_API_VERSION,
            "startup_unix_seconds": obs.started_unix,
            "uptime_seconds": obs.uptime().as_secs_f64(),
        },
        "collections": {
            "number_of_collections": stats.collections_count,
            "total_points": stats.total_points,
            "storage": stats.storage,
            "collections": collections,
            "failed_to_load": obs.db.failed_collections().into_iter()
                .map(|(name, error)| json!({"name": name, "error": error}))
                .collect::<Vec<_>>(),
        },
        "requests": {
            "total": total,
            "rest": {"responses": responses},
        },
    }))
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
}
