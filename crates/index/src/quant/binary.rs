//! Binary quantization, one bit per value (Qdrant's `binary` with the `one_bit` encoding): bit
//! `i` is set when value `i` is positive. Two vectors' codes differ in as many bits as their
//! values differ in sign, so the Hamming distance orders candidates roughly by angle; a search
//! oversamples and rescores from the original vectors. It works best on high-dimensional,
//! roughly centred embeddings (a thousand dimensions and more).

/// The bit codes of one vector space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BinaryQuantizer {
    dim: usize,
}

impl BinaryQuantizer {
    pub fn new(dim: usize) -> Self {
        BinaryQuantizer { dim }
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Bytes per code: `⌈dim / 8⌉`.
    pub fn code_bytes(&self) -> usize {
        self.dim.div_ceil(8)
    }

    /// The code of one vector (bit `i % 8` of byte `i / 8` for value `i`), appended to `out`.
    pub fn encode_into(&self, v: &[f32], out: &mut Vec<u8>) {
        let start = out.len();
        out.resize(start + self.code_bytes(), 0);
        for (i, &x) in v.iter().take(self.dim).enumerate() {
            if x > 0.0 {
                out[start + i / 8] |= 1 << (i % 8);
            }
        }
    }

    /// An asymmetric query (Qdrant's `scalar8bits` query encoding): the query's values as
    /// bytes `d = round((q − lo) / step)` over its own range, split into 8 bit planes laid out
    /// like the codes, each `stride ≥ code_bytes` bytes apart (plane `k` holds bit `k` of
    /// every `d`). Returns the planes and `(lo, step, Σq)`. Against a code `b`,
    /// `Σ q·(2b − 1) ≈ 2·(lo·|b| + step·Σₖ 2ᵏ·|planeₖ ∧ b|) − Σq`, a far finer score than the
    /// Hamming distance of two sign codes.
    pub fn query_planes(&self, q: &[f32], stride: usize) -> (Vec<u8>, [f32; 3]) {
        let stride = stride.max(self.code_bytes());
        let q = &q[..self.dim.min(q.len())];
        let (lo, hi) = q
            .iter()
            .filter(|x| x.is_finite())
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &x| {
                (l.min(x), h.max(x))
            });
        let (lo, step) = if hi > lo {
            (lo, (hi - lo) / 255.0)
        } else {
            // one value (or none finite): every byte is 0
            (if lo.is_finite() { lo } else { 0.0 }, 1.0)
        };
        let mut planes = vec![0u8; 8 * stride];
        let mut sum = 0.0f32;
        for (i, &x) in q.iter().enumerate() {
            sum += x;
            let d = ((x - lo) / step).round().clamp(0.0, 255.0) as u8;
            for k in 0..8 {
                if d >> k & 1 == 1 {
                    planes[k * stride + i / 8] |= 1 << (i % 8);
                }
            }
        }
        (planes, [lo, step, sum])
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
        let (planes, [lo, step, sum]) = bq.query_planes(&q, 8);
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
    fn hamming_counts_differing_bits_at_any_length() {
        for n in 0..40 {
            let a: Vec<u8> = (0..n).map(|i| (i * 37 + 11) as u8).collect();
            let b: Vec<u8> = (0..n).map(|i| (i * 91 + 3) as u8).collect();
            let want: u32 = a.iter().zip(&b).map(|(x, y)| (x ^ y).count_ones()).sum();
            assert_eq!(hamming(&a, &b), want, "length {n}");
        }
    }
}
