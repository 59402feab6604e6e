//! [`SealedSparseIndex`]: the immutable inverted index of a sealed segment, in CSR form — the
//! sorted term ids, one offset per term into two flat arrays of rows and weights — and its byte
//! format.
//!
//! # Byte format (version 1)
//!
//! Little-endian throughout:
//!
//! | field | type | notes |
//! |---|---|---|
//! | magic | 8 bytes | `RVDBSPRS` |
//! | version | u32 | 1 |
//! | row_count | u32 | rows of the segment; every posting row is below it |
//! | vector_count | u32 | rows with a non-empty vector (= distinct rows in the postings) |
//! | term_count | u32 | terms with a non-empty posting list |
//! | posting_count | u64 | total posting entries |
//! | terms | term_count × u32 | strictly increasing |
//! | lengths | term_count × u32 | each ≥ 1, summing to posting_count |
//! | rows | posting_count × u32 | strictly increasing within each term's list |
//! | weights | posting_count × f32 | finite |
//! | checksum | u32 | CRC32C of every byte before it |
//!
//! [`SealedSparseIndex::from_bytes`] checks all of it (and never panics, whatever the bytes), so
//! an index read back can be searched without further checks.

use std::collections::HashMap;
use std::fmt;

use crate::{Scored, SearchParams};

use super::search::{search_candidates, search_postings, Postings};
use super::SparseVector;

const MAGIC: &[u8; 8] = b"RVDBSPRS";
const VERSION: u32 = 1;
const HEADER: usize = 8 + 4 * 4 + 8;

/// Why bytes could not be read back as a [`SealedSparseIndex`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SparseDecodeError {
    /// Not this format (the magic bytes differ), or too short to hold a header.
    NotASparseIndex,
    /// The checksum does not match: the bytes were damaged.
    ChecksumMismatch,
    /// A version this code does not read.
    UnsupportedVersion(u32),
    /// The checksum matched but the content breaks an invariant (named).
    Corrupt(&'static str),
}

impl fmt::Display for SparseDecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SparseDecodeError::NotASparseIndex => {
                write!(f, "not a sparse index (bad magic or too short)")
            }
            SparseDecodeError::ChecksumMismatch => write!(f, "sparse index checksum mismatch"),
            SparseDecodeError::UnsupportedVersion(v) => {
                write!(f, "unsupported sparse index version {v}")
            }
            SparseDecodeError::Corrupt(what) => write!(f, "corrupt sparse index: {what}"),
        }
    }
}

impl std::error::Error for SparseDecodeError {}

/// An immutable inverted index in CSR form. `Send + Sync`; searches need no lock.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SealedSparseIndex {
    row_count: u32,
    vector_count: u32,
    /// One past the highest row in any posting list (what the search scratch must cover).
    max_row_end: usize,
    terms: Vec<u32>,
    /// `terms.len() + 1` offsets into `rows` / `weights`.
    offsets: Vec<usize>,
    rows: Vec<u32>,
    weights: Vec<f32>,
}

impl SealedSparseIndex {
    /// Builds from `(row, vector)` pairs in any order; a row given twice keeps its last vector.
    /// Empty vectors are not indexed. `row_count` is raised to cover every row given.
    pub fn build<'a>(
        row_count: u32,
        rows: impl IntoIterator<Item = (u32, &'a SparseVector)>,
    ) -> SealedSparseIndex {
        let mut items: Vec<(u32, &SparseVector)> = rows.into_iter().collect();
        let row_count = items
            .iter()
            .map(|&(r, _)| r.saturating_add(1))
            .max()
            .unwrap_or(0)
            .max(row_count);
        // stable: of two entries for one row the later stays later, and dedup keeps it
        items.sort_by_key(|&(r, _)| r);
        let mut last: Vec<(u32, &SparseVector)> = Vec::with_capacity(items.len());
        for it in items {
            match last.last_mut() {
                Some(prev) if prev.0 == it.0 => *prev = it,
                _ => last.push(it),
            }
        }
        last.retain(|(_, v)| !v.is_empty());

        let mut df: HashMap<u32, usize> = HashMap::new();
        for (_, v) in &last {
            for &t in v.indices() {
                *df.entry(t).or_insert(0) += 1;
            }
        }
        let mut terms: Vec<u32> = df.keys().copied().collect();
        terms.sort_unstable();
        let mut offsets = Vec::with_capacity(terms.len() + 1);
        let mut cursor: HashMap<u32, usize> = HashMap::with_capacity(terms.len());
        let mut total = 0usize;
        for &t in &terms {
            offsets.push(total);
            cursor.insert(t, total);
            total += df[&t];
        }
        offsets.push(total);
        let mut out_rows = vec![0u32; total];
        let mut out_weights = vec![0f32; total];
        for &(row, v) in &last {
            for (t, w) in v.iter() {
                let c = cursor.get_mut(&t).expect("every term was counted");
                out_rows[*c] = row;
                out_weights[*c] = w;
                *c += 1;
            }
        }
        let max_row_end = last.last().map_or(0, |&(r, _)| r as usize + 1);
        SealedSparseIndex {
            row_count,
            vector_count: last.len() as u32,
            max_row_end,
            terms,
            offsets,
            rows: out_rows,
            weights: out_weights,
        }
    }

    /// From posting lists already sorted by term, each sorted by row (the mutable index's).
    pub(crate) fn from_sorted_postings<'a>(
        row_count: usize,
        vector_count: usize,
        terms: &[u32],
        lists: impl Iterator<Item = (&'a [u32], &'a [f32])>,
        total: usize,
    ) -> SealedSparseIndex {
        let mut offsets = Vec::with_capacity(terms.len() + 1);
        let mut rows = Vec::with_capacity(total);
        let mut weights = Vec::with_capacity(total);
        let mut max_row_end = 0usize;
        for (r, w) in lists {
            offsets.push(rows.len());
            rows.extend_from_slice(r);
            weights.extend_from_slice(w);
            if let Some(&last) = r.last() {
                max_row_end = max_row_end.max(last as usize + 1);
            }
        }
        offsets.push(rows.len());
        SealedSparseIndex {
            row_count: row_count as u32,
            vector_count: vector_count as u32,
            max_row_end,
            terms: terms.to_vec(),
            offsets,
            rows,
            weights,
        }
    }

    /// Rows of the segment (every indexed row is below it).
    pub fn row_count(&self) -> usize {
        self.row_count as usize
    }

    /// Rows holding a non-empty vector: the `N` of the IDF formula. Rows the engine has since
    /// tombstoned still count, as in Qdrant's global IDF statistics.
    pub fn vector_count(&self) -> usize {
        self.vector_count as usize
    }

    /// How many rows hold `term`.
    pub fn document_frequency(&self, term: u32) -> usize {
        self.posting(term).map_or(0, |(r, _)| r.len())
    }

    /// Distinct terms.
    pub fn term_count(&self) -> usize {
        self.terms.len()
    }

    /// Total posting entries.
    pub fn posting_count(&self) -> usize {
        self.rows.len()
    }

    /// Heap bytes held.
    pub fn memory_bytes(&self) -> usize {
        self.terms.len() * 4
            + self.offsets.len() * std::mem::size_of::<usize>()
            + self.rows.len() * 8
    }

    /// Rebuilds row `row`'s vector from the postings (a scan of every posting list: for tests
    /// and tools, not for serving).
    pub fn vector(&self, row: u32) -> SparseVector {
        let mut idx = Vec::new();
        let mut val = Vec::new();
        for (i, &t) in self.terms.iter().enumerate() {
            let (rows, weights) = self.list(i);
            if let Ok(at) = rows.binary_search(&row) {
                idx.push(t);
                val.push(weights[at]);
            }
        }
        SparseVector::from_sorted_unchecked(idx, val)
    }

    /// Exact top-k by dot product over the query's posting lists; `accept` restricts the rows
    /// (pass the segment's tombstones here too).
    pub fn search(
        &self,
        query: &SparseVector,
        params: SearchParams,
        accept: Option<&dyn Fn(u32) -> bool>,
    ) -> Vec<Scored> {
        search_postings(self, query, params, accept)
    }

    /// Exact top-k among `candidates` (the full-scan path for a small filtered set; the caller
    /// has removed tombstoned rows).
    pub fn search_candidates(
        &self,
        query: &SparseVector,
        params: SearchParams,
        candidates: &[u32],
    ) -> Vec<Scored> {
        search_candidates(self, query, params, candidates)
    }

    fn list(&self, i: usize) -> (&[u32], &[f32]) {
        let (a, b) = (self.offsets[i], self.offsets[i + 1]);
        (&self.rows[a..b], &self.weights[a..b])
    }

    /// The byte format described in the module docs.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER + self.terms.len() * 8 + self.rows.len() * 8 + 4);
        out.extend_from_slice(MAGIC);
        for x in [
            VERSION,
            self.row_count,
            self.vector_count,
            self.terms.len() as u32,
        ] {
            out.extend_from_slice(&x.to_le_bytes());
        }
        out.extend_from_slice(&(self.rows.len() as u64).to_le_bytes());
        for &t in &self.terms {
            out.extend_from_slice(&t.to_le_bytes());
        }
        for w in self.offsets.windows(2) {
            out.extend_from_slice(&((w[1] - w[0]) as u32).to_le_bytes());
        }
        for &r in &self.rows {
            out.extend_from_slice(&r.to_le_bytes());
        }
        for &w in &self.weights {
            out.extend_from_slice(&w.to_le_bytes());
        }
        let crc = crc32c::crc32c(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Reads the byte format back, checking every invariant; never panics.
    pub fn from_bytes(b: &[u8]) -> Result<SealedSparseIndex, SparseDecodeError> {
        use SparseDecodeError::Corrupt;
        if b.len() < HEADER + 4 || &b[..8] != MAGIC {
            return Err(SparseDecodeError::NotASparseIndex);
        }
        let (body, tail) = b.split_at(b.len() - 4);
        let stored = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]);
        if crc32c::crc32c(body) != stored {
            return Err(SparseDecodeError::ChecksumMismatch);
        }
        let u32_at =
            |at: usize| u32::from_le_bytes([body[at], body[at + 1], body[at + 2], body[at + 3]]);
        let version = u32_at(8);
        if version != VERSION {
            return Err(SparseDecodeError::UnsupportedVersion(version));
        }
        let row_count = u32_at(12);
        let vector_count = u32_at(16);
        let term_count = u32_at(20) as u64;
        let mut pc = [0u8; 8];
        pc.copy_from_slice(&body[24..32]);
        let posting_count = u64::from_le_bytes(pc);
        let expected = term_count
            .checked_mul(8)
            .and_then(|t| posting_count.checked_mul(8).and_then(|p| t.checked_add(p)))
            .and_then(|x| x.checked_add(HEADER as u64));
        if expected != Some(body.len() as u64) {
            return Err(Corrupt("sizes do not match the length"));
        }
        // the length check bounds both counts by the input's size
        let (tc, pc) = (term_count as usize, posting_count as usize);
        let words = |start: usize, n: usize| body[start..start + 4 * n].chunks_exact(4);
        let mut at = HEADER;
        let terms: Vec<u32> = words(at, tc)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        at += 4 * tc;
        if terms.windows(2).any(|w| w[0] >= w[1]) {
            return Err(Corrupt("terms not strictly increasing"));
        }
        let mut offsets = Vec::with_capacity(tc + 1);
        let mut total = 0usize;
        offsets.push(0);
        for c in words(at, tc) {
            let len = u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as usize;
            if len == 0 {
                return Err(Corrupt("empty posting list"));
            }
            total = total.saturating_add(len);
            if total > pc {
                return Err(Corrupt("posting lengths exceed the posting count"));
            }
            offsets.push(total);
        }
        at += 4 * tc;
        if total != pc {
            return Err(Corrupt("posting lengths do not sum to the posting count"));
        }
        let rows: Vec<u32> = words(at, pc)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        at += 4 * pc;
        let weights: Vec<f32> = words(at, pc)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        if weights.iter().any(|w| !w.is_finite()) {
            return Err(Corrupt("a weight is not finite"));
        }
        let mut max_row_end = 0usize;
        for w in offsets.windows(2) {
            let list = &rows[w[0]..w[1]];
            if list.windows(2).any(|p| p[0] >= p[1]) {
                return Err(Corrupt("posting rows not strictly increasing"));
            }
            if let Some(&last) = list.last() {
                if last >= row_count {
                    return Err(Corrupt("a posting row is past the row count"));
                }
                max_row_end = max_row_end.max(last as usize + 1);
            }
        }
        let mut distinct = rows.clone();
        distinct.sort_unstable();
        distinct.dedup();
        if distinct.len() != vector_count as usize {
            return Err(Corrupt("vector count does not match the postings"));
        }
        Ok(SealedSparseIndex {
            row_count,
            vector_count,
            max_row_end,
            terms,
            offsets,
            rows,
            weights,
        })
    }
}

impl Postings for SealedSparseIndex {
    fn row_space(&self) -> usize {
        self.max_row_end
    }

    fn posting(&self, term: u32) -> Option<(&[u32], &[f32])> {
        self.terms.binary_search(&term).ok().map(|i| self.list(i))
    }
}
