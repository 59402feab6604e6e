//! The distance matrix of a sample: Qdrant's `search/matrix/pairs` and `…/offsets`.
//!
//! Up to `sample` points that pass the filter and have the vector `using` are drawn at random
//! (all of them when fewer match; none when the space does not exist), put in id order, and for each one its `limit` nearest among
//! the *other* sampled points are found by exact scoring: ties go to the lower id, as in every
//! search here. Fewer than two sampled points make an empty matrix (Qdrant's answer too).
//!
//! In a sparse vector space each sampled point's neighbours are a sparse search with its vector
//! among the others, as local mode runs it: the query weighted by IDF under the `idf` modifier,
//! and points sharing no index with it are no neighbours. In a multivector space they are a
//! max_sim search with its multivector among the others, as local mode runs it too.

use rand::SeedableRng;
use rvdb_filter::{Condition, Filter, PointId};

use crate::facet::for_each_match;
use crate::types::{
    MultiQuery, PayloadSelector, QueryParams, ScoreQuery, SparseVectorParams, VectorSelector,
};
use crate::{Collection, Result, SearchRequest};

/// What to sample and how many neighbours to find for each sampled point.
#[derive(Debug, Clone)]
pub struct MatrixRequest {
    /// Sample only points that pass it.
    pub filter: Option<Filter>,
    /// At most this many points are sampled.
    pub sample: usize,
    /// Neighbours per sampled point.
    pub limit: usize,
    /// The vector space ("" for the unnamed vector).
    pub using: String,
}

/// The sampled points in id order, and for each one its nearest others, best first, as
/// (position in `ids`, score).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DistanceMatrix {
    pub ids: Vec<PointId>,
    pub neighbours: Vec<Vec<(usize, f32)>>,
}

impl Collection {
    /// The distance matrix of a random sample of the points passing `req.filter`.
    pub fn search_matrix(&self, req: &MatrixRequest) -> Result<DistanceMatrix> {
        // no point has a vector of a space that does not exist: an empty sample, as in
        // qdrant-client's local mode (which samples with a `has_vector` condition)
        let sparse = self
            .config
            .read()
            .config
            .sparse_vectors
            .get(&req.using)
            .cloned();
        if let Some(params) = sparse {
            return self.sparse_matrix(req, params);
        }
        if self.is_multi(&req.using) {
            return self.multi_matrix(req);
        }
        let Ok(distance) = self.distance_of(&req.using) else {
            return Ok(DistanceMatrix::default());
        };
        let segs = self.points.read();
        let mut found: Vec<(PointId, std::borrow::Cow<'_, [f32]>)> = Vec::new();
        for_each_match(&segs, req.filter.as_ref(), &mut |seg, row| {
            if let Some(v) = seg.column(&req.using).and_then(|c| c.get(row)) {
                found.push((seg.id(row), v));
            }
        });
        let sampled = sample_in_id_order(found, req.sample);
        if sampled.len() < 2 {
            return Ok(DistanceMatrix::default());
        }
        let neighbours = sampled
            .iter()
            .enumerate()
            .map(|(i, (_, q))| {
                let mut scored: Vec<(usize, f32)> = sampled
                    .iter()
                    .enumerate()
                    .filter(|&(j, _)| j != i)
                    .map(|(j, (_, v))| (j, distance.raw(q, v)))
                    .collect();
                // higher key first, then the lower position (the lower id)
                scored.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                scored.truncate(req.limit);
                scored
                    .into_iter()
                    .map(|(j, raw)| (j, distance.raw_to_score(raw)))
                    .collect()
            })
            .collect();
        Ok(DistanceMatrix {
            ids: sampled.into_iter().map(|(id, _)| id).collect(),
            neighbours,
        })
    }
}

/// Up to `n` of `found` drawn at random (all when fewer), in id order.
fn sample_in_id_order<T: Clone>(found: Vec<(PointId, T)>, n: usize) -> Vec<(PointId, T)> {
    let mut sampled: Vec<(PointId, T)> = if found.len() > n {
        let seed = uuid::Uuid::new_v4().as_u64_pair().0;
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        rand::seq::index::sample(&mut rng, found.len(), n)
            .into_iter()
            .map(|i| found[i].clone())
            .collect()
    } else {
        found
    };
    sampled.sort_unstable_by_key(|(id, _)| *id);
    sampled
}

/// Each sampled point's neighbours among the other sampled points (and those passing the
/// filter), found by `search` with its vector and that filter; fewer than two points make an
/// empty matrix.
fn neighbours_among<T>(
    sampled: Vec<(PointId, T)>,
    req: &MatrixRequest,
    search: impl Fn(T, Filter) -> Result<Vec<crate::ScoredPoint>>,
) -> Result<DistanceMatrix> {
    if sampled.len() < 2 {
        return Ok(DistanceMatrix::default());
    }
    let ids: Vec<PointId> = sampled.iter().map(|(id, _)| *id).collect();
    let mut neighbours = Vec::with_capacity(sampled.len());
    for (id, v) in sampled {
        let mut filter = req.filter.clone().unwrap_or_default();
        let others = ids.iter().copied().filter(|o| *o != id).collect();
        filter.must.push(Condition::HasId(others));
        neighbours.push(
            search(v, filter)?
                .into_iter()
                .filter_map(|h| ids.binary_search(&h.id).ok().map(|j| (j, h.score)))
                .collect(),
        );
    }
    Ok(DistanceMatrix { ids, neighbours })
}

impl Collection {
    /// [`Collection::search_matrix`] in a multivector space.
    fn multi_matrix(&self, req: &MatrixRequest) -> Result<DistanceMatrix> {
        let mut found = Vec::new();
        {
            let segs = self.points.read();
            for_each_match(&segs, req.filter.as_ref(), &mut |seg, row| {
                if let Some(v) = seg.multi_column(&req.using).and_then(|c| c.get_rows(row)) {
                    found.push((seg.id(row), v));
                }
            });
        }
        neighbours_among(sample_in_id_order(found, req.sample), req, |v, filter| {
            self.search_multi(&SearchRequest {
                using: req.using.clone(),
                query: ScoreQuery::Multi(MultiQuery::Nearest(v)),
                limit: req.limit,
                offset: 0,
                score_threshold: None,
                filter: Some(filter),
                with_payload: PayloadSelector::None,
                with_vector: VectorSelector::None,
                params: QueryParams::default(),
            })
        })
    }

    /// [`Collection::search_matrix`] in a sparse vector space.
    fn sparse_matrix(
        &self,
        req: &MatrixRequest,
        params: SparseVectorParams,
    ) -> Result<DistanceMatrix> {
        let mut found = Vec::new();
        {
            let segs = self.points.read();
            for_each_match(&segs, req.filter.as_ref(), &mut |seg, row| {
                if let Some(v) = seg.sparse_column(&req.using).and_then(|c| c.get(row)) {
                    found.push((seg.id(row), v.clone()));
                }
            });
        }
        neighbours_among(sample_in_id_order(found, req.sample), req, |v, filter| {
            self.search_sparse(
                &SearchRequest {
                    using: req.using.clone(),
                    query: ScoreQuery::NearestSparse(v),
                    limit: req.limit,
                    offset: 0,
                    score_threshold: None,
                    filter: Some(filter),
                    with_payload: PayloadSelector::None,
                    with_vector: VectorSelector::None,
                    params: QueryParams::default(),
                },
                params.clone(),
            )
        })
    }
}
