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
    // a trailing slash finds the page too (reqwest follows the redirect)
    let (status, content_type, _) = server.get_text("/dashboard/", &[]);
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/html"), "{content_type}");
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

// ---- answers and bodies against their documented schemas -------------------------------------

/// Checks `v` against `schema` (the subset of JSON Schema the spec uses: `$ref`, `oneOf` (any
/// branch, as serde's untagged enums), `allOf`, `type`, `enum`, `properties`, `required`,
/// `additionalProperties`, `items`). `strict`: an object may hold only documented keys (for
/// answers: the spec must describe everything the server sends).
fn check(v: &Value, schema: &Value, spec: &Value, strict: bool, at: &str) -> Result<(), String> {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r
            .strip_prefix("#/components/schemas/")
            .expect("a schema ref");
        return check(v, &spec["components"]["schemas"][name], spec, strict, at);
    }
    if let Some(branches) = schema.get("oneOf").and_then(Value::as_array) {
        let errors: Vec<String> = branches
            .iter()
            .filter_map(|b| check(v, b, spec, strict, at).err())
            .collect();
        if errors.len() == branches.len() {
            return Err(format!(
                "{at}: matches no oneOf branch: {}",
                errors.join(" | ")
            ));
        }
        return Ok(());
    }
    if let Some(parts) = schema.get("allOf").and_then(Value::as_array) {
        for p in parts {
            check(v, p, spec, false, at)?;
        }
        if strict {
            let mut known = Vec::new();
            for p in parts {
                known.extend(properties(p, spec));
            }
            for k in v.as_object().into_iter().flat_map(|m| m.keys()) {
                if !known.contains(k) {
                    return Err(format!("{at}.{k}: not in the schema"));
                }
            }
        }
        return Ok(());
    }
    if let Some(types) = schema.get("type") {
        let types: Vec<&str> = match types {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let ok = types.iter().any(|t| match *t {
            "null" => v.is_null(),
            "boolean" => v.is_boolean(),
            "string" => v.is_string(),
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "array" => v.is_array(),
            "object" => v.is_object(),
            _ => false,
        });
        if !ok {
            return Err(format!("{at}: {v} is not of type {types:?}"));
        }
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        if !values.contains(v) {
            return Err(format!("{at}: {v} is not one of {values:?}"));
        }
    }
    if let Value::Array(items) = v {
        if let Some(item) = schema.get("items") {
            for (i, x) in items.iter().enumerate() {
                check(x, item, spec, strict, &format!("{at}[{i}]"))?;
            }
        }
    }
    if let Value::Object(m) = v {
        let props = schema.get("properties").and_then(Value::as_object);
        for k in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let k = k.as_str().unwrap();
            if !m.contains_key(k) {
                return Err(format!("{at}: missing required `{k}`"));
            }
        }
        for (k, x) in m {
            let at = format!("{at}.{k}");
            match (
                props.and_then(|p| p.get(k)),
                schema.get("additionalProperties"),
            ) {
                (Some(s), _) => check(x, s, spec, strict, &at)?,
                (None, Some(Value::Bool(false))) => return Err(format!("{at}: not in the schema")),
                (None, Some(s @ Value::Object(_))) => check(x, s, spec, strict, &at)?,
                (None, _) if strict && props.is_some() => {
                    return Err(format!("{at}: not in the schema"))
                }
                (None, _) => {}
            }
        }
    }
    Ok(())
}

fn properties(schema: &Value, spec: &Value) -> Vec<String> {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.strip_prefix("#/components/schemas/").unwrap();
        return properties(&spec["components"]["schemas"][name], spec);
    }
    schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

/// The documented JSON schema of an operation's answer with this status (a shared error
/// answer resolved), if it has one.
fn answer_schema<'a>(spec: &'a Value, op: &'a Value, status: u16) -> Option<&'a Value> {
    let mut answer = op["responses"].get(status.to_string())?;
    if let Some(r) = answer.get("$ref").and_then(Value::as_str) {
        let name = r.strip_prefix("#/components/responses/").unwrap();
        answer = &spec["components"]["responses"][name];
    }
    answer["content"]
        .get("application/json")
        .map(|c| &c["schema"])
}

#[test]
fn a_tour_of_the_api_matches_the_documented_bodies_and_answers() {
    let server = Server::start();
    let spec: Value = serde_json::from_str(&server.get_text("/openapi.json", &[]).2).unwrap();
    let p = |id: u64, v: [f32; 4], city: &str| serde_json::json!({"id": id, "vector": v, "payload": {"city": city, "n": id}});
    let berlin = serde_json::json!({"must": [{"key": "city", "match": {"value": "Berlin"}}]});
    let tour: Vec<(&str, &str, &str, Option<Value>, u16)> = vec![
        ("GET", "/", "/", None, 200),
        ("GET", "/health", "/health", None, 200),
        (
            "PUT",
            "/collections/{name}",
            "/collections/tour",
            Some(serde_json::json!({"vectors": {"size": 4, "distance": "Cosine"}})),
            200,
        ),
        (
            "PUT",
            "/collections/{name}",
            "/collections/seedy",
            Some(serde_json::json!({"name": "seedy", "distance": "Dot"})),
            200,
        ),
        (
            "PUT",
            "/collections/{name}",
            "/collections/tour",
            Some(serde_json::json!({"vectors": {"size": 4, "distance": "Cosine"}})),
            409,
        ),
        ("GET", "/collections", "/collections", None, 200),
        (
            "GET",
            "/collections/{name}",
            "/collections/seedy",
            None,
            200,
        ),
        (
            "GET",
            "/collections/{name}/exists",
            "/collections/tour/exists",
            None,
            200,
        ),
        (
            "PUT",
            "/collections/{name}/points",
            "/collections/tour/points?wait=true",
            Some(
                serde_json::json!({"points": [p(1, [1.0, 0.0, 0.0, 0.0], "Berlin"), p(2, [0.0, 1.0, 0.0, 0.0], "Rome"),
                                               p(3, [0.7, 0.7, 0.0, 0.0], "Berlin")]}),
            ),
            200,
        ),
        (
            "PUT",
            "/collections/{name}/points",
            "/collections/tour/points",
            Some(
                serde_json::json!({"batch": {"ids": [4], "vectors": [[0.0, 0.0, 1.0, 0.0]], "payloads": [{"city": "Oslo"}]}}),
            ),
            200,
        ),
        (
            "POST",
            "/collections/{name}/points",
            "/collections/seedy/points",
            Some(
                serde_json::json!([{"vector": [1.0, 2.0], "payload": {"a": 1}}, {"id": 9, "vector": [3.0, 4.0]}]),
            ),
            200,
        ),
        (
            "PUT",
            "/collections/{name}/points/{id}",
            "/collections/seedy/points/10",
            Some(serde_json::json!({"vector": [1.0, 1.0]})),
            200,
        ),
        (
            "GET",
            "/collections/{name}/points/{id}",
            "/collections/seedy/points/10",
            None,
            200,
        ),
        (
            "GET",
            "/collections/{name}/points",
            "/collections/seedy/points?limit=1",
            None,
            200,
        ),
        (
            "DELETE",
            "/collections/{name}/points/{id}",
            "/collections/seedy/points/10",
            None,
            200,
        ),
        (
            "GET",
            "/collections/{name}/points/{id}",
            "/collections/seedy/points/10",
            None,
            404,
        ),
        (
            "POST",
            "/collections/{name}/points/search",
            "/collections/seedy/points/search",
            Some(serde_json::json!({"vector": [1.0, 0.0], "filter": {"a": 1}})),
            200,
        ),
        ("GET", "/collections/{name}", "/collections/tour", None, 200),
        (
            "POST",
            "/collections/{name}/points",
            "/collections/tour/points",
            Some(serde_json::json!({"ids": [1, 2, 99], "with_vector": true})),
            200,
        ),
        (
            "POST",
            "/collections/{name}/points/scroll",
            "/collections/tour/points/scroll",
            Some(serde_json::json!({"limit": 2, "filter": berlin, "with_payload": ["city"]})),
            200,
        ),
        (
            "POST",
            "/collections/{name}/points/scroll",
            "/collections/tour/points/scroll",
            Some(serde_json::json!({"order_by": {"key": "n", "direction": "desc"}, "limit": 2})),
            200,
        ),
        (
            "POST",
            "/collections/{name}/points/count",
            "/collections/tour/points/count",
            Some(serde_json::json!({"filter": berlin})),
            200,
        ),
        (
            "POST",
            "/collections/{name}/points/query",
            "/collections/tour/points/query",
            Some(
                serde_json::json!({"query": [1.0, 0.0, 0.0, 0.0], "filter": berlin, "with_payload": true}),
            ),
            200,
        ),
        (
            "POST",
            "/collections/{name}/points/query",
            "/collections/tour/points/query",
            Some(serde_json::json!({"query": [1.0, 0.0, 0.0, 0.0], "limit": 0})),
            422,
        ),
        (
            "POST",
            "/collections/{name}/points/query",
            "/collections/tour/points/query",
            Some(
                serde_json::json!({"prefetch": [{"query": 1, "limit": 3}, {"query": [0.0, 1.0, 0.0, 0.0]}],
                                    "query": {"fusion": "rrf"}, "with_vector": true}),
            ),
            200,
        ),
        (
            "POST",
            "/collections/{name}/points/query/batch",
            "/collections/tour/points/query/batch",
            Some(
                serde_json::json!({"searches": [{"query": 1}, {"query": {"recommend": {"positive": [1], "negative": [2]}}}]}),
            ),
            200,
        ),
        (
            "POST",
            "/collections/{name}/points/query/groups",
            "/collections/tour/points/query/groups",
            Some(
                serde_json::json!({"query": [1.0, 0.0, 0.0, 0.0], "group_by": "city", "group_size": 2}),
            ),
            200,
        ),
        (
            "POST",
            "/collections/{name}/points/search/batch",
            "/collections/tour/points/search/batch",
            Some(serde_json::json!({"searches": [{"vector": [1.0, 0.0, 0.0, 0.0], "limit": 2}]})),
            200,
        ),
        (
            "POST",
            "/collections/{name}/points/recommend",
            "/collections/tour/points/recommend",
            Some(serde_json::json!({"positive": [1], "limit": 2, "with_payload": true})),
            200,
        ),
        (
            "POST",
            "/collections/{name}/points/recommend/batch",
            "/collections/tour/points/recommend/batch",
            Some(serde_json::json!({"searches": [{"positive": [1], "negative": [2]}]})),
            200,
        ),
        (
            "POST",
            "/collections/{name}/points/payload",
            "/collections/tour/points/payload?wait=true",
            Some(serde_json::json!({"payload": {"seen": true}, "points": [1]})),
            200,
        ),
        (
            "PUT",
            "/collections/{name}/points/payload",
            "/collections/tour/points/payload",
            Some(serde_json::json!({"payload": {"city": "Berlin"}, "filter": berlin})),
            200,
        ),
        (
            "POST",
            "/collections/{name}/points/payload/delete",
            "/collections/tour/points/payload/delete",
            Some(serde_json::json!({"keys": ["seen"], "points": [1]})),
            200,
        ),
        (
            "POST",
            "/collections/{name}/points/payload/clear",
            "/collections/tour/points/payload/clear",
            Some(serde_json::json!({"points": [4]})),
            200,
        ),
        (
            "PUT",
            "/collections/{name}/points/vectors",
            "/collections/tour/points/vectors",
            Some(serde_json::json!({"points": [{"id": 2, "vector": [0.0, 0.9, 0.1, 0.0]}]})),
            200,
        ),
        (
            "POST",
            "/collections/{name}/points/batch",
            "/collections/tour/points/batch",
            Some(serde_json::json!({"operations": [
                {"upsert": {"points": [p(5, [0.5, 0.5, 0.5, 0.5], "Paris")]}},
                {"set_payload": {"payload": {"x": 1}, "points": [5]}},
                {"delete": {"points": [5]}}]})),
            200,
        ),
        (
            "POST",
            "/collections/{name}/points/delete",
            "/collections/tour/points/delete",
            Some(
                serde_json::json!({"filter": {"must": [{"key": "city", "match": {"value": "Oslo"}}]}}),
            ),
            200,
        ),
        (
            "PUT",
            "/collections/{name}/index",
            "/collections/tour/index",
            Some(serde_json::json!({"field_name": "city", "field_schema": "keyword"})),
            200,
        ),
        ("GET", "/collections/{name}", "/collections/tour", None, 200),
        (
            "DELETE",
            "/collections/{name}/index/{field}",
            "/collections/tour/index/city?wait=true",
            None,
            200,
        ),
        (
            "PATCH",
            "/collections/{name}",
            "/collections/tour",
            Some(
                serde_json::json!({"optimizers_config": {"indexing_threshold": 20000}, "metadata": {"k": "v"}}),
            ),
            200,
        ),
        (
            "POST",
            "/collections/aliases",
            "/collections/aliases",
            Some(
                serde_json::json!({"actions": [{"create_alias": {"collection_name": "tour", "alias_name": "live"}}]}),
            ),
            200,
        ),
        ("GET", "/aliases", "/aliases", None, 200),
        (
            "GET",
            "/collections/{name}/aliases",
            "/collections/tour/aliases",
            None,
            200,
        ),
        ("GET", "/stats", "/stats", None, 200),
        ("GET", "/telemetry", "/telemetry", None, 200),
        (
            "DELETE",
            "/collections/{name}",
            "/collections/tour",
            None,
            200,
        ),
        ("GET", "/collections/{name}", "/collections/tour", None, 404),
        (
            "POST",
            "/collections/{name}/points/query",
            "/collections/seedy/points/query",
            Some(serde_json::json!({"query": {"discover": {}}})),
            400,
        ),
    ];
    let mut failures = Vec::new();
    for (method, template, path, body, want) in tour {
        let op = &spec["paths"][template][method.to_lowercase()];
        assert!(op.is_object(), "{method} {template} is not in the spec");
        // (bodies meant to be refused may break the schema)
        if let Some(b) = body.as_ref().filter(|_| want < 400) {
            let schema = &op["requestBody"]["content"]["application/json"]["schema"];
            if let Err(e) = check(b, schema, &spec, false, "body") {
                failures.push(format!(
                    "{method} {path}: the documented body schema refuses what we send: {e}"
                ));
            }
        }
        let (status, answer) = server.send(method, path, body.as_ref());
        if status != want {
            failures.push(format!(
                "{method} {path}: status {status}, expected {want}: {answer}"
            ));
            continue;
        }
        match answer_schema(&spec, op, status) {
            None => failures.push(format!(
                "{method} {template}: answer {status} is not documented"
            )),
            Some(schema) => {
                if let Err(e) = check(&answer, schema, &spec, true, "answer") {
                    failures.push(format!(
                        "{method} {path} ({status}): {e}\n    answer: {answer}"
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
