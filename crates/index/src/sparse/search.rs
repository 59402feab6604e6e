//! The two exact search paths, shared by the mutable and the sealed index through [`Postings`]:
//!
//! - **postings** ([`search_postings`]): walk the posting list of each query term (in term
//!   order) and accumulate `q · w` per row in a dense per-thread score array, remembering which
//!   rows were touched (a row that shares no term with the query is not a result, as in Qdrant);
//!   then the filter and the score floor decide which touched rows enter a bounded top-k heap.
//! - **candidates** ([`search_candidates`]): for a small filtered candidate set (Qdrant's
//!   `full_scan_threshold` case), score only those rows by seeking each of them in each
//!   query term's posting list (galloping forward, since both are sorted).
//!
//! Both sum a row's products in term order starting from `0.0`, exactly as
//! [`SparseVector::dot`](super::SparseVector::dot) does, so their scores are bit-identical to a
//! brute-force scan.

use std::cell::RefCell;

use crate::{Scored, SearchParams, TopK};

use super::SparseVector;

/// Read access to posting lists: rows strictly increasing, one weight per row.
pub(crate) trait Postings {
    /// The row numbers this index may hold are `0..row_space()`.
    fn row_space(&self) -> usize;
    /// The posting list of `term` as (rows, weights), or `None` when no row has the term.
    fn posting(&self, term: u32) -> Option<(&[u32], &[f32])>;
}

/// Per-thread accumulator: a score per row, and the epoch at which each row was last touched
/// (so nothing needs clearing between searches).
#[derive(Default)]
struct Scratch {
    score: Vec<f32>,
    mark: Vec<u32>,
    epoch: u32,
    touched: Vec<u32>,
}

impl Scratch {
    fn prepare(&mut self, rows: usize) {
        if self.mark.len() < rows {
            self.mark.resize(rows, 0);
            self.score.resize(rows, 0.0);
        }
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.mark.fill(0);
            self.epoch = 1;
        }
        self.touched.clear();
    }
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut s) => f(&mut s),
        // a filter callback that itself searches: give it its own accumulator
        Err(_) => f(&mut Scratch::default()),
    })
}

/// Exact top-k by dot product over the query terms' posting lists. `accept(row)` restricts the
/// result (the payload filter, tombstones); it is asked only about rows sharing a term with the
/// query.
pub(crate) fn search_postings<P: Postings + ?Sized>(
    index: &P,
    query: &SparseVector,
    params: SearchParams,
    accept: Option<&dyn Fn(u32) -> bool>,
) -> Vec<Scored> {
    if params.k == 0 || query.is_empty() {
        return Vec::new();
    }
    let min_raw = params.min_raw.unwrap_or(f32::NEG_INFINITY);
    with_scratch(|s| {
        s.prepare(index.row_space());
        let epoch = s.epoch;
        for (term, q) in query.iter() {
            let Some((rows, weights)) = index.posting(term) else {
                continue;
            };
            for (&row, &w) in rows.iter().zip(weights) {
                let r = row as usize;
                if s.mark[r] == epoch {
                    s.score[r] += q * w;
                } else {
                    s.mark[r] = epoch;
                    s.score[r] = 0.0 + q * w;
                    s.touched.push(row);
                }
            }
        }
        let mut top = TopK::new(params.k);
        for &row in &s.touched {
            let raw = s.score[row as usize];
            if raw > min_raw
                && top.floor().is_none_or(|f| raw >= f)
                && accept.is_none_or(|a| a(row))
            {
                top.push(row, raw);
            }
        }
        top.into_sorted_vec()
    })
}

/// Exact top-k among `candidates` only (any order, repeats allowed; rows outside the index are
/// ignored). The caller has already applied its filter to them.
pub(crate) fn search_candidates<P: Postings + ?Sized>(
    index: &P,
    query: &SparseVector,
    params: SearchParams,
    candidates: &[u32],
) -> Vec<Scored> {
    if params.k == 0 || query.is_empty() || candidates.is_empty() {
        return Vec::new();
    }
    let mut cands: Vec<u32> = candidates.to_vec();
    cands.sort_unstable();
    cands.dedup();
    let mut score = vec![0.0f32; cands.len()];
    let mut hit = vec![false; cands.len()];
    for (term, q) in query.iter() {
        let Some((rows, weights)) = index.posting(term) else {
            continue;
        };
        let mut at = 0usize;
        for (ci, &c) in cands.iter().enumerate() {
            at += gallop(&rows[at..], c);
            if at == rows.len() {
                break;
            }
            if rows[at] == c {
                if hit[ci] {
                    score[ci] += q * weights[at];
                } else {
                    hit[ci] = true;
                    score[ci] = 0.0 + q * weights[at];
                }
            }
        }
    }
    let min_raw = params.min_raw.unwrap_or(f32::NEG_INFINITY);
    let mut top = TopK::new(params.k);
    for ((&row, &raw), &h) in cands.iter().zip(&score).zip(&hit) {
        if h && raw > min_raw {
            top.push(row, raw);
        }
    }
    top.into_sorted_vec()
}

/// The number of leading elements of `rows` (sorted) below `target`: exponential search, then
/// binary search in the last step, so a walk that skips little costs little.
fn gallop(rows: &[u32], target: u32) -> usize {
    let mut hi = 1usize;
    while hi < rows.len() && rows[hi - 1] < target {
        hi *= 2;
    }
    let lo = hi / 2;
    let hi = hi.min(rows.len());
    lo + rows[lo..hi].partition_point(|&r| r < target)
}

#[cfg(test)]
mod tests {
    use super::gallop;

    #[test]
    fn gallop_agrees_with_partition_point() {
        let rows: Vec<u32> = (0..200).map(|i| i * 3).collect();
        for len in [0usize, 1, 2, 7, 64, 200] {
            for t in 0..610 {
                let r = &rows[..len];
                assert_eq!(
                    gallop(r, t),
                    r.partition_point(|&x| x < t),
                    "len={len} t={t}"
                );
            }
        }
    }
}
