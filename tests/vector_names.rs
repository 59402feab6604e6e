//! PUT / DELETE /collections/{name}/vectors/{vector_name} over HTTP: a dense and a sparse space
//! added to a live collection (shown in its config, written and searched), dropped again (gone
//! from every point and from the config, not searchable), refusals naming the problem, and a
//! restart of a persistent server in between.

mod common;

use common::Server;
use serde_json::{json, Value};

fn setup(s: &Server) {
    s.ok(
        "PUT",
        "/collections/v",
        Some(&json!({"vectors": {"a": {"size": 2, "distance": "Dot"}}})),
    );
    s.ok(
        "PUT",
        "/collections/v/points?wait=true",
        Some(&json!({"points": [
            {"id": 1, "vector": {"a": [1.0, 0.0]}},
            {"id": 2, "vector": {"a": [0.0, 1.0]}}
        ]})),
    );
}

fn vectors_of(s: &Server, id: u64) -> Value {
    s.ok(
        "POST",
        "/collections/v/points",
        Some(&json!({"ids": [id], "with_vector": true})),
    )[0]["vector"]
        .clone()
}

#[test]
fn vector_spaces_are_added_written_searched_and_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::persistent(dir.path());
    setup(&s);
    let r = s.ok(
        "PUT",
        "/collections/v/vectors/b?wait=true",
        Some(&json!({"dense": {"size": 3, "distance": "Cosine"}})),
    );
    assert_eq!(r["status"], "completed");
    s.ok(
        "PUT",
        "/collections/v/vectors/text",
        Some(&json!({"sparse": {"modifier": "idf"}})),
    );
    let params = &s.ok("GET", "/collections/v", None)["config"]["params"];
    assert_eq!(params["vectors"]["b"]["size"], 3);
    assert_eq!(params["vectors"]["b"]["distance"], "Cosine");
    assert_eq!(params["sparse_vectors"]["text"], json!({"modifier": "idf"}));
    // earlier points have no vector in the new spaces
    assert_eq!(vectors_of(&s, 1), json!({"a": [1.0, 0.0]}));
    s.ok(
        "PUT",
        "/collections/v/points?wait=true",
        Some(&json!({"points": [
            {"id": 3, "vector": {"a": [1.0, 1.0], "b": [0.0, 3.0, 4.0],
                                 "text": {"indices": [7], "values": [2.0]}}}
        ]})),
    );
    let hits = s.ok(
        "POST",
        "/collections/v/points/query",
        Some(&json!({"query": [0.0, 0.0, 1.0], "using": "b"})),
    );
    assert_eq!(hits["points"].as_array().unwrap().len(), 1);
    assert_eq!(hits["points"][0]["id"], 3);
    let hits = s.ok(
        "POST",
        "/collections/v/points/query",
        Some(&json!({"query": {"indices": [7], "values": [1.0]}, "using": "text"})),
    );
    assert_eq!(hits["points"][0]["id"], 3);

    // it survives a restart
    s.stop();
    let s = Server::persistent(dir.path());
    assert_eq!(
        vectors_of(&s, 3),
        json!({"a": [1.0, 1.0], "b": [0.0, 0.6, 0.8], "text": {"indices": [7], "values": [2.0]}})
    );

    // dropped: gone from every point, from the config, and from queries
    s.ok("DELETE", "/collections/v/vectors/a?wait=true", None);
    s.ok("DELETE", "/collections/v/vectors/text", None);
    assert_eq!(vectors_of(&s, 1), json!({}));
    assert_eq!(vectors_of(&s, 3), json!({"b": [0.0, 0.6, 0.8]}));
    let params = &s.ok("GET", "/collections/v", None)["config"]["params"];
    assert!(params["vectors"].get("a").is_none(), "{params}");
    assert!(params["sparse_vectors"].get("text").is_none(), "{params}");
    let err = s.fail(
        "POST",
        "/collections/v/points/query",
        Some(&json!({"query": [1.0, 0.0], "using": "a"})),
        400,
    );
    assert!(err.contains("a"), "{err}");
    let err = s.fail(
        "PUT",
        "/collections/v/points",
        Some(&json!({"points": [{"id": 9, "vector": {"a": [1.0, 0.0]}}]})),
        400,
    );
    assert!(err.contains("Not existing vector name"), "{err}");

    // created again, the space starts empty, also after a restart
    s.ok(
        "PUT",
        "/collections/v/vectors/a",
        Some(&json!({"dense": {"size": 2, "distance": "Dot"}})),
    );
    assert_eq!(vectors_of(&s, 1), json!({}));
    s.stop();
    let s = Server::persistent(dir.path());
    assert_eq!(vectors_of(&s, 1), json!({}));
    assert_eq!(vectors_of(&s, 3), json!({"b": [0.0, 0.6, 0.8]}));
}

#[test]
fn a_multivector_space_is_added_and_dropped() {
    let s = Server::start();
    setup(&s);
    s.ok(
        "PUT",
        "/collections/v/vectors/colbert",
        Some(&json!({"dense": {"size": 2, "distance": "Dot",
                               "multivector_config": {"comparator": "max_sim"}}})),
    );
    let params = &s.ok("GET", "/collections/v", None)["config"]["params"];
    assert_eq!(
        params["vectors"]["colbert"]["multivector_config"],
        json!({"comparator": "max_sim"})
    );
    s.ok(
        "PUT",
        "/collections/v/points?wait=true",
        Some(&json!({"points": [
            {"id": 5, "vector": {"a": [1.0, 0.0], "colbert": [[1.0, 0.0], [0.0, 2.0]]}}
        ]})),
    );
    assert_eq!(
        vectors_of(&s, 5),
        json!({"a": [1.0, 0.0], "colbert": [[1.0, 0.0], [0.0, 2.0]]})
    );
    let hits = s.ok(
        "POST",
        "/collections/v/points/query",
        Some(&json!({"query": [[0.0, 1.0], [1.0, 0.0]], "using": "colbert"})),
    );
    assert_eq!(hits["points"][0]["id"], 5);
    assert_eq!(hits["points"][0]["score"], 3.0);
    s.ok("DELETE", "/collections/v/vectors/colbert", None);
    assert_eq!(vectors_of(&s, 5), json!({"a": [1.0, 0.0]}));
    let err = s.fail(
        "PUT",
        "/collections/v/vectors/m",
        Some(&json!({"dense": {"size": 2, "distance": "Dot",
                               "multivector_config": {"comparator": "min_sim"}}})),
        400,
    );
    assert!(err.contains("comparator"), "{err}");
}

#[test]
fn bad_vector_name_requests_are_refused_naming_the_problem() {
    let s = Server::start();
    setup(&s);
    let cases = [
        (
            json!({"dense": {"size": 2, "distance": "Dot"}}),
            "a",
            "already exists",
        ),
        (
            json!({"dense": {"size": 0, "distance": "Dot"}}),
            "z",
            "dense.size",
        ),
        (
            json!({"dense": {"size": 4, "distance": "Nope"}}),
            "z",
            "distance",
        ),
        (json!({"dense": {"size": 4}}), "z", "distance"),
        (
            json!({"dense": {"size": 4, "distance": "Dot", "on_disk": true}}),
            "z",
            "on_disk",
        ),
        (json!({"sparse": {"modifier": "bm42"}}), "z", "modifier"),
        (
            json!({"dense": {"size": 4, "distance": "Dot"}, "sparse": {}}),
            "z",
            "exactly one",
        ),
        (json!({"colbert": {}}), "z", "dense"),
        (json!({}), "z", "exactly one"),
    ];
    for (body, name, want) in cases {
        let err = s.fail(
            "PUT",
            &format!("/collections/v/vectors/{name}"),
            Some(&body),
            400,
        );
        assert!(err.contains(want), "{body}: {err}");
    }
    let err = s.fail("DELETE", "/collections/v/vectors/nope", None, 400);
    assert!(
        err.contains("Not existing vector name error: nope"),
        "{err}"
    );
    let err = s.fail(
        "PUT",
        "/collections/missing/vectors/x",
        Some(&json!({"sparse": {}})),
        404,
    );
    assert!(err.contains("missing"), "{err}");
    // a collection with one unnamed vector takes no named dense vector beside it
    s.ok(
        "PUT",
        "/collections/u",
        Some(&json!({"vectors": {"size": 2, "distance": "Dot"}})),
    );
    let err = s.fail(
        "PUT",
        "/collections/u/vectors/x",
        Some(&json!({"dense": {"size": 2, "distance": "Dot"}})),
        400,
    );
    assert!(err.contains("unnamed vector"), "{err}");
    let err = s.fail("DELETE", "/collections/u/vectors/", None, 404);
    assert!(!err.is_empty());
    // nothing was half-applied
    let params = &s.ok("GET", "/collections/v", None)["config"]["params"];
    assert_eq!(
        params["vectors"],
        json!({"a": {"size": 2, "distance": "Dot"}})
    );
}
