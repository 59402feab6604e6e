//! A bounded top-k collector: O(n log k) instead of sorting all n scores; ties go to the lower
//! offset, so results are deterministic. `Scored` is one hit: a row offset and its raw key.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// A candidate: the vector's offset and its raw key (higher is better).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    pub offset: u32,
    pub raw: f32,
}

impl Scored {
    /// Best first: higher raw key, then lower offset (a deterministic order for ties).
    pub fn better_first(a: &Scored, b: &Scored) -> Ordering {
        b.raw.total_cmp(&a.raw).then(a.offset.cmp(&b.offset))
    }
}

/// Heap entry ordered so that the *worst* kept candidate is at the top.
#[derive(Debug, Clone, Copy)]
struct Worst(Scored);

impl PartialEq for Worst {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Worst {}
impl PartialOrd for Worst {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Worst {
    fn cmp(&self, other: &Self) -> Ordering {
        // "greater" = worse, so the max-heap's top is the candidate to evict
        Scored::better_first(&self.0, &other.0)
    }
}

/// Keeps the `k` best candidates seen so far.
#[derive(Debug)]
pub struct TopK {
    k: usize,
    heap: BinaryHeap<Worst>,
}

impl TopK {
    pub fn new(k: usize) -> Self {
        TopK {
            k,
            heap: BinaryHeap::with_capacity(k.saturating_add(1).min(1 << 16)),
        }
    }

    /// The raw key a new candidate must beat to enter, once the collector is full.
    #[inline]
    pub fn floor(&self) -> Option<f32> {
        if self.heap.len() < self.k {
            None
        } else {
            self.heap.peek().map(|w| w.0.raw)
        }
    }

    /// Offers a candidate; it is kept if it is among the best k so far.
    #[inline]
    pub fn push(&mut self, offset: u32, raw: f32) {
        if self.k == 0 {
            return;
        }
        let cand = Worst(Scored { offset, raw });
        if self.heap.len() < self.k {
            self.heap.push(cand);
        } else if let Some(mut top) = self.heap.peek_mut() {
            if cand < *top {
                *top = cand;
            }
        }
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// The kept candidates, best first.
    pub fn into_sorted_vec(self) -> Vec<Scored> {
        // ascending by `Worst` order = best first
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|w| w.0)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;

    #[test]
    fn keeps_the_k_best_in_order_with_ties_by_offset() {
        let mut t = TopK::new(3);
        for (i, s) in [0.1f32, 0.9, 0.5, 0.9, 0.3, 0.7].iter().enumerate() {
            t.push(i as u32, *s);
        }
        let got: Vec<(u32, f32)> = t
            .into_sorted_vec()
            .iter()
            .map(|s| (s.offset, s.raw))
            .collect();
        assert_eq!(got, vec![(1, 0.9), (3, 0.9), (5, 0.7)]);
    }

    #[test]
    fn matches_a_full_sort_on_random_data() {
        // few distinct values, so that ties are common
        let mut rng = StdRng::seed_from_u64(0x9E37_79B9_7F4A_7C15);
        let scores: Vec<f32> = (0..1000)
            .map(|_| rng.random_range(0..100u32) as f32 / 7.0)
            .collect();
        for k in [0usize, 1, 10, 999, 1000, 5000] {
            let mut t = TopK::new(k);
            for (i, s) in scores.iter().enumerate() {
                t.push(i as u32, *s);
            }
            let mut all: Vec<Scored> = scores
                .iter()
                .enumerate()
                .map(|(i, &raw)| Scored {
                    offset: i as u32,
                    raw,
                })
                .collect();
            all.sort_by(Scored::better_first);
            all.truncate(k);
            assert_eq!(t.into_sorted_vec(), all, "k={k}");
        }
    }
}
