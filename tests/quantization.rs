//! Quantization over HTTP: `quantization_config` per collection and per vector, created,
//! reported back, changed and disabled by PATCH, kept across a restart; searches walk the codes
//! (`rescore: false` answers with the codes' estimated scores), rescore with `oversampling`,
//! or ignore them; every kind (scalar, product, binary at 1, 1.5 and 2 bits, turbo) is taken;
//! unknown kinds and bad values are refused with a 400 naming them.
//! Recall per kind and distance: the engine's tests (crates/engine/src/tests/quantization.rs).

mod common;

use std::time::{Duration, Instant};

use common::Server;
use serde_json::{json, Value};

const DIM: usize = 16;

fn rows(n: usize, seed: u64) -> Vec<Vec<f32>> {
    // a small deterministic generator (xorshift), values in [-1, 1)
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            (0..DIM)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x >> 40) as f32 / (1u64 << 23) as f32 - 1.0
                })
                .collect()
        })
        .collect()
}

fn wait_green(s: &Server, name: &str) -> Value {
    let start = Instant::now();
    loop {
        let info = s.ok("GET", &format!("/collections/{name}"), None);
        if info["status"] == "green" {
            return info;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "{info}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn query(s: &Server, q: &[f32], params: Value) -> Vec<(i64, f64)> {
    let r = s.ok(
        "POST",
        "/collections/q/points/query",
        Some(&json!({"query": q, "limit": 10, "params": params})),
    );
    r["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_i64().unwrap(), p["score"].as_f64().unwrap()))
        .collect()
}

/// Collection `q` (Dot) with these vector params over `size` and `distance`, quantized so,
/// sealing every 320 points, then 3,000 points.
fn setup_with(s: &Server, vectors: Value, quantization: Value) {
    let mut v = json!({"size": DIM, "distance": "Dot"});
    for (k, x) in vectors.as_object().unwrap() {
        v[k] = x.clone();
    }
    s.ok(
        "PUT",
        "/collections/q",
        Some(&json!({
            "vectors": v,
            "quantization_config": quantization,
            "optimizers_config": {"indexing_threshold": 20}
        })),
    );
    let data = rows(3000, 1);
    for (c, chunk) in data.chunks(500).enumerate() {
        let points: Vec<Value> = chunk
            .iter()
            .enumerate()
            .map(|(i, v)| json!({"id": c * 500 + i, "vector": v}))
            .collect();
        s.ok(
            "PUT",
            "/collections/q/points?wait=true",
            Some(&json!({ "points": points })),
        );
    }
}

fn setup(s: &Server) {
    setup_with(
        s,
        json!({}),
        json!({"scalar": {"type": "int8", "quantile": 0.99, "always_ram": true}}),
    );
}

/// Searches on the codes: rescored hits carry exact scores; without rescoring, the codes'
/// estimates (close to the exact scores, not equal to them all).
fn check_searches(s: &Server) {
    let (mut found, mut estimated) = (0, 0);
    for q in rows(20, 2) {
        let exact = query(s, &q, json!({"exact": true}));
        let rescored = query(s, &q, json!({"quantization": {"oversampling": 3.0}}));
        found += rescored
            .iter()
            .filter(|h| exact.iter().any(|e| e.0 == h.0))
            .count();
        let all = s.ok(
            "POST",
            "/collections/q/points/query",
            Some(&json!({"query": q, "limit": 3000, "params": {"exact": true}})),
        );
        let truth = |id: i64| {
            all["points"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["id"] == id)
                .unwrap()["score"]
                .as_f64()
                .unwrap()
        };
        for (id, score) in &rescored {
            assert!((score - truth(*id)).abs() < 1e-4, "{id}: {score}");
        }
        for (id, score) in query(s, &q, json!({"quantization": {"rescore": false}})) {
            let t = truth(id);
            assert!(
                (score - t).abs() < 0.05 * t.abs().max(1.0),
                "{id}: {score} vs {t}"
            );
            estimated += usize::from((score - t).abs() > 1e-6);
        }
        let ignored = query(
            s,
            &q,
            json!({"quantization": {"ignore": true}, "hnsw_ef": 128}),
        );
        assert_eq!(ignored.len(), 10);
    }
    assert!(found >= 180, "recall@10 after rescoring {found}/200");
    assert!(estimated > 0, "rescore=false gave exact scores throughout");
}

#[test]
fn a_quantized_collection_is_searched_on_codes_across_a_restart_and_reconfigured() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::persistent(dir.path());
    setup(&s);
    let info = wait_green(&s, "q");
    assert_eq!(
        info["config"]["quantization_config"],
        json!({"scalar": {"type": "int8", "quantile": 0.99, "always_ram": true}})
    );
    check_searches(&s);
    s.stop();
    let s = Server::persistent(dir.path());
    wait_green(&s, "q");
    check_searches(&s);

    // the vector's own config wins; "Disabled" on it falls back to the collection's, and on
    // the collection removes quantization
    s.ok(
        "PATCH",
        "/collections/q",
        Some(&json!({"vectors": {"": {"quantization_config": {"binary": {"query_encoding": "scalar8bits"}}}}})),
    );
    let info = wait_green(&s, "q");
    assert_eq!(
        info["config"]["params"]["vectors"]["quantization_config"],
        json!({"binary": {"query_encoding": "scalar8bits"}}),
        "{info}"
    );
    s.ok(
        "PATCH",
        "/collections/q",
        Some(&json!({"vectors": {"": {"quantization_config": "Disabled"}}, "quantization_config": "Disabled"})),
    );
    let info = wait_green(&s, "q");
    assert!(info["config"]["quantization_config"].is_null(), "{info}");
    assert!(
        info["config"]["params"]["vectors"]
            .get("quantization_config")
            .is_none(),
        "{info}"
    );
    // no codes: rescore=false has nothing to estimate with, every score is exact
    for q in rows(5, 3) {
        let exact = query(&s, &q, json!({"exact": true}));
        let plain = query(
            &s,
            &q,
            json!({"quantization": {"rescore": false}, "hnsw_ef": 3000}),
        );
        assert_eq!(exact, plain);
    }
}

#[test]
fn turbo_and_two_bit_binary_configs_are_taken_reported_and_searched() {
    let s = Server::start();
    for (config, oversampling, want) in [
        (json!({"turbo": {"bits": "bits4"}}), 2.0, 90),
        (
            json!({"turbo": {"bits": "bits1_5", "always_ram": true}}),
            4.0,
            62,
        ),
        (
            json!({"binary": {"encoding": "two_bits", "query_encoding": "scalar4bits"}}),
            4.0,
            70,
        ),
        // bits from each value's band, Hamming distance, unnormalised vectors: coarse
        (
            json!({"binary": {"encoding": "one_and_half_bits"}}),
            12.0,
            55,
        ),
    ] {
        setup_with(&s, json!({}), config.clone());
        let info = wait_green(&s, "q");
        assert_eq!(info["config"]["quantization_config"], config);
        let mut found = 0;
        for q in rows(10, 4) {
            let exact = query(&s, &q, json!({"exact": true}));
            let got = query(
                &s,
                &q,
                json!({"quantization": {"oversampling": oversampling}, "hnsw_ef": 128}),
            );
            // rescored from the originals: exact scores
            for (id, score) in &got {
                if let Some(e) = exact.iter().find(|e| e.0 == *id) {
                    assert!((score - e.1).abs() < 1e-4, "{config}: {id}");
                }
            }
            found += got
                .iter()
                .filter(|h| exact.iter().any(|e| e.0 == h.0))
                .count();
        }
        // 16 dimensions are few for one or two bits a value; rescoring several times as
        // many candidates still finds most of the top ten
        assert!(found >= want, "{config}: recall@10 {found}/100");
        s.ok("DELETE", "/collections/q", None);
    }
}

#[test]
fn unimplemented_kinds_and_bad_values_are_refused_naming_them() {
    let s = Server::start();
    for (q, names) in [
        (json!({"turbo": {"bits": "bits3"}}), "bits3"),
        (json!({"binary": {"encoding": "three_bits"}}), "three_bits"),
        (
            json!({"binary": {"query_encoding": "scalar2bits"}}),
            "scalar2bits",
        ),
        (
            json!({"scalar": {"type": "int8", "quantile": 0.2}}),
            "quantile",
        ),
        (json!({"product": {"compression": "x5"}}), "x5"),
        (json!({"scalar": {"type": "int8", "bits": 8}}), "bits"),
    ] {
        let e = s.fail(
            "PUT",
            "/collections/x",
            Some(&json!({"vectors": {"size": 4, "distance": "Dot"}, "quantization_config": q})),
            400,
        );
        assert!(
            e.contains("quantization_config") && e.contains(names),
            "{q}: {e}"
        );
        let e = s.fail(
            "PUT",
            "/collections/x",
            Some(&json!({"vectors": {"v": {"size": 4, "distance": "Dot", "quantization_config": q}}})),
            400,
        );
        assert!(e.contains(names), "{q}: {e}");
    }
    let e = s.fail(
        "PUT",
        "/collections/x",
        Some(&json!({"vectors": {"size": 4, "distance": "Dot",
            "multivector_config": {"comparator": "max_sim"},
            "quantization_config": {"scalar": {"type": "int8"}}}})),
        400,
    );
    assert!(
        e.contains("quantization_config") && e.contains("multivector"),
        "{e}"
    );
    s.ok(
        "PUT",
        "/collections/x",
        Some(&json!({"vectors": {"size": 4, "distance": "Dot"}})),
    );
    for (params, name) in [
        (
            json!({"quantization": {"oversampling": 0.5}}),
            "oversampling",
        ),
        (json!({"quantization": {"rescore": "yes"}}), "rescore"),
        (json!({"quantization": {"colour": 1}}), "colour"),
    ] {
        let e = s.fail(
            "POST",
            "/collections/x/points/query",
            Some(&json!({"query": [1.0, 0.0, 0.0, 0.0], "params": params})),
            400,
        );
        assert!(e.contains(name), "{params}: {e}");
    }
    let e = s.fail(
        "PATCH",
        "/collections/x",
        Some(&json!({"quantization_config": "Enabled"})),
        400,
    );
    assert!(e.contains("Disabled"), "{e}");
    // the vectors' `memory` placement: Qdrant's words, pinned refused for dense vectors
    for (memory, names) in [("pinned", "pinned"), ("warm", "warm")] {
        let e = s.fail(
            "PUT",
            "/collections/y",
            Some(&json!({"vectors": {"size": 4, "distance": "Dot", "memory": memory}})),
            400,
        );
        assert!(e.contains("memory") || e.contains(names), "{memory}: {e}");
        assert!(e.contains(names), "{memory}: {e}");
    }
    s.ok(
        "PUT",
        "/collections/y",
        Some(&json!({"vectors": {"size": 4, "distance": "Dot", "memory": "cold"}})),
    );
    let info = s.ok("GET", "/collections/y", None);
    assert_eq!(
        info["config"]["params"]["vectors"]["memory"], "cold",
        "{info}"
    );
}

/// An on_disk, quantized space of a persistent server: its graphs are mapped (telemetry's
/// `mapped_bytes` well above its `ram_bytes`), its codes on the heap (`quantized_bytes`), and
/// its searches rescore from the mapped originals, also after a restart.
#[test]
fn on_disk_graphs_are_mapped_and_reported_with_the_codes_in_telemetry() {
    let dir = tempfile::tempdir().unwrap();
    let storage = |s: &Server| {
        let t = s.ok("GET", "/telemetry?details_level=2", None);
        let c = t["collections"]["collections"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == "q")
            .unwrap()
            .clone();
        let v = c["vectors"][0].clone();
        (
            v["ram_bytes"].as_u64().unwrap(),
            v["mapped_bytes"].as_u64().unwrap(),
            v["quantized_bytes"].as_u64().unwrap(),
            c["disk_bytes"].as_u64().unwrap(),
        )
    };
    let s = Server::persistent(dir.path());
    setup_with(
        &s,
        json!({"on_disk": true}),
        json!({"scalar": {"type": "int8"}}),
    );
    let check = |s: &Server, when: &str| {
        wait_green(s, "q");
        let (ram, mapped, quantized, disk) = storage(s);
        assert!(
            mapped > 3 * ram && quantized > 0 && disk > mapped,
            "{when}: ram {ram}, mapped {mapped}, quantized {quantized}, disk {disk}"
        );
        let q = &rows(1, 9)[0];
        let exact = query(s, q, json!({"exact": true}));
        let got = query(s, q, json!({"quantization": {"oversampling": 4.0}}));
        assert!(
            got.iter().filter(|h| exact.contains(h)).count() >= 8,
            "{when}: {got:?} vs {exact:?}"
        );
    };
    check(&s, "built");
    s.stop();
    let s = Server::persistent(dir.path());
    check(&s, "after a restart");
}
