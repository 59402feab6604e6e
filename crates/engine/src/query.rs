//! The universal query (Qdrant's `/points/query`): point ids resolved to vectors, prefetches
//! run first, then fused (RRF, DBSF), re-scored by a formula or by any other query kind over
//! their union, or a plain search (nearest, with or without MMR; recommend, discover, context,
//! relevance feedback), random sample, scroll or ordering; query vectors may come from another
//! collection (`lookup_from`). Scores follow qdrant-client's local mode.

use std::collections::HashMap;

use rvdb_filter::{Condition, Filter, MinShould, PointId};
use rvdb_index::SparseVector;

use crate::datatype::{prepare_query, Elem};
use crate::formula::{FormulaQuery, Point};
use crate::mmr::{mmr_order, multi_similarity, similarity};
use crate::types::{
    MultiQuery, OrderBy, PayloadSelector, QueryParams, RecommendStrategy, ScoreQuery,
    ScrollRequest, Vector, VectorSelector, DEFAULT_VECTOR,
};
use crate::{Collection, EngineError, Result, ScoredPoint, SearchRequest};

/// A vector given inline (dense, sparse or a multivector), or the stored vector of a point.
#[derive(Debug, Clone, PartialEq)]
pub enum VectorInput {
    Vector(Vec<f32>),
    Sparse(SparseVector),
    Multi(Vec<Vec<f32>>),
    Id(PointId),
}

/// How several prefetch results become one.
#[derive(Debug, Clone, PartialEq)]
pub enum Fusion {
    /// Reciprocal rank fusion: Σ 1 / (rank / weight + k), rank from 1.
    Rrf { k: usize, weights: Option<Vec<f32>> },
    /// Distribution-based score fusion: scores normalised by mean ± 3σ, then summed.
    Dbsf,
}

/// Maximal marginal relevance over the candidates of a nearest query.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mmr {
    /// 0 (relevance only) ..= 1 (diversity only); Qdrant's default 0.5.
    pub diversity: f32,
    /// Candidates to re-rank (default: the query's limit).
    pub candidates_limit: Option<usize>,
}

/// A pair of examples: results should be closer to `positive` than to `negative`.
#[derive(Debug, Clone, PartialEq)]
pub struct ContextPair {
    pub positive: VectorInput,
    pub negative: VectorInput,
}

/// An example with a relevance score, for relevance feedback.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedbackItem {
    pub example: VectorInput,
    pub score: f64,
}

/// The naive feedback strategy: `a · sim(target) + Σ (confidence^b · c) · (sim(pos) − sim(neg))`
/// over the ordered pairs of examples whose score difference (confidence) is positive.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NaiveFeedback {
    pub a: f64,
    pub b: f64,
    pub c: f64,
}

/// The similarity of two MMR candidates, by their positions.
type PairSimilarity = Box<dyn Fn(usize, usize) -> f64>;

/// What a query (or prefetch) does.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryKind {
    Nearest(VectorInput),
    /// Nearest neighbours re-ranked by maximal marginal relevance; scores stay similarities.
    NearestMmr {
        nearest: VectorInput,
        mmr: Mmr,
    },
    Recommend {
        positive: Vec<VectorInput>,
        negative: Vec<VectorInput>,
        strategy: RecommendStrategy,
    },
    /// Discovery search: the context pairs rank, the target breaks ties within a rank.
    Discover {
        target: VectorInput,
        context: Vec<ContextPair>,
    },
    /// Context search: points inside the zone every pair's positive side prefers score 0.
    Context(Vec<ContextPair>),
    RelevanceFeedback {
        target: VectorInput,
        feedback: Vec<FeedbackItem>,
        strategy: NaiveFeedback,
    },
    /// Random points (score 1).
    Sample,
    Fusion(Fusion),
    /// Re-score the prefetches' points by an expression (see `formula.rs`).
    Formula(FormulaQuery),
    OrderBy(OrderBy),
}

/// One prefetch stage.
#[derive(Debug, Clone, Default)]
pub struct Prefetch {
    pub prefetch: Vec<Prefetch>,
    pub query: Option<QueryKind>,
    pub using: Option<String>,
    pub filter: Option<Filter>,
    pub limit: Option<usize>,
    pub score_threshold: Option<f32>,
    pub params: QueryParams,
}

/// A query over a collection.
#[derive(Debug, Clone)]
pub struct UniversalQuery {
    pub prefetch: Vec<Prefetch>,
    pub query: Option<QueryKind>,
    pub using: Option<String>,
    pub filter: Option<Filter>,
    pub limit: usize,
    pub offset: usize,
    pub score_threshold: Option<f32>,
    pub with_payload: PayloadSelector,
    pub with_vector: VectorSelector,
    pub params: QueryParams,
}

/// Where point ids in a query take their vectors from.
pub struct Lookup<'a> {
    pub collection: &'a Collection,
    /// Vector space to read (default: the query's `using`).
    pub vector: Option<String>,
}

impl Collection {
    /// The vector of example point `id`: from the lookup collection (its `vector`, else
    /// `using`) when there is one, else from this collection's `using`. Ids of this collection
    /// go into `mentioned`, to be left out of the results, as local mode does (a lookup in
    /// this very collection too).
    fn example_of<T>(
        &self,
        id: PointId,
        using: &str,
        lookup: Option<&Lookup>,
        mentioned: &mut Vec<PointId>,
        read: impl Fn(&Collection, PointId, &str) -> Result<T>,
    ) -> Result<T> {
        match lookup {
            Some(l) => {
                if std::ptr::eq(l.collection, self) {
                    mentioned.push(id);
                }
                read(l.collection, id, l.vector.as_deref().unwrap_or(using))
            }
            None => {
                mentioned.push(id);
                read(self, id, using)
            }
        }
    }

    /// Runs a universal query. `lookup` (Qdrant's `lookup_from`) is where ids are resolved; by
    /// default this collection, whose mentioned ids are then left out of the results.
    pub fn query(&self, q: &UniversalQuery, lookup: Option<&Lookup>) -> Result<Vec<ScoredPoint>> {
        let out = Output {
            limit: q.limit,
            offset: q.offset,
            score_threshold: q.score_threshold,
            with_payload: &q.with_payload,
            with_vector: &q.with_vector,
            params: q.params,
        };
        self.run_stage(
            &q.prefetch,
            q.query.as_ref(),
            q.using.as_deref(),
            q.filter.clone(),
            &out,
            lookup,
        )
    }

    /// One stage of a query (the query itself or a prefetch): its prefetches first, then its
    /// own query over their results (fusion or re-scoring), or over the collection.
    fn run_stage(
        &self,
        prefetch: &[Prefetch],
        query: Option<&QueryKind>,
        using: Option<&str>,
        mut filter: Option<Filter>,
        out: &Output,
        lookup: Option<&Lookup>,
    ) -> Result<Vec<ScoredPoint>> {
        let using = using.unwrap_or(DEFAULT_VECTOR);
        let query = match query {
            Some(kind) => Some(self.resolve_query(kind, using, lookup, &mut filter)?),
            None => None,
        };
        if prefetch.is_empty() {
            return self.run_base(query, using, filter, out);
        }
        // the stage's filter is propagated into every prefetch below it
        let inner = Output {
            offset: 0,
            with_payload: &PayloadSelector::None,
            with_vector: &VectorSelector::None,
            ..*out
        };
        let sources = prefetch
            .iter()
            .map(|p| {
                let out = Output {
                    limit: p.limit.unwrap_or(10),
                    score_threshold: p.score_threshold,
                    params: p.params,
                    ..inner
                };
                let f = merge_filters(filter.as_ref(), p.filter.as_ref());
                self.run_stage(
                    &p.prefetch,
                    p.query.as_ref(),
                    p.using.as_deref(),
                    f,
                    &out,
                    lookup,
                )
            })
            .collect::<Result<Vec<_>>>()?;
        self.merge(sources, query, using, filter, out)
    }

    /// Turns ids into vectors; mentioned ids of this collection are excluded via the filter.
    fn resolve_query(
        &self,
        kind: &QueryKind,
        using: &str,
        lookup: Option<&Lookup>,
        filter: &mut Option<Filter>,
    ) -> Result<Resolved> {
        let vector_kind = !matches!(
            kind,
            QueryKind::Sample
                | QueryKind::Fusion(_)
                | QueryKind::Formula(_)
                | QueryKind::OrderBy(_)
        );
        if vector_kind && self.is_sparse(using) {
            return self.resolve_sparse(kind, using, lookup, filter);
        }
        if vector_kind && self.is_multi(using) {
            return self.resolve_multi(kind, using, lookup, filter);
        }
        let mut mentioned = Vec::new();
        let mut vec_of = |input: &VectorInput| -> Result<Vec<f32>> {
            match input {
                VectorInput::Vector(v) => Ok(v.clone()),
                VectorInput::Sparse(_) => Err(EngineError::bad(format!(
                    "a sparse query needs `using` naming a sparse vector; `{using}` is not one"
                ))),
                VectorInput::Multi(_) => Err(EngineError::bad(format!(
                    "a multivector query needs `using` naming a multivector; `{using}` is not one"
                ))),
                VectorInput::Id(id) => {
                    self.example_of(*id, using, lookup, &mut mentioned, Collection::vector_of)
                }
            }
        };
        let mut pairs_of = |pairs: &[ContextPair]| -> Result<Vec<(Vec<f32>, Vec<f32>)>> {
            pairs
                .iter()
                .map(|p| Ok((vec_of(&p.positive)?, vec_of(&p.negative)?)))
                .collect()
        };
        let resolved = match kind {
            QueryKind::Nearest(input) => Resolved::Score(ScoreQuery::Nearest(vec_of(input)?)),
            QueryKind::NearestMmr { nearest, mmr } => {
                if !(0.0..=1.0).contains(&mmr.diversity) {
                    return Err(EngineError::bad("mmr.diversity: must be between 0 and 1"));
                }
                Resolved::Mmr(Vector::Dense(vec_of(nearest)?), *mmr)
            }
            QueryKind::Discover { target, context } => {
                let pairs = pairs_of(context)?;
                Resolved::Score(ScoreQuery::Discover {
                    target: vec_of(target)?,
                    pairs,
                })
            }
            QueryKind::Context(context) => {
                if context.is_empty() {
                    return Err(EngineError::bad("context: no context pairs given"));
                }
                Resolved::Score(ScoreQuery::Context(pairs_of(context)?))
            }
            QueryKind::RelevanceFeedback {
                target,
                feedback,
                strategy,
            } => {
                let target = vec_of(target)?;
                let examples = feedback
                    .iter()
                    .map(|f| Ok((vec_of(&f.example)?, f.score)))
                    .collect::<Result<Vec<_>>>()?;
                Resolved::Score(ScoreQuery::Feedback {
                    target,
                    a: strategy.a as f32,
                    pairs: naive_feedback_pairs(&examples, strategy),
                })
            }
            QueryKind::Sample => Resolved::Sample,
            QueryKind::Formula(f) => Resolved::Formula(f.clone()),
            QueryKind::Recommend {
                positive,
                negative,
                strategy,
            } => Resolved::Score(ScoreQuery::Recommend {
                positive: positive.iter().map(&mut vec_of).collect::<Result<_>>()?,
                negative: negative.iter().map(&mut vec_of).collect::<Result<_>>()?,
                strategy: *strategy,
            }),
            QueryKind::Fusion(f) => Resolved::Fusion(f.clone()),
            QueryKind::OrderBy(o) => Resolved::OrderBy(o.clone()),
        };
        if !mentioned.is_empty() {
            let f = filter.get_or_insert_with(Filter::default);
            f.must_not
                .push(Condition::HasId(mentioned.into_iter().collect()));
        }
        Ok(resolved)
    }

    /// [`Self::resolve_query`] for a sparse vector space: nearest, recommend, discover and
    /// context queries, nearest with MMR (local mode's; relevance feedback is refused).
    fn resolve_sparse(
        &self,
        kind: &QueryKind,
        using: &str,
        lookup: Option<&Lookup>,
        filter: &mut Option<Filter>,
    ) -> Result<Resolved> {
        let mut mentioned = Vec::new();
        let mut mmr_query = None;
        let mut vec_of = |input: &VectorInput| -> Result<SparseVector> {
            match input {
                VectorInput::Sparse(v) => Ok(v.clone()),
                VectorInput::Vector(_) | VectorInput::Multi(_) => Err(EngineError::bad(format!(
                    "`{using}` is a sparse vector: the query must be a sparse vector \\
                     ({{\"indices\": […], \"values\": […]}})"
                ))),
                VectorInput::Id(id) => self.example_of(
                    *id,
                    using,
                    lookup,
                    &mut mentioned,
                    Collection::sparse_vector_of,
                ),
            }
        };
        let mut pairs_of = |pairs: &[ContextPair]| -> Result<Vec<(SparseVector, SparseVector)>> {
            pairs
                .iter()
                .map(|p| Ok((vec_of(&p.positive)?, vec_of(&p.negative)?)))
                .collect()
        };
        let query = match kind {
            QueryKind::Discover { target, context } => {
                let pairs = pairs_of(context)?;
                ScoreQuery::DiscoverSparse {
                    target: vec_of(target)?,
                    pairs,
                }
            }
            QueryKind::Context(context) => {
                if context.is_empty() {
                    return Err(EngineError::bad("context: no context pairs given"));
                }
                ScoreQuery::ContextSparse(pairs_of(context)?)
            }
            QueryKind::Nearest(input) => ScoreQuery::NearestSparse(vec_of(input)?),
            QueryKind::NearestMmr { nearest, mmr } => {
                if !(0.0..=1.0).contains(&mmr.diversity) {
                    return Err(EngineError::bad("mmr.diversity: must be between 0 and 1"));
                }
                let v = vec_of(nearest)?;
                mmr_query = Some((v.clone(), *mmr));
                ScoreQuery::NearestSparse(v)
            }
            QueryKind::Recommend {
                positive,
                negative,
                strategy,
            } => ScoreQuery::RecommendSparse {
                positive: positive.iter().map(&mut vec_of).collect::<Result<_>>()?,
                negative: negative.iter().map(&mut vec_of).collect::<Result<_>>()?,
                strategy: *strategy,
            },
            _ => {
                return Err(EngineError::bad(format!(
                    "`{using}` is a sparse vector: only nearest (with or without mmr), recommend, discover and context queries are supported on sparse vectors"
                )))
            }
        };
        if !mentioned.is_empty() {
            let f = filter.get_or_insert_with(Filter::default);
            f.must_not
                .push(Condition::HasId(mentioned.into_iter().collect()));
        }
        Ok(match mmr_query {
            Some((v, mmr)) => Resolved::Mmr(Vector::Sparse(v), mmr),
            None => Resolved::Score(query),
        })
    }

    /// [`Self::resolve_query`] for a multivector space: nearest (MMR included), recommend,
    /// discover and context queries (local mode's; relevance feedback is refused).
    fn resolve_multi(
        &self,
        kind: &QueryKind,
        using: &str,
        lookup: Option<&Lookup>,
        filter: &mut Option<Filter>,
    ) -> Result<Resolved> {
        let mut mentioned = Vec::new();
        let mut vec_of = |input: &VectorInput| -> Result<Vec<Vec<f32>>> {
            match input {
                VectorInput::Multi(v) => Ok(v.clone()),
                VectorInput::Vector(_) | VectorInput::Sparse(_) => Err(EngineError::bad(format!(
                    "`{using}` is a multivector: the query must be a multivector (an array of arrays of numbers)"
                ))),
                VectorInput::Id(id) => {
                    self.example_of(*id, using, lookup, &mut mentioned, Collection::multi_vector_of)
                }
            }
        };
        type Pairs = Vec<(Vec<Vec<f32>>, Vec<Vec<f32>>)>;
        let mut pairs_of = |pairs: &[ContextPair]| -> Result<Pairs> {
            pairs
                .iter()
                .map(|p| Ok((vec_of(&p.positive)?, vec_of(&p.negative)?)))
                .collect()
        };
        let query = match kind {
            QueryKind::Discover { target, context } => {
                let pairs = pairs_of(context)?;
                MultiQuery::Discover {
                    target: vec_of(target)?,
                    pairs,
                }
            }
            QueryKind::Context(context) => {
                if context.is_empty() {
                    return Err(EngineError::bad("context: no context pairs given"));
                }
                MultiQuery::Context(pairs_of(context)?)
            }
            QueryKind::Nearest(input) => MultiQuery::Nearest(vec_of(input)?),
            QueryKind::NearestMmr { nearest, mmr } => {
                if !(0.0..=1.0).contains(&mmr.diversity) {
                    return Err(EngineError::bad("mmr.diversity: must be between 0 and 1"));
                }
                let v = vec_of(nearest)?;
                if !mentioned.is_empty() {
                    let f = filter.get_or_insert_with(Filter::default);
                    f.must_not
                        .push(Condition::HasId(mentioned.into_iter().collect()));
                }
                return Ok(Resolved::Mmr(Vector::Multi(v), *mmr));
            }
            QueryKind::Recommend {
                positive,
                negative,
                strategy,
            } => MultiQuery::Recommend {
                positive: positive.iter().map(&mut vec_of).collect::<Result<_>>()?,
                negative: negative.iter().map(&mut vec_of).collect::<Result<_>>()?,
                strategy: *strategy,
            },
            _ => {
                return Err(EngineError::bad(format!(
                    "`{using}` is a multivector: only nearest (with or without mmr), recommend, discover and context queries are supported on multivectors"
                )))
            }
        };
        if !mentioned.is_empty() {
            let f = filter.get_or_insert_with(Filter::default);
            f.must_not
                .push(Condition::HasId(mentioned.into_iter().collect()));
        }
        Ok(Resolved::Score(ScoreQuery::Multi(query)))
    }

    fn run_base(
        &self,
        query: Option<Resolved>,
        using: &str,
        filter: Option<Filter>,
        out: &Output,
    ) -> Result<Vec<ScoredPoint>> {
        let Output {
            limit,
            offset,
            score_threshold,
            with_payload,
            with_vector,
            params,
        } = *out;
        let as_scored = |records: Vec<crate::Record>| -> Vec<ScoredPoint> {
            records
                .into_iter()
                .skip(offset)
                .map(|r| ScoredPoint {
                    id: r.id,
                    version: r.version,
                    score: 1.0,
                    payload: r.payload,
                    vectors: r.vectors,
                    order_value: r.order_value,
                })
                .collect()
        };
        match query {
            None | Some(Resolved::OrderBy(_)) => {
                let order_by = match query {
                    Some(Resolved::OrderBy(o)) => Some(o),
                    _ => None,
                };
                let (records, _) = self.scroll(&ScrollRequest {
                    filter,
                    limit: limit.saturating_add(offset),
                    offset: None,
                    order_by,
                    with_payload: with_payload.clone(),
                    with_vector: with_vector.clone(),
                })?;
                Ok(as_scored(records))
            }
            Some(Resolved::Score(sq)) => self.search(&SearchRequest {
                using: using.to_string(),
                query: sq,
                limit,
                offset,
                score_threshold,
                filter,
                with_payload: with_payload.clone(),
                with_vector: with_vector.clone(),
                params,
            }),
            Some(Resolved::Mmr(vector, mmr)) => self.search_mmr(vector, mmr, using, filter, out),
            Some(Resolved::Sample) => self.sample(filter, out),
            Some(Resolved::Fusion(_)) => Err(EngineError::bad("a fusion query needs prefetches")),
            Some(Resolved::Formula(_)) => Err(EngineError::bad("a formula query needs prefetches")),
        }
    }

    /// The prefetched points (each once, in prefetch order) scored by a formula, best first
    /// (ties keep that order), then `score_threshold` and `offset`.
    fn rescore_formula(
        &self,
        formula: &FormulaQuery,
        sources: &[Vec<ScoredPoint>],
        out: &Output,
    ) -> Result<Vec<ScoredPoint>> {
        let scores: Vec<HashMap<PointId, f32>> = sources
            .iter()
            .map(|s| s.iter().map(|p| (p.id, p.score)).collect())
            .collect();
        let mut seen = std::collections::HashSet::new();
        let ids: Vec<PointId> = sources
            .iter()
            .flatten()
            .map(|p| p.id)
            .filter(|id| seen.insert(*id))
            .collect();
        let records = self.retrieve(&ids, &PayloadSelector::All, &VectorSelector::All)?;
        let mut scored = Vec::with_capacity(records.len());
        for r in records {
            let payload = r.payload.unwrap_or_default();
            let vectors = r.vectors.unwrap_or_default();
            let has_vector = |name: &str| vectors.contains_key(name);
            let point = Point {
                id: r.id,
                payload: &payload,
                has_vector: &has_vector,
                scores: &scores,
            };
            let score = formula.eval(&formula.formula, &point)?;
            let score32 = score as f32;
            if !score32.is_finite() {
                return Err(EngineError::bad(format!(
                    "The expression {score} as f32 = {score32} produced a non-finite number"
                )));
            }
            scored.push(ScoredPoint {
                id: r.id,
                version: r.version,
                score: score32,
                payload: crate::read::select_payload(&payload, out.with_payload),
                vectors: select_named(vectors, out.with_vector),
                order_value: None,
            });
        }
        scored.sort_by(|a, b| b.score.total_cmp(&a.score));
        scored.truncate(out.limit.saturating_add(out.offset));
        if let Some(t) = out.score_threshold {
            scored.retain(|p| p.score >= t);
        }
        Ok(scored.into_iter().skip(out.offset).collect())
    }

    /// Nearest neighbours re-ranked by MMR: `candidates_limit` candidates (from the first, so
    /// that `offset` applies to the re-ranked list, as in Qdrant), `limit + offset` picked.
    fn search_mmr(
        &self,
        vector: Vector,
        mmr: Mmr,
        using: &str,
        filter: Option<Filter>,
        out: &Output,
    ) -> Result<Vec<ScoredPoint>> {
        self.check_vector_selector(out.with_vector)?;
        // the candidates carry their `using` vector (for the similarities), the asked ones too
        let with_vector = match out.with_vector {
            VectorSelector::All => VectorSelector::All,
            VectorSelector::None => VectorSelector::Names(vec![using.to_string()]),
            VectorSelector::Names(names) => {
                let mut names = names.clone();
                names.push(using.to_string());
                VectorSelector::Names(names)
            }
        };
        let candidates = self.search(&SearchRequest {
            using: using.to_string(),
            query: match &vector {
                Vector::Multi(rows) => ScoreQuery::Multi(MultiQuery::Nearest(rows.clone())),
                Vector::Dense(v) => ScoreQuery::Nearest(v.clone()),
                Vector::Sparse(v) => ScoreQuery::NearestSparse(v.clone()),
            },
            limit: mmr.candidates_limit.unwrap_or(out.limit),
            offset: 0,
            score_threshold: out.score_threshold,
            filter,
            with_payload: out.with_payload.clone(),
            with_vector,
            params: out.params,
        })?;
        let (mut points, stored): (Vec<Option<ScoredPoint>>, Vec<Vector>) = candidates
            .into_iter()
            .filter_map(|mut p| {
                let v = p.vectors.as_mut()?.remove(using)?;
                Some((Some(p), v))
            })
            .unzip();
        // relevance to the query and similarity between candidates, as local mode computes them
        let (relevance, between): (Vec<f64>, PairSimilarity) = match vector {
            // sparse: the plain dot product of the query as given (no IDF), 0 without overlap
            Vector::Sparse(query) => {
                let vectors: Vec<SparseVector> = stored
                    .iter()
                    .map(|v| v.as_sparse().cloned().unwrap_or_default())
                    .collect();
                let dot = |a: &SparseVector, b: &SparseVector| f64::from(a.dot(b).unwrap_or(0.0));
                let relevance = vectors.iter().map(|v| dot(&query, v)).collect();
                (
                    relevance,
                    Box::new(move |i, j| dot(&vectors[i], &vectors[j])),
                )
            }
            vector => {
                let distance = self.distance_of(using)?;
                let dtype = self.datatype_of(using);
                let elem = Elem::of(dtype, distance);
                // a multivector is compared by max_sim over its rows (flattened here)
                let (query, dim) = match vector {
                    Vector::Dense(mut v) => {
                        prepare_query(distance, dtype, &mut v);
                        (v, None)
                    }
                    Vector::Multi(rows) => {
                        let dim = rows.first().map_or(0, Vec::len);
                        let mut flat = Vec::with_capacity(rows.len() * dim);
                        for mut row in rows {
                            distance.prepare(&mut row);
                            flat.extend(row);
                        }
                        (flat, Some(dim))
                    }
                    Vector::Sparse(_) => unreachable!("handled above"),
                };
                let sim = move |a: &[f32], b: &[f32]| match dim {
                    None => similarity(distance, a, b),
                    Some(d) => multi_similarity(distance, d, a, b),
                };
                let vectors: Vec<Vec<f32>> = stored
                    .iter()
                    .map(|v| match v {
                        Vector::Dense(v) => {
                            // as scoring sees the stored row (unit length for uint8 + Cosine)
                            let mut v = v.clone();
                            elem.view(&mut v);
                            v
                        }
                        Vector::Multi(rows) => rows.concat(),
                        Vector::Sparse(_) => Vec::new(),
                    })
                    .collect();
                let relevance = vectors.iter().map(|v| sim(&query, v)).collect();
                (
                    relevance,
                    Box::new(move |i, j| sim(&vectors[i], &vectors[j])),
                )
            }
        };
        let order = mmr_order(
            &relevance,
            between,
            1.0 - f64::from(mmr.diversity),
            out.limit.saturating_add(out.offset),
        );
        let keep_using = match out.with_vector {
            VectorSelector::All => true,
            VectorSelector::None => false,
            VectorSelector::Names(names) => names.iter().any(|n| n == using),
        };
        Ok(order
            .into_iter()
            .skip(out.offset)
            .filter_map(|i| {
                let mut p = points[i].take()?;
                if matches!(out.with_vector, VectorSelector::None) {
                    p.vectors = None;
                } else if let (Some(vs), true) = (&mut p.vectors, keep_using) {
                    vs.insert(using.to_string(), stored[i].clone());
                }
                Some(p)
            })
            .collect())
    }

    /// `limit` random points that pass the filter, each scored 1 (as local mode: the offset is
    /// not applied).
    fn sample(&self, filter: Option<Filter>, out: &Output) -> Result<Vec<ScoredPoint>> {
        use rand::seq::SliceRandom as _;
        let (records, _) = self.scroll(&ScrollRequest {
            filter,
            limit: usize::MAX,
            offset: None,
            order_by: None,
            with_payload: PayloadSelector::None,
            with_vector: VectorSelector::None,
        })?;
        let mut ids: Vec<PointId> = records.into_iter().map(|r| r.id).collect();
        let mut rng = sample_rng();
        let (picked, _) = ids.partial_shuffle(&mut rng, out.limit);
        Ok(self
            .retrieve(picked, out.with_payload, out.with_vector)?
            .into_iter()
            .map(|r| ScoredPoint {
                id: r.id,
                version: r.version,
                score: 1.0,
                payload: r.payload,
                vectors: r.vectors,
                order_value: None,
            })
            .collect())
    }

    fn merge(
        &self,
        sources: Vec<Vec<ScoredPoint>>,
        query: Option<Resolved>,
        using: &str,
        filter: Option<Filter>,
        out: &Output,
    ) -> Result<Vec<ScoredPoint>> {
        let Output {
            limit,
            offset,
            score_threshold,
            with_payload,
            with_vector,
            ..
        } = *out;
        match query {
            Some(Resolved::Fusion(fusion)) => {
                let k = limit.saturating_add(offset);
                let mut fused = match fusion {
                    Fusion::Rrf { k: rank_k, weights } => {
                        rrf(&sources, k, rank_k, weights.as_deref())?
                    }
                    Fusion::Dbsf => dbsf(sources, k),
                };
                if let Some(t) = score_threshold {
                    fused.retain(|p| p.score >= t);
                }
                let ids: Vec<PointId> = fused.iter().map(|p| p.id).collect();
                let records = self.retrieve(&ids, with_payload, with_vector)?;
                let by_id: HashMap<PointId, crate::Record> =
                    records.into_iter().map(|r| (r.id, r)).collect();
                Ok(fused
                    .into_iter()
                    .skip(offset)
                    .map(|mut p| {
                        if let Some(r) = by_id.get(&p.id) {
                            p.payload = r.payload.clone();
                            p.vectors = r.vectors.clone();
                            p.version = r.version;
                        }
                        p
                    })
                    .collect())
            }
            Some(Resolved::Formula(formula)) => self.rescore_formula(&formula, &sources, out),
            other => {
                // re-score the union of the prefetched points with the outer query
                let ids: std::collections::HashSet<PointId> =
                    sources.iter().flatten().map(|p| p.id).collect();
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                let mut f = filter.unwrap_or_default();
                f.must.push(Condition::HasId(ids));
                self.run_base(other, using, Some(f), out)
            }
        }
    }
}

/// What a stage returns: how many, from where, which fields, with which search parameters.
#[derive(Clone, Copy)]
struct Output<'a> {
    limit: usize,
    offset: usize,
    score_threshold: Option<f32>,
    with_payload: &'a PayloadSelector,
    with_vector: &'a VectorSelector,
    params: QueryParams,
}

enum Resolved {
    Score(ScoreQuery),
    /// A dense vector or a multivector, and the MMR parameters.
    Mmr(Vector, Mmr),
    Sample,
    Fusion(Fusion),
    Formula(FormulaQuery),
    OrderBy(OrderBy),
}

/// The asked vectors of a point's vectors.
fn select_named(
    mut vectors: crate::NamedVectors,
    sel: &VectorSelector,
) -> Option<crate::NamedVectors> {
    match sel {
        VectorSelector::None => None,
        VectorSelector::All => Some(vectors),
        VectorSelector::Names(names) => Some(
            names
                .iter()
                .filter_map(|n| vectors.remove(n).map(|v| (n.clone(), v)))
                .collect(),
        ),
    }
}

/// A generator for `sample`, seeded from the clock and a counter (distinct per call).
fn sample_rng() -> rand::rngs::StdRng {
    use rand::SeedableRng as _;
    use std::sync::atomic::{AtomicU64, Ordering};
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let n = CALLS.fetch_add(1, Ordering::Relaxed);
    rand::rngs::StdRng::seed_from_u64(nanos ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// The naive strategy's context pairs: every ordered pair of examples whose score difference
/// (the confidence) is positive, weighted `confidence^b · c` (local mode's f64 arithmetic).
fn naive_feedback_pairs(
    examples: &[(Vec<f32>, f64)],
    s: &NaiveFeedback,
) -> Vec<(Vec<f32>, Vec<f32>, f32)> {
    let mut pairs = Vec::new();
    for (i, (pos, ps)) in examples.iter().enumerate() {
        for (j, (neg, ns)) in examples.iter().enumerate() {
            let confidence = ps - ns;
            if i == j || confidence <= 0.0 {
                continue;
            }
            pairs.push((
                pos.clone(),
                neg.clone(),
                (confidence.powf(s.b) * s.c) as f32,
            ));
        }
    }
    pairs
}

/// The filter of a prefetch combined with the filter propagated from above: clauses
/// concatenated field-wise (Qdrant's `Filter::merge`).
fn merge_filters(outer: Option<&Filter>, inner: Option<&Filter>) -> Option<Filter> {
    match (outer, inner) {
        (None, None) => None,
        (Some(f), None) | (None, Some(f)) => Some(f.clone()),
        (Some(a), Some(b)) => {
            let cat = |x: &[Condition], y: &[Condition]| [x, y].concat();
            let min_should = match (&a.min_should, &b.min_should) {
                (None, m) | (m, None) => m.clone(),
                (Some(x), Some(y)) => Some(MinShould {
                    conditions: cat(&x.conditions, &y.conditions),
                    min_count: x.min_count.max(y.min_count),
                }),
            };
            Some(Filter {
                must: cat(&a.must, &b.must),
                should: cat(&a.should, &b.should),
                must_not: cat(&a.must_not, &b.must_not),
                min_should,
            })
        }
    }
}

/// Reciprocal rank fusion; ties keep the order in which points were first seen.
fn rrf(
    sources: &[Vec<ScoredPoint>],
    limit: usize,
    k: usize,
    weights: Option<&[f32]>,
) -> Result<Vec<ScoredPoint>> {
    if let Some(w) = weights {
        if w.len() != sources.len() {
            return Err(EngineError::bad(format!(
                "rrf.weights: {} weights for {} prefetches",
                w.len(),
                sources.len()
            )));
        }
    }
    let mut order: Vec<ScoredPoint> = Vec::new();
    let mut score: HashMap<PointId, (usize, f64)> = HashMap::new();
    for (si, source) in sources.iter().enumerate() {
        let w = weights.map_or(1.0, |w| w[si] as f64);
        for (pos, p) in source.iter().enumerate() {
            let s = if w <= 0.0 {
                0.0
            } else {
                1.0 / ((pos as f64 + 1.0) / w + k as f64 - 1.0)
            };
            match score.get_mut(&p.id) {
                Some(e) => e.1 += s,
                None => {
                    score.insert(p.id, (order.len(), s));
                    order.push(p.clone());
                }
            }
        }
    }
    let mut fused: Vec<(usize, f64)> = score.into_values().collect();
    fused.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    Ok(fused
        .into_iter()
        .take(limit)
        .map(|(i, s)| {
            let mut p = order[i].clone();
            p.score = s as f32;
            p
        })
        .collect())
}

/// Distribution-based score fusion.
fn dbsf(sources: Vec<Vec<ScoredPoint>>, limit: usize) -> Vec<ScoredPoint> {
    let mut order: Vec<ScoredPoint> = Vec::new();
    let mut index: HashMap<PointId, usize> = HashMap::new();
    let mut total: Vec<f64> = Vec::new();
    for source in sources {
        if source.is_empty() {
            continue;
        }
        let n = source.len() as f64;
        let scores: Vec<f64> = source.iter().map(|p| p.score as f64).collect();
        let normalised: Vec<f64> = if source.len() == 1 {
            vec![0.5]
        } else {
            let mean = scores.iter().sum::<f64>() / n;
            let var = scores.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / (n - 1.0);
            if var == 0.0 {
                vec![0.5; scores.len()]
            } else {
                let sd = var.sqrt();
                let (lo, hi) = (mean - 3.0 * sd, mean + 3.0 * sd);
                scores.iter().map(|s| (s - lo) / (hi - lo)).collect()
            }
        };
        for (p, s) in source.into_iter().zip(normalised) {
            match index.get(&p.id) {
                Some(&i) => total[i] += s,
                None => {
                    index.insert(p.id, order.len());
                    order.push(p);
                    total.push(s);
                }
            }
        }
    }
    let mut idx: Vec<usize> = (0..order.len()).collect();
    idx.sort_by(|&a, &b| total[b].total_cmp(&total[a]).then(a.cmp(&b)));
    idx.into_iter()
        .take(limit)
        .map(|i| {
            let mut p = order[i].clone();
            p.score = total[i] as f32;
            p
        })
        .collect()
}
