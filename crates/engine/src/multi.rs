//! Multivectors (Qdrant's `multivector_config`, ColBERT-style late interaction): the
//! [`MultiColumn`] that holds one multivector space's vectors in a segment, and the exact
//! `max_sim` search over them.
//!
//! A multivector is a list of rows of the space's dimension; two multivectors compare by the
//! sum over the query's rows of the best similarity to any stored row
//! ([`Distance::max_sim_raw`]). Multivector spaces are never HNSW-indexed: every segment's
//! points are scored exactly (as Qdrant with `hnsw_config.m = 0`, the usual setup for
//! ColBERT reranking vectors).

use rvdb_filter::PointId;
use rvdb_index::TopK;
use rvdb_vector::Distance;

use crate::read::{best_score, context_score, discovery_score, hit, prep_examples};
use crate::segment::Segment;
use crate::segments::Loc;
use crate::types::{MultiQuery, MultiVector, RecommendStrategy, ScoreQuery};
use crate::{Collection, EngineError, Result, ScoredPoint, SearchRequest};

/// The multivectors of one space in a segment: every stored multivector's rows flattened into
/// one array of f32, and per segment row the span of its values. Rewrites append (the replaced
/// values become garbage, compacted once they are most of the array).
#[derive(Debug, Clone, Default)]
pub(crate) struct MultiColumn {
    dim: usize,
    data: Vec<f32>,
    /// Per segment row: `(offset, len)` in values of `data`, `None` when the row has none.
    /// Shorter than the segment when its last rows have none.
    spans: Vec<Option<(usize, usize)>>,
    /// Values of `data` no span covers.
    garbage: usize,
}

impl MultiColumn {
    /// A column read back from a segment file: `vectors[r]` the flattened rows of row `r`.
    pub(crate) fn from_rows(dim: usize, vectors: Vec<Option<Vec<f32>>>) -> MultiColumn {
        let mut c = MultiColumn {
            dim,
            ..MultiColumn::default()
        };
        c.data
            .reserve(vectors.iter().flatten().map(Vec::len).sum::<usize>());
        for (r, v) in vectors.into_iter().enumerate() {
            if let Some(v) = v {
                c.set_flat(r, Some(&v));
            }
        }
        c
    }

    /// The dimension of each row (0 while the column is empty).
    pub(crate) fn dim(&self) -> usize {
        self.dim
    }

    /// The flattened rows of `row`'s multivector.
    pub(crate) fn get(&self, row: usize) -> Option<&[f32]> {
        let (o, n) = (*self.spans.get(row)?)?;
        Some(&self.data[o..o + n])
    }

    /// `row`'s multivector as rows.
    pub(crate) fn get_rows(&self, row: usize) -> Option<Vec<Vec<f32>>> {
        let d = self.dim.max(1);
        self.get(row)
            .map(|v| v.chunks_exact(d).map(<[f32]>::to_vec).collect())
    }

    pub(crate) fn is_present(&self, row: usize) -> bool {
        self.get(row).is_some()
    }

    /// Sets (or, with `None`, removes) `row`'s multivector (rows of one dimension, validated
    /// by the caller).
    pub(crate) fn set(&mut self, row: usize, v: Option<&[Vec<f32>]>) {
        match v {
            Some(rows) => {
                if let Some(first) = rows.first() {
                    self.dim = first.len();
                }
                let flat: Vec<f32> = rows.iter().flatten().copied().collect();
                self.set_flat(row, Some(&flat));
            }
            None => self.set_flat(row, None),
        }
    }

    fn set_flat(&mut self, row: usize, v: Option<&[f32]>) {
        let span = v.map(|v| {
            let o = self.data.len();
            self.data.extend_from_slice(v);
            (o, v.len())
        });
        if span.is_none() && row >= self.spans.len() {
            return;
        }
        if row >= self.spans.len() {
            self.spans.resize(row + 1, None);
        }
        if let Some((_, n)) = std::mem::replace(&mut self.spans[row], span) {
            self.garbage += n;
        }
        self.compact_if_due();
    }

    /// Moves the last row (`last`) into `row`, as the segment's swap-remove does.
    pub(crate) fn swap_remove(&mut self, row: usize, last: usize) {
        let moved = self.spans.get_mut(last).and_then(Option::take);
        if row == last {
            if let Some((_, n)) = moved {
                self.garbage += n;
            }
        } else if moved.is_some() || row < self.spans.len() {
            if row >= self.spans.len() {
                self.spans.resize(row + 1, None);
            }
            if let Some((_, n)) = std::mem::replace(&mut self.spans[row], moved) {
                self.garbage += n;
            }
        }
        self.spans.truncate(last);
        self.compact_if_due();
    }

    /// Rows holding a multivector.
    #[cfg(test)]
    pub(crate) fn count(&self) -> usize {
        self.spans.iter().filter(|s| s.is_some()).count()
    }

    fn compact_if_due(&mut self) {
        if self.garbage < 4096 || self.garbage * 2 < self.data.len() {
            return;
        }
        self.compact();
    }

    /// Drops the values no span covers (a segment being sealed keeps no garbage).
    pub(crate) fn compact(&mut self) {
        if self.garbage == 0 {
            return;
        }
        let mut data = Vec::with_capacity(self.data.len() - self.garbage);
        for (o, n) in self.spans.iter_mut().flatten() {
            let start = data.len();
            data.extend_from_slice(&self.data[*o..*o + *n]);
            *o = start;
        }
        self.data = data;
        self.garbage = 0;
    }
}

/// A prepared multivector query: what scores a stored multivector (higher is better), every
/// example flattened and its rows prepared (normalised under Cosine).
enum MultiScorer {
    Nearest(Vec<f32>),
    Recommend {
        pos: Vec<Vec<f32>>,
        neg: Vec<Vec<f32>>,
        best: bool,
    },
    Discover {
        target: Vec<f32>,
        pairs: Vec<(Vec<f32>, Vec<f32>)>,
    },
    Context(Vec<(Vec<f32>, Vec<f32>)>),
}

impl MultiScorer {
    /// The key of the stored multivector `x` (local mode's scores; a nearest key is raw).
    fn score(&self, d: Distance, dim: usize, x: &[f32]) -> f32 {
        let sim = |q: &[f32]| d.max_sim_raw(q, x, dim);
        match self {
            MultiScorer::Nearest(q) => sim(q),
            MultiScorer::Recommend {
                pos,
                neg,
                best: true,
            } => best_score(pos, neg, |v| sim(v)),
            MultiScorer::Recommend {
                pos,
                neg,
                best: false,
            } => {
                let sum = |ex: &[Vec<f32>]| ex.iter().map(|e| sim(e)).sum::<f32>();
                sum(pos) - sum(neg)
            }
            MultiScorer::Discover { target, pairs } => discovery_score(target, pairs, |v| sim(v)),
            MultiScorer::Context(pairs) => context_score(pairs, |v| sim(v)),
        }
    }
}

/// Checks a multivector given at `at` (not empty, every row `dim` finite values) and returns
/// its rows flattened and prepared for `distance`.
pub(crate) fn prepare_multi(
    rows: &[Vec<f32>],
    dim: Option<usize>,
    distance: Distance,
    at: &str,
) -> Result<Vec<f32>> {
    check_multi(rows, dim, at)?;
    let mut flat = Vec::with_capacity(rows.len() * rows[0].len());
    for row in rows {
        let mut row = row.clone();
        distance.prepare(&mut row);
        flat.extend_from_slice(&row);
    }
    Ok(flat)
}

/// A multivector's shape: at least one row, every row non-empty, of `dim` (or of the first
/// row's) values, all finite.
pub(crate) fn check_multi(rows: &[Vec<f32>], dim: Option<usize>, at: &str) -> Result<()> {
    if rows.is_empty() {
        return Err(EngineError::bad(format!(
            "{at}: a multivector must not be empty"
        )));
    }
    let dim = dim.unwrap_or(rows[0].len());
    for (i, row) in rows.iter().enumerate() {
        if row.is_empty() {
            return Err(EngineError::bad(format!(
                "{at}[{i}]: all vectors of a multivector must be non-empty"
            )));
        }
        if row.len() != dim {
            return Err(EngineError::bad(format!(
                "{at}[{i}]: Vector dimension error: expected dim: {dim}, got {}",
                row.len()
            )));
        }
        if let Some(j) = row.iter().position(|x| !x.is_finite()) {
            return Err(EngineError::bad(format!(
                "{at}[{i}][{j}]: {} is not a finite number",
                row[j]
            )));
        }
    }
    Ok(())
}

impl Collection {
    /// A search in a multivector space: every live point with a multivector that passes the
    /// filter is scored exactly, in every segment.
    pub(crate) fn search_multi(&self, req: &SearchRequest) -> Result<Vec<ScoredPoint>> {
        let (distance, dim) = {
            let config = self.config.read();
            let p = config
                .config
                .vectors
                .get(&req.using)
                .filter(|p| p.multivector.is_some())
                .ok_or_else(|| EngineError::bad(format!("`{}` is not a multivector", req.using)))?;
            (p.distance, p.size)
        };
        let query = match &req.query {
            ScoreQuery::Multi(q) => q,
            _ => {
                return Err(EngineError::bad(format!(
                    "`{}` is a multivector: the query must be a multivector (an array of arrays of numbers)",
                    req.using
                )))
            }
        };
        if let Some(t) = req.score_threshold {
            if !t.is_finite() {
                return Err(EngineError::bad("score_threshold: must be a finite number"));
            }
        }
        let prep = |rows: &[Vec<f32>], at: &str| prepare_multi(rows, dim, distance, at);
        let prep_pairs = |pairs: &[(MultiVector, MultiVector)]| -> Result<_> {
            pairs
                .iter()
                .enumerate()
                .map(|(i, (p, n))| {
                    Ok((
                        prep(p, &format!("context[{i}].positive"))?,
                        prep(n, &format!("context[{i}].negative"))?,
                    ))
                })
                .collect::<Result<Vec<_>>>()
        };
        let scorer = match query {
            MultiQuery::Nearest(q) => MultiScorer::Nearest(prep(q, "vector")?),
            MultiQuery::Recommend {
                positive,
                negative,
                strategy: RecommendStrategy::AverageVector,
            } => {
                if positive.is_empty() {
                    return Err(EngineError::bad("recommend: at least one positive example is required for the average_vector strategy"));
                }
                // local mode's: the positives' rows, then the negatives' rows negated
                let mut rows: Vec<Vec<f32>> = positive.iter().flatten().cloned().collect();
                rows.extend(
                    negative
                        .iter()
                        .flatten()
                        .map(|r| r.iter().map(|x| -x).collect()),
                );
                for (i, p) in positive.iter().enumerate() {
                    check_multi(p, dim, &format!("positive[{i}]"))?;
                }
                for (i, n) in negative.iter().enumerate() {
                    check_multi(n, dim, &format!("negative[{i}]"))?;
                }
                MultiScorer::Nearest(prep(&rows, "recommend")?)
            }
            MultiQuery::Recommend {
                positive,
                negative,
                strategy,
            } => {
                let (pos, neg) = prep_examples(positive, negative, |v, at| prep(v, at))?;
                MultiScorer::Recommend {
                    pos,
                    neg,
                    best: *strategy == RecommendStrategy::BestScore,
                }
            }
            MultiQuery::Discover { target, pairs } => MultiScorer::Discover {
                target: prep(target, "target")?,
                pairs: prep_pairs(pairs)?,
            },
            MultiQuery::Context(pairs) => {
                if pairs.is_empty() {
                    return Err(EngineError::bad("context: no context pairs given"));
                }
                MultiScorer::Context(prep_pairs(pairs)?)
            }
        };
        let nearest = matches!(scorer, MultiScorer::Nearest(_));
        // as the dense search: a nearest threshold bounds the raw key; the other scores are
        // compared as they are, and under a distance local mode stops at the first not under it
        let smaller_is_better = !distance.higher_is_better();
        let min_key = req.score_threshold.and_then(|t| {
            if nearest {
                Some(distance.score_to_raw(t))
            } else if smaller_is_better {
                None
            } else {
                Some(t)
            }
        });
        let k = req.limit.saturating_add(req.offset);
        let filter = req.filter.as_ref().filter(|f| !f.is_empty());
        let segs = self.points.read();
        let mut all: Vec<(f32, PointId, Loc)> = Vec::new();
        let mut scan = |seg: &Segment,
                        deleted: &dyn Fn(usize) -> bool,
                        rows: Option<Vec<usize>>,
                        loc: &dyn Fn(usize) -> Loc| {
            let Some(col) = seg.multi_column(&req.using) else {
                return;
            };
            let dim = col.dim();
            let mut top = TopK::new(k);
            let mut consider = |r: usize| {
                if deleted(r) || filter.is_some_and(|f| !seg.matches(r, f)) {
                    return;
                }
                if let Some(x) = col.get(r) {
                    let key = scorer.score(distance, dim, x);
                    if min_key.is_none_or(|m| key > m) {
                        top.push(r as u32, key);
                    }
                }
            };
            match rows {
                Some(rows) => rows.into_iter().for_each(&mut consider),
                None => (0..seg.len()).for_each(&mut consider),
            }
            for h in top.into_sorted_vec() {
                let r = h.offset as usize;
                all.push((h.raw, seg.id(r), loc(r)));
            }
        };
        let narrowed = |seg: &Segment, index: &rvdb_filter::PayloadIndex| -> Option<Vec<usize>> {
            let ids = index.candidates(filter?)?;
            let mut rows: Vec<usize> = ids.into_iter().filter_map(|id| seg.find(id)).collect();
            rows.sort_unstable();
            Some(rows)
        };
        let app = &segs.appendable;
        scan(
            app,
            &|_| false,
            narrowed(app, app.payload_index()),
            &Loc::Appendable,
        );
        for (i, s) in segs.sealed.iter().enumerate() {
            let rows = narrowed(&s.data, &s.index.read());
            scan(&s.data, &|r| s.is_deleted(r), rows, &|r| Loc::Sealed(i, r));
        }
        all.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        if let (false, true, Some(t)) = (nearest, smaller_is_better, req.score_threshold) {
            if all.first().is_some_and(|best| best.0 >= t) {
                return Ok(Vec::new());
            }
        }
        Ok(all
            .into_iter()
            .take(k)
            .skip(req.offset)
            .map(|(key, _, loc)| {
                let (seg, r) = segs.at(loc);
                let score = if nearest {
                    distance.raw_to_score(key)
                } else {
                    key
                };
                hit(seg, r, score, req)
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(v: &[&[f32]]) -> Vec<Vec<f32>> {
        v.iter().map(|r| r.to_vec()).collect()
    }

    #[test]
    fn a_column_keeps_each_rows_multivector_through_rewrites_and_swap_removes() {
        let mut c = MultiColumn::default();
        c.set(2, Some(&rows(&[&[1.0, 2.0], &[3.0, 4.0]])));
        assert!(!c.is_present(0) && !c.is_present(5));
        c.set(0, Some(&rows(&[&[5.0, 6.0]])));
        c.set(2, Some(&rows(&[&[7.0, 8.0]])));
        assert_eq!(c.get(2), Some(&[7.0, 8.0][..]));
        assert_eq!(c.get_rows(0), Some(rows(&[&[5.0, 6.0]])));
        // row 0 removed: the last row (2) moves into it
        c.swap_remove(0, 2);
        assert_eq!(c.get(0), Some(&[7.0, 8.0][..]));
        assert!(!c.is_present(1) && !c.is_present(2));
        assert_eq!(c.count(), 1);
        // many rewrites are compacted, spans stay true
        for i in 0..5000 {
            c.set(1, Some(&rows(&[&[i as f32, 0.0]])));
        }
        assert!(c.data.len() < 8200);
        assert_eq!(c.get(1), Some(&[4999.0, 0.0][..]));
        assert_eq!(c.get(0), Some(&[7.0, 8.0][..]));
        c.swap_remove(1, 1);
        assert_eq!(c.count(), 1);
        assert!(c.spans.len() <= 1);
        // sealing drops every value no row points at
        c.compact();
        assert_eq!(c.data, [7.0, 8.0]);
        assert_eq!(c.get(0), Some(&[7.0, 8.0][..]));
    }

    #[test]
    fn malformed_multivectors_are_refused_naming_the_row() {
        let err = |r: Vec<Vec<f32>>| check_multi(&r, Some(2), "v").unwrap_err().to_string();
        assert!(err(vec![]).contains("v: a multivector must not be empty"));
        assert!(err(rows(&[&[1.0, 2.0], &[]])).contains("v[1]: all vectors"));
        assert!(err(rows(&[&[1.0, 2.0], &[1.0, 2.0, 3.0]]))
            .contains("v[1]: Vector dimension error: expected dim: 2, got 3"));
        assert!(err(rows(&[&[1.0, f32::NAN]])).contains("v[0][1]"));
        assert!(check_multi(&rows(&[&[1.0, 2.0]]), Some(2), "v").is_ok());
    }
}
