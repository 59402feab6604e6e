//! Multivectors over HTTP: collection config (create, info, refusals naming the field), upsert
//! and validation, retrieve / scroll rendering, vector updates and deletes, has_vector and
//! count; queries (nearest by max_sim, filters, thresholds, offsets, recommend, discover,
//! context, a dense prefetch reranked by a multivector, the legacy search's refusal), and a
//! restart of a persistent server.

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

fn scores(points: &Value) -> Vec<f64> {
    points
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["score"].as_f64().unwrap())
        .collect()
}

fn setup(s: &Server) {
    s.ok(
        "PUT",
        "/collections/h",
        Some(&json!({
            "vectors": {
                "d": {"size": 2, "distance": "Dot"},
                "colbert": {"size": 2, "distance": "Dot",
                            "multivector_config": {"comparator": "max_sim"},
                            "hnsw_config": {"m": 0}}
            }
        })),
    );
    s.ok(
        "PUT",
        "/collections/h/points?wait=true",
        Some(&json!({"points": [
            {"id": 1, "vector": {"d": [1.0, 0.0], "colbert": [[1.0, 0.0], [0.0, 1.0]]}, "payload": {"k": "a"}},
            {"id": 2, "vector": {"d": [0.0, 1.0], "colbert": [[1.0, 1.0]]}, "payload": {"k": "b"}},
            {"id": 3, "vector": {"d": [1.0, 1.0], "colbert": [[2.0, 0.0], [0.0, 0.5]]}, "payload": {"k": "a"}},
            {"id": 4, "vector": {"d": [0.5, 0.5]}, "payload": {"k": "b"}}
        ]})),
    );
}

fn query(s: &Server, body: Value) -> Value {
    s.ok("POST", "/collections/h/points/query", Some(&body))["points"].clone()
}

#[test]
fn multivector_collections_are_configured_reported_and_refused_when_malformed() {
    let s = Server::start();
    setup(&s);
    let params = &s.ok("GET", "/collections/h", None)["config"]["params"];
    assert_eq!(
        params["vectors"]["colbert"],
        json!({"size": 2, "distance": "Dot", "multivector_config": {"comparator": "max_sim"},
               "hnsw_config": {"m": 0}})
    );
    assert!(params["vectors"]["d"].get("multivector_config").is_none());
    // unnamed
    s.ok(
        "PUT",
        "/collections/u",
        Some(&json!({"vectors": {"size": 2, "distance": "Cosine",
                                 "multivector_config": {"comparator": "max_sim"}}})),
    );
    let params = &s.ok("GET", "/collections/u", None)["config"]["params"];
    assert_eq!(
        params["vectors"]["multivector_config"],
        json!({"comparator": "max_sim"})
    );
    for (cfg, at) in [
        (
            json!({"comparator": "min_sim"}),
            "vectors.c.multivector_config.comparator",
        ),
        (json!({}), "vectors.c.multivector_config.comparator"),
        (
            json!({"comparator": "max_sim", "x": 1}),
            "vectors.c.multivector_config.x",
        ),
        (json!("max_sim"), "vectors.c.multivector_config"),
    ] {
        let (code, body) = s.send(
            "PUT",
            "/collections/bad",
            Some(&json!({"vectors": {"c": {"size": 2, "distance": "Dot", "multivector_config": cfg}}})),
        );
        let e = body["status"]["error"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!((400..500).contains(&code), "{code} {e}");
        assert!(e.contains(at), "{cfg}: {e}");
    }
    s.fail("GET", "/collections/bad", None, 404);
}

#[test]
fn multivector_points_are_validated_stored_rendered_and_updated() {
    let s = Server::start();
    setup(&s);
    let got = s.ok(
        "POST",
        "/collections/h/points",
        Some(&json!({"ids": [1, 4], "with_vector": true})),
    );
    assert_eq!(
        got[0]["vector"],
        json!({"d": [1.0, 0.0], "colbert": [[1.0, 0.0], [0.0, 1.0]]})
    );
    assert_eq!(got[1]["vector"], json!({"d": [0.5, 0.5]}));
    let got = s.ok(
        "POST",
        "/collections/h/points/scroll",
        Some(&json!({"limit": 1, "offset": 3, "with_vector": ["colbert"]})),
    );
    assert_eq!(
        got["points"][0]["vector"],
        json!({"colbert": [[2.0, 0.0], [0.0, 0.5]]})
    );

    // refused, naming the field; nothing of the batch is applied
    for (vector, want) in [
        (
            json!({"colbert": [[1.0, 0.0], [1.0]]}),
            "points[1].vector.colbert[1]: Vector dimension error: expected dim: 2, got 1",
        ),
        (
            json!({"colbert": []}),
            "points[1].vector.colbert: a multivector must not be empty",
        ),
        (
            json!({"colbert": [[1.0, 0.0], []]}),
            "points[1].vector.colbert[1]: all vectors of a multivector must be non-empty",
        ),
        (json!({"colbert": [1.0, 0.0]}), "is a multivector"),
        (json!({"d": [[1.0, 0.0]]}), "is a dense vector"),
        (
            json!({"colbert": [[1.0, 0.0], 2.0]}),
            "mixes numbers and arrays",
        ),
        (json!({"colbert": [[[1.0]]]}), "expected a number"),
    ] {
        let e = s.fail(
            "PUT",
            "/collections/h/points?wait=true",
            Some(&json!({"points": [
                {"id": 10, "vector": {"d": [1.0, 1.0], "colbert": [[1.0, 1.0]]}},
                {"id": 11, "vector": vector}
            ]})),
            400,
        );
        assert!(e.contains(want), "{vector}: {e}");
    }
    let count = |filter: Value| {
        s.ok(
            "POST",
            "/collections/h/points/count",
            Some(&json!({"filter": filter, "exact": true})),
        )["count"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(count(json!({})), 4);
    assert_eq!(count(json!({"must": [{"has_vector": "colbert"}]})), 3);

    // vector updates and deletes
    s.ok(
        "PUT",
        "/collections/h/points/vectors?wait=true",
        Some(&json!({"points": [{"id": 4, "vector": {"colbert": [[0.0, 2.0], [1.0, 1.0]]}}]})),
    );
    assert_eq!(count(json!({"must": [{"has_vector": "colbert"}]})), 4);
    let e = s.fail(
        "PUT",
        "/collections/h/points/vectors?wait=true",
        Some(&json!({"points": [{"id": 4, "vector": {"colbert": [[0.0, 2.0, 1.0]]}}]})),
        400,
    );
    assert!(e.contains("points[0].vector.colbert[0]"), "{e}");
    let got = s.ok("GET", "/collections/h/points/4", None);
    assert_eq!(got["vector"]["colbert"], json!([[0.0, 2.0], [1.0, 1.0]]));
    s.ok(
        "POST",
        "/collections/h/points/vectors/delete?wait=true",
        Some(&json!({"points": [1], "vector": ["colbert"]})),
    );
    assert_eq!(count(json!({"must": [{"has_vector": "colbert"}]})), 3);
    assert_eq!(
        s.ok("GET", "/collections/h/points/1", None)["vector"],
        json!({"d": [1.0, 0.0]})
    );

    // an unnamed multivector, Cosine: each row normalised, rendered as a list of rows
    s.ok(
        "PUT",
        "/collections/u",
        Some(&json!({"vectors": {"size": 2, "distance": "Cosine",
                                 "multivector_config": {"comparator": "max_sim"}}})),
    );
    s.ok(
        "PUT",
        "/collections/u/points?wait=true",
        Some(&json!({"points": [{"id": 1, "vector": [[3.0, 4.0], [0.0, 2.0]]}]})),
    );
    s.ok(
        "PUT",
        "/collections/u/points?wait=true",
        Some(&json!({"batch": {"ids": [2], "vectors": [[[1.0, 0.0]]]}})),
    );
    let got = s.ok(
        "POST",
        "/collections/u/points",
        Some(&json!({"ids": [1, 2], "with_vector": true})),
    );
    assert_eq!(got[0]["vector"], json!([[0.6, 0.8], [0.0, 1.0]]));
    assert_eq!(got[1]["vector"], json!([[1.0, 0.0]]));
    let hits = s.ok(
        "POST",
        "/collections/u/points/query",
        Some(&json!({"query": [[0.0, 5.0]]})),
    )["points"]
        .clone();
    assert_eq!(ids(&hits), [1, 2]);
    assert!((scores(&hits)[0] - 1.0).abs() < 1e-6, "{hits}");
}

#[test]
fn multivector_queries_score_by_max_sim_with_filters_prefetch_and_examples() {
    let s = Server::start();
    setup(&s);
    // Σ over query rows of the best dot product with any stored row
    let r = query(
        &s,
        json!({"query": [[1.0, 0.0], [0.0, 1.0]], "using": "colbert"}),
    );
    assert_eq!(ids(&r), [3, 1, 2]);
    assert_eq!(scores(&r), [2.5, 2.0, 2.0]);
    let r = query(
        &s,
        json!({"query": {"nearest": [[0.0, 1.0]]}, "using": "colbert", "with_vector": ["colbert"]}),
    );
    assert_eq!(ids(&r), [1, 2, 3]);
    assert_eq!(r[2]["vector"], json!({"colbert": [[2.0, 0.0], [0.0, 0.5]]}));
    let r = query(
        &s,
        json!({"query": [[0.0, 1.0]], "using": "colbert",
               "filter": {"must": [{"key": "k", "match": {"value": "a"}}]}}),
    );
    assert_eq!(ids(&r), [1, 3]);
    let r = query(
        &s,
        json!({"query": [[1.0, 0.0], [0.0, 1.0]], "using": "colbert", "score_threshold": 2.1}),
    );
    assert_eq!(ids(&r), [3]);
    let r = query(
        &s,
        json!({"query": [[1.0, 0.0], [0.0, 1.0]], "using": "colbert", "limit": 1, "offset": 1}),
    );
    assert_eq!(ids(&r), [1]);

    // ColBERT pipeline: dense candidates, reranked by the multivector
    let r = query(
        &s,
        json!({"prefetch": {"query": [1.0, 0.0], "using": "d", "limit": 2},
               "query": [[0.0, 1.0]], "using": "colbert", "with_payload": true}),
    );
    assert_eq!(ids(&r), [1, 3], "only the prefetched points, reranked: {r}");
    assert_eq!(scores(&r), [1.0, 0.5]);
    assert_eq!(r[0]["payload"], json!({"k": "a"}));

    // recommend: sum_scores, and average_vector by id (the example itself left out)
    let r = query(
        &s,
        json!({"query": {"recommend": {"positive": [[[1.0, 0.0]]], "negative": [[[0.0, 1.0]]],
                                       "strategy": "sum_scores"}}, "using": "colbert"}),
    );
    assert_eq!(ids(&r)[0], 3);
    assert_eq!(scores(&r)[0], 1.5);
    let r = query(
        &s,
        json!({"query": {"recommend": {"positive": [3]}}, "using": "colbert"}),
    );
    assert_eq!(ids(&r), [1, 2]);
    assert_eq!(scores(&r), [2.5, 2.5]);
    // context: inside the zone the pair prefers, a score of 0
    let r = query(
        &s,
        json!({"query": {"context": [{"positive": [[1.0, 0.0]], "negative": [[0.0, 1.0]]}]},
               "using": "colbert"}),
    );
    assert_eq!(ids(&r)[0], 3);
    assert_eq!(scores(&r)[0], 0.0);
    // discover: the pair ranks, the target breaks ties
    let r = query(
        &s,
        json!({"query": {"discover": {"target": [[0.0, 1.0]],
                                      "context": [{"positive": [[1.0, 0.0]], "negative": [[0.0, 1.0]]}]}},
               "using": "colbert"}),
    );
    assert_eq!(ids(&r)[0], 3);

    // MMR over multivector candidates (max_sim between them); without diversity it is the
    // nearest order, scores staying similarities
    let r = query(
        &s,
        json!({"query": {"nearest": [[1.0, 0.5]], "mmr": {"diversity": 0.0}}, "using": "colbert",
               "with_vector": ["colbert"]}),
    );
    assert_eq!(ids(&r), [3, 2, 1]);
    assert_eq!(scores(&r), [2.0, 1.5, 1.0]);
    assert_eq!(r[1]["vector"], json!({"colbert": [[1.0, 1.0]]}));
    let r = query(
        &s,
        json!({"query": {"nearest": [[1.0, 0.5]], "mmr": {"diversity": 1.0}}, "using": "colbert"}),
    );
    assert_eq!(ids(&r)[0], 3, "the most relevant is picked first: {r}");

    // a point id as the query: its stored multivector, the point itself left out (also when
    // looked up in this very collection, as local mode does; dense vectors alike)
    let r = query(&s, json!({"query": 3, "using": "colbert"}));
    assert_eq!(ids(&r), [1, 2]);
    assert_eq!(scores(&r), [2.5, 2.5]);
    let r = query(
        &s,
        json!({"query": 3, "using": "colbert", "lookup_from": {"collection": "h", "vector": "colbert"}}),
    );
    assert_eq!(ids(&r), [1, 2]);
    let r = query(
        &s,
        json!({"query": 1, "using": "d", "lookup_from": {"collection": "h"}}),
    );
    assert!(!ids(&r).contains(&1), "{r}");

    // the search matrix: each sampled point's nearest other by max_sim with its multivector
    let m = s.ok(
        "POST",
        "/collections/h/points/search/matrix/pairs",
        Some(&json!({"sample": 10, "limit": 1, "using": "colbert"})),
    );
    assert_eq!(
        m["pairs"],
        json!([{"a": 1, "b": 3, "score": 2.5}, {"a": 2, "b": 3, "score": 2.0},
               {"a": 3, "b": 1, "score": 2.5}])
    );

    // refusals
    let fail = |body: Value, want: &str| {
        let e = s.fail("POST", "/collections/h/points/query", Some(&body), 400);
        assert!(e.contains(want), "{body}: {e}");
    };
    fail(
        json!({"query": [1.0, 0.0], "using": "colbert"}),
        "`colbert` is a multivector",
    );
    fail(
        json!({"query": [[1.0, 0.0]], "using": "d"}),
        "needs `using` naming a multivector",
    );
    fail(
        json!({"query": [[1.0, 0.0, 1.0]], "using": "colbert"}),
        "expected dim: 2, got 3",
    );
    fail(
        json!({"query": {"relevance_feedback": {
            "target": [[1.0, 0.0]],
            "feedback": [{"example": [[0.0, 1.0]], "score": 1.0}, {"example": 2, "score": 0.0}],
            "strategy": {"naive": {"a": 0.5, "b": 1.0, "c": 1.0}}}}, "using": "colbert"}),
        "only nearest (with or without mmr), recommend, discover and context",
    );
    let e = s.fail(
        "POST",
        "/collections/h/points/search",
        Some(&json!({"vector": {"name": "colbert", "vector": [[1.0, 0.0]]}, "limit": 3})),
        400,
    );
    assert!(
        e.contains("vector.vector") && e.contains("points/query"),
        "{e}"
    );
    let e = s.fail(
        "POST",
        "/collections/h/points/search",
        Some(&json!({"vector": {"name": "colbert", "vector": [1.0, 0.0]}, "limit": 3})),
        400,
    );
    assert!(e.contains("`colbert` is a multivector"), "{e}");
}

#[test]
fn multivectors_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::persistent(dir.path());
    setup(&s);
    let all = json!({"limit": 100, "with_vector": true, "with_payload": true});
    let before = s.ok("POST", "/collections/h/points/scroll", Some(&all));
    let q = json!({"query": [[1.0, 0.0], [0.0, 1.0]], "using": "colbert"});
    let hits = s.ok("POST", "/collections/h/points/query", Some(&q));
    let info = s.ok("GET", "/collections/h", None)["config"].clone();
    s.stop();
    let s = Server::persistent(dir.path());
    assert_eq!(
        s.ok("POST", "/collections/h/points/scroll", Some(&all)),
        before
    );
    assert_eq!(s.ok("POST", "/collections/h/points/query", Some(&q)), hits);
    assert_eq!(s.ok("GET", "/collections/h", None)["config"], info);
}
