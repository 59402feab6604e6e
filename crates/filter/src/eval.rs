//! Evaluating a filter against one point (Qdrant local mode's semantics for arrays, missing
//! fields, nulls and types).

use std::cmp::Ordering;
use std::collections::HashSet;

use serde_json::{Number, Value};

use crate::geo::geo_point;
use crate::{parse_datetime, Condition, FieldCondition, Filter, Match, Payload, PointId, Range};

/// What a condition may know about the point besides its payload. Inside a nested filter there
/// is neither an id nor vectors.
#[derive(Clone, Copy)]
struct Ctx<'a> {
    id: Option<PointId>,
    has_vector: Option<&'a dyn Fn(&str) -> bool>,
}

const NESTED: Ctx<'static> = Ctx {
    id: None,
    has_vector: None,
};

impl Filter {
    /// Whether the point with this id and payload passes the filter; it has no vectors, so
    /// `has_vector` conditions never hold (see [`Filter::check`]).
    pub fn matches(&self, id: PointId, payload: &Payload) -> bool {
        self.check(id, payload, &|_| false)
    }

    /// Whether the point passes the filter; `has_vector(name)` tells whether the point has the
    /// named vector (`""` is the unnamed one).
    pub fn check(&self, id: PointId, payload: &Payload, has_vector: &dyn Fn(&str) -> bool) -> bool {
        self.eval(
            Ctx {
                id: Some(id),
                has_vector: Some(has_vector),
            },
            payload,
        )
    }

    fn eval(&self, ctx: Ctx<'_>, payload: &Payload) -> bool {
        self.must.iter().all(|c| c.eval(ctx, payload))
            && self.must_not.iter().all(|c| !c.eval(ctx, payload))
            && (self.should.is_empty() || self.should.iter().any(|c| c.eval(ctx, payload)))
            && self.min_should.as_ref().is_none_or(|m| {
                m.conditions.iter().filter(|c| c.eval(ctx, payload)).count() >= m.min_count
            })
    }

    /// Whether the filter has no conditions at all (it then matches every point).
    pub fn is_empty(&self) -> bool {
        self.must.is_empty()
            && self.should.is_empty()
            && self.must_not.is_empty()
            && self.min_should.is_none()
    }
}

impl Condition {
    fn eval(&self, ctx: Ctx<'_>, payload: &Payload) -> bool {
        match self {
            Condition::Field(f) => f.check(payload),
            Condition::IsEmpty(key) => key.values(payload, false).iter().all(|v| is_empty(v)),
            Condition::IsNull(key) => key.values(payload, false).iter().any(|v| is_null(v)),
            Condition::HasId(ids) => ctx.id.is_some_and(|id| ids.contains(&id)),
            Condition::HasVector(name) => ctx.has_vector.is_some_and(|f| f(name)),
            Condition::Slice { index, total } => ctx
                .id
                .is_some_and(|id| *total > 0 && crate::slice::slice_of(id, *total) == *index),
            Condition::Nested { key, filter } => nested_elements(key, payload)
                .into_iter()
                .any(|obj| filter.eval(NESTED, obj)),
            Condition::Filter(f) => f.eval(ctx, payload),
        }
    }
}

/// The objects a nested filter is applied to: the object elements of the arrays the key
/// selects (`key` and `key[]` alike).
pub(crate) fn nested_elements<'a>(key: &crate::JsonPath, payload: &'a Payload) -> Vec<&'a Payload> {
    key.without_trailing_all()
        .values(payload, false)
        .into_iter()
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(Value::as_object)
        .collect()
}

impl FieldCondition {
    /// Whether the payload's values at the key satisfy the test.
    pub fn check(&self, payload: &Payload) -> bool {
        if let Match::ValuesCount(range) = &self.test {
            let values = self.key.values(payload, false);
            if values.iter().all(|v| v.is_null()) {
                return range.contains(0.0);
            }
            return values
                .iter()
                .map(|v| match v {
                    Value::Null => 0,
                    Value::Array(a) => a.len(),
                    _ => 1,
                })
                .any(|c| range.contains(c as f64));
        }
        self.key
            .values(payload, true)
            .into_iter()
            .any(|v| self.test.matches_value(v))
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

fn is_null(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.iter().any(Value::is_null),
        _ => false,
    }
}

/// Exact equality as Qdrant keeps it: booleans, integers, floats and strings never cross-match.
pub(crate) fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.is_f64(), y.is_f64()) {
            (false, false) => match (x.as_i64(), y.as_i64()) {
                (Some(i), Some(j)) => i == j,
                _ => x.as_u64() == y.as_u64(),
            },
            (true, true) => x.as_f64() == y.as_f64(),
            _ => false,
        },
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        _ => false,
    }
}

/// The words of a text, as the server's default tokenizer cuts them for fields without a text
/// index: runs of letters and digits (`_` separates), lowercased.
pub fn text_tokens(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Compares a JSON number with a float exactly (as Python compares `int` with `float`).
pub(crate) fn cmp_number(n: &Number, b: f64) -> Option<Ordering> {
    if let Some(i) = n.as_i64() {
        Some(cmp_int_float(i128::from(i), b))
    } else if let Some(u) = n.as_u64() {
        Some(cmp_int_float(i128::from(u), b))
    } else {
        n.as_f64()?.partial_cmp(&b)
    }
}

/// `i` against `b`, exactly; `b` is not NaN.
pub(crate) fn cmp_int_float(i: i128, b: f64) -> Ordering {
    const LIMIT: f64 = 1.7014118346046923e38; // 2^127
    if b >= LIMIT {
        return Ordering::Less;
    }
    if b < -LIMIT {
        return Ordering::Greater;
    }
    let t = b.trunc();
    match i.cmp(&(t as i128)) {
        Ordering::Equal => 0.0f64.partial_cmp(&(b - t)).unwrap_or(Ordering::Equal),
        other => other,
    }
}

impl Range {
    /// Whether a JSON number lies within every bound, compared exactly.
    pub fn contains_number(&self, n: &Number) -> bool {
        let ok = |b: Option<f64>, allowed: &[Ordering]| {
            b.is_none_or(|b| cmp_number(n, b).is_some_and(|o| allowed.contains(&o)))
        };
        ok(self.lt, &[Ordering::Less])
            && ok(self.lte, &[Ordering::Less, Ordering::Equal])
            && ok(self.gt, &[Ordering::Greater])
            && ok(self.gte, &[Ordering::Greater, Ordering::Equal])
    }
}

impl Match {
    /// Whether one value (an element of a selected array, or a selected non-array) passes.
    /// `ValuesCount` looks at whole values instead and is never true here.
    pub fn matches_value(&self, v: &Value) -> bool {
        match self {
            Match::Value(want) => same_value(v, want),
            Match::Any(list) => list.iter().any(|w| same_value(v, w)),
            Match::Except(list) => !v.is_null() && !list.iter().any(|w| same_value(v, w)),
            Match::Text(_)
            | Match::TextAny(_)
            | Match::Phrase(_)
            | Match::Prefix(_)
            | Match::Substring(_)
            | Match::DatetimeRange(_) => match v {
                Value::String(s) => self.matches_str(s),
                _ => false,
            },
            Match::Range(r) => match v {
                Value::Number(n) => r.contains_number(n),
                _ => false,
            },
            Match::GeoBoundingBox(b) => geo_point(v).is_some_and(|p| b.contains(p)),
            Match::GeoRadius(r) => geo_point(v).is_some_and(|p| r.contains(p)),
            Match::GeoPolygon(poly) => geo_point(v).is_some_and(|p| poly.contains(p)),
            // counted over whole values, in FieldCondition::check
            Match::ValuesCount(_) => false,
        }
    }

    /// Whether a string value passes; for the tests that only strings can pass (text, phrase,
    /// prefix, substring, datetime range) this is the whole test. Other tests compare the
    /// string as a value.
    pub fn matches_str(&self, s: &str) -> bool {
        match self {
            Match::Text(text) => {
                let query = text_tokens(text);
                let doc: HashSet<String> = text_tokens(s).into_iter().collect();
                !query.is_empty() && query.iter().all(|w| doc.contains(w))
            }
            Match::TextAny(text) => {
                let doc: HashSet<String> = text_tokens(s).into_iter().collect();
                text_tokens(text).iter().any(|w| doc.contains(w))
            }
            Match::Phrase(text) => {
                let phrase = text_tokens(text);
                let doc = text_tokens(s);
                !phrase.is_empty() && doc.windows(phrase.len()).any(|w| w == phrase.as_slice())
            }
            Match::Prefix(p) => s.starts_with(p.as_str()),
            Match::Substring(p) => s.contains(p.as_str()),
            Match::DatetimeRange(r) => parse_datetime(s).is_some_and(|t| r.contains(t)),
            other => other.matches_value(&Value::String(s.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering::*;

    #[test]
    fn integers_compare_exactly_with_floats() {
        assert_eq!(cmp_int_float(1, 1.0), Equal);
        assert_eq!(cmp_int_float(1, 1.5), Less);
        assert_eq!(cmp_int_float(2, 1.5), Greater);
        assert_eq!(cmp_int_float(-2, -1.5), Less);
        assert_eq!(cmp_int_float(-1, -1.5), Greater);
        // 2^53 + 1 is not a float; it is still above 2^53
        assert_eq!(cmp_int_float((1 << 53) + 1, 9007199254740992.0), Greater);
        assert_eq!(cmp_int_float(i128::from(u64::MAX), 1e300), Less);
        assert_eq!(cmp_int_float(i128::from(i64::MIN), -1e300), Greater);
    }

    #[test]
    fn tokens_are_lowercased_alphanumeric_runs() {
        assert_eq!(
            text_tokens("Hello, wörld_foo 42x ÉTÉ"),
            ["hello", "wörld", "foo", "42x", "été"]
        );
        assert!(text_tokens(" _-!").is_empty());
    }
}
