//! [`SparseIndex`]: the mutable inverted index of an appendable segment. One posting list per
//! term (rows strictly increasing, weights alongside), and each row's vector, so a row can be
//! replaced or removed. A removed row leaves its posting lists at once (no tombstones), so the
//! document frequencies are always those of the live rows.

use std::collections::HashMap;

use crate::{Scored, SearchParams};

use super::search::{search_candidates, search_postings, Postings};
use super::{SealedSparseIndex, SparseVector};

#[derive(Debug, Clone, Default)]
pub(crate) struct PostingList {
    pub(crate) rows: Vec<u32>,
    pub(crate) weights: Vec<f32>,
}

impl PostingList {
    fn insert(&mut self, row: u32, weight: f32) {
        if self.rows.last().is_none_or(|&last| last < row) {
            self.rows.push(row);
            self.weights.push(weight);
        } else {
            let at = self.rows.partition_point(|&r| r < row);
            debug_assert!(self.rows.get(at) != Some(&row), "row inserted twice");
            self.rows.insert(at, row);
            self.weights.insert(at, weight);
        }
    }

    fn remove(&mut self, row: u32) {
        if let Ok(at) = self.rows.binary_search(&row) {
            self.rows.remove(at);
            self.weights.remove(at);
        }
    }
}

/// A mutable inverted index over rows `0..row_space()`. Rows are the caller's offsets; each
/// holds at most one vector. Not synchronised: the engine holds it under its segment lock.
#[derive(Debug, Clone, Default)]
pub struct SparseIndex {
    postings: HashMap<u32, PostingList>,
    vectors: Vec<Option<SparseVector>>,
    /// Rows holding a non-empty vector: the `N` of the IDF formula.
    vector_count: usize,
    /// Rows holding a vector, empty or not.
    stored: usize,
    postings_total: usize,
}

impl SparseIndex {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `row`'s vector, replacing any it had. An empty vector is stored but, as in Qdrant,
    /// not indexed: it matches no query and is not counted by [`Self::vector_count`].
    pub fn insert(&mut self, row: u32, vector: SparseVector) {
        self.remove(row);
        let r = row as usize;
        if self.vectors.len() <= r {
            self.vectors.resize(r + 1, None);
        }
        if !vector.is_empty() {
            for (term, w) in vector.iter() {
                self.postings.entry(term).or_default().insert(row, w);
            }
            self.vector_count += 1;
            self.postings_total += vector.len();
        }
        self.vectors[r] = Some(vector);
        self.stored += 1;
    }

    /// Removes `row`'s vector; returns whether it had one.
    pub fn remove(&mut self, row: u32) -> bool {
        let Some(old) = self.vectors.get_mut(row as usize).and_then(Option::take) else {
            return false;
        };
        self.stored -= 1;
        if !old.is_empty() {
            for term in old.indices() {
                if let Some(list) = self.postings.get_mut(term) {
                    list.remove(row);
                    if list.rows.is_empty() {
                        self.postings.remove(term);
                    }
                }
            }
            self.vector_count -= 1;
            self.postings_total -= old.len();
        }
        // keep `row_space` tight so the search scratch does not outgrow the segment
        while self.vectors.last().is_some_and(Option::is_none) {
            self.vectors.pop();
        }
        true
    }

    /// `row`'s vector, if it has one.
    pub fn get(&self, row: u32) -> Option<&SparseVector> {
        self.vectors.get(row as usize).and_then(Option::as_ref)
    }

    /// Rows that hold a vector, empty ones included. qdrant-client's local mode counts a point
    /// with an empty vector as an IDF document and the server does not ([`Self::vector_count`]):
    /// pass this as `N` to [`apply_idf`](super::apply_idf) for local mode's figures.
    pub fn len(&self) -> usize {
        self.stored
    }

    pub fn is_empty(&self) -> bool {
        self.stored == 0
    }

    /// Rows that hold a non-empty vector: the `N` of the IDF formula as Qdrant's server counts
    /// it (its index leaves empty vectors out).
    pub fn vector_count(&self) -> usize {
        self.vector_count
    }

    /// One past the highest row holding a vector.
    pub fn row_space(&self) -> usize {
        self.vectors.len()
    }

    /// How many rows hold `term` (its posting list's length).
    pub fn document_frequency(&self, term: u32) -> usize {
        self.postings.get(&term).map_or(0, |l| l.rows.len())
    }

    /// Distinct terms with a non-empty posting list.
    pub fn term_count(&self) -> usize {
        self.postings.len()
    }

    /// Total posting entries (the sum of all indexed vectors' lengths).
    pub fn posting_count(&self) -> usize {
        self.postings_total
    }

    /// Exact top-k by dot product over the query's posting lists; `accept` restricts the rows.
    pub fn search(
        &self,
        query: &SparseVector,
        params: SearchParams,
        accept: Option<&dyn Fn(u32) -> bool>,
    ) -> Vec<Scored> {
        search_postings(self, query, params, accept)
    }

    /// Exact top-k among `candidates` (the full-scan path for a small filtered set).
    pub fn search_candidates(
        &self,
        query: &SparseVector,
        params: SearchParams,
        candidates: &[u32],
    ) -> Vec<Scored> {
        search_candidates(self, query, params, candidates)
    }

    /// The immutable form with the same rows, terms and weights.
    pub fn freeze(&self) -> SealedSparseIndex {
        let mut terms: Vec<u32> = self.postings.keys().copied().collect();
        terms.sort_unstable();
        let lists = terms.iter().map(|t| {
            let l = &self.postings[t];
            (l.rows.as_slice(), l.weights.as_slice())
        });
        SealedSparseIndex::from_sorted_postings(
            self.row_space(),
            self.vector_count,
            &terms,
            lists,
            self.postings_total,
        )
    }
}

impl Postings for SparseIndex {
    fn row_space(&self) -> usize {
        self.vectors.len()
    }

    fn posting(&self, term: u32) -> Option<(&[u32], &[f32])> {
        self.postings
            .get(&term)
            .map(|l| (l.rows.as_slice(), l.weights.as_slice()))
    }
}
