//! Qdrant's facet and search-matrix reads over HTTP, and the cluster and issues routes as a
//! single-node Qdrant without its cluster mode answers them, error cases included.

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
