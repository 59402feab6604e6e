//! Vector datatypes over HTTP: a uint8 Cosine space and a float16 Euclid space store Qdrant's
//! cast values (read back as such, also after a restart of a persistent server), score them as
//! Qdrant does, report the datatype back, and refuse an unknown datatype or one on a
//! multivector space with a 400 naming the field. Sealed, indexed segments and their files:
//! the engine's tests (crates/engine/src/tests/datatype.rs).

mod common;

use common::Server;
use serde_json::{json, Value};

fn setup(s: &Server) {
    s.ok(
        "PUT",
        "/collections/d",
        Some(&json!({
            "vectors": {
                "u": {"size": 3, "distance": "Cosine", "datatype": "uint8"},
                "h": {"size": 2, "distance": "Euclid", "datatype": "float16"}
            }
        })),
    );
    s.ok(
        "PUT",
        "/collections/d/points?wait=true",
        Some(&json!({"points": [
            {"id": 1, "vector": {"u": [3.7, 4.2, -1.0], "h": [0.1, 0.2]}},
            {"id": 2, "vector": {"u": [0.0, 300.0, 1.0], "h": [1.0, 1.0]}}
        ]})),
    );
}

fn check(s: &Server) {
    let got = s.ok(
        "POST",
        "/collections/d/points",
        Some(&json!({"ids": [1, 2], "with_vector": true})),
    );
    assert_eq!(got[0]["vector"]["u"], json!([3.0, 4.0, 0.0]), "{got}");
    assert_eq!(got[1]["vector"]["u"], json!([0.0, 255.0, 1.0]), "{got}");
    // 0.1 and 0.2 as the nearest halves
    let h = got[0]["vector"]["h"].as_array().unwrap().clone();
    assert_eq!(h[0].as_f64().unwrap() as f32, 0.099_975_586);
    assert_eq!(h[1].as_f64().unwrap() as f32, 0.199_951_17);

    // the query is cast too ([3, 4, 0]); uint8 Cosine is the full cosine of the stored values
    let r = s.ok(
        "POST",
        "/collections/d/points/query",
        Some(&json!({"query": [3.9, 4.1, 0.0], "using": "u", "limit": 2})),
    );
    let pts = r["points"].as_array().unwrap();
    assert_eq!(pts[0]["id"], 1);
    assert!(
        (pts[0]["score"].as_f64().unwrap() - 1.0).abs() < 1e-6,
        "{r}"
    );
    let want = 4.0 * 255.0 / (5.0 * (255.0f64 * 255.0 + 1.0).sqrt());
    assert!(
        (pts[1]["score"].as_f64().unwrap() - want).abs() < 1e-5,
        "{r}"
    );

    let r = s.ok(
        "POST",
        "/collections/d/points/query",
        Some(&json!({"query": [0.3, 0.2], "using": "h", "limit": 1})),
    );
    let d = (0.3f64 - 0.099_975_586).hypot(0.2 - 0.199_951_17);
    assert!(
        (r["points"][0]["score"].as_f64().unwrap() - d).abs() < 1e-4,
        "{r}"
    );
    let info = s.ok("GET", "/collections/d", None);
    let v = &info["config"]["params"]["vectors"];
    assert_eq!(
        (&v["u"]["datatype"], &v["h"]["datatype"]),
        (&json!("uint8"), &json!("float16"))
    );
}

#[test]
fn uint8_and_float16_spaces_store_and_score_cast_values_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::persistent(dir.path());
    setup(&s);
    check(&s);
    s.stop();
    let s = Server::persistent(dir.path());
    check(&s);
}

#[test]
fn unknown_and_multivector_datatypes_are_refused() {
    let s = Server::start();
    let e = s.fail(
        "PUT",
        "/collections/x",
        Some(&json!({"vectors": {"size": 2, "distance": "Dot", "datatype": "int4"}})),
        400,
    );
    assert!(e.contains("vectors.datatype") && e.contains("int4"), "{e}");
    let e = s.fail(
        "PUT",
        "/collections/x",
        Some(
            &json!({"vectors": {"size": 2, "distance": "Dot", "datatype": "uint8",
            "multivector_config": {"comparator": "max_sim"}}}),
        ),
        400,
    );
    assert!(e.contains("datatype") && e.contains("multivector"), "{e}");
    s.ok(
        "PUT",
        "/collections/x",
        Some(&json!({"vectors": {"a": {"size": 2, "distance": "Dot"}}})),
    );
    let e = s.fail(
        "PUT",
        "/collections/x/vectors/b",
        Some(&json!({"dense": {"size": 2, "distance": "Dot", "datatype": "uint16"}})),
        400,
    );
    assert!(e.contains("datatype"), "{e}");
    let (status, v): (u16, Value) = s.send(
        "PUT",
        "/collections/x/vectors/b",
        Some(&json!({"dense": {"size": 2, "distance": "Dot", "datatype": "uint8"}})),
    );
    assert_eq!(status, 200, "{v}");
}
