//! Parsing both dialects' filters from JSON into the AST, with errors that name the field:
//! `Filter::from_seed` (the flat equality object), `Filter::from_qdrant` (the DSL, read through
//! its wire types in `wire.rs`) and `Filter::from_json`, which tells them apart by their keys.

use serde_json::Value;

use crate::wire;
use crate::{
    parse_datetime, Condition, DatetimeRange, FieldCondition, Filter, GeoBoundingBox, GeoPoint,
    GeoPolygon, GeoRadius, JsonPath, Match, MinShould, Range,
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
        Filter::from_json_at(v, "filter")
    }

    /// [`Filter::from_json`] for a filter found at `at` in a request (`searches[2].filter`):
    /// errors name their field from there.
    pub fn from_json_at(v: &Value, at: &str) -> Result<Option<Filter>, FilterError> {
        match v {
            Value::Null => Ok(None),
            Value::Object(m)
                if !m.is_empty() && m.keys().all(|k| DSL_KEYS.contains(&k.as_str())) =>
            {
                Filter::from_qdrant_at(v, at).map(Some)
            }
            Value::Object(m) if m.is_empty() => Ok(Some(Filter::default())),
            _ => seed(v, at).map(Some),
        }
    }

    /// The seed's flat equality filter: `{"key": value, …}`, every pair must match; a key may be
    /// a dotted path; a value matches an array payload that contains it.
    pub fn from_seed(v: &Value) -> Result<Filter, FilterError> {
        seed(v, "filter")
    }

    /// Qdrant's filter DSL.
    pub fn from_qdrant(v: &Value) -> Result<Filter, FilterError> {
        Filter::from_qdrant_at(v, "filter")
    }

    /// [`Filter::from_qdrant`] for a filter found at `at` in a request (`prefetch[1].filter`):
    /// errors name their field from there (`prefetch[1].filter.must[0].range.gt: …`).
    pub fn from_qdrant_at(v: &Value, at: &str) -> Result<Filter, FilterError> {
        let filter: wire::Filter =
            serde_path_to_error::deserialize(v).map_err(|e| path_error(at, &e))?;
        filter.into_ast(at)
    }
}

/// A deserializing error, named by `at` and the path below it.
fn path_error(at: &str, e: &serde_path_to_error::Error<serde_json::Error>) -> FilterError {
    let path = e.path();
    let full = match path.iter().next() {
        None => at.to_string(),
        Some(_) if at.is_empty() => path.to_string(),
        Some(serde_path_to_error::Segment::Seq { .. }) => format!("{at}{path}"),
        Some(_) => format!("{at}.{path}"),
    };
    if full.is_empty() {
        FilterError(e.inner().to_string())
    } else {
        FilterError(format!("{full}: {}", e.inner()))
    }
}

fn seed(v: &Value, at: &str) -> Result<Filter, FilterError> {
    let Value::Object(map) = v else {
        return err(at, "must be an object of `key: value` pairs");
    };
    let mut must = Vec::with_capacity(map.len());
    for (key, value) in map {
        let at = format!("{at}.{key}");
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

impl wire::Filter {
    /// The AST of this filter, checking what its types cannot say: key paths, datetimes,
    /// polygon rings, `min_count` and slice bounds. `at` is where the filter sits in the request
    /// (`filter`, `prefetch[1].filter`); errors name their field from there.
    pub fn into_ast(self, at: &str) -> Result<Filter, FilterError> {
        let min_should = match self.min_should {
            None => None,
            Some(m) => {
                let at = format!("{at}.min_should");
                if m.min_count < 1 {
                    return err(
                        &format!("{at}.min_count"),
                        "must be an integer, 1 or larger",
                    );
                }
                Some(MinShould {
                    conditions: conditions(Some(m.conditions), &format!("{at}.conditions"))?,
                    min_count: usize::try_from(m.min_count).unwrap_or(usize::MAX),
                })
            }
        };
        Ok(Filter {
            must: conditions(self.must, &format!("{at}.must"))?,
            should: conditions(self.should, &format!("{at}.should"))?,
            must_not: conditions(self.must_not, &format!("{at}.must_not"))?,
            min_should,
        })
    }
}

/// A clause: one condition (named by the clause) or an array of them (named by index).
fn conditions(c: Option<wire::Conditions>, at: &str) -> Result<Vec<Condition>, FilterError> {
    match c {
        None => Ok(Vec::new()),
        Some(wire::Conditions::One(c)) => Ok(vec![condition(*c, at)?]),
        Some(wire::Conditions::Many(cs)) => cs
            .into_iter()
            .enumerate()
            .map(|(i, c)| condition(c, &format!("{at}[{i}]")))
            .collect(),
    }
}

fn key(raw: &str, at: &str) -> Result<JsonPath, FilterError> {
    JsonPath::parse(raw).or_else(|e| err(at, e))
}

fn condition(c: wire::Condition, at: &str) -> Result<Condition, FilterError> {
    use wire::Condition as C;
    Ok(match c {
        C::Field(f) => return field_condition(*f, at),
        C::HasId(c) => Condition::HasId(c.has_id.into_iter().collect()),
        C::HasVector(c) => Condition::HasVector(c.has_vector),
        C::IsEmpty(c) => Condition::IsEmpty(key(&c.is_empty.key, &format!("{at}.is_empty.key"))?),
        C::IsNull(c) => Condition::IsNull(key(&c.is_null.key, &format!("{at}.is_null.key"))?),
        C::Nested(c) => {
            let at = format!("{at}.nested");
            Condition::Nested {
                key: key(&c.nested.key, &format!("{at}.key"))?,
                filter: Box::new(c.nested.filter.into_ast(&format!("{at}.filter"))?),
            }
        }
        C::Slice(c) => {
            let wire::Slice { total, index } = c.slice;
            if total < 1 {
                return err(&format!("{at}.slice.total"), "must be 1 or larger");
            }
            if index >= total {
                return err(
                    &format!("{at}.slice.index"),
                    format!("must be in [0;{}], got {index}", total - 1),
                );
            }
            Condition::Slice { index, total }
        }
        C::Filter(f) => Condition::Filter(Box::new(f.into_ast(at)?)),
    })
}

fn field_condition(f: wire::FieldCondition, at: &str) -> Result<Condition, FilterError> {
    let key = key(&f.key, &format!("{at}.key"))?;
    let mut tests = Vec::with_capacity(1);
    if let Some(m) = f.match_ {
        tests.push(("match", Test::Match(m)));
    }
    if let Some(r) = f.range {
        tests.push(("range", Test::Range(r)));
    }
    if let Some(b) = f.geo_bounding_box {
        tests.push((
            "geo_bounding_box",
            Test::Ready(Match::GeoBoundingBox(bbox(b))),
        ));
    }
    if let Some(r) = f.geo_radius {
        tests.push(("geo_radius", Test::Ready(Match::GeoRadius(radius(r)))));
    }
    if let Some(p) = f.geo_polygon {
        tests.push(("geo_polygon", Test::Polygon(p)));
    }
    if let Some(c) = f.values_count {
        tests.push(("values_count", Test::Ready(Match::ValuesCount(count(c)))));
    }
    if let Some(b) = f.is_empty {
        tests.push(("is_empty", Test::Flag(Condition::IsEmpty(key.clone()), b)));
    }
    if let Some(b) = f.is_null {
        tests.push(("is_null", Test::Flag(Condition::IsNull(key.clone()), b)));
    }
    // the wire type holds one test when deserialized; a hand-built one may hold any number
    let mut tests = tests.into_iter();
    let Some((name, test)) = tests.next() else {
        return err(
            at,
            "a field condition needs one of match, range, geo_bounding_box, geo_radius, \
             geo_polygon, values_count, is_empty, is_null",
        );
    };
    if let Some((second, _)) = tests.next() {
        return err(
            &format!("{at}.{second}"),
            format!("a field condition takes exactly one test, `{name}` is already given"),
        );
    }
    let at = format!("{at}.{name}");
    let test = match test {
        Test::Match(m) => match_(m),
        Test::Ready(m) => m,
        Test::Range(r) => range(r, &at)?,
        Test::Polygon(p) => Match::GeoPolygon(polygon(p, &at)?),
        Test::Flag(c, true) => return Ok(c),
        Test::Flag(c, false) => {
            return Ok(Condition::Filter(Box::new(Filter {
                must_not: vec![c],
                ..Filter::default()
            })))
        }
    };
    Ok(Condition::Field(FieldCondition { key, test }))
}

/// A field condition's one test, on its way to the AST.
enum Test {
    Match(wire::Match),
    Range(wire::RangeInterface),
    Polygon(wire::GeoPolygon),
    /// Needs no check.
    Ready(Match),
    /// `is_empty` / `is_null` as a field flag: the condition, or its negation when `false`.
    Flag(Condition, bool),
}

fn match_(m: wire::Match) -> Match {
    use wire::Match as M;
    let keyword = |v: wire::ValueVariants| match v {
        wire::ValueVariants::String(s) => Value::String(s),
        wire::ValueVariants::Integer(i) => Value::from(i),
        wire::ValueVariants::Bool(b) => Value::Bool(b),
    };
    let list = |v: wire::AnyVariants| match v {
        wire::AnyVariants::Strings(s) => s.into_iter().map(Value::String).collect(),
        wire::AnyVariants::Integers(i) => i.into_iter().map(Value::from).collect(),
    };
    match m {
        M::Value(m) => Match::Value(keyword(m.value)),
        M::Any(m) => Match::Any(list(m.any)),
        M::Except(m) => Match::Except(list(m.except)),
        M::Text(m) => Match::Text(m.text),
        M::TextAny(m) => Match::TextAny(m.text_any),
        M::Phrase(m) => Match::Phrase(m.phrase),
        M::Prefix(m) => Match::Prefix(m.prefix),
        M::Substring(m) => Match::Substring(m.substring),
    }
}

/// `range`: numeric bounds, or datetime bounds (each must read as a datetime).
fn range(r: wire::RangeInterface, at: &str) -> Result<Match, FilterError> {
    match r {
        wire::RangeInterface::Number(r) => Ok(Match::Range(Range {
            lt: r.lt,
            lte: r.lte,
            gt: r.gt,
            gte: r.gte,
        })),
        wire::RangeInterface::Datetime(r) => {
            let t = |name: &str, b: Option<String>| match b {
                None => Ok(None),
                Some(s) => parse_datetime(&s).map(Some).ok_or_else(|| {
                    FilterError(format!(
                        "{at}.{name}: must be a datetime (RFC 3339, e.g. 2024-01-31T12:00:00Z): \
                         a range with a string bound is a datetime range"
                    ))
                }),
            };
            Ok(Match::DatetimeRange(DatetimeRange {
                lt: t("lt", r.lt)?,
                lte: t("lte", r.lte)?,
                gt: t("gt", r.gt)?,
                gte: t("gte", r.gte)?,
            }))
        }
    }
}

fn count(c: wire::ValuesCount) -> Range {
    let f = |b: Option<u64>| b.map(|x| x as f64);
    Range {
        lt: f(c.lt),
        lte: f(c.lte),
        gt: f(c.gt),
        gte: f(c.gte),
    }
}

fn point(p: wire::GeoPoint) -> GeoPoint {
    GeoPoint {
        lon: p.lon,
        lat: p.lat,
    }
}

fn bbox(b: wire::GeoBoundingBox) -> GeoBoundingBox {
    GeoBoundingBox {
        top_left: point(b.top_left),
        bottom_right: point(b.bottom_right),
    }
}

fn radius(r: wire::GeoRadius) -> GeoRadius {
    GeoRadius {
        center: point(r.center),
        radius: r.radius,
    }
}

/// A ring: at least 4 points, the last one repeating the first.
fn ring(r: wire::GeoLineString, at: &str) -> Result<Vec<GeoPoint>, FilterError> {
    let at = format!("{at}.points");
    let points: Vec<GeoPoint> = r.points.into_iter().map(point).collect();
    if points.len() < 4 {
        return err(&at, "a polygon ring needs at least 4 points");
    }
    if points.first() != points.last() {
        return err(&at, "a polygon ring must end with its first point");
    }
    Ok(points)
}

fn polygon(p: wire::GeoPolygon, at: &str) -> Result<GeoPolygon, FilterError> {
    Ok(GeoPolygon {
        exterior: ring(p.exterior, &format!("{at}.exterior"))?,
        interiors: p
            .interiors
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(i, r)| ring(r, &format!("{at}.interiors[{i}]")))
            .collect::<Result<_, _>>()?,
    })
}
