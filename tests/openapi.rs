//! GET /openapi.json is the committed `docs/openapi.json`, and `rustvecdb openapi` prints the
//! same document; the dashboard is served without a key while the API keeps needing one.

mod common;

use std::process::Command;

use common::Server;
use serde_json::Value;

const REGENERATE: &str = "regenerate it with `make openapi` \
     (or `cargo run --release -- openapi > docs/openapi.json`) and commit the result";

fn committed() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.json");
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read docs/openapi.json ({e}); {REGENERATE}"))
}

/// The first differing line, for the failure message.
fn first_difference(a: &str, b: &str) -> String {
    for (i, (x, y)) in a.lines().zip(b.lines()).enumerate() {
        if x != y {
            return format!("line {}:\n  served:    {x}\n  committed: {y}", i + 1);
        }
    }
    format!(
        "the served spec has {} lines, the committed one {}",
        a.lines().count(),
        b.lines().count()
    )
}

#[test]
fn served_spec_matches_the_committed_docs_openapi_json() {
    let server = Server::start();
    let (status, content_type, served) = server.get_text("/openapi.json", &[]);
    assert_eq!(status, 200);
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let committed = committed();
    let (a, b): (Value, Value) = (
        serde_json::from_str(&served).expect("the served spec is JSON"),
        serde_json::from_str(&committed).expect("docs/openapi.json is JSON"),
    );
    assert!(
        a == b && served == committed,
        "docs/openapi.json differs from the spec the server serves; {REGENERATE}.\nFirst difference: {}",
        first_difference(&served, &committed)
    );
    assert_eq!(a["info"]["title"], "rustvecdb");
    assert_eq!(a["info"]["version"], env!("CARGO_PKG_VERSION"));
}

#[test]
fn the_openapi_subcommand_prints_the_served_spec() {
    let out = Command::new(env!("CARGO_BIN_EXE_rustvecdb"))
        .arg("openapi")
        .output()
        .expect("run rustvecdb openapi");
    assert!(out.status.success());
    let printed = String::from_utf8(out.stdout).unwrap();
    let server = Server::start();
    let (_, _, served) = server.get_text("/openapi.json", &[]);
    assert_eq!(printed, served);
}

#[test]
fn dashboard_is_open_without_a_key_and_the_api_is_not() {
    let server = Server::start_with(&[("RVDB__SERVICE__API_KEY", "secret")]);
    let (status, content_type, page) = server.get_text("/dashboard", &[]);
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert!(page.contains("/dashboard/app.js"));
    for (asset, kind) in [("app.js", "text/javascript"), ("style.css", "text/css")] {
        let (status, content_type, body) = server.get_text(&format!("/dashboard/{asset}"), &[]);
        assert_eq!(status, 200, "{asset}");
        assert!(content_type.starts_with(kind), "{asset}: {content_type}");
        assert!(!body.is_empty(), "{asset}");
    }
    let (status, _, _) = server.get_text("/dashboard/secrets.json", &[]);
    assert_eq!(status, 404);
    // no external fetches: nothing in the page or its assets points off this server
    for path in ["/dashboard", "/dashboard/app.js", "/dashboard/style.css"] {
        let (_, _, body) = server.get_text(path, &[]);
        assert!(
            !body.contains("http://") && !body.contains("https://"),
            "{path}"
        );
    }
    let (status, _, _) = server.get_text("/collections", &[]);
    assert_eq!(status, 401);
    let (status, _, _) = server.get_text("/openapi.json", &[]);
    assert_eq!(status, 401);
    let (status, _, _) = server.get_text("/collections", &[("api-key", "secret")]);
    assert_eq!(status, 200);
}
