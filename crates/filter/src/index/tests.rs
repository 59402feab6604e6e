//! Indexes must never change what a filter matches: property-style checks over random payloads
//! and random filters of every kind, plus a few exact cases.

use std::collections::{HashMap, HashSet};

use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng};
use serde_json::{json, Value};

use super::*;
use crate::{DatetimeRange, GeoBoundingBox, GeoPolygon, GeoRadius, MinShould, Range as NumRange};

/// One of the values, all evaluated first (they may draw from the same generator).
macro_rules! one_of {
    ($r:expr, $($x:expr),+ $(,)?) => {{
        let xs = vec![$($x),+];
        let i = $r.below(xs.len());
        xs.into_iter().nth(i).expect("in range")
    }};
}

/// Seeded test data from `rand`'s `StdRng`.
struct Rng(StdRng);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(StdRng::seed_from_u64(seed))
    }

    fn below(&mut self, n: usize) -> usize {
        self.0.random_range(0..n)
    }

    fn int(&mut self, lo: i64, hi: i64) -> i64 {
        self.0.random_range(lo..=hi)
    }

    fn chance(&mut self, p: f64) -> bool {
        self.0.random_bool(p)
    }

    fn pick<T: Clone>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())].clone()
    }
}

const WORDS: [&str; 8] = ["red", "Green", "blue", "the", "fox", "été", "x1", "42"];
const KEYWORDS: [&str; 7] = ["red", "green", "blue", "Red", "", "re", "red green"];
const UUIDS: [&str; 3] = [
    "550e8400-e29b-41d4-a716-446655440000",
    "550E8400-E29B-41D4-A716-446655440000",
    "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
];
const DATES: [&str; 7] = [
    "2021-01-01T00:00:00Z",
    "2021-01-01T12:00:00+02:00",
    "2021-06-15",
    "2021-06-15 08:30:00",
    "2022-03-04T05:06:07.123456Z",
    "not a date",
    "2020-12-31T23:59:59-01:00",
];
const FIELDS: [&str; 10] = ["i", "f", "s", "t", "d", "g", "u", "b", "n", "m"];

fn scalar(r: &mut Rng) -> Value {
    match r.below(9) {
        0 => json!(r.int(-5, 5)),
        1 => json!(r.int(-5, 5) as f64),
        2 => json!(r.int(-50, 50) as f64 / 10.0),
        3 => json!(r.chance(0.5)),
        4 => json!(r.pick(&KEYWORDS)),
        5 => Value::Null,
        6 => json!(r.pick(&[i64::MAX, i64::MIN, (1 << 53) + 1, 1 << 53])),
        7 => json!(u64::MAX),
        _ => json!(r.pick(&UUIDS)),
    }
}

fn maybe_array(r: &mut Rng, f: &mut dyn FnMut(&mut Rng) -> Value) -> Value {
    if r.chance(0.35) {
        let n = r.below(4);
        Value::Array((0..n).map(|_| f(r)).collect())
    } else {
        f(r)
    }
}

fn geo(r: &mut Rng) -> Value {
    match r.below(6) {
        0 => {
            let (lon, lat) = (r.int(-3, 3), r.int(-3, 3));
            json!({"lon": lon, "lat": lat})
        }
        1 | 2 => {
            let (lon, lat) = (r.int(-30, 30) as f64 / 10.0, r.int(-30, 30) as f64 / 10.0);
            json!({"lon": lon, "lat": lat})
        }
        3 => json!({"lon": true, "lat": 1}),
        4 => json!({"lat": 1}),
        _ => json!([1, 2]),
    }
}

fn text(r: &mut Rng) -> Value {
    let n = r.below(5);
    let words: Vec<&str> = (0..n).map(|_| r.pick(&WORDS)).collect();
    let sep = r.pick(&[" ", "_", ", "]);
    json!(words.join(sep))
}

fn field_value(r: &mut Rng, field: &str) -> Value {
    match field {
        "i" => maybe_array(r, &mut |r| {
            if r.chance(0.6) {
                json!(r.int(-5, 5))
            } else {
                scalar(r)
            }
        }),
        "f" => maybe_array(r, &mut |r| {
            one_of!(
                r,
                json!(r.int(-50, 50) as f64 / 10.0),
                json!(r.int(-3, 3)),
                json!(true)
            )
        }),
        "s" => maybe_array(r, &mut |r| {
            if r.chance(0.8) {
                json!(r.pick(&KEYWORDS))
            } else {
                scalar(r)
            }
        }),
        "t" => maybe_array(r, &mut |r| if r.chance(0.8) { text(r) } else { scalar(r) }),
        "d" => maybe_array(r, &mut |r| {
            if r.chance(0.85) {
                json!(r.pick(&DATES))
            } else {
                scalar(r)
            }
        }),
        "g" => maybe_array(r, &mut geo),
        "u" => maybe_array(r, &mut |r| {
            r.pick(&[
                json!(UUIDS[0]),
                json!(UUIDS[1]),
                json!(UUIDS[2]),
                json!("red"),
                json!(1),
            ])
        }),
        "b" => maybe_array(r, &mut |r| {
            r.pick(&[json!(true), json!(false), json!(1), json!("true")])
        }),
        "n" => {
            let n = r.below(4);
            let items: Vec<Value> = (0..n)
                .map(|_| {
                    let (x, y) = (r.int(0, 3), r.pick(&KEYWORDS));
                    json!({"x": x, "y": y})
                })
                .collect();
            if r.chance(0.8) {
                Value::Array(items)
            } else {
                json!({"x": 1})
            }
        }
        _ => maybe_array(r, &mut scalar),
    }
}

fn payload(r: &mut Rng) -> Payload {
    let mut p = Payload::new();
    for f in FIELDS {
        if r.chance(0.7) {
            p.insert(f.to_string(), field_value(r, f));
        }
    }
    p
}

fn key(s: &str) -> JsonPath {
    JsonPath::parse(s).unwrap()
}

fn field(k: &str, test: Match) -> Condition {
    Condition::Field(FieldCondition { key: key(k), test })
}

fn range(r: &mut Rng, gen: &mut dyn FnMut(&mut Rng) -> f64) -> NumRange {
    let mut x = NumRange::default();
    for _ in 0..r.below(3) {
        let b = gen(r);
        match r.below(4) {
            0 => x.lt = Some(b),
            1 => x.lte = Some(b),
            2 => x.gt = Some(b),
            _ => x.gte = Some(b),
        }
    }
    x
}

fn dt_range(r: &mut Rng) -> DatetimeRange {
    let mut x = DatetimeRange::default();
    for _ in 0..r.below(3) {
        let b = crate::parse_datetime(r.pick(&DATES[..5])).unwrap();
        match r.below(4) {
            0 => x.lt = Some(b),
            1 => x.lte = Some(b),
            2 => x.gt = Some(b),
            _ => x.gte = Some(b),
        }
    }
    x
}

fn gp(lon: f64, lat: f64) -> GeoPoint {
    GeoPoint { lon, lat }
}

fn square(a: f64, b: f64) -> Vec<GeoPoint> {
    vec![gp(a, a), gp(b, a), gp(b, b), gp(a, b), gp(a, a)]
}

fn words(r: &mut Rng) -> String {
    let n = r.below(3);
    (0..n).map(|_| r.pick(&WORDS)).collect::<Vec<_>>().join(" ")
}

fn field_condition(r: &mut Rng) -> Condition {
    let f = r.pick(&FIELDS);
    let k = match f {
        "n" => r.pick(&["n[].x", "n[].y", "n[0].x"]),
        _ => f,
    };
    field_condition_on(r, k)
}

/// A random test of any kind on key `k`.
fn field_condition_on(r: &mut Rng, k: &str) -> Condition {
    let strings = |r: &mut Rng| -> Vec<Value> {
        (0..r.below(3))
            .map(|_| {
                if r.chance(0.3) {
                    json!(r.pick(&UUIDS))
                } else {
                    json!(r.pick(&KEYWORDS))
                }
            })
            .collect()
    };
    let ints =
        |r: &mut Rng| -> Vec<Value> { (0..r.below(3)).map(|_| json!(r.int(-5, 5))).collect() };
    let test = match r.below(20) {
        0 => Match::Value(one_of!(
            r,
            json!(r.int(-5, 5)),
            json!(r.pick(&KEYWORDS)),
            json!(r.chance(0.5)),
            json!(r.pick(&UUIDS)),
            json!(i64::MAX),
        )),
        1 => Match::Any(if r.chance(0.5) { strings(r) } else { ints(r) }),
        2 => Match::Except(if r.chance(0.5) { strings(r) } else { ints(r) }),
        3 => Match::Text(words(r)),
        4 => Match::TextAny(words(r)),
        5 => Match::Phrase(words(r)),
        6 => Match::Prefix(r.pick(&["", "r", "re", "R", "5"]).to_string()),
        7 => Match::Substring(r.pick(&["", "e", "ed", "-"]).to_string()),
        8..=10 => Match::Range(range(r, &mut |r| {
            one_of!(
                r,
                r.int(-5, 5) as f64,
                r.int(-50, 50) as f64 / 10.0,
                9007199254740992.0,
                9.3e18,
                -9.3e18,
            )
        })),
        11 | 12 => Match::DatetimeRange(dt_range(r)),
        13 => Match::GeoBoundingBox(GeoBoundingBox {
            top_left: gp(r.int(-3, 3) as f64, r.int(0, 3) as f64),
            bottom_right: gp(r.int(-3, 3) as f64, r.int(-3, 0) as f64),
        }),
        14 => Match::GeoRadius(GeoRadius {
            center: gp(r.int(-3, 3) as f64, r.int(-3, 3) as f64),
            radius: r.pick(&[0.0, 100_000.0, 300_000.0]),
        }),
        15 => Match::GeoPolygon(GeoPolygon {
            exterior: square(-2.0, 2.0),
            interiors: if r.chance(0.5) {
                vec![square(-1.0, 1.0)]
            } else {
                vec![]
            },
        }),
        16 => Match::ValuesCount(range(r, &mut |r| r.int(0, 3) as f64)),
        17 => return Condition::IsEmpty(key(k)),
        18 => return Condition::IsNull(key(k)),
        _ => Match::Value(json!(r.int(0, 3))),
    };
    field(k, test)
}

fn condition(r: &mut Rng, depth: usize) -> Condition {
    if depth >= 2 || r.chance(0.7) {
        return field_condition(r);
    }
    match r.below(5) {
        0 => Condition::HasId(
            (0..r.below(4))
                .map(|_| PointId::Num(r.int(0, 70) as u64))
                .collect(),
        ),
        1 => Condition::HasVector(r.pick(&["", "image"]).to_string()),
        2 => Condition::Nested {
            key: key(r.pick(&["n", "n[]"])),
            filter: Box::new(Filter {
                must: vec![field(
                    r.pick(&["x", "y"]),
                    Match::Value(one_of!(r, json!(r.int(0, 3)), json!(r.pick(&KEYWORDS)))),
                )],
                ..Filter::default()
            }),
        },
        _ => Condition::Filter(Box::new(filter(r, depth + 1))),
    }
}

fn filter(r: &mut Rng, depth: usize) -> Filter {
    let clause = |r: &mut Rng| -> Vec<Condition> {
        if r.chance(0.4) {
            Vec::new()
        } else {
            (0..1 + r.below(3)).map(|_| condition(r, depth)).collect()
        }
    };
    let must = clause(r);
    let should = clause(r);
    let must_not = clause(r);
    let min_should = r.chance(0.25).then(|| {
        let conditions: Vec<Condition> = (0..1 + r.below(3)).map(|_| condition(r, depth)).collect();
        let min_count = 1 + r.below(conditions.len() + 1);
        MinShould {
            conditions,
            min_count,
        }
    });
    Filter {
        must,
        should,
        must_not,
        min_should,
    }
}

/// A filter of conditions on these keys only (so that indexes answer most of them).
fn focused_filter(r: &mut Rng, keys: &[&str]) -> Filter {
    let cond = |r: &mut Rng| {
        if r.chance(0.1) {
            Condition::HasId(
                (0..r.below(4))
                    .map(|_| PointId::Num(r.int(0, 70) as u64))
                    .collect(),
            )
        } else {
            let k = r.pick(keys);
            field_condition_on(r, k)
        }
    };
    let clause = |r: &mut Rng| -> Vec<Condition> {
        if r.chance(0.5) {
            Vec::new()
        } else {
            (0..1 + r.below(3)).map(|_| cond(r)).collect()
        }
    };
    let must = clause(r);
    let should = clause(r);
    let min_should = r.chance(0.3).then(|| {
        let conditions: Vec<Condition> = (0..1 + r.below(3)).map(|_| cond(r)).collect();
        let min_count = 1 + r.below(conditions.len());
        MinShould {
            conditions,
            min_count,
        }
    });
    let must_not = if r.chance(0.2) {
        vec![cond(r)]
    } else {
        Vec::new()
    };
    Filter {
        must,
        should,
        must_not,
        min_should,
    }
}

fn random_layout(r: &mut Rng) -> Vec<(&'static str, PayloadSchemaType)> {
    let mut out = Vec::new();
    for f in FIELDS {
        if r.chance(0.7) {
            let name = if f == "n" {
                r.pick(&["n[].x", "n[].y"])
            } else {
                f
            };
            out.push((name, r.pick(&PayloadSchemaType::ALL)));
        }
    }
    out
}

fn has_vector(id: PointId) -> impl Fn(&str) -> bool {
    move |name: &str| match id {
        PointId::Num(n) => (name.is_empty() && n % 2 == 0) || (name == "image" && n % 3 == 0),
        PointId::Uuid(_) => false,
    }
}

#[test]
fn candidates_and_estimates_never_lose_a_match() {
    let mut r = Rng::new(0x5eed);
    let mut checked = 0;
    let mut narrowed = 0;
    for _trial in 0..40 {
        let layout = random_layout(&mut r);
        let mut points: HashMap<PointId, Payload> = (0..60u64)
            .map(|i| (PointId::Num(i), payload(&mut r)))
            .collect();
        // build half from existing points, add the rest one by one
        let mut index = PayloadIndex::new();
        let initial: Vec<(PointId, Payload)> = points
            .iter()
            .filter(|(id, _)| matches!(id, PointId::Num(n) if n % 2 == 0))
            .map(|(id, p)| (*id, p.clone()))
            .collect();
        for (f, kind) in &layout {
            index
                .create_field(f, *kind, initial.iter().map(|(id, p)| (*id, p)))
                .unwrap();
        }
        for (id, p) in &points {
            if matches!(id, PointId::Num(n) if n % 2 == 1) {
                index.add_point(*id, p);
            }
        }
        // overwrite some, delete some
        for _ in 0..15 {
            let id = PointId::Num(r.int(0, 59) as u64);
            if r.chance(0.5) {
                let old = points.remove(&id).unwrap_or_default();
                index.remove_point(id, &old);
                let new = payload(&mut r);
                index.add_point(id, &new);
                points.insert(id, new);
            } else if let Some(old) = points.remove(&id) {
                index.remove_point(id, &old);
            }
        }
        // the maintained index equals one built from scratch
        let mut fresh = PayloadIndex::new();
        for (f, kind) in &layout {
            fresh
                .create_field(f, *kind, points.iter().map(|(id, p)| (*id, p)))
                .unwrap();
        }
        assert_eq!(index.fields(), fresh.fields());
        let total = points.len();
        let keys: Vec<&str> = layout.iter().map(|(k, _)| *k).collect();
        for round in 0..60 {
            let f = if round % 2 == 0 || keys.is_empty() {
                filter(&mut r, 0)
            } else {
                focused_filter(&mut r, &keys)
            };
            let truth: HashSet<PointId> = points
                .iter()
                .filter(|(id, p)| f.check(**id, p, &has_vector(**id)))
                .map(|(id, _)| *id)
                .collect();
            let cands = index.candidates(&f);
            assert_eq!(cands, fresh.candidates(&f), "{f:?}");
            if let Some(c) = &cands {
                let lost: Vec<_> = truth.difference(c).collect();
                assert!(
                    lost.is_empty(),
                    "lost {lost:?}\nlayout {layout:?}\nfilter {f:?}"
                );
                narrowed += usize::from(c.len() < total);
            }
            let e = index.estimate(&f, total);
            assert!(
                e.min <= truth.len() && truth.len() <= e.max,
                "{e:?} vs {}\nlayout {layout:?}\nfilter {f:?}",
                truth.len()
            );
            assert!(
                e.min <= e.expected && e.expected <= e.max && e.max <= total,
                "{e:?}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 40 * 60);
    // the indexes do narrow a fair share of the filters
    assert!(
        narrowed > checked / 10,
        "only {narrowed} of {checked} narrowed"
    );
}

#[test]
fn each_single_indexed_condition_is_answered_exactly_where_it_can_be() {
    let mut r = Rng::new(7);
    for _trial in 0..30 {
        let points: Vec<(PointId, Payload)> = (0..80u64)
            .map(|i| (PointId::Num(i), payload(&mut r)))
            .collect();
        for kind in PayloadSchemaType::ALL {
            for f in FIELDS {
                let name = if f == "n" { "n[].x" } else { f };
                let mut index = PayloadIndex::new();
                index
                    .create_field(name, kind, points.iter().map(|(id, p)| (*id, p)))
                    .unwrap();
                for _ in 0..10 {
                    let c = field_condition_on(&mut r, name);
                    let filter = Filter {
                        must: vec![c],
                        ..Filter::default()
                    };
                    let truth: HashSet<PointId> = points
                        .iter()
                        .filter(|(id, p)| filter.matches(*id, p))
                        .map(|(id, _)| *id)
                        .collect();
                    if let Some(cands) = index.candidates(&filter) {
                        assert!(cands.is_superset(&truth), "{kind:?} {filter:?}");
                    }
                    let e = index.estimate(&filter, points.len());
                    assert!(
                        e.min <= truth.len() && truth.len() <= e.max,
                        "{kind:?} {filter:?} {e:?}"
                    );
                }
            }
        }
    }
}

fn points(payloads: Vec<Value>) -> Vec<(PointId, Payload)> {
    payloads
        .into_iter()
        .enumerate()
        .map(|(i, v)| (PointId::Num(i as u64), v.as_object().unwrap().clone()))
        .collect()
}

fn ids(ns: &[u64]) -> HashSet<PointId> {
    ns.iter().map(|n| PointId::Num(*n)).collect()
}

fn dsl(v: Value) -> Filter {
    Filter::from_qdrant(&v).unwrap()
}

#[test]
fn kinds_names_and_counts() {
    for k in PayloadSchemaType::ALL {
        assert_eq!(PayloadSchemaType::parse(k.as_str()), Some(k));
    }
    assert_eq!(PayloadSchemaType::parse("string"), None);
    let pts = points(vec![
        json!({"a": 1, "s": "x"}),
        json!({"a": 1.5, "s": ["x", "y"]}),
        json!({"a": [true, "1"], "s": 3}),
        json!({}),
    ]);
    let mut index = PayloadIndex::new();
    let it = || pts.iter().map(|(id, p)| (*id, p));
    index
        .create_field("a", PayloadSchemaType::Integer, it())
        .unwrap();
    index
        .create_field("s", PayloadSchemaType::Keyword, it())
        .unwrap();
    assert_eq!(
        index.fields(),
        vec![
            ("a".to_string(), PayloadSchemaType::Integer, 1),
            ("s".to_string(), PayloadSchemaType::Keyword, 2),
        ]
    );
    // re-creating replaces, deleting forgets
    index
        .create_field("a", PayloadSchemaType::Float, it())
        .unwrap();
    assert_eq!(index.field_kind("a"), Some(PayloadSchemaType::Float));
    assert_eq!(index.fields()[1].2, 2);
    assert!(index.delete_field("a"));
    assert!(!index.delete_field("a"));
    assert!(index
        .create_field("a..b", PayloadSchemaType::Bool, it())
        .is_err());
}

#[test]
fn exact_answers_and_estimates() {
    let pts = points(vec![
        json!({"c": "red", "n": 1, "t": "the quick fox", "d": "2021-01-01T00:00:00Z", "g": {"lon": 0, "lat": 0}}),
        json!({"c": ["red", "blue"], "n": 2.5, "t": ["quick", "fox"], "d": "2021-06-01", "g": {"lon": 10, "lat": 10}}),
        json!({"c": "blue", "n": [3, 1.0], "t": "lazy dog", "d": "bad", "g": [{"lon": 1, "lat": 1}]}),
        json!({"c": 1, "n": "1", "b": true}),
    ]);
    let mut index = PayloadIndex::new();
    let it = || pts.iter().map(|(id, p)| (*id, p));
    index
        .create_field("c", PayloadSchemaType::Keyword, it())
        .unwrap();
    index
        .create_field("n", PayloadSchemaType::Integer, it())
        .unwrap();
    index
        .create_field("t", PayloadSchemaType::Text, it())
        .unwrap();
    index
        .create_field("d", PayloadSchemaType::Datetime, it())
        .unwrap();
    index
        .create_field("g", PayloadSchemaType::Geo, it())
        .unwrap();
    index
        .create_field("b", PayloadSchemaType::Bool, it())
        .unwrap();
    let cases = [
        (
            json!({"must": [{"key": "c", "match": {"value": "red"}}]}),
            Some(ids(&[0, 1])),
        ),
        (
            json!({"must": [{"key": "c", "match": {"any": ["blue"]}}]}),
            Some(ids(&[1, 2])),
        ),
        (json!({"must": [{"key": "c", "match": {"value": 1}}]}), None),
        (
            json!({"must": [{"key": "c", "match": {"prefix": "bl"}}]}),
            Some(ids(&[1, 2])),
        ),
        (
            json!({"must": [{"key": "n", "match": {"value": 1}}]}),
            Some(ids(&[0])),
        ),
        (
            json!({"must": [{"key": "n", "range": {"gte": 1, "lt": 3}}]}),
            Some(ids(&[0, 1, 2])),
        ),
        (
            json!({"must": [{"key": "n", "range": {"gt": 1}}]}),
            Some(ids(&[1, 2])),
        ),
        (
            json!({"must": [{"key": "n", "range": {"gt": 3, "lt": 1}}]}),
            Some(ids(&[])),
        ),
        (
            json!({"must": [{"key": "t", "match": {"text": "quick fox"}}]}),
            Some(ids(&[0, 1])),
        ),
        (
            json!({"must": [{"key": "t", "match": {"text_any": "dog fox"}}]}),
            Some(ids(&[0, 1, 2])),
        ),
        (
            json!({"must": [{"key": "d", "range": {"gt": "2021-01-01T00:00:00Z"}}]}),
            Some(ids(&[1])),
        ),
        (
            json!({"must": [{"key": "d", "range": {"gte": "2021-01-01"}}]}),
            Some(ids(&[0, 1])),
        ),
        (
            json!({"must": [{"key": "g", "geo_bounding_box": {"top_left": {"lon": -1, "lat": 2}, "bottom_right": {"lon": 2, "lat": -1}}}]}),
            Some(ids(&[0, 2])),
        ),
        (
            json!({"must": [{"key": "b", "match": {"value": true}}]}),
            Some(ids(&[3])),
        ),
        (json!({"must": [{"has_id": [2, 9]}]}), Some(ids(&[2, 9]))),
        // should: every alternative indexed; otherwise no narrowing from it
        (
            json!({"should": [{"key": "c", "match": {"value": "red"}}, {"key": "b", "match": {"value": true}}]}),
            Some(ids(&[0, 1, 3])),
        ),
        (
            json!({"should": [{"key": "c", "match": {"value": "red"}}, {"key": "zz", "match": {"value": 1}}]}),
            None,
        ),
        (
            json!({"min_should": {"min_count": 2, "conditions": [
                {"key": "c", "match": {"value": "red"}},
                {"key": "c", "match": {"value": "blue"}},
                {"key": "n", "match": {"value": 3}}]}}),
            Some(ids(&[1, 2])),
        ),
        (
            json!({"must_not": [{"key": "c", "match": {"value": "red"}}]}),
            None,
        ),
        (
            json!({"must": [{"key": "c", "match": {"value": "red"}}, {"key": "n", "range": {"gt": 2}}]}),
            Some(ids(&[1])),
        ),
    ];
    for (f, want) in cases {
        let filter = dsl(f.clone());
        assert_eq!(index.candidates(&filter), want, "{f}");
        let truth = pts.iter().filter(|(id, p)| filter.matches(*id, p)).count();
        let e = index.estimate(&filter, pts.len());
        assert!(e.min <= truth && truth <= e.max, "{f}: {e:?} vs {truth}");
    }
    // indexed must-conditions intersect exactly
    let f = dsl(
        json!({"must": [{"key": "c", "match": {"value": "red"}}, {"key": "n", "range": {"gt": 2}}]}),
    );
    assert_eq!(
        index.estimate(&f, 4),
        Cardinality {
            min: 1,
            expected: 1,
            max: 1
        }
    );
    // an unindexed condition is unknown, a negated exact one exact
    let f = dsl(json!({"must": [{"key": "zz", "match": {"value": 1}}]}));
    assert_eq!(
        index.estimate(&f, 4),
        Cardinality {
            min: 0,
            expected: 2,
            max: 4
        }
    );
    let f = dsl(json!({"must_not": [{"key": "c", "match": {"value": "red"}}]}));
    assert_eq!(
        index.estimate(&f, 4),
        Cardinality {
            min: 2,
            expected: 2,
            max: 2
        }
    );
    assert_eq!(
        index.estimate(&Filter::default(), 4),
        Cardinality {
            min: 4,
            expected: 4,
            max: 4
        }
    );
}

#[test]
fn overlapping_alternatives_do_not_inflate_the_minimum() {
    let pts = points(vec![
        json!({"c": "red"}),
        json!({"c": ["red", "blue"]}),
        json!({"c": "blue", "n": 3}),
        json!({}),
    ]);
    let mut index = PayloadIndex::new();
    let it = || pts.iter().map(|(id, p)| (*id, p));
    index
        .create_field("c", PayloadSchemaType::Keyword, it())
        .unwrap();
    index
        .create_field("n", PayloadSchemaType::Integer, it())
        .unwrap();
    let red = json!({"key": "c", "match": {"value": "red"}});
    let blue = json!({"key": "c", "match": {"value": "blue"}});
    let n3 = json!({"key": "n", "match": {"value": 3}});
    for (f, truth) in [
        (
            json!({"should": [red, {"key": "c", "match": {"any": ["red"]}}]}),
            2,
        ),
        (json!({"should": [red, blue]}), 3),
        (
            json!({"min_should": {"conditions": [red, blue, n3], "min_count": 2}}),
            2,
        ),
        (
            json!({"min_should": {"conditions": [red, blue, n3], "min_count": 3}}),
            0,
        ),
        (
            json!({"min_should": {"conditions": [red, blue], "min_count": 3}}),
            0,
        ),
    ] {
        let e = index.estimate(&dsl(f.clone()), 4);
        assert!(e.min <= truth && truth <= e.max, "{f}: {e:?} vs {truth}");
    }
    let e = index.estimate(&dsl(json!({"should": [red, blue]})), 4);
    assert_eq!((e.min, e.max), (2, 4));
}

#[test]
fn big_integers_compare_exactly_in_numeric_indexes() {
    let big = (1i64 << 53) + 1; // not a float
    let pts = points(vec![
        json!({"n": big}),
        json!({"n": 1i64 << 53}),
        json!({"n": 9007199254740992.0}),
        json!({"n": u64::MAX}),
        json!({"n": i64::MIN}),
    ]);
    for kind in [PayloadSchemaType::Integer, PayloadSchemaType::Float] {
        let mut index = PayloadIndex::new();
        index
            .create_field("n", kind, pts.iter().map(|(id, p)| (*id, p)))
            .unwrap();
        for (f, want) in [
            (
                json!({"must": [{"key": "n", "range": {"gt": 9007199254740992.0}}]}),
                ids(&[0, 3]),
            ),
            (
                json!({"must": [{"key": "n", "range": {"gte": 9007199254740992.0}}]}),
                ids(&[0, 1, 2, 3]),
            ),
            (
                json!({"must": [{"key": "n", "range": {"lte": 9007199254740992.0}}]}),
                ids(&[1, 2, 4]),
            ),
            (
                json!({"must": [{"key": "n", "range": {"lt": -9.3e18}}]}),
                ids(&[]),
            ),
            (
                json!({"must": [{"key": "n", "range": {"lt": -9.2e18}}]}),
                ids(&[4]),
            ),
            (
                json!({"must": [{"key": "n", "match": {"value": 9007199254740992i64}}]}),
                ids(&[1]),
            ),
        ] {
            let filter = dsl(f.clone());
            let truth: HashSet<PointId> = pts
                .iter()
                .filter(|(id, p)| filter.matches(*id, p))
                .map(|(id, _)| *id)
                .collect();
            assert_eq!(truth, want, "{f}");
            assert_eq!(index.candidates(&filter), Some(want), "{kind:?} {f}");
        }
    }
}
