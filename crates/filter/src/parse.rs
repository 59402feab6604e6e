//! Parsing both dialects' filters from JSON into the AST, with errors that name the field.

use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::{Condition, FieldCondition, Filter, JsonPath, Match, MinShould, PointId, Range};

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
                if val.is_null() {
                    continue;
                }
                let Value::Object(m) = val else {
                    return err(&at, "must be an object with `conditions` and `min_count`");
                };
                let conditions = parse_conditions(
                    m.get("conditions").unwrap_or(&Value::Null),
                    &format!("{at}.conditions"),
                )?;
                let min_count = m.get("min_count").and_then(Value::as_u64).ok_or_else(|| {
                    FilterError(format!("{at}.min_count: must be an unsigned integer"))
                })?;
                f.min_should = Some(MinShould {
                    conditions,
                    min_count: min_count as usize,
                });
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

fn get_key(m: &Map<String, Value>, at: &str) -> Result<JsonPath, FilterError> {
    match m.get("key") {
        Some(Value::String(s)) => JsonPath::parse(s).or_else(|e| err(&format!("{at}.key"), e)),
        Some(_) => err(&format!("{at}.key"), "must be a string"),
        None => err(at, "missing `key`"),
    }
}

fn parse_condition(v: &Value, at: &str) -> Result<Condition, FilterError> {
    let Value::Object(m) = v else {
        return err(at, "a condition must be an object");
    };
    if m.contains_key("must")
        || m.contains_key("should")
        || m.contains_key("must_not")
        || m.contains_key("min_should")
    {
        return Ok(Condition::Filter(Box::new(parse_filter(v, at)?)));
    }
    if let Some(ids) = m.get("has_id") {
        let at = format!("{at}.has_id");
        let Value::Array(ids) = ids else {
            return err(&at, "must be an array of point ids");
        };
        let set = ids
            .iter()
            .enumerate()
            .map(|(i, id)| PointId::from_json(id).or_else(|e| err(&format!("{at}[{i}]"), e)))
            .collect::<Result<HashSet<_>, _>>()?;
        return Ok(Condition::HasId(set));
    }
    if let Some(inner) = m.get("is_empty") {
        let Value::Object(im) = inner else {
            return err(&format!("{at}.is_empty"), "must be an object with `key`");
        };
        return Ok(Condition::IsEmpty(get_key(im, &format!("{at}.is_empty"))?));
    }
    if let Some(inner) = m.get("is_null") {
        let Value::Object(im) = inner else {
            return err(&format!("{at}.is_null"), "must be an object with `key`");
        };
        return Ok(Condition::IsNull(get_key(im, &format!("{at}.is_null"))?));
    }
    if let Some(inner) = m.get("nested") {
        let nat = format!("{at}.nested");
        let Value::Object(nm) = inner else {
            return err(&nat, "must be an object with `key` and `filter`");
        };
        let key = get_key(nm, &nat)?;
        let filter = parse_filter(
            nm.get("filter").unwrap_or(&Value::Null),
            &format!("{nat}.filter"),
        )?;
        return Ok(Condition::Nested {
            key,
            filter: Box::new(filter),
        });
    }
    if !m.contains_key("key") {
        return err(at, "unknown condition; expected a field condition (`key`), has_id, is_empty, is_null, nested or a nested filter");
    }
    let key = get_key(m, at)?;
    let mut test = None;
    for (k, val) in m {
        if val.is_null() {
            continue;
        }
        let fat = format!("{at}.{k}");
        let parsed = match k.as_str() {
            "key" => continue,
            "match" => parse_match(val, &fat)?,
            "range" => Match::Range(parse_range(val, &fat)?),
            "values_count" => Match::ValuesCount(parse_range(val, &fat)?),
            "is_empty" | "is_null" => {
                let Value::Bool(b) = val else {
                    return err(&fat, "must be a boolean");
                };
                let c = if k == "is_empty" {
                    Condition::IsEmpty(key.clone())
                } else {
                    Condition::IsNull(key.clone())
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
            "geo_bounding_box" | "geo_radius" | "geo_polygon" => {
                return err(&fat, "geo conditions are not supported yet")
            }
            _ => return err(&fat, "unknown field in a field condition"),
        };
        if test.replace(parsed).is_some() {
            return err(
                at,
                "a field condition takes exactly one of match, range, values_count",
            );
        }
    }
    match test {
        Some(test) => Ok(Condition::Field(FieldCondition { key, test })),
        None => err(
            at,
            "a field condition needs one of match, range, values_count, is_empty, is_null",
        ),
    }
}

fn keyword_value(v: &Value, at: &str) -> Result<Value, FilterError> {
    match v {
        Value::String(_) | Value::Bool(_) => Ok(v.clone()),
        Value::Number(n) if n.is_i64() || n.is_u64() => Ok(v.clone()),
        _ => err(at, "must be a string, an integer or a boolean"),
    }
}

fn value_list(v: &Value, at: &str) -> Result<Vec<Value>, FilterError> {
    let Value::Array(items) = v else {
        return err(at, "must be an array");
    };
    items
        .iter()
        .enumerate()
        .map(|(i, x)| keyword_value(x, &format!("{at}[{i}]")))
        .collect()
}

fn parse_match(v: &Value, at: &str) -> Result<Match, FilterError> {
    let Value::Object(m) = v else {
        return err(at, "must be an object such as {\"value\": …}");
    };
    let (k, val) = match m.iter().next() {
        Some(kv) if m.len() == 1 => kv,
        _ => return err(at, "must have exactly one of value, any, except, text"),
    };
    let at = format!("{at}.{k}");
    Ok(match k.as_str() {
        "value" => Match::Value(keyword_value(val, &at)?),
        "any" => Match::Any(value_list(val, &at)?),
        "except" => Match::Except(value_list(val, &at)?),
        "text" => match val {
            Value::String(s) => Match::Text(s.clone()),
            _ => return err(&at, "must be a string"),
        },
        _ => {
            return err(
                &at,
                "unknown match kind; expected value, any, except or text",
            )
        }
    })
}

fn parse_range(v: &Value, at: &str) -> Result<crate::Range, FilterError> {
    let Value::Object(m) = v else {
        return err(at, "must be an object with lt, lte, gt or gte");
    };
    let mut r = Range::default();
    for (k, val) in m {
        let bound = match val {
            Value::Null => None,
            Value::Number(n) => n.as_f64(),
            _ => return err(&format!("{at}.{k}"), "must be a number"),
        };
        match k.as_str() {
            "lt" => r.lt = bound,
            "lte" => r.lte = bound,
            "gt" => r.gt = bound,
            "gte" => r.gte = bound,
            _ => {
                return err(
                    &format!("{at}.{k}"),
                    "unknown bound; expected lt, lte, gt or gte",
                )
            }
        }
    }
    Ok(r)
}
