//! Exact search: scan every vector with the batched SIMD kernel, a chunk of rows per call; with a
//! filter, only the rows the predicate accepts are scored, one at a time. `SearchParams` holds
//! `k` and the raw-key floor (a converted `score_threshold`).

use rvdb_vector::Distance;

use crate::{Scored, TopK};

/// What a search asks for.
#[derive(Debug, Clone, Copy)]
pub struct SearchParams {
    /// How many results to return.
    pub k: usize,
    /// Keep only candidates whose raw key is above this (a score threshold, converted).
    pub min_raw: Option<f32>,
}

/// Rows scored per kernel call: large enough to amortise dispatch, small enough for L1.
const CHUNK: usize = 256;

/// Exact top-k over `vectors` (`n * dim` values) for a prepared `query`. `accept(offset)` is the
/// filter predicate, or `None` to accept every row.
pub fn flat_search(
    distance: Distance,
    vectors: &[f32],
    query: &[f32],
    params: SearchParams,
    accept: Option<&dyn Fn(u32) -> bool>,
) -> Vec<Scored> {
    let dim = query.len();
    let mut top = TopK::new(params.k);
    if dim == 0 || params.k == 0 {
        return Vec::new();
    }
    let n = vectors.len() / dim;
    let min_raw = params.min_raw.unwrap_or(f32::NEG_INFINITY);
    match accept {
        None => {
            let mut keys = [0f32; CHUNK];
            let mut start = 0;
            while start < n {
                let rows = CHUNK.min(n - start);
                let block = &vectors[start * dim..(start + rows) * dim];
                distance.raw_batch(query, block, &mut keys[..rows]);
                for (i, &raw) in keys[..rows].iter().enumerate() {
                    if raw > min_raw && top.floor().is_none_or(|f| raw > f) {
                        top.push((start + i) as u32, raw);
                    }
                }
                start += rows;
            }
        }
        Some(accept) => {
            for (i, row) in vectors.chunks_exact(dim).enumerate() {
                if accept(i as u32) {
                    let raw = distance.raw(query, row);
                    if raw > min_raw {
                        top.push(i as u32, raw);
                    }
                }
            }
        }
    }
    top.into_sorted_vec()
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;

    fn data(n: usize, dim: usize, seed: u64) -> Vec<f32> {
        let mut rng = StdRng::seed_from_u64(seed);
        (0..n * dim)
            .map(|_| rng.random_range(0..=2000u32) as f32 / 1000.0 - 1.0)
            .collect()
    }

    fn brute(d: Distance, v: &[f32], q: &[f32], k: usize, keep: impl Fn(u32) -> bool) -> Vec<u32> {
        let mut all: Vec<Scored> = v
            .chunks_exact(q.len())
            .enumerate()
            .filter(|(i, _)| keep(*i as u32))
            .map(|(i, r)| Scored {
                offset: i as u32,
                raw: d.raw(q, r),
            })
            .collect();
        all.sort_by(Scored::better_first);
        all.into_iter().take(k).map(|s| s.offset).collect()
    }

    #[test]
    fn exact_search_equals_sorting_every_score_for_each_distance() {
        let dim = 37;
        let v = data(1000, dim, 7);
        let q = data(1, dim, 99);
        for d in [
            Distance::Cosine,
            Distance::Euclid,
            Distance::Dot,
            Distance::Manhattan,
        ] {
            let got: Vec<u32> = flat_search(
                d,
                &v,
                &q,
                SearchParams {
                    k: 10,
                    min_raw: None,
                },
                None,
            )
            .iter()
            .map(|s| s.offset)
            .collect();
            assert_eq!(got, brute(d, &v, &q, 10, |_| true), "{d:?}");
            let even = |i: u32| i.is_multiple_of(2);
            let got: Vec<u32> = flat_search(
                d,
                &v,
                &q,
                SearchParams {
                    k: 10,
                    min_raw: None,
                },
                Some(&even),
            )
            .iter()
            .map(|s| s.offset)
            .collect();
            assert_eq!(got, brute(d, &v, &q, 10, even), "{d:?} filtered");
        }
    }

    #[test]
    fn threshold_drops_worse_candidates() {
        let dim = 8;
        let v = data(300, dim, 3);
        let q = data(1, dim, 5);
        let all = flat_search(
            Distance::Dot,
            &v,
            &q,
            SearchParams {
                k: 300,
                min_raw: None,
            },
            None,
        );
        let cut = all[20].raw;
        let some = flat_search(
            Distance::Dot,
            &v,
            &q,
            SearchParams {
                k: 300,
                min_raw: Some(cut),
            },
            None,
        );
        // strictly better than the threshold, as Qdrant's score_threshold
        assert!(some.iter().all(|s| s.raw > cut));
        assert_eq!(some.len(), all.iter().filter(|s| s.raw > cut).count());
    }

    #[test]
    fn empty_inputs_give_no_results() {
        assert!(flat_search(
            Distance::Dot,
            &[],
            &[1.0],
            SearchParams {
                k: 5,
                min_raw: None
            },
            None
        )
        .is_empty());
        assert!(flat_search(
            Distance::Dot,
            &[1.0],
            &[1.0],
            SearchParams {
                k: 0,
                min_raw: None
            },
            None
        )
        .is_empty());
    }
}
