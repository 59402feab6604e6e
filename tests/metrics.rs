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
    let t = s.ok("GET", "/telemetry", None);
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
    assert!(put["max_duration_micros"].as_u64() >= put["min_duration_micros"].as_u64());
    assert!(t["requests"]["total"].as_u64().unwrap() >= 3);
}
