//! Durability over HTTP: graceful restart and kill -9 recovery of every acknowledged write.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

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

/// The state a point may be in after a crash: what the last acknowledged write left, or what
/// a write in flight at the crash would leave.
#[derive(Clone, Debug, PartialEq)]
enum Expect {
    Absent,
    Present(Value, Value),
}

#[derive(Default)]
struct Model {
    /// id → state after its last acknowledged write
    acked: HashMap<u64, Expect>,
    /// id → state a write in flight would leave
    in_flight: HashMap<u64, Expect>,
    /// acknowledged writes, over all rounds
    acks: usize,
}

#[test]
fn kill_9_loses_no_acknowledged_write_and_half_applies_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let model = Arc::new(Mutex::new(Model::default()));
    let rounds = 5;
    for round in 0..rounds {
        let s = Arc::new(Server::persistent(dir.path()));
        if round == 0 {
            s.ok(
                "PUT",
                "/collections/crash",
                Some(&json!({"distance": "Dot"})),
            );
        } else {
            verify(&s, &model.lock().unwrap());
            // what survived is now the truth; nothing is in flight any more
            let survivors = dump(&s, "crash");
            let mut m = model.lock().unwrap();
            let ids: Vec<u64> = m.acked.keys().chain(m.in_flight.keys()).copied().collect();
            for id in ids {
                let st = match survivors.get(&id.to_string()) {
                    Some((v, p)) => Expect::Present(v.clone(), p.clone()),
                    None => Expect::Absent,
                };
                m.acked.insert(id, st);
            }
            m.in_flight.clear();
        }
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..4u64)
            .map(|t| {
                let (s, model, stop) = (s.clone(), model.clone(), stop.clone());
                std::thread::spawn(move || {
                    let mut i = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        i += 1;
                        // each writer owns ids ≡ t (mod 4) among 0..200, so the model is exact
                        let id = (i * 7 + round * 13) % 50 * 4 + t;
                        let delete = i.is_multiple_of(5);
                        let next = if delete {
                            Expect::Absent
                        } else {
                            let v = json!([1.0, (i % 97) as f64, round as f64]);
                            let p = json!({"writer": t, "i": i, "round": round});
                            Expect::Present(v, p)
                        };
                        model.lock().unwrap().in_flight.insert(id, next.clone());
                        let result = match &next {
                            Expect::Absent => s.try_send(
                                "DELETE",
                                &format!("/collections/crash/points/{id}"),
                                None,
                            ),
                            Expect::Present(v, p) => s.try_send(
                                "POST",
                                "/collections/crash/points",
                                Some(&json!([{"id": id, "vector": v, "payload": p}])),
                            ),
                        };
                        let mut m = model.lock().unwrap();
                        match result {
                            // acknowledged
                            Ok((200, _)) => {
                                m.acks += 1;
                                m.in_flight.remove(&id);
                                m.acked.insert(id, next);
                            }
                            // deleting a missing point: a 404 that changes nothing
                            Ok((404, _)) if delete => {
                                m.in_flight.remove(&id);
                                m.acked.insert(id, Expect::Absent);
                            }
                            Ok((code, v)) => panic!("unexpected answer {code}: {v}"),
                            // the server died mid-request: the write stays in flight
                            Err(_) => return,
                        }
                    }
                })
            })
            .collect();
        // kill while the writers are still sending
        std::thread::sleep(Duration::from_millis(150 + 97 * round));
        s.kill9_now();
        stop.store(true, Ordering::Relaxed);
        for w in writers {
            let _ = w.join();
        }
    }
    let s = Server::persistent(dir.path());
    let m = model.lock().unwrap();
    verify(&s, &m);
    assert!(
        m.acks >= 20 * rounds as usize,
        "the writers got going: {} acknowledged writes",
        m.acks
    );
    eprintln!(
        "kill -9 test: {} acknowledged writes over {rounds} rounds, all present",
        m.acks
    );
}

fn verify(s: &Server, m: &Model) {
    let now = dump(s, "crash");
    let mut checked = 0;
    for (id, acked) in &m.acked {
        let got = match now.get(&id.to_string()) {
            Some((v, p)) => Expect::Present(v.clone(), p.clone()),
            None => Expect::Absent,
        };
        let ok = got == *acked || m.in_flight.get(id) == Some(&got);
        assert!(
            ok,
            "point {id}: found {got:?}, acknowledged {acked:?}, in flight {:?}",
            m.in_flight.get(id)
        );
        checked += 1;
    }
    assert!(checked > 0);
}
