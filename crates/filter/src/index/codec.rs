//! The byte form of a [`PayloadIndex`], so that a sealed segment's indexes can be stored beside
//! it and read back instead of being rebuilt from the payloads (no JSON path walks, datetime
//! parsing or text tokenizing at load).
//!
//! Little-endian. `fields: u32`, then per field: `name` (`len: u32` + UTF-8), `kind: u8`
//! (0 keyword, 1 integer, 2 float, 3 bool, 4 geo, 5 text, 6 uuid, 7 datetime), `points: u64`,
//! then per point: the id (`0` + `u64`, or `1` + 16 UUID bytes), `counted: u8`, `keys: u32`,
//! then per key a tag and its value: `0` string (`len: u32` + UTF-8), `1` integer (`i128`),
//! `2` float (`f64`), `3` bool (`u8`), `4` datetime (`i64` microseconds), `5` geo (`lon: f64`,
//! `lat: f64`). The value → points map is rebuilt from the points' keys. The caller adds a
//! magic and a checksum.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::{FieldIndex, Key, PayloadIndex, PayloadSchemaType};
use crate::{GeoPoint, JsonPath, PointId};

fn kind_code(k: PayloadSchemaType) -> u8 {
    use PayloadSchemaType as K;
    match k {
        K::Keyword => 0,
        K::Integer => 1,
        K::Float => 2,
        K::Bool => 3,
        K::Geo => 4,
        K::Text => 5,
        K::Uuid => 6,
        K::Datetime => 7,
    }
}

fn kind_of(code: u8) -> Option<PayloadSchemaType> {
    use PayloadSchemaType as K;
    Some(match code {
        0 => K::Keyword,
        1 => K::Integer,
        2 => K::Float,
        3 => K::Bool,
        4 => K::Geo,
        5 => K::Text,
        6 => K::Uuid,
        7 => K::Datetime,
        _ => return None,
    })
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.buf.len() - self.pos < n {
            return Err(format!("truncated at byte {}", self.pos));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        Ok(self.take(N)?.try_into().expect("N bytes"))
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    fn f64(&mut self) -> Result<f64, String> {
        Ok(f64::from_le_bytes(self.array()?))
    }
    fn str(&mut self) -> Result<String, String> {
        let n = self.u32()? as usize;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| "a string is not UTF-8".to_string())
    }
}

impl PayloadIndex {
    /// The indexes as bytes (see the module documentation).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&(self.fields.len() as u32).to_le_bytes());
        for f in &self.fields {
            out.extend_from_slice(&(f.name.len() as u32).to_le_bytes());
            out.extend_from_slice(f.name.as_bytes());
            out.push(kind_code(f.kind));
            out.extend_from_slice(&(f.points.len() as u64).to_le_bytes());
            for (id, (keys, counted)) in &f.points {
                match id {
                    PointId::Num(n) => {
                        out.push(0);
                        out.extend_from_slice(&n.to_le_bytes());
                    }
                    PointId::Uuid(u) => {
                        out.push(1);
                        out.extend_from_slice(u.as_bytes());
                    }
                }
                out.push(u8::from(*counted));
                out.extend_from_slice(&(keys.len() as u32).to_le_bytes());
                for k in keys {
                    match k {
                        Key::Str(s) => {
                            out.push(0);
                            out.extend_from_slice(&(s.len() as u32).to_le_bytes());
                            out.extend_from_slice(s.as_bytes());
                        }
                        Key::Int(i) => {
                            out.push(1);
                            out.extend_from_slice(&i.to_le_bytes());
                        }
                        Key::Float(x) => {
                            out.push(2);
                            out.extend_from_slice(&x.to_le_bytes());
                        }
                        Key::Bool(b) => {
                            out.push(3);
                            out.push(u8::from(*b));
                        }
                        Key::Time(t) => {
                            out.push(4);
                            out.extend_from_slice(&t.to_le_bytes());
                        }
                        Key::Geo(g) => {
                            out.push(5);
                            out.extend_from_slice(&g.lon.to_le_bytes());
                            out.extend_from_slice(&g.lat.to_le_bytes());
                        }
                        Key::Probe(..) => unreachable!("probes are never stored"),
                    }
                }
            }
        }
        out
    }

    /// Reads indexes written by [`PayloadIndex::to_bytes`]; the error says what is wrong.
    pub fn from_bytes(bytes: &[u8]) -> Result<PayloadIndex, String> {
        let mut r = Reader { buf: bytes, pos: 0 };
        let n_fields = r.u32()? as usize;
        let mut fields = Vec::with_capacity(n_fields.min(1024));
        for _ in 0..n_fields {
            let name = r.str()?;
            let path = JsonPath::parse(&name).map_err(|e| format!("field `{name}`: {e}"))?;
            let kind = kind_of(r.u8()?).ok_or("unknown index kind")?;
            let n_points = usize::try_from(r.u64()?).map_err(|_| "too many points")?;
            let mut map: BTreeMap<Key, HashSet<PointId>> = BTreeMap::new();
            let mut points = HashMap::with_capacity(n_points.min(1 << 24));
            let mut counted_points = 0;
            for _ in 0..n_points {
                let id = match r.u8()? {
                    0 => PointId::Num(r.u64()?),
                    1 => PointId::Uuid(uuid::Uuid::from_bytes(r.array()?)),
                    t => return Err(format!("unknown id tag {t}")),
                };
                let counted = match r.u8()? {
                    0 => false,
                    1 => true,
                    b => return Err(format!("bad flag {b}")),
                };
                let n_keys = r.u32()? as usize;
                let mut keys = Vec::with_capacity(n_keys.min(1 << 16));
                for _ in 0..n_keys {
                    let k = match r.u8()? {
                        0 => Key::Str(r.str()?),
                        1 => Key::Int(i128::from_le_bytes(r.array()?)),
                        2 => Key::Float(r.f64()?),
                        3 => Key::Bool(r.u8()? != 0),
                        4 => Key::Time(i64::from_le_bytes(r.array()?)),
                        5 => {
                            let lon = r.f64()?;
                            let lat = r.f64()?;
                            Key::Geo(GeoPoint { lon, lat })
                        }
                        t => return Err(format!("unknown key tag {t}")),
                    };
                    map.entry(k.clone()).or_default().insert(id);
                    keys.push(k);
                }
                counted_points += usize::from(counted);
                if points.insert(id, (keys, counted)).is_some() {
                    return Err(format!("point {id} is listed twice in field `{name}`"));
                }
            }
            fields.push(FieldIndex {
                name,
                path,
                kind,
                map,
                points,
                counted: counted_points,
            });
        }
        if r.pos != bytes.len() {
            return Err("trailing bytes".into());
        }
        Ok(PayloadIndex { fields })
    }

    /// Keeps only the fields `keep` accepts (name and kind).
    pub fn retain_fields(&mut self, keep: impl Fn(&str, PayloadSchemaType) -> bool) {
        self.fields.retain(|f| keep(&f.name, f.kind));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn indexes_round_trip_and_answer_the_same() {
        use crate::{Filter, Payload};
        let payloads: Vec<(PointId, Payload)> = (0..300u64)
            .map(|i| {
                let id = if i % 7 == 0 {
                    PointId::Uuid(uuid::Uuid::from_u128(i as u128 + 1))
                } else {
                    PointId::Num(i)
                };
                let p = json!({
                    "k": format!("v{}", i % 5), "n": i % 11, "f": i as f64 / 3.0, "b": i % 2 == 0,
                    "t": format!("hello world number {}", i % 4),
                    "d": format!("2024-01-{:02}T10:00:00Z", 1 + i % 28),
                    "g": {"lon": (i % 50) as f64, "lat": (i % 30) as f64},
                    "u": "550e8400-e29b-41d4-a716-446655440000",
                });
                (id, p.as_object().unwrap().clone())
            })
            .collect();
        let mut ix = PayloadIndex::new();
        for (field, kind) in [
            ("k", PayloadSchemaType::Keyword),
            ("n", PayloadSchemaType::Integer),
            ("f", PayloadSchemaType::Float),
            ("b", PayloadSchemaType::Bool),
            ("t", PayloadSchemaType::Text),
            ("d", PayloadSchemaType::Datetime),
            ("g", PayloadSchemaType::Geo),
            ("u", PayloadSchemaType::Uuid),
        ] {
            ix.create_field(field, kind, payloads.iter().map(|(i, p)| (*i, p)))
                .unwrap();
        }
        let bytes = ix.to_bytes();
        let back = PayloadIndex::from_bytes(&bytes).unwrap();
        assert_eq!(back.fields(), ix.fields());
        for f in [
            json!({"must": [{"key": "k", "match": {"value": "v3"}}]}),
            json!({"must": [{"key": "n", "range": {"gte": 4, "lt": 8}}]}),
            json!({"must": [{"key": "f", "range": {"gt": 10.5}}]}),
            json!({"must": [{"key": "b", "match": {"value": true}}]}),
            json!({"must": [{"key": "t", "match": {"text": "number 2"}}]}),
            json!({"must": [{"key": "d", "range": {"gte": "2024-01-10T00:00:00Z"}}]}),
            json!({"must": [{"key": "g", "geo_radius": {"center": {"lon": 10.0, "lat": 10.0}, "radius": 500000.0}}]}),
        ] {
            let filter = Filter::from_qdrant(&f).unwrap();
            let want = ix.candidates(&filter).map(sorted);
            assert!(want.is_some(), "the index answers {f}");
            assert_eq!(back.candidates(&filter).map(sorted), want, "{f}");
        }
        // every truncation is refused, never misread
        for cut in [0, 1, 5, bytes.len() / 2, bytes.len() - 1] {
            assert!(
                PayloadIndex::from_bytes(&bytes[..cut]).is_err(),
                "cut at {cut}"
            );
        }
    }

    fn sorted(s: HashSet<PointId>) -> Vec<PointId> {
        let mut v: Vec<PointId> = s.into_iter().collect();
        v.sort();
        v
    }
}
