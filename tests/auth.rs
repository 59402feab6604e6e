//! API keys (read-write and read-only), what stays open, what the logs show, and HTTPS.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

use common::Server;
use serde_json::{json, Value};

const RW: &str = "rw-key-0123456789";
const RO: &str = "ro-key-9876543210";
const MISSING: &str = "Must provide an API key or an Authorization bearer token";

fn with_keys() -> Server {
    let mut cmd = Server::command();
    cmd.env("RVDB__SERVICE__API_KEY", RW)
        .env("RVDB__SERVICE__READ_ONLY_API_KEY", RO);
    Server::spawn(cmd)
}

fn error_of(v: &Value) -> &str {
    v["status"]["error"]
        .as_str()
        .unwrap_or_else(|| panic!("error envelope: {v}"))
}

/// A collection `c` with three points, written with the read-write key.
fn seed(s: &Server) {
    let rw = [("api-key", RW)];
    let (st, v) = s.send_with(
        "PUT",
        "/collections/c",
        Some(&json!({"vectors": {"size": 2, "distance": "Dot"}})),
        &rw,
    );
    assert_eq!(st, 200, "{v}");
    let (st, v) = s.send_with(
        "PUT",
        "/collections/c/points?wait=true",
        Some(&json!({"points": [
            {"id": 1, "vector": [1.0, 0.0], "payload": {"k": "a"}},
            {"id": 2, "vector": [0.0, 1.0], "payload": {"k": "b"}},
            {"id": 3, "vector": [0.5, 0.5]},
        ]})),
        &rw,
    );
    assert_eq!(st, 200, "{v}");
}

#[test]
fn missing_and_wrong_keys_are_refused() {
    let s = with_keys();
    // no key
    let (st, v) = s.send_with("GET", "/collections", None, &[]);
    assert_eq!(st, 401, "{v}");
    assert_eq!(error_of(&v), MISSING);
    assert!(v["time"].is_number(), "{v}");
    // unknown routes too: nothing tells a caller without a key which routes exist
    let (st, v) = s.send_with("GET", "/no/such/route", None, &[]);
    assert_eq!((st, error_of(&v)), (401, MISSING));
    let (st, v) = s.send_with(
        "PUT",
        "/collections/x",
        Some(&json!({"distance": "Dot"})),
        &[],
    );
    assert_eq!((st, error_of(&v)), (401, MISSING));
    // wrong keys, both ways of passing them
    for h in [
        ("api-key", "rw-key-012345678"),
        ("api-key", "rw-key-0123456789x"),
        ("api-key", ""),
        ("authorization", "Bearer nope"),
    ] {
        let (st, v) = s.send_with("GET", "/collections", None, &[h]);
        assert_eq!(st, 401, "{h:?}: {v}");
        assert_eq!(error_of(&v), "Invalid API key", "{h:?}");
    }
    // a Basic header is not a key
    let (st, v) = s.send_with(
        "GET",
        "/collections",
        None,
        &[("authorization", &format!("Basic {RW}"))],
    );
    assert_eq!((st, error_of(&v)), (401, MISSING));
    // the collection was not created by the refused PUT
    let (st, v) = s.send_with("GET", "/collections/x", None, &[("api-key", RW)]);
    assert_eq!(st, 404, "{v}");
}

#[test]
fn probes_and_root_stay_open() {
    let s = with_keys();
    for p in ["/healthz", "/livez", "/readyz", "/"] {
        let (st, _, body) = s.get_text(p, &[]);
        assert_eq!(st, 200, "{p}: {body}");
    }
    // but not the seed's /health, /metrics or /telemetry
    for p in ["/health", "/metrics", "/telemetry", "/stats"] {
        let (st, _, body) = s.get_text(p, &[]);
        assert_eq!(st, 401, "{p}: {body}");
    }
}

#[test]
fn read_write_key_in_either_header() {
    let s = with_keys();
    seed(&s);
    for h in [
        ("api-key", RW.to_string()),
        ("authorization", format!("Bearer {RW}")),
        ("authorization", format!("bearer {RW}")),
    ] {
        let (st, v) = s.send_with(
            "POST",
            "/collections/c/points/count",
            Some(&json!({})),
            &[(h.0, &h.1)],
        );
        assert_eq!(st, 200, "{h:?}: {v}");
        assert_eq!(v["result"]["count"], 3);
    }
    let (st, v) = s.send_with(
        "DELETE",
        "/collections/c",
        None,
        &[("authorization", &format!("Bearer {RW}"))],
    );
    assert_eq!((st, &v["result"]), (200, &json!(true)), "{v}");
}

#[test]
fn read_only_key_reads_but_cannot_write() {
    let s = with_keys();
    seed(&s);
    let ro = [("api-key", RO)];
    let reads: Vec<(&str, &str, Option<Value>)> = vec![
        ("GET", "/collections", None),
        ("GET", "/collections/c", None),
        ("GET", "/collections/c/exists", None),
        ("GET", "/collections/c/points/1", None),
        ("GET", "/collections/c/points", None),
        ("GET", "/aliases", None),
        ("GET", "/metrics", None),
        ("GET", "/telemetry", None),
        ("GET", "/quotas", None),
        ("GET", "/collections/c/shards", None),
        ("GET", "/collections/c/optimizations", None),
        ("GET", "/collections/c/shards/0/snapshots", None),
        (
            "POST",
            "/collections/c/points",
            Some(json!({"ids": [1, 2]})),
        ),
        (
            "POST",
            "/collections/c/points/scroll",
            Some(json!({"limit": 2})),
        ),
        ("POST", "/collections/c/points/count", Some(json!({}))),
        (
            "POST",
            "/collections/c/points/search",
            Some(json!({"vector": [1.0, 0.0], "limit": 2})),
        ),
        (
            "POST",
            "/collections/c/points/search/batch",
            Some(json!({"searches": [{"vector": [1.0, 0.0], "limit": 1}]})),
        ),
        (
            "POST",
            "/collections/c/points/query",
            Some(json!({"query": [1.0, 0.0], "limit": 2})),
        ),
        (
            "POST",
            "/collections/c/points/query/batch",
            Some(json!({"searches": [{"query": [1.0, 0.0]}]})),
        ),
        (
            "POST",
            "/collections/c/points/recommend",
            Some(json!({"positive": [1], "limit": 2})),
        ),
    ];
    for (m, p, b) in &reads {
        let (st, v) = s.send_with(m, p, b.as_ref(), &ro);
        assert_eq!(st, 200, "{m} {p}: {v}");
    }
    let writes: Vec<(&str, &str, Option<Value>)> = vec![
        ("PUT", "/collections/d", Some(json!({"distance": "Dot"}))),
        ("DELETE", "/collections/c", None),
        ("PATCH", "/collections/c", Some(json!({}))),
        (
            "PUT",
            "/collections/c/points",
            Some(json!({"points": [{"id": 9, "vector": [1.0, 1.0]}]})),
        ),
        // the seed's batch insert shares POST …/points with retrieve: the body decides
        (
            "POST",
            "/collections/c/points",
            Some(json!([{"id": 9, "vector": [1.0, 1.0]}])),
        ),
        (
            "PUT",
            "/collections/c/points/9",
            Some(json!({"vector": [1.0, 1.0]})),
        ),
        ("DELETE", "/collections/c/points/1", None),
        (
            "POST",
            "/collections/c/points/delete",
            Some(json!({"points": [1]})),
        ),
        (
            "POST",
            "/collections/c/points/payload",
            Some(json!({"payload": {"x": 1}, "points": [1]})),
        ),
        (
            "PUT",
            "/collections/c/index",
            Some(json!({"field_name": "k", "field_schema": "keyword"})),
        ),
        (
            "POST",
            "/collections/aliases",
            Some(
                json!({"actions": [{"create_alias": {"collection_name": "c", "alias_name": "a"}}]}),
            ),
        ),
        ("PUT", "/quotas", Some(json!({"enabled": true}))),
        ("POST", "/collections/c/shards/0/snapshots", None),
        (
            "DELETE",
            "/collections/c/shards/0/snapshots/c.snapshot",
            None,
        ),
        (
            "PUT",
            "/collections/c/shards/0/snapshots/recover",
            Some(json!({"location": "file:///tmp/c.snapshot"})),
        ),
    ];
    for (m, p, b) in &writes {
        let (st, v) = s.send_with(m, p, b.as_ref(), &ro);
        assert_eq!(st, 403, "{m} {p}: {v}");
        let msg = error_of(&v);
        assert!(msg.contains("read-only"), "{m} {p}: {msg}");
        assert!(!msg.contains(RO), "the key is not echoed: {msg}");
    }
    // nothing changed
    let (st, v) = s.send_with("POST", "/collections/c/points/count", Some(&json!({})), &ro);
    assert_eq!((st, &v["result"]["count"]), (200, &json!(3)), "{v}");
    let (st, v) = s.send_with("GET", "/collections/c/points/1", None, &ro);
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["result"]["payload"], json!({"k": "a"}));
    let (st, _) = s.send_with("GET", "/collections/d", None, &ro);
    assert_eq!(st, 404);
    let (st, v) = s.send_with("GET", "/quotas", None, &ro);
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["result"]["config"]["enabled"], false, "{v}");
    let (st, v) = s.send_with("GET", "/collections/c/shards/0/snapshots", None, &ro);
    assert_eq!((st, &v["result"]), (200, &json!([])), "{v}");
}

#[test]
fn keys_never_reach_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("stderr.log");
    let mut cmd = Server::command();
    cmd.env("RUST_LOG", "debug")
        .env("RVDB__SERVICE__API_KEY", RW)
        .args(["--read-only-api-key", RO])
        .stderr(std::fs::File::create(&log).unwrap());
    let s = Server::spawn(cmd);
    seed(&s);
    s.send_with("GET", "/collections", None, &[("api-key", "wrong-key-xyz")]);
    s.send_with("GET", "/collections", None, &[("api-key", RO)]);
    s.send_with(
        "DELETE",
        "/collections/c",
        None,
        &[("authorization", &format!("Bearer {RO}"))],
    );
    s.stop();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("API key required (read-write and read-only keys)"),
        "the auth mode is logged: {text}"
    );
    for secret in [RW, RO, "wrong-key-xyz"] {
        assert!(!text.contains(secret), "`{secret}` in the log:\n{text}");
    }
}

#[test]
fn no_key_configured_means_open() {
    let s = Server::spawn(Server::command());
    let (st, v) = s.send_with("GET", "/collections", None, &[]);
    assert_eq!(st, 200, "{v}");
    // a key sent anyway is ignored
    let (st, v) = s.send_with("GET", "/collections", None, &[("api-key", "whatever")]);
    assert_eq!(st, 200, "{v}");
}

/// One HTTP/1.1 request over TLS with the given trust root; returns the raw response.
fn https_get(
    port: u16,
    root: &rcgen::Certificate,
    path: &str,
    headers: &str,
) -> Result<String, String> {
    use tokio_rustls::rustls;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(root.der().clone()).map_err(|e| e.to_string())?;
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(config), name).map_err(|e| e.to_string())?;
    let sock = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    sock.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let mut tls = rustls::StreamOwned::new(conn, sock);
    let req =
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{headers}Connection: close\r\n\r\n");
    tls.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    match tls.read_to_end(&mut out) {
        Ok(_) => {}
        // the server may close without close_notify after the response
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !out.is_empty() => {}
        Err(e) => return Err(e.to_string()),
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

#[test]
fn https_with_a_self_signed_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
    let config = dir.path().join("config.yaml");
    std::fs::write(
        &config,
        format!(
            "service:\n  enable_tls: true\n  api_key: {RW}\ntls:\n  cert: {}\n  key: {}\n",
            cert.display(),
            key.display()
        ),
    )
    .unwrap();
    let mut cmd = Server::command();
    cmd.args(["--config", config.to_str().unwrap()]);
    let s = Server::spawn(cmd);
    assert!(s.base.starts_with("https://127.0.0.1:"), "{}", s.base);
    let port: u16 = s.base.rsplit(':').next().unwrap().parse().unwrap();

    let ok = https_get(
        port,
        &ck.cert,
        "/collections",
        &format!("api-key: {RW}\r\n"),
    )
    .unwrap();
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    assert!(ok.contains(r#""collections":[]"#), "{ok}");
    let refused = https_get(port, &ck.cert, "/collections", "").unwrap();
    assert!(refused.starts_with("HTTP/1.1 401"), "{refused}");
    let probe = https_get(port, &ck.cert, "/healthz", "").unwrap();
    assert!(probe.starts_with("HTTP/1.1 200"), "{probe}");

    // a client that does not trust the certificate fails the handshake
    let other = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    assert!(https_get(port, &other.cert, "/healthz", "").is_err());
    // plain HTTP on the TLS port gets no HTTP answer
    let mut plain = TcpStream::connect(("127.0.0.1", port)).unwrap();
    plain
        .set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    plain
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut out = Vec::new();
    let _ = plain.read_to_end(&mut out);
    assert!(!String::from_utf8_lossy(&out).contains("healthz check passed"));
    s.stop();
}

#[test]
fn bad_tls_files_stop_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert = dir.path().join("cert.pem");
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&garbage, "not a pem file\n").unwrap();
    let missing = dir.path().join("missing.pem");
    let cases = [
        (
            missing.clone(),
            garbage.clone(),
            "invalid config: tls.cert: cannot read",
        ),
        (
            garbage.clone(),
            garbage.clone(),
            "invalid config: tls.cert: no certificate",
        ),
        (
            cert.clone(),
            missing.clone(),
            "invalid config: tls.key: cannot read",
        ),
        (cert.clone(), garbage.clone(), "invalid config: tls.key"),
    ];
    for (c, k, want) in cases {
        let out = Server::command()
            .args(["--enable-tls", "--tls-cert"])
            .arg(&c)
            .arg("--tls-key")
            .arg(&k)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{c:?} {k:?}");
        assert!(err.contains(want), "{c:?} {k:?}: {err}");
        assert!(out.stdout.is_empty(), "never listened");
    }
}
