//! Sparse vectors over HTTP: collection config (create, info, PATCH), upsert and validation,
//! retrieve / scroll rendering, vector updates and deletes, has_vector, queries (nearest with
//! and without idf, filters, thresholds, recommend, the legacy search, fusion of a dense and a
//! sparse prefetch), and a restart of a persistent server.

mod common;

use common::Server;
use serde_json::{json, Value};

fn ids(points: &Value) -> Vec<u64> {
    points
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_u64().unwrap())
        .collect()
}

fn setup(s: &Server) {
    s.ok(
        "PUT",
        "/collections/h",
        Some(&json!({
            "vectors": {"d": {"size": 2, "distance": "Dot"}},
            "sparse_vectors": {
                "text": {"modifier": "idf", "index": {"full_scan_threshold": 100, "on_disk": false}},
                "plain": {}
            }
        })),
    );
    s.ok(
        "PUT",
        "/collections/h/points?wait=true",
        Some(&json!({"points": [
            {"id": 1, "vector": {"d": [1.0, 0.0], "text": {"indices": [5, 1], "values": [0.5, 1.0]},
                                 "plain": {"indices": [1, 2], "values": [1.0, 1.0]}}, "payload": {"k": "a"}},
            {"id": 2, "vector": {"d": [0.0, 1.0], "text": {"indices": [1, 7], "values": [2.0, 1.0]},
                                 "plain": {"indices": [2], "values": [3.0]}}, "payload": {"k": "b"}},
            {"id": 3, "vector": {"d": [1.0, 1.0], "plain": {"indices": [], "values": []}}, "payload": {"k": "a"}},
            {"id": 4, "vector": {"text": {"indices": [9], "values": [1.0]}}, "payload": {"k": "b"}}
        ]})),
    );
}

#[test]
fn sparse_collections_are_configured_reported_and_patched() {
    let s = Server::start();
    setup(&s);
    let params = &s.ok("GET", "/collections/h", None)["config"]["params"];
    assert_eq!(
        params["sparse_vectors"],
        json!({"text": {"index": {"full_scan_threshold": 100, "on_disk": false}, "modifier": "idf"},
               "plain": {}})
    );
    s.ok(
        "PATCH",
        "/collections/h",
        Some(&json!({"sparse_vectors": {"plain": {"modifier": "idf", "index": {"full_scan_threshold": 7}},
                                        "text": {"index": {"datatype": "float32"}}}})),
    );
    // weights are float32: a float16 or uint8 sparse index is refused, not ignored
    let e = s.fail(
        "PATCH",
        "/collections/h",
        Some(&json!({"sparse_vectors": {"text": {"index": {"datatype": "uint8"}}}})),
        400,
    );
    assert!(
        e.contains("sparse_vectors.text.index.datatype") && e.contains("uint8"),
        "{e}"
    );
    let e = s.fail(
        "PUT",
        "/collections/h2",
        Some(&json!({"sparse_vectors": {"t": {"index": {"datatype": "float16"}}}})),
        400,
    );
    assert!(e.contains("sparse_vectors.t.index.datatype"), "{e}");
    let params = &s.ok("GET", "/collections/h", None)["config"]["params"];
    assert_eq!(
        params["sparse_vectors"],
        json!({"text": {"index": {"full_scan_threshold": 100, "on_disk": false, "datatype": "float32"},
                        "modifier": "idf"},
               "plain": {"index": {"full_scan_threshold": 7}, "modifier": "idf"}})
    );
    let e = s.fail(
        "PATCH",
        "/collections/h",
        Some(&json!({"sparse_vectors": {"nope": {"modifier": "idf"}}})),
        400,
    );
    assert!(e.contains("Not existing vector name error: nope"), "{e}");
    // only sparse vectors
    s.ok(
        "PUT",
        "/collections/only",
        Some(&json!({"sparse_vectors": {"s": {}}})),
    );
    let params = &s.ok("GET", "/collections/only", None)["config"]["params"];
    assert_eq!(params["vectors"], json!({}));
    assert_eq!(params["sparse_vectors"], json!({"s": {}}));
    // refusals name the field
    let e = s.fail(
        "PUT",
        "/collections/bad",
        Some(
            &json!({"vectors": {"x": {"size": 2, "distance": "Dot"}}, "sparse_vectors": {"x": {}}}),
        ),
        400,
    );
    assert!(e.contains("sparse_vectors.x"), "{e}");
    let e = s.fail(
        "PUT",
        "/collections/bad",
        Some(&json!({"sparse_vectors": {"x": {"modifier": "bm42"}}})),
        400,
    );
    assert!(e.contains("sparse_vectors.x.modifier"), "{e}");
    let e = s.fail(
        "PUT",
        "/collections/bad",
        Some(&json!({"sparse_vectors": {"x": {"index": {"fast": true}}}})),
        400,
    );
    assert!(
        e.contains("sparse_vectors.x.index") && e.contains("fast"),
        "{e}"
    );
}

#[test]
fn sparse_points_are_validated_stored_sorted_and_updated() {
    let s = Server::start();
    setup(&s);
    let r = s.ok(
        "POST",
        "/collections/h/points",
        Some(&json!({"ids": [1, 3], "with_vector": true})),
    );
    assert_eq!(
        r[0]["vector"],
        json!({"d": [1.0, 0.0], "text": {"indices": [1, 5], "values": [1.0, 0.5]},
               "plain": {"indices": [1, 2], "values": [1.0, 1.0]}})
    );
    assert_eq!(
        r[1]["vector"],
        json!({"d": [1.0, 1.0], "plain": {"indices": [], "values": []}})
    );
    for (body, want) in [
        (
            json!({"points": [{"id": 9, "vector": {"text": {"indices": [1, 1], "values": [1, 2]}}}]}),
            "index 1 appears more than once",
        ),
        (
            json!({"points": [{"id": 9, "vector": {"text": {"indices": [1, 2], "values": [1]}}}]}),
            "2 indices but 1 values",
        ),
        (
            json!({"points": [{"id": 9, "vector": {"text": [1.0, 2.0]}}]}),
            "`text` is a sparse vector",
        ),
        (
            json!({"points": [{"id": 9, "vector": {"d": {"indices": [1], "values": [1]}}}]}),
            "`d` is a dense vector",
        ),
        (
            json!({"points": [{"id": 9, "vector": {"zzz": {"indices": [1], "values": [1]}}}]}),
            "Not existing vector name error: zzz",
        ),
    ] {
        let e = s.fail("PUT", "/collections/h/points?wait=true", Some(&body), 400);
        // Qdrant's unknown-name error names the vector, not the field
        let field = e.contains("points[0].vector") || want.starts_with("Not existing");
        assert!(e.contains(want) && field, "{e}");
    }
    // the batch form
    s.ok(
        "PUT",
        "/collections/h/points?wait=true",
        Some(&json!({"batch": {"ids": [10, 11], "vectors": {"text": [
            {"indices": [3], "values": [1.0]}, {"indices": [4, 3], "values": [1.0, 2.0]}
        ]}}})),
    );
    let r = s.ok("GET", "/collections/h/points/11", None);
    assert_eq!(
        r["vector"],
        json!({"text": {"indices": [3, 4], "values": [2.0, 1.0]}})
    );
    // update and delete vectors; has_vector and count follow
    s.ok(
        "PUT",
        "/collections/h/points/vectors?wait=true",
        Some(
            &json!({"points": [{"id": 3, "vector": {"text": {"indices": [2], "values": [4.0]}}}]}),
        ),
    );
    s.ok(
        "POST",
        "/collections/h/points/vectors/delete?wait=true",
        Some(&json!({"points": [1], "vector": ["plain"]})),
    );
    let count = |f: Value| {
        s.ok(
            "POST",
            "/collections/h/points/count",
            Some(&json!({"filter": f})),
        )["count"]
            .clone()
    };
    assert_eq!(count(json!({"must": [{"has_vector": "plain"}]})), 2);
    assert_eq!(count(json!({"must": [{"has_vector": "text"}]})), 6);
    let r = s.ok(
        "POST",
        "/collections/h/points/scroll",
        Some(&json!({"filter": {"must": [{"has_id": [1, 3]}]}, "with_vector": ["text", "plain"]})),
    );
    assert_eq!(
        r["points"][0]["vector"],
        json!({"text": {"indices": [1, 5], "values": [1.0, 0.5]}})
    );
    assert_eq!(
        r["points"][1]["vector"],
        json!({"text": {"indices": [2], "values": [4.0]}, "plain": {"indices": [], "values": []}})
    );
}

#[test]
fn sparse_queries_score_by_dot_product_with_idf_filters_and_fusion() {
    let s = Server::start();
    setup(&s);
    let q =
        |body: Value| s.ok("POST", "/collections/h/points/query", Some(&body))["points"].clone();
    // plain: dot product over shared indices; no overlap (point 3's empty vector) is no result
    let r = q(json!({"query": {"indices": [2, 1], "values": [1.0, 2.0]}, "using": "plain"}));
    assert_eq!(ids(&r), [1, 2], "a tie goes to the lower id");
    assert_eq!(r[0]["score"], 3.0);
    assert_eq!(r[1]["score"], 3.0);
    // idf over the points with the vector: N = 3, df(1) = 2 → ln((3-2+0.5)/(2+0.5)+1)
    let r = q(json!({"query": {"indices": [1], "values": [1.0]}, "using": "text"}));
    let idf = ((3.0f64 - 2.0 + 0.5) / (2.0 + 0.5) + 1.0).ln();
    assert_eq!(ids(&r), [2, 1]);
    assert!(
        (r[0]["score"].as_f64().unwrap() - 2.0 * idf).abs() < 1e-5,
        "{r}"
    );
    // a filter and a threshold
    let r = q(
        json!({"query": {"indices": [1], "values": [1.0]}, "using": "text",
                     "filter": {"must": [{"key": "k", "match": {"value": "a"}}]}}),
    );
    assert_eq!(ids(&r), [1]);
    let r = q(
        json!({"query": {"indices": [1], "values": [1.0]}, "using": "text",
                     "score_threshold": 1.5 * idf}),
    );
    assert_eq!(ids(&r), [2]);
    // by id (the point itself is left out), and recommend
    let r = q(json!({"query": 1, "using": "plain"}));
    assert_eq!(ids(&r), [2]);
    let r = q(
        json!({"query": {"recommend": {"positive": [2], "strategy": "sum_scores"}}, "using": "plain"}),
    );
    assert_eq!(ids(&r), [1, 3]);
    // the legacy search with a named sparse vector
    let r = s.ok(
        "POST",
        "/collections/h/points/search",
        Some(&json!({"vector": {"name": "plain", "vector": {"indices": [2], "values": [1.0]}}, "limit": 5})),
    );
    assert_eq!(ids(&r), [2, 1]);
    // hybrid: a dense and a sparse prefetch, fused
    for fusion in [
        json!({"fusion": "rrf"}),
        json!({"fusion": "dbsf"}),
        json!({"rrf": {"k": 10}}),
    ] {
        let r = q(json!({
            "prefetch": [
                {"query": {"indices": [1], "values": [1.0]}, "using": "text", "limit": 5},
                {"query": [1.0, -0.5], "using": "d", "limit": 5}
            ],
            "query": fusion
        }));
        assert_eq!(ids(&r)[0], 1, "{fusion}: {r}");
        assert_eq!(ids(&r).len(), 3, "{fusion}: {r}");
    }
    // refusals
    let e = s.fail(
        "POST",
        "/collections/h/points/query",
        Some(&json!({"query": [1.0, 2.0], "using": "text"})),
        400,
    );
    assert!(e.contains("`text` is a sparse vector"), "{e}");
    let e = s.fail(
        "POST",
        "/collections/h/points/query",
        Some(&json!({"query": {"indices": [1], "values": [1.0]}, "using": "d"})),
        400,
    );
    assert!(e.contains("`d` is not one"), "{e}");
    let e = s.fail(
        "POST",
        "/collections/h/points/query",
        Some(&json!({"query": {"indices": [1, 1], "values": [1.0, 1.0]}, "using": "text"})),
        400,
    );
    assert!(e.contains("query") && e.contains("more than once"), "{e}");
    // MMR over a sparse vector: candidates by the (idf) search, re-ranked by plain dot products
    // (relevance 1.0 for point 1 and 2.0 for point 2, their similarity 1.0 · 2.0: 2 first)
    let r = q(
        json!({"query": {"nearest": {"indices": [1], "values": [1.0]}, "mmr": {"diversity": 0.5}},
               "using": "text", "limit": 2}),
    );
    assert_eq!(ids(&r), vec![2, 1], "{r}");
    let e = s.fail(
        "POST",
        "/collections/h/points/query",
        Some(&json!({"query": {"nearest": {"indices": [1], "values": [1.0]}, "mmr": {"diversity": 1.5}},
                     "using": "text"})),
        422,
    );
    assert!(e.contains("mmr.diversity"), "{e}");
    let e = s.fail(
        "POST",
        "/collections/h/points/query",
        Some(&json!({"query": {"relevance_feedback": {"target": {"indices": [1], "values": [1.0]},
                                                       "feedback": [],
                                                       "strategy": {"naive": {"a": 1.0, "b": 1.0, "c": 1.0}}}},
                     "using": "text"})),
        400,
    );
    assert!(
        e.contains("only nearest (with or without mmr), recommend, discover and context"),
        "{e}"
    );
    // context: inside the zone every pair prefers (no shared index: similarity 0), a score of 0
    let r = q(
        json!({"query": {"context": [{"positive": {"indices": [2], "values": [1.0]},
                                            "negative": {"indices": [1], "values": [1.0]}}]},
                     "using": "plain"}),
    );
    assert_eq!(ids(&r)[0], 2, "{r}");
    assert_eq!(r[0]["score"], 0.0);
}

#[test]
fn sparse_vectors_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::persistent(dir.path());
    setup(&s);
    let all = json!({"limit": 100, "with_vector": true, "with_payload": true});
    let before = s.ok("POST", "/collections/h/points/scroll", Some(&all));
    let query = json!({"query": {"indices": [1], "values": [1.0]}, "using": "text"});
    let hits = s.ok("POST", "/collections/h/points/query", Some(&query));
    let info = s.ok("GET", "/collections/h", None)["config"].clone();
    s.stop();
    let s = Server::persistent(dir.path());
    assert_eq!(
        s.ok("POST", "/collections/h/points/scroll", Some(&all)),
        before
    );
    assert_eq!(
        s.ok("POST", "/collections/h/points/query", Some(&query)),
        hits
    );
    assert_eq!(s.ok("GET", "/collections/h", None)["config"], info);
}

#[test]
fn bm25_documents_become_sparse_vectors_at_upsert_and_in_queries() {
    use rvdb_engine::bm25::{Bm25, Bm25Config};
    let s = Server::start();
    s.ok(
        "PUT",
        "/collections/b",
        Some(&json!({"vectors": {"d": {"size": 2, "distance": "Dot"}},
                     "sparse_vectors": {"bm25": {"modifier": "idf"}}})),
    );
    let docs = [
        "The quick brown fox jumps over the lazy dog",
        "A lazy dog sleeps all day long",
        "Quick, quick! Foxes are running",
    ];
    let points: Vec<Value> = docs
        .iter()
        .enumerate()
        .map(|(i, t)| json!({"id": i, "vector": {"bm25": {"text": t, "model": "qdrant/bm25"}}}))
        .collect();
    s.ok(
        "PUT",
        "/collections/b/points?wait=true",
        Some(&json!({ "points": points })),
    );
    // stored: the model's document vectors (term-frequency weights)
    let model = Bm25::new(Bm25Config::default(), "options").unwrap();
    for (i, t) in docs.iter().enumerate() {
        let (indices, values) = model.document(t);
        let got = &s.ok("GET", &format!("/collections/b/points/{i}"), None)["vector"]["bm25"];
        assert_eq!(got["indices"], json!(indices), "doc {i}");
        let got: Vec<f64> = got["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(got.len(), values.len());
        for (a, b) in got.iter().zip(&values) {
            assert!(
                (a - f64::from(*b)).abs() < 1e-6,
                "doc {i}: {got:?} vs {values:?}"
            );
        }
    }
    // a query document is the model's query vector (weight 1 per distinct token)
    let (qi, qv) = model.query("quick foxes");
    let q =
        |body: Value| s.ok("POST", "/collections/b/points/query", Some(&body))["points"].clone();
    let by_vector = q(json!({"query": {"indices": qi, "values": qv}, "using": "bm25"}));
    assert_eq!(ids(&by_vector)[0], 2, "{by_vector}");
    for query in [
        json!({"text": "quick foxes", "model": "qdrant/bm25"}),
        json!({"nearest": {"text": "quick foxes", "model": "Qdrant/bm25"}}),
    ] {
        assert_eq!(q(json!({"query": query, "using": "bm25"})), by_vector);
    }
    // options reach the model: without stopwords or stemming "the" is a token of its own
    let plain = json!({"language": "none"});
    let (ti, _) = Bm25::new(
        serde_json::from_value::<Bm25Config>(plain.clone()).unwrap(),
        "options",
    )
    .unwrap()
    .query("the");
    assert_eq!(ti.len(), 1);
    assert!(
        model.query("the").0.is_empty(),
        "`the` is an English stopword"
    );
    s.ok(
        "PUT",
        "/collections/b/points?wait=true",
        Some(&json!({"points": [{"id": 9, "vector": {"bm25": {"text": "the", "model": "qdrant/bm25", "options": plain}}}]})),
    );
    assert_eq!(
        s.ok("GET", "/collections/b/points/9", None)["vector"]["bm25"]["indices"],
        json!(ti)
    );
    // refusals name the field
    for (body, want) in [
        (
            json!({"points": [{"id": 1, "vector": {"bm25": {"text": "x", "model": "sentence-transformers/all-MiniLM-L6-v2"}}}]}),
            "only `qdrant/bm25`",
        ),
        (
            json!({"points": [{"id": 1, "vector": {"bm25": {"text": "x", "model": "qdrant/bm25", "options": {"k": -1}}}}]}),
            "options.k",
        ),
        (
            json!({"points": [{"id": 1, "vector": {"d": {"text": "x", "model": "qdrant/bm25"}}}]}),
            "`d` is a dense vector",
        ),
        (
            json!({"points": [{"id": 1, "vector": {"bm25": {"image": "x.png", "model": "clip"}}}]}),
            "not supported",
        ),
    ] {
        let e = s.fail("PUT", "/collections/b/points?wait=true", Some(&body), 400);
        assert!(e.contains(want) && e.contains("points[0].vector"), "{e}");
    }
}
