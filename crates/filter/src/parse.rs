//! Parsing both dialects' filters from JSON into the AST, with errors that name the field:
//! `Filter::from_seed` (the flat equality object), `Filter::from_qdrant` (the DSL) and
//! `Filter::from_json`, which tells them apart by their keys.

use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::{
    parse_datetime, Condition, DatetimeRange, FieldCondition, Filter, GeoBoundingBox, GeoPoint,
    GeoPolygon, GeoRadius, JsonPath, Match, MinShould, PointId, Range,
};

/// A malformed filter; the message names the offending field (`filter.must[1].range.gt`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FilterError(pub String);

fn err<T>(at: &str, msg: impl std::fmt::Display) -> Result<T, FilterError> {
    Err(FilterError(format!("{at}: {msg}")))
}

const DSL_KEYS: [&str; 4] = ["must", "should", "must_not", "min_should"];

impl Filter {
    /// Parses a filter of either dialect: an object whose keys are all Qdrant clause names
    /// (`must`, `should`, `must_not`, `min_should`) is the Qdrant DSL, any other object is a
    /// seed equality filter. `null` is no filter.
    pub fn from_json(v: &Value) -> Result<Option<Filter>, FilterError> {
        match v {
            Value::Null => Ok(None),
            Value::Object(m)
                if !m.is_empty() && m.keys().all(|k| DSL_KEYS.contains(&k.as_str())) =>
            {
                Filter::from_qdrant(v).map(Some)
            }
            Value::Object(m) if m.is_empty() => Ok(Some(Filter::default())),
            _ => Filter::from_seed(v).map(Some),
        }
    }

    /// The seed's flat equality filter: `{"key": value, …}`, every pair must match; a key may be
    /// a dotted path; a value matches an array payload that contains it.
    pub fn from_seed(v: &Value) -> Result<Filter, FilterError> {
        let Value::Object(map) = v else {
            return err("filter", "must be an object of `key: value` pairs");
        };
        let mut must = Vec::with_capacity(map.len());
        for (key, value) in map {
            let at = format!("filter.{key}");
            let path = JsonPath::parse(key).or_else(|e| err(&at, e))?;
            match value {
                Value::String(_) | Value::Number(_) | Value::Bool(_) => {}
                _ => return err(&at, "value must be a string, number or boolean"),
            }
            must.push(Condition::Field(FieldCondition {
                key: path,
                test: Match::Value(value.clone()),
            }));
        }
        Ok(Filter {
            must,
            ..Filter::default()
        })
    }

    /// Qdrant's filter DSL.
    pub fn from_qdrant(v: &Value) -> Result<Filter, FilterError> {
        parse_filter(v, "filter")
    }
}

fn parse_filter(v: &Value, at: &str) -> Result<Filter, FilterError> {
    let Value::Object(map) = v else {
        return err(at, "a filter must be an object");
    };
    let mut f = Filter::default();
    for (k, val) in map {
        let at = format!("{at}.{k}");
        match k.as_str() {
            "must" => f.must = parse_conditions(val, &at)?,
            "should" => f.should = parse_conditions(val, &at)?,
            "must_not" => f.must_not = parse_conditions(val, &at)?,
            "min_should" => {
                if !val.is_null() {
                    f.min_should = Some(parse_min_should(val, &at)?);
                }
            }
            _ => {
                return err(
                    &at,
                    "unknown field; expected must, should, must_not or min_should",
                )
            }
        }
    }
    Ok(f)
}

fn parse_min_should(v: &Value, at: &str) -> Result<MinShould, FilterError> {
    let m = object(v, at, "must be an object with `conditions` and `min_count`")?;
    only_keys(m, at, &["conditions", "min_count"], "min_should")?;
    let conditions = parse_conditions(required(m, at, "conditions")?, &format!("{at}.conditions"))?;
    let min_count = match required(m, at, "min_count")? {
        Value::Number(n) => n.as_u64().filter(|&c| c >= 1),
        _ => None,
    }
    .ok_or_else(|| FilterError(format!("{at}.min_count: must be an integer, 1 or larger")))?;
    Ok(MinShould {
        conditions,
        min_count: usize::try_from(min_count).unwrap_or(usize::MAX),
    })
}

/// A clause holds one condition or an array of them (`null` is none).
fn parse_conditions(v: &Value, at: &str) -> Result<Vec<Condition>, FilterError> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, c)| parse_condition(c, &format!("{at}[{i}]")))
            .collect(),
        Value::Object(_) => Ok(vec![parse_condition(v, at)?]),
        _ => err(at, "must be a condition or an array of conditions"),
    }
}

fn object<'a>(v: &'a Value, at: &str, msg: &str) -> Result<&'a Map<String, Value>, FilterError> {
    match v {
        Value::Object(m) => Ok(m),
        _ => err(at, msg),
    }
}

fn required<'a>(m: &'a Map<String, Value>, at: &str, key: &str) -> Result<&'a Value, FilterError> {
    match m.get(key) {
        Some(v) if !v.is_null() => Ok(v),
        _ => err(at, format!("missing `{key}`")),
    }
}

/// Refuses any key of `m` outside `allowed`, naming it.
fn only_keys(
    m: &Map<String, Value>,
    at: &str,
    allowed: &[&str],
    what: &str,
) -> Result<(), FilterError> {
    match m.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => err(
            &format!("{at}.{k}"),
            format!("unknown field in {what}; expected {}", allowed.join(", ")),
        ),
        None => Ok(()),
    }
}

fn get_key(m: &Map<String, Value>, at: &str) -> Result<JsonPath, FilterError> {
    match m.get("key") {
        Some(Value::String(s)) => JsonPath::parse(s).or_else(|e| err(&format!("{at}.key"), e)),
        Some(_) => err(&format!("{at}.key"), "must be a string"),
        None => err(at, "missing `key`"),
    }
}

/// Conditions that are an object with one key naming them.
const CONDITION_KINDS: [&str; 6] = [
    "has_id",
    "has_vector",
    "is_empty",
    "is_null",
    "nested",
    "slice",
];

fn parse_condition(v: &Value, at: &str) -> Result<Condition, FilterError> {
    let m = object(v, at, "a condition must be an object")?;
    if m.contains_key("key") {
        return parse_field_condition(m, at);
    }
    // an object of clauses, `{}` included, is a sub-filter
    if m.is_empty() || m.keys().any(|k| DSL_KEYS.contains(&k.as_str())) {
        return Ok(Condition::Filter(Box::new(parse_filter(v, at)?)));
    }
    let Some(kind) = m.keys().find(|k| CONDITION_KINDS.contains(&k.as_str())) else {
        let k = m.keys().next().expect("not empty");
        return err(
            &format!("{at}.{k}"),
            "unknown condition; expected a field condition (`key`), has_id, has_vector, \
             is_empty, is_null, nested, slice or a nested filter (must, should, must_not, \
             min_should)",
        );
    };
    only_keys(m, at, &[kind.as_str()], &format!("a {kind} condition"))?;
    let inner = &m[kind];
    let at = format!("{at}.{kind}");
    match kind.as_str() {
        "has_id" => {
            let Value::Array(ids) = inner else {
                return err(&at, "must be an array of point ids");
            };
            let set = ids
                .iter()
                .enumerate()
                .map(|(i, id)| PointId::from_json(id).or_else(|e| err(&format!("{at}[{i}]"), e)))
                .collect::<Result<HashSet<_>, _>>()?;
            Ok(Condition::HasId(set))
        }
        "has_vector" => match inner {
            Value::String(name) => Ok(Condition::HasVector(name.clone())),
            _ => err(&at, "must be a vector name"),
        },
        "is_empty" | "is_null" => {
            let im = object(inner, &at, "must be an object with `key`")?;
            only_keys(im, &at, &["key"], kind)?;
            let key = get_key(im, &at)?;
            Ok(if kind == "is_empty" {
                Condition::IsEmpty(key)
            } else {
                Condition::IsNull(key)
            })
        }
        "nested" => {
            let nm = object(inner, &at, "must be an object with `key` and `filter`")?;
            only_keys(nm, &at, &["key", "filter"], "nested")?;
            let key = get_key(nm, &at)?;
            let filter = parse_filter(required(nm, &at, "filter")?, &format!("{at}.filter"))?;
            Ok(Condition::Nested {
                key,
                filter: Box::new(filter),
            })
        }
        "slice" => {
            let sm = object(inner, &at, "must be an object with `total` and `index`")?;
            only_keys(sm, &at, &["total", "index"], "slice")?;
            let int = |k: &str| -> Result<u32, FilterError> {
                required(sm, &at, k)?
                    .as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| {
                        FilterError(format!("{at}.{k}: must be an unsigned 32-bit integer"))
                    })
            };
            let total = int("total")?;
            let index = int("index")?;
            if total < 1 {
                return err(&format!("{at}.total"), "must be 1 or larger");
            }
            if index >= total {
                return err(
                    &format!("{at}.index"),
                    format!("must be in [0;{}], got {index}", total - 1),
                );
            }
            Ok(Condition::Slice { index, total })
        }
        _ => unreachable!("listed in CONDITION_KINDS"),
    }
}

const FIELD_TESTS: [&str; 8] = [
    "match",
    "range",
    "geo_bounding_box",
    "geo_radius",
    "geo_polygon",
    "values_count",
    "is_empty",
    "is_null",
];

fn parse_field_condition(m: &Map<String, Value>, at: &str) -> Result<Condition, FilterError> {
    let key = get_key(m, at)?;
    let mut found: Option<(&str, &Value)> = None;
    for (k, val) in m {
        if k == "key" {
            continue;
        }
        if !FIELD_TESTS.contains(&k.as_str()) {
            return err(
                &format!("{at}.{k}"),
                "unknown field in a field condition; expected key, match, range, \
                 geo_bounding_box, geo_radius, geo_polygon, values_count, is_empty or is_null",
            );
        }
        if val.is_null() {
            continue;
        }
        if let Some((first, _)) = found {
            return err(
                &format!("{at}.{k}"),
                format!("a field condition takes exactly one test, `{first}` is already given"),
            );
        }
        found = Some((k, val));
    }
    let Some((k, val)) = found else {
        return err(
            at,
            "a field condition needs one of match, range, geo_bounding_box, geo_radius, \
             geo_polygon, values_count, is_empty, is_null",
        );
    };
    let fat = format!("{at}.{k}");
    let test = match k {
        "match" => parse_match(val, &fat)?,
        "range" => parse_range(val, &fat)?,
        "values_count" => Match::ValuesCount(parse_values_count(val, &fat)?),
        "geo_bounding_box" => {
            let gm = object(
                val,
                &fat,
                "must be an object with `top_left` and `bottom_right`",
            )?;
            only_keys(gm, &fat, &["top_left", "bottom_right"], "geo_bounding_box")?;
            Match::GeoBoundingBox(GeoBoundingBox {
                top_left: parse_geo_point(
                    required(gm, &fat, "top_left")?,
                    &format!("{fat}.top_left"),
                )?,
                bottom_right: parse_geo_point(
                    required(gm, &fat, "bottom_right")?,
                    &format!("{fat}.bottom_right"),
                )?,
            })
        }
        "geo_radius" => {
            let gm = object(val, &fat, "must be an object with `center` and `radius`")?;
            only_keys(gm, &fat, &["center", "radius"], "geo_radius")?;
            let center = parse_geo_point(required(gm, &fat, "center")?, &format!("{fat}.center"))?;
            let radius = required(gm, &fat, "radius")?
                .as_f64()
                .ok_or_else(|| FilterError(format!("{fat}.radius: must be a number")))?;
            Match::GeoRadius(GeoRadius { center, radius })
        }
        "geo_polygon" => Match::GeoPolygon(parse_geo_polygon(val, &fat)?),
        "is_empty" | "is_null" => {
            let Value::Bool(b) = val else {
                return err(&fat, "must be a boolean");
            };
            let c = if k == "is_empty" {
                Condition::IsEmpty(key)
            } else {
                Condition::IsNull(key)
            };
            return Ok(if *b {
                c
            } else {
                Condition::Filter(Box::new(Filter {
                    must_not: vec![c],
                    ..Filter::default()
                }))
            });
        }
        _ => unreachable!("listed in FIELD_TESTS"),
    };
    Ok(Condition::Field(FieldCondition { key, test }))
}

fn is_int64(n: &serde_json::Number) -> bool {
    n.is_i64()
}

fn keyword_value(v: &Value, at: &str) -> Result<Value, FilterError> {
    match v {
        Value::String(_) | Value::Bool(_) => Ok(v.clone()),
        Value::Number(n) if is_int64(n) => Ok(v.clone()),
        _ => err(at, "must be a string, a 64-bit integer or a boolean"),
    }
}

/// `any` / `except`: an array of strings or an array of 64-bit integers.
fn value_list(v: &Value, at: &str) -> Result<Vec<Value>, FilterError> {
    let Value::Array(items) = v else {
        return err(at, "must be an array of strings or an array of integers");
    };
    let strings = matches!(items.first(), Some(Value::String(_)));
    for (i, x) in items.iter().enumerate() {
        let ok = match x {
            Value::String(_) => strings,
            Value::Number(n) => !strings && is_int64(n),
            _ => false,
        };
        if !ok {
            let want = if strings {
                "a string, as the first element"
            } else if i == 0 {
                "a string or a 64-bit integer"
            } else {
                "a 64-bit integer, as the first element"
            };
            return err(&format!("{at}[{i}]"), format!("must be {want}"));
        }
    }
    Ok(items.clone())
}

fn parse_match(v: &Value, at: &str) -> Result<Match, FilterError> {
    const KINDS: &str = "value, any, except, text, text_any, phrase, prefix or substring";
    let m = object(v, at, "must be an object such as {\"value\": …}")?;
    let (k, val) = match m.iter().next() {
        Some(kv) if m.len() == 1 => kv,
        _ => return err(at, format!("must have exactly one of {KINDS}")),
    };
    let at = format!("{at}.{k}");
    let text = |f: fn(String) -> Match| match val {
        Value::String(s) => Ok(f(s.clone())),
        _ => err(&at, "must be a string"),
    };
    match k.as_str() {
        "value" => Ok(Match::Value(keyword_value(val, &at)?)),
        "any" => Ok(Match::Any(value_list(val, &at)?)),
        "except" => Ok(Match::Except(value_list(val, &at)?)),
        "text" => text(Match::Text),
        "text_any" => text(Match::TextAny),
        "phrase" => text(Match::Phrase),
        "prefix" => text(Match::Prefix),
        "substring" => text(Match::Substring),
        _ => err(&at, format!("unknown match kind; expected {KINDS}")),
    }
}

const BOUNDS: [&str; 4] = ["lt", "lte", "gt", "gte"];

/// The bounds of a range-like object, `null` ones dropped, checked for unknown keys.
fn bounds<'a>(v: &'a Value, at: &str) -> Result<Vec<(&'a str, &'a Value)>, FilterError> {
    let m = object(v, at, "must be an object with lt, lte, gt or gte")?;
    if let Some(k) = m.keys().find(|k| !BOUNDS.contains(&k.as_str())) {
        return err(
            &format!("{at}.{k}"),
            "unknown bound; expected lt, lte, gt or gte",
        );
    }
    Ok(m.iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.as_str(), v))
        .collect())
}

fn set_bound<T>(
    lt: &mut Option<T>,
    lte: &mut Option<T>,
    gt: &mut Option<T>,
    gte: &mut Option<T>,
    k: &str,
    x: T,
) {
    match k {
        "lt" => *lt = Some(x),
        "lte" => *lte = Some(x),
        "gt" => *gt = Some(x),
        _ => *gte = Some(x),
    }
}

/// `range`: numeric bounds, or datetime bounds when any bound is a string.
fn parse_range(v: &Value, at: &str) -> Result<Match, FilterError> {
    let bounds = bounds(v, at)?;
    if bounds.iter().any(|(_, b)| b.is_string()) {
        let mut r = DatetimeRange::default();
        for (k, b) in bounds {
            let t = b.as_str().and_then(parse_datetime).ok_or_else(|| {
                FilterError(format!(
                    "{at}.{k}: must be a datetime (RFC 3339, e.g. 2024-01-31T12:00:00Z): \
                         a range with a string bound is a datetime range"
                ))
            })?;
            set_bound(&mut r.lt, &mut r.lte, &mut r.gt, &mut r.gte, k, t);
        }
        return Ok(Match::DatetimeRange(r));
    }
    let mut r = Range::default();
    for (k, b) in bounds {
        let x = b
            .as_f64()
            .ok_or_else(|| FilterError(format!("{at}.{k}: must be a number")))?;
        set_bound(&mut r.lt, &mut r.lte, &mut r.gt, &mut r.gte, k, x);
    }
    Ok(Match::Range(r))
}

fn parse_values_count(v: &Value, at: &str) -> Result<Range, FilterError> {
    let mut r = Range::default();
    for (k, b) in bounds(v, at)? {
        let x = b
            .as_u64()
            .ok_or_else(|| FilterError(format!("{at}.{k}: must be a non-negative integer")))?;
        set_bound(&mut r.lt, &mut r.lte, &mut r.gt, &mut r.gte, k, x as f64);
    }
    Ok(r)
}

fn parse_geo_point(v: &Value, at: &str) -> Result<GeoPoint, FilterError> {
    let m = object(v, at, "must be a geo point {\"lon\": …, \"lat\": …}")?;
    only_keys(m, at, &["lon", "lat"], "a geo point")?;
    let coord = |k: &str| {
        required(m, at, k)?
            .as_f64()
            .ok_or_else(|| FilterError(format!("{at}.{k}: must be a number")))
    };
    Ok(GeoPoint {
        lon: coord("lon")?,
        lat: coord("lat")?,
    })
}

/// A ring: at least 4 points, the last one repeating the first.
fn parse_ring(v: &Value, at: &str) -> Result<Vec<GeoPoint>, FilterError> {
    let m = object(v, at, "must be an object with `points`")?;
    only_keys(m, at, &["points"], "a line string")?;
    let pat = format!("{at}.points");
    let Value::Array(items) = required(m, at, "points")? else {
        return err(&pat, "must be an array of geo points");
    };
    let points = items
        .iter()
        .enumerate()
        .map(|(i, p)| parse_geo_point(p, &format!("{pat}[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    if points.len() < 4 {
        return err(&pat, "a polygon ring needs at least 4 points");
    }
    if points.first() != points.last() {
        return err(&pat, "a polygon ring must end with its first point");
    }
    Ok(points)
}

fn parse_geo_polygon(v: &Value, at: &str) -> Result<GeoPolygon, FilterError> {
    let m = object(
        v,
        at,
        "must be an object with `exterior` and optional `interiors`",
    )?;
    only_keys(m, at, &["exterior", "interiors"], "geo_polygon")?;
    let exterior = parse_ring(required(m, at, "exterior")?, &format!("{at}.exterior"))?;
    let interiors = match m.get("interiors") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(rings)) => rings
            .iter()
            .enumerate()
            .map(|(i, r)| parse_ring(r, &format!("{at}.interiors[{i}]")))
            .collect::<Result<_, _>>()?,
        Some(_) => return err(&format!("{at}.interiors"), "must be an array of rings"),
    };
    Ok(GeoPolygon {
        exterior,
        interiors,
    })
}
