//! Every seed route over HTTP against the real binary, every distance, the filter, bad input.

mod common;

use common::Server;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

const UUID1: &str = "550e8400-e29b-41d4-a716-446655440000";

fn ids(hits: &Value) -> Vec<Value> {
    hits.as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].clone())
        .collect()
}

#[test]
fn the_seed_walkthrough_works_word_for_word() {
    let s = Server::start();
    let health = s.ok("GET", "/health", None);
    assert_eq!(health["status"], "ok");

    assert_eq!(
        s.ok(
            "PUT",
            "/collections/my_collection",
            Some(&json!({"name": "my_collection", "distance": "Cosine"}))
        ),
        json!(true)
    );
    let put = s.ok(
        "PUT",
        &format!("/collections/my_collection/points/{UUID1}"),
        Some(&json!({"vector": [0.1, 0.2, 0.3, 0.4], "payload": {"name": "Item 1", "category": "electronics"}})),
    );
    assert_eq!(put["status"], "completed");
    assert_eq!(put["ids"], json!([UUID1]));

    let batch = s.ok(
        "POST",
        "/collections/my_collection/points",
        Some(&json!([
            {"vector": [0.1, 0.2, 0.3, 0.4], "payload": {"name": "Item 1", "category": "electronics"}},
            {"vector": [0.5, 0.6, 0.7, 0.8], "payload": {"name": "Item 2", "category": "books"}}
        ])),
    );
    let new_ids = batch["ids"].as_array().unwrap();
    assert_eq!(new_ids.len(), 2);
    for id in new_ids {
        let u = id.as_str().unwrap();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4", "a UUIDv4: {u}");
    }

    let hits = s.ok(
        "POST",
        "/collections/my_collection/points/search",
        Some(&json!({"vector": [0.1, 0.2, 0.3, 0.4], "limit": 10})),
    );
    let hits = hits.as_array().unwrap();
    assert_eq!(hits.len(), 3);
    for h in hits {
        for key in ["id", "version", "score", "payload", "vector"] {
            assert!(h.get(key).is_some(), "hit has {key}: {h}");
        }
        assert!(h["payload"].is_object(), "with_payload defaults to true");
        assert!(h["vector"].is_null(), "with_vector defaults to false");
    }
    assert!((hits[0]["score"].as_f64().unwrap() - 1.0).abs() < 1e-5);
    assert_eq!(hits[2]["payload"]["category"], "books");

    let filtered = s.ok(
        "POST",
        "/collections/my_collection/points/search",
        Some(&json!({"vector": [0.1, 0.2, 0.3, 0.4], "limit": 10, "filter": {"category": "electronics"}})),
    );
    assert_eq!(filtered.as_array().unwrap().len(), 2);
    assert!(filtered
        .as_array()
        .unwrap()
        .iter()
        .all(|h| h["payload"]["category"] == "electronics"));

    let got = s.ok(
        "GET",
        &format!("/collections/my_collection/points/{UUID1}"),
        None,
    );
    assert_eq!(got["id"], UUID1);
    assert_eq!(got["payload"]["name"], "Item 1");
    assert_eq!(got["vector"].as_array().unwrap().len(), 4);

    let all = s.ok("GET", "/collections/my_collection/points", None);
    assert_eq!(all["points"].as_array().unwrap().len(), 3);
    assert_eq!(all["total"], 3);

    s.ok(
        "DELETE",
        &format!("/collections/my_collection/points/{UUID1}"),
        None,
    );
    s.fail(
        "GET",
        &format!("/collections/my_collection/points/{UUID1}"),
        None,
        404,
    );
    s.fail(
        "DELETE",
        &format!("/collections/my_collection/points/{UUID1}"),
        None,
        404,
    );

    assert_eq!(
        s.ok("GET", "/collections", None),
        json!({"collections": [{"name": "my_collection"}]})
    );
    let info = s.ok("GET", "/collections/my_collection", None);
    assert_eq!(info["points_count"], 2);
    assert_eq!(
        info["config"]["params"]["vectors"],
        json!({"size": 4, "distance": "Cosine"})
    );

    let stats = s.ok("GET", "/stats", None);
    assert_eq!(stats["collections_count"], 1);
    assert_eq!(stats["total_points"], 2);
    assert_eq!(stats["storage"], "memory");

    assert_eq!(
        s.ok("DELETE", "/collections/my_collection", None),
        json!(true)
    );
    assert_eq!(
        s.ok("DELETE", "/collections/my_collection", None),
        json!(false)
    );
    assert_eq!(
        s.ok("GET", "/collections", None),
        json!({"collections": []})
    );
}

#[test]
fn integer_and_uuid_ids_work_in_paths_and_bodies() {
    let s = Server::start();
    s.ok("PUT", "/collections/c", Some(&json!({"distance": "Dot"})));
    s.ok(
        "PUT",
        "/collections/c/points/42",
        Some(&json!({"vector": [1.0, 0.0]})),
    );
    s.ok(
        "POST",
        "/collections/c/points",
        Some(&json!([{"id": 7, "vector": [0.0, 1.0]}, {"id": UUID1, "vector": [1.0, 1.0], "payload": {"k": 1}}])),
    );
    assert_eq!(
        s.ok("GET", "/collections/c/points/42", None)["id"],
        json!(42)
    );
    assert_eq!(s.ok("GET", "/collections/c/points/7", None)["id"], json!(7));
    // a UUID in any case is the same point
    let upper = UUID1.to_uppercase();
    assert_eq!(
        s.ok("GET", &format!("/collections/c/points/{upper}"), None)["id"],
        json!(UUID1)
    );
    // id order: integers first, ascending, then UUIDs
    let all = s.ok("GET", "/collections/c/points", None);
    assert_eq!(ids(&all["points"]), vec![json!(7), json!(42), json!(UUID1)]);
    // the body's id must agree with the path's
    let e = s.fail(
        "PUT",
        "/collections/c/points/1",
        Some(&json!({"id": 2, "vector": [1.0, 0.0]})),
        400,
    );
    assert!(e.contains("id"), "{e}");
    // overwrite keeps one point
    s.ok(
        "PUT",
        "/collections/c/points/42",
        Some(&json!({"vector": [0.5, 0.5], "payload": {"v": 2}})),
    );
    let p = s.ok("GET", "/collections/c/points/42", None);
    assert_eq!(p["payload"], json!({"v": 2}));
    assert_eq!(s.ok("GET", "/collections/c/points", None)["total"], 3);
}

/// The reference scores, computed here independently of the server.
fn reference(distance: &str, a: &[f64], b: &[f64]) -> f64 {
    let dot = |x: &[f64], y: &[f64]| x.iter().zip(y).map(|(p, q)| p * q).sum::<f64>();
    match distance {
        "Cosine" => dot(a, b) / (dot(a, a).sqrt() * dot(b, b).sqrt()),
        "Dot" | "DotProduct" => dot(a, b),
        "Euclid" | "Euclidean" => a
            .iter()
            .zip(b)
            .map(|(p, q)| (p - q) * (p - q))
            .sum::<f64>()
            .sqrt(),
        "Manhattan" => a.iter().zip(b).map(|(p, q)| (p - q).abs()).sum(),
        _ => unreachable!(),
    }
}

#[test]
fn every_distance_scores_and_orders_as_documented() {
    let s = Server::start();
    let mut rng = StdRng::seed_from_u64(12345);
    let mut rnd = move || rng.random_range(0..2000u32) as f64 / 1000.0 - 1.0;
    let points: Vec<Vec<f64>> = (0..60).map(|_| (0..5).map(|_| rnd()).collect()).collect();
    let query: Vec<f64> = (0..5).map(|_| rnd()).collect();
    for (name, canonical, higher_better) in [
        ("Cosine", "Cosine", true),
        ("Euclid", "Euclid", false),
        ("Euclidean", "Euclid", false),
        ("Dot", "Dot", true),
        ("DotProduct", "Dot", true),
        ("Manhattan", "Manhattan", false),
    ] {
        let coll = format!("/collections/d_{name}");
        s.ok(
            "PUT",
            &coll,
            Some(&json!({"name": format!("d_{name}"), "distance": name})),
        );
        let body: Vec<Value> = points
            .iter()
            .enumerate()
            .map(|(i, v)| json!({"id": i, "vector": v}))
            .collect();
        s.ok("POST", &format!("{coll}/points"), Some(&Value::Array(body)));
        let info = s.ok("GET", &coll, None);
        assert_eq!(info["config"]["params"]["vectors"]["distance"], canonical);
        let hits = s.ok(
            "POST",
            &format!("{coll}/points/search"),
            Some(&json!({"vector": query, "limit": 10})),
        );
        let hits = hits.as_array().unwrap();
        assert_eq!(hits.len(), 10);
        let mut expected: Vec<(usize, f64)> = points
            .iter()
            .enumerate()
            .map(|(i, p)| (i, reference(name, p, &query)))
            .collect();
        expected.sort_by(|a, b| {
            if higher_better {
                b.1.total_cmp(&a.1)
            } else {
                a.1.total_cmp(&b.1)
            }
        });
        for (hit, (id, score)) in hits.iter().zip(&expected) {
            assert_eq!(hit["id"], json!(id), "{name}");
            let got = hit["score"].as_f64().unwrap();
            assert!(
                (got - score).abs() <= 1e-4 * score.abs().max(1.0),
                "{name}: {got} vs {score}"
            );
        }
    }
}

#[test]
fn qdrant_create_body_fixes_the_dimension_up_front() {
    let s = Server::start();
    s.ok(
        "PUT",
        "/collections/q",
        Some(&json!({"vectors": {"size": 3, "distance": "Euclid"}})),
    );
    let info = s.ok("GET", "/collections/q", None);
    assert_eq!(
        info["config"]["params"]["vectors"],
        json!({"size": 3, "distance": "Euclid"})
    );
    let e = s.fail(
        "PUT",
        "/collections/q/points/1",
        Some(&json!({"vector": [1.0, 2.0]})),
        400,
    );
    assert_eq!(
        e,
        "Wrong input: Vector dimension error: expected dim: 3, got 2"
    );
    s.fail(
        "PUT",
        "/collections/bad",
        Some(&json!({"vectors": {"size": 0, "distance": "Dot"}})),
        400,
    );
    s.fail(
        "PUT",
        "/collections/bad",
        Some(&json!({"vectors": {"size": 3}})),
        400,
    );
}

#[test]
fn search_takes_limit_offset_threshold_and_field_selection() {
    let s = Server::start();
    s.ok(
        "PUT",
        "/collections/e",
        Some(&json!({"distance": "Euclid"})),
    );
    let pts: Vec<Value> = (0..30)
        .map(|i| json!({"id": i, "vector": [i as f64], "payload": {"i": i}}))
        .collect();
    s.ok("POST", "/collections/e/points", Some(&Value::Array(pts)));
    let search = |body: Value| s.ok("POST", "/collections/e/points/search", Some(&body));
    assert_eq!(
        search(json!({"vector": [0.0]})).as_array().unwrap().len(),
        10,
        "limit defaults to 10"
    );
    let page = search(json!({"vector": [0.0], "limit": 3, "offset": 2}));
    assert_eq!(ids(&page), vec![json!(2), json!(3), json!(4)]);
    // Euclid: the score is the distance, and the threshold keeps distances ≤ it
    let near = search(json!({"vector": [0.0], "limit": 100, "score_threshold": 4.5}));
    assert_eq!(ids(&near), (0..5).map(|i| json!(i)).collect::<Vec<_>>());
    assert_eq!(near[4]["score"], json!(4.0));
    let bare =
        search(json!({"vector": [0.0], "limit": 1, "with_payload": false, "with_vector": true}));
    assert!(bare[0]["payload"].is_null());
    assert_eq!(bare[0]["vector"], json!([0.0]));
    // an empty collection answers an empty list
    s.ok(
        "PUT",
        "/collections/empty",
        Some(&json!({"distance": "Dot"})),
    );
    assert_eq!(
        s.ok(
            "POST",
            "/collections/empty/points/search",
            Some(&json!({"vector": [1.0]}))
        ),
        json!([])
    );
}

#[test]
fn filters_match_dotted_paths_arrays_and_the_qdrant_dsl() {
    let s = Server::start();
    s.ok("PUT", "/collections/f", Some(&json!({"distance": "Dot"})));
    s.ok(
        "POST",
        "/collections/f/points",
        Some(&json!([
            {"id": 1, "vector": [1.0], "payload": {"genre": "sci-fi", "year": 1999, "meta": {"color": "red"}, "tags": ["a", "b"]}},
            {"id": 2, "vector": [2.0], "payload": {"genre": "sci-fi", "year": 2010, "meta": {"color": "blue"}, "tags": ["b"]}},
            {"id": 3, "vector": [3.0], "payload": {"genre": "romance", "year": 2004, "tags": []}},
            {"id": 4, "vector": [4.0]}
        ])),
    );
    let found = |filter: Value| {
        let mut v = ids(&s.ok(
            "POST",
            "/collections/f/points/search",
            Some(&json!({"vector": [1.0], "filter": filter})),
        ));
        v.sort_by_key(|x| x.as_u64());
        v
    };
    assert_eq!(found(json!({"genre": "sci-fi"})), [json!(1), json!(2)]);
    assert_eq!(found(json!({"genre": "sci-fi", "year": 2010})), [json!(2)]);
    assert_eq!(found(json!({"meta.color": "red"})), [json!(1)]);
    assert_eq!(found(json!({"tags": "b"})), [json!(1), json!(2)]);
    assert_eq!(found(json!({"tags": "a"})), [json!(1)]);
    assert!(found(json!({"genre": "western"})).is_empty());
    assert_eq!(found(json!({})).len(), 4);
    assert_eq!(found(json!(null)).len(), 4);
    // the same route takes Qdrant's DSL
    assert_eq!(
        found(
            json!({"must": [{"key": "year", "range": {"gte": 2000}}], "must_not": [{"key": "genre", "match": {"value": "romance"}}]})
        ),
        [json!(2)]
    );
    assert_eq!(
        found(json!({"should": [{"has_id": [4]}, {"key": "tags", "match": {"any": ["a"]}}]})),
        [json!(1), json!(4)]
    );
    assert_eq!(
        found(json!({"must": [{"is_empty": {"key": "tags"}}]})),
        [json!(3), json!(4)]
    );
    // malformed filters are a 400 that names the field
    let e = s.fail(
        "POST",
        "/collections/f/points/search",
        Some(&json!({"vector": [1.0], "filter": {"tags": ["a"]}})),
        400,
    );
    assert!(e.contains("filter.tags"), "{e}");
    let e = s.fail(
        "POST",
        "/collections/f/points/search",
        Some(
            &json!({"vector": [1.0], "filter": {"must": [{"key": "year", "range": {"gte": "x"}}]}}),
        ),
        400,
    );
    assert!(e.contains("filter.must[0].range.gte"), "{e}");
}

#[test]
fn listing_pages_with_limit_and_offset() {
    let s = Server::start();
    s.ok("PUT", "/collections/l", Some(&json!({"distance": "Dot"})));
    let pts: Vec<Value> = (0..25)
        .rev()
        .map(|i| json!({"id": i, "vector": [1.0]}))
        .collect();
    s.ok("POST", "/collections/l/points", Some(&Value::Array(pts)));
    let mut seen = Vec::new();
    let mut offset = Some(0u64);
    while let Some(o) = offset {
        let page = s.ok(
            "GET",
            &format!("/collections/l/points?limit=10&offset={o}"),
            None,
        );
        assert_eq!(page["total"], 25);
        seen.extend(ids(&page["points"]));
        offset = page["next_offset"].as_u64();
    }
    assert_eq!(seen, (0..25).map(|i| json!(i)).collect::<Vec<_>>());
    let e = s.fail("GET", "/collections/l/points?limit=-1", None, 400);
    assert!(e.contains("limit"), "{e}");
    s.fail("GET", "/collections/l/points?offset=x", None, 400);
}

#[test]
fn bad_input_gets_a_4xx_that_names_the_problem_and_applies_nothing() {
    let s = Server::start_with(&[("RVDB_MAX_BODY_BYTES", "4096")]);
    s.ok(
        "PUT",
        "/collections/b",
        Some(&json!({"distance": "Cosine"})),
    );
    s.ok(
        "PUT",
        "/collections/b/points/1",
        Some(&json!({"vector": [1.0, 2.0, 3.0]})),
    );

    let msg = s.fail(
        "PUT",
        "/collections/b/points/2",
        Some(&json!({"vector": [1.0, 2.0]})),
        400,
    );
    assert!(msg.contains("expected dim: 3, got 2"), "{msg}");
    let msg = s.fail(
        "POST",
        "/collections/b/points/search",
        Some(&json!({"vector": [1.0]})),
        400,
    );
    assert!(msg.contains("expected dim: 3, got 1"), "{msg}");
    // a batch with one bad point is refused whole
    let msg = s.fail(
        "POST",
        "/collections/b/points",
        Some(&json!([{"id": 10, "vector": [1.0, 1.0, 1.0]}, {"id": 11, "vector": [1.0, 1.0]}])),
        400,
    );
    assert!(msg.contains("dim"), "{msg}");
    let msg = s.fail(
        "POST",
        "/collections/b/points",
        Some(&json!([{"id": 12, "vector": [1.0, 1.0, 1.0]}, {"id": "not-an-id", "vector": [1.0, 1.0, 1.0]}])),
        400,
    );
    assert!(
        msg.contains("points[1]") && msg.contains("not-an-id"),
        "{msg}"
    );
    s.fail("GET", "/collections/b/points/10", None, 404);
    s.fail("GET", "/collections/b/points/12", None, 404);
    assert_eq!(s.ok("GET", "/collections/b", None)["points_count"], 1);

    // non-finite numbers: JSON has no NaN, and 1e39 overflows f32
    let (st, v) = s.send_raw(
        "PUT",
        "/collections/b/points/3",
        br#"{"vector": [NaN, 1, 2]}"#.to_vec(),
    );
    assert_eq!(st, 400, "{v}");
    let msg = s.fail(
        "PUT",
        "/collections/b/points/3",
        Some(&json!({"vector": [1e39, 1.0, 2.0]})),
        400,
    );
    assert!(msg.contains("vector[0]") && msg.contains("finite"), "{msg}");
    let msg = s.fail(
        "POST",
        "/collections/b/points/search",
        Some(&json!({"vector": [1e39, 1.0, 2.0]})),
        400,
    );
    assert!(msg.contains("finite"), "{msg}");

    // unknown collection on every route that names one
    for (m, p, b) in [
        ("GET", "/collections/nope", None),
        ("GET", "/collections/nope/points", None),
        ("GET", "/collections/nope/points/1", None),
        ("DELETE", "/collections/nope/points/1", None),
        (
            "PUT",
            "/collections/nope/points/1",
            Some(json!({"vector": [1.0]})),
        ),
        (
            "POST",
            "/collections/nope/points",
            Some(json!([{"vector": [1.0]}])),
        ),
        (
            "POST",
            "/collections/nope/points/search",
            Some(json!({"vector": [1.0]})),
        ),
    ] {
        let msg = s.fail(m, p, b.as_ref(), 404);
        assert!(msg.contains("nope"), "{m} {p}: {msg}");
    }

    let msg = s.fail(
        "PUT",
        "/collections/x",
        Some(&json!({"distance": "Hamming"})),
        400,
    );
    assert!(msg.contains("Hamming"), "{msg}");
    s.fail("PUT", "/collections/x", Some(&json!({"name": "x"})), 400);
    let msg = s.fail(
        "PUT",
        "/collections/x",
        Some(&json!({"name": "y", "distance": "Dot"})),
        400,
    );
    assert!(msg.contains("name"), "{msg}");
    let (st, v) = s.send_raw("PUT", "/collections/x", b"{\"distance\": ".to_vec());
    assert_eq!(st, 400);
    assert!(
        v["status"]["error"].as_str().unwrap().contains("JSON"),
        "{v}"
    );
    let (st, _) = s.send_raw("PUT", "/collections/x", Vec::new());
    assert_eq!(st, 400);
    let msg = s.fail("GET", "/collections/b/points/12ab", None, 400);
    assert!(msg.contains("12ab"), "{msg}");
    s.fail("GET", "/collections/b/points/-5", None, 400);
    let msg = s.fail(
        "PUT",
        "/collections/b",
        Some(&json!({"distance": "Cosine"})),
        409,
    );
    assert!(msg.contains("already exists"), "{msg}");
    let msg = s.fail(
        "PUT",
        "/collections/.hidden",
        Some(&json!({"distance": "Cosine"})),
        400,
    );
    assert!(msg.contains("collection name"), "{msg}");
    s.fail(
        "PUT",
        &format!("/collections/{}", "n".repeat(300)),
        Some(&json!({"distance": "Cosine"})),
        400,
    );
    // the client normalises `..` away: the request reaches `/`, which takes no PUT
    let (st, _) = s.send(
        "PUT",
        "/collections/..",
        Some(&json!({"distance": "Cosine"})),
    );
    assert!(st == 404 || st == 405, "{st}");
    s.fail(
        "PUT",
        "/collections/a%2Fb",
        Some(&json!({"distance": "Cosine"})),
        400,
    );
    let msg = s.fail(
        "POST",
        "/collections/b/points",
        Some(&json!({"not": "an array"})),
        400,
    );
    assert!(msg.contains("array"), "{msg}");
    let msg = s.fail(
        "PUT",
        "/collections/b/points/5",
        Some(&json!({"vector": [1.0, 1.0, 1.0], "extra": 1})),
        400,
    );
    assert!(msg.contains("extra"), "{msg}");

    // oversized body
    let big = format!("[{}]", vec!["{\"vector\": [1.0, 2.0, 3.0]}"; 200].join(","));
    let (st, v) = s.send_raw("POST", "/collections/b/points", big.into_bytes());
    assert_eq!(st, 413, "{v}");
    assert!(
        v["status"]["error"].as_str().unwrap().contains("4096"),
        "{v}"
    );

    s.fail("PATCH", "/collections/b/points/1", None, 405);
    s.fail("GET", "/no/such/route", None, 404);
    // nothing above changed the collection
    assert_eq!(s.ok("GET", "/collections/b", None)["points_count"], 1);
    assert_eq!(
        s.ok("GET", "/collections", None)["collections"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn concurrent_searches_and_writes_all_succeed() {
    let s = std::sync::Arc::new(Server::start());
    s.ok(
        "PUT",
        "/collections/cc",
        Some(&json!({"distance": "Cosine"})),
    );
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let s = s.clone();
            std::thread::spawn(move || {
                for i in 0..50u64 {
                    let id = t * 1000 + i;
                    s.ok(
                        "PUT",
                        &format!("/collections/cc/points/{id}"),
                        Some(&json!({"vector": [1.0, id as f64, 0.5]})),
                    );
                    let hits = s.ok(
                        "POST",
                        "/collections/cc/points/search",
                        Some(&json!({"vector": [1.0, 2.0, 0.5], "limit": 5})),
                    );
                    assert!(!hits.as_array().unwrap().is_empty());
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(s.ok("GET", "/collections/cc", None)["points_count"], 200);
}
