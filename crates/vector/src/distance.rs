//! The user-facing metric enum and its raw-key convention: `Distance` (Cosine, Euclid, Dot,
//! Manhattan) with both dialects' names, `prepare` (unit length for Cosine), raw keys (higher is
//! better for every metric) and their conversion to and from user scores.

use crate::dispatch;

/// A vector similarity / distance metric, as named by Qdrant.
///
/// Internally every metric ranks by a *raw key* where higher is always
/// better (see the crate docs); [`Distance::raw_to_score`] turns a key into
/// the score shown to users.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Distance {
    /// Cosine similarity (higher is better). Vectors are normalised by
    /// [`Distance::prepare`], after which it is a dot product.
    Cosine,
    /// Euclidean distance (lower is better).
    Euclid,
    /// Dot product (higher is better).
    Dot,
    /// Manhattan (L1) distance (lower is better).
    Manhattan,
}

impl Distance {
    /// Parses a metric name: `"Cosine"`, `"Euclid"`, `"Euclidean"`, `"Dot"`,
    /// `"DotProduct"`, `"Manhattan"`, ASCII case-insensitive. `None` for
    /// anything else.
    pub fn parse(s: &str) -> Option<Distance> {
        const NAMES: [(&str, Distance); 6] = [
            ("Cosine", Distance::Cosine),
            ("Euclid", Distance::Euclid),
            ("Euclidean", Distance::Euclid),
            ("Dot", Distance::Dot),
            ("DotProduct", Distance::Dot),
            ("Manhattan", Distance::Manhattan),
        ];
        NAMES
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(s))
            .map(|&(_, d)| d)
    }

    /// Qdrant's canonical name: `"Cosine"`, `"Euclid"`, `"Dot"`,
    /// `"Manhattan"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Distance::Cosine => "Cosine",
            Distance::Euclid => "Euclid",
            Distance::Dot => "Dot",
            Distance::Manhattan => "Manhattan",
        }
    }

    /// `true` for similarities (Cosine, Dot), `false` for distances
    /// (Euclid, Manhattan), whose user-facing score is better when lower.
    pub fn higher_is_better(self) -> bool {
        match self {
            Distance::Cosine | Distance::Dot => true,
            Distance::Euclid | Distance::Manhattan => false,
        }
    }

    /// Prepares a stored or query vector in place. Cosine scales it to unit
    /// length (a zero vector stays zero; so does one with a non-finite
    /// norm, which is left unchanged); the other metrics leave it alone.
    ///
    /// The norm is accumulated in `f64`, so neither very large nor very
    /// small components overflow or underflow it. This runs once per vector,
    /// not in the search loop.
    pub fn prepare(self, v: &mut [f32]) {
        if self != Distance::Cosine {
            return;
        }
        let norm = v
            .iter()
            .map(|&x| f64::from(x) * f64::from(x))
            .sum::<f64>()
            .sqrt();
        if norm > 0.0 && norm.is_finite() {
            for x in v.iter_mut() {
                *x = (f64::from(*x) / norm) as f32;
            }
        }
    }

    /// Internal ranking key of two *prepared* vectors; higher is always
    /// better. Cosine, Dot: `dot(a, b)`; Euclid: `-l2_squared(a, b)`;
    /// Manhattan: `-l1(a, b)`.
    #[inline]
    pub fn raw(self, a: &[f32], b: &[f32]) -> f32 {
        debug_assert_eq!(a.len(), b.len(), "Distance::raw: length mismatch");
        let k = dispatch::active();
        match self {
            Distance::Cosine | Distance::Dot => (k.dot)(a, b),
            Distance::Euclid => -(k.l2_squared)(a, b),
            Distance::Manhattan => -(k.l1)(a, b),
        }
    }

    /// [`Distance::raw`] of `query` against `n` vectors stored contiguously
    /// in `vectors` (`vectors.len() == n * query.len()`), written to `out`
    /// (`out.len() == n`). The kernel set is looked up once per call and the
    /// kernel is inlined into the loop over rows.
    ///
    /// An empty `query` gives key `0.0` (`-0.0` for the distances) for every
    /// row. Sizes are checked with `debug_assert!`; in release builds a
    /// mismatch scores only the complete rows that fit both `vectors` and
    /// `out`, leaving the rest of `out` unchanged.
    pub fn raw_batch(self, query: &[f32], vectors: &[f32], out: &mut [f32]) {
        let dim = query.len();
        debug_assert_eq!(
            vectors.len(),
            out.len() * dim,
            "Distance::raw_batch: vectors.len() != out.len() * query.len()"
        );
        // With dim == 0 every row is empty and there are out.len() of them.
        let rows = vectors
            .len()
            .checked_div(dim)
            .map_or(out.len(), |n| n.min(out.len()));
        let out = &mut out[..rows];
        let k = dispatch::active();
        match self {
            Distance::Cosine | Distance::Dot => (k.dot_batch)(query, vectors, out),
            Distance::Euclid => {
                (k.l2_squared_batch)(query, vectors, out);
                negate(out);
            }
            Distance::Manhattan => {
                (k.l1_batch)(query, vectors, out);
                negate(out);
            }
        }
    }

    /// Converts a raw key to the user-facing score. Cosine, Dot: unchanged;
    /// Euclid: `sqrt(max(-raw, 0))`; Manhattan: `-raw`.
    #[inline]
    pub fn raw_to_score(self, raw: f32) -> f32 {
        match self {
            Distance::Cosine | Distance::Dot => raw,
            Distance::Euclid => (-raw).max(0.0).sqrt(),
            Distance::Manhattan => -raw,
        }
    }

    /// Inverse of [`Distance::raw_to_score`], for score thresholds. Cosine,
    /// Dot: unchanged; Euclid: `-(s*s)` for `s >= 0`; Manhattan: `-s`.
    ///
    /// For Euclid and `s < 0` it returns `s*s > 0`, a key no pair reaches
    /// (keys are `<= 0`), matching "no distance is below a negative
    /// threshold"; this keeps the mapping strictly decreasing over all `s`.
    #[inline]
    pub fn score_to_raw(self, score: f32) -> f32 {
        match self {
            Distance::Cosine | Distance::Dot => score,
            Distance::Euclid => -(score * score.abs()),
            Distance::Manhattan => -score,
        }
    }

    /// Late-interaction (ColBERT-style) key of two multivectors, `query` and `doc` each a
    /// row-major matrix of prepared `dim`-sized rows: the sum over the query's rows of the best
    /// [`Distance::raw`] against any of the document's rows (Qdrant's `max_sim`). Higher is
    /// better, as for every raw key; [`Distance::raw_to_score`] turns it into Qdrant's score
    /// (Euclid: the square root of the summed squared distances' magnitude).
    ///
    /// An empty `doc` (or `dim == 0`) gives `0.0`. Incomplete trailing rows are ignored.
    pub fn max_sim_raw(self, query: &[f32], doc: &[f32], dim: usize) -> f32 {
        if dim == 0 || doc.len() < dim {
            return 0.0;
        }
        let rows = doc.len() / dim;
        let doc = &doc[..rows * dim];
        let mut best = vec![0.0f32; rows];
        query
            .chunks_exact(dim)
            .map(|q| {
                self.raw_batch(q, doc, &mut best);
                best.iter().copied().fold(f32::NEG_INFINITY, f32::max)
            })
            .sum()
    }

    /// User-facing score of two prepared vectors:
    /// `raw_to_score(raw(a, b))`.
    #[inline]
    pub fn score(self, a: &[f32], b: &[f32]) -> f32 {
        self.raw_to_score(self.raw(a, b))
    }
}

impl std::fmt::Display for Distance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

fn negate(out: &mut [f32]) {
    for o in out {
        *o = -*o;
    }
}

#[cfg(test)]
mod tests {
    use super::Distance::{self, *};
    use crate::test_util::TestRng;
    use crate::{dot, l1, l2_squared, norm};

    const ALL: [Distance; 4] = [Cosine, Euclid, Dot, Manhattan];

    #[test]
    fn max_sim_sums_each_query_rows_best_match() {
        // two query rows, three document rows, dim 2
        let q = [1.0, 0.0, 0.0, 1.0];
        let d = [0.5, 0.5, 2.0, 0.0, 0.0, -1.0];
        // Dot: row 0 best 2.0 (doc row 1); row 1 best 0.5 (doc row 0)
        assert_eq!(Dot.max_sim_raw(&q, &d, 2), 2.5);
        // Euclid: -l2² minima: row 0 vs doc rows: 0.5, 1.0, 2.0 -> -0.5; row 1: 0.5, 5.0, 4.0 -> -0.5
        let raw = Euclid.max_sim_raw(&q, &d, 2);
        assert!((raw + 1.0).abs() < 1e-6, "{raw}");
        assert!((Euclid.raw_to_score(raw) - 1.0).abs() < 1e-6);
        // Manhattan: row 0: 1.0, 1.0, 2.0 -> -1; row 1: 1.0, 3.0, 2.0 -> -1
        assert!((Manhattan.max_sim_raw(&q, &d, 2) + 2.0).abs() < 1e-6);
        assert_eq!(Dot.max_sim_raw(&q, &[], 2), 0.0);
        assert_eq!(Dot.max_sim_raw(&q, &d, 0), 0.0);
    }

    #[test]
    fn max_sim_of_single_rows_is_the_plain_key() {
        let mut rng = TestRng::new(5);
        for d in ALL {
            let (a, b) = (rng.vec(16, 1.0), rng.vec(16, 1.0));
            let (x, y) = (d.max_sim_raw(&a, &b, 16), d.raw(&a, &b));
            assert!((x - y).abs() <= 1e-5 * y.abs().max(1.0), "{d}: {x} vs {y}");
        }
    }

    #[test]
    fn parse_accepts_aliases_case_insensitively() {
        for (s, d) in [
            ("Cosine", Cosine),
            ("cosine", Cosine),
            ("COSINE", Cosine),
            ("Euclid", Euclid),
            ("euclid", Euclid),
            ("Euclidean", Euclid),
            ("EUCLIDEAN", Euclid),
            ("Dot", Dot),
            ("dot", Dot),
            ("DotProduct", Dot),
            ("dotproduct", Dot),
            ("Manhattan", Manhattan),
            ("manHATTAN", Manhattan),
        ] {
            assert_eq!(Distance::parse(s), Some(d), "{s}");
        }
        for s in [
            "",
            "Cos",
            "L2",
            "l1",
            "Euclid ",
            " Dot",
            "Dot_Product",
            "Manhatan",
        ] {
            assert_eq!(Distance::parse(s), None, "{s:?}");
        }
    }

    #[test]
    fn canonical_names_round_trip() {
        assert_eq!(Cosine.as_str(), "Cosine");
        assert_eq!(Euclid.as_str(), "Euclid");
        assert_eq!(Dot.as_str(), "Dot");
        assert_eq!(Manhattan.as_str(), "Manhattan");
        for d in ALL {
            assert_eq!(Distance::parse(d.as_str()), Some(d));
            assert_eq!(d.to_string(), d.as_str());
        }
    }

    #[test]
    fn higher_is_better() {
        assert!(Cosine.higher_is_better());
        assert!(Dot.higher_is_better());
        assert!(!Euclid.higher_is_better());
        assert!(!Manhattan.higher_is_better());
    }

    #[test]
    fn prepare_normalises_only_for_cosine() {
        let mut rng = TestRng::new(10);
        for n in [1, 3, 8, 17, 128, 1536] {
            for scale in [1e-30f32, 1.0, 1e30] {
                let orig = rng.vec(n, scale);
                let mut v = orig.clone();
                Cosine.prepare(&mut v);
                assert!(
                    (norm(&v) - 1.0).abs() < 1e-5,
                    "n {n} scale {scale}: {}",
                    norm(&v)
                );
                // Direction is kept: same signs, proportional components.
                let ratio = orig[0] / v[0];
                for (o, p) in orig.iter().zip(&v) {
                    assert!((o / ratio - p).abs() <= 1e-5, "n {n} scale {scale}");
                }
                for d in [Euclid, Dot, Manhattan] {
                    let mut w = orig.clone();
                    d.prepare(&mut w);
                    assert_eq!(w, orig);
                }
            }
        }
    }

    #[test]
    fn prepare_keeps_zero_and_empty_vectors() {
        let mut z = vec![0.0f32; 37];
        Cosine.prepare(&mut z);
        assert!(z.iter().all(|&x| x == 0.0));
        let mut e: Vec<f32> = Vec::new();
        Cosine.prepare(&mut e);
        assert!(e.is_empty());
        // An already unit vector stays (almost exactly) the same.
        let mut u = vec![0.6f32, 0.8];
        Cosine.prepare(&mut u);
        assert_eq!(u, [0.6, 0.8]);
    }

    #[test]
    fn raw_follows_the_key_convention() {
        let mut rng = TestRng::new(11);
        let a = rng.vec(300, 1.0);
        let b = rng.vec(300, 1.0);
        assert_eq!(Dot.raw(&a, &b), dot(&a, &b));
        assert_eq!(Cosine.raw(&a, &b), dot(&a, &b));
        assert_eq!(Euclid.raw(&a, &b), -l2_squared(&a, &b));
        assert_eq!(Manhattan.raw(&a, &b), -l1(&a, &b));
    }

    #[test]
    fn scores_of_known_vectors() {
        let a = [0.0f32, 0.0];
        let b = [3.0f32, 4.0];
        assert_eq!(Euclid.raw(&a, &b), -25.0);
        assert_eq!(Euclid.score(&a, &b), 5.0);
        assert_eq!(Manhattan.raw(&a, &b), -7.0);
        assert_eq!(Manhattan.score(&a, &b), 7.0);
        assert_eq!(Dot.score(&[1.0, 2.0], &[3.0, 4.0]), 11.0);
        assert_eq!(Euclid.score(&b, &b), 0.0);

        let mut x = vec![1.0f32, 2.0, 3.0];
        let mut y = vec![2.0f32, 4.0, 6.0];
        let mut z = vec![-3.0f32, 0.0, 1.0]; // orthogonal to x
        for v in [&mut x, &mut y, &mut z] {
            Cosine.prepare(v);
        }
        assert!((Cosine.score(&x, &y) - 1.0).abs() < 1e-6);
        assert!(Cosine.score(&x, &z).abs() < 1e-6);
    }

    #[test]
    fn raw_and_score_round_trip() {
        for d in ALL {
            // Keys a pair can produce: any value for similarities, <= 0 for
            // distances.
            let raws: &[f32] = if d.higher_is_better() {
                &[-3.5, -1.0, 0.0, 0.25, 1.0, 42.0]
            } else {
                &[-1e6, -42.0, -2.25, -1.0, -0.01, 0.0]
            };
            for &r in raws {
                let back = d.score_to_raw(d.raw_to_score(r));
                assert!(
                    (back - r).abs() <= 1e-6 * r.abs().max(1.0),
                    "{d:?} raw {r} -> {back}"
                );
            }
            // Scores a user can ask for: any for similarities, >= 0 for
            // distances.
            let scores: &[f32] = if d.higher_is_better() {
                &[-2.0, 0.0, 0.5, 1.0, 7.0]
            } else {
                &[0.0, 0.1, 1.0, 1.5, 1000.0]
            };
            for &s in scores {
                let back = d.raw_to_score(d.score_to_raw(s));
                assert!(
                    (back - s).abs() <= 1e-6 * s.abs().max(1.0),
                    "{d:?} score {s} -> {back}"
                );
            }
        }
        assert_eq!(Euclid.raw_to_score(1.0), 0.0); // positive raw clamps to 0
        assert_eq!(Euclid.score_to_raw(3.0), -9.0);
        assert_eq!(Manhattan.score_to_raw(3.0), -3.0);
    }

    #[test]
    fn score_threshold_maps_to_key_threshold() {
        // "score at least as good as t" <=> raw >= score_to_raw(t), for
        // every metric (distances: score <= t; similarities: score >= t).
        let mut rng = TestRng::new(12);
        let q = rng.vec(16, 1.0);
        for d in ALL {
            for _ in 0..50 {
                let v = rng.vec(16, 1.0);
                let raw = d.raw(&q, &v);
                let score = d.raw_to_score(raw);
                for t in [-1.0f32, 0.0, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0] {
                    let good = if d.higher_is_better() {
                        score >= t
                    } else {
                        score <= t
                    };
                    // Skip values within rounding of the threshold.
                    if (score - t).abs() < 1e-4 {
                        continue;
                    }
                    assert_eq!(raw >= d.score_to_raw(t), good, "{d:?} score {score} t {t}");
                }
            }
        }
    }

    #[test]
    fn raw_batch_equals_per_pair_raw() {
        let mut rng = TestRng::new(13);
        for d in ALL {
            for dim in [0, 1, 7, 16, 100, 128, 129] {
                for n in [0, 1, 5] {
                    let mut q = rng.vec(dim, 1.0);
                    let mut vs = rng.vec(n * dim, 1.0);
                    d.prepare(&mut q);
                    if dim > 0 {
                        for row in vs.chunks_exact_mut(dim) {
                            d.prepare(row);
                        }
                    }
                    let mut out = vec![f32::NAN; n];
                    d.raw_batch(&q, &vs, &mut out);
                    for i in 0..n {
                        let row = &vs[i * dim..(i + 1) * dim];
                        assert_eq!(out[i], d.raw(&q, row), "{d:?} dim {dim} row {i}");
                    }
                }
            }
        }
    }
}
