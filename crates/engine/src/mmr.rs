//! Maximal marginal relevance: re-ranks the candidates of a nearest-neighbour search so that
//! each pick is relevant to the query and unlike the points already picked.
//!
//! `mmr = λ · sim(query, c) − (1 − λ) · max over picked p of sim(c, p)`, with `λ = 1 − diversity`
//! and similarities as raw keys (higher is better: Euclid is `−l2²`). The first pick is the most
//! relevant candidate. Ties resolve as Qdrant does (and qdrant-client's local mode, the
//! reference): the pending candidates are a list from which a pick is removed by `swap_remove`,
//! and the best is the *last* maximum in that list.
//!
//! The similarities are computed as local mode computes them ([`similarity`]), not by the
//! search kernels: MMR compares differences of similarities, and near ties between candidates
//! are common, so the summation order decides picks.

use rvdb_vector::Distance;

/// The similarity of two stored (prepared) vectors as qdrant-client's local mode computes it
/// for MMR: a dot product in f64 (Cosine, Dot), `−Σ (a − b)²` and `−Σ |a − b|` in f32 summed in
/// order (Euclid, Manhattan).
pub(crate) fn similarity(d: Distance, a: &[f32], b: &[f32]) -> f64 {
    match d {
        Distance::Cosine | Distance::Dot => a
            .iter()
            .zip(b)
            .map(|(x, y)| f64::from(*x) * f64::from(*y))
            .sum(),
        Distance::Euclid => {
            let s: f32 = a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum();
            -f64::from(s)
        }
        Distance::Manhattan => {
            let s: f32 = a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum();
            -f64::from(s)
        }
    }
}

/// The max_sim similarity of two stored (prepared) multivectors, flattened rows of `dim`
/// values: the sum over `a`'s rows of the best [`similarity`] to any of `b`'s rows (local
/// mode's, for MMR over a multivector).
pub(crate) fn multi_similarity(d: Distance, dim: usize, a: &[f32], b: &[f32]) -> f64 {
    if dim == 0 {
        return 0.0;
    }
    a.chunks_exact(dim)
        .map(|q| {
            b.chunks_exact(dim)
                .map(|x| similarity(d, q, x))
                .fold(f64::NEG_INFINITY, f64::max)
        })
        .sum()
}

/// The order in which MMR picks candidates (indexes into `relevance`), at most `limit` of them.
/// `relevance[i]` is candidate `i`'s similarity to the query; `sim(i, j)` between candidates.
/// Each candidate's similarity to the picked set is kept as a running maximum, so the cost is
/// `O(candidates × limit)` similarity evaluations.
pub(crate) fn mmr_order(
    relevance: &[f64],
    sim: impl Fn(usize, usize) -> f64,
    lambda: f64,
    limit: usize,
) -> Vec<usize> {
    if relevance.is_empty() || limit == 0 {
        return Vec::new();
    }
    let mut pending: Vec<usize> = (0..relevance.len()).collect();
    // the running max similarity to the picked points, by candidate
    let mut max_sim = vec![f64::NEG_INFINITY; relevance.len()];
    let seed = last_argmax(pending.iter().map(|&i| relevance[i]));
    let mut picked = vec![pending.swap_remove(seed)];
    while picked.len() < limit && !pending.is_empty() {
        let last = *picked.last().expect("one pick at least");
        let scores: Vec<f64> = pending
            .iter()
            .map(|&c| {
                max_sim[c] = max_sim[c].max(sim(c, last));
                lambda * relevance[c] - (1.0 - lambda) * max_sim[c]
            })
            .collect();
        if scores.iter().all(|s| *s == f64::NEG_INFINITY) {
            break;
        }
        let best = last_argmax(scores.iter().copied());
        picked.push(pending.swap_remove(best));
    }
    picked
}

/// The position of the last maximum (Rust's `max_by_key`); NaN never wins.
fn last_argmax(values: impl Iterator<Item = f64>) -> usize {
    let mut best = 0;
    let mut best_value = f64::NEG_INFINITY;
    for (i, v) in values.enumerate() {
        if v >= best_value {
            best = i;
            best_value = v;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dot(a: &[f32], b: &[f32]) -> f64 {
        similarity(Distance::Dot, a, b)
    }

    fn run(query: &[f32], points: &[Vec<f32>], diversity: f64, limit: usize) -> Vec<usize> {
        let rel: Vec<f64> = points.iter().map(|p| dot(query, p)).collect();
        mmr_order(
            &rel,
            |i, j| dot(&points[i], &points[j]),
            1.0 - diversity,
            limit,
        )
    }

    #[test]
    fn zero_diversity_is_relevance_order() {
        let pts = vec![
            vec![0.1, 0.0],
            vec![0.9, 0.1],
            vec![0.5, 0.5],
            vec![0.8, 0.0],
        ];
        assert_eq!(run(&[1.0, 0.0], &pts, 0.0, 4), vec![1, 3, 2, 0]);
    }

    #[test]
    fn diversity_skips_near_duplicates() {
        // 0 and 1 are the same direction; 2 points elsewhere but is less relevant
        let pts = vec![vec![1.0, 0.0], vec![0.99, 0.01], vec![0.6, 0.8]];
        assert_eq!(run(&[1.0, 0.0], &pts, 0.0, 2), vec![0, 1]);
        assert_eq!(run(&[1.0, 0.0], &pts, 0.7, 2), vec![0, 2]);
    }

    #[test]
    fn the_first_pick_is_the_most_relevant_even_at_full_diversity() {
        let pts = vec![vec![0.2, 0.0], vec![0.3, 0.1], vec![0.0, 1.0]];
        assert_eq!(run(&[1.0, 0.0], &pts, 1.0, 1), vec![1]);
    }

    #[test]
    fn ties_go_to_the_last_maximum_of_the_swap_removed_list() {
        // every candidate equally relevant and equally similar: the seed is the last one (3),
        // whose removal moves nothing; then the last of [0, 1, 2] is 2, and so on
        let rel = [1.0; 4];
        assert_eq!(mmr_order(&rel, |_, _| 0.5, 0.5, 4), vec![3, 2, 1, 0]);
        // a seed in the middle is replaced by the last candidate: [0, 4, 2, 3] after picking 1
        let rel = [0.0, 2.0, 0.0, 0.0, 0.0];
        assert_eq!(mmr_order(&rel, |_, _| 0.0, 0.5, 2), vec![1, 3]);
    }

    #[test]
    fn similarities_are_higher_for_closer_vectors() {
        let (a, b, c) = ([0.0, 0.0], [1.0, 1.0], [3.0, -1.0]);
        assert_eq!(similarity(Distance::Euclid, &a, &b), -2.0);
        assert_eq!(similarity(Distance::Manhattan, &a, &c), -4.0);
        assert_eq!(similarity(Distance::Dot, &b, &c), 2.0);
        assert_eq!(similarity(Distance::Cosine, &b, &b), 2.0);
    }

    #[test]
    fn limit_and_empty_input() {
        assert!(mmr_order(&[], |_, _| 0.0, 0.5, 3).is_empty());
        assert_eq!(mmr_order(&[1.0, 2.0], |_, _| 0.0, 0.5, 5).len(), 2);
        assert!(mmr_order(&[1.0], |_, _| 0.0, 0.5, 0).is_empty());
    }
}
