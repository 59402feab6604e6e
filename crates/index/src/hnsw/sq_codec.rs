//! The byte format of a [`QuantizedHnsw`]'s codes (version 1), written beside the graph it was
//! built from: the quantizer and each node's code region, not the links (those are the graph's,
//! copied from it when the codes are read back). Little-endian throughout:
//!
//! | field | type | notes |
//! |---|---|---|
//! | magic | 8 bytes | `RVDBQNTZ` |
//! | version | u32 | 1 |
//! | kind | u32 | 0 scalar, 1 binary, 2 product, 3 turbo |
//! | distance, dim, n | u32 × 3 | must match the graph's |
//! | quantizer | per kind | scalar: `lo`, `step` (f32); binary: encoding (0 one bit, 1 two bits, 2 one and a half), query (0 as stored, 4 or 8 planes), stats count, `(mean, sd)` × count (f32); product: `k`, bounds count, bounds (u32), then per sub-space its centroids (f32); turbo: bits (1, 15, 2, 4), seed (u64) |
//! | words | u32 | words of a node's code region (codes, padding, correction terms) |
//! | regions | n × words × u32 | each node's region as in memory |
//! | checksum | u32 | CRC32C of every byte before it |
//!
//! Decoding checks the magic, version, checksum, every size, and that the quantizer fits the
//! graph; a file that does not is refused (the codes are then built again).

use rvdb_vector::Distance;

use super::codec::{distance_code, Reader};
use super::graph::{as_words, Layout};
use super::sq::{BinaryQuery, Codec};
use super::{HnswIndex, QuantizedHnsw};
use crate::quant::{
    BinaryEncoding, BinaryQuantizer, ProductQuantizer, ScalarQuantizer, TurboBits, TurboQuantizer,
};

const MAGIC: &[u8; 8] = b"RVDBQNTZ";
const VERSION: u32 = 1;

fn put(out: &mut Vec<u8>, x: u32) {
    out.extend_from_slice(&x.to_le_bytes());
}

fn put_f32(out: &mut Vec<u8>, x: f32) {
    put(out, x.to_bits());
}

/// Appends the codes' bytes to `buf` (the checksum covers those alone).
pub(crate) fn encode_into(q: &QuantizedHnsw, buf: &mut Vec<u8>) {
    let g = &q.graph;
    let start = buf.len();
    buf.reserve(64 + g.n * g.lay.words * 4);
    let out = buf;
    out.extend_from_slice(MAGIC);
    put(out, VERSION);
    let kind = match &q.codec {
        Codec::Scalar(_) => 0,
        Codec::Binary(..) => 1,
        Codec::Product(_) => 2,
        Codec::Turbo(_) => 3,
    };
    put(out, kind);
    put(out, distance_code(q.distance));
    put(out, q.dim() as u32);
    put(out, g.n as u32);
    match &q.codec {
        Codec::Scalar(s) => {
            let (_, _, lo, step) = s.parts();
            put_f32(out, lo);
            put_f32(out, step);
        }
        Codec::Binary(b, query) => {
            put(
                out,
                match b.encoding() {
                    BinaryEncoding::OneBit => 0,
                    BinaryEncoding::TwoBits => 1,
                    BinaryEncoding::OneAndHalfBits => 2,
                },
            );
            put(out, query.planes() as u32);
            put(out, b.stats().len() as u32);
            for &(mean, sd) in b.stats() {
                put_f32(out, mean);
                put_f32(out, sd);
            }
        }
        Codec::Product(p) => {
            let (_, _, bounds, k, centroids) = p.parts();
            put(out, k as u32);
            put(out, bounds.len() as u32);
            for &b in bounds {
                put(out, b as u32);
            }
            for c in centroids {
                for &x in c {
                    put_f32(out, x);
                }
            }
        }
        Codec::Turbo(t) => {
            put(
                out,
                match t.bits() {
                    TurboBits::Bits1 => 1,
                    TurboBits::Bits1_5 => 15,
                    TurboBits::Bits2 => 2,
                    TurboBits::Bits4 => 4,
                },
            );
            out.extend_from_slice(&t.seed().to_le_bytes());
        }
    }
    let lay = &g.lay;
    put(out, lay.words as u32);
    let words = as_words(&g.blocks);
    for i in 0..g.n {
        let region = &words[i * lay.stride + lay.link_words..(i + 1) * lay.stride];
        for &w in region {
            put(out, w);
        }
    }
    let crc = crc32c::crc32c(&out[start..]);
    put(out, crc);
}

fn f32s(r: &mut Reader, count: usize) -> Result<Vec<f32>, String> {
    Ok(r.u32s(count)?.into_iter().map(f32::from_bits).collect())
}

/// The codes in `b` over `index`'s links (the graph they were built from).
pub(crate) fn decode(index: &HnswIndex, b: &[u8]) -> Result<QuantizedHnsw, String> {
    if b.len() < MAGIC.len() + 8 || &b[..MAGIC.len()] != MAGIC {
        return Err("not a quantized index (bad magic)".into());
    }
    let (body, tail) = b.split_at(b.len() - 4);
    let stored = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]);
    if crc32c::crc32c(body) != stored {
        return Err("quantized index checksum mismatch".into());
    }
    let mut r = Reader { b: body, pos: 8 };
    let version = r.u32()?;
    if version != VERSION {
        return Err(format!("unsupported quantized index version {version}"));
    }
    let kind = r.u32()?;
    let (distance, dim, n) = (r.u32()?, r.usize()?, r.usize()?);
    if distance != distance_code(index.distance) || dim != index.dim() || n != index.len() {
        return Err("the codes were built for another graph".into());
    }
    let d: Distance = index.distance;
    let (codec, code_bytes, tail) = match kind {
        0 => {
            let (lo, step) = (f32::from_bits(r.u32()?), f32::from_bits(r.u32()?));
            (
                Codec::Scalar(ScalarQuantizer::from_parts(d, dim, lo, step)),
                dim,
                4,
            )
        }
        1 => {
            let encoding = match r.u32()? {
                0 => BinaryEncoding::OneBit,
                1 => BinaryEncoding::TwoBits,
                2 => BinaryEncoding::OneAndHalfBits,
                e => return Err(format!("unknown binary encoding {e}")),
            };
            let query = match r.u32()? {
                0 => BinaryQuery::SameAsStorage,
                4 => BinaryQuery::Scalar4Bits,
                8 => BinaryQuery::Scalar8Bits,
                e => return Err(format!("unknown binary query encoding {e}")),
            };
            let count = r.usize()?;
            if count != 0 && count != dim {
                return Err("binary statistics do not fit the dimension".into());
            }
            let flat = f32s(&mut r, count * 2)?;
            let stats = flat.chunks_exact(2).map(|p| (p[0], p[1])).collect();
            let q = BinaryQuantizer::from_parts(dim, encoding, stats);
            let bytes = q.code_bytes();
            (Codec::Binary(q, query), bytes, 0)
        }
        2 => {
            let k = r.usize()?;
            let count = r.usize()?;
            if count == 0 || count > dim + 1 {
                return Err("product sub-spaces do not fit the dimension".into());
            }
            let bounds: Vec<usize> = r.u32s(count)?.into_iter().map(|b| b as usize).collect();
            let mut centroids = Vec::with_capacity(count - 1);
            for w in bounds.windows(2) {
                let len = w[1]
                    .checked_sub(w[0])
                    .and_then(|l| l.checked_mul(k))
                    .filter(|&l| l <= 256 * dim)
                    .ok_or("product sub-spaces out of order")?;
                centroids.push(f32s(&mut r, len)?);
            }
            let q = ProductQuantizer::from_parts(d, dim, bounds, k, centroids)?;
            let m = q.code_bytes();
            (Codec::Product(Box::new(q)), m, 0)
        }
        3 => {
            let bits = match r.u32()? {
                1 => TurboBits::Bits1,
                15 => TurboBits::Bits1_5,
                2 => TurboBits::Bits2,
                4 => TurboBits::Bits4,
                b => return Err(format!("unknown turbo bit size {b}")),
            };
            let s = r.bytes(8)?;
            let seed = u64::from_le_bytes(s.try_into().expect("8 bytes"));
            let q = TurboQuantizer::new(dim, bits, seed);
            let m = q.padded_code_bytes();
            (Codec::Turbo(Box::new(q)), m, 8)
        }
        k => return Err(format!("unknown quantization kind {k}")),
    };
    let src = &index.graph.lay;
    let lay = Layout::for_codes(code_bytes, tail, src.cap0, src.cap_up);
    if r.usize()? != lay.words {
        return Err("code regions do not fit the quantizer".into());
    }
    let len = n
        .checked_mul(lay.words * 4)
        .ok_or("quantized index size overflow")?;
    if r.pos.checked_add(len) != Some(body.len()) {
        return Err("the code regions do not fill the file".into());
    }
    let regions = r.bytes(len)?;
    Ok(QuantizedHnsw::assemble(
        index,
        codec,
        lay,
        |_, i, region: &mut [u32]| {
            let bytes = &regions[i * lay.words * 4..(i + 1) * lay.words * 4];
            for (w, c) in region.iter_mut().zip(bytes.chunks_exact(4)) {
                *w = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
            }
        },
    ))
}
