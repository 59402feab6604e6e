//! The filter AST both dialects parse into.

use std::collections::HashSet;

use serde_json::Value;

use crate::{JsonPath, PointId};

/// A boolean combination of conditions (Qdrant's `Filter`). An empty filter matches everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    /// All must hold.
    pub must: Vec<Condition>,
    /// At least one must hold (when non-empty).
    pub should: Vec<Condition>,
    /// None may hold.
    pub must_not: Vec<Condition>,
    /// At least `min_count` of these must hold.
    pub min_should: Option<MinShould>,
}

/// `min_should`: at least `min_count` of `conditions`.
#[derive(Debug, Clone, PartialEq)]
pub struct MinShould {
    pub conditions: Vec<Condition>,
    pub min_count: usize,
}

/// One condition of a filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// A condition on the values at a payload key.
    Field(FieldCondition),
    /// The key selects no value, or only nulls and empty arrays.
    IsEmpty(JsonPath),
    /// The key selects a null (or an array holding a null).
    IsNull(JsonPath),
    /// The point's id is one of these.
    HasId(HashSet<PointId>),
    /// Some object of the array at `key` matches `filter` on its own.
    Nested { key: JsonPath, filter: Box<Filter> },
    /// A sub-filter.
    Filter(Box<Filter>),
}

/// A condition on the values a key selects; it holds when any one value satisfies it.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldCondition {
    pub key: JsonPath,
    pub test: Match,
}

/// What a field value is tested against.
#[derive(Debug, Clone, PartialEq)]
pub enum Match {
    /// Equal to this value (strings, integers, booleans; the seed dialect also allows floats).
    Value(Value),
    /// Equal to one of these.
    Any(Vec<Value>),
    /// Not null and equal to none of these.
    Except(Vec<Value>),
    /// A string containing every word of this text (whole words, case-insensitive).
    Text(String),
    /// A number in this range.
    Range(Range),
    /// The number of values (an array counts its elements) is in this range.
    ValuesCount(Range),
}

/// Numeric bounds; absent bounds are open.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Range {
    pub lt: Option<f64>,
    pub lte: Option<f64>,
    pub gt: Option<f64>,
    pub gte: Option<f64>,
}

impl Range {
    /// Whether `x` lies within every bound.
    pub fn contains(&self, x: f64) -> bool {
        self.lt.is_none_or(|b| x < b)
            && self.lte.is_none_or(|b| x <= b)
            && self.gt.is_none_or(|b| x > b)
            && self.gte.is_none_or(|b| x >= b)
    }
}
