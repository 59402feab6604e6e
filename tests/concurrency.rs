//! Many clients at once against the real server: searches and writes side by side give the
//! answers exact search gives; a full search queue answers 503 at once; `timeout` is honoured;
//! idle and slow connections do not hold up others; a client that starts as soon as /healthz
//! answers gets no loading error. Correctness only: speed is measured by
//! `rustvecdb bench load`, not here.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::Server;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

const DIM: usize = 16;

/// A deterministic vector per (id, salt) in [-1, 1)^DIM.
fn vector(id: u64, salt: u64) -> Vec<f32> {
    let seed = id.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ salt.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    let mut rng = StdRng::seed_from_u64(seed);
    (0..DIM).map(|_| rng.random_range(-1.0..1.0)).collect()
}

fn l2(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

fn ids_of(v: &Value) -> Vec<u64> {
    v["points"]
        .as_array()
        .unwrap_or_else(|| panic!("no points in {v}"))
        .iter()
        .map(|p| p["id"].as_u64().unwrap())
        .collect()
}

#[test]
fn searches_and_writes_at_once_answer_as_exact_search_does() {
    let s = Server::start();
    // small segments: the optimizer seals, indexes and merges while the test runs
    s.ok(
        "PUT",
        "/collections/c",
        Some(&json!({"vectors": {"size": DIM, "distance": "Euclid"},
                     "optimizers_config": {"indexing_threshold": 64, "default_segment_number": 2},
                     "hnsw_config": {"m": 16, "ef_construct": 64}})),
    );
    // the stable points: never changed; the writers' points live far away (+100 on every
    // coordinate), so they never enter a query's top 10
    let base: Vec<Vec<f32>> = (0..3000).map(|i| vector(i, 1)).collect();
    for chunk in (0..3000u64).collect::<Vec<_>>().chunks(500) {
        let points: Vec<Value> = chunk
            .iter()
            .map(|&i| json!({"id": i, "vector": base[i as usize]}))
            .collect();
        s.ok(
            "PUT",
            "/collections/c/points?wait=true",
            Some(&json!({ "points": points })),
        );
    }
    let far = |id: u64| -> Vec<f32> { vector(id, 2).iter().map(|x| x + 100.0).collect() };
    let queries: Vec<Vec<f32>> = (0..40).map(|i| vector(i, 3)).collect();
    let truth: Vec<Vec<u64>> = queries
        .iter()
        .map(|q| {
            let mut d: Vec<(f32, u64)> = base
                .iter()
                .enumerate()
                .map(|(i, x)| (l2(q, x), i as u64))
                .collect();
            d.sort_by(|a, b| a.0.total_cmp(&b.0));
            d.iter().take(10).map(|x| x.1).collect()
        })
        .collect();

    let written = std::sync::Mutex::new(Vec::<u64>::new());
    std::thread::scope(|sc| {
        for w in 0..3u64 {
            let s = &s;
            let written = &written;
            sc.spawn(move || {
                for b in 0..30u64 {
                    let ids: Vec<u64> =
                        (0..20).map(|k| 100_000 + w * 10_000 + b * 20 + k).collect();
                    let points: Vec<Value> = ids
                        .iter()
                        .map(|&id| json!({"id": id, "vector": far(id)}))
                        .collect();
                    s.ok(
                        "PUT",
                        "/collections/c/points?wait=true",
                        Some(&json!({ "points": points })),
                    );
                    written.lock().unwrap().extend(&ids);
                    // and delete some again
                    if b % 3 == 2 {
                        let gone: Vec<u64> = ids[..5].to_vec();
                        s.ok(
                            "POST",
                            "/collections/c/points/delete?wait=true",
                            Some(&json!({ "points": gone })),
                        );
                        written.lock().unwrap().retain(|id| !gone.contains(id));
                    }
                }
            });
        }
        for t in 0..6usize {
            let s = &s;
            let queries = &queries;
            let truth = &truth;
            sc.spawn(move || {
                let mut hits = 0usize;
                let mut asked = 0usize;
                for round in 0..40usize {
                    let q = (t * 7 + round) % queries.len();
                    // exact search: exactly the truth, in order
                    let v = s.ok(
                        "POST",
                        "/collections/c/points/query",
                        Some(&json!({"query": queries[q], "limit": 10, "params": {"exact": true}})),
                    );
                    assert_eq!(ids_of(&v), truth[q], "exact search, query {q}");
                    // graph search: nearly the truth
                    let v = s.ok(
                        "POST",
                        "/collections/c/points/query",
                        Some(&json!({"query": queries[q], "limit": 10, "params": {"hnsw_ef": 128}})),
                    );
                    let got = ids_of(&v);
                    hits += got.iter().filter(|id| truth[q].contains(id)).count();
                    asked += 10;
                    // the legacy route and a batch go through the same executor
                    let v = s.ok(
                        "POST",
                        "/collections/c/points/search/batch",
                        Some(&json!({"searches": [{"vector": queries[q], "limit": 10, "params": {"exact": true}}]})),
                    );
                    let batch: Vec<u64> = v[0]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|p| p["id"].as_u64().unwrap())
                        .collect();
                    assert_eq!(batch, truth[q]);
                }
                let recall = hits as f64 / asked as f64;
                assert!(recall >= 0.9, "recall@10 {recall} under concurrent writes");
            });
        }
    });
    let written = written.into_inner().unwrap();
    let count = s.ok(
        "POST",
        "/collections/c/points/count",
        Some(&json!({"exact": true})),
    )["count"]
        .as_u64()
        .unwrap();
    assert_eq!(count, 3000 + written.len() as u64);
    let v = s.ok(
        "POST",
        "/collections/c/points",
        Some(&json!({"ids": written, "with_payload": false})),
    );
    assert_eq!(v.as_array().unwrap().len(), written.len());
}

#[test]
fn a_full_search_queue_answers_503_at_once_and_recovers() {
    let mut cmd = Server::command();
    cmd.args(["--search-threads", "1", "--search-queue", "0"]);
    let s = Server::spawn(cmd);
    s.ok(
        "PUT",
        "/collections/c",
        Some(&json!({"vectors": {"size": 64, "distance": "Dot"},
                     "optimizers_config": {"indexing_threshold": 0}})),
    );
    for b in 0..10u64 {
        let points: Vec<Value> = (0..2000u64)
            .map(|i| {
                let id = b * 2000 + i;
                json!({"id": id, "vector": (0..64).map(|d| ((id * 31 + d) % 97) as f32).collect::<Vec<f32>>()})
            })
            .collect();
        s.ok(
            "PUT",
            "/collections/c/points?wait=true",
            Some(&json!({ "points": points })),
        );
    }
    let body = json!({"query": vec![1.0f32; 64], "limit": 10, "params": {"exact": true}});
    let answers: Vec<(u16, Value, Duration)> = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..16)
            .map(|_| {
                let s = &s;
                let body = &body;
                sc.spawn(move || {
                    let mut out = Vec::new();
                    for _ in 0..10 {
                        let t0 = Instant::now();
                        let (st, v) = s.send("POST", "/collections/c/points/query", Some(body));
                        out.push((st, v, t0.elapsed()));
                    }
                    out
                })
            })
            .collect();
        hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let refused: Vec<_> = answers.iter().filter(|a| a.0 == 503).collect();
    let ok = answers.iter().filter(|a| a.0 == 200).count();
    assert!(
        !refused.is_empty(),
        "one worker and no queue: some are refused"
    );
    assert!(ok > 0);
    assert_eq!(refused.len() + ok, answers.len(), "only 200 or 503");
    for (_, v, _) in &refused {
        let msg = v["status"]["error"].as_str().unwrap();
        assert!(msg.contains("overloaded"), "{msg}");
    }
    // refusals are quick: no waiting in a queue
    let mut times: Vec<Duration> = refused.iter().map(|a| a.2).collect();
    times.sort();
    assert!(
        times[times.len() / 2] < Duration::from_millis(500),
        "{times:?}"
    );
    let resp = reqwest::blocking::Client::new()
        .post(s.url("/collections/c/points/query"))
        .json(&body)
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200, "alone, a request is served");
}

#[test]
fn timeout_and_consistency_are_checked_and_honoured() {
    let s = Server::start();
    s.ok(
        "PUT",
        "/collections/c",
        Some(&json!({"vectors": {"size": 4, "distance": "Cosine"}})),
    );
    s.ok(
        "PUT",
        "/collections/c/points?wait=true",
        Some(&json!({"points": [{"id": 1, "vector": [1, 0, 0, 0]}]})),
    );
    let q = json!({"query": [1, 0, 0, 0]});
    for path in [
        "/collections/c/points/query?timeout=5&consistency=majority",
        "/collections/c/points/query?consistency=2",
        "/collections/c/points/scroll?timeout=1",
        "/collections/c/points/count?timeout=1&consistency=all",
    ] {
        let body = if path.contains("query") {
            q.clone()
        } else {
            json!({})
        };
        s.ok("POST", path, Some(&body));
    }
    for (path, field) in [
        ("/collections/c/points/query?timeout=0", "timeout"),
        ("/collections/c/points/query?timeout=soon", "timeout"),
        (
            "/collections/c/points/query?consistency=most",
            "consistency",
        ),
        ("/collections/c/points/query?consistency=0", "consistency"),
    ] {
        let msg = s.fail("POST", path, Some(&q), 400);
        assert!(msg.contains(field), "{path}: {msg}");
    }
}

#[test]
fn idle_and_slow_connections_do_not_hold_up_others() {
    let s = Server::start();
    let addr = s.base.trim_start_matches("http://").to_string();
    let mut held = Vec::new();
    for i in 0..1000 {
        let mut c = TcpStream::connect(&addr).unwrap();
        if i % 10 == 0 {
            // a slow client: half a request line, then nothing
            c.write_all(b"POST /collections HTTP/1.1\r\nHost: x\r\nContent-Le")
                .unwrap();
        }
        held.push(c);
    }
    let t0 = Instant::now();
    for _ in 0..20 {
        s.ok("GET", "/collections", None);
    }
    assert!(
        t0.elapsed() < Duration::from_secs(10),
        "20 requests took {:?} beside 1,000 idle connections",
        t0.elapsed()
    );
    // and the held connections still work
    let mut c = held.pop().unwrap();
    c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    c.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[test]
fn a_client_that_starts_when_healthz_answers_gets_no_loading_error() {
    let dir = tempfile::tempdir().unwrap();
    // a store with something to load
    let s = Server::persistent(dir.path());
    s.ok(
        "PUT",
        "/collections/old",
        Some(&json!({"vectors": {"size": 4, "distance": "Dot"}})),
    );
    s.ok(
        "PUT",
        "/collections/old/points?wait=true",
        Some(&json!({"points": [{"id": 1, "vector": [1, 2, 3, 4]}]})),
    );
    s.stop();
    for round in 0..3 {
        let s = Server::persistent(dir.path());
        // what a Qdrant user's script does: wait for /healthz, then go
        let t0 = Instant::now();
        while !reqwest::blocking::get(s.url("/healthz")).is_ok_and(|r| r.status() == 200) {
            assert!(t0.elapsed() < Duration::from_secs(10));
        }
        let name = format!("new{round}");
        let (st, v) = s.send(
            "PUT",
            &format!("/collections/{name}"),
            Some(&json!({"vectors": {"size": 4, "distance": "Dot"}})),
        );
        assert_eq!(st, 200, "{v}");
        let (st, v) = s.send("GET", "/collections/old", None);
        assert_eq!(st, 200, "{v}");
        assert_eq!(v["result"]["points_count"], 1);
        s.stop();
    }
}
