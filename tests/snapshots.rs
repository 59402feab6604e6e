//! Snapshots over HTTP (Qdrant's routes): create, list, download, delete, upload (multipart),
//! recover from a file, per collection and for the whole storage; restore into a fresh server
//! and over a collection of the same name; damaged snapshots leave collections untouched.
//! Shard snapshots (shard 0, the collection's one shard) are kept apart from the collection's.

mod common;

use std::collections::BTreeMap;

use common::Server;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// Every point of a collection: id → (vector, payload).
fn points(s: &Server, coll: &str) -> BTreeMap<String, (Value, Value)> {
    let r = s.ok(
        "POST",
        &format!("/collections/{coll}/points/scroll"),
        Some(&json!({"limit": 100000, "with_payload": true, "with_vector": true})),
    );
    r["points"]
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

fn fill(s: &Server, coll: &str, n: u64) {
    s.ok(
        "PUT",
        &format!("/collections/{coll}"),
        Some(&json!({
            "vectors": {"size": 4, "distance": "Cosine"},
            // seal (and persist) a segment every ~60 points
            "optimizers_config": {"indexing_threshold": 1}
        })),
    );
    for chunk in (0..n).collect::<Vec<_>>().chunks(100) {
        let pts: Vec<Value> = chunk
            .iter()
            .map(|&i| json!({"id": i, "vector": [1.0, i as f64, (i % 7) as f64, 0.5], "payload": {"i": i, "tag": format!("t{}", i % 3)}}))
            .collect();
        s.ok(
            "PUT",
            &format!("/collections/{coll}/points?wait=true"),
            Some(&json!({"points": pts})),
        );
    }
    s.ok(
        "POST",
        &format!("/collections/{coll}/points/delete?wait=true"),
        Some(&json!({"points": [1, 2, 3]})),
    );
}

fn download(s: &Server, path: &str) -> Vec<u8> {
    let resp = reqwest::blocking::get(s.url(path)).unwrap();
    assert_eq!(resp.status().as_u16(), 200, "GET {path}");
    resp.bytes().unwrap().to_vec()
}

fn upload(s: &Server, path: &str, bytes: Vec<u8>) -> (u16, Value) {
    let form = reqwest::blocking::multipart::Form::new().part(
        "snapshot",
        reqwest::blocking::multipart::Part::bytes(bytes).file_name("x.snapshot"),
    );
    let resp = reqwest::blocking::Client::new()
        .post(s.url(path))
        .multipart(form)
        .send()
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().unwrap_or(Value::Null))
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn a_collection_snapshot_round_trips_through_download_upload_and_file_recovery() {
    let dir_a = tempfile::tempdir().unwrap();
    let a = Server::persistent(dir_a.path());
    fill(&a, "c", 400);
    let want = points(&a, "c");
    assert_eq!(want.len(), 397);

    let d = a.ok("POST", "/collections/c/snapshots?wait=true", None);
    let name = d["name"].as_str().unwrap().to_string();
    assert!(name.starts_with("c-") && name.ends_with(".snapshot"), "{d}");
    assert!(d["size"].as_u64().unwrap() > 0);
    assert!(d["creation_time"].as_str().unwrap().contains('T'));
    let list = a.ok("GET", "/collections/c/snapshots", None);
    assert_eq!(list, json!([d]));
    let bytes = download(&a, &format!("/collections/c/snapshots/{name}"));
    assert_eq!(bytes.len() as u64, d["size"].as_u64().unwrap());
    assert_eq!(sha256(&bytes), d["checksum"].as_str().unwrap());

    // upload into a fresh in-memory server, checksum checked
    let b = Server::start();
    let (status, v) = upload(
        &b,
        &format!(
            "/collections/c/snapshots/upload?priority=snapshot&checksum={}",
            sha256(&bytes)
        ),
        bytes.clone(),
    );
    assert_eq!((status, &v["result"]), (200, &json!(true)), "{v}");
    assert_eq!(points(&b, "c"), want);

    // a wrong checksum, a damaged file and garbage are refused; the collection stays whole
    let (status, v) = upload(
        &b,
        "/collections/c/snapshots/upload?checksum=abcd",
        bytes.clone(),
    );
    assert_eq!(status, 400, "{v}");
    assert!(
        v["status"]["error"].as_str().unwrap().contains("checksum"),
        "{v}"
    );
    let mut damaged = bytes.clone();
    let mid = damaged.len() / 2;
    damaged[mid] ^= 0x20;
    assert_eq!(
        upload(&b, "/collections/c/snapshots/upload", damaged).0,
        400
    );
    assert_eq!(
        upload(&b, "/collections/c/snapshots/upload", b"junk".to_vec()).0,
        400
    );
    assert_eq!(points(&b, "c"), want);

    // recover from a file on the server, over a collection of the same name, in a durable
    // server; the result survives a restart
    let dir_c = tempfile::tempdir().unwrap();
    let c = Server::persistent(dir_c.path());
    c.ok(
        "PUT",
        "/collections/c",
        Some(&json!({"vectors": {"size": 2, "distance": "Dot"}})),
    );
    c.ok(
        "PUT",
        "/collections/c/points?wait=true",
        Some(&json!({"points": [{"id": 999999, "vector": [1, 2]}]})),
    );
    let file = dir_a.path().join("snapshots/collections/c").join(&name);
    assert!(file.is_file(), "snapshots live under <storage>/snapshots");
    c.ok(
        "PUT",
        "/collections/c/snapshots/recover",
        Some(
            &json!({"location": format!("file://{}", file.display()), "checksum": sha256(&bytes)}),
        ),
    );
    assert_eq!(points(&c, "c"), want);
    let info = c.ok("GET", "/collections/c", None);
    assert_eq!(info["config"]["params"]["vectors"]["size"], 4);
    c.stop();
    let c = Server::persistent(dir_c.path());
    assert_eq!(points(&c, "c"), want);
    // writes go on after a recovery
    c.ok(
        "PUT",
        "/collections/c/points?wait=true",
        Some(&json!({"points": [{"id": 5000, "vector": [1, 1, 1, 1]}]})),
    );

    // bad requests (none changes the collection)
    let before_refusals = points(&c, "c");
    let e = c.fail(
        "PUT",
        "/collections/c/snapshots/recover",
        Some(&json!({"location": "https://example.com/x.snapshot"})),
        400,
    );
    assert!(e.contains("location"), "{e}");
    c.fail(
        "PUT",
        "/collections/c/snapshots/recover",
        Some(&json!({"location": "file:///nonexistent/x.snapshot"})),
        404,
    );
    c.fail("GET", "/collections/c/snapshots/..%2Fx.snapshot", None, 400);
    c.fail("GET", "/collections/c/snapshots/none.snapshot", None, 404);
    c.fail("GET", "/collections/nope/snapshots", None, 404);
    c.fail("POST", "/collections/nope/snapshots", None, 404);
    c.fail("GET", "/snapshots/none.snapshot", None, 404);
    let e = c.fail(
        "PUT",
        "/collections/c/snapshots/recover",
        Some(&json!(["file:///x"])),
        400,
    );
    assert!(e.contains("location"), "{e}");
    let e = c.fail(
        "PUT",
        "/collections/c/snapshots/recover",
        Some(&json!({"location": file.to_str().unwrap(), "priority": "urgent"})),
        400,
    );
    assert!(e.contains("priority"), "{e}");
    let e = c.fail(
        "PUT",
        "/collections/c/snapshots/recover",
        Some(&json!({"location": "relative/x.snapshot"})),
        400,
    );
    assert!(e.contains("absolute"), "{e}");
    c.fail("POST", "/collections/c/snapshots?wait=maybe", None, 400);
    // a multipart body without a file
    let form = reqwest::blocking::multipart::Form::new().text("other", "x");
    let resp = reqwest::blocking::Client::new()
        .post(c.url("/collections/c/snapshots/upload"))
        .multipart(form)
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let v: Value = resp.json().unwrap();
    assert!(
        v["status"]["error"].as_str().unwrap().contains("snapshot"),
        "{v}"
    );
    assert!(
        points(&c, "c") == before_refusals,
        "refused recoveries change nothing"
    );

    // delete
    a.ok("DELETE", &format!("/collections/c/snapshots/{name}"), None);
    a.fail(
        "GET",
        &format!("/collections/c/snapshots/{name}"),
        None,
        404,
    );
    assert_eq!(a.ok("GET", "/collections/c/snapshots", None), json!([]));
}

#[test]
fn a_full_snapshot_restores_every_collection_and_alias() {
    let dir = tempfile::tempdir().unwrap();
    let a = Server::persistent(dir.path());
    fill(&a, "one", 150);
    a.ok(
        "PUT",
        "/collections/two",
        Some(&json!({"vectors": {"size": 2, "distance": "Euclid"}})),
    );
    a.ok(
        "PUT",
        "/collections/two/points?wait=true",
        Some(&json!({"points": [{"id": 7, "vector": [0.5, 0.25], "payload": {"k": "v"}}]})),
    );
    a.ok(
        "POST",
        "/collections/aliases",
        Some(&json!({"actions": [{"create_alias": {"collection_name": "one", "alias_name": "first"}}]})),
    );
    let d = a.ok("POST", "/snapshots", None);
    let name = d["name"].as_str().unwrap().to_string();
    assert!(name.starts_with("full-snapshot-"), "{d}");
    assert_eq!(a.ok("GET", "/snapshots", None), json!([d]));
    let bytes = download(&a, &format!("/snapshots/{name}"));
    assert_eq!(sha256(&bytes), d["checksum"].as_str().unwrap());

    let b = Server::start();
    let (status, v) = upload(&b, "/snapshots/upload", bytes);
    assert_eq!(status, 200, "{v}");
    assert_eq!(points(&b, "one"), points(&a, "one"));
    assert_eq!(points(&b, "two"), points(&a, "two"));
    assert_eq!(points(&b, "first"), points(&a, "one"));

    a.ok("DELETE", &format!("/snapshots/{name}"), None);
    assert_eq!(a.ok("GET", "/snapshots", None), json!([]));
}

fn cli(args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rustvecdb"))
        .args(args)
        .env_remove("RVDB_API_KEY")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_snapshot_command_creates_lists_downloads_and_restores() {
    let a = Server::start();
    fill(&a, "c", 120);
    let want = points(&a, "c");
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("c.snapshot");
    let (ok, out, err) = cli(&[
        "snapshot",
        "create",
        "--url",
        &a.base,
        "--collection",
        "c",
        "--out",
        file.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let d: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        sha256(&std::fs::read(&file).unwrap()),
        d["checksum"].as_str().unwrap()
    );
    let (ok, out, err) = cli(&["snapshot", "list", "--url", &a.base, "--collection", "c"]);
    assert!(ok, "{err}");
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap(), json!([d]));

    // into a running server (uploaded), under another name
    let b = Server::start();
    let (ok, _, err) = cli(&[
        "snapshot",
        "restore",
        file.to_str().unwrap(),
        "--url",
        &b.base,
        "--collection",
        "copy",
    ]);
    assert!(ok, "{err}");
    assert_eq!(points(&b, "copy"), want);

    // into a storage directory, then served from it
    let store = work.path().join("store");
    let (ok, _, err) = cli(&[
        "snapshot",
        "restore",
        file.to_str().unwrap(),
        "--storage-path",
        store.to_str().unwrap(),
        "--collection",
        "c",
    ]);
    assert!(ok, "{err}");
    let s = Server::persistent(&store);
    assert_eq!(points(&s, "c"), want);
    drop(s);

    // a full snapshot, restored into an empty storage directory
    let full = work.path().join("full.snapshot");
    let (ok, _, err) = cli(&[
        "snapshot",
        "create",
        "--url",
        &a.base,
        "--out",
        full.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let store2 = work.path().join("store2");
    let (ok, _, err) = cli(&[
        "snapshot",
        "restore",
        full.to_str().unwrap(),
        "--storage-path",
        store2.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let s = Server::persistent(&store2);
    assert_eq!(points(&s, "c"), want);

    // errors are reported, not panicked
    let (ok, _, err) = cli(&[
        "snapshot",
        "restore",
        "/nonexistent.snapshot",
        "--url",
        &b.base,
    ]);
    assert!(!ok && err.contains("no such file"), "{err}");
    let (ok, _, err) = cli(&["snapshot", "list", "--url", &b.base, "--collection", "nope"]);
    assert!(!ok && err.contains("404"), "{err}");
}

#[test]
fn shard_zero_snapshots_are_kept_apart_and_round_trip_other_shards_are_404() {
    let dir = tempfile::tempdir().unwrap();
    let a = Server::persistent(dir.path());
    fill(&a, "c", 300);
    let want = points(&a, "c");
    let d = a.ok("POST", "/collections/c/shards/0/snapshots?wait=true", None);
    let name = d["name"].as_str().unwrap().to_string();
    assert!(
        name.starts_with("c-shard-0-") && name.ends_with(".snapshot"),
        "{d}"
    );
    assert_eq!(
        a.ok("GET", "/collections/c/shards/0/snapshots", None),
        json!([d])
    );
    // not among the collection's snapshots, stored where Qdrant keeps them
    assert_eq!(a.ok("GET", "/collections/c/snapshots", None), json!([]));
    assert!(dir
        .path()
        .join("snapshots/collections/c/shards/0")
        .join(&name)
        .is_file());
    let bytes = download(&a, &format!("/collections/c/shards/0/snapshots/{name}"));
    assert_eq!(sha256(&bytes), d["checksum"].as_str().unwrap());

    // a fresh snapshot, streamed and not kept
    let streamed = download(&a, "/collections/c/shards/0/snapshot");
    assert!(streamed.len() > 1000);
    assert_eq!(
        a.ok("GET", "/collections/c/shards/0/snapshots", None),
        json!([d])
    );
    assert!(!std::fs::read_dir(dir.path().join("snapshots"))
        .unwrap()
        .any(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with(".stream")));

    // recovery needs the collection; it is replaced whole
    let b = Server::start();
    let (status, v) = upload(
        &b,
        "/collections/c/shards/0/snapshots/upload",
        bytes.clone(),
    );
    assert_eq!(status, 404, "{v}");
    b.ok(
        "PUT",
        "/collections/c",
        Some(&json!({"vectors": {"size": 4, "distance": "Cosine"}})),
    );
    let (status, v) = upload(
        &b,
        &format!(
            "/collections/c/shards/0/snapshots/upload?wait=true&priority=replica&checksum={}",
            sha256(&bytes)
        ),
        bytes.clone(),
    );
    assert_eq!((status, &v["result"]), (200, &json!(true)), "{v}");
    assert_eq!(points(&b, "c"), want);
    let (status, v) = upload(
        &b,
        "/collections/c/shards/0/snapshots/upload?checksum=abcd",
        bytes.clone(),
    );
    assert_eq!(status, 400, "{v}");
    // from a file on the server, the streamed snapshot too
    let file = dir.path().join("streamed.snapshot");
    std::fs::write(&file, &streamed).unwrap();
    a.ok(
        "POST",
        "/collections/c/points/delete?wait=true",
        Some(&json!({"points": [10, 11]})),
    );
    a.ok(
        "PUT",
        "/collections/c/shards/0/snapshots/recover?wait=true",
        Some(
            &json!({"location": format!("file://{}", file.display()), "priority": "snapshot",
                     "checksum": sha256(&streamed)}),
        ),
    );
    assert_eq!(points(&a, "c"), want);
    a.fail(
        "PUT",
        "/collections/c/shards/0/snapshots/recover",
        Some(&json!({"location": "file:///no/such.snapshot"})),
        404,
    );

    // other shards, collections and snapshots
    for (m, p) in [
        ("GET", "/collections/c/shards/1/snapshots"),
        ("POST", "/collections/c/shards/1/snapshots"),
        ("GET", "/collections/c/shards/7/snapshot"),
        ("GET", &*format!("/collections/c/shards/1/snapshots/{name}")),
        (
            "DELETE",
            &*format!("/collections/c/shards/1/snapshots/{name}"),
        ),
    ] {
        let msg = a.fail(m, p, None, 404);
        assert!(msg.starts_with("Not found: shard "), "{m} {p}: {msg}");
    }
    let msg = a.fail(
        "PUT",
        "/collections/c/shards/2/snapshots/recover",
        Some(&json!({"location": format!("file://{}", file.display())})),
        404,
    );
    assert_eq!(msg, "Not found: shard 2");
    let msg = a.fail("GET", "/collections/nope/shards/0/snapshots", None, 404);
    assert!(msg.contains("doesn't exist"), "{msg}");
    a.fail(
        "GET",
        "/collections/c/shards/0/snapshots/none.snapshot",
        None,
        404,
    );
    a.fail("GET", "/collections/c/shards/x/snapshots", None, 400);
    a.fail(
        "POST",
        "/collections/c/shards/0/snapshots?wait=maybe",
        None,
        400,
    );

    // delete
    assert_eq!(
        a.ok(
            "DELETE",
            &format!("/collections/c/shards/0/snapshots/{name}?wait=true"),
            None
        ),
        json!(true)
    );
    assert_eq!(
        a.ok("GET", "/collections/c/shards/0/snapshots", None),
        json!([])
    );
    a.fail(
        "DELETE",
        &format!("/collections/c/shards/0/snapshots/{name}"),
        None,
        404,
    );
}
