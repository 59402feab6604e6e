//! The read paths: get, retrieve, scroll, count, and search with a per-segment query planner
//! (recommend scoring included).
//!
//! Planner, per segment: the appendable segment is always scanned exactly. A sealed segment
//! whose HNSW index is built is searched through it, except when the query asks for `exact`,
//! or when a filter is selective enough — its cardinality, estimated from the payload indexes,
//! is under `hnsw_config.full_scan_threshold` (in KB of vectors, Qdrant's unit) — in which case
//! the matching points are scored exactly. HNSW traversal takes the filter (and the tombstones)
//! as a predicate: rejected points are walked through but never returned.

use serde_json::Value;

use rvdb_filter::{Filter, JsonPath, Payload, PayloadIndex, PointId};
use rvdb_index::{flat_search, HnswIndex, Scored, SearchParams, TopK};
use rvdb_vector::Distance;
use std::sync::Arc;

use crate::datatype::{prepare_query, Datatype};
use crate::quantization::{QuantizationConfig, Quantized};
use crate::segment::{Column, Segment};
use crate::segments::{Loc, Segments};
use crate::settings::HnswConfig;
use rvdb_index::SparseVector;

use crate::types::{
    NamedVectors, OrderBy, PayloadSelector, QueryParams, RecommendStrategy, ScoreQuery,
    ScrollRequest, VectorSelector,
};
use crate::{Collection, EngineError, Record, Result, ScoredPoint, SearchRequest};

/// One segment as a search sees it.
struct SegView<'a> {
    data: &'a Segment,
    index: Option<parking_lot::RwLockReadGuard<'a, PayloadIndex>>,
    hnsw: Option<&'a HnswIndex>,
    /// The codes of `hnsw`, when the space is quantized and they are built.
    quantized: Option<Arc<Quantized>>,
    deleted: Option<&'a (dyn Fn(usize) -> bool + Sync)>,
    loc: &'a (dyn Fn(usize) -> Loc + Sync),
}

impl SegView<'_> {
    fn index(&self) -> &PayloadIndex {
        self.index.as_deref().unwrap_or(self.data.payload_index())
    }

    fn live(&self, r: usize) -> bool {
        self.deleted.is_none_or(|d| !d(r))
    }
}

/// A prepared query: what scores a stored vector (higher is better).
enum Scorer {
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
    Feedback {
        target: Vec<f32>,
        a: f32,
        pairs: Vec<(Vec<f32>, Vec<f32>, f32)>,
    },
}

impl Scorer {
    fn score(&self, d: Distance, x: &[f32]) -> f32 {
        match self {
            Scorer::Nearest(q) => d.raw(q, x),
            Scorer::Recommend {
                pos,
                neg,
                best: true,
            } => best_score(pos, neg, |v| d.raw(v, x)),
            Scorer::Recommend {
                pos,
                neg,
                best: false,
            } => {
                let sum = |ex: &[Vec<f32>]| ex.iter().map(|e| d.raw(e, x)).sum::<f32>();
                sum(pos) - sum(neg)
            }
            Scorer::Discover { target, pairs } => discovery_score(target, pairs, |v| d.raw(v, x)),
            Scorer::Context(pairs) => context_score(pairs, |v| d.raw(v, x)),
            Scorer::Feedback { target, a, pairs } => {
                let mut s = a * d.raw(target, x);
                for (p, n, w) in pairs {
                    s += w * (d.raw(p, x) - d.raw(n, x));
                }
                s
            }
        }
    }
}

impl Collection {
    fn record(
        &self,
        seg: &Segment,
        row: usize,
        with_payload: &PayloadSelector,
        with_vector: &VectorSelector,
    ) -> Record {
        Record {
            id: seg.id(row),
            payload: select_payload(seg.payload(row), with_payload),
            vectors: select_vectors(seg, row, with_vector),
            version: seg.version(row),
            order_value: None,
        }
    }

    /// One point by id, with its payload and vectors.
    pub fn get(&self, id: PointId) -> Option<Record> {
        let segs = self.points.read();
        let (seg, r) = segs.at(segs.find(id)?);
        Some(self.record(seg, r, &PayloadSelector::All, &VectorSelector::All))
    }

    /// Points by id, in the order asked, skipping missing ones.
    pub fn retrieve(
        &self,
        ids: &[PointId],
        with_payload: &PayloadSelector,
        with_vector: &VectorSelector,
    ) -> Result<Vec<Record>> {
        self.check_vector_selector(with_vector)?;
        let segs = self.points.read();
        Ok(ids
            .iter()
            .filter_map(|id| segs.find(*id))
            .map(|loc| {
                let (seg, r) = segs.at(loc);
                self.record(seg, r, with_payload, with_vector)
            })
            .collect())
    }

    pub(crate) fn check_vector_selector(&self, with_vector: &VectorSelector) -> Result<()> {
        match with_vector {
            VectorSelector::Names(names) => self.check_vector_names(names),
            _ => Ok(()),
        }
    }

    /// Every name is one of the collection's vector spaces (Qdrant's error names the first
    /// that is not).
    pub(crate) fn check_vector_names(&self, names: &[String]) -> Result<()> {
        let config = self.config.read();
        match names.iter().find(|n| {
            config.config.vectors.get(n).is_none()
                && !config.config.sparse_vectors.contains_key(n.as_str())
        }) {
            Some(n) => Err(EngineError::bad(format!(
                "Not existing vector name error: {n}"
            ))),
            None => Ok(()),
        }
    }

    /// Points in id order: `limit` of them after skipping `offset`, and the total count.
    pub fn list(&self, offset: usize, limit: usize) -> (Vec<Record>, usize) {
        let segs = self.points.read();
        let rows = segs
            .live_in_id_order(None, None)
            .skip(offset)
            .take(limit)
            .map(|loc| {
                let (seg, r) = segs.at(loc);
                self.record(seg, r, &PayloadSelector::All, &VectorSelector::All)
            })
            .collect();
        (rows, segs.len())
    }

    /// A page of points that pass the filter, in id order from `offset` (or by a payload
    /// value), and the id the next page starts at.
    pub fn scroll(&self, req: &ScrollRequest) -> Result<(Vec<Record>, Option<PointId>)> {
        self.check_vector_selector(&req.with_vector)?;
        let segs = self.points.read();
        let filter = req.filter.as_ref().filter(|f| !f.is_empty());
        if let Some(order) = &req.order_by {
            if req.offset.is_some() {
                return Err(EngineError::bad(
                    "offset cannot be used together with order_by; use order_by.start_from",
                ));
            }
            return Ok((self.scroll_by_value(&segs, filter, req, order), None));
        }
        let mut out = Vec::with_capacity(req.limit.min(1024));
        let mut next = None;
        for loc in segs.live_in_id_order(req.offset, filter) {
            let (seg, r) = segs.at(loc);
            if out.len() == req.limit {
                next = Some(seg.id(r));
                break;
            }
            out.push(self.record(seg, r, &req.with_payload, &req.with_vector));
        }
        Ok((out, next))
    }

    fn scroll_by_value(
        &self,
        segs: &Segments,
        filter: Option<&Filter>,
        req: &ScrollRequest,
        order: &OrderBy,
    ) -> Vec<Record> {
        let Ok(key) = JsonPath::parse(&order.key) else {
            return Vec::new();
        };
        // one entry per (value, point): a point with several values appears once per value
        let mut entries: Vec<(f64, Value, Loc)> = Vec::new();
        for loc in segs.live_in_id_order(None, filter) {
            let (seg, r) = segs.at(loc);
            let mut seen = Vec::new();
            for v in key.values(seg.payload(r), true) {
                if let Some((num, shown)) = order_value(v) {
                    if !seen.contains(&num.to_bits()) {
                        seen.push(num.to_bits());
                        entries.push((num, shown, loc));
                    }
                }
            }
        }
        // stable sort by value only: equal values keep id order
        if order.descending {
            entries.sort_by(|a, b| b.0.total_cmp(&a.0));
        } else {
            entries.sort_by(|a, b| a.0.total_cmp(&b.0));
        }
        entries
            .into_iter()
            .filter(|(v, ..)| match order.start_from {
                None => true,
                Some(s) if order.descending => *v <= s,
                Some(s) => *v >= s,
            })
            .take(req.limit)
            .map(|(_, shown, loc)| {
                let (seg, r) = segs.at(loc);
                let mut rec = self.record(seg, r, &req.with_payload, &req.with_vector);
                rec.order_value = Some(shown);
                rec
            })
            .collect()
    }

    /// How many points pass the filter (exact).
    pub fn count(&self, filter: Option<&Filter>) -> usize {
        let segs = self.points.read();
        match filter.filter(|f| !f.is_empty()) {
            None => segs.len(),
            Some(f) => {
                let mut n = count_in(
                    &segs.appendable,
                    segs.appendable.payload_index(),
                    f,
                    &|_| false,
                );
                for s in &segs.sealed {
                    n += count_in(&s.data, &s.index.read(), f, &|r| s.is_deleted(r));
                }
                n
            }
        }
    }

    /// Estimated number of points passing the filter, from the payload indexes.
    pub fn estimate(&self, filter: &Filter) -> rvdb_filter::Cardinality {
        let segs = self.points.read();
        let mut c = segs
            .appendable
            .payload_index()
            .estimate(filter, segs.appendable.len());
        for s in &segs.sealed {
            let e = s.index.read().estimate(filter, s.live());
            c.min += e.min;
            c.expected += e.expected;
            c.max += e.max;
        }
        c
    }

    /// The stored (prepared) vector `using` of point `id`, as stored (a query made of it is
    /// prepared again, as Qdrant does with an example).
    pub fn vector_of(&self, id: PointId, using: &str) -> Result<Vec<f32>> {
        if self.config.read().config.vectors.get(using).is_none() {
            return Err(EngineError::bad(format!(
                "Not existing vector name error: {using}"
            )));
        }
        let segs = self.points.read();
        let (seg, row) = segs.at(segs.find(id).ok_or(EngineError::PointNotFound(id))?);
        seg.column(using)
            .and_then(|c| c.stored(row))
            .ok_or_else(|| {
                EngineError::bad(format!(
                    "Vector with name `{using}` for point {id} not found"
                ))
            })
    }

    /// The stored sparse vector `using` of point `id`.
    pub fn sparse_vector_of(&self, id: PointId, using: &str) -> Result<SparseVector> {
        if !self.config.read().config.sparse_vectors.contains_key(using) {
            return Err(EngineError::bad(format!(
                "Not existing vector name error: {using}"
            )));
        }
        let segs = self.points.read();
        let (seg, row) = segs.at(segs.find(id).ok_or(EngineError::PointNotFound(id))?);
        seg.sparse_column(using)
            .and_then(|c| c.get(row))
            .cloned()
            .ok_or_else(|| {
                EngineError::bad(format!(
                    "Vector with name `{using}` for point {id} not found"
                ))
            })
    }

    /// The stored multivector `using` of point `id`.
    pub fn multi_vector_of(&self, id: PointId, using: &str) -> Result<Vec<Vec<f32>>> {
        if !self.is_multi(using) {
            return Err(EngineError::bad(format!(
                "Not existing vector name error: {using}"
            )));
        }
        let segs = self.points.read();
        let (seg, row) = segs.at(segs.find(id).ok_or(EngineError::PointNotFound(id))?);
        seg.multi_column(using)
            .and_then(|c| c.get_rows(row))
            .ok_or_else(|| {
                EngineError::bad(format!(
                    "Vector with name `{using}` for point {id} not found"
                ))
            })
    }

    /// Whether `using` names a multivector space.
    pub fn is_multi(&self, using: &str) -> bool {
        self.config.read().config.vectors.is_multi(using)
    }

    /// Whether `using` names a sparse vector space.
    pub fn is_sparse(&self, using: &str) -> bool {
        self.config.read().config.sparse_vectors.contains_key(using)
    }

    /// The distance of a vector space.
    /// A dense space's element type (float32 for a name that is not one).
    pub(crate) fn datatype_of(&self, using: &str) -> Datatype {
        self.config
            .read()
            .config
            .vectors
            .get(using)
            .map(|p| p.datatype())
            .unwrap_or_default()
    }

    pub fn distance_of(&self, using: &str) -> Result<Distance> {
        self.config
            .read()
            .config
            .vectors
            .get(using)
            .map(|p| p.distance)
            .ok_or_else(|| EngineError::bad(format!("Not existing vector name error: {using}")))
    }

    /// The HNSW settings of a vector space: the collection's, with the vector's own laid over.
    pub(crate) fn hnsw_config(&self, using: &str) -> HnswConfig {
        hnsw_config_of(&self.config.read().config, using)
    }

    /// Where each dense vector space's data is: heap and mapped bytes of its vectors and
    /// graphs, and heap bytes of its quantization codes, over every segment.
    pub fn vector_storage(&self) -> Vec<crate::VectorStorage> {
        let names: Vec<String> = self
            .config
            .read()
            .config
            .vectors
            .spaces()
            .iter()
            .map(|(n, _)| n.to_string())
            .collect();
        let segs = self.points.read();
        names
            .into_iter()
            .map(|name| {
                let mut out = crate::VectorStorage {
                    name: name.clone(),
                    ..Default::default()
                };
                let mut add = |seg: &Segment, graph: Option<&HnswIndex>| {
                    let backed = seg
                        .column(&name)
                        .map(|c| {
                            let (heap, mapped) = c.storage_bytes();
                            out.ram_bytes += heap as u64;
                            out.mapped_bytes += mapped as u64;
                            c.is_graph_backed()
                        })
                        .unwrap_or(false);
                    if let (Some(g), false) = (graph, backed) {
                        out.ram_bytes += g.memory_bytes() as u64;
                        out.mapped_bytes += g.mapped_bytes() as u64;
                    }
                };
                add(&segs.appendable, None);
                for s in &segs.sealed {
                    add(
                        &s.data,
                        s.hnsw.get().and_then(|g| g.get(&name)).map(|g| &**g),
                    );
                    if let Some(q) = s.quantized.read().get(&name) {
                        out.quantized_bytes += q.codes.memory_bytes() as u64;
                    }
                }
                out
            })
            .collect()
    }

    /// Bytes of the collection's files (0 in memory).
    pub fn disk_bytes(&self) -> u64 {
        fn walk(vfs: &dyn rvdb_storage::Vfs, dir: &std::path::Path) -> u64 {
            let Ok(entries) = vfs.read_dir(dir) else {
                return 0;
            };
            entries
                .iter()
                .map(|e| {
                    let p = dir.join(&e.name);
                    if e.is_dir {
                        walk(vfs, &p)
                    } else {
                        vfs.metadata(&p).map_or(0, |m| m.len)
                    }
                })
                .sum()
        }
        self.dir().map_or(0, |d| walk(&*self.vfs, d))
    }

    /// Whether a vector space's graphs stay in their mapped files (see [`space_on_disk`]);
    /// never in a collection held in memory only.
    pub(crate) fn on_disk(&self, using: &str) -> bool {
        self.dir().is_some() && space_on_disk(&self.config.read().config, using)
    }

    /// The quantization a vector space's indexed segments keep codes for: its own
    /// `quantization_config`, else the collection's (none for a multivector space, which is
    /// never indexed).
    pub(crate) fn quantization_of(&self, using: &str) -> Option<QuantizationConfig> {
        let config = self.config.read();
        let params = config.config.vectors.get(using)?;
        if params.multivector.is_some() {
            return None;
        }
        params
            .quantization()
            .or_else(|| config.config.settings.quantization.clone())
    }

    /// Search in one vector space over every segment.
    pub fn search(&self, req: &SearchRequest) -> Result<Vec<ScoredPoint>> {
        self.check_vector_selector(&req.with_vector)?;
        if let Some(params) = self
            .config
            .read()
            .config
            .sparse_vectors
            .get(&req.using)
            .cloned()
        {
            return self.search_sparse(req, params);
        }
        if self.config.read().config.vectors.is_multi(&req.using) {
            return self.search_multi(req);
        }
        if let ScoreQuery::Multi(_) = &req.query {
            self.distance_of(&req.using)?;
            return Err(EngineError::bad(format!(
                "`{}` is not a multivector: a multivector query needs `using` naming one",
                req.using
            )));
        }
        if let ScoreQuery::NearestSparse(_)
        | ScoreQuery::RecommendSparse { .. }
        | ScoreQuery::DiscoverSparse { .. }
        | ScoreQuery::ContextSparse(_) = &req.query
        {
            return Err(EngineError::bad(format!(
                "`{}` is not a sparse vector: a sparse query needs `using` naming one",
                req.using
            )));
        }
        let distance = self.distance_of(&req.using)?;
        if let Some(t) = req.score_threshold {
            if !t.is_finite() {
                return Err(EngineError::bad("score_threshold: must be a finite number"));
            }
        }
        if let ScoreQuery::Recommend {
            positive,
            negative,
            strategy: RecommendStrategy::AverageVector,
        } = &req.query
        {
            if positive.is_empty() {
                return Err(EngineError::bad("recommend: at least one positive example is required for the average_vector strategy"));
            }
            let inner = SearchRequest {
                query: ScoreQuery::Nearest(average_query(positive, negative)),
                ..req.clone()
            };
            return self.search(&inner);
        }
        let hnsw = self.hnsw_config(&req.using);
        let ef = req.params.hnsw_ef.unwrap_or(hnsw.ef_construct);
        let full_scan_kb = hnsw.full_scan_threshold;
        let dtype = self.datatype_of(&req.using);
        let segs = self.points.read();
        let Some(dim) = segs.dim(&req.using) else {
            return Ok(Vec::new());
        };
        let prep = |v: &[f32], at: &str| -> Result<Vec<f32>> {
            check_query(v, at)?;
            if v.len() != dim {
                return Err(EngineError::bad(format!(
                    "Vector dimension error: expected dim: {dim}, got {}",
                    v.len()
                )));
            }
            let mut q = v.to_vec();
            prepare_query(distance, dtype, &mut q);
            Ok(q)
        };
        let scorer = match &req.query {
            ScoreQuery::Nearest(v) => Scorer::Nearest(prep(v, "vector")?),
            ScoreQuery::NearestSparse(_)
            | ScoreQuery::RecommendSparse { .. }
            | ScoreQuery::DiscoverSparse { .. }
            | ScoreQuery::ContextSparse(_)
            | ScoreQuery::Multi(_) => unreachable!("refused above"),
            ScoreQuery::Recommend {
                positive,
                negative,
                strategy,
            } => {
                let (pos, neg) = prep_examples(positive, negative, |v, at| prep(v, at))?;
                Scorer::Recommend {
                    pos,
                    neg,
                    best: *strategy == RecommendStrategy::BestScore,
                }
            }
            ScoreQuery::Discover { target, pairs } => Scorer::Discover {
                target: prep(target, "target")?,
                pairs: prep_pairs(pairs, prep)?,
            },
            ScoreQuery::Context(pairs) => {
                if pairs.is_empty() {
                    return Err(EngineError::bad("context: no context pairs given"));
                }
                Scorer::Context(prep_pairs(pairs, prep)?)
            }
            ScoreQuery::Feedback { target, a, pairs } => Scorer::Feedback {
                target: prep(target, "target")?,
                a: *a,
                pairs: pairs
                    .iter()
                    .enumerate()
                    .map(|(i, (p, n, w))| {
                        let at = format!("feedback pair {i}");
                        Ok((prep(p, &at)?, prep(n, &at)?, *w))
                    })
                    .collect::<Result<_>>()?,
            },
        };
        let nearest = matches!(scorer, Scorer::Nearest(_));
        // keys are raw (higher is better); a threshold becomes a raw bound. The other scores
        // (recommend, discover, context, feedback) are higher-is-better too, but local mode
        // checks their threshold in the metric's order: under a distance (Euclid, Manhattan) the
        // best-first scan stops at the first score not under it (see below)
        let smaller_is_better = matches!(distance, Distance::Euclid | Distance::Manhattan);
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

        let plan = Plan {
            using: &req.using,
            distance,
            scorer: &scorer,
            k,
            min_key,
            filter,
            params: req.params,
            ef,
            full_scan_points: full_scan_kb.saturating_mul(1024) / (dim * dtype.width()).max(1),
        };
        let mut all: Vec<(f32, PointId, Loc)> = Vec::new();
        let app_loc = |r: usize| Loc::Appendable(r);
        let view = SegView {
            data: &segs.appendable,
            index: None,
            hnsw: None,
            quantized: None,
            deleted: None,
            loc: &app_loc,
        };
        search_segment(&view, &plan, &mut all);
        let one_sealed = |i: usize| -> Vec<(f32, PointId, Loc)> {
            let s = &segs.sealed[i];
            let loc = move |r: usize| Loc::Sealed(i, r);
            let deleted = |r: usize| s.is_deleted(r);
            let view = SegView {
                data: &s.data,
                index: Some(s.index.read()),
                hnsw: s.hnsw.get().and_then(|m| m.get(&req.using)).map(|g| &**g),
                quantized: s.quantized.read().get(&req.using).cloned(),
                // no tombstones: no predicate, and the plain (fastest) HNSW search
                deleted: if s.deleted_count() == 0 {
                    None
                } else {
                    Some(&deleted)
                },
                loc: &loc,
            };
            let mut out = Vec::new();
            search_segment(&view, &plan, &mut out);
            out
        };
        // several indexed segments are searched side by side on idle search workers (the
        // query's latency is then the slowest segment's, not their sum); under load, when no
        // worker is idle, one thread searches them in turn (see `pool::fan_out`); a few small
        // ones are not worth the hand-off
        let indexed = segs.sealed.iter().filter(|s| s.is_indexed()).count();
        if indexed >= 2 {
            let parts = crate::pool::fan_out(segs.sealed.len(), one_sealed);
            all.extend(parts.into_iter().flatten());
        } else {
            for i in 0..segs.sealed.len() {
                all.extend(one_sealed(i));
            }
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

fn count_in(
    seg: &Segment,
    index: &PayloadIndex,
    f: &Filter,
    deleted: &dyn Fn(usize) -> bool,
) -> usize {
    match index.candidates(f) {
        Some(ids) => ids
            .into_iter()
            .filter_map(|id| seg.find(id))
            .filter(|&r| !deleted(r) && seg.matches(r, f))
            .count(),
        None => (0..seg.len())
            .filter(|&r| !deleted(r) && seg.matches(r, f))
            .count(),
    }
}

/// The rows of a segment that pass a filter, when its payload indexes narrow it down.
fn indexed_rows(view: &SegView, f: &Filter) -> Option<Vec<usize>> {
    let ids = view.index().candidates(f)?;
    let mut rows: Vec<usize> = ids
        .into_iter()
        .filter_map(|id| view.data.find(id))
        .filter(|&r| view.live(r) && view.data.matches(r, f))
        .collect();
    rows.sort_unstable();
    Some(rows)
}

/// What one search asks of every segment.
struct Plan<'a> {
    using: &'a str,
    distance: Distance,
    scorer: &'a Scorer,
    k: usize,
    /// Keep keys above this (a score threshold in key space).
    min_key: Option<f32>,
    filter: Option<&'a Filter>,
    params: QueryParams,
    ef: usize,
    /// Filters estimated to keep fewer points than this are scored exactly.
    full_scan_points: usize,
}

/// Top-k of one segment, appended to `out` as (key, id, location).
fn search_segment(view: &SegView, plan: &Plan, out: &mut Vec<(f32, PointId, Loc)>) {
    let Plan {
        using,
        distance,
        scorer,
        k,
        min_key,
        filter,
        params,
        ef,
        full_scan_points,
    } = *plan;
    let seg = view.data;
    let Some(col) = seg.column(using) else { return };
    if seg.len() == 0 || col.dim().is_none() {
        return;
    }
    let push_top = |top: TopK, out: &mut Vec<(f32, PointId, Loc)>| {
        for h in top.into_sorted_vec() {
            let r = h.offset as usize;
            out.push((h.raw, seg.id(r), (view.loc)(r)));
        }
    };
    let passes =
        |r: usize| col.is_present(r) && view.live(r) && filter.is_none_or(|f| seg.matches(r, f));
    let keep = |key: f32| min_key.is_none_or(|m| key > m);

    // 1. a selective filter on indexed fields: score exactly the rows it keeps
    let mut selective = false;
    if let Some(f) = filter {
        selective = view.hnsw.is_none()
            || params.exact
            || view.index().estimate(f, seg.len()).expected <= full_scan_points;
        if selective {
            if let Some(rows) = indexed_rows(view, f) {
                let mut top = TopK::new(k);
                for r in rows {
                    if let Some(x) = col.get(r) {
                        let key = scorer.score(distance, &x);
                        if keep(key) {
                            top.push(r as u32, key);
                        }
                    }
                }
                push_top(top, out);
                return;
            }
        }
    }
    // 2. the HNSW index, with the filter and the tombstones as a predicate
    // (asking for as many points as the segment holds is an exact scan: cheaper, and complete;
    // so is a selective filter that no payload index narrows down: as in Qdrant, a filter under
    // `full_scan_threshold` is answered exactly, and a graph walk would miss matches that few)
    let small = k.max(ef) >= seg.len() || selective;
    if let (Some(hnsw), Scorer::Nearest(q), false, false) = (view.hnsw, scorer, params.exact, small)
    {
        let everything = filter.is_none() && view.deleted.is_none() && col.all_present();
        let pred = |r: u32| passes(r as usize);
        let accept: Option<&(dyn Fn(u32) -> bool + Sync)> =
            if everything { None } else { Some(&pred) };
        let mut top = TopK::new(k);
        let quantization = params.quantization.unwrap_or_default();
        if let Some(quantized) = view.quantized.as_ref().filter(|_| !quantization.ignore) {
            // walk the codes; rescore the best `oversampling × k` from the originals (or,
            // without rescoring, keep the best k by code, scored by their codes where the codes
            // estimate a score)
            let rescore = quantization.rescore.unwrap_or(true);
            let codes = &quantized.codes;
            let wanted = if rescore {
                (k as f64 * quantization.oversampling.unwrap_or(1.0).max(1.0)).ceil() as usize
            } else {
                k
            };
            for c in codes.candidates(q, wanted, ef.max(k), accept) {
                let key = if rescore || !codes.estimates_scores() {
                    match col.get(c.offset as usize) {
                        Some(x) => scorer.score(distance, &x),
                        None => continue,
                    }
                } else if distance_like(distance) {
                    c.raw.min(0.0)
                } else {
                    c.raw
                };
                if keep(key) {
                    top.push(c.offset, key);
                }
            }
            push_top(top, out);
            return;
        }
        for h in hnsw.search(&[], q, k, ef.max(k), accept) {
            if keep(h.raw) {
                top.push(h.offset, h.raw);
            }
        }
        push_top(top, out);
        return;
    }
    // 3. an exact scan
    match scorer {
        Scorer::Nearest(q) => {
            let everything = filter.is_none() && view.deleted.is_none() && col.all_present();
            let pred = |r: u32| passes(r as usize);
            let accept: Option<&dyn Fn(u32) -> bool> = if everything { None } else { Some(&pred) };
            let hits = scan_column(col, distance, q, k, min_key, accept);
            for h in hits {
                let r = h.offset as usize;
                out.push((h.raw, seg.id(r), (view.loc)(r)));
            }
        }
        _ => {
            let mut top = TopK::new(k);
            for r in (0..seg.len()).filter(|&r| passes(r)) {
                if let Some(x) = col.get(r) {
                    let key = scorer.score(distance, &x);
                    if keep(key) {
                        top.push(r as u32, key);
                    }
                }
            }
            push_top(top, out);
        }
    }
}

/// The HNSW settings of a vector space: the collection's, with the vector's own laid over.
fn hnsw_config_of(config: &crate::CollectionConfig, using: &str) -> HnswConfig {
    let collection = &config.settings.hnsw;
    match config
        .vectors
        .get(using)
        .and_then(|p| p.hnsw_config.as_ref())
    {
        Some(diff) => diff.applied_to(collection),
        None => collection.clone(),
    }
}

/// Whether a vector space is configured `on_disk`: the vector's `on_disk: true` or `memory:
/// cold|cached`, or its `hnsw_config` saying so (the vector's over the collection's; `memory`
/// over `on_disk` in each). An indexed segment's graph holds
/// the space's links and vectors together, so either keeps the whole graph in its mapped file.
pub(crate) fn space_on_disk(config: &crate::CollectionConfig, using: &str) -> bool {
    let Some(p) = config.vectors.get(using) else {
        return false;
    };
    let hnsw = hnsw_config_of(config, using);
    // `memory` (Qdrant 1.19) overrides the deprecated `on_disk` of the same component
    use crate::settings::Memory;
    let mapped = |memory: Option<Memory>, on_disk: bool| match memory {
        Some(Memory::Cold | Memory::Cached) => true,
        Some(Memory::Pinned) => false,
        None => on_disk,
    };
    let vector_memory = p
        .extra
        .get("memory")
        .and_then(|m| serde_json::from_value::<Memory>(m.clone()).ok());
    mapped(
        vector_memory,
        p.extra.get("on_disk").and_then(Value::as_bool) == Some(true),
    ) || mapped(hnsw.memory, hnsw.on_disk)
}

/// Whether a metric's raw keys are negated distances (never above 0).
fn distance_like(distance: Distance) -> bool {
    matches!(distance, Distance::Euclid | Distance::Manhattan)
}

/// The exact top `k` of a column for a prepared query: one pass over a contiguous f32 column,
/// or over blocks of rows decoded from a float16 or uint8 one or copied out of a graph.
fn scan_column(
    col: &Column,
    distance: Distance,
    q: &[f32],
    k: usize,
    min_key: Option<f32>,
    accept: Option<&dyn Fn(u32) -> bool>,
) -> Vec<Scored> {
    /// Rows decoded at a time (64k values at dim 128: stays in L2).
    const BLOCK: usize = 512;
    let n = col.present().len();
    let mut buf = Vec::new();
    let params = SearchParams {
        k,
        min_raw: min_key,
    };
    if let Some(all) = col.contiguous() {
        return flat_search(distance, all, q, params, accept);
    }
    let mut top = TopK::new(k);
    for start in (0..n).step_by(BLOCK) {
        let end = (start + BLOCK).min(n);
        let shifted = |r: u32| accept.is_none_or(|a| a(r + start as u32));
        let block = col.view_rows(start..end, &mut buf);
        for h in flat_search(distance, block, q, params, Some(&shifted)) {
            top.push(h.offset + start as u32, h.raw);
        }
    }
    top.into_sorted_vec()
}

/// Context pairs prepared for scoring, each vector checked (`context[i].positive`, …).
fn prep_pairs(
    pairs: &[(Vec<f32>, Vec<f32>)],
    prep: impl Fn(&[f32], &str) -> Result<Vec<f32>>,
) -> Result<Vec<(Vec<f32>, Vec<f32>)>> {
    pairs
        .iter()
        .enumerate()
        .map(|(i, (p, n))| {
            Ok((
                prep(p, &format!("context[{i}].positive"))?,
                prep(n, &format!("context[{i}].negative"))?,
            ))
        })
        .collect()
}

fn check_query(v: &[f32], at: &str) -> Result<()> {
    if v.is_empty() {
        return Err(EngineError::bad(format!("{at}: must not be empty")));
    }
    if let Some(j) = v.iter().position(|x| !x.is_finite()) {
        return Err(EngineError::bad(format!(
            "{at}[{j}]: {} is not a finite number",
            v[j]
        )));
    }
    Ok(())
}

/// mean(positive) + mean(positive) − mean(negative), or mean(positive) without negatives.
fn average_query(positive: &[Vec<f32>], negative: &[Vec<f32>]) -> Vec<f32> {
    let mean = |vs: &[Vec<f32>]| -> Vec<f32> {
        let dim = vs.iter().map(Vec::len).max().unwrap_or(0);
        let mut m = vec![0f32; dim];
        for v in vs {
            for (a, x) in m.iter_mut().zip(v) {
                *a += x;
            }
        }
        m.iter_mut().for_each(|a| *a /= vs.len() as f32);
        m
    };
    let p = mean(positive);
    if negative.is_empty() {
        return p;
    }
    let n = mean(negative);
    p.iter().zip(&n).map(|(a, b)| a + a - b).collect()
}

/// Recommend examples prepared for scoring (`prep` checks one and names it by its place,
/// `positive[i]` / `negative[i]`); refused when there are none at all.
pub(crate) fn prep_examples<T, U>(
    positive: &[T],
    negative: &[T],
    prep: impl Fn(&T, &str) -> Result<U>,
) -> Result<(Vec<U>, Vec<U>)> {
    if positive.is_empty() && negative.is_empty() {
        return Err(EngineError::bad(
            "recommend: no positive or negative examples given",
        ));
    }
    let each = |examples: &[T], side: &str| {
        examples
            .iter()
            .enumerate()
            .map(|(i, v)| prep(v, &format!("{side}[{i}]")))
            .collect::<Result<Vec<U>>>()
    };
    Ok((each(positive, "positive")?, each(negative, "negative")?))
}

/// The best-score recommendation of local mode (any kind of example, `sim` the similarity to
/// the scored point): nearer its best positive than its best negative example, a point scores
/// that similarity squashed into (0, 1); otherwise minus its best negative's, squashed.
pub(crate) fn best_score<T>(pos: &[T], neg: &[T], sim: impl Fn(&T) -> f32) -> f32 {
    let best = |ex: &[T]| ex.iter().map(&sim).fold(f32::NEG_INFINITY, f32::max);
    let (p, n) = (best(pos), best(neg));
    if p > n {
        scaled_sigmoid(p)
    } else {
        -scaled_sigmoid(n)
    }
}

/// A discovery score (dense, sparse or multivector examples alike, `sim` the similarity to the
/// scored point): the context pairs rank (+1 per pair whose positive side is nearer, −1 per
/// pair whose negative side is), the target's similarity, squashed into (0, 1), breaks ties.
pub(crate) fn discovery_score<T>(target: &T, pairs: &[(T, T)], sim: impl Fn(&T) -> f32) -> f32 {
    let rank: i32 = pairs
        .iter()
        .map(|(p, n)| {
            let (p, n) = (sim(p), sim(n));
            i32::from(p > n) - i32::from(p < n)
        })
        .sum();
    rank as f32 + scaled_sigmoid(sim(target))
}

/// A context score: 0 inside the zone every pair's positive side prefers, below 0 outside it.
pub(crate) fn context_score<T>(pairs: &[(T, T)], sim: impl Fn(&T) -> f32) -> f32 {
    pairs
        .iter()
        .map(|(p, n)| fast_sigmoid((sim(p) - sim(n) - f32::EPSILON).min(0.0)))
        .sum()
}

/// Qdrant's scaled fast sigmoid: 0.5 · (x / (1 + |x|) + 1).
pub(crate) fn scaled_sigmoid(x: f32) -> f32 {
    0.5 * (fast_sigmoid(x) + 1.0)
}

/// Qdrant's fast sigmoid: x / (1 + |x|) (infinities and NaN pass through, as in local mode).
pub(crate) fn fast_sigmoid(x: f32) -> f32 {
    if !x.is_finite() {
        return x;
    }
    x / (1.0 + x.abs())
}

/// A payload value usable for ordering: numbers, and datetimes (as microseconds since 1970).
fn order_value(v: &Value) -> Option<(f64, Value)> {
    match v {
        Value::Number(n) => n.as_f64().map(|x| (x, v.clone())),
        Value::String(s) => rvdb_filter::parse_datetime(s).map(|us| (us as f64, Value::from(us))),
        _ => None,
    }
}

/// The search hit at row `r` of `seg`, with the payload and vectors `req` selects.
pub(crate) fn hit(seg: &Segment, r: usize, score: f32, req: &SearchRequest) -> ScoredPoint {
    ScoredPoint {
        id: seg.id(r),
        version: seg.version(r),
        score,
        payload: select_payload(seg.payload(r), &req.with_payload),
        vectors: select_vectors(seg, r, &req.with_vector),
        order_value: None,
    }
}

pub(crate) fn select_payload(p: &Payload, sel: &PayloadSelector) -> Option<Payload> {
    match sel {
        PayloadSelector::None => None,
        PayloadSelector::All => Some(p.clone()),
        PayloadSelector::Include(keys) => Some(rvdb_filter::select_payload(p, Some(keys), None)),
        PayloadSelector::Exclude(keys) => Some(rvdb_filter::select_payload(p, None, Some(keys))),
    }
}

pub(crate) fn select_vectors(
    seg: &Segment,
    row: usize,
    sel: &VectorSelector,
) -> Option<NamedVectors> {
    match sel {
        VectorSelector::None => None,
        VectorSelector::All => Some(seg.vectors(row)),
        VectorSelector::Names(names) => Some(
            names
                .iter()
                .filter_map(|n| seg.vector(row, n).map(|v| (n.clone(), v)))
                .collect(),
        ),
    }
}
