//! Scalar (int8) quantization: every value `x` of a vector space becomes one byte
//! `c = round((x − lo) / step)`, clamped to `0..=255`, where `[lo, lo + 255·step]` covers the
//! values (all of them, or the central `quantile` of them, as Qdrant's `quantile` says).
//!
//! # Scores on codes
//!
//! A query is quantized the same way (`d`), so a score is integer arithmetic plus a few
//! per-vector and per-query constants fixed at encoding time. With `x ≈ lo + step·c`:
//!
//! - Dot / Cosine (vectors prepared, so Cosine is a dot product):
//!   `q·x ≈ dim·lo² + lo·step·Σd + lo·step·Σc + step²·Σ d·c`
//! - Euclid: `|q − x|² ≈ step²·(Σd² + Σc² − 2·Σ d·c)`
//! - Manhattan: `Σ|q − x| ≈ step·Σ|d − c|`
//!
//! `Σ d·c` runs on the VNNI/AVX2 kernels of the vector crate as `d` (unsigned) times `c − 128`
//! (signed), plus `128·Σd`; a code is stored as `c ^ 0x80`, whose bits are `c − 128` as an
//! `i8`. Manhattan codes are stored as `c` for the byte-wise absolute difference kernel.
//!
//! The scores approximate the raw keys of [`Distance::raw`] (higher is better); callers
//! oversample and rescore the best candidates with the original vectors.

use rvdb_vector::{dot_u8i8, l1_u8, Distance};

use crate::topk::{Scored, TopK};

/// Values sampled at most to find the range.
const TRAIN_SAMPLE: usize = 1 << 20;

/// The mapping of one vector space's values to bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScalarQuantizer {
    distance: Distance,
    dim: usize,
    lo: f32,
    step: f32,
}

/// A query quantized for scoring against [`ScalarCodes`].
#[derive(Debug, Clone)]
pub struct ScalarQuery {
    codes: Vec<u8>,
    /// The part of the score the query alone fixes.
    constant: f32,
    /// `128 · Σd`: what storing `c − 128` takes off `Σ d·c`.
    shift: f32,
}

/// The codes of many vectors, row-major, with one correction term per vector.
#[derive(Debug, Clone, PartialEq)]
pub struct ScalarCodes {
    quantizer: ScalarQuantizer,
    codes: Vec<u8>,
    corrections: Vec<f32>,
}

impl ScalarQuantizer {
    /// `(distance, dim, lo, step)`: what [`ScalarQuantizer::from_parts`] takes back.
    pub fn parts(&self) -> (Distance, usize, f32, f32) {
        (self.distance, self.dim, self.lo, self.step)
    }

    pub fn from_parts(distance: Distance, dim: usize, lo: f32, step: f32) -> ScalarQuantizer {
        ScalarQuantizer {
            distance,
            dim,
            lo,
            step,
        }
    }

    /// Fits the byte range to `vectors` (`n · dim` prepared values): their full range, or with
    /// `quantile` in `[0.5, 1)` the range between the `(1 − q)/2` and `(1 + q)/2` quantiles
    /// (values outside are clamped), over a strided sample of at most a million values.
    pub fn train(distance: Distance, vectors: &[f32], dim: usize, quantile: Option<f32>) -> Self {
        let stride = vectors.len().div_ceil(TRAIN_SAMPLE).max(1);
        let mut sample: Vec<f32> = vectors
            .iter()
            .step_by(stride)
            .copied()
            .filter(|x| x.is_finite())
            .collect();
        let (lo, hi) = if sample.is_empty() {
            (0.0, 0.0)
        } else {
            match quantile.filter(|q| *q < 1.0) {
                None => sample
                    .iter()
                    .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &x| {
                        (lo.min(x), hi.max(x))
                    }),
                Some(q) => {
                    let q = f64::from(q.clamp(0.5, 1.0));
                    let last = sample.len() - 1;
                    let at = |p: f64| ((p * last as f64).round() as usize).min(last);
                    let (i, j) = (at((1.0 - q) / 2.0), at((1.0 + q) / 2.0));
                    let lo = *sample.select_nth_unstable_by(i, f32::total_cmp).1;
                    let hi = *sample.select_nth_unstable_by(j, f32::total_cmp).1;
                    (lo, hi)
                }
            }
        };
        let step = if hi > lo { (hi - lo) / 255.0 } else { 1.0 };
        ScalarQuantizer {
            distance,
            dim,
            lo,
            step,
        }
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn distance(&self) -> Distance {
        self.distance
    }

    /// The width of one code step (`step`), and its square.
    pub(crate) fn steps(&self) -> (f32, f32) {
        (self.step, self.step * self.step)
    }

    fn byte(&self, x: f32) -> u8 {
        // NaN clamps to 0 (`as` saturates)
        ((x - self.lo) / self.step).round().clamp(0.0, 255.0) as u8
    }

    /// Byte sums a score formula needs: `(Σc, Σc²)`.
    fn sums(codes: &[u8]) -> (f32, f32) {
        codes.iter().fold((0.0, 0.0), |(s, s2), &c| {
            let c = f32::from(c);
            (s + c, s2 + c * c)
        })
    }

    /// The codes of a vector in the stored form, and its correction term.
    fn encode_into(&self, v: &[f32], out: &mut Vec<u8>) -> f32 {
        let start = out.len();
        out.extend(v.iter().map(|&x| self.byte(x)));
        let (s, s2) = Self::sums(&out[start..]);
        let step = self.step;
        match self.distance {
            Distance::Cosine | Distance::Dot => {
                for c in &mut out[start..] {
                    *c ^= 0x80;
                }
                self.lo * step * s
            }
            Distance::Euclid => {
                for c in &mut out[start..] {
                    *c ^= 0x80;
                }
                step * step * s2
            }
            Distance::Manhattan => 0.0,
        }
    }

    /// Encodes `n · dim` prepared values.
    pub fn encode(&self, vectors: &[f32]) -> ScalarCodes {
        let dim = self.dim.max(1);
        let rows = vectors.len() / dim;
        let mut codes = Vec::with_capacity(rows * self.dim);
        let corrections = vectors
            .chunks_exact(dim)
            .map(|v| self.encode_into(v, &mut codes))
            .collect();
        ScalarCodes {
            quantizer: *self,
            codes,
            corrections,
        }
    }

    /// Quantizes a prepared query.
    pub fn query(&self, q: &[f32]) -> ScalarQuery {
        let codes: Vec<u8> = q.iter().map(|&x| self.byte(x)).collect();
        let (s, s2) = Self::sums(&codes);
        let step = self.step;
        let constant = match self.distance {
            Distance::Cosine | Distance::Dot => {
                // step² · 128 · Σd: the part of Σ d·c that storing c − 128 takes off
                self.dim as f32 * self.lo * self.lo + self.lo * step * s + step * step * 128.0 * s
            }
            Distance::Euclid => step * step * s2,
            Distance::Manhattan => 0.0,
        };
        ScalarQuery {
            codes,
            constant,
            shift: 128.0 * s,
        }
    }
}

impl ScalarQuery {
    /// The query's codes, its constant term and `128 · Σd` (see the module docs).
    pub(crate) fn parts(&self) -> (&[u8], f32, f32) {
        (&self.codes, self.constant, self.shift)
    }
}

impl ScalarCodes {
    /// The stored codes of `row` and its correction term.
    pub(crate) fn row_parts(&self, row: usize) -> (&[u8], f32) {
        (self.row(row), self.corrections[row])
    }

    pub fn len(&self) -> usize {
        self.corrections.len()
    }

    pub fn is_empty(&self) -> bool {
        self.corrections.is_empty()
    }

    pub fn quantizer(&self) -> &ScalarQuantizer {
        &self.quantizer
    }

    /// Heap bytes of the codes and corrections.
    pub fn memory_bytes(&self) -> usize {
        self.codes.capacity() + self.corrections.capacity() * 4
    }

    fn row(&self, row: usize) -> &[u8] {
        let d = self.quantizer.dim;
        &self.codes[row * d..(row + 1) * d]
    }

    /// The approximate raw key of `q` and the vector at `row` (higher is better).
    #[inline]
    pub fn raw(&self, q: &ScalarQuery, row: usize) -> f32 {
        let code = self.row(row);
        let step = self.quantizer.step;
        match self.quantizer.distance {
            Distance::Cosine | Distance::Dot => {
                let dc = dot_u8i8(&q.codes, bytemuck::cast_slice(code)) as f32;
                step * step * dc + q.constant + self.corrections[row]
            }
            Distance::Euclid => {
                // Σ d·c = Σ d·(c − 128) + 128·Σd
                let dc = dot_u8i8(&q.codes, bytemuck::cast_slice(code)) as f32;
                let cross = step * step * (dc + q.shift);
                -(q.constant + self.corrections[row] - 2.0 * cross)
            }
            Distance::Manhattan => -(step * l1_u8(&q.codes, code) as f32),
        }
    }

    /// The `k` best rows by approximate key (ties: lower row first), among those `accept`s.
    pub fn search(
        &self,
        q: &ScalarQuery,
        k: usize,
        accept: Option<&dyn Fn(u32) -> bool>,
    ) -> Vec<Scored> {
        let mut top = TopK::new(k);
        for row in 0..self.len() {
            if accept.is_none_or(|f| f(row as u32)) {
                top.push(row as u32, self.raw(q, row));
            }
        }
        top.into_sorted_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    const ALL: [Distance; 4] = [
        Distance::Cosine,
        Distance::Euclid,
        Distance::Dot,
        Distance::Manhattan,
    ];

    fn data(n: usize, dim: usize, distance: Distance, seed: u64) -> Vec<f32> {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut v: Vec<f32> = (0..n * dim)
            .map(|i| rng.random_range(-1.0f32..1.0) * (1.0 + (i % dim) as f32 / dim as f32))
            .collect();
        for row in v.chunks_exact_mut(dim) {
            distance.prepare(row);
        }
        v
    }

    #[test]
    fn approximate_keys_stay_close_to_the_exact_ones() {
        let dim = 96;
        for d in ALL {
            let base = data(300, dim, d, 1);
            let sq = ScalarQuantizer::train(d, &base, dim, None);
            let codes = sq.encode(&base);
            let queries = data(20, dim, d, 2);
            let mut worst = 0.0f32;
            let mut scale = 0.0f32;
            for q in queries.chunks_exact(dim) {
                let qq = sq.query(q);
                for (row, v) in base.chunks_exact(dim).enumerate() {
                    let exact = d.raw(q, v);
                    worst = worst.max((codes.raw(&qq, row) - exact).abs());
                    scale = scale.max(exact.abs());
                }
            }
            assert!(worst <= 0.03 * scale, "{d}: error {worst} of scale {scale}");
        }
    }

    #[test]
    fn rescoring_an_oversampled_candidate_list_finds_the_exact_top_ten() {
        let (dim, n, k) = (64, 2000, 10);
        for d in ALL {
            let base = data(n, dim, d, 3);
            let sq = ScalarQuantizer::train(d, &base, dim, Some(0.99));
            let codes = sq.encode(&base);
            let queries = data(30, dim, d, 4);
            let (mut hits, mut total) = (0, 0);
            for q in queries.chunks_exact(dim) {
                let mut exact = TopK::new(k);
                for (row, v) in base.chunks_exact(dim).enumerate() {
                    exact.push(row as u32, d.raw(q, v));
                }
                let want: Vec<u32> = exact.into_sorted_vec().iter().map(|s| s.offset).collect();
                let mut rescored = TopK::new(k);
                for s in codes.search(&sq.query(q), 4 * k, None) {
                    let r = s.offset as usize;
                    rescored.push(s.offset, d.raw(q, &base[r * dim..(r + 1) * dim]));
                }
                let got = rescored.into_sorted_vec();
                hits += got.iter().filter(|s| want.contains(&s.offset)).count();
                total += k;
            }
            let recall = hits as f64 / total as f64;
            assert!(recall >= 0.98, "{d}: recall@10 after rescoring {recall}");
        }
    }

    #[test]
    fn quantile_clamps_outliers_and_degenerate_data_encodes() {
        let mut v = vec![0.0f32; 1000];
        for (i, x) in v.iter_mut().enumerate() {
            *x = (i % 100) as f32 / 100.0;
        }
        v[0] = 1000.0; // one outlier
        let full = ScalarQuantizer::train(Distance::Dot, &v, 10, None);
        let q = ScalarQuantizer::train(Distance::Dot, &v, 10, Some(0.95));
        assert!(q.step < full.step / 100.0, "{} vs {}", q.step, full.step);
        // constant data and NaNs do not panic, and encode to something
        let flat = ScalarQuantizer::train(Distance::Euclid, &[0.5; 20], 4, None);
        let codes = flat.encode(&[0.5, 0.5, f32::NAN, 0.5]);
        assert_eq!(codes.len(), 1);
        assert!(codes.raw(&flat.query(&[0.5; 4]), 0).is_finite());
        let empty = ScalarQuantizer::train(Distance::Cosine, &[], 4, Some(0.99));
        assert!(empty.encode(&[]).is_empty());
    }

    #[test]
    fn filters_are_honoured() {
        let dim = 8;
        let base = data(100, dim, Distance::Dot, 5);
        let sq = ScalarQuantizer::train(Distance::Dot, &base, dim, None);
        let codes = sq.encode(&base);
        let got = codes.search(&sq.query(&base[..dim]), 5, Some(&|r| r % 2 == 1));
        assert_eq!(got.len(), 5);
        assert!(got.iter().all(|s| s.offset % 2 == 1));
    }
}
