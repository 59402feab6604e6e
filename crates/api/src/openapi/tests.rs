//! The spec covers the router, and the schemas accept what the parsers accept.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use tower::ServiceExt;

use super::{collections, points, search};

/// The path of every `.route("…", …)` in lib.rs (the router's source).
fn router_paths() -> BTreeSet<String> {
    let src = include_str!("../lib.rs");
    let mut out = BTreeSet::new();
    for (i, _) in src.match_indices(".route(") {
        let rest = src[i + ".route(".len()..].trim_start();
        let literal = rest
            .strip_prefix('"')
            .expect("every .route( in lib.rs starts with a path literal");
        out.insert(literal[..literal.find('"').unwrap()].to_string());
    }
    out
}

const METHODS: [Method; 5] = [
    Method::GET,
    Method::PUT,
    Method::POST,
    Method::PATCH,
    Method::DELETE,
];

/// (METHOD, path template) of every route the router answers, found by asking it: a method it
/// does not route gets the 405 fallback (no handler answers 405 itself).
async fn routed() -> BTreeSet<(String, String)> {
    let app = crate::router(
        Arc::new(rvdb_engine::Database::open(rvdb_engine::DatabaseOptions::in_memory()).unwrap()),
        crate::ApiConfig::default(),
    );
    let mut out = BTreeSet::new();
    for path in router_paths() {
        let concrete = path
            .replace("{name}", "openapi-probe")
            .replace("{id}", "1")
            .replace("{field}", "f")
            .replace("{file}", "nothing");
        for method in METHODS {
            let req = Request::builder()
                .method(method.clone())
                .uri(&concrete)
                .body(Body::empty())
                .unwrap();
            let resp = app.clone().oneshot(req).await.unwrap();
            if resp.status() != StatusCode::METHOD_NOT_ALLOWED {
                out.insert((method.to_string(), path.clone()));
            }
        }
    }
    out
}

fn documented() -> BTreeSet<(String, String)> {
    let spec: Value = serde_json::from_str(&super::spec_json()).unwrap();
    let mut out = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            out.insert((method.to_uppercase(), path.clone()));
        }
    }
    out
}

#[tokio::test]
async fn every_route_of_the_router_is_in_the_spec_and_nothing_else() {
    let routed = routed().await;
    assert!(
        routed.len() > 40,
        "the probe found too few routes: {routed:?}"
    );
    let documented = documented();
    let missing: Vec<_> = routed.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&routed).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "the spec and the router differ.\n  routed but not in the spec (add #[utoipa::path] to the \
         handler and list it in openapi::ApiDoc): {missing:?}\n  in the spec but not routed: {extra:?}"
    );
}

#[test]
fn the_spec_names_this_server_and_every_operation_answers_errors_in_the_envelope() {
    let spec: Value = serde_json::from_str(&super::spec_json()).unwrap();
    assert_eq!(spec["info"]["title"], "rustvecdb");
    assert_eq!(spec["info"]["version"], env!("CARGO_PKG_VERSION"));
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            assert!(
                responses
                    .keys()
                    .any(|s| s.starts_with('2') || s.starts_with('3')),
                "{method} {path} documents no success answer"
            );
            if path.starts_with("/collections") {
                assert!(
                    responses.keys().any(|s| s.starts_with('4')),
                    "{method} {path} lists no 4xx answer"
                );
                if op["responses"]["200"]["content"]
                    .get("application/octet-stream")
                    .is_some()
                {
                    // a snapshot download: the file itself
                    continue;
                }
                let ok = &op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"];
                let name = ok.as_str().unwrap().rsplit('/').next().unwrap();
                let schema = &spec["components"]["schemas"][name];
                assert_eq!(
                    schema["required"],
                    json!(["result", "status", "time"]),
                    "{method} {path}: the 200 answer is not the envelope"
                );
            }
        }
    }
}

fn filters() -> Vec<Value> {
    vec![
        json!({"must": [{"key": "city", "match": {"value": "Berlin"}}]}),
        json!({"must": {"key": "n", "range": {"gte": 1, "lt": 5.5}}}),
        json!({"should": [{"key": "t", "range": {"gt": "2024-01-31T12:00:00Z"}},
                          {"key": "tags[].name", "match": {"any": ["a", "b"]}},
                          {"key": "k", "match": {"except": [1, 2]}}],
               "must_not": [{"has_id": [1, "550e8400-e29b-41d4-a716-446655440000"]}]}),
        json!({"must": [{"is_empty": {"key": "a"}}, {"is_null": {"key": "b"}},
                        {"key": "c", "is_empty": false}, {"has_vector": "img"},
                        {"nested": {"key": "items", "filter": {"must": [{"key": "x", "match": {"value": true}}]}}},
                        {"slice": {"total": 2, "index": 1}},
                        {"should": [{"key": "d", "match": {"text": "hello world"}}]}],
               "min_should": {"conditions": [{"key": "e", "match": {"prefix": "ab"}},
                                             {"key": "e", "match": {"substring": "b"}},
                                             {"key": "e", "match": {"phrase": "a b"}},
                                             {"key": "e", "match": {"text_any": "a b"}}],
                              "min_count": 2}}),
        json!({"must": [{"key": "loc", "geo_radius": {"center": {"lon": 13.4, "lat": 52.5}, "radius": 1000.0}},
                        {"key": "loc", "geo_bounding_box": {"top_left": {"lon": 13.0, "lat": 53.0},
                                                            "bottom_right": {"lon": 14.0, "lat": 52.0}}},
                        {"key": "loc", "geo_polygon": {"exterior": {"points": [
                            {"lon": 0.0, "lat": 0.0}, {"lon": 1.0, "lat": 0.0},
                            {"lon": 1.0, "lat": 1.0}, {"lon": 0.0, "lat": 0.0}]}}},
                        {"key": "tags", "values_count": {"gte": 2}}]}),
    ]
}

/// The filter schemas are the parser's own types (`rvdb_filter::wire`), so there is nothing to
/// compare; the examples the other bodies embed must still parse.
#[test]
fn filter_examples_parse() {
    for f in filters() {
        if let Err(e) = rvdb_engine::Filter::from_qdrant(&f) {
            panic!("the parser refuses {f}: {e}");
        }
    }
}

#[test]
fn query_examples_parse_and_convert() {
    let mut bodies = vec![
        json!({"query": [0.1, 0.2], "limit": 3, "with_payload": true}),
        json!({"query": 7, "filter": {"must": [{"key": "a", "match": {"value": 1}}]}, "with_vectors": true}),
        json!({"query": {"nearest": "550e8400-e29b-41d4-a716-446655440000"}, "using": "img",
               "params": {"hnsw_ef": 64, "exact": false}, "score_threshold": 0.5, "offset": 2,
               "with_payload": {"include": ["a"]}, "with_vector": ["img"]}),
        json!({"query": {"recommend": {"positive": [1, [0.1, 0.2]], "negative": [2], "strategy": "best_score"}},
               "lookup_from": {"collection": "other", "vector": "img"}}),
        json!({"prefetch": [{"query": [0.1, 0.2], "limit": 20}, {"query": [0.3, 0.4], "using": "b",
               "prefetch": {"query": [1.0, 2.0]}}], "query": {"fusion": "rrf"}}),
        json!({"prefetch": {"query": [0.1]}, "query": {"rrf": {"k": 60, "weights": [1.0]}}}),
        json!({"query": {"order_by": {"key": "price", "direction": "desc", "start_from": 10}}}),
        json!({"with_payload": ["a", "b"]}),
    ];
    for f in filters() {
        bodies.push(json!({"query": [1.0], "filter": f}));
    }
    for b in bodies {
        parses::<search::QueryRequest>(&b).into_query("").unwrap();
    }
    parses::<search::QueryGroupsRequest>(
        &json!({"query": [1.0], "group_by": "doc", "group_size": 2, "limit": 4}),
    )
    .into_parts()
    .unwrap();
}

#[test]
fn search_and_recommend_examples_parse_and_convert() {
    for b in [
        json!({"vector": [0.1, 0.2], "limit": 3, "filter": {"city": "Berlin", "n": 2}}),
        json!({"vector": {"name": "img", "vector": [0.1]}, "filter": {"must": [{"key": "a", "match": {"value": "x"}}]},
               "params": {"exact": true}, "offset": 1, "score_threshold": 0.1,
               "with_payload": false, "with_vector": true}),
    ] {
        parses::<search::SearchRequest>(&b)
            .into_search("", true)
            .unwrap();
    }
    parses::<search::RecommendRequest>(
        &json!({"positive": [1, 2], "negative": [[0.5, 0.5]], "strategy": "average_vector",
               "filter": {"must": [{"key": "a", "match": {"value": "x"}}]}, "limit": 5, "using": "img"}),
    )
    .into_query("")
    .unwrap();
}

/// A body parsed by its type (the one that describes it in the spec), or a panic naming it.
fn parses<T: DeserializeOwned>(b: &Value) -> T {
    crate::extract::parse_body(b.to_string().as_bytes())
        .unwrap_or_else(|e| panic!("{b} is refused: {}", e.message))
}

#[test]
fn body_examples_parse_and_convert() {
    for b in [
        json!({"points": [{"id": 1, "vector": [0.1, 0.2], "payload": {"a": 1}},
                          {"id": "550e8400-e29b-41d4-a716-446655440000", "vector": {"img": [1.0]}},
                          {"id": 3}]}),
        json!({"batch": {"ids": [1, 2], "vectors": [[0.1], [0.2]], "payloads": [{"a": 1}, null]}}),
        json!({"batch": {"ids": [1], "vectors": {"img": [[0.1]]}}}),
    ] {
        let body =
            crate::extract::parse_body::<points::PointInsertOperations>(b.to_string().as_bytes());
        body.unwrap().into_points("").unwrap();
    }
    for b in [
        json!({"points": [1, 2]}),
        json!({"filter": {"must": [{"key": "a", "match": {"value": 1}}]}}),
    ] {
        let body = crate::extract::parse_body::<points::PointsSelector>(b.to_string().as_bytes());
        body.unwrap().into_selector("").unwrap();
    }
    for b in [
        json!({"vectors": {"size": 4, "distance": "Cosine"}}),
        json!({"vectors": {"a": {"size": 4, "distance": "Dot", "on_disk": true},
                           "b": {"size": 2, "distance": "Euclid"}},
               "hnsw_config": {"m": 32}, "on_disk_payload": false, "metadata": {"team": "x"}}),
        json!({"name": "docs", "distance": "Manhattan"}),
    ] {
        parses::<collections::CreateCollection>(&b)
            .into_config()
            .unwrap();
    }
    for b in [
        json!({"limit": 5, "offset": 3, "filter": {"must": [{"key": "a", "match": {"value": 1}}]},
               "with_payload": {"exclude": ["big"]}, "with_vector": false}),
        json!({"order_by": "price"}),
    ] {
        let body = crate::extract::parse_body::<points::ScrollRequest>(b.to_string().as_bytes());
        body.unwrap().into_request().unwrap();
    }
}
