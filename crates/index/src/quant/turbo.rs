//! Turbo quantization (Qdrant 1.19's `turbo`, after TurboQuant, Zandieh et al. 2025): a
//! random rotation spreads every vector's energy evenly over its coordinates, so that those of
//! a unit vector, scaled by `√dim`, are close to standard normal whatever the data; each is
//! then written with the 1-, 2- or 4-bit Lloyd–Max quantizer of the standard normal (the
//! levels that minimise the mean squared error). Nothing is trained: the rotation follows from
//! a seed and the levels from the bit width, so a vector's code depends on that vector alone.
//!
//! - The rotation is orthogonal and fast: random signs, then a normalised Walsh–Hadamard
//!   transform of the largest power-of-two block at the start of the vector and another at its
//!   end (the two overlap where the dimension is not a power of two), three rounds.
//! - `bits1_5` keeps one bit for each of `dim + ⌈dim/2⌉` coordinates: the vector is padded
//!   with zeros to that length before it is rotated (inner products are unchanged).
//! - A code carries its vector's least-squares scale `α` (the vector ≈ `α ·` the levels, in the
//!   rotated space) and squared norm, so the inner product of a query `q` with a code `c` is
//!   estimated as `α · ⟨R q, levels(c)⟩` and a Euclidean distance from it.

/// Bits per coordinate (Qdrant's `bits`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TurboBits {
    Bits1,
    Bits1_5,
    Bits2,
    Bits4,
}

impl TurboBits {
    /// Bits written per rotated coordinate.
    fn width(self) -> usize {
        match self {
            TurboBits::Bits1 | TurboBits::Bits1_5 => 1,
            TurboBits::Bits2 => 2,
            TurboBits::Bits4 => 4,
        }
    }
}

/// Rounds of signs and Hadamard blocks in a rotation.
const ROUNDS: usize = 3;

/// The codes of one vector space.
#[derive(Debug, Clone, PartialEq)]
pub struct TurboQuantizer {
    dim: usize,
    bits: TurboBits,
    seed: u64,
    /// Random ±1 per round, block and (padded) coordinate.
    signs: Vec<f32>,
    /// The Lloyd–Max levels of the standard normal for the bit width, ascending.
    levels: Vec<f32>,
    /// The decision bounds between consecutive levels.
    bounds: Vec<f32>,
}

/// A query prepared for scoring codes: the rotated query laid out as the codes are read, a
/// block of 16 code bytes at a time: for each bit field `k` of a byte, the 16 values of
/// the coordinates that field `k` of the block's 16 bytes holds (so a SIMD lane per byte
/// multiplies the level its field selects by the value beside it); and its squared norm.
#[derive(Debug, Clone)]
pub struct TurboQuery {
    pub values: Vec<f32>,
    pub norm2: f32,
}

/// Code bytes scored together (a 128-bit load; codes are zero-padded to whole blocks).
pub const BLOCK: usize = 16;

impl TurboQuantizer {
    /// A quantizer for `dim` values at `bits`; the rotation follows from `seed`.
    pub fn new(dim: usize, bits: TurboBits, seed: u64) -> TurboQuantizer {
        let coords = match bits {
            TurboBits::Bits1_5 => dim + dim.div_ceil(2),
            _ => dim,
        };
        let mut state = seed ^ 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            // splitmix64: deterministic on every platform
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        let signs = (0..ROUNDS * 2 * coords)
            .map(|_| if next() & 1 == 1 { 1.0 } else { -1.0 })
            .collect();
        let levels = lloyd_max(1 << bits.width());
        let bounds = levels.windows(2).map(|w| (w[0] + w[1]) / 2.0).collect();
        TurboQuantizer {
            dim,
            bits,
            seed,
            signs,
            levels,
            bounds,
        }
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn bits(&self) -> TurboBits {
        self.bits
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Heap bytes of the rotation's signs.
    pub fn signs_bytes(&self) -> usize {
        self.signs.capacity() * 4
    }

    /// Rotated coordinates per code: `dim`, or `dim + ⌈dim/2⌉` for `bits1_5`.
    pub fn coords(&self) -> usize {
        match self.bits {
            TurboBits::Bits1_5 => self.dim + self.dim.div_ceil(2),
            _ => self.dim,
        }
    }

    /// Code bytes per vector (the scale and norm are kept beside them).
    pub fn code_bytes(&self) -> usize {
        (self.coords() * self.bits.width()).div_ceil(8)
    }

    /// Rotated coordinates of each code byte.
    pub fn per_byte(&self) -> usize {
        8 / self.bits.width()
    }

    /// Bits per rotated coordinate (1, 2 or 4).
    pub fn width(&self) -> usize {
        self.bits.width()
    }

    /// Code bytes rounded up to whole blocks of 16 (the bytes a node region reserves).
    pub fn padded_code_bytes(&self) -> usize {
        self.code_bytes().div_ceil(BLOCK) * BLOCK
    }

    /// The levels, zero-padded to 16 (a level index is at most 15).
    pub fn levels16(&self) -> [f32; 16] {
        let mut out = [0.0; 16];
        out[..self.levels.len()].copy_from_slice(&self.levels);
        out
    }

    /// `⟨rotated query, levels(code)⟩` (the estimate of `⟨q, v⟩` is `α ·` this): the
    /// reference of the kernels in `hnsw/sq.rs`.
    pub fn dot(&self, query: &TurboQuery, code: &[u8]) -> f32 {
        let (w, per) = (self.width(), self.per_byte());
        let mask = (1u8 << w) - 1;
        let mut s = 0.0;
        for (blk, values) in query.values.chunks_exact(BLOCK * per).enumerate() {
            for k in 0..per {
                for i in 0..BLOCK {
                    let c = code.get(blk * BLOCK + i).copied().unwrap_or(0);
                    let l = (c >> (k * w)) & mask;
                    s += values[k * BLOCK + i] * self.levels[l as usize];
                }
            }
        }
        s
    }

    /// `v` padded with zeros to [`TurboQuantizer::coords`] values and rotated (the
    /// coordinates a code is made of).
    pub fn rotate(&self, v: &[f32]) -> Vec<f32> {
        let n = self.coords();
        let mut x: Vec<f32> = v.iter().take(self.dim).copied().collect();
        x.resize(n, 0.0);
        if n > 0 {
            let block = 1usize << (usize::BITS - 1 - n.leading_zeros());
            for round in 0..ROUNDS {
                for (part, start) in [0, n - block].into_iter().enumerate() {
                    let s = &self.signs[(round * 2 + part) * n..][..block];
                    let seg = &mut x[start..start + block];
                    for (a, b) in seg.iter_mut().zip(s) {
                        *a *= b;
                    }
                    hadamard(seg);
                }
            }
        }
        x
    }

    /// The level index of a standard-normal coordinate.
    fn level(&self, y: f32) -> usize {
        self.bounds.partition_point(|&b| b < y)
    }

    /// The code of one vector, appended to `out`; returns its scale `α` and squared norm.
    pub fn encode_into(&self, v: &[f32], out: &mut Vec<u8>) -> (f32, f32) {
        let start = out.len();
        out.resize(start + self.code_bytes(), 0);
        let v = &v[..self.dim.min(v.len())];
        let norm2: f32 = v.iter().map(|x| x * x).sum();
        let norm = norm2.sqrt();
        if !(norm > 0.0 && norm.is_finite()) {
            // the zero vector (or one that is not finite): every product is 0
            return (0.0, if norm2.is_finite() { norm2 } else { 0.0 });
        }
        let y = self.rotate(v);
        let scale = (self.coords() as f32).sqrt() / norm;
        let width = self.bits.width();
        let (mut dot, mut sq) = (0.0f32, 0.0f32);
        for (j, &x) in y.iter().enumerate() {
            let l = self.level(x * scale);
            let c = self.levels[l];
            dot += x * c;
            sq += c * c;
            let bit = j * width;
            out[start + bit / 8] |= (l as u8) << (bit % 8);
        }
        let alpha = if sq > 0.0 { dot / sq } else { 0.0 };
        (alpha, norm2)
    }

    /// A query prepared for [`TurboQuantizer::dot`] and the kernels: rotated and laid out
    /// block by block (see [`TurboQuery`]).
    pub fn query(&self, q: &[f32]) -> TurboQuery {
        let y = self.rotate(q);
        let norm2 = q.iter().take(self.dim).map(|x| x * x).sum();
        let per = self.per_byte();
        let mut values = vec![0f32; self.padded_code_bytes() * per];
        for (j, &x) in y.iter().enumerate() {
            let (byte, k) = (j / per, j % per);
            let (blk, i) = (byte / BLOCK, byte % BLOCK);
            values[blk * BLOCK * per + k * BLOCK + i] = x;
        }
        TurboQuery { values, norm2 }
    }

    /// The codes of `n · dim` values, row-major, and each row's `(α, ‖v‖²)`.
    pub fn encode(&self, vectors: &[f32]) -> (Vec<u8>, Vec<(f32, f32)>) {
        let mut codes = Vec::with_capacity(vectors.len() / self.dim.max(1) * self.code_bytes());
        let terms = vectors
            .chunks_exact(self.dim.max(1))
            .map(|v| self.encode_into(v, &mut codes))
            .collect();
        (codes, terms)
    }
}

/// The normalised Walsh–Hadamard transform of `x` (a power-of-two length), in place.
fn hadamard(x: &mut [f32]) {
    let n = x.len();
    let mut h = 1;
    while h < n {
        for pair in x.chunks_exact_mut(2 * h) {
            // two disjoint halves: the butterflies vectorise
            let (lo, hi) = pair.split_at_mut(h);
            for (p, q) in lo.iter_mut().zip(hi.iter_mut()) {
                let (a, b) = (*p, *q);
                *p = a + b;
                *q = a - b;
            }
        }
        h *= 2;
    }
    let s = 1.0 / (n as f32).sqrt();
    for v in x {
        *v *= s;
    }
}

/// The `count` Lloyd–Max levels of the standard normal (ascending): the levels and decision
/// bounds that minimise the mean squared error, by Lloyd's iteration (each level the mean of
/// the normal between its bounds, `(φ(a) − φ(b)) / (Φ(b) − Φ(a))`).
fn lloyd_max(count: usize) -> Vec<f32> {
    let pdf = |x: f64| (-x * x / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt();
    let cdf = |x: f64| 0.5 * erfc(-x / std::f64::consts::SQRT_2);
    // start from evenly spaced points of ±3σ
    let mut levels: Vec<f64> = (0..count)
        .map(|i| -3.0 + 6.0 * (i as f64 + 0.5) / count as f64)
        .collect();
    for _ in 0..5000 {
        let mut bounds = vec![f64::NEG_INFINITY];
        bounds.extend(levels.windows(2).map(|w| (w[0] + w[1]) / 2.0));
        bounds.push(f64::INFINITY);
        for (l, level) in levels.iter_mut().enumerate() {
            let (a, b) = (bounds[l], bounds[l + 1]);
            let mass = cdf(b) - cdf(a);
            if mass > 0.0 {
                *level = (pdf(a) - pdf(b)) / mass;
            }
        }
    }
    levels.iter().map(|&l| l as f32).collect()
}

/// The complementary error function (Numerical Recipes' Chebyshev fit, relative error below
/// 1.2·10⁻⁷ everywhere).
fn erfc(x: f64) -> f64 {
    if x.is_infinite() {
        return if x > 0.0 { 0.0 } else { 2.0 };
    }
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_the_known_lloyd_max_quantizers_of_the_normal() {
        let one = lloyd_max(2);
        assert!((one[1] - 0.7979).abs() < 1e-3, "{one:?}");
        let two = lloyd_max(4);
        assert!((two[2] - 0.4528).abs() < 2e-3 && (two[3] - 1.5104).abs() < 2e-3);
        let four = lloyd_max(16);
        assert!((four[15] - 2.7326).abs() < 5e-3, "{four:?}");
        assert!((four[8] - 0.1284).abs() < 2e-3, "{four:?}");
        for l in [one, two, four] {
            assert!(l.windows(2).all(|w| w[0] < w[1]));
            assert!(l
                .iter()
                .zip(l.iter().rev())
                .all(|(a, b)| (a + b).abs() < 1e-4));
        }
    }

    #[test]
    fn the_rotation_keeps_norms_and_inner_products() {
        for dim in [1, 5, 16, 100, 128, 200] {
            let q = TurboQuantizer::new(dim, TurboBits::Bits4, 7);
            let a: Vec<f32> = (0..dim).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..dim).map(|i| (i as f32 * 1.1).cos()).collect();
            let (ra, rb) = (q.rotate(&a), q.rotate(&b));
            let dot = |x: &[f32], y: &[f32]| x.iter().zip(y).map(|(p, q)| p * q).sum::<f32>();
            assert!((dot(&ra, &rb) - dot(&a, &b)).abs() < 1e-3, "{dim}");
            assert!((dot(&ra, &ra) - dot(&a, &a)).abs() < 1e-3, "{dim}");
        }
    }

    #[test]
    fn estimates_of_inner_products_tighten_with_more_bits() {
        use rand::rngs::StdRng;
        use rand::{Rng, SeedableRng};
        let dim = 96;
        let mut rng = StdRng::seed_from_u64(5);
        let mut row = |skew: f32| -> Vec<f32> {
            (0..dim)
                .map(|i| rng.random_range(-1.0f32..1.0) * (1.0 + skew * (i % 5) as f32))
                .collect()
        };
        let q = row(0.0);
        let rows: Vec<Vec<f32>> = (0..400).map(|_| row(1.0)).collect();
        let mut errors = Vec::new();
        for bits in [
            TurboBits::Bits1,
            TurboBits::Bits1_5,
            TurboBits::Bits2,
            TurboBits::Bits4,
        ] {
            let tq = TurboQuantizer::new(dim, bits, 3);
            let query = tq.query(&q);
            let mut err = 0.0f64;
            let mut scale = 0.0f64;
            for v in &rows {
                let mut code = Vec::new();
                let (alpha, norm2) = tq.encode_into(v, &mut code);
                assert_eq!(code.len(), tq.code_bytes());
                let exact: f32 = q.iter().zip(v).map(|(a, b)| a * b).sum();
                let qn: f32 = q.iter().map(|x| x * x).sum();
                assert!((norm2 - v.iter().map(|x| x * x).sum::<f32>()).abs() < 1e-3);
                let s = tq.dot(&query, &code);
                err += f64::from((alpha * s - exact).powi(2));
                scale += f64::from(qn * norm2);
            }
            errors.push((err / scale).sqrt());
        }
        // error relative to ‖q‖·‖v‖: 1 bit is coarse, 4 bits close
        assert!(errors[3] < 0.03, "{errors:?}");
        assert!(
            errors[3] < errors[2] && errors[2] < errors[1] && errors[1] < errors[0],
            "{errors:?}"
        );
    }

    #[test]
    fn zero_and_empty_vectors_encode() {
        let q = TurboQuantizer::new(8, TurboBits::Bits2, 1);
        let mut out = Vec::new();
        assert_eq!(q.encode_into(&[0.0; 8], &mut out), (0.0, 0.0));
        assert_eq!(out, vec![0; 2]);
        let e = TurboQuantizer::new(0, TurboBits::Bits4, 1);
        assert_eq!(e.code_bytes(), 0);
        assert!(e.rotate(&[]).is_empty());
    }
}
