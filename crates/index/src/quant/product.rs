//! Product quantization (Qdrant's `product`, compression x4 to x64): the dimensions are split
//! into `m` consecutive sub-spaces; each sub-space has a codebook of up to 256 centroids
//! (k-means over a sample of the vectors), and a vector becomes one byte per sub-space, the
//! index of its nearest centroid there. A compression of `x` gives `m = ⌈dim · 4 / x⌉`
//! sub-spaces (one byte each instead of `4 · dim` bytes).
//!
//! A query is scored by asymmetric distance computation: one lookup table per sub-space holds
//! the raw key of the query's slice against each centroid, so a code scores as the sum of `m`
//! table entries (the raw keys of Dot/Cosine, Euclid and Manhattan all sum over dimensions).
//! The scores are approximate; callers oversample and rescore from the original vectors.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rvdb_vector::Distance;

use crate::topk::{Scored, TopK};

/// Vectors k-means trains on at most.
const TRAIN_SAMPLE: usize = 20_000;
/// Lloyd iterations.
const ITERATIONS: usize = 12;

/// The codebooks of one vector space.
#[derive(Debug, Clone, PartialEq)]
pub struct ProductQuantizer {
    distance: Distance,
    dim: usize,
    /// Start of each sub-space (`m + 1` entries, the last is `dim`).
    bounds: Vec<usize>,
    /// Centroids per sub-space (at most 256; fewer with fewer training vectors).
    k: usize,
    /// Sub-space `s`'s centroid `c` is at `centroids[s][c * len(s)..]`.
    centroids: Vec<Vec<f32>>,
}

/// A query's lookup tables: `m × k` raw keys.
#[derive(Debug, Clone)]
pub struct ProductQuery {
    k: usize,
    table: Vec<f32>,
}

impl ProductQuantizer {
    /// `(distance, dim, sub-space bounds, centroids per sub-space, codebooks)`: what
    /// [`ProductQuantizer::from_parts`] takes back.
    pub fn parts(&self) -> (Distance, usize, &[usize], usize, &[Vec<f32>]) {
        (
            self.distance,
            self.dim,
            &self.bounds,
            self.k,
            &self.centroids,
        )
    }

    /// A quantizer from its parts, checked: bounds rising from 0 to `dim`, `k` in 1..=256, one
    /// codebook of `k` centroids per sub-space.
    pub fn from_parts(
        distance: Distance,
        dim: usize,
        bounds: Vec<usize>,
        k: usize,
        centroids: Vec<Vec<f32>>,
    ) -> Result<ProductQuantizer, String> {
        let ok = bounds.first() == Some(&0)
            && bounds.last() == Some(&dim)
            && bounds.windows(2).all(|w| w[0] < w[1])
            && (1..=256).contains(&k)
            && centroids.len() + 1 == bounds.len()
            && centroids
                .iter()
                .zip(bounds.windows(2))
                .all(|(c, w)| c.len() == k * (w[1] - w[0]));
        if !ok {
            return Err("product quantizer parts do not fit together".into());
        }
        Ok(ProductQuantizer {
            distance,
            dim,
            bounds,
            k,
            centroids,
        })
    }

    /// Trains codebooks on `vectors` (`n · dim` prepared values) for `compression` (4 to 64,
    /// Qdrant's x4 … x64): `⌈4 · dim / compression⌉` sub-spaces of nearly equal width.
    /// Deterministic for a given `seed`.
    pub fn train(
        distance: Distance,
        vectors: &[f32],
        dim: usize,
        compression: usize,
        seed: u64,
    ) -> ProductQuantizer {
        let m = (4 * dim).div_ceil(compression.max(1)).clamp(1, dim.max(1));
        let bounds: Vec<usize> = (0..=m).map(|s| s * dim / m).collect();
        let n = vectors.len().checked_div(dim).unwrap_or(0);
        let mut rng = StdRng::seed_from_u64(seed);
        // a sample of rows, the same for every sub-space
        let rows: Vec<usize> = if n <= TRAIN_SAMPLE {
            (0..n).collect()
        } else {
            let mut r: Vec<usize> = (0..n).collect();
            for i in 0..TRAIN_SAMPLE {
                let j = rng.random_range(i..n);
                r.swap(i, j);
            }
            r.truncate(TRAIN_SAMPLE);
            r
        };
        let k = rows.len().clamp(1, 256);
        // each sub-space's k-means on its own seed (derived from `seed`), side by side
        let seeds: Vec<u64> = (0..m).map(|_| rng.random()).collect();
        let centroids = {
            use rayon::prelude::*;
            (0..m)
                .into_par_iter()
                .map(|s| {
                    let (lo, hi) = (bounds[s], bounds[s + 1]);
                    let sub: Vec<f32> = rows
                        .iter()
                        .flat_map(|&r| vectors[r * dim + lo..r * dim + hi].iter().copied())
                        .collect();
                    kmeans(&sub, hi - lo, k, &mut StdRng::seed_from_u64(seeds[s]))
                })
                .collect()
        };
        ProductQuantizer {
            distance,
            dim,
            bounds,
            k,
            centroids,
        }
    }

    /// Bytes per code (the number of sub-spaces).
    pub fn code_bytes(&self) -> usize {
        self.bounds.len() - 1
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The codes of `n · dim` values, `code_bytes()` per vector: each sub-space's nearest
    /// centroid by squared Euclidean distance.
    pub fn encode(&self, vectors: &[f32]) -> Vec<u8> {
        let m = self.code_bytes();
        let books: Vec<Vec<f32>> = (0..m)
            .map(|s| {
                transposed(
                    &self.centroids[s],
                    self.bounds[s + 1] - self.bounds[s],
                    self.k,
                )
            })
            .collect();
        // blocks of rows encoded side by side
        use rayon::prelude::*;
        let dim = self.dim.max(1);
        let rows = vectors.len() / dim;
        let mut out = vec![0u8; rows * m];
        out.par_chunks_mut(4096 * m)
            .zip(vectors.par_chunks(4096 * dim))
            .for_each(|(codes, block)| {
                let mut dist = vec![0.0; self.k];
                for (code, v) in codes.chunks_exact_mut(m).zip(block.chunks_exact(dim)) {
                    for (s, t) in books.iter().enumerate() {
                        let (lo, hi) = (self.bounds[s], self.bounds[s + 1]);
                        code[s] = nearest(t, self.k, &v[lo..hi], &mut dist) as u8;
                    }
                }
            });
        out
    }

    /// A prepared query's lookup tables.
    pub fn query(&self, q: &[f32]) -> ProductQuery {
        let m = self.code_bytes();
        let mut table = vec![0.0; m * self.k];
        for s in 0..m {
            let (lo, hi) = (self.bounds[s], self.bounds[s + 1]);
            let w = hi - lo;
            let out = &mut table[s * self.k..(s + 1) * self.k];
            self.distance
                .raw_batch(&q[lo..hi], &self.centroids[s][..self.k * w], out);
        }
        ProductQuery { k: self.k, table }
    }

    /// Heap bytes of the codebooks.
    pub fn memory_bytes(&self) -> usize {
        self.centroids.iter().map(|c| c.capacity() * 4).sum()
    }
}

impl ProductQuery {
    /// The table width and the `m × k` tables.
    pub(crate) fn parts(&self) -> (usize, &[f32]) {
        (self.k, &self.table)
    }

    /// The approximate raw key of a code (higher is better).
    #[inline]
    pub fn raw(&self, code: &[u8]) -> f32 {
        code.iter()
            .enumerate()
            .map(|(s, &c)| self.table[s * self.k + c as usize])
            .sum()
    }

    /// The `k` best of `codes` (rows of `code_bytes` bytes) by approximate key.
    pub fn search(&self, codes: &[u8], code_bytes: usize, k: usize) -> Vec<Scored> {
        let mut top = TopK::new(k);
        for (row, code) in codes.chunks_exact(code_bytes.max(1)).enumerate() {
            top.push(row as u32, self.raw(code));
        }
        top.into_sorted_vec()
    }
}

/// `centroids` (`k` rows of `w` values) transposed: value `j` of every centroid side by side
/// (`w` rows of `k`), so [`nearest`] scores all `k` centroids in one vectorisable pass per
/// value rather than one short distance call per centroid.
fn transposed(centroids: &[f32], w: usize, k: usize) -> Vec<f32> {
    let mut t = vec![0.0; w * k];
    for c in 0..k {
        for j in 0..w {
            t[j * k + c] = centroids[c * w + j];
        }
    }
    t
}

/// The centroid nearest to `v` by squared Euclidean distance, from [`transposed`] centroids
/// (`k` of them); `dist` is scratch space of at least `k`.
fn nearest(t: &[f32], k: usize, v: &[f32], dist: &mut [f32]) -> usize {
    let dist = &mut dist[..k];
    dist.fill(0.0);
    for (j, &x) in v.iter().enumerate() {
        for (d, &c) in dist.iter_mut().zip(&t[j * k..(j + 1) * k]) {
            let e = x - c;
            *d += e * e;
        }
    }
    let mut best = (f32::INFINITY, 0);
    for (c, &d) in dist.iter().enumerate() {
        if d < best.0 {
            best = (d, c);
        }
    }
    best.1
}

/// `k` centroids of `data` (rows of `w` values): k-means++ seeding, then Lloyd iterations;
/// an emptied cluster takes the point farthest from its centroid.
fn kmeans(data: &[f32], w: usize, k: usize, rng: &mut StdRng) -> Vec<f32> {
    let n = data.len() / w.max(1);
    if n == 0 || w == 0 {
        return vec![0.0; k * w];
    }
    let row = |i: usize| &data[i * w..(i + 1) * w];
    // k-means++
    let mut centroids = Vec::with_capacity(k * w);
    centroids.extend_from_slice(row(rng.random_range(0..n)));
    let mut d2: Vec<f32> = (0..n)
        .map(|i| rvdb_vector::l2_squared(row(i), &centroids[..w]))
        .collect();
    while centroids.len() < k * w {
        let total: f64 = d2.iter().map(|&x| f64::from(x)).sum();
        let pick = if total > 0.0 {
            let mut t = rng.random::<f64>() * total;
            let mut pick = n - 1;
            for (i, &x) in d2.iter().enumerate() {
                t -= f64::from(x);
                if t <= 0.0 {
                    pick = i;
                    break;
                }
            }
            pick
        } else {
            rng.random_range(0..n)
        };
        let start = centroids.len();
        centroids.extend_from_slice(row(pick));
        for (i, d) in d2.iter_mut().enumerate() {
            *d = d.min(rvdb_vector::l2_squared(
                row(i),
                &centroids[start..start + w],
            ));
        }
    }
    // Lloyd
    let mut assign = vec![0usize; n];
    let mut dist = vec![0.0; k];
    for _ in 0..ITERATIONS {
        let mut sums = vec![0.0f64; k * w];
        let mut counts = vec![0usize; k];
        let t = transposed(&centroids, w, k);
        for (i, a) in assign.iter_mut().enumerate() {
            *a = nearest(&t, k, row(i), &mut dist);
            counts[*a] += 1;
            for (s, &x) in sums[*a * w..(*a + 1) * w].iter_mut().zip(row(i)) {
                *s += f64::from(x);
            }
        }
        for c in 0..k {
            if counts[c] == 0 {
                // the point farthest from its centroid starts a new cluster
                let far = (0..n)
                    .max_by(|&a, &b| {
                        let da = rvdb_vector::l2_squared(row(a), &centroids[assign[a] * w..][..w]);
                        let db = rvdb_vector::l2_squared(row(b), &centroids[assign[b] * w..][..w]);
                        da.total_cmp(&db)
                    })
                    .unwrap_or(0);
                centroids[c * w..(c + 1) * w].copy_from_slice(row(far));
                continue;
            }
            for (dst, &s) in centroids[c * w..(c + 1) * w]
                .iter_mut()
                .zip(&sums[c * w..(c + 1) * w])
            {
                *dst = (s / counts[c] as f64) as f32;
            }
        }
    }
    centroids
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clustered(n: usize, dim: usize, seed: u64, distance: Distance) -> Vec<f32> {
        let mut rng = StdRng::seed_from_u64(seed);
        let centres: Vec<Vec<f32>> = (0..50)
            .map(|_| (0..dim).map(|_| rng.random_range(-1.0f32..1.0)).collect())
            .collect();
        let mut out = Vec::with_capacity(n * dim);
        for _ in 0..n {
            let c = &centres[rng.random_range(0..centres.len())];
            let mut v: Vec<f32> = c
                .iter()
                .map(|x| x + 0.4 * rng.random_range(-1.0f32..1.0))
                .collect();
            distance.prepare(&mut v);
            out.extend(v);
        }
        out
    }

    #[test]
    fn codes_have_one_byte_per_sub_space() {
        let data = clustered(500, 64, 1, Distance::Euclid);
        for (x, m) in [(4, 64), (8, 32), (16, 16), (32, 8), (64, 4)] {
            let pq = ProductQuantizer::train(Distance::Euclid, &data, 64, x, 7);
            assert_eq!(pq.code_bytes(), m, "x{x}");
            assert_eq!(pq.encode(&data).len(), 500 * m);
        }
    }

    #[test]
    fn oversampled_candidates_rescored_find_the_exact_top_ten_at_x16() {
        let (n, dim, k) = (4000, 64, 10);
        for d in [
            Distance::Euclid,
            Distance::Cosine,
            Distance::Dot,
            Distance::Manhattan,
        ] {
            let base = clustered(n, dim, 2, d);
            let pq = ProductQuantizer::train(d, &base, dim, 16, 3);
            let codes = pq.encode(&base);
            let queries = clustered(40, dim, 4, d);
            let mut hits = 0;
            for q in queries.chunks_exact(dim) {
                let mut exact = TopK::new(k);
                for (i, v) in base.chunks_exact(dim).enumerate() {
                    exact.push(i as u32, d.raw(q, v));
                }
                let want: Vec<u32> = exact.into_sorted_vec().iter().map(|s| s.offset).collect();
                let mut re = TopK::new(k);
                for s in pq.query(q).search(&codes, pq.code_bytes(), 4 * k) {
                    let r = s.offset as usize;
                    re.push(s.offset, d.raw(q, &base[r * dim..(r + 1) * dim]));
                }
                hits += re
                    .into_sorted_vec()
                    .iter()
                    .filter(|s| want.contains(&s.offset))
                    .count();
            }
            let recall = hits as f64 / (40 * k) as f64;
            // the codebooks are Euclidean k-means, so Manhattan's tables approximate less well
            let want = if d == Distance::Manhattan { 0.85 } else { 0.9 };
            assert!(recall >= want, "{d}: recall@10 {recall}");
        }
    }

    #[test]
    fn tiny_and_degenerate_inputs_train() {
        let pq = ProductQuantizer::train(Distance::Dot, &[1.0, 2.0, 3.0, 4.0], 4, 8, 1);
        assert_eq!(pq.code_bytes(), 2);
        assert_eq!(pq.encode(&[1.0, 2.0, 3.0, 4.0]), vec![0, 0]);
        let empty = ProductQuantizer::train(Distance::Dot, &[], 4, 8, 1);
        assert!(empty.encode(&[]).is_empty());
        let same = ProductQuantizer::train(Distance::Euclid, &[0.5; 400], 4, 4, 1);
        assert_eq!(same.encode(&[0.5; 4]).len(), 4);
    }
}
