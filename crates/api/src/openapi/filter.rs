//! The filter DSL as `rvdb_filter::parse` reads it (Qdrant's `must`/`should`/`must_not`/
//! `min_should`), and the seed's flat equality filter. Keep in step with
//! `crates/filter/src/parse.rs`: the examples in `super::tests` go through both.

use std::collections::BTreeMap;

use serde::Deserialize;
use utoipa::ToSchema;

use super::common::ExtendedPointId;

/// Qdrant's filter: every `must` condition holds, at least one `should` holds (when any is
/// given), no `must_not` holds, and at least `min_should.min_count` of its conditions hold.
#[derive(ToSchema, Deserialize, Default)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"must": [{"key": "city", "match": {"value": "Berlin"}}],
    "must_not": [{"key": "price", "range": {"gt": 100}}]}))]
pub(crate) struct Filter {
    pub must: Option<Conditions>,
    pub should: Option<Conditions>,
    pub must_not: Option<Conditions>,
    pub min_should: Option<MinShould>,
}

/// One condition, or an array of them.
#[derive(ToSchema, Deserialize)]
#[serde(untagged)]
pub(crate) enum Conditions {
    Many(Vec<Condition>),
    One(Box<Condition>),
}

/// At least `min_count` of `conditions` hold.
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MinShould {
    pub conditions: Conditions,
    /// 1 or larger.
    #[schema(minimum = 1)]
    pub min_count: u64,
}

/// A condition: on a payload field (`key` + one test), on ids, on vectors, or a nested filter.
#[derive(ToSchema, Deserialize)]
#[serde(untagged)]
pub(crate) enum Condition {
    Field(Box<FieldCondition>),
    HasId(HasIdCondition),
    HasVector(HasVectorCondition),
    IsEmpty(IsEmptyCondition),
    IsNull(IsNullCondition),
    Nested(NestedCondition),
    Slice(SliceCondition),
    #[schema(no_recursion)]
    Filter(Box<Filter>),
}

/// A test on the payload values at `key`; exactly one test is given (others null or absent).
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"key": "tags[].name", "match": {"any": ["a", "b"]}}))]
pub(crate) struct FieldCondition {
    /// A payload path: `a.b`, `a[].b`, `a[0]`.
    pub key: String,
    #[serde(rename = "match")]
    pub match_: Option<Match>,
    pub range: Option<RangeInterface>,
    pub geo_bounding_box: Option<GeoBoundingBox>,
    pub geo_radius: Option<GeoRadius>,
    pub geo_polygon: Option<GeoPolygon>,
    /// Bounds on how many values the key holds.
    pub values_count: Option<ValuesCount>,
    /// `true`: the key is missing, null or `[]`; `false`: it is not.
    pub is_empty: Option<bool>,
    /// `true`: the key is null; `false`: it is not.
    pub is_null: Option<bool>,
}

/// Exactly one kind of match.
#[derive(ToSchema, Deserialize)]
#[serde(untagged)]
pub(crate) enum Match {
    Value(MatchValue),
    Any(MatchAny),
    Except(MatchExcept),
    Text(MatchText),
    TextAny(MatchTextAny),
    Phrase(MatchPhrase),
    Prefix(MatchPrefix),
    Substring(MatchSubstring),
}

/// A keyword, integer or boolean value.
#[derive(ToSchema, Deserialize)]
#[serde(untagged)]
pub(crate) enum ValueVariants {
    String(String),
    Integer(i64),
    Bool(bool),
}

/// Strings, or 64-bit integers (not mixed).
#[derive(ToSchema, Deserialize)]
#[serde(untagged)]
pub(crate) enum AnyVariants {
    Strings(Vec<String>),
    Integers(Vec<i64>),
}

/// The value (or one element of an array value) equals this.
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MatchValue {
    pub value: ValueVariants,
}

/// The value is one of these.
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MatchAny {
    pub any: AnyVariants,
}

/// The value is none of these.
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MatchExcept {
    pub except: AnyVariants,
}

/// Full-text: every word of the text occurs.
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MatchText {
    pub text: String,
}

/// Full-text: any word of the text occurs.
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MatchTextAny {
    pub text_any: String,
}

/// Full-text: the words occur in this order.
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MatchPhrase {
    pub phrase: String,
}

/// The string starts with this.
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MatchPrefix {
    pub prefix: String,
}

/// The string contains this.
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MatchSubstring {
    pub substring: String,
}

/// Numeric bounds, or datetime bounds when any bound is a string.
#[derive(ToSchema, Deserialize)]
#[serde(untagged)]
pub(crate) enum RangeInterface {
    Number(Range),
    Datetime(DatetimeRange),
}

/// Numeric bounds (null ones are ignored).
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Range {
    pub lt: Option<f64>,
    pub lte: Option<f64>,
    pub gt: Option<f64>,
    pub gte: Option<f64>,
}

/// Datetime bounds: RFC 3339 (e.g. `2024-01-31T12:00:00Z`).
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DatetimeRange {
    #[schema(format = DateTime)]
    pub lt: Option<String>,
    #[schema(format = DateTime)]
    pub lte: Option<String>,
    #[schema(format = DateTime)]
    pub gt: Option<String>,
    #[schema(format = DateTime)]
    pub gte: Option<String>,
}

/// Bounds on a count.
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ValuesCount {
    pub lt: Option<u64>,
    pub lte: Option<u64>,
    pub gt: Option<u64>,
    pub gte: Option<u64>,
}

/// A point on the globe, in degrees.
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GeoPoint {
    pub lon: f64,
    pub lat: f64,
}

#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GeoBoundingBox {
    pub top_left: GeoPoint,
    pub bottom_right: GeoPoint,
}

#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GeoRadius {
    pub center: GeoPoint,
    /// Meters.
    pub radius: f64,
}

/// A polygon: one exterior ring and optional holes.
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GeoPolygon {
    pub exterior: GeoLineString,
    pub interiors: Option<Vec<GeoLineString>>,
}

/// A closed ring: at least 4 points, the last one repeating the first.
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GeoLineString {
    #[schema(min_items = 4)]
    pub points: Vec<GeoPoint>,
}

/// The point's id is one of these.
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HasIdCondition {
    pub has_id: Vec<ExtendedPointId>,
}

/// The point has this named vector.
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HasVectorCondition {
    pub has_vector: String,
}

/// A payload key.
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PayloadField {
    pub key: String,
}

/// The key is missing, null or `[]`.
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct IsEmptyCondition {
    pub is_empty: PayloadField,
}

/// The key is null.
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct IsNullCondition {
    pub is_null: PayloadField,
}

/// Some element of the array at `key` satisfies `filter` on its own.
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NestedCondition {
    pub nested: Nested,
}

#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Nested {
    pub key: String,
    #[schema(no_recursion)]
    pub filter: Box<Filter>,
}

/// The point falls in slice `index` of `total` (by a hash of its id).
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SliceCondition {
    pub slice: Slice,
}

#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Slice {
    /// 1 or larger.
    #[schema(minimum = 1)]
    pub total: u32,
    /// In `[0, total)`.
    pub index: u32,
}

/// The filter of the shared search route (`POST …/points/search`): Qdrant's DSL (an object
/// whose keys are all of must/should/must_not/min_should), or the seed's flat equality filter
/// `{"key": value, …}` where every pair must match (a value also matches an array containing
/// it; a key may be a dotted path).
#[derive(ToSchema, Deserialize)]
#[serde(untagged)]
pub(crate) enum SearchFilter {
    Qdrant(Filter),
    Seed(BTreeMap<String, SeedValue>),
}

/// A string, number or boolean.
#[derive(ToSchema, Deserialize)]
#[serde(untagged)]
pub(crate) enum SeedValue {
    String(String),
    Number(f64),
    Bool(bool),
}
