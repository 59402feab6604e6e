//! The Qdrant REST dialect over HTTP: service routes, collections, points, queries, and the
//! error cases with Qdrant's status codes and messages.

mod common;

use common::Server;
use serde_json::{json, Value};

fn ids(points: &Value) -> Vec<Value> {
    points
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].clone())
        .collect()
}

fn setup(s: &Server, name: &str) {
    s.ok(
        "PUT",
        &format!("/collections/{name}"),
        Some(&json!({"vectors": {"size": 4, "distance": "Dot"}})),
    );
    let points: Vec<Value> = (0..20)
        .map(|i| {
            json!({"id": i, "vector": [i as f64, 1.0, 0.0, (i % 3) as f64],
                   "payload": {"n": i, "parity": if i % 2 == 0 { "even" } else { "odd" }, "tags": [format!("t{}", i % 4)]}})
        })
        .collect();
    let r = s.ok(
        "PUT",
        &format!("/collections/{name}/points?wait=true"),
        Some(&json!({"points": points})),
    );
    assert_eq!(r["status"], "completed");
}

#[test]
fn service_routes_answer_like_qdrant() {
    let s = Server::start();
    let resp = reqwest::blocking::get(s.url("/")).unwrap();
    let root: Value = resp.json().unwrap();
    assert_eq!(root["version"], "1.19.0");
    assert!(root["title"].as_str().unwrap().contains("rustvecdb"));
    for p in ["/healthz", "/livez", "/readyz"] {
        let r = reqwest::blocking::get(s.url(p)).unwrap();
        assert_eq!(r.status().as_u16(), 200, "{p}");
    }
}

#[test]
fn collections_create_info_exists_update_and_aliases() {
    let s = Server::start();
    s.ok(
        "PUT",
        "/collections/named",
        Some(&json!({
            "vectors": {"img": {"size": 3, "distance": "Euclid"}, "txt": {"size": 2, "distance": "Cosine", "on_disk": true}},
            "hnsw_config": {"m": 32},
            "optimizers_config": {"indexing_threshold": 500},
        })),
    );
    let info = s.ok("GET", "/collections/named", None);
    assert_eq!(info["status"], "green");
    assert_eq!(
        info["config"]["params"]["vectors"]["img"],
        json!({"size": 3, "distance": "Euclid"})
    );
    assert_eq!(info["config"]["params"]["vectors"]["txt"]["on_disk"], true);
    assert_eq!(info["config"]["hnsw_config"]["m"], 32);
    assert_eq!(info["config"]["hnsw_config"]["ef_construct"], 100);
    assert_eq!(
        info["config"]["optimizer_config"]["indexing_threshold"],
        500
    );
    assert_eq!(
        s.ok("GET", "/collections/named/exists", None),
        json!({"exists": true})
    );
    assert_eq!(
        s.ok("GET", "/collections/nope/exists", None),
        json!({"exists": false})
    );
    s.ok(
        "PATCH",
        "/collections/named",
        Some(&json!({"optimizers_config": {"indexing_threshold": 900}})),
    );
    let info = s.ok("GET", "/collections/named", None);
    assert_eq!(
        info["config"]["optimizer_config"]["indexing_threshold"],
        900
    );

    s.ok("POST", "/collections/aliases", Some(&json!({"actions": [{"create_alias": {"collection_name": "named", "alias_name": "al"}}]})));
    assert_eq!(
        s.ok("GET", "/aliases", None),
        json!({"aliases": [{"alias_name": "al", "collection_name": "named"}]})
    );
    assert_eq!(
        s.ok("GET", "/collections/al", None)["config"]["params"]["vectors"]["img"]["size"],
        3
    );
    s.ok("POST", "/collections/aliases", Some(&json!({"actions": [{"rename_alias": {"old_alias_name": "al", "new_alias_name": "al2"}}]})));
    assert_eq!(
        s.ok("GET", "/collections/named/aliases", None)["aliases"][0]["alias_name"],
        "al2"
    );
    s.ok(
        "POST",
        "/collections/aliases",
        Some(&json!({"actions": [{"delete_alias": {"alias_name": "al2"}}]})),
    );
    assert_eq!(s.ok("GET", "/aliases", None), json!({"aliases": []}));
    s.fail(
        "POST",
        "/collections/aliases",
        Some(&json!({"actions": [{"delete_alias": {"alias_name": "al2"}}]})),
        404,
    );
}

#[test]
fn points_upsert_retrieve_scroll_count_and_payload_updates() {
    let s = Server::start();
    setup(&s, "c");
    let r = s.ok("PUT", "/collections/c/points", Some(&json!({"batch": {"ids": [100, 101], "vectors": [[1, 2, 3, 4], [4, 3, 2, 1]], "payloads": [{"b": 1}, null]}})));
    assert_eq!(r["status"], "acknowledged");
    let got = s.ok(
        "POST",
        "/collections/c/points",
        Some(&json!({"ids": [101, 5, 999], "with_vector": true, "with_payload": ["n"]})),
    );
    assert_eq!(ids(&got), vec![json!(101), json!(5)]);
    assert_eq!(got[1]["payload"], json!({"n": 5}));
    assert_eq!(got[0]["vector"], json!([4.0, 3.0, 2.0, 1.0]));

    let page = s.ok("POST", "/collections/c/points/scroll", Some(&json!({"limit": 5, "filter": {"must": [{"key": "parity", "match": {"value": "odd"}}]}})));
    assert_eq!(ids(&page["points"]), [1, 3, 5, 7, 9].map(|i| json!(i)));
    assert_eq!(page["next_page_offset"], 11);
    let page = s.ok("POST", "/collections/c/points/scroll", Some(&json!({"limit": 5, "offset": 11, "filter": {"must": [{"key": "parity", "match": {"value": "odd"}}]}})));
    assert_eq!(ids(&page["points"]), [11, 13, 15, 17, 19].map(|i| json!(i)));
    assert!(page["next_page_offset"].is_null());

    assert_eq!(
        s.ok(
            "POST",
            "/collections/c/points/count",
            Some(&json!({"exact": true}))
        )["count"],
        22
    );
    assert_eq!(
        s.ok(
            "POST",
            "/collections/c/points/count",
            Some(&json!({"filter": {"must": [{"key": "n", "range": {"lt": 5}}]}}))
        )["count"],
        5
    );

    s.ok(
        "POST",
        "/collections/c/points/payload?wait=true",
        Some(&json!({"payload": {"x": {"y": 1}}, "points": [1, 2]})),
    );
    s.ok(
        "POST",
        "/collections/c/points/payload",
        Some(&json!({"payload": {"z": 2}, "points": [1], "key": "x"})),
    );
    assert_eq!(
        s.ok("GET", "/collections/c/points/1", None)["payload"]["x"],
        json!({"y": 1, "z": 2})
    );
    s.ok(
        "PUT",
        "/collections/c/points/payload",
        Some(&json!({"payload": {"only": true}, "filter": {"must": [{"has_id": [2]}]}})),
    );
    assert_eq!(
        s.ok("GET", "/collections/c/points/2", None)["payload"],
        json!({"only": true})
    );
    s.ok(
        "POST",
        "/collections/c/points/payload/delete",
        Some(&json!({"keys": ["x.y", "n"], "points": [1]})),
    );
    let p1 = s.ok("GET", "/collections/c/points/1", None)["payload"].clone();
    assert_eq!(p1["x"], json!({"z": 2}));
    assert!(p1.get("n").is_none());
    s.ok(
        "POST",
        "/collections/c/points/payload/clear",
        Some(&json!({"points": [1]})),
    );
    assert_eq!(
        s.ok("GET", "/collections/c/points/1", None)["payload"],
        json!({})
    );

    s.ok(
        "PUT",
        "/collections/c/points/vectors",
        Some(&json!({"points": [{"id": 3, "vector": [9, 9, 9, 9]}]})),
    );
    assert_eq!(
        s.ok("GET", "/collections/c/points/3", None)["vector"],
        json!([9.0, 9.0, 9.0, 9.0])
    );
    s.ok(
        "POST",
        "/collections/c/points/delete",
        Some(&json!({"filter": {"must": [{"key": "n", "range": {"gte": 15}}]}})),
    );
    s.ok(
        "POST",
        "/collections/c/points/delete",
        Some(&json!({"points": [0, 12345]})),
    );
    assert_eq!(
        s.ok("POST", "/collections/c/points/count", Some(&json!({})))["count"],
        16
    );

    let batch = s.ok(
        "POST",
        "/collections/c/points/batch",
        Some(&json!({"operations": [
            {"upsert": {"points": [{"id": 500, "vector": [1, 1, 1, 1], "payload": {"k": "v"}}]}},
            {"set_payload": {"payload": {"k2": 1}, "points": [500]}},
            {"delete": {"points": [1]}}
        ]})),
    );
    assert_eq!(batch.as_array().unwrap().len(), 3);
    assert_eq!(
        s.ok("GET", "/collections/c/points/500", None)["payload"],
        json!({"k": "v", "k2": 1})
    );
}

#[test]
fn query_search_recommend_fusion_and_groups() {
    let s = Server::start();
    setup(&s, "q");
    let top = s.ok(
        "POST",
        "/collections/q/points/query",
        Some(&json!({"query": [1.0, 0.0, 0.0, 0.0], "limit": 3})),
    );
    assert_eq!(ids(&top["points"]), [19, 18, 17].map(|i| json!(i)));
    assert!(
        top["points"][0]["payload"].is_null(),
        "with_payload defaults to false on /query"
    );
    // by point id: the point itself is left out
    let by_id = s.ok(
        "POST",
        "/collections/q/points/query",
        Some(&json!({"query": 19, "limit": 2})),
    );
    assert_eq!(ids(&by_id["points"]), [18, 17].map(|i| json!(i)));
    let reco = s.ok(
        "POST",
        "/collections/q/points/query",
        Some(&json!({"query": {"recommend": {"positive": [19], "negative": [0], "strategy": "best_score"}}, "limit": 2})),
    );
    assert_eq!(reco["points"].as_array().unwrap().len(), 2);
    let fused = s.ok(
        "POST",
        "/collections/q/points/query",
        Some(&json!({
            "prefetch": [{"query": [1, 0, 0, 0], "limit": 5}, {"query": [0, 0, 0, 1], "limit": 5}],
            "query": {"fusion": "rrf"}, "limit": 4, "with_payload": true
        })),
    );
    let pts = fused["points"].as_array().unwrap();
    assert_eq!(pts.len(), 4);
    assert!(
        (pts[0]["score"].as_f64().unwrap() - 0.5).abs() < 1e-6,
        "{}",
        pts[0]
    );
    assert!(pts[0]["payload"].is_object());
    let groups = s.ok(
        "POST",
        "/collections/q/points/query/groups",
        Some(&json!({"query": [1, 0, 0, 0], "group_by": "parity", "limit": 2, "group_size": 2})),
    );
    let g = groups["groups"].as_array().unwrap();
    assert_eq!(g.len(), 2);
    assert_eq!(g[0]["id"], "odd");
    assert_eq!(ids(&g[0]["hits"]), [19, 17].map(|i| json!(i)));
    // legacy routes
    let legacy = s.ok(
        "POST",
        "/collections/q/points/search",
        Some(&json!({"vector": [1, 0, 0, 0], "limit": 2, "with_payload": false})),
    );
    assert_eq!(ids(&legacy), [19, 18].map(|i| json!(i)));
    let batch = s.ok("POST", "/collections/q/points/search/batch", Some(&json!({"searches": [{"vector": [1, 0, 0, 0], "limit": 1}, {"vector": [0, 0, 0, 1], "limit": 1}]})));
    assert_eq!(batch[0][0]["id"], 19);
    let rec = s.ok(
        "POST",
        "/collections/q/points/recommend",
        Some(&json!({"positive": [19], "limit": 1})),
    );
    assert_eq!(rec[0]["id"], 18);
    let qb = s.ok(
        "POST",
        "/collections/q/points/query/batch",
        Some(&json!({"searches": [{"query": [1, 0, 0, 0], "limit": 1}]})),
    );
    assert_eq!(qb[0]["points"][0]["id"], 19);
}

#[test]
fn payload_indexes_are_reported_and_keep_results_the_same() {
    let s = Server::start();
    setup(&s, "ix");
    let f = json!({"filter": {"must": [{"key": "tags", "match": {"any": ["t1", "t2"]}}, {"key": "n", "range": {"gte": 3}}]}});
    let before = s.ok("POST", "/collections/ix/points/count", Some(&f));
    s.ok(
        "PUT",
        "/collections/ix/index?wait=true",
        Some(&json!({"field_name": "tags", "field_schema": "keyword"})),
    );
    s.ok(
        "PUT",
        "/collections/ix/index",
        Some(&json!({"field_name": "n", "field_schema": {"type": "integer"}})),
    );
    let info = s.ok("GET", "/collections/ix", None);
    assert_eq!(info["payload_schema"]["tags"]["data_type"], "keyword");
    assert_eq!(info["payload_schema"]["tags"]["points"], 20);
    assert_eq!(info["payload_schema"]["n"]["data_type"], "integer");
    assert_eq!(
        s.ok("POST", "/collections/ix/points/count", Some(&f)),
        before
    );
    s.ok("DELETE", "/collections/ix/index/tags", None);
    assert!(s.ok("GET", "/collections/ix", None)["payload_schema"]
        .get("tags")
        .is_none());
    s.fail(
        "PUT",
        "/collections/ix/index",
        Some(&json!({"field_name": "n", "field_schema": "nonsense"})),
        400,
    );
}

#[test]
fn errors_have_qdrants_status_codes_and_messages() {
    let s = Server::start();
    setup(&s, "e");
    let msg = s.fail(
        "PUT",
        "/collections/e/points",
        Some(&json!({"points": [{"id": 1, "vector": [1, 2, 3]}]})),
        400,
    );
    assert_eq!(
        msg,
        "Wrong input: Vector dimension error: expected dim: 4, got 3"
    );
    let msg = s.fail(
        "POST",
        "/collections/e/points/query",
        Some(&json!({"query": [1, 2]})),
        400,
    );
    assert!(msg.contains("expected dim: 4, got 2"), "{msg}");
    s.fail(
        "POST",
        "/collections/missing/points/query",
        Some(&json!({"query": [1, 2]})),
        404,
    );
    s.fail(
        "PUT",
        "/collections/missing/points",
        Some(&json!({"points": []})),
        404,
    );
    let msg = s.fail(
        "PUT",
        "/collections/e",
        Some(&json!({"vectors": {"size": 4, "distance": "Dot"}})),
        409,
    );
    assert!(msg.contains("already exists"), "{msg}");
    for bad_id in [json!(-1), json!("not-a-uuid"), json!(1.5)] {
        let msg = s.fail(
            "PUT",
            "/collections/e/points",
            Some(&json!({"points": [{"id": bad_id, "vector": [1, 2, 3, 4]}]})),
            400,
        );
        assert!(
            msg.contains("points[0].id") && msg.contains("unsigned integer or a UUID"),
            "{msg}"
        );
    }
    let msg = s.fail(
        "POST",
        "/collections/e/points/scroll",
        Some(&json!({"filter": {"must": [{"key": "n", "range": {"gt": "x"}}]}})),
        400,
    );
    assert!(msg.contains("filter.must[0].range.gt"), "{msg}");
    let msg = s.fail(
        "POST",
        "/collections/e/points/query",
        Some(&json!({"query": [1, 2, 3, 4], "using": "nope"})),
        400,
    );
    assert!(
        msg.contains("Not existing vector name error: nope"),
        "{msg}"
    );
    s.fail(
        "POST",
        "/collections/e/points/query",
        Some(&json!({"query": [1, 2, 3, 4], "limit": 0})),
        422,
    );
    let msg = s.fail(
        "POST",
        "/collections/e/points/query",
        Some(&json!({"query": 12345})),
        404,
    );
    assert!(msg.contains("12345"), "{msg}");
    s.fail(
        "POST",
        "/collections/e/points/payload",
        Some(&json!({"payload": {"a": 1}, "points": []})),
        400,
    );
    let msg = s.fail(
        "POST",
        "/collections/e/points/payload",
        Some(&json!({"payload": {"a": 1}, "points": [1, 777]})),
        404,
    );
    assert!(msg.contains("777"), "{msg}");
    // ...and the existing point of that request was updated all the same
    assert_eq!(
        s.ok("GET", "/collections/e/points/1", None)["payload"]["a"],
        1
    );
    s.fail(
        "PUT",
        "/collections/e/points?wait=maybe",
        Some(&json!({"points": []})),
        400,
    );
    let msg = s.fail(
        "POST",
        "/collections/e/points/query",
        Some(&json!({"query": {"indices": [1], "values": [0.5]}})),
        400,
    );
    assert!(
        msg.contains("needs `using` naming a sparse vector"),
        "{msg}"
    );
}

fn scores(points: &Value) -> Vec<f64> {
    points
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["score"].as_f64().unwrap())
        .collect()
}

fn assert_scores(got: &Value, want: &[f64]) {
    let got = scores(got);
    assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() < 1e-5, "{got:?} vs {want:?}");
    }
}

/// Dot vectors `[i, 1, 0, i % 3]` (see `setup`): MMR, discover, context, relevance feedback and
/// random samples, at the top and inside prefetches.
#[test]
fn query_kinds_mmr_discover_context_feedback_and_sample() {
    let s = Server::start();
    setup(&s, "k");
    let query =
        |body: Value| s.ok("POST", "/collections/k/points/query", Some(&body))["points"].clone();
    // no diversity: the nearest order; the scores stay the similarities
    let p =
        query(json!({"query": {"nearest": [1, 0, 0, 0], "mmr": {"diversity": 0.0}}, "limit": 3}));
    assert_eq!(ids(&p), [19, 18, 17].map(|i| json!(i)));
    assert_scores(&p, &[19.0, 18.0, 17.0]);
    // full diversity: the most relevant first, then the least similar to those picked
    let mmr = json!({"nearest": [1, 0, 0, 0], "mmr": {"diversity": 1.0, "candidates_limit": 10}});
    let p = query(json!({"query": mmr, "limit": 3, "with_vector": true}));
    assert_eq!(ids(&p), [19, 10, 11].map(|i| json!(i)));
    assert_scores(&p, &[19.0, 10.0, 11.0]);
    assert_eq!(p[1]["vector"], json!([10.0, 1.0, 0.0, 1.0]));
    let p = query(json!({"query": mmr, "limit": 2, "offset": 1}));
    assert_eq!(ids(&p), [10, 11].map(|i| json!(i)));
    assert!(p[0]["vector"].is_null());
    // over a prefetch's points
    let p =
        query(json!({"prefetch": {"query": [1, 0, 0, 0], "limit": 10}, "query": mmr, "limit": 3}));
    assert_eq!(ids(&p), [19, 10, 11].map(|i| json!(i)));

    // discover: +1 per pair on the positive side, plus sigmoid(similarity to the target)
    let pair = json!({"positive": [0, 0, 0, 1], "negative": [0, 0, 0, -1]});
    let p = query(
        json!({"query": {"discover": {"target": [1, 0, 0, 0], "context": [pair]}}, "limit": 3}),
    );
    assert_eq!(ids(&p), [19, 17, 16].map(|i| json!(i)));
    let sig = |x: f64| 0.5 * (x / (1.0 + x) + 1.0);
    assert_scores(&p, &[1.0 + sig(19.0), 1.0 + sig(17.0), 1.0 + sig(16.0)]);
    // a point id as the target is left out of the results
    let p = query(json!({"query": {"discover": {"target": 19, "context": pair}}, "limit": 1}));
    assert_eq!(ids(&p), [json!(17)]);
    // context: 0 inside every pair's positive zone, below 0 outside
    let p = query(json!({"query": {"context": pair}, "limit": 13}));
    assert!(scores(&p).iter().all(|s| *s == 0.0), "{p}");
    assert!(ids(&p).iter().all(|i| i.as_u64().unwrap() % 3 != 0), "{p}");
    let p = query(json!({"query": {"context": [pair]}, "limit": 14}));
    assert!(scores(&p)[13] < 0.0, "{p}");

    // relevance feedback (naive): a·sim(target) + (1 − 0)^b·c·(sim(pos) − sim(neg))
    let p = query(json!({"query": {"relevance_feedback": {
        "target": [1, 0, 0, 0],
        "feedback": [{"example": [0, 0, 0, 1], "score": 1.0}, {"example": [0, 0, 0, -1], "score": 0.0}],
        "strategy": {"naive": {"a": 0.5, "b": 1.0, "c": 1.0}}}}, "limit": 3}));
    assert_eq!(ids(&p), [17, 19, 14].map(|i| json!(i)));
    assert_scores(&p, &[12.5, 11.5, 11.0]);

    // random samples: score 1, the filter holds, a prefetch bounds them
    let p = query(
        json!({"query": {"sample": "random"}, "limit": 5, "with_payload": true,
                         "filter": {"must": [{"key": "parity", "match": {"value": "even"}}]}}),
    );
    assert_eq!(p.as_array().unwrap().len(), 5);
    assert!(
        p.as_array()
            .unwrap()
            .iter()
            .all(|x| x["score"] == 1.0 && x["payload"]["parity"] == "even"),
        "{p}"
    );
    let mut got = ids(&p);
    got.dedup();
    assert_eq!(got.len(), 5);
    let p = query(
        json!({"prefetch": {"query": [1, 0, 0, 0], "limit": 3}, "query": {"sample": "random"}, "limit": 10}),
    );
    let mut got: Vec<u64> = ids(&p).iter().map(|i| i.as_u64().unwrap()).collect();
    got.sort_unstable();
    assert_eq!(got, [17, 18, 19]);

    // refusals
    let q = "/collections/k/points/query";
    let msg = s.fail(
        "POST",
        q,
        Some(&json!({"query": {"mmr": {"diversity": 0.5}}})),
        400,
    );
    assert!(msg.contains("mmr"), "{msg}");
    let msg = s.fail(
        "POST",
        q,
        Some(&json!({"query": {"nearest": [1, 0, 0, 0], "mmr": {"diversity": 2}}})),
        422,
    );
    assert!(msg.contains("query.mmr.diversity"), "{msg}");
    let msg = s.fail("POST", q, Some(&json!({"query": {"context": []}})), 400);
    assert!(msg.contains("context"), "{msg}");
    let msg = s.fail(
        "POST",
        q,
        Some(&json!({"query": {"discover": {"context": []}}})),
        400,
    );
    assert!(msg.contains("target"), "{msg}");
    let msg = s.fail("POST", q, Some(&json!({"query": {"sample": "first"}})), 400);
    assert!(msg.contains("sample"), "{msg}");
}

/// Formulas over one prefetch of points 19..=15 (scores 19..=15, payload `n` = id).
#[test]
fn formula_queries_rescore_prefetched_points() {
    let s = Server::start();
    setup(&s, "f");
    let q = "/collections/f/points/query";
    let formula = |f: Value, extra: Value| {
        let mut body = json!({"prefetch": {"query": [1, 0, 0, 0], "limit": 5}, "query": f});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        s.ok("POST", q, Some(&body))["points"].clone()
    };
    // $score − n + [parity is even]: ties keep the prefetch order
    let even = json!({"key": "parity", "match": {"value": "even"}});
    let p = formula(
        json!({"formula": {"sum": ["$score", {"neg": "n"}, even]}}),
        json!({}),
    );
    assert_eq!(ids(&p), [18, 16, 19, 17, 15].map(|i| json!(i)));
    assert_scores(&p, &[1.0, 1.0, 0.0, 0.0, 0.0]);
    // decays around n = 17; threshold, offset and payload
    let decay =
        json!({"formula": {"exp_decay": {"x": "n", "target": 17, "scale": 2, "midpoint": 0.5}}});
    let p = formula(decay.clone(), json!({"limit": 3}));
    assert_eq!(ids(&p), [17, 18, 16].map(|i| json!(i)));
    assert_scores(&p, &[1.0, 0.5f64.sqrt(), 0.5f64.sqrt()]);
    let p = formula(
        decay,
        json!({"limit": 3, "offset": 1, "score_threshold": 0.6, "with_payload": ["n"]}),
    );
    assert_eq!(ids(&p), [18, 16].map(|i| json!(i)));
    assert_eq!(p[0]["payload"], json!({"n": 18}));
    // a missing prefetch score and a missing key take their defaults
    let p = formula(
        json!({"formula": {"mult": ["$score[1]", {"div": {"left": "missing", "right": 0, "by_zero_default": 3}}]},
               "defaults": {"$score[1]": 2, "missing": 5}}),
        json!({"limit": 1}),
    );
    assert_scores(&p, &[6.0]);
    // geo and datetimes
    let p = formula(
        json!({"formula": {"sum": [{"geo_distance": {"origin": {"lat": 0, "lon": 0}, "to": "here"}},
                                   {"datetime_key": "when"}, {"neg": {"datetime": "2024-01-01T00:00:00Z"}}]},
               "defaults": {"here": {"lat": 0, "lon": 0}, "when": "2024-01-01T00:01:00Z"}}),
        json!({"limit": 1}),
    );
    assert_scores(&p, &[60.0]);

    // refusals: at parse time (400), and while scoring (400, as local mode raises)
    let body = |f: Value| json!({"prefetch": {"query": [1, 0, 0, 0], "limit": 5}, "query": f});
    let msg = s.fail(
        "POST",
        q,
        Some(&json!({"query": {"formula": "$score"}})),
        400,
    );
    assert!(msg.contains("prefetch"), "{msg}");
    let msg = s.fail("POST", q, Some(&body(json!({"formula": "missing"}))), 400);
    assert!(msg.contains("No value found for missing"), "{msg}");
    let msg = s.fail(
        "POST",
        q,
        Some(&body(json!({"formula": {"div": {"left": 1, "right": 0}}}))),
        400,
    );
    assert!(msg.contains("non-finite"), "{msg}");
    let msg = s.fail("POST", q, Some(&body(json!({"formula": "$score[x]"}))), 400);
    assert!(msg.contains("Invalid score pattern"), "{msg}");
    let msg = s.fail(
        "POST",
        q,
        Some(&body(
            json!({"formula": {"lin_decay": {"x": 1, "midpoint": 2}}}),
        )),
        400,
    );
    assert!(
        msg.contains("query.formula.lin_decay") && msg.contains("midpoint"),
        "{msg}"
    );
    let msg = s.fail(
        "POST",
        q,
        Some(&body(json!({"formula": {"datetime": "soon"}}))),
        400,
    );
    assert!(msg.contains("soon"), "{msg}");
    let msg = s.fail(
        "POST",
        q,
        Some(&body(json!({"formula": {"sum": [1], "neg": 2}}))),
        400,
    );
    assert!(msg.contains("one key"), "{msg}");
    let msg = s.fail(
        "POST",
        q,
        Some(&body(
            json!({"formula": {"key": "n", "match": {"nope": 1}}}),
        )),
        400,
    );
    assert!(msg.contains("formula"), "{msg}");
    let msg = s.fail(
        "POST",
        q,
        Some(&body(json!({"nearest": [1, 0, 0, 0], "defaults": {}}))),
        400,
    );
    assert!(msg.contains("defaults"), "{msg}");
}

#[test]
fn collection_settings_are_typed_and_validated_on_create_and_update() {
    let s = Server::start();
    let create = |body: Value| {
        let mut b = json!({"vectors": {"size": 4, "distance": "Dot"}});
        for (k, v) in body.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    // a value of the wrong type: 400 naming the JSON path
    let e = s.fail(
        "PUT",
        "/collections/bad",
        Some(&create(json!({"hnsw_config": {"m": -1}}))),
        400,
    );
    assert!(e.contains("hnsw_config.m") && e.contains("-1"), "{e}");
    // a key Qdrant does not have
    let e = s.fail(
        "PUT",
        "/collections/bad",
        Some(&create(
            json!({"optimizers_config": {"indexing_treshold": 5}}),
        )),
        400,
    );
    assert!(e.contains("indexing_treshold"), "{e}");
    // a well-formed value that breaks Qdrant's rule: 422 with Qdrant's wording
    let e = s.fail(
        "PUT",
        "/collections/bad",
        Some(&create(json!({"hnsw_config": {"ef_construct": 2}}))),
        422,
    );
    assert_eq!(
        e,
        "Validation error in JSON body: [hnsw_config.ef_construct: value 2 invalid, must be 4 or larger]"
    );
    s.fail(
        "PUT",
        "/collections/bad",
        Some(&create(
            json!({"optimizers_config": {"deleted_threshold": 2.0}}),
        )),
        422,
    );
    s.fail(
        "PUT",
        "/collections/bad",
        Some(&create(json!({"shard_number": 0}))),
        422,
    );
    let e = s.fail(
        "PUT",
        "/collections/bad",
        Some(&json!({"vectors": {"size": 4, "distance": "Dot", "hnsw_config": {"full_scan_threshold": 1}}})),
        422,
    );
    assert!(e.contains("vectors.hnsw_config.full_scan_threshold"), "{e}");
    // nothing was created by the refused bodies
    assert_eq!(
        s.ok("GET", "/collections/bad/exists", None),
        json!({"exists": false})
    );

    // a valid one: the defaults fill what the body leaves out, and are reported
    s.ok(
        "PUT",
        "/collections/good",
        Some(&create(
            json!({"hnsw_config": {"m": 8}, "wal_config": {"wal_capacity_mb": 16},
                           "optimizers_config": {"max_optimization_threads": "auto"}}),
        )),
    );
    let cfg = s.ok("GET", "/collections/good", None)["config"].clone();
    assert_eq!(cfg["hnsw_config"]["m"], 8);
    assert_eq!(cfg["hnsw_config"]["full_scan_threshold"], 10000);
    assert_eq!(cfg["wal_config"]["wal_capacity_mb"], 16);
    assert_eq!(cfg["optimizer_config"]["max_optimization_threads"], "auto");
    assert_eq!(cfg["optimizer_config"]["deleted_threshold"], 0.2);

    // an update that breaks a rule changes nothing
    s.fail(
        "PATCH",
        "/collections/good",
        Some(&json!({"hnsw_config": {"m": 32, "ef_construct": 1}})),
        422,
    );
    s.fail(
        "PATCH",
        "/collections/good",
        Some(&json!({"params": {"replication_factor": 0}})),
        422,
    );
    s.fail(
        "PATCH",
        "/collections/good",
        Some(&json!({"params": {"replicas": 2}})),
        400,
    );
    let cfg = s.ok("GET", "/collections/good", None)["config"].clone();
    assert_eq!(cfg["hnsw_config"]["m"], 8);
    // a valid update merges field by field
    s.ok(
        "PATCH",
        "/collections/good",
        Some(
            &json!({"hnsw_config": {"ef_construct": 64}, "params": {"read_fan_out_factor": 2},
                     "vectors": {"": {"hnsw_config": {"m": 4}}}}),
        ),
    );
    let cfg = s.ok("GET", "/collections/good", None)["config"].clone();
    assert_eq!(cfg["hnsw_config"]["m"], 8);
    assert_eq!(cfg["hnsw_config"]["ef_construct"], 64);
    assert_eq!(cfg["params"]["read_fan_out_factor"], 2);
    assert_eq!(cfg["params"]["vectors"]["hnsw_config"], json!({"m": 4}));
}
