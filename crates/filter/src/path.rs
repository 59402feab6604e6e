//! Payload key paths: `a`, `a.b`, `a[].b`, `a[0]`, `"key.with.dots".b`.

use std::fmt;

use serde_json::Value;

/// One step of a [`JsonPath`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PathStep {
    /// An object key.
    Key(String),
    /// `[N]`: one array element.
    Index(usize),
    /// `[]`: every array element.
    All,
}

/// A parsed payload key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPath {
    raw: String,
    steps: Vec<PathStep>,
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl JsonPath {
    /// Parses a key path; the error says what is wrong with it.
    pub fn parse(raw: &str) -> Result<JsonPath, String> {
        let bad = |why: &str| Err(format!("invalid key path `{raw}`: {why}"));
        if raw.is_empty() {
            return bad("empty");
        }
        let mut steps = Vec::new();
        let mut rest = raw;
        loop {
            // a key: quoted, or a run of alphanumerics, `_` and `-`
            if let Some(stripped) = rest.strip_prefix('"') {
                let Some(end) = stripped.find('"') else {
                    return bad("unterminated quote");
                };
                steps.push(PathStep::Key(stripped[..end].to_string()));
                rest = &stripped[end + 1..];
            } else {
                let end = rest
                    .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
                    .unwrap_or(rest.len());
                if end == 0 {
                    return bad("expected a key");
                }
                steps.push(PathStep::Key(rest[..end].to_string()));
                rest = &rest[end..];
            }
            // any number of brackets
            while let Some(stripped) = rest.strip_prefix('[') {
                let Some(end) = stripped.find(']') else {
                    return bad("unterminated `[`");
                };
                let inner = &stripped[..end];
                if inner.is_empty() {
                    steps.push(PathStep::All);
                } else if !inner.bytes().all(|b| b.is_ascii_digit()) {
                    return bad("array index must be a non-negative integer");
                } else {
                    match inner.parse::<usize>() {
                        Ok(i) => steps.push(PathStep::Index(i)),
                        Err(_) => return bad("array index is too large"),
                    }
                }
                rest = &stripped[end + 1..];
            }
            if rest.is_empty() {
                break;
            }
            match rest.strip_prefix('.') {
                Some(r) if !r.is_empty() => rest = r,
                _ => return bad("expected `.` followed by a key"),
            }
        }
        Ok(JsonPath {
            raw: raw.to_string(),
            steps,
        })
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The parsed steps; the first is always a [`PathStep::Key`].
    pub fn steps(&self) -> &[PathStep] {
        &self.steps
    }

    /// Whether two paths select the same values (`a.b` and `"a".b` do).
    pub fn same_steps(&self, other: &JsonPath) -> bool {
        self.steps == other.steps
    }

    /// Whether the path ends in `[]` (a nested-filter key may be written either way).
    pub fn without_trailing_all(&self) -> JsonPath {
        let mut p = self.clone();
        if p.steps.len() > 1 && p.steps.last() == Some(&PathStep::All) {
            p.steps.pop();
            p.raw.truncate(p.raw.len() - 2);
        }
        p
    }

    /// Every value the path selects in `payload`. With `flat`, a selected array contributes its
    /// elements instead of itself (what value conditions compare against).
    pub fn values<'a>(
        &self,
        payload: &'a serde_json::Map<String, Value>,
        flat: bool,
    ) -> Vec<&'a Value> {
        let mut out = Vec::new();
        let Some(PathStep::Key(first)) = self.steps.first() else {
            return out;
        };
        if let Some(v) = payload.get(first) {
            collect(v, &self.steps[1..], flat, &mut out);
        }
        out
    }
}

fn collect<'a>(v: &'a Value, steps: &[PathStep], flat: bool, out: &mut Vec<&'a Value>) {
    let Some((step, rest)) = steps.split_first() else {
        match v {
            Value::Array(items) if flat => out.extend(items.iter()),
            _ => out.push(v),
        }
        return;
    };
    match (step, v) {
        (PathStep::Key(k), Value::Object(map)) => {
            if let Some(child) = map.get(k) {
                collect(child, rest, flat, out);
            }
        }
        (PathStep::Index(i), Value::Array(items)) => {
            if let Some(child) = items.get(*i) {
                collect(child, rest, flat, out);
            }
        }
        (PathStep::All, Value::Array(items)) => {
            for child in items {
                collect(child, rest, flat, out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vals(path: &str, payload: Value, flat: bool) -> Vec<Value> {
        let p = JsonPath::parse(path).unwrap();
        let Value::Object(map) = payload else {
            panic!()
        };
        p.values(&map, flat).into_iter().cloned().collect()
    }

    #[test]
    fn dotted_paths_reach_nested_objects() {
        let p = json!({"meta": {"color": "red"}});
        assert_eq!(vals("meta.color", p.clone(), true), vec![json!("red")]);
        assert!(vals("meta.size", p.clone(), true).is_empty());
        assert!(vals("meta.color.x", p, true).is_empty());
    }

    #[test]
    fn arrays_flatten_only_when_asked_and_only_at_the_end() {
        let p = json!({"tags": ["a", "b"], "cities": [{"name": "x"}, {"name": "y"}]});
        assert_eq!(vals("tags", p.clone(), true), vec![json!("a"), json!("b")]);
        assert_eq!(vals("tags", p.clone(), false), vec![json!(["a", "b"])]);
        assert_eq!(
            vals("cities[].name", p.clone(), true),
            vec![json!("x"), json!("y")]
        );
        assert_eq!(vals("cities[1].name", p.clone(), true), vec![json!("y")]);
        assert_eq!(vals("tags[0]", p.clone(), true), vec![json!("a")]);
        // a plain key does not step into an array of objects
        assert!(vals("cities.name", p, true).is_empty());
    }

    #[test]
    fn quoted_keys_may_hold_dots() {
        let p = json!({"a.b": {"c": 1}});
        assert_eq!(vals("\"a.b\".c", p, true), vec![json!(1)]);
    }

    #[test]
    fn malformed_paths_are_refused_with_a_reason() {
        for bad in ["", ".a", "a.", "a..b", "a[", "a[x]", "a[-1]", "\"a", "a b"] {
            let err = JsonPath::parse(bad).unwrap_err();
            assert!(err.contains("invalid key path"), "{bad}: {err}");
        }
    }
}
