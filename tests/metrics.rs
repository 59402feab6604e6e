//! GET /metrics (Prometheus text format 0.0.4, checked line by line) and GET /telemetry.

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};

use common::Server;
use serde_json::json;

/// One sample line: name, labels, value.
#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn parse_value(s: &str) -> Result<f64, String> {
    match s {
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ => s.parse::<f64>().map_err(|_| format!("bad value `{s}`")),
    }
}

/// `{a="x",b="y\"z"}` → map; returns the rest of the line after `}`.
fn parse_labels(s: &str) -> Result<(BTreeMap<String, String>, &str), String> {
    let mut labels = BTreeMap::new();
    let mut rest = s.strip_prefix('{').ok_or("expected {")?;
    loop {
        rest = rest.trim_start();
        if let Some(r) = rest.strip_prefix('}') {
            return Ok((labels, r));
        }
        let eq = rest.find('=').ok_or("expected =")?;
        let name = rest[..eq].trim();
        if !is_name(name) || name.contains(':') {
            return Err(format!("bad label name `{name}`"));
        }
        rest = rest[eq + 1..]
            .strip_prefix('"')
            .ok_or("label value must be quoted")?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next() {
                None => return Err("unterminated label value".into()),
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    other => return Err(format!("bad escape {other:?}")),
                },
                Some((_, c)) => value.push(c),
            }
        };
        if labels.insert(name.to_string(), value).is_some() {
            return Err(format!("label `{name}` twice"));
        }
        rest = &rest[end + 1..];
        rest = rest.trim_start();
        if let Some(r) = rest.strip_prefix(',') {
            rest = r;
        } else if !rest.starts_with('}') {
            return Err("expected , or }".into());
        }
    }
}

/// Checks the whole exposition against the text format; returns samples and family types.
fn parse_exposition(text: &str) -> (Vec<Sample>, HashMap<String, String>) {
    let mut samples = Vec::new();
    let mut types: HashMap<String, String> = HashMap::new();
    let mut helps: HashSet<String> = HashSet::new();
    let mut seen_series = HashSet::new();
    assert!(text.ends_with('\n'), "ends with a newline");
    for (i, line) in text.lines().enumerate() {
        let at = format!("line {}: {line:?}", i + 1);
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            match parts.next() {
                Some("HELP") => {
                    let name = parts.next().expect(&at);
                    assert!(is_name(name), "{at}");
                    assert!(helps.insert(name.to_string()), "HELP twice: {at}");
                }
                Some("TYPE") => {
                    let name = parts.next().expect(&at);
                    let ty = parts.next().expect(&at);
                    assert!(is_name(name), "{at}");
                    assert!(
                        ["counter", "gauge", "histogram", "summary", "untyped"].contains(&ty),
                        "{at}"
                    );
                    assert!(
                        !samples.iter().any(|s: &Sample| s.name == name),
                        "TYPE after samples: {at}"
                    );
                    assert!(
                        types.insert(name.to_string(), ty.to_string()).is_none(),
                        "TYPE twice: {at}"
                    );
                }
                _ => {} // other comments are allowed
            }
            continue;
        }
        assert!(!line.starts_with('#'), "a comment is `# …`: {at}");
        let name_end = line.find(['{', ' ']).expect(&at);
        let name = &line[..name_end];
        assert!(is_name(name), "metric name: {at}");
        let (labels, rest) = if line[name_end..].starts_with('{') {
            parse_labels(&line[name_end..]).unwrap_or_else(|e| panic!("{e}: {at}"))
        } else {
            (BTreeMap::new(), &line[name_end..])
        };
        let mut fields = rest.split_whitespace();
        let value = parse_value(fields.next().expect(&at)).unwrap_or_else(|e| panic!("{e}: {at}"));
        if let Some(ts) = fields.next() {
            ts.parse::<i64>()
                .unwrap_or_else(|_| panic!("timestamp: {at}"));
        }
        assert!(fields.next().is_none(), "trailing fields: {at}");
        assert!(
            seen_series.insert(format!("{name}{labels:?}")),
            "duplicate series: {at}"
        );
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suf| {
                name.strip_suffix(suf).filter(|base| {
                    types
                        .get(*base)
                        .is_some_and(|t| t == "histogram" || t == "summary")
                })
            })
            .unwrap_or(name);
        assert!(types.contains_key(family), "no TYPE for {family}: {at}");
        if types[family] == "histogram" && name.ends_with("_bucket") {
            assert!(labels.contains_key("le"), "bucket without le: {at}");
        }
        samples.push(Sample {
            name: name.to_string(),
            labels,
            value,
        });
    }
    (samples, types)
}

fn find<'a>(samples: &'a [Sample], name: &str, labels: &[(&str, &str)]) -> Vec<&'a Sample> {
    samples
        .iter()
        .filter(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .collect()
}

fn one(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    let found = find(samples, name, labels);
    assert_eq!(found.len(), 1, "{name} {labels:?}: {found:?}");
    found[0].value
}

fn scrape(s: &Server, headers: &[(&str, &str)]) -> (Vec<Sample>, HashMap<String, String>) {
    let (st, ct, body) = s.get_text("/metrics", headers);
    assert_eq!(st, 200, "{body}");
    assert_eq!(ct, "text/plain; version=0.0.4; charset=utf-8");
    parse_exposition(&body)
}

#[test]
fn metrics_are_prometheus_text() {
    let s = Server::start();
    s.ok(
        "PUT",
        "/collections/books",
        Some(&json!({"vectors": {"size": 3, "distance": "Dot"}})),
    );
    s.ok(
        "PUT",
        "/collections/films",
        Some(&json!({"vectors": {"size": 2, "distance": "Cosine"}})),
    );
    let points: Vec<_> = (0..25)
        .map(|i| json!({"id": i, "vector": [i as f32, 1.0, 0.5]}))
        .collect();
    s.ok(
        "PUT",
        "/collections/books/points?wait=true",
        Some(&json!({ "points": points })),
    );
    for _ in 0..3 {
        s.ok(
            "POST",
            "/collections/books/points/query",
            Some(&json!({"query": [1.0, 0.0, 0.0], "limit": 3})),
        );
    }
    s.fail("GET", "/collections/nope", None, 404);
    s.fail("GET", "/no/such/route", None, 404);

    let (samples, types) = scrape(&s, &[]);
    // request counters by route template, method and status
    assert_eq!(types["rvdb_http_requests_total"], "counter");
    assert_eq!(
        one(
            &samples,
            "rvdb_http_requests_total",
            &[
                ("route", "/collections/{name}/points/query"),
                ("method", "POST"),
                ("status", "200")
            ]
        ),
        3.0
    );
    assert_eq!(
        one(
            &samples,
            "rvdb_http_requests_total",
            &[
                ("route", "/collections/{name}"),
                ("method", "PUT"),
                ("status", "200")
            ]
        ),
        2.0
    );
    assert_eq!(
        one(
            &samples,
            "rvdb_http_requests_total",
            &[
                ("route", "/collections/{name}"),
                ("method", "GET"),
                ("status", "404")
            ]
        ),
        1.0
    );
    assert_eq!(
        one(
            &samples,
            "rvdb_http_requests_total",
            &[("route", "unmatched"), ("method", "GET"), ("status", "404")]
        ),
        1.0
    );
    // never a raw path as a label
    for smp in &samples {
        if let Some(route) = smp.labels.get("route") {
            assert!(
                route == "unmatched" || !route.contains("books"),
                "raw path in a label: {smp:?}"
            );
        }
    }
    // latency histogram by route
    assert_eq!(types["rvdb_http_request_duration_seconds"], "histogram");
    let q = [
        ("route", "/collections/{name}/points/query"),
        ("method", "POST"),
    ];
    assert_eq!(
        one(&samples, "rvdb_http_request_duration_seconds_count", &q),
        3.0
    );
    assert!(one(&samples, "rvdb_http_request_duration_seconds_sum", &q) > 0.0);
    let buckets = find(&samples, "rvdb_http_request_duration_seconds_bucket", &q);
    assert!(buckets.len() >= 10, "{buckets:?}");
    let inf = buckets
        .iter()
        .find(|b| b.labels["le"] == "+Inf")
        .expect("+Inf bucket");
    assert_eq!(inf.value, 3.0);
    let mut by_le: Vec<(f64, f64)> = buckets
        .iter()
        .map(|b| (parse_value(&b.labels["le"]).unwrap(), b.value))
        .collect();
    by_le.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
    assert!(
        by_le.windows(2).all(|w| w[0].1 <= w[1].1),
        "cumulative: {by_le:?}"
    );

    // collections
    assert_eq!(types["rvdb_collections"], "gauge");
    assert_eq!(one(&samples, "rvdb_collections", &[]), 2.0);
    assert_eq!(
        one(
            &samples,
            "rvdb_collection_points",
            &[("collection", "books")]
        ),
        25.0
    );
    assert_eq!(
        one(
            &samples,
            "rvdb_collection_points",
            &[("collection", "films")]
        ),
        0.0
    );
    for name in [
        "rvdb_collection_segments",
        "rvdb_collection_wal_bytes",
        "rvdb_optimizer_running",
    ] {
        assert_eq!(types[name], "gauge", "{name}");
        assert_eq!(find(&samples, name, &[]).len(), 2, "{name}");
    }
    assert!(
        one(
            &samples,
            "rvdb_collection_segments",
            &[("collection", "books")]
        ) >= 1.0
    );
    assert_eq!(
        one(
            &samples,
            "rvdb_optimizer_running",
            &[("collection", "books")]
        ),
        0.0
    );
    assert!(one(&samples, "rvdb_uptime_seconds", &[]) >= 0.0);

    // the scrape itself is counted next time; a deleted collection's series go away
    s.ok("DELETE", "/collections/films", None);
    let (samples, _) = scrape(&s, &[]);
    assert_eq!(
        one(
            &samples,
            "rvdb_http_requests_total",
            &[("route", "/metrics"), ("method", "GET"), ("status", "200")]
        ),
        1.0
    );
    assert_eq!(one(&samples, "rvdb_collections", &[]), 1.0);
    assert!(find(
        &samples,
        "rvdb_collection_points",
        &[("collection", "films")]
    )
    .is_empty());
}

#[test]
fn wal_bytes_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::persistent(dir.path());
    s.ok(
        "PUT",
        "/collections/c",
        Some(&json!({"vectors": {"size": 2, "distance": "Dot"}})),
    );
    s.ok(
        "PUT",
        "/collections/c/points?wait=true",
        Some(&json!({"points": [{"id": 1, "vector": [1.0, 2.0]}]})),
    );
    let (samples, _) = scrape(&s, &[]);
    assert!(
        one(
            &samples,
            "rvdb_collection_wal_bytes",
            &[("collection", "c")]
        ) > 0.0
    );
}

#[test]
fn metrics_need_the_key_when_one_is_set() {
    let mut cmd = Server::command();
    cmd.env("RVDB__SERVICE__API_KEY", "k-metrics");
    let s = Server::spawn(cmd);
    let (st, _, _) = s.get_text("/metrics", &[]);
    assert_eq!(st, 401);
    let (samples, _) = scrape(&s, &[("api-key", "k-metrics")]);
    // the refused scrape is counted, under its route
    assert_eq!(
        one(
            &samples,
            "rvdb_http_requests_total",
            &[("route", "/metrics"), ("status", "401")]
        ),
        1.0
    );
}

#[test]
fn telemetry() {
    let s = Server::start();
    s.ok(
        "PUT",
        "/collections/c",
        Some(&json!({"vectors": {"size": 2, "distance": "Euclid"}})),
    );
    s.ok(
        "PUT",
        "/collections/c/points?wait=true",
        Some(
            &json!({"points": [{"id": 1, "vector": [1.0, 2.0]}, {"id": 2, "vector": [3.0, 4.0]}]}),
        ),
    );
    s.fail("GET", "/collections/nope", None, 404);
    let t = s.ok("GET", "/telemetry?details_level=2", None);
    assert_eq!(t["app"]["name"], "rustvecdb");
    assert_eq!(t["app"]["version"], env!("CARGO_PKG_VERSION"));
    assert!(t["app"]["uptime_seconds"].as_f64().unwrap() >= 0.0);
    assert!(t["app"]["startup_unix_seconds"].as_u64().unwrap() > 1_600_000_000);
    assert_eq!(t["collections"]["number_of_collections"], 1);
    let c = &t["collections"]["collections"][0];
    assert_eq!(c["id"], "c");
    assert_eq!(c["points_count"], 2);
    assert_eq!(c["segments_count"], 1);
    assert_eq!(c["optimizer_status"], "ok");
    let r = &t["requests"]["rest"]["responses"];
    assert_eq!(r["PUT /collections/{name}"]["200"]["count"], 1, "{r}");
    assert_eq!(
        r["PUT /collections/{name}/points"]["200"]["count"], 1,
        "{r}"
    );
    assert_eq!(r["GET /collections/{name}"]["404"]["count"], 1, "{r}");
    let put = &r["PUT /collections/{name}"]["200"];
    assert!(put["avg_duration_micros"].as_f64().unwrap() >= 0.0);
    assert!(
        put["max_duration_micros"].as_f64().unwrap()
            >= put["min_duration_micros"].as_f64().unwrap()
    );
    assert!(t["requests"]["total"].as_u64().unwrap() >= 3);
}

/// `{"vectors": {"a": …, "b": …}}` with four points, one of which lacks `b`.
fn two_space_collection(s: &Server, name: &str) {
    s.ok(
        "PUT",
        &format!("/collections/{name}"),
        Some(&json!({"vectors": {
            "a": {"size": 2, "distance": "Dot"},
            "b": {"size": 3, "distance": "Cosine"},
        }})),
    );
    let points: Vec<_> = (0..4)
        .map(|i| {
            if i == 3 {
                json!({"id": i, "vector": {"a": [1.0, i as f32]}})
            } else {
                json!({"id": i, "vector": {"a": [1.0, i as f32], "b": [1.0, 0.0, i as f32]}})
            }
        })
        .collect();
    s.ok(
        "PUT",
        &format!("/collections/{name}/points?wait=true"),
        Some(&json!({ "points": points })),
    );
}

#[test]
fn qdrant_metric_families_have_qdrant_names_types_and_labels() {
    let s = Server::start();
    two_space_collection(&s, "multi");
    s.ok(
        "PUT",
        "/collections/books",
        Some(&json!({"vectors": {"size": 3, "distance": "Dot"}})),
    );
    let points: Vec<_> = (0..25)
        .map(|i| json!({"id": i, "vector": [i as f32, 1.0, 0.5]}))
        .collect();
    s.ok(
        "PUT",
        "/collections/books/points?wait=true",
        Some(&json!({ "points": points })),
    );
    let query = json!({"query": [1.0, 0.0, 0.0], "limit": 3});
    for _ in 0..3 {
        s.ok("POST", "/collections/books/points/query", Some(&query));
    }
    s.fail("GET", "/collections/nope", None, 404);

    let (_, _, text) = s.get_text("/metrics", &[]);
    let (samples, types) = parse_exposition(&text);
    // Qdrant's families, with Qdrant's types and HELP texts
    for (name, ty, help) in [
        ("app_info", "gauge", "information about qdrant server"),
        (
            "app_status_recovery_mode",
            "gauge",
            "features enabled in qdrant server",
        ),
        ("collections_total", "gauge", "number of collections"),
        (
            "collections_vector_total",
            "gauge",
            "total number of vectors in all collections",
        ),
        (
            "collections_full_total",
            "gauge",
            "number of full collections",
        ),
        (
            "collections_aggregated_total",
            "gauge",
            "number of aggregated collections",
        ),
        (
            "collection_vectors",
            "gauge",
            "amount of vectors grouped by vector name",
        ),
        (
            "collection_points",
            "gauge",
            "approximate amount of points per collection",
        ),
        (
            "collection_running_optimizations",
            "gauge",
            "number of currently running optimization tasks per collection",
        ),
        ("cluster_enabled", "gauge", "is cluster support enabled"),
        (
            "rest_responses_total",
            "counter",
            "total number of responses",
        ),
        (
            "rest_responses_fail_total",
            "counter",
            "total number of failed responses",
        ),
        (
            "rest_responses_avg_duration_seconds",
            "gauge",
            "average response duration",
        ),
        (
            "rest_responses_min_duration_seconds",
            "gauge",
            "minimum response duration",
        ),
        (
            "rest_responses_max_duration_seconds",
            "gauge",
            "maximum response duration",
        ),
        (
            "rest_responses_duration_seconds",
            "histogram",
            "response duration histogram",
        ),
        (
            "memory_allocated_bytes",
            "gauge",
            "Total number of bytes allocated by the application",
        ),
        (
            "memory_resident_bytes",
            "gauge",
            "Maximum number of bytes in physically resident data pages mapped",
        ),
        ("process_threads", "gauge", "count of active threads"),
        ("process_open_mmaps", "gauge", "count of open mmaps"),
        (
            "process_open_fds",
            "gauge",
            "count of currently open file descriptors",
        ),
        (
            "process_minor_page_faults_total",
            "counter",
            "count of minor page faults which didn't cause a disk access",
        ),
        (
            "process_major_page_faults_total",
            "counter",
            "count of disk accesses caused by a mmap page fault",
        ),
    ] {
        assert_eq!(types.get(name).map(String::as_str), Some(ty), "{name}");
        assert!(
            text.contains(&format!("# HELP {name} {help}\n")),
            "HELP of {name}"
        );
    }
    assert_eq!(
        one(
            &samples,
            "app_info",
            &[
                ("name", "rustvecdb"),
                ("version", env!("CARGO_PKG_VERSION"))
            ]
        ),
        1.0
    );
    assert_eq!(one(&samples, "app_status_recovery_mode", &[]), 0.0);
    assert_eq!(one(&samples, "cluster_enabled", &[]), 0.0);
    assert_eq!(one(&samples, "collections_total", &[]), 2.0);
    assert_eq!(one(&samples, "collections_full_total", &[]), 2.0);
    assert_eq!(one(&samples, "collection_points", &[("id", "books")]), 25.0);
    assert_eq!(one(&samples, "collection_points", &[("id", "multi")]), 4.0);
    // vectors by space: the point without `b` is not counted there
    let vectors = |c: &str, v: &str| {
        one(
            &samples,
            "collection_vectors",
            &[("collection", c), ("vector", v)],
        )
    };
    assert_eq!(vectors("books", ""), 25.0);
    assert_eq!(vectors("multi", "a"), 4.0);
    assert_eq!(vectors("multi", "b"), 3.0);
    assert_eq!(one(&samples, "collections_vector_total", &[]), 32.0);
    assert_eq!(
        one(
            &samples,
            "collection_running_optimizations",
            &[("id", "books")]
        ),
        0.0
    );
    assert!(one(&samples, "memory_resident_bytes", &[]) > 0.0);
    assert!(one(&samples, "memory_allocated_bytes", &[]) > 0.0);
    assert!(one(&samples, "process_threads", &[]) >= 1.0);
    assert!(one(&samples, "process_open_fds", &[]) >= 3.0);

    // requests by method, endpoint (the route template) and status
    let q = [
        ("method", "POST"),
        ("endpoint", "/collections/{name}/points/query"),
        ("status", "200"),
    ];
    assert_eq!(one(&samples, "rest_responses_total", &q), 3.0);
    assert_eq!(one(&samples, "rest_responses_fail_total", &q), 0.0);
    let (min, avg, max) = (
        one(&samples, "rest_responses_min_duration_seconds", &q),
        one(&samples, "rest_responses_avg_duration_seconds", &q),
        one(&samples, "rest_responses_max_duration_seconds", &q),
    );
    assert!(
        0.0 < min && min <= avg && avg <= max && max < 30.0,
        "{min} {avg} {max}"
    );
    assert_eq!(
        one(&samples, "rest_responses_duration_seconds_count", &q),
        3.0
    );
    let sum = one(&samples, "rest_responses_duration_seconds_sum", &q);
    assert!((sum - 3.0 * avg).abs() < 1e-5, "{sum} {avg}");
    let buckets = find(&samples, "rest_responses_duration_seconds_bucket", &q);
    assert_eq!(buckets.len(), 17, "Qdrant's 16 bounds and +Inf");
    let les: Vec<&str> = buckets.iter().map(|b| b.labels["le"].as_str()).collect();
    assert_eq!(les[0], "0.000001");
    assert_eq!(les[16], "+Inf");
    assert!(buckets.windows(2).all(|w| w[0].value <= w[1].value));
    assert_eq!(buckets[16].value, 3.0);
    // a 404 is counted, but only a 200 carries timings, as in Qdrant
    let miss = [
        ("method", "GET"),
        ("endpoint", "/collections/{name}"),
        ("status", "404"),
    ];
    assert_eq!(one(&samples, "rest_responses_total", &miss), 1.0);
    assert!(find(&samples, "rest_responses_avg_duration_seconds", &miss).is_empty());
    // without per_collection, no collection label
    assert!(samples
        .iter()
        .filter(|x| x.name.starts_with("rest_responses"))
        .all(|x| !x.labels.contains_key("collection")));
    // our series stay beside them
    assert_eq!(one(&samples, "rvdb_collections", &[]), 2.0);

    // the counters move with the next requests
    s.ok("POST", "/collections/books/points/query", Some(&query));
    s.fail("GET", "/collections/nope", None, 404);
    let (samples, _) = scrape(&s, &[]);
    assert_eq!(one(&samples, "rest_responses_total", &q), 4.0);
    assert_eq!(one(&samples, "rest_responses_total", &miss), 2.0);
    assert_eq!(
        one(
            &samples,
            "rest_responses_total",
            &[
                ("method", "GET"),
                ("endpoint", "/metrics"),
                ("status", "200")
            ]
        ),
        1.0
    );
    // a deleted collection's series go away
    s.ok("DELETE", "/collections/multi", None);
    let (samples, _) = scrape(&s, &[]);
    assert!(find(&samples, "collection_points", &[("id", "multi")]).is_empty());
    assert!(find(&samples, "collection_vectors", &[("collection", "multi")]).is_empty());
    assert_eq!(one(&samples, "collections_vector_total", &[]), 25.0);
}

#[test]
fn per_collection_labels_requests_by_collection() {
    let s = Server::start();
    for c in ["a", "b"] {
        s.ok(
            "PUT",
            &format!("/collections/{c}"),
            Some(&json!({"vectors": {"size": 2, "distance": "Dot"}})),
        );
    }
    let count = json!({"exact": true});
    for _ in 0..2 {
        s.ok("POST", "/collections/a/points/count", Some(&count));
    }
    s.ok("POST", "/collections/b/points/count", Some(&count));
    s.fail("POST", "/collections/ghost/points/count", Some(&count), 404);

    let (per, _) = scrape_path(&s, "/metrics?per_collection=true");
    let c = |coll: &str| {
        find(
            &per,
            "rest_responses_total",
            &[
                ("method", "POST"),
                ("endpoint", "/collections/{name}/points/count"),
                ("collection", coll),
            ],
        )
        .iter()
        .map(|x| x.value)
        .sum::<f64>()
    };
    assert_eq!(c("a"), 2.0);
    assert_eq!(c("b"), 1.0);
    // a name that is no collection gets no series
    assert_eq!(c("ghost"), 0.0);
    // every request series is per collection then
    let rest: Vec<_> = per
        .iter()
        .filter(|x| x.name.starts_with("rest_responses"))
        .collect();
    assert!(!rest.is_empty());
    assert!(
        rest.iter().all(|x| x.labels.contains_key("collection")),
        "{rest:?}"
    );
    assert_eq!(
        one(
            &per,
            "rest_responses_duration_seconds_count",
            &[
                ("collection", "a"),
                ("endpoint", "/collections/{name}/points/count"),
                ("status", "200")
            ]
        ),
        2.0
    );
    // the collection families are there either way
    assert_eq!(one(&per, "collection_points", &[("id", "a")]), 0.0);

    // off (and anonymized): one series for all collections
    for path in [
        "/metrics",
        "/metrics?per_collection=false",
        "/metrics?per_collection=true&anonymize=true",
    ] {
        let (all, _) = scrape_path(&s, path);
        assert_eq!(
            one(
                &all,
                "rest_responses_total",
                &[
                    ("method", "POST"),
                    ("endpoint", "/collections/{name}/points/count"),
                    ("status", "200"),
                ]
            ),
            3.0,
            "{path}"
        );
        assert!(
            all.iter()
                .filter(|x| x.name.starts_with("rest_responses"))
                .all(|x| !x.labels.contains_key("collection")),
            "{path}"
        );
    }
    // a deleted collection's series go away
    s.ok("DELETE", "/collections/b", None);
    let (per, _) = scrape_path(&s, "/metrics?per_collection=true");
    assert!(find(&per, "rest_responses_total", &[("collection", "b")]).is_empty());
    assert!(!find(&per, "rest_responses_total", &[("collection", "a")]).is_empty());
    let (st, _, body) = s.get_text("/metrics?per_collection=maybe", &[]);
    assert_eq!(st, 400, "{body}");
}

fn scrape_path(s: &Server, path: &str) -> (Vec<Sample>, HashMap<String, String>) {
    let (st, _, body) = s.get_text(path, &[]);
    assert_eq!(st, 200, "{body}");
    parse_exposition(&body)
}

#[test]
fn telemetry_has_qdrant_shape_by_details_level() {
    let s = Server::start();
    two_space_collection(&s, "multi");
    s.ok(
        "POST",
        "/collections/multi/points/count",
        Some(&json!({"exact": true})),
    );

    // level 0 (the default): counts only
    let t0 = s.ok("GET", "/telemetry", None);
    let id = t0["id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    assert_eq!(t0["app"]["name"], "rustvecdb");
    let startup = t0["app"]["startup"].as_str().unwrap();
    assert!(
        startup.len() == 24 && startup.ends_with('Z') && startup.as_bytes()[10] == b'T',
        "{startup}"
    );
    assert!(t0["app"].get("features").is_none());
    assert!(t0["app"].get("system").is_none());
    assert_eq!(t0["collections"]["number_of_collections"], 1);
    assert!(t0["collections"].get("collections").is_none());
    assert_eq!(t0["cluster"], json!({"enabled": false}));
    assert_eq!(t0["requests"]["grpc"], json!({"responses": {}}));
    assert!(t0.get("memory").is_none());
    let count =
        &t0["requests"]["rest"]["responses"]["POST /collections/{name}/points/count"]["200"];
    assert_eq!(count["count"], 1, "{count}");
    assert_eq!(
        count["total_duration_micros"].as_u64().unwrap() as f64,
        count["avg_duration_micros"].as_f64().unwrap()
    );
    assert!(count.get("fail_count").is_none(), "omitted when 0");
    assert!(count["last_responded"].as_str().unwrap().ends_with('Z'));
    assert!(t0["requests"]["rest"]
        .get("per_collection_responses")
        .is_none());

    // level 1: features, system, memory, aggregated collections
    let t1 = s.ok("GET", "/telemetry?details_level=1", None);
    assert_eq!(t1["id"], id.as_str(), "the same process, the same id");
    assert_eq!(t1["app"]["features"]["recovery_mode"], false);
    assert!(t1["app"]["system"]["cores"].as_u64().unwrap() >= 1);
    assert!(t1["memory"]["resident_bytes"].as_u64().unwrap() > 0);
    let agg = &t1["collections"]["collections"][0];
    assert_eq!(agg["vectors"], 7, "{agg}");
    assert_eq!(agg["optimizers_status"], "ok");
    assert_eq!(agg["params"]["vectors"]["b"]["distance"], "Cosine");
    assert!(agg.get("id").is_none());

    // level 2: full collections
    let t2 = s.ok("GET", "/telemetry?details_level=2", None);
    let full = &t2["collections"]["collections"][0];
    assert_eq!(full["id"], "multi");
    assert_eq!(full["config"]["params"]["vectors"]["a"]["size"], 2);
    assert_eq!(full["points_count"], 4);
    let vectors = full["vectors"].as_array().unwrap();
    for (v, want) in vectors.iter().zip([
        json!({"name": "a", "distance": "Dot", "size": 2, "vectors": 4}),
        json!({"name": "b", "distance": "Cosine", "size": 3, "vectors": 3}),
    ]) {
        for (k, w) in want.as_object().unwrap() {
            assert_eq!(&v[k], w, "{v}");
        }
        // in memory: the vectors' own bytes (and more), nothing mapped, no codes
        let floats = want["size"].as_u64().unwrap() * want["vectors"].as_u64().unwrap();
        assert!(v["ram_bytes"].as_u64().unwrap() >= 4 * floats, "{v}");
        assert_eq!(
            (&v["mapped_bytes"], &v["quantized_bytes"]),
            (&json!(0), &json!(0))
        );
    }
    assert_eq!(vectors.len(), 2);
    assert_eq!(full["disk_bytes"], 0);
    assert!(t2["memory"]["mapped_bytes"].is_u64());

    // per_collection, and anonymize
    let tp = s.ok("GET", "/telemetry?per_collection=true", None);
    let per = &tp["requests"]["rest"]["per_collection_responses"];
    assert_eq!(
        per["multi"]["POST /collections/{name}/points/count"]["200"]["count"], 1,
        "{per}"
    );
    let ta = s.ok(
        "GET",
        "/telemetry?details_level=3&per_collection=true&anonymize=true",
        None,
    );
    let hidden = ta["collections"]["collections"][0]["id"].as_str().unwrap();
    assert_ne!(hidden, "multi");
    assert!(!ta.to_string().contains("\"multi\""), "{ta}");
    assert!(ta["requests"]["rest"]
        .get("per_collection_responses")
        .is_none());

    s.fail("GET", "/telemetry?details_level=two", None, 400);
    s.fail("GET", "/telemetry?timeout=0", None, 400);
}
