//! The filter AST both dialects parse into: a `Filter` (`must`, `should`, `must_not`,
//! `min_should`) of `Condition`s, whose field tests are `Match`es (values, text, numeric and
//! datetime ranges, geo shapes, value counts).

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
    /// The point's id is one of these (never holds inside a nested filter).
    HasId(HashSet<PointId>),
    /// The point has the named vector (never holds inside a nested filter).
    HasVector(String),
    /// The point's id falls into slice `index` of `total` (SipHash-2-4 of the id bytes, as
    /// Qdrant); never holds inside a nested filter.
    Slice { index: u32, total: u32 },
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
    /// A string containing at least one word of this text.
    TextAny(String),
    /// A string containing the words of this text consecutively, in order.
    Phrase(String),
    /// A string starting with this text (case-sensitive).
    Prefix(String),
    /// A string containing this text (case-sensitive).
    Substring(String),
    /// A number in this range (booleans are not numbers).
    Range(Range),
    /// A string that reads as a datetime within this range.
    DatetimeRange(DatetimeRange),
    /// A geo point (`{"lon": …, "lat": …}`) strictly inside this box.
    GeoBoundingBox(GeoBoundingBox),
    /// A geo point closer than `radius` meters to `center`.
    GeoRadius(GeoRadius),
    /// A geo point inside this polygon (not on its exterior boundary, not in a hole).
    GeoPolygon(GeoPolygon),
    /// The number of values (an array counts its elements) is in this range (whole numbers).
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

/// Datetime bounds, in microseconds since the Unix epoch (UTC); absent bounds are open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DatetimeRange {
    pub lt: Option<i64>,
    pub lte: Option<i64>,
    pub gt: Option<i64>,
    pub gte: Option<i64>,
}

impl DatetimeRange {
    /// Whether the instant `t` (microseconds since the epoch) lies within every bound.
    pub fn contains(&self, t: i64) -> bool {
        self.lt.is_none_or(|b| t < b)
            && self.lte.is_none_or(|b| t <= b)
            && self.gt.is_none_or(|b| t > b)
            && self.gte.is_none_or(|b| t >= b)
    }
}

/// A point on Earth, in degrees.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct GeoPoint {
    pub lon: f64,
    pub lat: f64,
}

/// A box between two corners; when `top_left.lon > bottom_right.lon` it crosses the
/// antimeridian.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeoBoundingBox {
    pub top_left: GeoPoint,
    pub bottom_right: GeoPoint,
}

/// A circle of `radius` meters around `center` (haversine distance).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeoRadius {
    pub center: GeoPoint,
    pub radius: f64,
}

/// A polygon: a closed exterior ring and closed rings of holes.
#[derive(Debug, Clone, PartialEq)]
pub struct GeoPolygon {
    pub exterior: Vec<GeoPoint>,
    pub interiors: Vec<Vec<GeoPoint>>,
}
