//! Evaluating a filter against one point (Qdrant's semantics for arrays and missing fields).

use serde_json::Value;

use crate::{Condition, FieldCondition, Filter, Match, Payload, PointId};

impl Filter {
    /// Whether the point with this id and payload passes the filter.
    pub fn matches(&self, id: PointId, payload: &Payload) -> bool {
        self.check(Some(id), payload)
    }

    fn check(&self, id: Option<PointId>, payload: &Payload) -> bool {
        self.must.iter().all(|c| c.check(id, payload))
            && self.must_not.iter().all(|c| !c.check(id, payload))
            && (self.should.is_empty() || self.should.iter().any(|c| c.check(id, payload)))
            && self.min_should.as_ref().is_none_or(|m| {
                m.conditions.iter().filter(|c| c.check(id, payload)).count() >= m.min_count
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
    fn check(&self, id: Option<PointId>, payload: &Payload) -> bool {
        match self {
            Condition::Field(f) => f.check(payload),
            Condition::IsEmpty(key) => key.values(payload, false).iter().all(|v| is_empty(v)),
            Condition::IsNull(key) => key.values(payload, false).iter().any(|v| is_null(v)),
            Condition::HasId(ids) => id.is_some_and(|id| ids.contains(&id)),
            Condition::Nested { key, filter } => key
                .without_trailing_all()
                .values(payload, false)
                .into_iter()
                .filter_map(Value::as_array)
                .flatten()
                .filter_map(Value::as_object)
                // inside a nested filter there is no point id: has_id never holds there
                .any(|obj| filter.check(None, obj)),
            Condition::Filter(f) => f.check(id, payload),
        }
    }
}

impl FieldCondition {
    fn check(&self, payload: &Payload) -> bool {
        if let Match::ValuesCount(range) = &self.test {
            let values = self.key.values(payload, false);
            let counts = values.iter().map(|v| match v {
                Value::Null => 0,
                Value::Array(a) => a.len(),
                _ => 1,
            });
            if values.is_empty() {
                return range.contains(0.0);
            }
            return counts.map(|c| c as f64).any(|c| range.contains(c));
        }
        self.key
            .values(payload, true)
            .into_iter()
            .any(|v| match_value(&self.test, v))
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
fn same_value(a: &Value, b: &Value) -> bool {
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

fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

fn match_value(test: &Match, v: &Value) -> bool {
    match test {
        Match::Value(want) => same_value(v, want),
        Match::Any(list) => list.iter().any(|w| same_value(v, w)),
        Match::Except(list) => !v.is_null() && !list.iter().any(|w| same_value(v, w)),
        Match::Text(text) => {
            let Value::String(s) = v else { return false };
            let doc: std::collections::HashSet<String> = words(s).collect();
            let mut query = words(text).peekable();
            query.peek().is_some() && query.all(|w| doc.contains(&w))
        }
        Match::Range(r) => match v {
            Value::Number(n) => n.as_f64().is_some_and(|x| r.contains(x)),
            _ => false,
        },
        // counted over whole values, in FieldCondition::check
        Match::ValuesCount(_) => false,
    }
}
