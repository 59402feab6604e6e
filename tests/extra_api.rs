//! Qdrant's facet and search-matrix reads over HTTP, the cluster, shard-key, issues and
//! optimization routes as a single-node Qdrant without its cluster mode answers them, and the
//! global quotas (stored, persisted and enforced), error cases included.

mod common;

use common::Server;
use serde_json::{json, Value};

const U1: &str = "550e8400-e29b-41d4-a716-446655440000";
const U2: &str = "6ba7b810-9dad-11d1-80b4-00c04fd430c8";

fn setup(s: &Server, name: &str) {
    s.ok(
        "PUT",
        &format!("/collections/{name}"),
        Some(&json!({"vectors": {"size": 3, "distance": "Euclid"}})),
    );
    let points: Vec<Value> = (0..12)
        .map(|i| {
            let uuid = if i % 3 == 0 { U1 } else { U2 };
            json!({"id": i, "vector": [i as f64, (i % 4) as f64, 1.0],
                   "payload": {"n": i % 5, "parity": if i % 2 == 0 { "even" } else { "odd" },
                               "tags": [format!("t{}", i % 3), format!("t{}", i % 3), "all"],
                               "flag": i < 4, "uuid": uuid, "mixed": if i < 6 { json!("s") } else { json!(7) }}})
        })
        .collect();
    s.ok(
        "PUT",
        &format!("/collections/{name}/points?wait=true"),
        Some(&json!({"points": points})),
    );
    for (field, schema) in [
        ("parity", "keyword"),
        ("tags", "keyword"),
        ("n", "integer"),
        ("flag", "bool"),
        ("uuid", "uuid"),
        ("mixed", "keyword"),
    ] {
        s.ok(
            "PUT",
            &format!("/collections/{name}/index?wait=true"),
            Some(&json!({"field_name": field, "field_schema": schema})),
        );
    }
}

fn hits(r: &Value) -> Vec<(Value, u64)> {
    r["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["value"].clone(), h["count"].as_u64().unwrap()))
        .collect()
}

#[test]
fn facet_counts_values_by_count_then_value_and_each_point_once() {
    let s = Server::start();
    setup(&s, "f");
    let facet = |body: Value| hits(&s.ok("POST", "/collections/f/facet", Some(&body)));
    assert_eq!(
        facet(json!({"key": "parity"})),
        vec![(json!("even"), 6), (json!("odd"), 6)]
    );
    // a point with `t0` twice counts once; ties by value ascending
    assert_eq!(
        facet(json!({"key": "tags"})),
        vec![
            (json!("all"), 12),
            (json!("t0"), 4),
            (json!("t1"), 4),
            (json!("t2"), 4)
        ]
    );
    assert_eq!(
        facet(json!({"key": "n", "limit": 2})),
        vec![(json!(0), 3), (json!(1), 3)]
    );
    assert_eq!(
        facet(json!({"key": "flag", "exact": true})),
        vec![(json!(false), 8), (json!(true), 4)]
    );
    assert_eq!(
        facet(json!({"key": "uuid"})),
        vec![(json!(U2), 8), (json!(U1), 4)]
    );
    // a keyword index counts only strings
    assert_eq!(facet(json!({"key": "mixed"})), vec![(json!("s"), 6)]);
    // with a filter, and a filter nothing passes
    assert_eq!(
        facet(json!({"key": "parity", "filter": {"must": [{"key": "n", "range": {"lt": 2}}]}})),
        vec![(json!("even"), 3), (json!("odd"), 3)]
    );
    assert_eq!(
        facet(json!({"key": "parity", "filter": {"must": [{"key": "n", "match": {"value": 99}}]}})),
        vec![]
    );
    // deleted points are not counted
    s.ok(
        "POST",
        "/collections/f/points/delete?wait=true",
        Some(&json!({"points": [0, 2]})),
    );
    assert_eq!(
        facet(json!({"key": "parity"})),
        vec![(json!("odd"), 6), (json!("even"), 4)]
    );
}

#[test]
fn facet_errors_answer_like_qdrant() {
    let s = Server::start();
    setup(&s, "f");
    s.ok(
        "PUT",
        "/collections/f/points?wait=true",
        Some(&json!({"points": [{"id": 100, "vector": [1, 2, 3], "payload": {"price": 1.5, "city": "x"}}]})),
    );
    s.ok(
        "PUT",
        "/collections/f/index?wait=true",
        Some(&json!({"field_name": "price", "field_schema": "float"})),
    );
    for key in ["city", "price"] {
        let msg = s.fail(
            "POST",
            "/collections/f/facet",
            Some(&json!({"key": key})),
            400,
        );
        assert!(
            msg.contains(&format!("No appropriate index for faceting: `{key}`")),
            "{msg}"
        );
    }
    let msg = s.fail(
        "POST",
        "/collections/f/facet",
        Some(&json!({"key": "parity", "limit": 0})),
        422,
    );
    assert!(msg.contains("limit"), "{msg}");
    let msg = s.fail("POST", "/collections/f/facet", Some(&json!({})), 400);
    assert!(msg.contains("key"), "{msg}");
    let msg = s.fail(
        "POST",
        "/collections/f/facet",
        Some(&json!({"key": "parity", "filter": {"must": [{"key": "n", "match": 3}]}})),
        400,
    );
    assert!(msg.contains("filter.must[0]"), "{msg}");
    s.fail(
        "POST",
        "/collections/nope/facet",
        Some(&json!({"key": "parity"})),
        404,
    );
}

/// Brute force: for each id (in order), the others by distance ascending (Euclid), ties to
/// the lower id, first `limit`.
fn expected_pairs(points: &[(u64, [f64; 3])], limit: usize) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    for (a, va) in points {
        let mut others: Vec<(f64, u64)> = points
            .iter()
            .filter(|(b, _)| b != a)
            .map(|(b, vb)| {
                let d: f64 = va.iter().zip(vb).map(|(x, y)| (x - y) * (x - y)).sum();
                (d.sqrt(), *b)
            })
            .collect();
        others.sort_by(|x, y| x.partial_cmp(y).unwrap());
        out.extend(others.into_iter().take(limit).map(|(_, b)| (*a, b)));
    }
    out
}

#[test]
fn search_matrix_pairs_and_offsets_are_the_nearest_sampled_neighbours() {
    let s = Server::start();
    setup(&s, "m");
    let points: Vec<(u64, [f64; 3])> = (0..12u64)
        .map(|i| (i, [i as f64, (i % 4) as f64, 1.0]))
        .collect();
    // a sample as large as the collection takes every point
    let r = s.ok(
        "POST",
        "/collections/m/points/search/matrix/pairs",
        Some(&json!({"sample": 20, "limit": 2})),
    );
    let pairs = r["pairs"].as_array().unwrap();
    let got: Vec<(u64, u64)> = pairs
        .iter()
        .map(|p| (p["a"].as_u64().unwrap(), p["b"].as_u64().unwrap()))
        .collect();
    assert_eq!(got, expected_pairs(&points, 2));
    let d01 = (1.0f64 + 1.0).sqrt();
    assert!(
        (pairs[0]["score"].as_f64().unwrap() - d01).abs() < 1e-5,
        "{r}"
    );

    let r = s.ok(
        "POST",
        "/collections/m/points/search/matrix/offsets",
        Some(&json!({"sample": 20, "limit": 2, "filter": {"must": [{"key": "parity", "match": {"value": "even"}}]}})),
    );
    let even: Vec<(u64, [f64; 3])> = points.iter().copied().filter(|p| p.0 % 2 == 0).collect();
    let ids: Vec<u64> = r["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(ids, vec![0, 2, 4, 6, 8, 10]);
    let rows = r["offsets_row"].as_array().unwrap();
    let cols = r["offsets_col"].as_array().unwrap();
    assert_eq!(rows.len(), 12);
    assert_eq!(r["scores"].as_array().unwrap().len(), 12);
    let got: Vec<(u64, u64)> = rows
        .iter()
        .zip(cols)
        .map(|(a, b)| {
            (
                ids[a.as_u64().unwrap() as usize],
                ids[b.as_u64().unwrap() as usize],
            )
        })
        .collect();
    assert_eq!(got, expected_pairs(&even, 2));

    // the default sample is 10 of the 12 points, 3 neighbours each, drawn at random
    let r = s.ok(
        "POST",
        "/collections/m/points/search/matrix/offsets",
        Some(&json!({})),
    );
    assert_eq!(r["ids"].as_array().unwrap().len(), 10);
    assert_eq!(r["scores"].as_array().unwrap().len(), 30);
    let r = s.ok(
        "POST",
        "/collections/m/points/search/matrix/pairs",
        Some(&Value::Null),
    );
    assert_eq!(r["pairs"].as_array().unwrap().len(), 30);

    // fewer than two matching points: an empty matrix
    let one = json!({"filter": {"must": [{"has_id": [3]}]}});
    let r = s.ok(
        "POST",
        "/collections/m/points/search/matrix/pairs",
        Some(&one),
    );
    assert_eq!(r, json!({"pairs": []}));
    let r = s.ok(
        "POST",
        "/collections/m/points/search/matrix/offsets",
        Some(&one),
    );
    assert_eq!(
        r,
        json!({"offsets_row": [], "offsets_col": [], "scores": [], "ids": []})
    );
}

#[test]
fn search_matrix_errors_answer_like_qdrant() {
    let s = Server::start();
    setup(&s, "m");
    for route in ["pairs", "offsets"] {
        let p = format!("/collections/m/points/search/matrix/{route}");
        let msg = s.fail("POST", &p, Some(&json!({"sample": 1})), 422);
        assert!(msg.contains("sample"), "{msg}");
        let msg = s.fail("POST", &p, Some(&json!({"limit": 0})), 422);
        assert!(msg.contains("limit"), "{msg}");
        // as in local mode: no point has a vector that does not exist
        let r = s.ok("POST", &p, Some(&json!({"using": "img"})));
        assert!(
            r.as_object().unwrap().values().all(|v| v == &json!([])),
            "{r}"
        );
        let msg = s.fail("POST", &p, Some(&json!({"sample": "x"})), 400);
        assert!(msg.contains("sample"), "{msg}");
        s.fail(
            "POST",
            &format!("/collections/nope/points/search/matrix/{route}"),
            Some(&json!({})),
            404,
        );
    }
}

#[test]
fn search_matrix_uses_the_named_vector_and_skips_points_without_it() {
    let s = Server::start();
    s.ok(
        "PUT",
        "/collections/n",
        Some(&json!({"vectors": {"a": {"size": 2, "distance": "Dot"}, "b": {"size": 2, "distance": "Cosine"}}})),
    );
    s.ok(
        "PUT",
        "/collections/n/points?wait=true",
        Some(&json!({"points": [
            {"id": 1, "vector": {"a": [1, 0], "b": [1, 0]}},
            {"id": 2, "vector": {"a": [2, 0]}},
            {"id": 3, "vector": {"a": [3, 0], "b": [0, 1]}},
        ]})),
    );
    let r = s.ok(
        "POST",
        "/collections/n/points/search/matrix/pairs",
        Some(&json!({"using": "b", "limit": 5})),
    );
    assert_eq!(
        r,
        json!({"pairs": [{"a": 1, "b": 3, "score": 0.0}, {"a": 3, "b": 1, "score": 0.0}]})
    );
    let r = s.ok(
        "POST",
        "/collections/n/points/search/matrix/pairs",
        Some(&json!({"using": "a", "limit": 1})),
    );
    assert_eq!(
        r,
        json!({"pairs": [{"a": 1, "b": 3, "score": 3.0}, {"a": 2, "b": 3, "score": 6.0}, {"a": 3, "b": 2, "score": 6.0}]})
    );
}

#[test]
fn cluster_routes_answer_as_a_single_node_without_cluster_mode() {
    let s = Server::start();
    setup(&s, "c");
    assert_eq!(s.ok("GET", "/cluster", None), json!({"status": "disabled"}));
    let info = s.ok("GET", "/collections/c/cluster", None);
    assert!(info["peer_id"].is_u64(), "{info}");
    assert_eq!(info["shard_count"], 1);
    assert_eq!(
        info["local_shards"],
        json!([{"shard_id": 0, "points_count": 12, "state": "Active"}])
    );
    assert_eq!(info["remote_shards"], json!([]));
    assert_eq!(info["shard_transfers"], json!([]));
    // the peer id is the same for every collection
    setup(&s, "d");
    assert_eq!(
        s.ok("GET", "/collections/d/cluster", None)["peer_id"],
        info["peer_id"]
    );
    s.fail("GET", "/collections/nope/cluster", None, 404);
    let refusals = [
        (
            "POST",
            "/collections/c/cluster",
            json!({"move_shard": {"shard_id": 0, "from_peer_id": 1, "to_peer_id": 2}}),
        ),
        (
            "PUT",
            "/collections/c/shards",
            json!({"shard_key": "tenant1"}),
        ),
        (
            "POST",
            "/collections/c/shards/delete",
            json!({"shard_key": "tenant1"}),
        ),
        ("POST", "/cluster/recover", json!({})),
        ("DELETE", "/cluster/peer/12345", json!({})),
    ];
    for (method, route, body) in refusals {
        let msg = s.fail(method, route, Some(&body), 400);
        assert!(
            msg.starts_with("Bad request: Distributed mode disabled"),
            "{method} {route}: {msg}"
        );
        assert!(msg.contains("cluster mode"), "{msg}");
    }
}

#[test]
fn issues_are_an_empty_list_on_a_healthy_server_and_clearing_answers_true() {
    let s = Server::start();
    setup(&s, "i");
    assert_eq!(s.ok("GET", "/issues", None), json!({"issues": []}));
    assert_eq!(s.ok("DELETE", "/issues", None), json!(true));
    assert_eq!(s.ok("GET", "/issues", None), json!({"issues": []}));
}

#[test]
fn the_read_only_key_may_facet_and_sample_but_not_change_the_cluster() {
    const RW: &str = "rw-key-0123456789";
    const RO: &str = "ro-key-9876543210";
    let mut cmd = Server::command();
    cmd.env("RVDB__SERVICE__API_KEY", RW)
        .env("RVDB__SERVICE__READ_ONLY_API_KEY", RO);
    let s = Server::spawn(cmd);
    let rw = [("api-key", RW)];
    let ro = [("api-key", RO)];
    let (st, _) = s.send_with(
        "PUT",
        "/collections/k",
        Some(&json!({"vectors": {"size": 2, "distance": "Dot"}})),
        &rw,
    );
    assert_eq!(st, 200);
    let (st, _) = s.send_with(
        "PUT",
        "/collections/k/index?wait=true",
        Some(&json!({"field_name": "a", "field_schema": "keyword"})),
        &rw,
    );
    assert_eq!(st, 200);
    let reads = [
        ("/collections/k/facet", json!({"key": "a"})),
        ("/collections/k/points/search/matrix/pairs", json!({})),
        ("/collections/k/points/search/matrix/offsets", json!({})),
    ];
    for (route, body) in reads {
        let (st, v) = s.send_with("POST", route, Some(&body), &ro);
        assert_eq!(st, 200, "{route}: {v}");
    }
    let (st, _) = s.send_with("GET", "/collections/k/cluster", None, &ro);
    assert_eq!(st, 200);
    let (st, _) = s.send_with(
        "PUT",
        "/collections/k/shards",
        Some(&json!({"shard_key": "x"})),
        &ro,
    );
    assert_eq!(st, 403);
    let (st, _) = s.send_with("DELETE", "/issues", None, &ro);
    assert_eq!(st, 403);
}

#[test]
fn shard_keys_are_null_and_cluster_telemetry_fails_as_without_cluster_mode() {
    let s = Server::start();
    setup(&s, "c");
    assert_eq!(
        s.ok("GET", "/collections/c/shards", None),
        json!({"shard_keys": null})
    );
    let msg = s.fail("GET", "/collections/nope/shards", None, 404);
    assert!(msg.contains("doesn't exist"), "{msg}");
    let msg = s.fail("GET", "/cluster/telemetry?details_level=3", None, 400);
    assert!(
        msg.starts_with("Bad request: Distributed mode disabled: could not get telemetry"),
        "{msg}"
    );
}

/// Points whose vectors alone pass `indexing_threshold: 1` (1 KB) after a few dozen.
fn fill_indexed(s: &Server, name: &str, n: u64) {
    s.ok(
        "PUT",
        &format!("/collections/{name}"),
        Some(&json!({"vectors": {"size": 8, "distance": "Cosine"},
                     "optimizers_config": {"indexing_threshold": 1}})),
    );
    let points: Vec<Value> = (0..n)
        .map(|i| json!({"id": i, "vector": (0..8).map(|d| ((i * 7 + d) % 11) as f64 + 0.5).collect::<Vec<_>>()}))
        .collect();
    s.ok(
        "PUT",
        &format!("/collections/{name}/points?wait=true"),
        Some(&json!({"points": points})),
    );
}

fn wait_green(s: &Server, name: &str) {
    for _ in 0..600 {
        if s.ok("GET", &format!("/collections/{name}"), None)["status"] == "green" {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("collection {name} never became green");
}

#[test]
fn optimizations_report_the_optimizer_work_done_queued_and_idle() {
    let s = Server::start();
    fill_indexed(&s, "o", 300);
    wait_green(&s, "o");
    let all = s.ok(
        "GET",
        "/collections/o/optimizations?with=queued,completed,idle_segments",
        None,
    );
    assert_eq!(all["running"], json!([]), "{all}");
    assert_eq!(all["queued"], json!([]), "{all}");
    let summary = &all["summary"];
    assert_eq!(
        (
            &summary["queued_optimizations"],
            &summary["queued_segments"],
            &summary["queued_points"]
        ),
        (&json!(0), &json!(0), &json!(0)),
        "{all}"
    );
    let completed = all["completed"].as_array().unwrap();
    assert!(!completed.is_empty(), "{all}");
    for o in completed {
        assert_eq!(o["status"], "done", "{o}");
        assert!(
            ["indexing", "merge", "vacuum"].contains(&o["optimizer"].as_str().unwrap()),
            "{o}"
        );
        assert_eq!(o["uuid"].as_str().unwrap().len(), 36, "{o}");
        assert!(!o["segments"].as_array().unwrap().is_empty(), "{o}");
        assert_eq!(o["progress"]["name"], o["optimizer"]);
        assert!(o["progress"]["finished_at"].is_string(), "{o}");
        assert!(o["progress"]["duration_sec"].as_f64().unwrap() >= 0.0);
    }
    assert!(
        completed.iter().any(|o| o["optimizer"] == "indexing"),
        "{all}"
    );
    // every point is in some idle segment (the appendable one included)
    let idle = all["idle_segments"].as_array().unwrap();
    assert_eq!(summary["idle_segments"], json!(idle.len()));
    let points: u64 = idle
        .iter()
        .map(|s| s["points_count"].as_u64().unwrap())
        .sum();
    assert_eq!(points, 300, "{all}");
    // the optional parts only when asked for, and the limit
    let plain = s.ok("GET", "/collections/o/optimizations", None);
    assert!(
        plain.get("queued").is_none() && plain.get("completed").is_none(),
        "{plain}"
    );
    assert!(plain.get("idle_segments").is_none(), "{plain}");
    let one = s.ok(
        "GET",
        "/collections/o/optimizations?with=completed&completed_limit=1",
        None,
    );
    assert_eq!(one["completed"].as_array().unwrap().len(), 1, "{one}");
    assert_eq!(one["completed"][0], completed[0], "newest first");
    // a collection whose optimizer has nothing to do: one idle (appendable) segment
    s.ok(
        "PUT",
        "/collections/e",
        Some(&json!({"vectors": {"size": 2, "distance": "Dot"}})),
    );
    let e = s.ok(
        "GET",
        "/collections/e/optimizations?with=idle_segments,completed",
        None,
    );
    assert_eq!(e["completed"], json!([]));
    assert_eq!(e["summary"]["idle_segments"], 1, "{e}");
    // errors
    s.fail("GET", "/collections/nope/optimizations", None, 404);
    let msg = s.fail(
        "GET",
        "/collections/o/optimizations?with=everything",
        None,
        400,
    );
    assert!(msg.contains("with"), "{msg}");
    s.fail(
        "GET",
        "/collections/o/optimizations?completed_limit=-1",
        None,
        400,
    );
}

#[test]
fn quotas_are_stored_persisted_and_refuse_updates_that_add_data() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::persistent(dir.path());
    let got = s.ok("GET", "/quotas", None);
    assert_eq!(got["config"], json!({"enabled": false}), "{got}");
    assert!(
        got["usage"]["disk_usage_percent"].as_u64().is_some(),
        "{got}"
    );
    assert!(got["usage"]["resident_memory_percent"].is_u64(), "{got}");
    assert!(got.get("peers").is_none(), "a single node: {got}");
    s.ok(
        "PUT",
        "/collections/q",
        Some(&json!({"vectors": {"size": 2, "distance": "Dot"}})),
    );
    s.ok(
        "PUT",
        "/collections/q/points?wait=true",
        Some(
            &json!({"points": [{"id": 1, "vector": [1.0, 0.0]}, {"id": 2, "vector": [0.0, 1.0]}]}),
        ),
    );
    // out of range: refused, nothing changes
    for bad in [
        json!({"enabled": true, "max_disk_usage_percent": 0}),
        json!({"enabled": true, "max_resident_memory_percent": 101}),
        json!({"release_margin_percent": 101}),
    ] {
        let (st, v) = s.send("PUT", "/quotas", Some(&bad));
        assert!(st == 422 || st == 400, "{bad}: {st} {v}");
    }
    assert_eq!(
        s.ok("GET", "/quotas", None)["config"],
        json!({"enabled": false})
    );
    // any disk in use is at least 1% full
    let limit = json!({"enabled": true, "max_disk_usage_percent": 1, "release_margin_percent": 0});
    assert_eq!(s.ok("PUT", "/quotas?wait=true", Some(&limit)), json!(true));
    assert_eq!(s.ok("GET", "/quotas", None)["config"], limit);
    let refused = [
        (
            "PUT",
            "/collections/q/points",
            json!({"points": [{"id": 3, "vector": [1.0, 1.0]}]}),
        ),
        (
            "PUT",
            "/collections/q/points/4",
            json!({"vector": [1.0, 1.0]}),
        ),
        (
            "POST",
            "/collections/q/points",
            json!([{"id": 5, "vector": [1.0, 1.0]}]),
        ),
        (
            "POST",
            "/collections/q/points/payload",
            json!({"payload": {"a": 1}, "points": [1]}),
        ),
        (
            "PUT",
            "/collections/q/points/vectors",
            json!({"points": [{"id": 1, "vector": [0.5, 0.5]}]}),
        ),
        (
            "POST",
            "/collections/q/points/batch",
            json!({"operations": []}),
        ),
    ];
    for (m, p, b) in &refused {
        let msg = s.fail(m, p, Some(b), 507);
        assert!(msg.starts_with("Disk usage is at "), "{m} {p}: {msg}");
        assert!(msg.contains("configured limit of 1%"), "{msg}");
        assert!(
            msg.contains("`max_disk_usage_percent` in the global quota config"),
            "{msg}"
        );
    }
    // the verdict is a metric too, as in Qdrant
    let (st, _, metrics) = s.get_text("/metrics", &[]);
    assert_eq!(st, 200);
    assert!(
        metrics.contains("quota_exceeded{resource=\"disk\"} 1"),
        "{metrics}"
    );
    assert!(
        !metrics.contains("resource=\"memory\""),
        "no memory limit set"
    );
    // reads and point deletes go on
    s.ok(
        "POST",
        "/collections/q/points",
        Some(&json!({"ids": [1, 2]})),
    );
    s.ok("POST", "/collections/q/points/count", Some(&json!({})));
    s.ok(
        "POST",
        "/collections/q/points/delete?wait=true",
        Some(&json!({"points": [2]})),
    );
    assert_eq!(
        s.ok("POST", "/collections/q/points/count", Some(&json!({})))["count"],
        1
    );
    // persisted: still in force after a restart
    drop(s);
    let s = Server::persistent(dir.path());
    assert_eq!(s.ok("GET", "/quotas", None)["config"], limit);
    s.fail(
        "PUT",
        "/collections/q/points",
        Some(&json!({"points": [{"id": 3, "vector": [1.0, 1.0]}]})),
        507,
    );
    // disabled: writes go through again, and there is no quota series
    s.ok(
        "PUT",
        "/quotas",
        Some(&json!({"enabled": false, "max_disk_usage_percent": 1})),
    );
    assert!(!s.get_text("/metrics", &[]).2.contains("quota_exceeded"));
    s.ok(
        "PUT",
        "/collections/q/points?wait=true",
        Some(&json!({"points": [{"id": 3, "vector": [1.0, 1.0]}]})),
    );
}

#[test]
fn quotas_in_memory_have_no_disk_usage_and_the_read_only_key_cannot_set_them() {
    const RW: &str = "rw-key-0123456789";
    const RO: &str = "ro-key-9876543210";
    let mut cmd = Server::command();
    cmd.env("RVDB__SERVICE__API_KEY", RW)
        .env("RVDB__SERVICE__READ_ONLY_API_KEY", RO);
    let s = Server::spawn(cmd);
    let ro = [("api-key", RO)];
    let rw = [("api-key", RW)];
    let (st, v) = s.send_with("GET", "/quotas", None, &ro);
    assert_eq!(st, 200, "{v}");
    assert!(v["result"]["usage"]["disk_usage_percent"].is_null(), "{v}");
    let on = json!({"enabled": true, "max_disk_usage_percent": 1});
    let (st, _) = s.send_with("PUT", "/quotas", Some(&on), &ro);
    assert_eq!(st, 403);
    let (st, v) = s.send_with("PUT", "/quotas", Some(&on), &rw);
    assert_eq!(st, 200, "{v}");
    // no storage directory: the disk limit is not enforced
    let (st, _) = s.send_with(
        "PUT",
        "/collections/m",
        Some(&json!({"vectors": {"size": 2, "distance": "Dot"}})),
        &rw,
    );
    assert_eq!(st, 200);
    let (st, v) = s.send_with(
        "PUT",
        "/collections/m/points?wait=true",
        Some(&json!({"points": [{"id": 1, "vector": [1.0, 0.0]}]})),
        &rw,
    );
    assert_eq!(st, 200, "{v}");
    for route in [
        "/collections/m/shards",
        "/collections/m/optimizations",
        "/collections/m/shards/0/snapshots",
    ] {
        let (st, v) = s.send_with("GET", route, None, &ro);
        assert_eq!(st, 200, "{route}: {v}");
    }
    for (m, route) in [
        ("POST", "/collections/m/shards/0/snapshots"),
        ("DELETE", "/collections/m/shards/0/snapshots/x.snapshot"),
        ("PUT", "/collections/m/shards/0/snapshots/recover"),
    ] {
        let (st, v) = s.send_with(m, route, Some(&json!({"location": "file:///x"})), &ro);
        assert_eq!(st, 403, "{m} {route}: {v}");
    }
}
