//! Filter semantics, checked case by case against Qdrant's documented behaviour.

use serde_json::{json, Value};

use crate::{Filter, Payload, PointId};

fn payload(v: Value) -> Payload {
    match v {
        Value::Object(m) => m,
        _ => panic!("payload must be an object"),
    }
}

fn seed(f: Value, p: Value) -> bool {
    Filter::from_seed(&f)
        .unwrap()
        .matches(PointId::Num(1), &payload(p))
}

fn dsl(f: Value, p: Value) -> bool {
    Filter::from_qdrant(&f)
        .unwrap()
        .matches(PointId::Num(1), &payload(p))
}

#[test]
fn seed_filter_requires_every_pair() {
    let p = json!({"genre": "sci-fi", "year": 1999, "meta": {"color": "red"}});
    assert!(seed(json!({"genre": "sci-fi"}), p.clone()));
    assert!(seed(json!({"genre": "sci-fi", "year": 1999}), p.clone()));
    assert!(!seed(json!({"genre": "sci-fi", "year": 2000}), p.clone()));
    assert!(seed(json!({"meta.color": "red"}), p.clone()));
    assert!(!seed(json!({"meta.color": "blue"}), p.clone()));
    assert!(!seed(json!({"missing": "x"}), p));
}

#[test]
fn seed_value_matches_an_array_that_contains_it() {
    let p = json!({"tags": ["a", "b"], "n": [1, 2]});
    assert!(seed(json!({"tags": "b"}), p.clone()));
    assert!(seed(json!({"n": 2}), p.clone()));
    assert!(!seed(json!({"tags": "c"}), p));
}

#[test]
fn types_never_cross_match() {
    let p = json!({"a": 1, "b": true, "c": "1", "d": 1.5});
    assert!(!seed(json!({"a": true}), p.clone()));
    assert!(!seed(json!({"a": "1"}), p.clone()));
    assert!(!seed(json!({"b": 1}), p.clone()));
    assert!(!seed(json!({"c": 1}), p.clone()));
    assert!(!seed(json!({"a": 1.0}), p.clone()));
    // floats are equal only to floats (the seed dialect allows them)
    assert!(seed(json!({"d": 1.5}), p));
}

#[test]
fn seed_filter_refuses_structured_values_and_bad_keys() {
    let e = Filter::from_seed(&json!({"tags": ["a"]})).unwrap_err();
    assert!(e.0.contains("filter.tags"), "{e}");
    assert!(Filter::from_seed(&json!({"a..b": 1})).is_err());
    assert!(Filter::from_seed(&json!([1])).is_err());
}

#[test]
fn from_json_tells_the_dialects_apart() {
    let q = Filter::from_json(&json!({"must": [{"key": "a", "match": {"value": 1}}]}))
        .unwrap()
        .unwrap();
    assert_eq!(q.must.len(), 1);
    let s = Filter::from_json(&json!({"a": 1})).unwrap().unwrap();
    assert_eq!(s.must.len(), 1);
    assert!(Filter::from_json(&Value::Null).unwrap().is_none());
    assert!(Filter::from_json(&json!({})).unwrap().unwrap().is_empty());
}

#[test]
fn must_should_must_not_and_min_should_combine() {
    let p = json!({"a": 1, "b": "x"});
    let a1 = json!({"key": "a", "match": {"value": 1}});
    let a2 = json!({"key": "a", "match": {"value": 2}});
    let bx = json!({"key": "b", "match": {"value": "x"}});
    assert!(dsl(json!({"must": [a1, bx]}), p.clone()));
    assert!(!dsl(json!({"must": [a1, a2]}), p.clone()));
    assert!(dsl(json!({"should": [a1, a2]}), p.clone()));
    assert!(!dsl(json!({"should": [a2]}), p.clone()));
    assert!(!dsl(json!({"must_not": [a1]}), p.clone()));
    assert!(dsl(json!({"must_not": [a2]}), p.clone()));
    assert!(dsl(
        json!({"min_should": {"conditions": [a1, a2, bx], "min_count": 2}}),
        p.clone()
    ));
    assert!(!dsl(
        json!({"min_should": {"conditions": [a1, a2], "min_count": 2}}),
        p.clone()
    ));
    // a single condition may stand without an array, and filters nest
    assert!(dsl(json!({"must": {"should": [a2, bx]}}), p));
}

#[test]
fn match_any_except_text_and_range() {
    let p = json!({"c": "red", "n": [3, 7], "t": "The quick brown_fox", "z": null});
    assert!(dsl(
        json!({"must": [{"key": "c", "match": {"any": ["red", "blue"]}}]}),
        p.clone()
    ));
    assert!(!dsl(
        json!({"must": [{"key": "c", "match": {"except": ["red"]}}]}),
        p.clone()
    ));
    assert!(dsl(
        json!({"must": [{"key": "n", "match": {"except": [3]}}]}),
        p.clone()
    ));
    // null is absence, not a value that differs
    assert!(!dsl(
        json!({"must": [{"key": "z", "match": {"except": ["a"]}}]}),
        p.clone()
    ));
    assert!(!dsl(
        json!({"must": [{"key": "missing", "match": {"except": ["a"]}}]}),
        p.clone()
    ));
    assert!(dsl(
        json!({"must": [{"key": "t", "match": {"text": "QUICK fox"}}]}),
        p.clone()
    ));
    assert!(!dsl(
        json!({"must": [{"key": "t", "match": {"text": "qui"}}]}),
        p.clone()
    ));
    assert!(dsl(
        json!({"must": [{"key": "n", "range": {"gt": 5, "lte": 7}}]}),
        p.clone()
    ));
    assert!(!dsl(
        json!({"must": [{"key": "n", "range": {"gt": 7}}]}),
        p.clone()
    ));
    assert!(!dsl(json!({"must": [{"key": "c", "range": {"gt": 0}}]}), p));
}

#[test]
fn is_empty_is_null_and_values_count_follow_qdrant() {
    let p = json!({"e": [], "n": null, "arr": [1, null], "v": 5, "xs": [1, 2, 3]});
    let empty = |k: &str| dsl(json!({"must": [{"is_empty": {"key": k}}]}), p.clone());
    let null = |k: &str| dsl(json!({"must": [{"is_null": {"key": k}}]}), p.clone());
    assert!(empty("e") && empty("n") && empty("missing"));
    assert!(!empty("v") && !empty("arr"));
    assert!(null("n") && null("arr"));
    assert!(!null("missing") && !null("e") && !null("v"));
    assert!(dsl(
        json!({"must": [{"key": "xs", "values_count": {"gte": 3}}]}),
        p.clone()
    ));
    assert!(!dsl(
        json!({"must": [{"key": "xs", "values_count": {"lt": 3}}]}),
        p.clone()
    ));
    assert!(dsl(
        json!({"must": [{"key": "v", "values_count": {"lte": 1}}]}),
        p
    ));
}

#[test]
fn has_id_and_nested_objects() {
    let p = json!({"dims": [{"w": 1, "h": 5}, {"w": 3, "h": 1}]});
    let f = Filter::from_qdrant(
        &json!({"must": [{"has_id": [1, "550e8400-e29b-41d4-a716-446655440000"]}]}),
    )
    .unwrap();
    assert!(f.matches(PointId::Num(1), &payload(p.clone())));
    assert!(!f.matches(PointId::Num(2), &payload(p.clone())));
    // nested: both conditions must hold on the same element
    let nested = |w: i64, h: i64| {
        dsl(
            json!({"must": [{"nested": {"key": "dims", "filter": {"must": [
                {"key": "w", "match": {"value": w}}, {"key": "h", "match": {"value": h}}]}}}]}),
            p.clone(),
        )
    };
    assert!(nested(1, 5));
    assert!(!nested(1, 1));
    // the flattened path matches across elements
    assert!(dsl(
        json!({"must": [{"key": "dims[].w", "match": {"value": 3}}]}),
        p
    ));
}

#[test]
fn malformed_dsl_names_the_field() {
    let cases = [
        (
            json!({"must": [{"key": "a", "match": {"value": 1.5}}]}),
            "filter.must[0].match.value",
        ),
        (
            json!({"must": [{"key": "a", "range": {"gt": "x"}}]}),
            "filter.must[0].range.gt",
        ),
        (json!({"must": [{"key": "a"}]}), "filter.must[0]"),
        (
            json!({"must": [{"has_id": ["nope"]}]}),
            "filter.must[0].has_id[0]",
        ),
        (json!({"must": 3}), "filter.must"),
        (
            json!({"should": [{"key": "a", "match": {"foo": 1}}]}),
            "filter.should[0].match.foo",
        ),
        (
            json!({"must": [{"key": "a", "bogus": 1}]}),
            "filter.must[0].bogus",
        ),
    ];
    for (f, at) in cases {
        let e = Filter::from_qdrant(&f).unwrap_err();
        assert!(e.0.starts_with(at), "{f}: {e}");
    }
}
