//! Binary encodings of logged operations and of collection checkpoints.
//!
//! All integers little-endian. A point id is a tag byte (`0` = u64 follows, `1` = 16 UUID bytes
//! follow). A vector is `dim: u32` then `dim` f32 values. A payload is `len: u32` then `len` bytes
//! of JSON (an object).
//!
//! Operation (a WAL record body): `tag: u8`, then
//! - `1` Upsert: `count: u32`, then `count` × (id, vector, payload);
//! - `2` Delete: `count: u32`, then `count` × id.
//!
//! Checkpoint file (`checkpoint.bin`): magic `RVDBCKP1`, then a checksummed block
//! (`crc32c: u32` + body, see `rvdb_storage::checksummed`) whose body is `last_seq: u64`,
//! `dim: u32` (`u32::MAX` = not fixed yet), `count: u64`, then `count` × (id, `version: u64`,
//! vector, payload).

use rvdb_filter::{Payload, PointId};

use crate::segment::Segment;
use crate::{EngineError, PointStruct, Result};

/// A logged write. Replaying the same operations in order rebuilds the same state.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Operation {
    Upsert(Vec<PointStruct>),
    Delete(Vec<PointId>),
}

const OP_UPSERT: u8 = 1;
const OP_DELETE: u8 = 2;
const CHECKPOINT_MAGIC: &[u8; 8] = b"RVDBCKP1";

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_id(out: &mut Vec<u8>, id: PointId) {
    match id {
        PointId::Num(n) => {
            out.push(0);
            put_u64(out, n);
        }
        PointId::Uuid(u) => {
            out.push(1);
            out.extend_from_slice(u.as_bytes());
        }
    }
}

fn put_vector(out: &mut Vec<u8>, v: &[f32]) {
    put_u32(out, v.len() as u32);
    out.reserve(v.len() * 4);
    for x in v {
        out.extend_from_slice(&x.to_le_bytes());
    }
}

fn put_payload(out: &mut Vec<u8>, p: &Payload) {
    if p.is_empty() {
        put_u32(out, 0);
        return;
    }
    let json = serde_json::to_vec(p).expect("a JSON map always serializes");
    put_u32(out, json.len() as u32);
    out.extend_from_slice(&json);
}

impl Operation {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Operation::Upsert(points) => {
                out.push(OP_UPSERT);
                put_u32(&mut out, points.len() as u32);
                for p in points {
                    put_id(&mut out, p.id);
                    put_vector(&mut out, &p.vector);
                    put_payload(&mut out, &p.payload);
                }
            }
            Operation::Delete(ids) => {
                out.push(OP_DELETE);
                put_u32(&mut out, ids.len() as u32);
                for id in ids {
                    put_id(&mut out, *id);
                }
            }
        }
        out
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Operation> {
        let mut r = Reader::new(bytes, "WAL record");
        let op = match r.u8()? {
            OP_UPSERT => {
                let n = r.u32()? as usize;
                let mut points = Vec::with_capacity(n.min(1 << 16));
                for _ in 0..n {
                    let id = r.id()?;
                    let vector = r.vector()?;
                    let payload = r.payload()?;
                    points.push(PointStruct {
                        id,
                        vector,
                        payload,
                    });
                }
                Operation::Upsert(points)
            }
            OP_DELETE => {
                let n = r.u32()? as usize;
                let mut ids = Vec::with_capacity(n.min(1 << 16));
                for _ in 0..n {
                    ids.push(r.id()?);
                }
                Operation::Delete(ids)
            }
            t => return Err(r.corrupt(format!("unknown operation tag {t}"))),
        };
        r.finish()?;
        Ok(op)
    }
}

/// Serializes a whole segment as of `last_seq` into a checkpoint file's bytes.
pub(crate) fn encode_checkpoint(seg: &Segment, last_seq: u64) -> Vec<u8> {
    let mut body = Vec::with_capacity(16 + seg.len() * (seg.dim().unwrap_or(0) * 4 + 32));
    put_u64(&mut body, last_seq);
    put_u32(&mut body, seg.dim().map_or(u32::MAX, |d| d as u32));
    put_u64(&mut body, seg.len() as u64);
    for i in 0..seg.len() {
        let (id, version, vector, payload) = seg.row(i);
        put_id(&mut body, id);
        put_u64(&mut body, version);
        put_vector(&mut body, vector);
        put_payload(&mut body, payload);
    }
    let mut out = CHECKPOINT_MAGIC.to_vec();
    out.extend_from_slice(&rvdb_storage::checksummed(&body));
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
    let dim = match r.u32()? {
        u32::MAX => None,
        d => Some(d as usize),
    };
    let n = r.u64()? as usize;
    let mut seg = Segment::new(dim);
    for _ in 0..n {
        let id = r.id()?;
        let version = r.u64()?;
        let vector = r.vector()?;
        let payload = r.payload()?;
        if dim != Some(vector.len()) {
            return Err(r.corrupt("vector dimension differs from the collection's".into()));
        }
        seg.upsert(id, &vector, payload, version);
    }
    r.finish()?;
    Ok((seg, last_seq))
}

/// A bounds-checked little-endian reader; every failure is a `Corrupt` error.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8], what: &'static str) -> Self {
        Reader { buf, pos: 0, what }
    }

    fn corrupt(&self, reason: String) -> EngineError {
        EngineError::Corrupt {
            what: self.what.into(),
            reason: format!("{reason} (at byte {})", self.pos),
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.buf.len() - self.pos < n {
            return Err(self.corrupt(format!("truncated: wanted {n} more bytes")));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }

    fn id(&mut self) -> Result<PointId> {
        match self.u8()? {
            0 => Ok(PointId::Num(self.u64()?)),
            1 => Ok(PointId::Uuid(uuid::Uuid::from_bytes(
                self.take(16)?.try_into().expect("16 bytes"),
            ))),
            t => Err(self.corrupt(format!("unknown id tag {t}"))),
        }
    }

    fn vector(&mut self) -> Result<Vec<f32>> {
        let n = self.u32()? as usize;
        let bytes = self.take(
            n.checked_mul(4)
                .ok_or_else(|| self.corrupt("huge vector".into()))?,
        )?;
        Ok(bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect())
    }

    fn payload(&mut self) -> Result<Payload> {
        let n = self.u32()? as usize;
        if n == 0 {
            return Ok(Payload::new());
        }
        let bytes = self.take(n)?;
        serde_json::from_slice(bytes).map_err(|e| self.corrupt(format!("bad payload JSON: {e}")))
    }

    fn finish(&self) -> Result<()> {
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

    #[test]
    fn operations_round_trip() {
        let ops = [
            Operation::Upsert(vec![
                PointStruct::new(
                    PointId::Num(7),
                    vec![1.0, -2.5, f32::MIN_POSITIVE],
                    payload(json!({"a": [1, {"b": null}]})),
                ),
                PointStruct::new(PointId::new_uuid(), vec![0.0; 3], Payload::new()),
            ]),
            Operation::Delete(vec![PointId::Num(1), PointId::new_uuid()]),
            Operation::Upsert(vec![]),
        ];
        for op in ops {
            assert_eq!(Operation::decode(&op.encode()).unwrap(), op);
        }
    }

    #[test]
    fn every_truncation_of_a_record_is_refused_not_misread() {
        let op = Operation::Upsert(vec![PointStruct::new(
            PointId::Num(1),
            vec![1.0, 2.0],
            payload(json!({"k": "v"})),
        )]);
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
        let mut seg = Segment::new(Some(2));
        seg.upsert(PointId::Num(3), &[1.0, 2.0], payload(json!({"x": 1})), 5);
        seg.upsert(PointId::new_uuid(), &[3.0, 4.0], Payload::new(), 6);
        let bytes = encode_checkpoint(&seg, 6);
        let (back, seq) = decode_checkpoint(&bytes).unwrap();
        assert_eq!(seq, 6);
        assert_eq!(back.len(), 2);
        for i in 0..2 {
            assert_eq!(back.row(i), seg.row(i));
        }
        let mut bad = bytes.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(decode_checkpoint(&bad).is_err());
    }
}
