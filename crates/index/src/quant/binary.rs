//! Binary quantization (Qdrant's `binary`): a few bits per value, compared bit by bit.
//!
//! - `one_bit`: bit `i` is set when value `i` is positive. Two codes differ in as many bits as
//!   their values differ in sign, so the Hamming distance orders candidates roughly by angle.
//! - `two_bits`: each value is placed in one of three bands by its z-score over the data (per
//!   dimension: below `−⅔σ`, within `±⅔σ`, above `+⅔σ`) and written as a thermometer code in
//!   two bit planes (`00`, `10`, `11`: plane one holds "not low", plane two "high"), so the
//!   Hamming distance of two values is how many bands apart they are — values near zero no
//!   longer flip a whole bit.
//! - `one_and_half_bits`: as `two_bits`, but the "high" plane holds one bit per pair of values
//!   (either is high): 1.5 bits per value.
//!
//! A query is encoded the same way (a Hamming search), or kept at 4 or 8 bits per value
//! (Qdrant's asymmetric `scalar4bits`/`scalar8bits` query encodings;
//! [`BinaryQuantizer::query_planes`]), which scores it against the stored bits as a signed sum. A search oversamples and rescores
//! from the original vectors. It works best on high-dimensional, roughly centred embeddings.

/// How values are written as bits (Qdrant's `encoding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BinaryEncoding {
    #[default]
    OneBit,
    TwoBits,
    OneAndHalfBits,
}

/// The z-score bound of the middle band of the two-bit encodings.
const BAND: f32 = 2.0 / 3.0;

/// The bit codes of one vector space.
#[derive(Debug, Clone, PartialEq)]
pub struct BinaryQuantizer {
    dim: usize,
    encoding: BinaryEncoding,
    /// Per dimension `(mean, standard deviation)` of the data (the two-bit encodings only).
    stats: Vec<(f32, f32)>,
}

impl BinaryQuantizer {
    /// The one-bit encoding (no statistics needed).
    pub fn new(dim: usize) -> Self {
        BinaryQuantizer {
            dim,
            encoding: BinaryEncoding::OneBit,
            stats: Vec::new(),
        }
    }

    /// A quantizer for `encoding`, its bands fitted to `sample` (row-major, `dim` values a row)
    /// where the encoding has bands.
    pub fn train(encoding: BinaryEncoding, sample: &[f32], dim: usize) -> Self {
        let stats = if encoding == BinaryEncoding::OneBit || dim == 0 {
            Vec::new()
        } else {
            let rows = (sample.len() / dim).max(1) as f64;
            let mut sum = vec![0f64; dim];
            let mut sq = vec![0f64; dim];
            for row in sample.chunks_exact(dim) {
                for (i, &x) in row.iter().enumerate() {
                    let x = if x.is_finite() { x as f64 } else { 0.0 };
                    sum[i] += x;
                    sq[i] += x * x;
                }
            }
            sum.iter()
                .zip(&sq)
                .map(|(&s, &q)| {
                    let mean = s / rows;
                    (
                        (mean) as f32,
                        ((q / rows - mean * mean).max(0.0)).sqrt() as f32,
                    )
                })
                .collect()
        };
        BinaryQuantizer {
            dim,
            encoding,
            stats,
        }
    }

    /// Rebuilds a quantizer from its parts ([`BinaryQuantizer::stats`]).
    pub fn from_parts(dim: usize, encoding: BinaryEncoding, stats: Vec<(f32, f32)>) -> Self {
        BinaryQuantizer {
            dim,
            encoding,
            stats,
        }
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn encoding(&self) -> BinaryEncoding {
        self.encoding
    }

    /// The per-dimension `(mean, standard deviation)` the bands are fitted to (empty for
    /// `one_bit`).
    pub fn stats(&self) -> &[(f32, f32)] {
        &self.stats
    }

    /// Bits per code: `dim`, `2·dim` or `dim + ⌈dim/2⌉`.
    pub fn bits(&self) -> usize {
        match self.encoding {
            BinaryEncoding::OneBit => self.dim,
            BinaryEncoding::TwoBits => 2 * self.dim,
            BinaryEncoding::OneAndHalfBits => self.dim + self.dim.div_ceil(2),
        }
    }

    /// Bytes per code: `⌈bits / 8⌉`.
    pub fn code_bytes(&self) -> usize {
        self.bits().div_ceil(8)
    }

    /// The band of value `i`: 0 low, 1 middle, 2 high (a value whose dimension does not vary
    /// is low or middle by its sign).
    fn band(&self, i: usize, x: f32) -> u8 {
        let (mean, sd) = self.stats.get(i).copied().unwrap_or((0.0, 0.0));
        if sd < f32::EPSILON {
            return u8::from(x > 0.0);
        }
        let z = (x - mean) / sd;
        if z <= -BAND {
            0
        } else if z < BAND {
            1
        } else {
            2
        }
    }

    /// The code of one vector (bit `j % 8` of byte `j / 8` for bit `j`), appended to `out`.
    pub fn encode_into(&self, v: &[f32], out: &mut Vec<u8>) {
        let start = out.len();
        out.resize(start + self.code_bytes(), 0);
        let code = &mut out[start..];
        let mut set = |j: usize| code[j / 8] |= 1 << (j % 8);
        let dim = self.dim;
        for (i, &x) in v.iter().take(dim).enumerate() {
            match self.encoding {
                BinaryEncoding::OneBit => {
                    if x > 0.0 {
                        set(i);
                    }
                }
                BinaryEncoding::TwoBits | BinaryEncoding::OneAndHalfBits => {
                    let band = self.band(i, x);
                    if band >= 1 {
                        set(i);
                    }
                    if band == 2 {
                        set(if self.encoding == BinaryEncoding::TwoBits {
                            dim + i
                        } else {
                            dim + i / 2
                        });
                    }
                }
            }
        }
    }

    /// The query as the encoding's bits see it, one value per code bit: the values, then (two
    /// bits) the values again, or (one and a half) the larger of each pair.
    pub fn extend_query(&self, q: &[f32]) -> Vec<f32> {
        let q = &q[..self.dim.min(q.len())];
        let mut out = Vec::with_capacity(self.bits());
        out.extend_from_slice(q);
        match self.encoding {
            BinaryEncoding::OneBit => {}
            BinaryEncoding::TwoBits => out.extend_from_slice(q),
            BinaryEncoding::OneAndHalfBits => out.extend(
                q.chunks(2)
                    .map(|p| p.iter().copied().fold(f32::MIN, f32::max)),
            ),
        }
        out
    }

    /// An asymmetric query (Qdrant's `scalar8bits` and `scalar4bits` query encodings,
    /// `planes` 8 or 4): the [extended](BinaryQuantizer::extend_query) query's values as
    /// integers `d = round((q − lo) / step)` over their own range (`2^planes − 1` steps), split
    /// into `planes` bit planes laid out like the codes, each `stride ≥ code_bytes` bytes apart
    /// (plane `k` holds bit `k` of every `d`). Returns the planes and `(lo, step, Σq)`.
    /// Against a code `b`, `Σ q·(2b − 1) ≈ 2·(lo·|b| + step·Σₖ 2ᵏ·|planeₖ ∧ b|) − Σq`, a far
    /// finer score than the Hamming distance of two codes.
    pub fn query_planes(&self, q: &[f32], stride: usize, planes: usize) -> (Vec<u8>, [f32; 3]) {
        let stride = stride.max(self.code_bytes());
        let q = self.extend_query(q);
        let levels = ((1u32 << planes) - 1) as f32;
        let (lo, hi) = q
            .iter()
            .filter(|x| x.is_finite())
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &x| {
                (l.min(x), h.max(x))
            });
        let (lo, step) = if hi > lo {
            (lo, (hi - lo) / levels)
        } else {
            // one value (or none finite): every integer is 0
            (if lo.is_finite() { lo } else { 0.0 }, 1.0)
        };
        let mut out = vec![0u8; planes * stride];
        let mut sum = 0.0f32;
        for (i, &x) in q.iter().enumerate() {
            sum += x;
            let d = ((x - lo) / step).round().clamp(0.0, levels) as u32;
            for k in 0..planes {
                if d >> k & 1 == 1 {
                    out[k * stride + i / 8] |= 1 << (i % 8);
                }
            }
        }
        (out, [lo, step, sum])
    }

    /// The codes of `n · dim` values, row-major.
    pub fn encode(&self, vectors: &[f32]) -> Vec<u8> {
        let mut out = Vec::with_capacity(vectors.len().div_ceil(8));
        for v in vectors.chunks_exact(self.dim.max(1)) {
            self.encode_into(v, &mut out);
        }
        out
    }
}

/// The number of differing bits of two codes (over the common prefix).
pub fn hamming(a: &[u8], b: &[u8]) -> u32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut total = 0;
    let mut chunks = a.chunks_exact(8).zip(b.chunks_exact(8));
    for (x, y) in chunks.by_ref() {
        let x = u64::from_le_bytes(x.try_into().expect("8 bytes"));
        let y = u64::from_le_bytes(y.try_into().expect("8 bytes"));
        total += (x ^ y).count_ones();
    }
    let tail = n - n % 8;
    total
        + a[tail..]
            .iter()
            .zip(&b[tail..])
            .map(|(x, y)| (x ^ y).count_ones())
            .sum::<u32>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_follow_the_signs() {
        let q = BinaryQuantizer::new(10);
        let code = q.encode(&[1.0, -1.0, 0.0, 2.0, 0.5, -0.1, 3.0, 1.0, -2.0, 4.0]);
        assert_eq!(code, vec![0b1101_1001, 0b10]);
        assert_eq!(q.code_bytes(), 2);
    }

    #[test]
    fn query_planes_score_like_the_signed_dot_product() {
        let dim = 20;
        let bq = BinaryQuantizer::new(dim);
        let q: Vec<f32> = (0..dim).map(|i| (i as f32 * 0.37).sin()).collect();
        let v: Vec<f32> = (0..dim).map(|i| (i as f32 * 1.3).cos()).collect();
        let code = bq.encode(&v);
        let (planes, [lo, step, sum]) = bq.query_planes(&q, 8, 8);
        let pc: u32 = code.iter().map(|b| b.count_ones()).sum();
        let s: f32 = (0..8)
            .map(|k| {
                let bits: u32 = code
                    .iter()
                    .zip(&planes[k * 8..k * 8 + code.len()])
                    .map(|(b, p)| (b & p).count_ones())
                    .sum();
                (1u32 << k) as f32 * bits as f32
            })
            .sum();
        let approx = 2.0 * (lo * pc as f32 + step * s) - sum;
        let exact: f32 = q
            .iter()
            .zip(&v)
            .map(|(x, y)| if *y > 0.0 { *x } else { -*x })
            .sum();
        assert!((approx - exact).abs() < 0.05, "{approx} vs {exact}");
    }

    #[test]
    fn two_bits_write_bands_as_thermometer_codes() {
        // dimension 0 varies around 0 with σ 1; dimension 1 does not vary
        let sample = [-1.0, 5.0, 1.0, 5.0, -1.0, 5.0, 1.0, 5.0];
        let q = BinaryQuantizer::train(BinaryEncoding::TwoBits, &sample, 2);
        assert_eq!((q.bits(), q.code_bytes()), (4, 1));
        let code = |v: [f32; 2]| q.encode(&v)[0];
        // bit 0/1: "not low" of each value, bit 2/3: "high"
        assert_eq!(code([-0.9, 1.0]), 0b0010);
        assert_eq!(code([0.1, 1.0]), 0b0011);
        assert_eq!(code([0.9, -1.0]), 0b0101);
        // two values' Hamming distance is how many bands apart they are
        let (low, mid, high) = (code([-2.0, 0.0]), code([0.0, 0.0]), code([2.0, 0.0]));
        assert_eq!(hamming(&[low], &[mid]), 1);
        assert_eq!(hamming(&[low], &[high]), 2);
        assert_eq!(hamming(&[mid], &[high]), 1);
    }

    #[test]
    fn one_and_a_half_bits_share_the_high_bit_of_a_pair() {
        let sample: Vec<f32> = (0..300).map(|i| ((i * 7) % 11) as f32 - 5.0).collect();
        let q = BinaryQuantizer::train(BinaryEncoding::OneAndHalfBits, &sample, 3);
        assert_eq!(q.bits(), 5);
        // value 1 high: "not low" bit 1 and the pair (0, 1)'s high bit 3
        let c = q.encode(&[-9.0, 9.0, -9.0])[0];
        assert_eq!(c, 0b01010);
        let c = q.encode(&[-9.0, -9.0, 9.0])[0];
        assert_eq!(c, 0b10100);
        assert_eq!(
            q.extend_query(&[1.0, 3.0, 2.0]),
            vec![1.0, 3.0, 2.0, 3.0, 2.0]
        );
    }

    #[test]
    fn four_planes_approximate_the_signed_sum_of_extended_queries() {
        let dim = 64;
        let sample: Vec<f32> = (0..dim * 50).map(|i| ((i as f32) * 0.71).sin()).collect();
        for encoding in [BinaryEncoding::TwoBits, BinaryEncoding::OneAndHalfBits] {
            let bq = BinaryQuantizer::train(encoding, &sample, dim);
            let q: Vec<f32> = (0..dim).map(|i| (i as f32 * 0.37).cos()).collect();
            let v: Vec<f32> = (0..dim).map(|i| (i as f32 * 1.3).sin()).collect();
            let code = bq.encode(&v);
            let stride = 64;
            let ext = bq.extend_query(&q);
            let exact: f32 = ext
                .iter()
                .enumerate()
                .map(|(j, x)| {
                    if code[j / 8] >> (j % 8) & 1 == 1 {
                        *x
                    } else {
                        -*x
                    }
                })
                .sum();
            for planes in [4, 8] {
                let (p, [lo, step, sum]) = bq.query_planes(&q, stride, planes);
                let pc: u32 = code.iter().map(|b| b.count_ones()).sum();
                let s: f32 = (0..planes)
                    .map(|k| {
                        let bits: u32 = code
                            .iter()
                            .zip(&p[k * stride..])
                            .map(|(b, p)| (b & p).count_ones())
                            .sum();
                        (1u32 << k) as f32 * bits as f32
                    })
                    .sum();
                let approx = 2.0 * (lo * pc as f32 + step * s) - sum;
                let tolerance = if planes == 4 { 3.0 } else { 0.3 };
                assert!(
                    (approx - exact).abs() < tolerance,
                    "{encoding:?} {planes}: {approx} vs {exact}"
                );
            }
        }
    }

    #[test]
    fn hamming_counts_differing_bits_at_any_length() {
        for n in 0..40 {
            let a: Vec<u8> = (0..n).map(|i| (i * 37 + 11) as u8).collect();
            let b: Vec<u8> = (0..n).map(|i| (i * 91 + 3) as u8).collect();
            let want: u32 = a.iter().zip(&b).map(|(x, y)| (x ^ y).count_ones()).sum();
            assert_eq!(hamming(&a, &b), want, "length {n}");
        }
    }
}
