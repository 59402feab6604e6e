//! `rustvecdb import`: each format into a running server and into a storage directory.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::Server;
use serde_json::{json, Value};

const DIM: usize = 6;

/// A deterministic vector for point i (Euclid collections store vectors as given).
fn vector(i: usize) -> Vec<f32> {
    (0..DIM)
        .map(|j| ((i * 31 + j * 7) % 97) as f32 / 8.0 - 3.0)
        .collect()
}

fn fvecs(dir: &Path, n: usize) -> PathBuf {
    let mut bytes = Vec::new();
    for i in 0..n {
        bytes.extend_from_slice(&(DIM as i32).to_le_bytes());
        for x in vector(i) {
            bytes.extend_from_slice(&x.to_le_bytes());
        }
    }
    let p = dir.join("vectors.fvecs");
    std::fs::write(&p, bytes).unwrap();
    p
}

/// A .npy file as numpy writes it (version 1.0, header padded to 64 bytes).
fn npy(dir: &Path, n: usize, f64: bool) -> PathBuf {
    let descr = if f64 { "<f8" } else { "<f4" };
    let mut header =
        format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': ({n}, {DIM}), }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for i in 0..n {
        for x in vector(i) {
            if f64 {
                bytes.extend_from_slice(&(x as f64).to_le_bytes());
            } else {
                bytes.extend_from_slice(&x.to_le_bytes());
            }
        }
    }
    let p = dir.join(if f64 { "vectors64.npy" } else { "vectors.npy" });
    std::fs::write(&p, bytes).unwrap();
    p
}

/// JSON lines: ids 1000+i, a payload on every other point, one UUID id, a blank line.
fn jsonl(dir: &Path, n: usize) -> PathBuf {
    let mut text = String::new();
    for i in 0..n {
        let mut o = json!({"id": 1000 + i, "vector": vector(i)});
        if i % 2 == 0 {
            o["payload"] = json!({"i": i, "tag": format!("t{}", i % 3), "nested": {"even": true}});
        }
        text.push_str(&o.to_string());
        text.push('\n');
        if i == 3 {
            text.push('\n');
        }
    }
    text.push_str(
        &json!({"id": "5c56c793-69f3-4fbf-87e6-c4bf54c28c26", "vector": vector(7), "payload": {"uuid": true}})
            .to_string(),
    );
    text.push('\n');
    let p = dir.join("points.jsonl");
    std::fs::write(&p, text).unwrap();
    p
}

fn import(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rustvecdb"))
        .arg("import")
        .args(args)
        .env_remove("RVDB_API_KEY")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

/// Runs an import that must succeed; returns the count from its final line.
fn import_ok(args: &[&str]) -> u64 {
    let out = import(args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{args:?}: {}{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout.lines().last().unwrap_or_default();
    // imported N points in S s (R points/s)
    let rest = line.strip_prefix("imported ").expect(line);
    let (n, rest) = rest.split_once(" points in ").expect(line);
    let (secs, rest) = rest.split_once(" s (").expect(line);
    let rate = rest.strip_suffix(" points/s)").expect(line);
    secs.parse::<f64>().expect(line);
    rate.parse::<f64>().expect(line);
    n.parse().expect(line)
}

fn import_err(args: &[&str]) -> String {
    let out = import(args);
    assert!(!out.status.success(), "{args:?} succeeded");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn point(s: &Server, c: &str, id: Value) -> Value {
    let r = s.ok(
        "POST",
        &format!("/collections/{c}/points"),
        Some(&json!({"ids": [id], "with_payload": true, "with_vector": true})),
    );
    assert_eq!(r.as_array().unwrap().len(), 1, "{r}");
    r[0].clone()
}

fn assert_vector(p: &Value, i: usize) {
    let got: Vec<f32> = p["vector"]
        .as_array()
        .unwrap_or_else(|| panic!("{p}"))
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect();
    assert_eq!(got, vector(i), "{p}");
}

fn count(s: &Server, c: &str) -> u64 {
    s.ok("GET", &format!("/collections/{c}"), None)["points_count"]
        .as_u64()
        .unwrap()
}

/// Checks the collections that `load_all` made.
fn check_all(s: &Server) {
    assert_eq!(count(s, "f"), 250);
    assert_eq!(count(s, "n"), 130);
    assert_eq!(count(s, "n64"), 40);
    assert_eq!(count(s, "j"), 21);
    assert_vector(&point(s, "f", json!(0)), 0);
    assert_vector(&point(s, "f", json!(249)), 249);
    assert_vector(&point(s, "n", json!(129)), 129);
    assert_vector(&point(s, "n64", json!(17)), 17);
    let p = point(s, "j", json!(1004));
    assert_vector(&p, 4);
    assert_eq!(
        p["payload"],
        json!({"i": 4, "tag": "t1", "nested": {"even": true}})
    );
    assert_eq!(point(s, "j", json!(1005))["payload"], json!({}));
    let u = point(s, "j", json!("5c56c793-69f3-4fbf-87e6-c4bf54c28c26"));
    assert_eq!(u["payload"], json!({"uuid": true}));
    // payloads are searchable
    let hits = s.ok(
        "POST",
        "/collections/j/points/count",
        Some(&json!({"filter": {"must": [{"key": "tag", "match": {"value": "t1"}}]}})),
    );
    assert_eq!(hits["count"], 3, "{hits}");
    let info = s.ok("GET", "/collections/f", None);
    assert_eq!(info["config"]["params"]["vectors"]["size"], DIM);
    assert_eq!(info["config"]["params"]["vectors"]["distance"], "Euclid");
}

/// Imports every format into `target` (`--url U` or `--storage-path D`).
fn load_all(dir: &Path, target: &[&str], extra: &[&str]) {
    let f = fvecs(dir, 250);
    let n = npy(dir, 130, false);
    let n64 = npy(dir, 40, true);
    let j = jsonl(dir, 20);
    let base = |c: &'static str, file: &Path| -> Vec<String> {
        let mut v: Vec<String> = target.iter().map(|s| s.to_string()).collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v.extend(
            [
                "--collection",
                c,
                "--file",
                file.to_str().unwrap(),
                "--create",
                "--distance",
                "Euclid",
                "--batch-size",
                "64",
            ]
            .map(String::from),
        );
        v
    };
    let run = |args: Vec<String>| import_ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(run(base("f", &f)), 250);
    let mut a = base("n", &n);
    a.extend(["--format", "npy"].map(String::from));
    assert_eq!(run(a), 130);
    assert_eq!(run(base("n64", &n64)), 40);
    assert_eq!(run(base("j", &j)), 21);
}

#[test]
fn import_each_format_into_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start();
    load_all(dir.path(), &["--url", &s.base], &[]);
    check_all(&s);
    // into an existing collection, without --create, is fine; re-importing overwrites
    let f = fvecs(dir.path(), 250);
    let args = [
        "--url",
        &s.base,
        "--collection",
        "f",
        "--file",
        f.to_str().unwrap(),
    ];
    assert_eq!(import_ok(&args), 250);
    assert_eq!(count(&s, "f"), 250);
}

#[test]
fn import_each_format_into_a_storage_directory() {
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("storage");
    load_all(
        dir.path(),
        &["--storage-path", storage.to_str().unwrap()],
        &[],
    );
    let s = Server::persistent(&storage);
    check_all(&s);
    // a server holds the directory: the import is refused
    let f = fvecs(dir.path(), 10);
    let err = import_err(&[
        "--storage-path",
        storage.to_str().unwrap(),
        "--collection",
        "f",
        "--file",
        f.to_str().unwrap(),
    ]);
    assert!(err.contains("in use by another process"), "{err}");
}

#[test]
fn import_with_an_api_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Server::command();
    cmd.env("RVDB__SERVICE__API_KEY", "import-key")
        .env("RVDB__SERVICE__READ_ONLY_API_KEY", "import-ro");
    let s = Server::spawn(cmd);
    let f = fvecs(dir.path(), 30);
    let file = f.to_str().unwrap();
    let common = [
        "--url",
        &s.base,
        "--collection",
        "k",
        "--file",
        file,
        "--create",
    ];
    let err = import_err(&common);
    assert!(err.contains("401"), "{err}");
    assert!(err.contains("Must provide an API key"), "{err}");
    let mut with_ro = common.to_vec();
    with_ro.extend(["--api-key", "import-ro"]);
    let err = import_err(&with_ro);
    assert!(err.contains("403"), "{err}");
    let mut with_key = common.to_vec();
    with_key.extend(["--api-key", "import-key"]);
    assert_eq!(import_ok(&with_key), 30);
    let (st, v) = s.send_with("GET", "/collections/k", None, &[("api-key", "import-ro")]);
    assert_eq!(st, 200);
    assert_eq!(v["result"]["points_count"], 30);
}

#[test]
fn import_refuses_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("storage");
    let st = storage.to_str().unwrap();
    let f = fvecs(dir.path(), 5);
    // missing collection without --create
    let err = import_err(&[
        "--storage-path",
        st,
        "--collection",
        "x",
        "--file",
        f.to_str().unwrap(),
    ]);
    assert!(err.contains("does not exist (pass --create"), "{err}");
    // a truncated fvecs file
    let mut bytes = std::fs::read(&f).unwrap();
    bytes.truncate(bytes.len() - 3);
    let bad = dir.path().join("bad.fvecs");
    std::fs::write(&bad, bytes).unwrap();
    let err = import_err(&[
        "--storage-path",
        st,
        "--collection",
        "x",
        "--create",
        "--file",
        bad.to_str().unwrap(),
    ]);
    assert!(err.contains("truncated"), "{err}");
    // a JSON line without a vector names the line
    let j = dir.path().join("bad.jsonl");
    std::fs::write(
        &j,
        "{\"id\": 1, \"vector\": [1, 2]}\n{\"id\": 2, \"vectr\": [1, 2]}\n",
    )
    .unwrap();
    let err = import_err(&[
        "--storage-path",
        st,
        "--collection",
        "x",
        "--create",
        "--file",
        j.to_str().unwrap(),
    ]);
    assert!(err.contains("line 2") && err.contains("vectr"), "{err}");
    // a dimension that does not fit the collection
    import_ok(&[
        "--storage-path",
        st,
        "--collection",
        "y",
        "--create",
        "--file",
        f.to_str().unwrap(),
    ]);
    let other = dir.path().join("other.jsonl");
    std::fs::write(&other, "{\"vector\": [1, 2]}\n").unwrap();
    let err = import_err(&[
        "--storage-path",
        st,
        "--collection",
        "y",
        "--file",
        other.to_str().unwrap(),
    ]);
    assert!(err.contains("dimension 6"), "{err}");
    // an unknown extension needs --format
    let txt = dir.path().join("v.txt");
    std::fs::write(&txt, "").unwrap();
    let err = import_err(&[
        "--storage-path",
        st,
        "--collection",
        "y",
        "--file",
        txt.to_str().unwrap(),
    ]);
    assert!(err.contains("--format"), "{err}");
    // a big-endian .npy
    let n = npy(dir.path(), 2, false);
    let mut bytes = std::fs::read(&n).unwrap();
    let at = bytes.windows(3).position(|w| w == b"<f4").unwrap();
    bytes[at] = b'>';
    std::fs::write(&n, bytes).unwrap();
    let err = import_err(&[
        "--storage-path",
        st,
        "--collection",
        "y",
        "--file",
        n.to_str().unwrap(),
    ]);
    assert!(err.contains("big-endian"), "{err}");
    // --url and --storage-path together
    let err = import_err(&[
        "--storage-path",
        st,
        "--url",
        "http://127.0.0.1:1",
        "--collection",
        "y",
        "--file",
        f.to_str().unwrap(),
    ]);
    assert!(err.contains("cannot be used with"), "{err}");
}
