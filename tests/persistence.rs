//! Durability over HTTP: a graceful restart restores everything (kill -9 recovery under
//! concurrent writes is tests/crash.rs).

mod common;

use std::collections::HashMap;

use common::Server;
use serde_json::{json, Value};

/// Every point of a collection, by id, as (vector, payload).
fn dump(s: &Server, coll: &str) -> HashMap<String, (Value, Value)> {
    let all = s.ok("GET", &format!("/collections/{coll}/points"), None);
    all["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["id"].to_string(),
                (p["vector"].clone(), p["payload"].clone()),
            )
        })
        .collect()
}

#[test]
fn a_graceful_restart_restores_collections_points_and_deletions() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::persistent(dir.path());
    s.ok(
        "PUT",
        "/collections/keep",
        Some(&json!({"distance": "Euclid"})),
    );
    s.ok(
        "PUT",
        "/collections/empty",
        Some(&json!({"vectors": {"size": 7, "distance": "Dot"}})),
    );
    s.ok(
        "PUT",
        "/collections/gone",
        Some(&json!({"distance": "Dot"})),
    );
    let pts: Vec<Value> = (0..100)
        .map(|i| json!({"id": i, "vector": [i as f64, -1.5, 1e-3], "payload": {"i": i, "nested": {"s": format!("v{i}")}}}))
        .collect();
    s.ok("POST", "/collections/keep/points", Some(&Value::Array(pts)));
    s.ok(
        "PUT",
        "/collections/keep/points/550e8400-e29b-41d4-a716-446655440000",
        Some(&json!({"vector": [1, 2, 3]})),
    );
    for i in (0..100).step_by(3) {
        s.ok("DELETE", &format!("/collections/keep/points/{i}"), None);
    }
    s.ok(
        "PUT",
        "/collections/keep/points/1",
        Some(&json!({"vector": [9, 9, 9], "payload": {"over": "written"}})),
    );
    s.ok("DELETE", "/collections/gone", None);
    let before = dump(&s, "keep");
    let search = json!({"vector": [10.0, -1.5, 0.0], "limit": 5, "filter": {"nested.s": "v11"}});
    let hits_before = s.ok("POST", "/collections/keep/points/search", Some(&search));
    s.stop();

    let s = Server::persistent(dir.path());
    assert_eq!(
        s.ok("GET", "/collections", None),
        json!({"collections": [{"name": "empty"}, {"name": "keep"}]})
    );
    assert_eq!(dump(&s, "keep"), before);
    assert_eq!(
        s.ok("POST", "/collections/keep/points/search", Some(&search)),
        hits_before
    );
    assert_eq!(
        s.ok("GET", "/collections/empty", None)["config"]["params"]["vectors"]["size"],
        7
    );
    // the dimension fixed by the first point survives too
    let msg = s.fail(
        "PUT",
        "/collections/keep/points/5000",
        Some(&json!({"vector": [1.0]})),
        400,
    );
    assert!(msg.contains("expected dim: 3"), "{msg}");
    let stats = s.ok("GET", "/stats", None);
    assert_eq!(stats["storage"], "disk");
}

#[test]
fn the_seeds_storage_json_path_works_as_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data/storage.json");
    let s = Server::persistent(&path);
    s.ok(
        "PUT",
        "/collections/m",
        Some(&json!({"name": "m", "distance": "Cosine"})),
    );
    s.ok(
        "PUT",
        "/collections/m/points/1",
        Some(&json!({"vector": [0.1, 0.2]})),
    );
    s.stop();
    assert!(path.is_dir());
    let s = Server::persistent(&path);
    assert_eq!(s.ok("GET", "/collections/m", None)["points_count"], 1);
}
