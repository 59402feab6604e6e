//! Binary encodings of logged operations and of collection checkpoints (legacy: read when a
//! collection has no `state.bin`, written only inside snapshots of in-memory collections).
//!
//! All integers little-endian. A string is `len: u32` + UTF-8 bytes. A point id is a tag byte
//! (`0` = u64 follows, `1` = 16 UUID bytes follow). A vector is `dim: u32` then `dim` f32
//! values; a sparse vector is the marker `u32::MAX` in place of `dim`, then `count: u32`, `count`
//! indices (u32, strictly increasing) and `count` f32 values; a multivector is the marker
//! `u32::MAX - 1` in place of `dim`, then `dim: u32`, `rows: u32` and `rows × dim` f32 values
//! (row after row). Named vectors are `count: u32` then `count` × (name string, vector: dense,
//! sparse or multi). A payload is
//! `len: u32` then `len` bytes of JSON (an object; `len = 0` is the empty payload). An id list
//! is `count: u32` then ids.
//!
//! Operation (a WAL record body): `tag: u8`, then
//! - `1` Upsert: `count: u32`, then `count` × (id, named vectors, payload);
//! - `2` Delete: id list;
//! - `3` SetPayload: id list, payload, `has_key: u8`, [key string];
//! - `4` OverwritePayload: id list, payload;
//! - `5` DeletePayload: id list, `count: u32`, `count` × key string;
//! - `6` ClearPayload: id list;
//! - `7` UpdateVectors: `count: u32`, then `count` × (id, named vectors);
//! - `8` DeleteVectors: id list, `count: u32`, `count` × name string.
//!
//! Operations name their points by id (a filter is resolved before logging), so replaying the
//! log rebuilds exactly the state the acknowledged writes produced.
//!
//! Checkpoint file (`checkpoint.bin`): magic `RVDBCKP2`, then a checksummed block
//! (`crc32c: u32` + body, see `rvdb_storage::checksummed`) whose body is `last_seq: u64`,
//! `spaces: u32` × (name string, `dim: u32` with `u32::MAX` = not fixed yet), `count: u64`, then
//! `count` × (id, `version: u64`, named vectors, payload). Payload indexes are rebuilt from the
//! payloads on load.

use rvdb_filter::{Payload, PointId};

use crate::segment::Segment;
use crate::segments::Segments;
use rvdb_index::SparseVector;

use crate::types::{NamedVectors, Vector};
use crate::{EngineError, PointStruct, Result};

/// A logged write. Replaying the same operations in order rebuilds the same state.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Operation {
    Upsert(Vec<PointStruct>),
    Delete(Vec<PointId>),
    SetPayload {
        ids: Vec<PointId>,
        payload: Payload,
        key: Option<String>,
    },
    OverwritePayload {
        ids: Vec<PointId>,
        payload: Payload,
    },
    DeletePayload {
        ids: Vec<PointId>,
        keys: Vec<String>,
    },
    ClearPayload(Vec<PointId>),
    UpdateVectors(Vec<(PointId, NamedVectors)>),
    DeleteVectors {
        ids: Vec<PointId>,
        names: Vec<String>,
    },
}

const CHECKPOINT_MAGIC: &[u8; 8] = b"RVDBCKP2";

/// In place of a dense vector's `dim`: a sparse vector follows.
const SPARSE_MARKER: u32 = u32::MAX;
/// In place of a dense vector's `dim`: a multivector follows.
const MULTI_MARKER: u32 = u32::MAX - 1;

#[derive(Default)]
pub(crate) struct Writer(pub(crate) Vec<u8>);

impl Writer {
    pub(crate) fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    pub(crate) fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn len(&mut self, n: usize) {
        self.u32(u32::try_from(n).expect("fewer than 2^32 items"));
    }
    pub(crate) fn str(&mut self, s: &str) {
        self.len(s.len());
        self.0.extend_from_slice(s.as_bytes());
    }
    pub(crate) fn id(&mut self, id: PointId) {
        match id {
            PointId::Num(n) => {
                self.u8(0);
                self.u64(n);
            }
            PointId::Uuid(u) => {
                self.u8(1);
                self.0.extend_from_slice(u.as_bytes());
            }
        }
    }
    pub(crate) fn ids(&mut self, ids: &[PointId]) {
        self.len(ids.len());
        for id in ids {
            self.id(*id);
        }
    }
    pub(crate) fn vector(&mut self, v: &[f32]) {
        self.len(v.len());
        self.0.reserve(v.len() * 4);
        for x in v {
            self.0.extend_from_slice(&x.to_le_bytes());
        }
    }
    pub(crate) fn sparse(&mut self, v: &SparseVector) {
        self.len(v.len());
        self.0.reserve(v.len() * 8);
        for i in v.indices() {
            self.0.extend_from_slice(&i.to_le_bytes());
        }
        for x in v.values() {
            self.0.extend_from_slice(&x.to_le_bytes());
        }
    }
    /// A multivector's `dim`, `rows` and values (no marker).
    pub(crate) fn multi(&mut self, rows: &[Vec<f32>]) {
        self.len(rows.first().map_or(0, Vec::len));
        self.len(rows.len());
        for row in rows {
            for x in row {
                self.0.extend_from_slice(&x.to_le_bytes());
            }
        }
    }
    pub(crate) fn vectors(&mut self, vs: &NamedVectors) {
        self.len(vs.len());
        for (name, v) in vs {
            self.str(name);
            match v {
                Vector::Dense(v) => self.vector(v),
                Vector::Sparse(v) => {
                    self.u32(SPARSE_MARKER);
                    self.sparse(v);
                }
                Vector::Multi(rows) => {
                    self.u32(MULTI_MARKER);
                    self.multi(rows);
                }
            }
        }
    }
    pub(crate) fn payload(&mut self, p: &Payload) {
        if p.is_empty() {
            self.u32(0);
            return;
        }
        let json = serde_json::to_vec(p).expect("a JSON map always serializes");
        self.len(json.len());
        self.0.extend_from_slice(&json);
    }
    pub(crate) fn strs(&mut self, items: &[String]) {
        self.len(items.len());
        for s in items {
            self.str(s);
        }
    }
}

impl Operation {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        match self {
            Operation::Upsert(points) => {
                w.u8(1);
                w.len(points.len());
                for p in points {
                    w.id(p.id);
                    w.vectors(&p.vectors);
                    w.payload(&p.payload);
                }
            }
            Operation::Delete(ids) => {
                w.u8(2);
                w.ids(ids);
            }
            Operation::SetPayload { ids, payload, key } => {
                w.u8(3);
                w.ids(ids);
                w.payload(payload);
                match key {
                    Some(k) => {
                        w.u8(1);
                        w.str(k);
                    }
                    None => w.u8(0),
                }
            }
            Operation::OverwritePayload { ids, payload } => {
                w.u8(4);
                w.ids(ids);
                w.payload(payload);
            }
            Operation::DeletePayload { ids, keys } => {
                w.u8(5);
                w.ids(ids);
                w.strs(keys);
            }
            Operation::ClearPayload(ids) => {
                w.u8(6);
                w.ids(ids);
            }
            Operation::UpdateVectors(points) => {
                w.u8(7);
                w.len(points.len());
                for (id, vs) in points {
                    w.id(*id);
                    w.vectors(vs);
                }
            }
            Operation::DeleteVectors { ids, names } => {
                w.u8(8);
                w.ids(ids);
                w.strs(names);
            }
        }
        w.0
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Operation> {
        let mut r = Reader::new(bytes, "WAL record");
        let op = match r.u8()? {
            1 => {
                let n = r.count()?;
                let mut points = Vec::with_capacity(n.min(1 << 16));
                for _ in 0..n {
                    points.push(PointStruct {
                        id: r.id()?,
                        vectors: r.vectors()?,
                        payload: r.payload()?,
                    });
                }
                Operation::Upsert(points)
            }
            2 => Operation::Delete(r.ids()?),
            3 => {
                let ids = r.ids()?;
                let payload = r.payload()?;
                let key = match r.u8()? {
                    0 => None,
                    _ => Some(r.str()?),
                };
                Operation::SetPayload { ids, payload, key }
            }
            4 => Operation::OverwritePayload {
                ids: r.ids()?,
                payload: r.payload()?,
            },
            5 => Operation::DeletePayload {
                ids: r.ids()?,
                keys: r.strs()?,
            },
            6 => Operation::ClearPayload(r.ids()?),
            7 => {
                let n = r.count()?;
                let mut points = Vec::with_capacity(n.min(1 << 16));
                for _ in 0..n {
                    points.push((r.id()?, r.vectors()?));
                }
                Operation::UpdateVectors(points)
            }
            8 => Operation::DeleteVectors {
                ids: r.ids()?,
                names: r.strs()?,
            },
            t => return Err(r.corrupt(format!("unknown operation tag {t}"))),
        };
        r.finish()?;
        Ok(op)
    }
}

/// Serializes every live point of every segment as of `last_seq` into a checkpoint file's bytes.
pub(crate) fn encode_checkpoint(segs: &Segments, last_seq: u64) -> Vec<u8> {
    let mut w = Writer::default();
    w.u64(last_seq);
    let spaces: Vec<_> = segs
        .appendable
        .columns()
        .map(|(n, _)| n.to_string())
        .collect();
    w.len(spaces.len());
    for name in &spaces {
        w.str(name);
        w.u32(segs.dim(name).map_or(u32::MAX, |d| d as u32));
    }
    w.u64(segs.len() as u64);
    for loc in segs.live_in_id_order(None, None) {
        let (seg, row) = segs.at(loc);
        w.id(seg.id(row));
        w.u64(seg.version(row));
        w.vectors(&seg.vectors(row));
        w.payload(seg.payload(row));
    }
    let mut out = CHECKPOINT_MAGIC.to_vec();
    out.extend_from_slice(&rvdb_storage::checksummed(&w.0));
    out
}

/// Rebuilds a segment from checkpoint bytes; returns it with the last sequence number it holds.
pub(crate) fn decode_checkpoint(bytes: &[u8]) -> Result<(Segment, u64)> {
    let corrupt = |reason: &str| EngineError::Corrupt {
        what: "checkpoint".into(),
        reason: reason.into(),
    };
    let rest = bytes
        .strip_prefix(CHECKPOINT_MAGIC.as_slice())
        .ok_or_else(|| corrupt("bad magic"))?;
    let body =
        rvdb_storage::verify_checksummed(rest).ok_or_else(|| corrupt("checksum mismatch"))?;
    let mut r = Reader::new(body, "checkpoint");
    let last_seq = r.u64()?;
    let seg = crate::persist::decode_rows(&mut r)?;
    r.finish()?;
    Ok((seg, last_seq))
}

/// A bounds-checked little-endian reader; every failure is a `Corrupt` error.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8], what: &'static str) -> Self {
        Reader { buf, pos: 0, what }
    }

    pub(crate) fn corrupt(&self, reason: String) -> EngineError {
        EngineError::Corrupt {
            what: self.what.into(),
            reason: format!("{reason} (at byte {})", self.pos),
        }
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.buf.len() - self.pos < n {
            return Err(self.corrupt(format!("truncated: wanted {n} more bytes")));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub(crate) fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    pub(crate) fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    pub(crate) fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }

    pub(crate) fn count(&mut self) -> Result<usize> {
        Ok(self.u32()? as usize)
    }

    pub(crate) fn str(&mut self) -> Result<String> {
        let n = self.count()?;
        let bytes = self.take(n)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| self.corrupt("a string is not UTF-8".into()))
    }

    pub(crate) fn strs(&mut self) -> Result<Vec<String>> {
        let n = self.count()?;
        (0..n).map(|_| self.str()).collect()
    }

    pub(crate) fn id(&mut self) -> Result<PointId> {
        match self.u8()? {
            0 => Ok(PointId::Num(self.u64()?)),
            1 => Ok(PointId::Uuid(uuid::Uuid::from_bytes(
                self.take(16)?.try_into().expect("16 bytes"),
            ))),
            t => Err(self.corrupt(format!("unknown id tag {t}"))),
        }
    }

    pub(crate) fn ids(&mut self) -> Result<Vec<PointId>> {
        let n = self.count()?;
        let mut ids = Vec::with_capacity(n.min(1 << 16));
        for _ in 0..n {
            ids.push(self.id()?);
        }
        Ok(ids)
    }

    pub(crate) fn vector(&mut self) -> Result<Vec<f32>> {
        let n = self.count()?;
        let bytes = self.take(
            n.checked_mul(4)
                .ok_or_else(|| self.corrupt("huge vector".into()))?,
        )?;
        Ok(bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect())
    }

    pub(crate) fn sparse(&mut self) -> Result<SparseVector> {
        let n = self.count()?;
        let bytes = self.take(
            n.checked_mul(8)
                .ok_or_else(|| self.corrupt("huge sparse vector".into()))?,
        )?;
        let (idx, val) = bytes.split_at(n * 4);
        let indices: Vec<u32> = idx
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect();
        if !indices.windows(2).all(|w| w[0] < w[1]) {
            return Err(self.corrupt("sparse vector indices out of order".into()));
        }
        let values = val
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect();
        SparseVector::new(indices, values)
            .map_err(|e| self.corrupt(format!("bad sparse vector: {e}")))
    }

    /// A multivector written by [`Writer::multi`].
    pub(crate) fn multi(&mut self) -> Result<Vec<Vec<f32>>> {
        let dim = self.count()?;
        let rows = self.count()?;
        let n = dim
            .checked_mul(rows)
            .and_then(|n| n.checked_mul(4))
            .ok_or_else(|| self.corrupt("huge multivector".into()))?;
        if dim == 0 && rows > 0 {
            return Err(self.corrupt("multivector rows of no values".into()));
        }
        let bytes = self.take(n)?;
        Ok(bytes
            .chunks_exact(dim.max(1) * 4)
            .map(|row| {
                row.chunks_exact(4)
                    .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
                    .collect()
            })
            .collect())
    }

    /// A dense, sparse or multi vector (see the module docs).
    fn any_vector(&mut self) -> Result<Vector> {
        let at = self.pos;
        match self.u32()? {
            SPARSE_MARKER => return Ok(Vector::Sparse(self.sparse()?)),
            MULTI_MARKER => return Ok(Vector::Multi(self.multi()?)),
            _ => {}
        }
        self.pos = at;
        Ok(Vector::Dense(self.vector()?))
    }

    pub(crate) fn vectors(&mut self) -> Result<NamedVectors> {
        let n = self.count()?;
        let mut out = NamedVectors::new();
        for _ in 0..n {
            let name = self.str()?;
            out.insert(name, self.any_vector()?);
        }
        Ok(out)
    }

    /// Whether every byte has been read.
    pub(crate) fn at_end(&self) -> bool {
        self.pos == self.buf.len()
    }

    pub(crate) fn payload(&mut self) -> Result<Payload> {
        let n = self.count()?;
        if n == 0 {
            return Ok(Payload::new());
        }
        let bytes = self.take(n)?;
        serde_json::from_slice(bytes).map_err(|e| self.corrupt(format!("bad payload JSON: {e}")))
    }

    pub(crate) fn finish(&self) -> Result<()> {
        if self.pos != self.buf.len() {
            return Err(self.corrupt("trailing bytes".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn payload(v: serde_json::Value) -> Payload {
        v.as_object().unwrap().clone()
    }

    fn named(pairs: &[(&str, &[f32])]) -> NamedVectors {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), Vector::Dense(v.to_vec())))
            .collect()
    }

    fn sparse(indices: &[u32], values: &[f32]) -> Vector {
        Vector::Sparse(SparseVector::new(indices.to_vec(), values.to_vec()).unwrap())
    }

    #[test]
    fn operations_round_trip() {
        let u = PointId::new_uuid();
        let ops = [
            Operation::Upsert(vec![
                PointStruct::new(
                    PointId::Num(7),
                    vec![1.0, -2.5, f32::MIN_POSITIVE],
                    payload(json!({"a": [1, {"b": null}]})),
                ),
                PointStruct {
                    id: u,
                    vectors: named(&[("img", &[0.0; 3]), ("txt", &[1.0])]),
                    payload: Payload::new(),
                },
            ]),
            Operation::Delete(vec![PointId::Num(1), u]),
            Operation::Upsert(vec![]),
            Operation::SetPayload {
                ids: vec![u],
                payload: payload(json!({"k": 1})),
                key: Some("a.b".into()),
            },
            Operation::SetPayload {
                ids: vec![],
                payload: Payload::new(),
                key: None,
            },
            Operation::OverwritePayload {
                ids: vec![PointId::Num(3)],
                payload: payload(json!({"x": "y"})),
            },
            Operation::DeletePayload {
                ids: vec![PointId::Num(3)],
                keys: vec!["x".into(), "é".into()],
            },
            Operation::ClearPayload(vec![PointId::Num(9)]),
            Operation::UpdateVectors(vec![(PointId::Num(2), named(&[("img", &[1.0, 2.0])]))]),
            Operation::Upsert(vec![PointStruct {
                id: PointId::Num(4),
                vectors: NamedVectors::from([
                    ("img".to_string(), Vector::Dense(vec![0.5, 0.25])),
                    (
                        "text".to_string(),
                        sparse(&[9, 2, 70000], &[0.5, -1.0, 3.0]),
                    ),
                    ("empty".to_string(), sparse(&[], &[])),
                    (
                        "colbert".to_string(),
                        Vector::Multi(vec![vec![1.0, -2.0, 0.5], vec![0.0, 3.0, f32::MAX]]),
                    ),
                ]),
                payload: Payload::new(),
            }]),
            Operation::UpdateVectors(vec![(
                PointId::Num(4),
                NamedVectors::from([("text".to_string(), sparse(&[1], &[1.0]))]),
            )]),
            Operation::DeleteVectors {
                ids: vec![u],
                names: vec!["txt".into()],
            },
        ];
        for op in ops {
            assert_eq!(Operation::decode(&op.encode()).unwrap(), op);
        }
    }

    #[test]
    fn every_truncation_of_a_record_is_refused_not_misread() {
        let mut p = PointStruct::new(PointId::Num(1), vec![1.0, 2.0], payload(json!({"k": "v"})));
        p.vectors
            .insert("s".to_string(), sparse(&[3, 1], &[1.0, 2.0]));
        p.vectors.insert(
            "m".to_string(),
            Vector::Multi(vec![vec![1.0, 2.0], vec![3.0, 4.0]]),
        );
        let op = Operation::Upsert(vec![p]);
        let bytes = op.encode();
        for cut in 0..bytes.len() {
            assert!(Operation::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(Operation::decode(&extra).is_err());
    }

    #[test]
    fn checkpoint_round_trips_and_detects_a_flipped_byte() {
        use crate::datatype::Elem;
        let mut seg = Segment::new([("", Some(2), Elem::default()), ("b", None, Elem::default())]);
        seg.upsert(
            PointId::Num(3),
            &named(&[("", &[1.0, 2.0])]),
            payload(json!({"x": 1})),
            5,
        );
        seg.upsert(
            PointId::new_uuid(),
            &named(&[("", &[3.0, 4.0]), ("b", &[1.0])]),
            Payload::new(),
            6,
        );
        let segs = Segments::new(seg);
        let seg = &segs.appendable;
        let bytes = encode_checkpoint(&segs, 6);
        let (back, seq) = decode_checkpoint(&bytes).unwrap();
        assert_eq!(seq, 6);
        assert_eq!(back.len(), 2);
        for i in 0..2 {
            assert_eq!(back.id(i), seg.id(i));
            assert_eq!(back.version(i), seg.version(i));
            assert_eq!(back.vectors(i), seg.vectors(i));
            assert_eq!(back.payload(i), seg.payload(i));
        }
        let mut bad = bytes.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(decode_checkpoint(&bad).is_err());
    }
}
