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

fn must(c: Value, p: Value) -> bool {
    dsl(json!({ "must": [c] }), p)
}

fn parse_err(f: Value) -> String {
    Filter::from_qdrant(&f).unwrap_err().0
}

#[test]
fn datetime_ranges_compare_instants() {
    let p = json!({
        "d": "2021-06-15T10:30:00+02:00",
        "naive": "2021-06-15 08:30:00",
        "many": ["bad", "2020-01-01", 5],
        "n": 1623745800,
    });
    let r = |k: &str, range: Value| must(json!({"key": k, "range": range}), p.clone());
    // 08:30 UTC
    assert!(r("d", json!({"gte": "2021-06-15T08:30:00Z"})));
    assert!(!r("d", json!({"gt": "2021-06-15T08:30:00Z"})));
    assert!(r(
        "d",
        json!({"lt": "2021-06-15T09:00:00", "gt": "2021-06-15"})
    ));
    // a naive payload time is UTC too
    assert!(r("naive", json!({"lte": "2021-06-15T10:30:00+02:00"})));
    assert!(!r("naive", json!({"lt": "2021-06-15T10:30:00+02:00"})));
    // any element of an array; strings that are not datetimes and numbers never match
    assert!(r("many", json!({"lt": "2021-01-01T00:00:00Z"})));
    assert!(!r("many", json!({"gt": "2021-01-01T00:00:00Z"})));
    assert!(!r("n", json!({"gt": "1970-01-01T00:00:00Z"})));
    assert!(!r("missing", json!({"gt": "1970-01-01T00:00:00Z"})));
    // a numeric range never matches a datetime string
    assert!(!r("d", json!({"gt": 0})));
}

#[test]
fn datetime_bounds_must_parse() {
    let e = parse_err(json!({"must": [{"key": "d", "range": {"gt": "yesterday"}}]}));
    assert!(e.starts_with("filter.must[0].range.gt:"), "{e}");
    let e = parse_err(json!({"must": [{"key": "d", "range": {"gt": "2021-01-01", "lt": 5}}]}));
    assert!(e.starts_with("filter.must[0].range.lt:"), "{e}");
    let e = parse_err(json!({"must": [{"key": "d", "range": {"gt": true}}]}));
    assert!(e.starts_with("filter.must[0].range.gt:"), "{e}");
}

#[test]
fn geo_conditions_follow_local_mode() {
    let p = json!({
        "loc": {"lon": 13.4050, "lat": 52.5200},
        "locs": [{"lon": 0, "lat": 0}, {"lon": 37.6173, "lat": 55.7558}],
        "bad": [{"lon": true, "lat": 1}, {"lat": 1}, "13.4,52.5"],
        "grid": {"lon": 1, "lat": 1},
    });
    let berlin_box =
        json!({"top_left": {"lon": 13.0, "lat": 53.0}, "bottom_right": {"lon": 14.0, "lat": 52.0}});
    assert!(must(
        json!({"key": "loc", "geo_bounding_box": berlin_box}),
        p.clone()
    ));
    assert!(!must(
        json!({"key": "locs", "geo_bounding_box": berlin_box}),
        p.clone()
    ));
    assert!(!must(
        json!({"key": "bad", "geo_bounding_box": berlin_box}),
        p.clone()
    ));
    // the box is open: a point on its edge is outside
    let edge = json!({"top_left": {"lon": 0, "lat": 1}, "bottom_right": {"lon": 2, "lat": 0}});
    assert!(!must(
        json!({"key": "grid", "geo_bounding_box": edge}),
        p.clone()
    ));
    // radius in meters, strictly closer; Moscow is ~1600 km from Berlin
    let near = |radius: f64| {
        must(
            json!({"key": "locs", "geo_radius": {"center": {"lon": 13.4050, "lat": 52.5200}, "radius": radius}}),
            p.clone(),
        )
    };
    assert!(near(1_700_000.0));
    assert!(!near(1_500_000.0));
    assert!(!must(
        json!({"key": "grid", "geo_radius": {"center": {"lon": 1, "lat": 1}, "radius": 0}}),
        p.clone()
    ));
    // polygons: the exterior's boundary is outside, a hole's boundary is in the hole
    let sq = |a: f64, b: f64| {
        json!({"points": [
            {"lon": a, "lat": a}, {"lon": b, "lat": a}, {"lon": b, "lat": b},
            {"lon": a, "lat": b}, {"lon": a, "lat": a}]})
    };
    let poly = |ext: Value, holes: Value| {
        must(
            json!({"key": "grid", "geo_polygon": {"exterior": ext, "interiors": holes}}),
            p.clone(),
        )
    };
    assert!(poly(sq(0.0, 2.0), json!(null)));
    assert!(!poly(sq(1.0, 2.0), json!([])));
    assert!(!poly(sq(0.0, 3.0), json!([sq(1.0, 2.0)])));
    assert!(poly(sq(0.0, 3.0), json!([sq(1.5, 2.0)])));
}

#[test]
fn geo_shapes_are_validated() {
    let e = parse_err(
        json!({"must": [{"key": "g", "geo_polygon": {"exterior": {"points": [
        {"lon": 0, "lat": 0}, {"lon": 1, "lat": 0}, {"lon": 1, "lat": 1}, {"lon": 0, "lat": 1}]}}}]}),
    );
    assert!(
        e.starts_with("filter.must[0].geo_polygon.exterior.points:"),
        "{e}"
    );
    let e = parse_err(
        json!({"must": [{"key": "g", "geo_radius": {"center": {"lon": 0}, "radius": 1}}]}),
    );
    assert!(e.starts_with("filter.must[0].geo_radius.center"), "{e}");
    let e = parse_err(json!({"must": [{"key": "g", "geo_bounding_box": {
        "top_left": {"lon": 0, "lat": 1}, "bottom_right": {"lon": 1, "lat": 0}, "x": 1}}]}));
    assert!(e.starts_with("filter.must[0].geo_bounding_box.x:"), "{e}");
}

#[test]
fn has_vector_needs_the_point_and_never_holds_when_nested() {
    let f = Filter::from_qdrant(&json!({"must": [{"has_vector": "image"}]})).unwrap();
    let p = payload(json!({"items": [{"a": 1}]}));
    assert!(f.check(PointId::Num(1), &p, &|name| name == "image"));
    assert!(!f.check(PointId::Num(1), &p, &|name| name == "text"));
    assert!(!f.matches(PointId::Num(1), &p));
    for inner in [json!({"has_vector": "image"}), json!({"has_id": [1]})] {
        let nested = Filter::from_qdrant(
            &json!({"must": [{"nested": {"key": "items", "filter": {"must": [inner]}}}]}),
        )
        .unwrap();
        assert!(!nested.check(PointId::Num(1), &p, &|_| true));
        let negated = Filter::from_qdrant(
            &json!({"must": [{"nested": {"key": "items", "filter": {"must_not": [inner]}}}]}),
        )
        .unwrap();
        assert!(negated.check(PointId::Num(1), &p, &|_| true));
    }
}

#[test]
fn text_any_phrase_prefix_and_substring() {
    let p = json!({"t": "The quick brown_fox jumps", "k": ["alpha-1", "Beta"], "n": 5});
    let m = |k: &str, m: Value| must(json!({"key": k, "match": m}), p.clone());
    assert!(m("t", json!({"text_any": "slow FOX"})));
    assert!(!m("t", json!({"text_any": "slow dog"})));
    assert!(!m("t", json!({"text_any": ""})));
    assert!(m("t", json!({"phrase": "brown fox"})));
    assert!(m("t", json!({"phrase": "QUICK, brown"})));
    assert!(!m("t", json!({"phrase": "fox brown"})));
    assert!(!m("t", json!({"phrase": "  "})));
    assert!(m("k", json!({"prefix": "alp"})));
    assert!(!m("k", json!({"prefix": "beta"})), "case-sensitive");
    assert!(m("k", json!({"prefix": ""})));
    assert!(!m("n", json!({"prefix": ""})), "strings only");
    assert!(m("k", json!({"substring": "ha-"})));
    assert!(!m("k", json!({"substring": "HA"})));
    assert!(!m("n", json!({"substring": "5"})));
}

#[test]
fn values_match_only_their_own_type() {
    let p =
        json!({"f": 1.0, "i": 1, "b": true, "s": "1", "u": "550e8400-e29b-41d4-a716-446655440000"});
    let v = |k: &str, x: Value| must(json!({"key": k, "match": {"value": x}}), p.clone());
    assert!(!v("f", json!(1)), "a float never matches match.value");
    assert!(v("i", json!(1)) && !v("i", json!(true)) && !v("i", json!("1")));
    assert!(v("b", json!(true)) && !v("b", json!(1)));
    assert!(v("s", json!("1")));
    assert!(v("u", json!("550e8400-e29b-41d4-a716-446655440000")));
    assert!(
        !v("u", json!("550E8400-E29B-41D4-A716-446655440000")),
        "a UUID is a string"
    );
    // booleans are not numbers for ranges
    assert!(!must(json!({"key": "b", "range": {"gte": 0}}), p.clone()));
    assert!(must(json!({"key": "f", "range": {"gte": 1}}), p.clone()));
    // an empty range matches any number, and only numbers
    assert!(must(json!({"key": "i", "range": {}}), p.clone()));
    assert!(!must(json!({"key": "s", "range": {}}), p));
}

#[test]
fn match_lists_are_strings_or_integers() {
    let e = parse_err(json!({"must": [{"key": "a", "match": {"any": ["a", 1]}}]}));
    assert!(e.starts_with("filter.must[0].match.any[1]:"), "{e}");
    let e = parse_err(json!({"must": [{"key": "a", "match": {"except": [true]}}]}));
    assert!(e.starts_with("filter.must[0].match.except[0]:"), "{e}");
    let e = parse_err(json!({"must": [{"key": "a", "match": {"value": 9223372036854775808u64}}]}));
    assert!(e.starts_with("filter.must[0].match.value:"), "{e}");
    assert!(dsl(
        json!({"must": [{"key": "a", "match": {"except": []}}]}),
        json!({"a": 1})
    ));
    assert!(!dsl(
        json!({"must": [{"key": "a", "match": {"any": []}}]}),
        json!({"a": 1})
    ));
}

#[test]
fn except_skips_nulls_but_not_other_types() {
    let ex = |p: Value| must(json!({"key": "a", "match": {"except": ["x"]}}), p);
    assert!(!ex(json!({"a": null})));
    assert!(!ex(json!({"a": [null, "x"]})));
    assert!(ex(json!({"a": [null, "y"]})));
    assert!(
        ex(json!({"a": 1})),
        "a non-string differs from every string"
    );
    assert!(ex(json!({"a": {"k": 1}})));
    assert!(ex(json!({"a": [["x"]]})), "a nested array is one value");
    assert!(!ex(json!({"a": []})));
}

#[test]
fn values_count_counts_like_local_mode() {
    let vc = |p: Value, r: Value| must(json!({"key": "a", "values_count": r}), p);
    assert!(vc(json!({}), json!({"lt": 1})), "missing counts 0");
    assert!(vc(json!({"a": null}), json!({"lte": 0})));
    assert!(vc(json!({"a": []}), json!({"lte": 0})));
    assert!(
        vc(json!({"a": [null, null]}), json!({"gte": 2})),
        "nulls in an array count"
    );
    assert!(vc(json!({"a": {"b": 1}}), json!({"gte": 1, "lte": 1})));
    // one value must satisfy every bound at once
    let p = json!({"l": [{"a": [1, 2, 3]}, {"a": 1}]});
    assert!(!must(
        json!({"key": "l[].a", "values_count": {"gt": 1, "lt": 3}}),
        p.clone()
    ));
    assert!(must(
        json!({"key": "l[].a", "values_count": {"gt": 2}}),
        p.clone()
    ));
    assert!(must(json!({"key": "l[].a", "values_count": {"lt": 2}}), p));
    let e = parse_err(json!({"must": [{"key": "a", "values_count": {"gt": -1}}]}));
    assert!(e.starts_with("filter.must[0].values_count.gt:"), "{e}");
    let e = parse_err(json!({"must": [{"key": "a", "values_count": {"gt": 1.5}}]}));
    assert!(e.starts_with("filter.must[0].values_count.gt:"), "{e}");
}

#[test]
fn is_empty_and_is_null_as_field_flags() {
    let p = json!({"e": [], "n": null, "v": 1, "arr": [1, null]});
    let flag = |k: &str, which: &str, b: bool| must(json!({"key": k, which: b}), p.clone());
    assert!(flag("e", "is_empty", true) && !flag("e", "is_empty", false));
    assert!(flag("missing", "is_empty", true));
    assert!(flag("v", "is_empty", false));
    assert!(flag("arr", "is_null", true) && !flag("arr", "is_null", false));
    assert!(flag("missing", "is_null", false));
    let e = parse_err(json!({"must": [{"key": "a", "is_empty": true, "match": {"value": 1}}]}));
    assert!(e.starts_with("filter.must[0].match:"), "{e}");
}

#[test]
fn nested_reaches_only_objects_in_arrays() {
    let p = json!({
        "arr": [{"x": 1}, 5, [{"x": 2}], {"x": 3}],
        "obj": {"x": 1},
        "deep": {"list": [{"x": 4}]},
    });
    let nested = |k: &str, x: i64| {
        must(
            json!({"nested": {"key": k, "filter": {"must": [{"key": "x", "match": {"value": x}}]}}}),
            p.clone(),
        )
    };
    assert!(nested("arr", 1) && nested("arr[]", 3));
    assert!(
        !nested("arr", 2),
        "an array inside the array is not an element object"
    );
    assert!(!nested("obj", 1), "an object is not an array of objects");
    assert!(nested("deep.list", 4) && nested("deep.list[]", 4));
    let e = parse_err(json!({"must": [{"nested": {"key": "arr"}}]}));
    assert!(e.starts_with("filter.must[0].nested:"), "{e}");
}

#[test]
fn min_should_and_slices() {
    let a1 = json!({"key": "a", "match": {"value": 1}});
    let p = json!({"a": 1});
    assert!(dsl(
        json!({"min_should": {"conditions": a1, "min_count": 1}}),
        p.clone()
    ));
    let e = parse_err(json!({"min_should": {"conditions": [a1], "min_count": 0}}));
    assert!(e.starts_with("filter.min_should.min_count:"), "{e}");
    let e = parse_err(json!({"min_should": {"min_count": 1}}));
    assert!(e.starts_with("filter.min_should:"), "{e}");
    // slices partition the ids
    for total in 1..5u32 {
        for id in 0..50u64 {
            let hits = (0..total)
                .filter(|i| {
                    Filter::from_qdrant(&json!({"must": [{"slice": {"total": total, "index": i}}]}))
                        .unwrap()
                        .matches(PointId::Num(id), &payload(json!({})))
                })
                .count();
            assert_eq!(hits, 1);
        }
    }
    let e = parse_err(json!({"must": [{"slice": {"total": 2, "index": 2}}]}));
    assert!(e.starts_with("filter.must[0].slice.index:"), "{e}");
}

#[test]
fn empty_condition_is_a_filter_that_matches_everything() {
    assert!(dsl(json!({"must": [{}]}), json!({})));
    assert!(!dsl(json!({"must_not": [{}]}), json!({})));
    assert!(dsl(json!({"should": []}), json!({})));
}

#[test]
fn unknown_keys_are_named() {
    let cases = [
        (
            json!({"must": [{"has_id": [1], "extra": 1}]}),
            "filter.must[0].extra",
        ),
        (
            json!({"must": [{"has_vector": "v", "x": 1}]}),
            "filter.must[0].x",
        ),
        (
            json!({"must": [{"is_empty": {"key": "a", "k": 1}}]}),
            "filter.must[0].is_empty.k",
        ),
        (
            json!({"must": [{"is_null": {"key": "a"}, "z": 1}]}),
            "filter.must[0].z",
        ),
        (
            json!({"must": [{"nested": {"key": "a", "filter": {}, "q": 1}}]}),
            "filter.must[0].nested.q",
        ),
        (
            json!({"must": [{"frobnicate": 1}]}),
            "filter.must[0].frobnicate",
        ),
        (
            json!({"must": [{"key": "a", "range": {"gt": 1, "ge": 2}}]}),
            "filter.must[0].range.ge",
        ),
        (
            json!({"must": [{"must": [], "foo": 1}]}),
            "filter.must[0].foo",
        ),
        (
            json!({"min_should": {"conditions": [], "min_count": 1, "x": 1}}),
            "filter.min_should.x",
        ),
        (
            json!({"must": [{"key": "a", "match": {"phrase": 1}}]}),
            "filter.must[0].match.phrase",
        ),
        (
            json!({"must": [{"key": "a", "match": {"value": 1, "any": [1]}}]}),
            "filter.must[0].match",
        ),
        (
            json!({"must": [{"slice": {"total": 2, "index": 0, "seed": 1}}]}),
            "filter.must[0].slice.seed",
        ),
    ];
    for (f, at) in cases {
        let e = parse_err(f.clone());
        assert!(e.starts_with(&format!("{at}:")), "{f}: {e}");
    }
}

#[test]
fn type_errors_deep_inside_name_the_json_path() {
    assert_eq!(
        parse_err(json!({"must": [{"key": "a", "range": {"gt": true}}]})),
        "filter.must[0].range.gt: invalid type: boolean `true`, expected a number, or a datetime \
         string (RFC 3339, e.g. 2024-01-31T12:00:00Z)"
    );
    assert_eq!(
        parse_err(json!({"must": [{"key": "a", "match": {"value": 1.5}}]})),
        "filter.must[0].match.value: invalid type: floating point `1.5`, expected a string, a \
         64-bit integer or a boolean"
    );
    // a clause holding one condition names the clause
    assert_eq!(
        parse_err(json!({"should": {"key": "a", "values_count": {"lt": -1}}})),
        "filter.should.values_count.lt: invalid value: integer `-1`, expected u64"
    );
    let e = parse_err(json!({"must": [{"nested": {"key": "a", "filter": {"must": [
        {"key": "b", "geo_radius": {"center": {"lon": 1, "lat": "x"}, "radius": 1}}]}}}]}));
    assert!(
        e.starts_with("filter.must[0].nested.filter.must[0].geo_radius.center.lat: invalid type"),
        "{e}"
    );
}

#[test]
fn errors_name_the_callers_path() {
    let bad_bound = json!({"must": [{"key": "a", "range": {"gt": []}}]});
    let e = Filter::from_qdrant_at(&bad_bound, "prefetch[1].filter").unwrap_err();
    assert!(
        e.0.starts_with("prefetch[1].filter.must[0].range.gt: "),
        "{e}"
    );
    // checks made after deserializing (here a slice bound) name the same path
    let bad_slice = json!({"must": {"slice": {"total": 2, "index": 5}}});
    let e = Filter::from_qdrant_at(&bad_slice, "searches[0].filter").unwrap_err();
    assert!(
        e.0.starts_with("searches[0].filter.must.slice.index: "),
        "{e}"
    );
    let e = Filter::from_qdrant_at(&json!(3), "q.filter").unwrap_err();
    assert!(
        e.0.starts_with("q.filter: invalid type: integer `3`"),
        "{e}"
    );
    let e = Filter::from_json_at(&json!({"tags": ["a"]}), "searches[2].filter").unwrap_err();
    assert!(e.0.starts_with("searches[2].filter.tags: "), "{e}");
}

#[test]
fn arrays_never_stand_for_objects() {
    for f in [
        json!([null, null, null, null]),
        json!({"must": [{"key": "g", "geo_radius": {"center": [13.4, 52.5], "radius": 1}}]}),
        json!({"min_should": [[], 1]}),
        json!({"must": [{"slice": [2, 1]}]}),
        json!({"must": [{"is_empty": ["a"]}]}),
    ] {
        assert!(Filter::from_qdrant(&f).is_err(), "{f}");
    }
}

#[test]
fn the_wire_types_read_json_text_and_refuse_repeated_keys() {
    let read = |text: &str| {
        let mut de = serde_json::Deserializer::from_str(text);
        serde_path_to_error::deserialize::<_, crate::wire::Filter>(&mut de)
            .map_err(|e| format!("{}: {}", e.path(), e.inner()))
    };
    let f = read(r#"{"must": [{"key": "a", "match": {"any": [1, 2]}}]}"#).unwrap();
    let ast = f.into_ast("filter").unwrap();
    assert!(ast.matches(PointId::Num(1), &payload(json!({"a": 2}))));
    for (text, at) in [
        (r#"{"must": [{"must": [], "must": []}]}"#, "must[0].must:"),
        (
            r#"{"must": [{"key": "a", "key": "b", "is_null": true}]}"#,
            "must[0].key:",
        ),
        (
            r#"{"must": [{"key": "a", "range": {"gt": 1, "gt": 2}}]}"#,
            "must[0].range.gt:",
        ),
    ] {
        let e = read(text).unwrap_err();
        assert!(
            e.starts_with(at) && e.contains("duplicate field"),
            "{text}: {e}"
        );
    }
}

/// The examples in the filter schemas of the OpenAPI spec parse.
#[test]
fn every_example_in_the_filter_schemas_parses() {
    use utoipa::{PartialSchema, ToSchema};
    let mut schemas = vec![("Filter".to_string(), crate::wire::Filter::schema())];
    crate::wire::Filter::schemas(&mut schemas);
    schemas.sort_by(|a, b| a.0.cmp(&b.0));
    schemas.dedup_by(|a, b| a.0 == b.0);
    let mut checked = 0;
    for (name, schema) in schemas {
        let schema = serde_json::to_value(schema).unwrap();
        let Some(example) = schema.get("example") else {
            continue;
        };
        let filter = match name.as_str() {
            "Filter" => example.clone(),
            "FieldCondition" => json!({ "must": [example] }),
            _ => panic!("the example of {name} is not checked: add it here"),
        };
        if let Err(e) = Filter::from_qdrant(&filter) {
            panic!("the example of {name} does not parse: {e}");
        }
        checked += 1;
    }
    assert_eq!(checked, 2);
}
