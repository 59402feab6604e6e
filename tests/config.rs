//! Settings: precedence (defaults < file < RVDB__ env < HOST/PORT/STORAGE_PATH < flags),
//! refusal of bad values naming the setting, and the settings taking effect (body limit, CORS,
//! storage path, keys).

mod common;

use std::path::Path;
use std::process::Command;

use common::Server;
use serde_json::{json, Value};

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

/// The test defaults minus HOST and PORT (so that lower layers show).
fn base() -> Command {
    let mut c = Server::command();
    c.env_remove("HOST").env_remove("PORT");
    c
}

/// The effective settings (`--print-config`).
fn effective(cmd: &mut Command) -> Value {
    cmd.arg("--print-config");
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Runs the server expecting it to refuse to start; returns stderr.
fn refused(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(!out.status.success(), "started anyway");
    assert!(
        out.stdout.is_empty(),
        "printed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn defaults() {
    let v = effective(&mut base());
    assert_eq!(v["service"]["host"], "127.0.0.1");
    assert_eq!(v["service"]["http_port"], 6333);
    assert_eq!(v["service"]["max_request_size_bytes"], 32 << 20);
    assert_eq!(v["service"]["api_key"], Value::Null);
    assert_eq!(v["service"]["enable_cors"], true);
    assert_eq!(v["service"]["enable_tls"], false);
    assert_eq!(v["storage"]["storage_path"], Value::Null);
    assert_eq!(v["config_file"], Value::Null);
    assert_eq!(v["service"]["loading_wait_secs"], 60);
    assert_eq!(v["performance"]["max_search_threads"], 0);
    assert_eq!(v["performance"]["search_queue_size"], 1024);
}

#[test]
fn search_and_loading_settings_from_file_and_flags() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "perf.yaml",
        "performance:\n  max_search_threads: 3\n  search_queue_size: 10\nservice:\n  loading_wait_secs: 5\n",
    );
    let v = effective(base().args(["--config", &file]));
    assert_eq!(v["performance"]["max_search_threads"], 3);
    assert_eq!(v["performance"]["search_queue_size"], 10);
    assert_eq!(v["service"]["loading_wait_secs"], 5);
    let v = effective(base().args([
        "--config",
        &file,
        "--search-threads",
        "1",
        "--search-queue",
        "0",
        "--loading-wait-secs",
        "0",
    ]));
    assert_eq!(v["performance"]["max_search_threads"], 1);
    assert_eq!(v["performance"]["search_queue_size"], 0);
    assert_eq!(v["service"]["loading_wait_secs"], 0);
}

#[test]
fn precedence_file_env_seed_env_flags() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "config.yaml",
        "log_level: debug\n\
         service:\n  host: 0.0.0.0\n  http_port: 1111\n  api_key: from-file\n  max_request_size_mb: 2\n  enable_cors: false\n\
         storage:\n  storage_path: /data/file\n",
    );
    // the file over the defaults
    let v = effective(base().args(["--config", &file]));
    assert_eq!(v["config_file"], json!(file));
    assert_eq!(v["service"]["http_port"], 1111);
    assert_eq!(v["service"]["host"], "0.0.0.0");
    assert_eq!(v["service"]["max_request_size_bytes"], 2 << 20);
    assert_eq!(v["service"]["enable_cors"], false);
    assert_eq!(v["storage"]["storage_path"], "/data/file");
    assert_eq!(v["service"]["api_key"], "<redacted>");
    // RUST_LOG (set by the test defaults) is above the file's log_level
    assert_eq!(v["log_level"], "warn");
    let v = effective(base().env_remove("RUST_LOG").args(["--config", &file]));
    assert_eq!(v["log_level"], "debug");

    // RVDB_CONFIG names the file too; --config wins over it
    let other = write(dir.path(), "other.yaml", "service:\n  http_port: 1212\n");
    let v = effective(base().env("RVDB_CONFIG", &file));
    assert_eq!(v["service"]["http_port"], 1111);
    let v = effective(base().env("RVDB_CONFIG", &file).args(["--config", &other]));
    assert_eq!(v["service"]["http_port"], 1212);

    // RVDB__SECTION__KEY over the file
    let env_cmd = || {
        let mut c = base();
        c.args(["--config", &file])
            .env("RVDB__SERVICE__HTTP_PORT", "2222")
            .env("RVDB__SERVICE__HOST", "127.0.0.2")
            .env("RVDB__SERVICE__ENABLE_CORS", "true")
            .env("RVDB__SERVICE__MAX_REQUEST_SIZE_MB", "3")
            .env("RVDB__STORAGE__STORAGE_PATH", "/data/env");
        c
    };
    let v = effective(&mut env_cmd());
    assert_eq!(v["service"]["http_port"], 2222);
    assert_eq!(v["service"]["host"], "127.0.0.2");
    assert_eq!(v["service"]["enable_cors"], true);
    assert_eq!(v["service"]["max_request_size_bytes"], 3 << 20);
    assert_eq!(v["storage"]["storage_path"], "/data/env");

    // the seed's HOST / PORT / STORAGE_PATH / RVDB_MAX_BODY_BYTES over RVDB__…
    let v = effective(
        env_cmd()
            .env("PORT", "3333")
            .env("HOST", "127.0.0.3")
            .env("STORAGE_PATH", "/data/seed")
            .env("RVDB_MAX_BODY_BYTES", "4096"),
    );
    assert_eq!(v["service"]["http_port"], 3333);
    assert_eq!(v["service"]["host"], "127.0.0.3");
    assert_eq!(v["storage"]["storage_path"], "/data/seed");
    assert_eq!(v["service"]["max_request_size_bytes"], 4096);

    // flags over everything
    let v = effective(
        env_cmd()
            .env("PORT", "3333")
            .env("STORAGE_PATH", "/data/seed")
            .args(["--port", "4444", "--host", "127.0.0.4"])
            .args(["--storage-path", "/data/flag", "--max-body-bytes", "5000"])
            .args(["--log", "error", "--request-timeout-secs", "7"]),
    );
    assert_eq!(v["service"]["http_port"], 4444);
    assert_eq!(v["service"]["host"], "127.0.0.4");
    assert_eq!(v["storage"]["storage_path"], "/data/flag");
    assert_eq!(v["service"]["max_request_size_bytes"], 5000);
    assert_eq!(v["service"]["request_timeout_secs"], 7);
    assert_eq!(v["log_level"], "error");
    // `serve` takes the same flags
    let v = effective(
        base()
            .env("PORT", "3333")
            .args(["serve", "--config", &file, "--port", "4545"]),
    );
    assert_eq!(v["service"]["http_port"], 4545);
    assert_eq!(v["service"]["host"], "0.0.0.0");
}

#[test]
fn invalid_settings_stop_the_start_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, &str, bool)> = vec![
        (
            "service:\n  http_port: 70000\n",
            "invalid config: service.http_port: a port is 0..=65535, got 70000", true),
        (
            "service:\n  http_port: eighty\n",
            "invalid config: service.http_port: expected a whole number", true),
        (
            "service:\n  max_request_size_mb: -5\n",
            "invalid config: service.max_request_size_mb: must not be negative", true),
        (
            "service:\n  max_request_size_mb: 0\n",
            "invalid config: service.max_request_size_mb: must be at least 1", true),
        (
            "service:\n  request_timeout_secs: -1\n",
            "invalid config: service.request_timeout_secs: must not be negative", true),
        (
            "service:\n  enable_cors: maybe\n",
            "invalid config: service.enable_cors: expected true or false", true),
        (
            "service:\n  cors_allowed_origins: [\"example.com\"]\n",
            "invalid config: service.cors_allowed_origins:", true),
        (
            "service:\n  http_prot: 1\n",
            "invalid config: service.http_prot: unknown setting", true),
        (
            "performance:\n  max_search_threads: 5000\n",
            "invalid config: performance.max_search_threads: at most 1024 threads", true),
        (
            "performance:\n  search_queue_size: -1\n",
            "invalid config: performance.search_queue_size: must not be negative", true),
        (
            "service:\n  loading_wait_secs: soon\n",
            "invalid config: service.loading_wait_secs: expected a whole number", true),
        ("grpc_port: 6334\n", "invalid config: grpc_port: unknown setting", true),
        ("service: 5\n", "invalid config: service: expected a mapping", true),
        (
            "service:\n  enable_tls: true\n",
            "invalid config: tls.cert: service.enable_tls is true", false),
        (
            "service:\n  enable_tls: true\ntls:\n  cert: /nonexistent/cert.pem\n  key: /nonexistent/key.pem\n",
            "invalid config: tls.cert: cannot read /nonexistent/cert.pem", false),
        (
            "service:\n  api_key: same\n  read_only_api_key: same\n",
            "invalid config: service.read_only_api_key: must differ", false),
        ("log_level: \"[[[\"\n", "invalid config: log_level", false),
        ("service: [1, 2\n", "invalid config:", true),
    ];
    for (i, (yaml, want, names_file)) in cases.into_iter().enumerate() {
        let file = write(dir.path(), &format!("bad{i}.yaml"), yaml);
        let mut cmd = Server::command();
        cmd.env_remove("RUST_LOG").args(["--config", &file]);
        let err = refused(&mut cmd);
        assert!(err.contains(want), "{yaml:?}: want {want:?}, got {err}");
        if names_file {
            assert!(err.contains(&file), "names the file: {err}");
        }
        assert!(!err.contains("same\n") && !err.contains("`same`"), "{err}");
    }
    // from the environment: the message names the variable
    let err = refused(Server::command().env("RVDB__SERVICE__HTTP_PORT", "99999"));
    assert!(
        err.contains("invalid config: service.http_port: a port is 0..=65535, got 99999 (from RVDB__SERVICE__HTTP_PORT)"),
        "{err}"
    );
    let err = refused(Server::command().env("RVDB__SERVICE__NOPE", "1"));
    assert!(
        err.contains("invalid config: service.nope: unknown setting"),
        "{err}"
    );
    // a config file that does not exist
    let err = refused(Server::command().args(["--config", "/nonexistent/rvdb.yaml"]));
    assert!(
        err.contains("invalid config: --config / RVDB_CONFIG: cannot read /nonexistent/rvdb.yaml"),
        "{err}"
    );
    // the seed's PORT out of range: clap names the flag and its variable
    let err = refused(Server::command().env("PORT", "70000"));
    assert!(err.contains("--port"), "{err}");
    // a key of the wrong type is not echoed
    let file = write(
        dir.path(),
        "key.yaml",
        "service:\n  api_key: {nested: supersecret}\n",
    );
    let err = refused(Server::command().args(["--config", &file]));
    assert!(err.contains("invalid config: service.api_key"), "{err}");
    assert!(!err.contains("supersecret"), "{err}");
}

#[test]
fn file_settings_take_effect() {
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("storage");
    let file = write(
        dir.path(),
        "config.yaml",
        &format!(
            "service:\n  api_key: file-key\n  max_request_size_mb: 1\n  enable_cors: true\n  cors_allowed_origins:\n    - https://app.example.com\nstorage:\n  storage_path: {}\n",
            storage.display()
        ),
    );
    let mut cmd = Server::command();
    cmd.args(["--config", &file]);
    let s = Server::spawn(cmd);
    let key = [("api-key", "file-key")];
    let (st, _) = s.send_with("GET", "/collections", None, &[]);
    assert_eq!(st, 401);
    let (st, v) = s.send_with(
        "PUT",
        "/collections/c",
        Some(&json!({"vectors": {"size": 2, "distance": "Dot"}})),
        &key,
    );
    assert_eq!(st, 200, "{v}");
    assert!(
        storage.join("collections").join("c").is_dir(),
        "storage_path used"
    );
    let (st, v) = s.send_with("GET", "/stats", None, &key);
    assert_eq!(st, 200);
    assert_eq!(v["result"]["storage"], "disk");

    // body limit: 1 MB
    let big = json!({"points": [{"id": 1, "vector": [0.5, 0.5], "payload": {"pad": "x".repeat(1_100_000)}}]});
    let (st, v) = s.send_with("PUT", "/collections/c/points", Some(&big), &key);
    assert_eq!(st, 413, "{v}");
    let small = json!({"points": [{"id": 1, "vector": [0.5, 0.5], "payload": {"pad": "x".repeat(900_000)}}]});
    let (st, v) = s.send_with("PUT", "/collections/c/points", Some(&small), &key);
    assert_eq!(st, 200, "{v}");

    // CORS: the listed origin only; a preflight needs no key
    let client = reqwest::blocking::Client::new();
    let pre = |origin: &str| {
        client
            .request(reqwest::Method::OPTIONS, s.url("/collections"))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "api-key")
            .send()
            .unwrap()
    };
    let ok = pre("https://app.example.com");
    assert!(ok.status().is_success(), "{}", ok.status());
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let other = pre("https://evil.example.com");
    assert!(other.headers().get("access-control-allow-origin").is_none());
    let get = client
        .get(s.url("/collections"))
        .header("origin", "https://app.example.com")
        .header("api-key", "file-key")
        .send()
        .unwrap();
    assert_eq!(get.status(), 200);
    assert_eq!(
        get.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    s.stop();
}

#[test]
fn cors_any_origin_by_default_and_off_when_disabled() {
    let client = reqwest::blocking::Client::new();
    let origin_header = |s: &Server| {
        client
            .get(s.url("/collections"))
            .header("origin", "https://somewhere.example")
            .send()
            .unwrap()
            .headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap().to_string())
    };
    let s = Server::spawn(Server::command());
    assert_eq!(origin_header(&s).as_deref(), Some("*"));
    let mut cmd = Server::command();
    cmd.env("RVDB__SERVICE__ENABLE_CORS", "false");
    let s = Server::spawn(cmd);
    assert_eq!(origin_header(&s), None);
}
