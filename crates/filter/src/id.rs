//! Point ids: unsigned 64-bit integers or UUIDs, as in Qdrant; parsed from path segments and
//! JSON, and ordered integers first (Qdrant's scroll order).

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

/// The id of a point. Integers sort before UUIDs (Qdrant's scroll order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PointId {
    Num(u64),
    Uuid(Uuid),
}

impl PointId {
    /// A fresh random (v4) UUID id.
    pub fn new_uuid() -> Self {
        PointId::Uuid(Uuid::new_v4())
    }
}

impl From<u64> for PointId {
    fn from(n: u64) -> Self {
        PointId::Num(n)
    }
}

impl From<Uuid> for PointId {
    fn from(u: Uuid) -> Self {
        PointId::Uuid(u)
    }
}

impl fmt::Display for PointId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PointId::Num(n) => write!(f, "{n}"),
            PointId::Uuid(u) => write!(f, "{}", u.hyphenated()),
        }
    }
}

/// Why a text is not a point id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad point id `{0}`: expected an unsigned integer or a UUID")]
pub struct ParsePointIdError(pub String);

impl FromStr for PointId {
    type Err = ParsePointIdError;

    /// Parses a path segment: digits are an integer id, anything else must be a UUID.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            return s
                .parse::<u64>()
                .map(PointId::Num)
                .map_err(|_| ParsePointIdError(s.to_string()));
        }
        Uuid::parse_str(s)
            .map(PointId::Uuid)
            .map_err(|_| ParsePointIdError(s.to_string()))
    }
}

impl PointId {
    /// Parses a JSON id: an unsigned integer, or a string holding a UUID.
    pub fn from_json(v: &serde_json::Value) -> Result<Self, ParsePointIdError> {
        match v {
            serde_json::Value::Number(n) => n
                .as_u64()
                .map(PointId::Num)
                .ok_or_else(|| ParsePointIdError(n.to_string())),
            serde_json::Value::String(s) => Uuid::parse_str(s)
                .map(PointId::Uuid)
                .map_err(|_| ParsePointIdError(s.clone())),
            other => Err(ParsePointIdError(other.to_string())),
        }
    }
}

impl Serialize for PointId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            PointId::Num(n) => s.serialize_u64(*n),
            PointId::Uuid(u) => s.collect_str(&u.hyphenated()),
        }
    }
}

impl<'de> Deserialize<'de> for PointId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = PointId;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an unsigned integer or a UUID string")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<PointId, E> {
                Ok(PointId::Num(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<PointId, E> {
                u64::try_from(v)
                    .map(PointId::Num)
                    .map_err(|_| E::custom(ParsePointIdError(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<PointId, E> {
                Err(E::custom(ParsePointIdError(v.to_string())))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<PointId, E> {
                Uuid::parse_str(v)
                    .map(PointId::Uuid)
                    .map_err(|_| E::custom(ParsePointIdError(v.to_string())))
            }
        }
        d.deserialize_any(V)
    }
}

// The schema of `PointId` (named as in Qdrant's spec), whose serde impls are written out above.
/// An unsigned integer or a UUID string (any of its usual spellings; answered hyphenated).
#[derive(utoipa::ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum ExtendedPointId {
    #[schema(example = 42)]
    Integer(u64),
    #[schema(example = "550e8400-e29b-41d4-a716-446655440000")]
    Uuid(String),
}

impl utoipa::PartialSchema for PointId {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        <ExtendedPointId as utoipa::PartialSchema>::schema()
    }
}

impl utoipa::ToSchema for PointId {
    fn name() -> std::borrow::Cow<'static, str> {
        <ExtendedPointId as utoipa::ToSchema>::name()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_parse_as_int_or_uuid() {
        assert_eq!("42".parse::<PointId>().unwrap(), PointId::Num(42));
        let u = "550e8400-e29b-41d4-a716-446655440000";
        assert_eq!(u.parse::<PointId>().unwrap().to_string(), u);
        assert!("abc".parse::<PointId>().is_err());
        assert!("-1".parse::<PointId>().is_err());
        assert!("".parse::<PointId>().is_err());
        assert!("99999999999999999999999".parse::<PointId>().is_err());
    }

    #[test]
    fn json_ids_round_trip_and_reject_negatives_floats_and_non_uuids() {
        let id: PointId = serde_json::from_str("7").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "7");
        let u: PointId = serde_json::from_str("\"550E8400-E29B-41D4-A716-446655440000\"").unwrap();
        assert_eq!(
            serde_json::to_string(&u).unwrap(),
            "\"550e8400-e29b-41d4-a716-446655440000\""
        );
        assert!(serde_json::from_str::<PointId>("-3").is_err());
        assert!(serde_json::from_str::<PointId>("1.5").is_err());
        assert!(serde_json::from_str::<PointId>("\"7\"").is_err());
        assert!(serde_json::from_str::<PointId>("null").is_err());
    }

    #[test]
    fn integers_sort_before_uuids() {
        assert!(PointId::Num(u64::MAX) < PointId::new_uuid());
    }
}
