//! The distance matrix of a sample: Qdrant's `search/matrix/pairs` and `…/offsets`.
//!
//! Up to `sample` points that pass the filter and have the vector `using` are drawn at random
//! (all of them when fewer match; none when the space does not exist), put in id order, and for each one its `limit` nearest among
//! the *other* sampled points are found by exact scoring: ties go to the lower id, as in every
//! search here. Fewer than two sampled points make an empty matrix (Qdrant's answer too).

use rand::SeedableRng;
use rvdb_filter::{Filter, PointId};

use crate::facet::for_each_match;
use crate::{Collection, Result};

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
        let Ok(distance) = self.distance_of(&req.using) else {
            return Ok(DistanceMatrix::default());
        };
        let segs = self.points.read();
        let mut found: Vec<(PointId, &[f32])> = Vec::new();
        for_each_match(&segs, req.filter.as_ref(), &mut |seg, row| {
            if let Some(v) = seg.column(&req.using).and_then(|c| c.get(row)) {
                found.push((seg.id(row), v));
            }
        });
        let mut sampled: Vec<(PointId, &[f32])> = if found.len() > req.sample {
            let seed = uuid::Uuid::new_v4().as_u64_pair().0;
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            rand::seq::index::sample(&mut rng, found.len(), req.sample)
                .into_iter()
                .map(|i| found[i])
                .collect()
        } else {
            found
        };
        if sampled.len() < 2 {
            return Ok(DistanceMatrix::default());
        }
        sampled.sort_unstable_by_key(|(id, _)| *id);
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
