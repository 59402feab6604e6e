//! Qdrant's filter DSL as it arrives on the wire: one set of types that parses a filter (serde)
//! and describes it in the OpenAPI spec (utoipa), so that the spec cannot drift from the parser.
//!
//! Deserializing checks shapes and types; what needs meaning (key paths, datetimes, polygon
//! rings, `min_count` ≥ 1, slice bounds) is checked when a [`Filter`] becomes the AST
//! ([`Filter::into_ast`], in `parse.rs`). Deserialized through `serde_path_to_error`, as
//! [`crate::Filter::from_qdrant`] does, every error names its JSON path
//! (`must[0].range.gt: invalid type: …`).
//!
//! Qdrant's unions are untagged: a condition, one-or-many conditions, a match and a range show
//! their kind only in their keys (and a match's values in their JSON type). serde's `untagged`
//! tries each variant in turn and answers "data did not match any variant", losing the field at
//! fault, so these deserialize by hand: each key is looked at as it comes, and its value is read
//! as the type that key calls for, where the error keeps its path. The structs that those
//! hand-written impls fill derive only `ToSchema`; their `#[serde]` attributes shape the schema
//! (utoipa reads them).

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Unexpected, Visitor};
use serde::{Deserialize, Deserializer};
use utoipa::ToSchema;

use crate::PointId;

/// Qdrant's filter: every `must` condition holds, at least one `should` holds (when any is
/// given), no `must_not` holds, and at least `min_should.min_count` of its conditions hold.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, ToSchema)]
#[serde(remote = "Self", deny_unknown_fields)]
#[schema(example = json!({"must": [{"key": "city", "match": {"value": "Berlin"}}],
    "must_not": [{"key": "price", "range": {"gt": 100}}]}))]
pub struct Filter {
    pub must: Option<Conditions>,
    pub should: Option<Conditions>,
    pub must_not: Option<Conditions>,
    pub min_should: Option<MinShould>,
}

/// One condition, or an array of them.
#[derive(Debug, Clone, PartialEq, ToSchema)]
#[serde(untagged)]
pub enum Conditions {
    Many(Vec<Condition>),
    One(Box<Condition>),
}

/// At least `min_count` of `conditions` hold.
#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct MinShould {
    pub conditions: Conditions,
    /// 1 or larger.
    #[schema(minimum = 1)]
    pub min_count: u64,
}

/// A condition: on a payload field (`key` + one test), on ids, on vectors, or a nested filter.
#[derive(Debug, Clone, PartialEq, ToSchema)]
#[serde(untagged)]
pub enum Condition {
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
#[derive(Debug, Clone, Default, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"key": "tags[].name", "match": {"any": ["a", "b"]}}))]
pub struct FieldCondition {
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
#[derive(Debug, Clone, PartialEq, ToSchema)]
#[serde(untagged)]
pub enum Match {
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
#[derive(Debug, Clone, PartialEq, ToSchema)]
#[serde(untagged)]
pub enum ValueVariants {
    String(String),
    Integer(i64),
    Bool(bool),
}

/// Strings, or 64-bit integers (not mixed).
#[derive(Debug, Clone, PartialEq, ToSchema)]
#[serde(untagged)]
pub enum AnyVariants {
    Strings(Vec<String>),
    Integers(Vec<i64>),
}

/// The value (or one element of an array value) equals this.
#[derive(Debug, Clone, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MatchValue {
    pub value: ValueVariants,
}

/// The value is one of these.
#[derive(Debug, Clone, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MatchAny {
    pub any: AnyVariants,
}

/// The value is none of these.
#[derive(Debug, Clone, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MatchExcept {
    pub except: AnyVariants,
}

/// Full-text: every word of the text occurs.
#[derive(Debug, Clone, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MatchText {
    pub text: String,
}

/// Full-text: any word of the text occurs.
#[derive(Debug, Clone, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MatchTextAny {
    pub text_any: String,
}

/// Full-text: the words occur in this order.
#[derive(Debug, Clone, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MatchPhrase {
    pub phrase: String,
}

/// The string starts with this.
#[derive(Debug, Clone, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MatchPrefix {
    pub prefix: String,
}

/// The string contains this.
#[derive(Debug, Clone, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MatchSubstring {
    pub substring: String,
}

/// Numeric bounds, or datetime bounds when any bound is a string.
#[derive(Debug, Clone, PartialEq, ToSchema)]
#[serde(untagged)]
pub enum RangeInterface {
    Number(Range),
    Datetime(DatetimeRange),
}

/// Numeric bounds (null ones are ignored).
#[derive(Debug, Clone, Default, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Range {
    pub lt: Option<f64>,
    pub lte: Option<f64>,
    pub gt: Option<f64>,
    pub gte: Option<f64>,
}

/// Datetime bounds: RFC 3339 (e.g. `2024-01-31T12:00:00Z`).
#[derive(Debug, Clone, Default, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DatetimeRange {
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
#[derive(Debug, Clone, Default, PartialEq, Deserialize, ToSchema)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct ValuesCount {
    pub lt: Option<u64>,
    pub lte: Option<u64>,
    pub gt: Option<u64>,
    pub gte: Option<u64>,
}

/// A point on the globe, in degrees.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, ToSchema)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct GeoPoint {
    pub lon: f64,
    pub lat: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Deserialize, ToSchema)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct GeoBoundingBox {
    pub top_left: GeoPoint,
    pub bottom_right: GeoPoint,
}

#[derive(Debug, Clone, Copy, PartialEq, Deserialize, ToSchema)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct GeoRadius {
    pub center: GeoPoint,
    /// Meters.
    pub radius: f64,
}

/// A polygon: one exterior ring and optional holes.
#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct GeoPolygon {
    pub exterior: GeoLineString,
    pub interiors: Option<Vec<GeoLineString>>,
}

/// A closed ring: at least 4 points, the last one repeating the first.
#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct GeoLineString {
    #[schema(min_items = 4)]
    pub points: Vec<GeoPoint>,
}

/// The point's id is one of these.
#[derive(Debug, Clone, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HasIdCondition {
    pub has_id: Vec<PointId>,
}

/// The point has this named vector.
#[derive(Debug, Clone, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HasVectorCondition {
    pub has_vector: String,
}

/// A payload key.
#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct PayloadField {
    pub key: String,
}

/// The key is missing, null or `[]`.
#[derive(Debug, Clone, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IsEmptyCondition {
    pub is_empty: PayloadField,
}

/// The key is null.
#[derive(Debug, Clone, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IsNullCondition {
    pub is_null: PayloadField,
}

/// Some element of the array at `key` satisfies `filter` on its own.
#[derive(Debug, Clone, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NestedCondition {
    pub nested: Nested,
}

#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct Nested {
    pub key: String,
    #[schema(no_recursion)]
    pub filter: Box<Filter>,
}

/// The point falls in slice `index` of `total` (by a hash of its id).
#[derive(Debug, Clone, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SliceCondition {
    pub slice: Slice,
}

#[derive(Debug, Clone, Copy, PartialEq, Deserialize, ToSchema)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct Slice {
    /// 1 or larger.
    #[schema(minimum = 1)]
    pub total: u32,
    /// In `[0, total)`.
    pub index: u32,
}

// ---------------------------------------------------------------------------------------------
// Structs: derived, but objects only.

/// The Deserialize of structs whose derived impl (`#[serde(remote = "Self")]` makes it an
/// inherent `deserialize`) is wrapped to take only an object: serde's derived impl also takes an
/// array of the fields in order, which the DSL does not have.
macro_rules! object_only {
    ($($t:ident: $what:literal,)*) => {$(
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = $t;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str($what)
                    }
                    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<$t, A::Error> {
                        $t::deserialize(de::value::MapAccessDeserializer::new(map))
                    }
                }
                d.deserialize_map(V)
            }
        }
    )*};
}

object_only! {
    Filter: "a filter object (must, should, must_not, min_should)",
    MinShould: "an object with `conditions` and `min_count`",
    ValuesCount: "an object with lt, lte, gt or gte",
    GeoPoint: "a geo point {\"lon\": …, \"lat\": …}",
    GeoBoundingBox: "an object with `top_left` and `bottom_right`",
    GeoRadius: "an object with `center` and `radius`",
    GeoPolygon: "an object with `exterior` and optional `interiors`",
    GeoLineString: "an object with `points`",
    PayloadField: "an object with `key`",
    Nested: "an object with `key` and `filter`",
    Slice: "an object with `total` and `index`",
}

// ---------------------------------------------------------------------------------------------
// Conditions: one object or an array of them.

impl<'de> Deserialize<'de> for Conditions {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Conditions;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a condition or an array of conditions")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Conditions, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
                while let Some(c) = seq.next_element()? {
                    out.push(c);
                }
                Ok(Conditions::Many(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Conditions, A::Error> {
                ConditionVisitor
                    .visit_map(map)
                    .map(|c| Conditions::One(Box::new(c)))
            }
        }
        d.deserialize_any(V)
    }
}

// ---------------------------------------------------------------------------------------------
// Condition: the kind is told by the keys. Each key is checked against the kind the keys before
// it chose (so an error names the key that does not fit), and each value is read as the type its
// key calls for.

/// A key a condition object may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CondKey {
    Key,
    Match,
    Range,
    GeoBoundingBox,
    GeoRadius,
    GeoPolygon,
    ValuesCount,
    IsEmpty,
    IsNull,
    HasId,
    HasVector,
    Nested,
    Slice,
    Must,
    Should,
    MustNot,
    MinShould,
}

const COND_KEYS: [(&str, CondKey); 17] = [
    ("key", CondKey::Key),
    ("match", CondKey::Match),
    ("range", CondKey::Range),
    ("geo_bounding_box", CondKey::GeoBoundingBox),
    ("geo_radius", CondKey::GeoRadius),
    ("geo_polygon", CondKey::GeoPolygon),
    ("values_count", CondKey::ValuesCount),
    ("is_empty", CondKey::IsEmpty),
    ("is_null", CondKey::IsNull),
    ("has_id", CondKey::HasId),
    ("has_vector", CondKey::HasVector),
    ("nested", CondKey::Nested),
    ("slice", CondKey::Slice),
    ("must", CondKey::Must),
    ("should", CondKey::Should),
    ("must_not", CondKey::MustNot),
    ("min_should", CondKey::MinShould),
];

/// What a condition object is, as far as its keys so far tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Field,
    Filter,
    IsEmpty,
    IsNull,
    HasId,
    HasVector,
    Nested,
    Slice,
}

impl CondKey {
    fn name(self) -> &'static str {
        COND_KEYS
            .iter()
            .find(|(_, k)| *k == self)
            .map(|(n, _)| *n)
            .expect("every key is listed")
    }

    fn bit(self) -> u32 {
        1 << self as u32
    }

    /// Whether this key may join a condition of `kind`.
    fn fits(self, kind: Kind) -> bool {
        use CondKey as K;
        match kind {
            Kind::Field => matches!(
                self,
                K::Key
                    | K::Match
                    | K::Range
                    | K::GeoBoundingBox
                    | K::GeoRadius
                    | K::GeoPolygon
                    | K::ValuesCount
                    | K::IsEmpty
                    | K::IsNull
            ),
            Kind::Filter => matches!(self, K::Must | K::Should | K::MustNot | K::MinShould),
            // a condition named by its one key takes nothing else
            _ => false,
        }
    }
}

impl Kind {
    /// The error for a key that does not fit this kind (`None`: a key no condition has).
    fn unknown_field(kind: Option<Kind>) -> String {
        let single = |name: &str| format!("unknown field in a {name} condition; expected {name}");
        match kind {
            None => "unknown condition; expected a field condition (`key`), has_id, has_vector, \
                     is_empty, is_null, nested, slice or a nested filter (must, should, \
                     must_not, min_should)"
                .to_string(),
            Some(Kind::Field) => "unknown field in a field condition; expected key, match, \
                                  range, geo_bounding_box, geo_radius, geo_polygon, \
                                  values_count, is_empty or is_null"
                .to_string(),
            Some(Kind::Filter) => {
                "unknown field; expected must, should, must_not or min_should".to_string()
            }
            Some(Kind::IsEmpty) => single("is_empty"),
            Some(Kind::IsNull) => single("is_null"),
            Some(Kind::HasId) => single("has_id"),
            Some(Kind::HasVector) => single("has_vector"),
            Some(Kind::Nested) => single("nested"),
            Some(Kind::Slice) => single("slice"),
        }
    }
}

/// Reads a condition's key, refusing one that does not fit the kind the earlier keys chose.
struct KeySeed {
    kind: Option<Kind>,
    seen: u32,
}

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = CondKey;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<CondKey, D::Error> {
        d.deserialize_identifier(self)
    }
}

impl Visitor<'_> for KeySeed {
    type Value = CondKey;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("the name of a condition's field")
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<CondKey, E> {
        let Some(&(_, key)) = COND_KEYS.iter().find(|(n, _)| *n == s) else {
            return Err(E::custom(Kind::unknown_field(self.kind)));
        };
        if self.seen & key.bit() != 0 {
            return Err(E::custom(format_args!("duplicate field `{s}`")));
        }
        match self.kind {
            Some(kind) if !key.fits(kind) => Err(E::custom(Kind::unknown_field(Some(kind)))),
            _ => Ok(key),
        }
    }
}

/// A field condition's test, `None` when null: refused when another test is already given.
struct TestSeed<T> {
    first: Option<&'static str>,
    test: PhantomData<T>,
}

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for TestSeed<T> {
    type Value = Option<T>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<T>, D::Error> {
        let v = Option::<T>::deserialize(d)?;
        match self.first {
            Some(first) if v.is_some() => Err(de::Error::custom(format_args!(
                "a field condition takes exactly one test, `{first}` is already given"
            ))),
            _ => Ok(v),
        }
    }
}

/// Reads the value of test `name`; the first non-null test is remembered in `first`.
fn test<'de, T: Deserialize<'de>, A: MapAccess<'de>>(
    map: &mut A,
    name: &'static str,
    first: &mut Option<&'static str>,
) -> Result<Option<T>, A::Error> {
    let v = map.next_value_seed(TestSeed {
        first: *first,
        test: PhantomData,
    })?;
    if v.is_some() && first.is_none() {
        *first = Some(name);
    }
    Ok(v)
}

/// The value of `is_empty` / `is_null` while the kind is open: a field condition's flag
/// (a boolean or null) or the key of an `is_empty` / `is_null` condition.
enum FlagOrField {
    Flag(Option<bool>),
    Field(PayloadField),
}

impl<'de> Deserialize<'de> for FlagOrField {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = FlagOrField;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object with `key` (or, in a field condition, a boolean)")
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> Result<FlagOrField, E> {
                Ok(FlagOrField::Flag(Some(b)))
            }
            fn visit_unit<E: de::Error>(self) -> Result<FlagOrField, E> {
                Ok(FlagOrField::Flag(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<FlagOrField, E> {
                Ok(FlagOrField::Flag(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<FlagOrField, A::Error> {
                PayloadField::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(FlagOrField::Field)
            }
        }
        d.deserialize_any(V)
    }
}

struct ConditionVisitor;

impl<'de> Visitor<'de> for ConditionVisitor {
    type Value = Condition;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a condition object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Condition, A::Error> {
        let mut kind: Option<Kind> = None;
        let mut seen = 0u32;
        let mut key: Option<String> = None;
        let mut field = FieldCondition::default();
        let mut first_test: Option<&'static str> = None;
        let mut filter = Filter::default();
        let mut single: Option<Condition> = None;
        while let Some(k) = map.next_key_seed(KeySeed { kind, seen })? {
            seen |= k.bit();
            let name = k.name();
            let first = &mut first_test;
            kind = Some(match k {
                CondKey::Key => {
                    key = Some(map.next_value()?);
                    Kind::Field
                }
                CondKey::Match => {
                    field.match_ = test(&mut map, name, first)?;
                    Kind::Field
                }
                CondKey::Range => {
                    field.range = test(&mut map, name, first)?;
                    Kind::Field
                }
                CondKey::GeoBoundingBox => {
                    field.geo_bounding_box = test(&mut map, name, first)?;
                    Kind::Field
                }
                CondKey::GeoRadius => {
                    field.geo_radius = test(&mut map, name, first)?;
                    Kind::Field
                }
                CondKey::GeoPolygon => {
                    field.geo_polygon = test(&mut map, name, first)?;
                    Kind::Field
                }
                CondKey::ValuesCount => {
                    field.values_count = test(&mut map, name, first)?;
                    Kind::Field
                }
                CondKey::IsEmpty | CondKey::IsNull => {
                    let empty = k == CondKey::IsEmpty;
                    let flag = if kind == Some(Kind::Field) {
                        test(&mut map, name, first)?
                    } else {
                        match map.next_value()? {
                            FlagOrField::Flag(b) => {
                                if b.is_some() {
                                    *first = Some(name);
                                }
                                b
                            }
                            FlagOrField::Field(f) => {
                                single = Some(if empty {
                                    Condition::IsEmpty(IsEmptyCondition { is_empty: f })
                                } else {
                                    Condition::IsNull(IsNullCondition { is_null: f })
                                });
                                kind = Some(if empty { Kind::IsEmpty } else { Kind::IsNull });
                                continue;
                            }
                        }
                    };
                    // a flag (null included) is a field condition's
                    if empty {
                        field.is_empty = flag;
                    } else {
                        field.is_null = flag;
                    }
                    Kind::Field
                }
                CondKey::HasId => {
                    single = Some(Condition::HasId(HasIdCondition {
                        has_id: map.next_value()?,
                    }));
                    Kind::HasId
                }
                CondKey::HasVector => {
                    single = Some(Condition::HasVector(HasVectorCondition {
                        has_vector: map.next_value()?,
                    }));
                    Kind::HasVector
                }
                CondKey::Nested => {
                    single = Some(Condition::Nested(NestedCondition {
                        nested: map.next_value()?,
                    }));
                    Kind::Nested
                }
                CondKey::Slice => {
                    single = Some(Condition::Slice(SliceCondition {
                        slice: map.next_value()?,
                    }));
                    Kind::Slice
                }
                CondKey::Must => {
                    filter.must = map.next_value()?;
                    Kind::Filter
                }
                CondKey::Should => {
                    filter.should = map.next_value()?;
                    Kind::Filter
                }
                CondKey::MustNot => {
                    filter.must_not = map.next_value()?;
                    Kind::Filter
                }
                CondKey::MinShould => {
                    filter.min_should = map.next_value()?;
                    Kind::Filter
                }
            });
        }
        match kind {
            // `{}` is an empty filter: it matches everything
            None | Some(Kind::Filter) => Ok(Condition::Filter(Box::new(filter))),
            Some(Kind::Field) => {
                let Some(key) = key else {
                    return Err(de::Error::missing_field("key"));
                };
                if first_test.is_none() {
                    return Err(de::Error::custom(
                        "a field condition needs one of match, range, geo_bounding_box, \
                         geo_radius, geo_polygon, values_count, is_empty, is_null",
                    ));
                }
                field.key = key;
                Ok(Condition::Field(Box::new(field)))
            }
            Some(_) => Ok(single.expect("set with its kind")),
        }
    }
}

impl<'de> Deserialize<'de> for Condition {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(ConditionVisitor)
    }
}

// ---------------------------------------------------------------------------------------------
// Match: one key names the kind.

const MATCH_KINDS: &str = "value, any, except, text, text_any, phrase, prefix or substring";

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum MatchKind {
    Value,
    Any,
    Except,
    Text,
    TextAny,
    Phrase,
    Prefix,
    Substring,
}

impl<'de> Deserialize<'de> for Match {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Match;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "an object with one of {MATCH_KINDS}")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Match, A::Error> {
                let one_of = || {
                    <A::Error as de::Error>::custom(format_args!(
                        "must have exactly one of {MATCH_KINDS}"
                    ))
                };
                let Some(kind) = map.next_key()? else {
                    return Err(one_of());
                };
                let m = match kind {
                    MatchKind::Value => Match::Value(MatchValue {
                        value: map.next_value()?,
                    }),
                    MatchKind::Any => Match::Any(MatchAny {
                        any: map.next_value()?,
                    }),
                    MatchKind::Except => Match::Except(MatchExcept {
                        except: map.next_value()?,
                    }),
                    MatchKind::Text => Match::Text(MatchText {
                        text: map.next_value()?,
                    }),
                    MatchKind::TextAny => Match::TextAny(MatchTextAny {
                        text_any: map.next_value()?,
                    }),
                    MatchKind::Phrase => Match::Phrase(MatchPhrase {
                        phrase: map.next_value()?,
                    }),
                    MatchKind::Prefix => Match::Prefix(MatchPrefix {
                        prefix: map.next_value()?,
                    }),
                    MatchKind::Substring => Match::Substring(MatchSubstring {
                        substring: map.next_value()?,
                    }),
                };
                if map.next_key::<de::IgnoredAny>()?.is_some() {
                    return Err(one_of());
                }
                Ok(m)
            }
        }
        d.deserialize_map(V)
    }
}

/// A 64-bit integer from any JSON integer that fits.
fn int64<E: de::Error>(v: u64, exp: &dyn de::Expected) -> Result<i64, E> {
    i64::try_from(v).map_err(|_| E::invalid_value(Unexpected::Unsigned(v), exp))
}

impl<'de> Deserialize<'de> for ValueVariants {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ValueVariants;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string, a 64-bit integer or a boolean")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<ValueVariants, E> {
                Ok(ValueVariants::String(s.to_owned()))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<ValueVariants, E> {
                Ok(ValueVariants::String(s))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ValueVariants, E> {
                Ok(ValueVariants::Integer(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ValueVariants, E> {
                int64(v, &self).map(ValueVariants::Integer)
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> Result<ValueVariants, E> {
                Ok(ValueVariants::Bool(b))
            }
        }
        d.deserialize_any(V)
    }
}

/// One element of an `any` / `except` list: the first one says whether all are strings or all
/// integers.
enum Keyword {
    String(String),
    Integer(i64),
}

/// Reads a list element: `None` for the first, then what the first one was.
struct KeywordSeed(Option<bool>);

impl<'de> DeserializeSeed<'de> for KeywordSeed {
    type Value = Keyword;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Keyword, D::Error> {
        d.deserialize_any(self)
    }
}

impl Visitor<'_> for KeywordSeed {
    type Value = Keyword;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(match self.0 {
            None => "a string or a 64-bit integer",
            Some(true) => "a string, as the first element",
            Some(false) => "a 64-bit integer, as the first element",
        })
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Keyword, E> {
        match self.0 {
            Some(false) => Err(E::invalid_type(Unexpected::Str(s), &self)),
            _ => Ok(Keyword::String(s.to_owned())),
        }
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Keyword, E> {
        match self.0 {
            Some(true) => Err(E::invalid_type(Unexpected::Signed(v), &self)),
            _ => Ok(Keyword::Integer(v)),
        }
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Keyword, E> {
        match self.0 {
            Some(true) => Err(E::invalid_type(Unexpected::Unsigned(v), &self)),
            _ => int64(v, &self).map(Keyword::Integer),
        }
    }
}

impl<'de> Deserialize<'de> for AnyVariants {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = AnyVariants;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array of strings or an array of integers")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<AnyVariants, A::Error> {
                let (mut strings, mut ints) = (Vec::new(), Vec::new());
                let mut kind = None;
                while let Some(k) = seq.next_element_seed(KeywordSeed(kind))? {
                    match k {
                        Keyword::String(s) => strings.push(s),
                        Keyword::Integer(i) => ints.push(i),
                    }
                    kind = Some(!strings.is_empty());
                }
                Ok(if strings.is_empty() {
                    AnyVariants::Integers(ints)
                } else {
                    AnyVariants::Strings(strings)
                })
            }
        }
        d.deserialize_seq(V)
    }
}

// ---------------------------------------------------------------------------------------------
// Range: numeric, or a datetime range once a bound is a string.

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum Bound {
    Lt,
    Lte,
    Gt,
    Gte,
}

/// A range bound, given whether the bounds before it were numbers (`Some(false)`) or datetimes
/// (`Some(true)`); `None` when null.
struct BoundSeed(Option<bool>);

enum BoundValue {
    Number(f64),
    Datetime(String),
}

const DATETIME: &str = "a datetime (RFC 3339, e.g. 2024-01-31T12:00:00Z): a range with a string \
                        bound is a datetime range";

impl<'de> DeserializeSeed<'de> for BoundSeed {
    type Value = Option<BoundValue>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl BoundSeed {
    fn number<E: de::Error>(self, x: f64, got: Unexpected) -> Result<Option<BoundValue>, E> {
        match self.0 {
            Some(true) => Err(E::invalid_type(got, &self)),
            _ => Ok(Some(BoundValue::Number(x))),
        }
    }
}

impl Visitor<'_> for BoundSeed {
    type Value = Option<BoundValue>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self.0 {
            None => {
                f.write_str("a number, or a datetime string (RFC 3339, e.g. 2024-01-31T12:00:00Z)")
            }
            Some(false) => f.write_str(
                "a number: a range with a numeric bound is a numeric range (a datetime range has \
                 only strings)",
            ),
            Some(true) => f.write_str(DATETIME),
        }
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E: de::Error>(self, x: f64) -> Result<Self::Value, E> {
        self.number(x, Unexpected::Float(x))
    }
    fn visit_i64<E: de::Error>(self, x: i64) -> Result<Self::Value, E> {
        self.number(x as f64, Unexpected::Signed(x))
    }
    fn visit_u64<E: de::Error>(self, x: u64) -> Result<Self::Value, E> {
        self.number(x as f64, Unexpected::Unsigned(x))
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
        match self.0 {
            Some(false) => Err(E::invalid_type(Unexpected::Str(s), &self)),
            _ => Ok(Some(BoundValue::Datetime(s.to_owned()))),
        }
    }
}

/// Refuses a repeated key (possible in JSON text, not in a `serde_json::Value`).
struct Duplicate(&'static str);

impl<'de> DeserializeSeed<'de> for Duplicate {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, _: D) -> Result<(), D::Error> {
        Err(de::Error::duplicate_field(self.0))
    }
}

impl<'de> Deserialize<'de> for RangeInterface {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RangeInterface;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object with lt, lte, gt or gte")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RangeInterface, A::Error> {
                let mut numbers = Range::default();
                let mut datetimes = DatetimeRange::default();
                let mut datetime: Option<bool> = None;
                let mut seen = [false; 4];
                while let Some(b) = map.next_key::<Bound>()? {
                    let (name, n, d) = match b {
                        Bound::Lt => ("lt", &mut numbers.lt, &mut datetimes.lt),
                        Bound::Lte => ("lte", &mut numbers.lte, &mut datetimes.lte),
                        Bound::Gt => ("gt", &mut numbers.gt, &mut datetimes.gt),
                        Bound::Gte => ("gte", &mut numbers.gte, &mut datetimes.gte),
                    };
                    if std::mem::replace(&mut seen[b as usize], true) {
                        map.next_value_seed(Duplicate(name))?;
                    }
                    match map.next_value_seed(BoundSeed(datetime))? {
                        None => {}
                        Some(BoundValue::Number(x)) => {
                            *n = Some(x);
                            datetime = Some(false);
                        }
                        Some(BoundValue::Datetime(s)) => {
                            *d = Some(s);
                            datetime = Some(true);
                        }
                    }
                }
                Ok(if datetime == Some(true) {
                    RangeInterface::Datetime(datetimes)
                } else {
                    RangeInterface::Number(numbers)
                })
            }
        }
        d.deserialize_map(V)
    }
}
