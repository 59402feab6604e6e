//! Payload selection (`with_payload` include / exclude) and payload mutation by key path
//! (`set_payload` with `key`, `delete_payload`), with Qdrant local mode's semantics.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::{FilterError, JsonPath, PathStep, Payload};

/// A prefix tree of selector keys: `All` selects everything below.
#[derive(Debug, Clone, PartialEq)]
enum Sel {
    All,
    Node(Node),
}

#[derive(Debug, Clone, Default, PartialEq)]
struct Node {
    keys: HashMap<String, Sel>,
    /// `[]`: applies to the elements of an array. (`[N]` applies to nothing: an array is kept
    /// only through `[]`.)
    each: Option<Box<Sel>>,
}

impl Node {
    fn from_paths<'a>(paths: impl IntoIterator<Item = &'a JsonPath>) -> Node {
        let mut root = Node::default();
        for p in paths {
            root.add(p.steps());
        }
        root
    }

    fn add(&mut self, steps: &[PathStep]) {
        let Some((last, parents)) = steps.split_last() else {
            return;
        };
        let mut node = self;
        for part in parents {
            let slot = match part {
                PathStep::Key(k) => node
                    .keys
                    .entry(k.clone())
                    .or_insert_with(|| Sel::Node(Node::default())),
                PathStep::All => node
                    .each
                    .get_or_insert_with(|| Box::new(Sel::Node(Node::default())))
                    .as_mut(),
                // below an index nothing can be selected
                PathStep::Index(_) => return,
            };
            match slot {
                // a shorter key already selects everything below
                Sel::All => return,
                Sel::Node(n) => node = n,
            }
        }
        match last {
            PathStep::Key(k) => {
                node.keys.insert(k.clone(), Sel::All);
            }
            PathStep::All => node.each = Some(Box::new(Sel::All)),
            PathStep::Index(_) => {}
        }
    }

    fn include(&self, v: &Value) -> Value {
        match v {
            Value::Object(m) => Value::Object(self.include_map(m)),
            Value::Array(items) => match self.each.as_deref() {
                None => Value::Array(Vec::new()),
                Some(Sel::All) => v.clone(),
                Some(Sel::Node(n)) => Value::Array(items.iter().map(|x| n.include(x)).collect()),
            },
            _ => v.clone(),
        }
    }

    fn include_map(&self, m: &Map<String, Value>) -> Map<String, Value> {
        m.iter()
            .filter_map(|(k, x)| match self.keys.get(k)? {
                Sel::All => Some((k.clone(), x.clone())),
                Sel::Node(n) => Some((k.clone(), n.include(x))),
            })
            .collect()
    }

    fn exclude(&self, v: &Value) -> Value {
        match v {
            Value::Object(m) => Value::Object(self.exclude_map(m)),
            Value::Array(items) => match self.each.as_deref() {
                None => v.clone(),
                Some(Sel::All) => Value::Array(Vec::new()),
                Some(Sel::Node(n)) => Value::Array(items.iter().map(|x| n.exclude(x)).collect()),
            },
            _ => v.clone(),
        }
    }

    fn exclude_map(&self, m: &Map<String, Value>) -> Map<String, Value> {
        m.iter()
            .filter_map(|(k, x)| match self.keys.get(k) {
                None => Some((k.clone(), x.clone())),
                Some(Sel::All) => None,
                Some(Sel::Node(n)) => Some((k.clone(), n.exclude(x))),
            })
            .collect()
    }
}

/// A parsed payload selector (`with_payload: ["a", "b.c"]`, `{"include": …}`,
/// `{"exclude": …}`), built once and applied to each returned point.
///
/// Include keeps the parts of the payload under the keys: `a.b` keeps `{"a": {"b": …}}`, and
/// keeps a non-object `a` whole; `l[].c` keeps `c` in every object of the array `l`; an array
/// reached without `[]` (or only through `[N]`) becomes `[]`. Exclude drops the parts under the
/// keys: `l[]` empties the array, an index selects nothing. With both, include applies first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PayloadSelector {
    include: Option<Node>,
    exclude: Option<Node>,
}

impl PayloadSelector {
    /// Parses the keys; the error names the bad one (`include[1]: invalid key path …`).
    pub fn new(
        include: Option<&[String]>,
        exclude: Option<&[String]>,
    ) -> Result<PayloadSelector, FilterError> {
        let parse = |keys: Option<&[String]>, what: &str| -> Result<Option<Node>, FilterError> {
            let Some(keys) = keys else { return Ok(None) };
            let paths = keys
                .iter()
                .enumerate()
                .map(|(i, k)| {
                    JsonPath::parse(k).map_err(|e| FilterError(format!("{what}[{i}]: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Some(Node::from_paths(&paths)))
        };
        Ok(PayloadSelector {
            include: parse(include, "include")?,
            exclude: parse(exclude, "exclude")?,
        })
    }

    /// The selected part of a payload.
    pub fn apply(&self, payload: &Payload) -> Payload {
        let included;
        let p = match &self.include {
            Some(n) => {
                included = n.include_map(payload);
                &included
            }
            None => payload,
        };
        match &self.exclude {
            Some(n) => n.exclude_map(p),
            None => p.clone(),
        }
    }
}

/// The part of `payload` that `include` keeps and `exclude` does not drop (see
/// [`PayloadSelector`]; `None` is no restriction). Keys that are not valid paths select
/// nothing; use [`PayloadSelector::new`] to refuse them.
pub fn select_payload(
    payload: &Payload,
    include: Option<&[String]>,
    exclude: Option<&[String]>,
) -> Payload {
    let tree = |keys: Option<&[String]>| {
        keys.map(|keys| {
            let paths: Vec<JsonPath> = keys
                .iter()
                .filter_map(|k| JsonPath::parse(k).ok())
                .collect();
            Node::from_paths(&paths)
        })
    };
    PayloadSelector {
        include: tree(include),
        exclude: tree(exclude),
    }
    .apply(payload)
}

/// Merges `src` into `dest`: a null removes the key, anything else replaces it.
fn merge(dest: &mut Map<String, Value>, src: &Payload) {
    for (k, v) in src {
        if v.is_null() {
            dest.shift_remove(k);
        } else {
            dest.insert(k.clone(), v.clone());
        }
    }
}

/// Merges `value` into the object at `slot`, replacing the slot when it is not an object.
fn merge_into(slot: &mut Value, value: &Payload) {
    if let Value::Object(m) = slot {
        merge(m, value);
    } else {
        let mut m = Map::new();
        merge(&mut m, value);
        *slot = Value::Object(m);
    }
}

fn set_at(slot: &mut Value, steps: &[PathStep], value: &Payload) {
    let Some((step, rest)) = steps.split_first() else {
        return;
    };
    match step {
        PathStep::Key(k) => {
            if !slot.is_object() {
                // a non-object on the way is replaced by an object holding the rest
                *slot = Value::Object(Map::new());
            }
            let Value::Object(m) = slot else {
                unreachable!("made an object above")
            };
            let child = m
                .entry(k.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            if rest.is_empty() {
                merge_into(child, value);
            } else {
                set_at(child, rest, value);
            }
        }
        PathStep::Index(i) => match slot {
            Value::Array(items) => {
                if let Some(item) = items.get_mut(*i) {
                    if rest.is_empty() {
                        merge_into(item, value);
                    } else {
                        set_at(item, rest, value);
                    }
                }
            }
            // an array step over a non-array turns it into an empty array, and stops there
            _ => *slot = Value::Array(Vec::new()),
        },
        PathStep::All => match slot {
            Value::Array(items) => {
                for item in items {
                    if rest.is_empty() {
                        merge_into(item, value);
                    } else {
                        set_at(item, rest, value);
                    }
                }
            }
            _ => *slot = Value::Array(Vec::new()),
        },
    }
}

/// Qdrant's `set_payload`. Without a key, `value`'s top-level keys are merged into `target`
/// (a null value removes its key). With a key, `value` is merged (the same way) into the object
/// the path leads to: missing keys and non-objects on the way become objects, `[N]` reaches one
/// element (none past the end), `[]` every element, and an array step over a non-array makes it
/// `[]` and goes no further.
pub fn set_payload(target: &mut Payload, value: &Payload, key: Option<&JsonPath>) {
    let Some(key) = key else {
        merge(target, value);
        return;
    };
    let mut root = Value::Object(std::mem::take(target));
    set_at(&mut root, key.steps(), value);
    if let Value::Object(m) = root {
        *target = m;
    }
}

fn delete_at(v: &mut Value, steps: &[PathStep]) {
    let Some((step, rest)) = steps.split_first() else {
        return;
    };
    match (step, v) {
        (PathStep::Key(k), Value::Object(m)) => {
            if rest.is_empty() {
                m.shift_remove(k);
            } else if let Some(child) = m.get_mut(k) {
                delete_at(child, rest);
            }
        }
        // deleting one element by index is not idempotent; Qdrant does not do it
        (PathStep::Index(i), Value::Array(items)) if !rest.is_empty() => {
            if let Some(item) = items.get_mut(*i) {
                delete_at(item, rest);
            }
        }
        (PathStep::All, Value::Array(items)) => {
            if rest.is_empty() {
                items.clear();
            } else {
                for item in items {
                    delete_at(item, rest);
                }
            }
        }
        _ => {}
    }
}

/// Qdrant's `delete_payload`: removes what each path names. A path that leads nowhere does
/// nothing; a path ending in `[]` empties the array; one ending in `[N]` does nothing.
pub fn delete_payload_keys(target: &mut Payload, keys: &[JsonPath]) {
    let mut root = Value::Object(std::mem::take(target));
    for key in keys {
        delete_at(&mut root, key.steps());
    }
    if let Value::Object(m) = root {
        *target = m;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Payload {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    fn include(p: Value, keys: &[&str]) -> Value {
        let keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        Value::Object(select_payload(&obj(p), Some(&keys), None))
    }

    fn exclude(p: Value, keys: &[&str]) -> Value {
        let keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        Value::Object(select_payload(&obj(p), None, Some(&keys)))
    }

    fn set(p: Value, v: Value, key: &str) -> Value {
        let mut p = obj(p);
        set_payload(&mut p, &obj(v), Some(&JsonPath::parse(key).unwrap()));
        Value::Object(p)
    }

    fn delete(p: Value, keys: &[&str]) -> Value {
        let mut p = obj(p);
        let keys: Vec<JsonPath> = keys.iter().map(|k| JsonPath::parse(k).unwrap()).collect();
        delete_payload_keys(&mut p, &keys);
        Value::Object(p)
    }

    #[test]
    fn include_keeps_the_parts_under_the_keys() {
        let p = json!({"a": {"b": 1, "c": 2}, "aa": {"b": 3}, "a.b": 4, "l": [{"b": 5, "c": 6}]});
        assert_eq!(include(p.clone(), &["a.b"]), json!({"a": {"b": 1}}));
        assert_eq!(
            include(p.clone(), &["\"a.b\"", "l[].c"]),
            json!({"a.b": 4, "l": [{"c": 6}]})
        );
        // an array reached without `[]` is emptied; a scalar on the way is kept whole
        assert_eq!(include(p.clone(), &["l.b"]), json!({"l": []}));
        assert_eq!(include(p.clone(), &["l[0]"]), json!({"l": []}));
        assert_eq!(include(json!({"a": 5}), &["a.b"]), json!({"a": 5}));
        // a shorter key wins, whatever the order
        assert_eq!(
            include(p.clone(), &["a", "a.b"]),
            json!({"a": {"b": 1, "c": 2}})
        );
        assert_eq!(
            include(p.clone(), &["a.b", "a"]),
            json!({"a": {"b": 1, "c": 2}})
        );
        assert_eq!(include(p, &[]), json!({}));
    }

    #[test]
    fn exclude_drops_the_parts_under_the_keys() {
        let p = json!({"a": {"b": 1, "c": 2}, "aa": {"b": 3}, "a.b": 4, "l": [{"b": 5, "c": 6}]});
        assert_eq!(
            exclude(p.clone(), &["a", "l[].b"]),
            json!({"aa": {"b": 3}, "a.b": 4, "l": [{"c": 6}]})
        );
        assert_eq!(exclude(json!({"l": [1, 2]}), &["l[]"]), json!({"l": []}));
        assert_eq!(
            exclude(json!({"l": [1, 2]}), &["l[0]"]),
            json!({"l": [1, 2]})
        );
        assert_eq!(exclude(p.clone(), &["zz"]), p);
    }

    #[test]
    fn selector_refuses_bad_keys_by_position() {
        let e = PayloadSelector::new(Some(&["a".into(), "b..c".into()]), None).unwrap_err();
        assert!(e.0.starts_with("include[1]"), "{e}");
    }

    #[test]
    fn set_without_key_merges_top_level_and_null_removes() {
        let mut p = obj(json!({"a": 1, "b": 2, "c": 3}));
        set_payload(
            &mut p,
            &obj(json!({"b": null, "a": {"x": 1}, "d": 4})),
            None,
        );
        assert_eq!(
            Value::Object(p.clone()),
            json!({"a": {"x": 1}, "c": 3, "d": 4})
        );
        assert_eq!(p.keys().collect::<Vec<_>>(), ["a", "c", "d"]);
    }

    #[test]
    fn set_with_key_creates_objects_and_walks_arrays() {
        assert_eq!(
            set(json!({}), json!({"x": 1}), "a.b"),
            json!({"a": {"b": {"x": 1}}})
        );
        assert_eq!(
            set(
                json!({"a": {"b": {"y": 2, "x": 0}}}),
                json!({"x": 1, "y": null}),
                "a.b"
            ),
            json!({"a": {"b": {"x": 1}}})
        );
        // a non-object on the way becomes an object
        assert_eq!(
            set(json!({"a": 5}), json!({"x": 1}), "a.b.c"),
            json!({"a": {"b": {"c": {"x": 1}}}})
        );
        assert_eq!(
            set(json!({"a": 5}), json!({"x": 1}), "a"),
            json!({"a": {"x": 1}})
        );
        // `[N]` reaches one element, `[]` all of them, non-objects are replaced
        assert_eq!(
            set(json!({"l": [{"a": 1}, 2]}), json!({"x": 1}), "l[]"),
            json!({"l": [{"a": 1, "x": 1}, {"x": 1}]})
        );
        assert_eq!(
            set(json!({"l": [{"a": 1}, {"a": 2}]}), json!({"x": 1}), "l[1]"),
            json!({"l": [{"a": 1}, {"a": 2, "x": 1}]})
        );
        assert_eq!(
            set(json!({"l": [{"a": 1}]}), json!({"x": 1}), "l[5]"),
            json!({"l": [{"a": 1}]})
        );
        assert_eq!(
            set(
                json!({"l": [{"a": {"b": 1}}, {"c": 1}]}),
                json!({"x": 1}),
                "l[].a"
            ),
            json!({"l": [{"a": {"b": 1, "x": 1}}, {"c": 1, "a": {"x": 1}}]})
        );
        // an array step over a missing key or a non-array makes `[]` and stops
        assert_eq!(set(json!({}), json!({"x": 1}), "a[0].b"), json!({"a": []}));
        assert_eq!(
            set(json!({"a": {"k": 1}}), json!({"x": 1}), "a[]"),
            json!({"a": []})
        );
        assert_eq!(
            set(json!({"a": [[1], 2]}), json!({"x": 1}), "a[][0]"),
            json!({"a": [[{"x": 1}], []]})
        );
    }

    #[test]
    fn delete_by_path() {
        let p = json!({"a": {"b": 1, "c": 2}, "l": [{"b": 1, "c": 2}, {"b": 3}], "n": [1, 2]});
        assert_eq!(
            delete(p.clone(), &["a.b", "l[].b"]),
            json!({"a": {"c": 2}, "l": [{"c": 2}, {}], "n": [1, 2]})
        );
        assert_eq!(
            delete(p.clone(), &["l[0].c"]),
            json!({"a": {"b": 1, "c": 2}, "l": [{"b": 1}, {"b": 3}], "n": [1, 2]})
        );
        assert_eq!(delete(p.clone(), &["n[0]", "missing", "a.zz.y"]), p);
        assert_eq!(
            delete(p.clone(), &["n[]", "a"]),
            json!({"l": [{"b": 1, "c": 2}, {"b": 3}], "n": []})
        );
    }
}
