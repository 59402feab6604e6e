//! The sparse vectors of one sparse vector space in a segment ([`SparseColumn`]): each row's
//! vector and an inverted index over them. The appendable segment keeps a mutable
//! [`SparseIndex`] (which holds the rows' vectors too); a sealed segment keeps the vectors and
//! the immutable CSR [`SealedSparseIndex`], persisted beside its rows (`persist.rs`).
//!
//! An absent vector (the point has none in this space) differs from an empty one (stored, never
//! a search result): `has_vector` is true for the latter, as in Qdrant.

use rvdb_filter::{PayloadIndex, PointId};
use rvdb_index::{
    apply_idf, Scored, SealedSparseIndex, SearchParams, SparseIndex, SparseVector,
    SparseVectorError, TopK,
};

use crate::read::{best_score, context_score, discovery_score, hit};
use crate::segment::Segment;
use crate::segments::Loc;
use crate::types::{RecommendStrategy, ScoreQuery, SparseVectorParams};
use crate::{Collection, EngineError, Result, ScoredPoint, SearchRequest};

#[derive(Debug, Clone)]
pub(crate) enum SparseColumn {
    /// The appendable segment's: rows change in place.
    Mutable(SparseIndex),
    /// A sealed segment's: written once (a write converts it back to [`Self::Mutable`]).
    Sealed {
        vectors: Vec<Option<SparseVector>>,
        index: SealedSparseIndex,
    },
}

impl Default for SparseColumn {
    fn default() -> Self {
        SparseColumn::Mutable(SparseIndex::new())
    }
}

impl SparseColumn {
    /// A sealed column of `rows` rows, with its index read back from a file (or rebuilt when
    /// `index` is `None`).
    pub(crate) fn sealed(
        rows: usize,
        vectors: Vec<Option<SparseVector>>,
        index: Option<SealedSparseIndex>,
    ) -> SparseColumn {
        let index = index.unwrap_or_else(|| build_sealed(rows, &vectors));
        SparseColumn::Sealed { vectors, index }
    }

    pub(crate) fn get(&self, row: usize) -> Option<&SparseVector> {
        match self {
            SparseColumn::Mutable(ix) => u32::try_from(row).ok().and_then(|r| ix.get(r)),
            SparseColumn::Sealed { vectors, .. } => vectors.get(row).and_then(Option::as_ref),
        }
    }

    pub(crate) fn is_present(&self, row: usize) -> bool {
        self.get(row).is_some()
    }

    /// Rows holding a vector (empty ones included) that `live` accepts.
    fn stored(&self, live: &dyn Fn(usize) -> bool) -> usize {
        match self {
            SparseColumn::Mutable(ix) => ix.len(),
            SparseColumn::Sealed { vectors, .. } => vectors
                .iter()
                .enumerate()
                .filter(|(r, v)| v.is_some() && live(*r))
                .count(),
        }
    }

    /// Sets (or, with `None`, removes) `row`'s vector.
    pub(crate) fn set(&mut self, row: usize, v: Option<SparseVector>) {
        let ix = self.mutable();
        let row = row as u32;
        match v {
            Some(v) => ix.insert(row, v),
            None => {
                ix.remove(row);
            }
        }
    }

    /// Moves the last row (`last`) into `row`, as the segment's swap-remove does.
    pub(crate) fn swap_remove(&mut self, row: usize, last: usize) {
        let moved = self.get(last).cloned();
        self.set(last, None);
        if row != last {
            self.set(row, moved);
        }
    }

    /// The immutable form over `rows` rows.
    pub(crate) fn seal(&self, rows: usize) -> SparseColumn {
        match self {
            SparseColumn::Sealed { .. } => self.clone(),
            SparseColumn::Mutable(_) => {
                let vectors: Vec<Option<SparseVector>> =
                    (0..rows).map(|r| self.get(r).cloned()).collect();
                SparseColumn::sealed(rows, vectors, None)
            }
        }
    }

    /// The sealed index, when this column is sealed.
    pub(crate) fn sealed_index(&self) -> Option<&SealedSparseIndex> {
        match self {
            SparseColumn::Sealed { index, .. } => Some(index),
            SparseColumn::Mutable(_) => None,
        }
    }

    /// How many rows of the index hold `term` (a sealed index still counts tombstoned rows).
    pub(crate) fn document_frequency(&self, term: u32) -> usize {
        match self {
            SparseColumn::Mutable(ix) => ix.document_frequency(term),
            SparseColumn::Sealed { index, .. } => index.document_frequency(term),
        }
    }

    /// Exact top-k by dot product; `accept` restricts the rows.
    pub(crate) fn search(
        &self,
        query: &SparseVector,
        params: SearchParams,
        accept: Option<&dyn Fn(u32) -> bool>,
    ) -> Vec<Scored> {
        match self {
            SparseColumn::Mutable(ix) => ix.search(query, params, accept),
            SparseColumn::Sealed { index, .. } => index.search(query, params, accept),
        }
    }

    /// Exact top-k among `candidates` (sorted rows that passed the filter).
    pub(crate) fn search_candidates(
        &self,
        query: &SparseVector,
        params: SearchParams,
        candidates: &[u32],
    ) -> Vec<Scored> {
        match self {
            SparseColumn::Mutable(ix) => ix.search_candidates(query, params, candidates),
            SparseColumn::Sealed { index, .. } => {
                index.search_candidates(query, params, candidates)
            }
        }
    }

    fn mutable(&mut self) -> &mut SparseIndex {
        if let SparseColumn::Sealed { vectors, .. } = self {
            let mut ix = SparseIndex::new();
            for (r, v) in vectors.iter().enumerate() {
                if let Some(v) = v {
                    ix.insert(r as u32, v.clone());
                }
            }
            *self = SparseColumn::Mutable(ix);
        }
        match self {
            SparseColumn::Mutable(ix) => ix,
            SparseColumn::Sealed { .. } => unreachable!("just converted"),
        }
    }
}

fn build_sealed(rows: usize, vectors: &[Option<SparseVector>]) -> SealedSparseIndex {
    SealedSparseIndex::build(
        rows as u32,
        vectors
            .iter()
            .enumerate()
            .filter_map(|(r, v)| v.as_ref().map(|v| (r as u32, v))),
    )
}

/// One segment as a sparse search sees it.
struct SparseView<'a> {
    data: &'a Segment,
    index: &'a PayloadIndex,
    deleted: Option<&'a dyn Fn(usize) -> bool>,
    loc: &'a dyn Fn(usize) -> Loc,
}

impl SparseView<'_> {
    fn live(&self, r: usize) -> bool {
        self.deleted.is_none_or(|d| !d(r))
    }
}

impl Collection {
    /// Nearest search in a sparse vector space: the dot product over shared indices (the query
    /// weighted by IDF under the `idf` modifier), over every segment's inverted index.
    pub(crate) fn search_sparse(
        &self,
        req: &SearchRequest,
        params: SparseVectorParams,
    ) -> Result<Vec<ScoredPoint>> {
        let using = &req.using;
        let scorer = match &req.query {
            ScoreQuery::NearestSparse(q) => Scorer::Nearest(q.clone()),
            ScoreQuery::RecommendSparse {
                positive,
                negative,
                strategy,
            } => {
                if positive.is_empty() && negative.is_empty() {
                    return Err(EngineError::bad(
                        "recommend: no positive or negative examples given",
                    ));
                }
                match strategy {
                    RecommendStrategy::AverageVector => {
                        if positive.is_empty() {
                            return Err(EngineError::bad("recommend: at least one positive example is required for the average_vector strategy"));
                        }
                        let pos = average(positive);
                        let merged = if negative.is_empty() {
                            pos
                        } else {
                            pos.and_then(|p| combine(&p, &average(negative)?, |p, n| p + p - n))
                        };
                        Scorer::Nearest(merged.map_err(|e| {
                            EngineError::bad(format!("recommend: the average vector: {e}"))
                        })?)
                    }
                    RecommendStrategy::BestScore => Scorer::Best {
                        pos: positive.clone(),
                        neg: negative.clone(),
                    },
                    RecommendStrategy::SumScores => Scorer::Sum {
                        pos: positive.clone(),
                        neg: negative.clone(),
                    },
                }
            }
            ScoreQuery::DiscoverSparse { target, pairs } => Scorer::Discover {
                target: target.clone(),
                pairs: pairs.clone(),
            },
            ScoreQuery::ContextSparse(pairs) => Scorer::Context(pairs.clone()),
            ScoreQuery::Nearest(_) => {
                return Err(EngineError::bad(format!(
                    "`{using}` is a sparse vector: the query must be a sparse vector \\
                     ({{\"indices\": […], \"values\": […]}})"
                )))
            }
            _ => {
                return Err(EngineError::bad(format!(
                    "`{using}` is a sparse vector: only nearest queries are supported on sparse vectors"
                )))
            }
        };
        if let Some(t) = req.score_threshold {
            if !t.is_finite() {
                return Err(EngineError::bad("score_threshold: must be a finite number"));
            }
        }
        let segs = self.points.read();
        let sealed_deleted: Vec<Box<dyn Fn(usize) -> bool + '_>> = segs
            .sealed
            .iter()
            .map(|s| Box::new(move |r: usize| s.is_deleted(r)) as Box<dyn Fn(usize) -> bool>)
            .collect();
        let sealed_index: Vec<_> = segs.sealed.iter().map(|s| s.index.read()).collect();
        let sealed_loc: Vec<Box<dyn Fn(usize) -> Loc>> = (0..segs.sealed.len())
            .map(|i| Box::new(move |r: usize| Loc::Sealed(i, r)) as Box<dyn Fn(usize) -> Loc>)
            .collect();
        let app_loc = |r: usize| Loc::Appendable(r);
        let mut views = vec![SparseView {
            data: &segs.appendable,
            index: segs.appendable.payload_index(),
            deleted: None,
            loc: &app_loc,
        }];
        for (i, s) in segs.sealed.iter().enumerate() {
            views.push(SparseView {
                data: &s.data,
                index: &sealed_index[i],
                deleted: (s.deleted_count() > 0).then_some(&*sealed_deleted[i]),
                loc: &*sealed_loc[i],
            });
        }
        let scorer = if params.idf() {
            scorer.map(|v| idf_weighted(&views, using, &v))
        } else {
            scorer
        };
        let k = req.limit.saturating_add(req.offset);
        let filter = req.filter.as_ref().filter(|f| !f.is_empty());
        let search = SearchParams {
            k,
            min_raw: req.score_threshold,
        };
        let mut all: Vec<(f32, PointId, Loc)> = Vec::new();
        for view in &views {
            let Some(col) = view.data.sparse_column(using) else {
                continue;
            };
            let seg = view.data;
            let passes = |r: u32| {
                let r = r as usize;
                view.live(r) && filter.is_none_or(|f| seg.matches(r, f))
            };
            let query = match &scorer {
                Scorer::Nearest(q) => q,
                _ => {
                    // every live point with the vector is scored (no overlap: 0)
                    let mut top = TopK::new(k);
                    for r in (0..seg.len()).filter(|&r| passes(r as u32)) {
                        if let Some(v) = col.get(r) {
                            let key = scorer.score(v);
                            if req.score_threshold.is_none_or(|t| key > t) {
                                top.push(r as u32, key);
                            }
                        }
                    }
                    for h in top.into_sorted_vec() {
                        let r = h.offset as usize;
                        all.push((h.raw, seg.id(r), (view.loc)(r)));
                    }
                    continue;
                }
            };
            let hits = match filter {
                Some(f)
                    if params
                        .index
                        .use_candidates(view.index.estimate(f, seg.len()).max) =>
                {
                    let mut rows: Vec<u32> = match view.index.candidates(f) {
                        Some(ids) => ids
                            .into_iter()
                            .filter_map(|id| seg.find(id))
                            .map(|r| r as u32)
                            .filter(|&r| passes(r))
                            .collect(),
                        None => (0..seg.len() as u32).filter(|&r| passes(r)).collect(),
                    };
                    rows.sort_unstable();
                    col.search_candidates(query, search, &rows)
                }
                _ if filter.is_none() && view.deleted.is_none() => col.search(query, search, None),
                _ => col.search(query, search, Some(&passes)),
            };
            for h in hits {
                let r = h.offset as usize;
                all.push((h.raw, seg.id(r), (view.loc)(r)));
            }
        }
        all.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        Ok(all
            .into_iter()
            .take(k)
            .skip(req.offset)
            .map(|(score, _, loc)| {
                let (seg, r) = segs.at(loc);
                hit(seg, r, score, req)
            })
            .collect())
    }
}

/// A prepared sparse query: what scores a stored vector (higher is better).
enum Scorer {
    Nearest(SparseVector),
    /// Closest positive vs closest negative, squashed by a sigmoid.
    Best {
        pos: Vec<SparseVector>,
        neg: Vec<SparseVector>,
    },
    /// Σ similarity to positives − Σ similarity to negatives.
    Sum {
        pos: Vec<SparseVector>,
        neg: Vec<SparseVector>,
    },
    /// Σ over pairs of +1 / 0 / −1, plus the sigmoid of the similarity to `target`.
    Discover {
        target: SparseVector,
        pairs: Vec<(SparseVector, SparseVector)>,
    },
    /// Σ over pairs of `fast_sigmoid(min(pos − neg − ε, 0))`.
    Context(Vec<(SparseVector, SparseVector)>),
}

impl Scorer {
    /// Every query vector through `f` (the IDF weighting).
    fn map(self, f: impl Fn(SparseVector) -> SparseVector) -> Scorer {
        let all = |vs: Vec<SparseVector>| vs.into_iter().map(&f).collect();
        match self {
            Scorer::Nearest(q) => Scorer::Nearest(f(q)),
            Scorer::Best { pos, neg } => Scorer::Best {
                pos: all(pos),
                neg: all(neg),
            },
            Scorer::Sum { pos, neg } => Scorer::Sum {
                pos: all(pos),
                neg: all(neg),
            },
            Scorer::Discover { target, pairs } => Scorer::Discover {
                target: f(target),
                pairs: pairs.into_iter().map(|(p, n)| (f(p), f(n))).collect(),
            },
            Scorer::Context(pairs) => {
                Scorer::Context(pairs.into_iter().map(|(p, n)| (f(p), f(n))).collect())
            }
        }
    }

    /// The scores of local mode (an example sharing no index with the point scores 0).
    fn score(&self, x: &SparseVector) -> f32 {
        let sim = |e: &SparseVector| e.dot(x).unwrap_or(0.0);
        match self {
            Scorer::Nearest(q) => sim(q),
            Scorer::Best { pos, neg } => best_score(pos, neg, sim),
            Scorer::Sum { pos, neg } => {
                let sum = |ex: &[SparseVector]| ex.iter().map(sim).sum::<f32>();
                sum(pos) - sum(neg)
            }
            Scorer::Discover { target, pairs } => discovery_score(target, pairs, |v| sim(v)),
            Scorer::Context(pairs) => context_score(pairs, |v| sim(v)),
        }
    }
}

/// The mean of sparse vectors over the union of their indices (a missing index counts 0).
fn average(vectors: &[SparseVector]) -> std::result::Result<SparseVector, SparseVectorError> {
    let mut sum = SparseVector::default();
    for v in vectors {
        sum = combine(&sum, v, |a, b| a + b)?;
    }
    let n = vectors.len() as f32;
    let values = sum.values().iter().map(|v| v / n).collect();
    SparseVector::new(sum.indices().to_vec(), values)
}

/// `op(a, b)` per index of the union of both vectors' indices (a missing value is 0).
fn combine(
    a: &SparseVector,
    b: &SparseVector,
    op: impl Fn(f32, f32) -> f32,
) -> std::result::Result<SparseVector, SparseVectorError> {
    let mut indices = Vec::with_capacity(a.len() + b.len());
    let mut values = Vec::with_capacity(a.len() + b.len());
    let (ai, av, bi, bv) = (a.indices(), a.values(), b.indices(), b.values());
    let (mut i, mut j) = (0, 0);
    while i < ai.len() || j < bi.len() {
        let take_a = j == bi.len() || (i < ai.len() && ai[i] <= bi[j]);
        let take_b = i == ai.len() || (j < bi.len() && bi[j] <= ai[i]);
        let (x, y) = (
            if take_a { av[i] } else { 0.0 },
            if take_b { bv[j] } else { 0.0 },
        );
        indices.push(if take_a { ai[i] } else { bi[j] });
        values.push(op(x, y));
        i += usize::from(take_a);
        j += usize::from(take_b);
    }
    // sorted and unique by construction; a value may overflow to infinity (refused)
    SparseVector::new(indices, values)
}

/// The query weighted by IDF over the live points holding a vector in `using` (an empty
/// vector counts as a document, as in qdrant-client's local mode; a tombstoned row of a
/// sealed segment does not).
fn idf_weighted(views: &[SparseView], using: &str, query: &SparseVector) -> SparseVector {
    let mut n = 0usize;
    let mut df = vec![0usize; query.len()];
    for view in views {
        let Some(col) = view.data.sparse_column(using) else {
            continue;
        };
        n += col.stored(&|r| view.live(r));
        for (i, t) in query.indices().iter().enumerate() {
            df[i] += col.document_frequency(*t);
        }
        if view.deleted.is_some() && col.sealed_index().is_some() {
            for r in (0..view.data.len()).filter(|&r| !view.live(r)) {
                if let Some(v) = col.get(r) {
                    for (i, t) in query.indices().iter().enumerate() {
                        if v.indices().binary_search(t).is_ok() {
                            df[i] -= 1;
                        }
                    }
                }
            }
        }
    }
    apply_idf(query, n, |t| {
        query.indices().binary_search(&t).map_or(0, |i| df[i])
    })
}
