//! Group-by queries (Qdrant's `points/query/groups`): the best hits of a query, grouped by the
//! value of a payload field.
//!
//! The answer is defined over the whole ranking (as qdrant-client's local mode computes it):
//! walk the hits best first; each hit joins the group of every string or integer value it has
//! at `group_by` (a group keeps its first `group_size` hits); groups come in the order of their
//! best hit, and the first `limit` are the answer. Reading the whole ranking is not needed: once
//! the first `limit` groups of a prefix are full, no later hit can change them. So the query
//! runs with a limit that grows ×4 until that holds or the ranking ends, and a selective query
//! reads `limit × group_size × 2` hits rather than the collection.

use serde_json::Value;

use rvdb_filter::JsonPath;

use crate::query::{Lookup, Prefetch, UniversalQuery};
use crate::read::select_payload;
use crate::{Collection, PayloadSelector, Result, ScoredPoint};

/// How to group the hits of a query.
#[derive(Debug, Clone)]
pub struct GroupRequest {
    /// The payload field whose values name the groups.
    pub group_by: JsonPath,
    /// Hits per group at most.
    pub group_size: usize,
    /// Groups at most.
    pub limit: usize,
    /// The payload returned with each hit.
    pub with_payload: PayloadSelector,
}

/// One group: a value of the `group_by` field and its best hits.
#[derive(Debug, Clone, PartialEq)]
pub struct PointGroup {
    /// A string or an integer.
    pub id: Value,
    pub hits: Vec<ScoredPoint>,
}

impl Collection {
    /// The groups of `q`'s hits (its `limit` and `offset` are replaced by the grouping's).
    pub fn query_groups(
        &self,
        q: &UniversalQuery,
        lookup: Option<&Lookup>,
        g: &GroupRequest,
    ) -> Result<Vec<PointGroup>> {
        let total = self.points_count().max(1);
        let mut q = q.clone();
        q.offset = 0;
        q.with_payload = PayloadSelector::All;
        // prefetches rank the whole collection, as local mode does: their limits shape the
        // fused ranking, so they must not depend on how far this walk reads
        set_prefetch_limits(&mut q.prefetch, total);
        let mut limit = g
            .limit
            .saturating_mul(g.group_size)
            .saturating_mul(2)
            .clamp(1, total);
        loop {
            q.limit = limit;
            let hits = self.query(&q, lookup)?;
            let ended = hits.len() < limit || limit >= total;
            let groups = group(hits, g);
            let settled = groups.len() >= g.limit
                && groups[..g.limit]
                    .iter()
                    .all(|grp| grp.hits.len() >= g.group_size);
            if ended || settled {
                let mut groups = groups;
                groups.truncate(g.limit);
                return Ok(groups);
            }
            limit = limit.saturating_mul(4).min(total);
        }
    }
}

fn set_prefetch_limits(ps: &mut [Prefetch], limit: usize) {
    for p in ps {
        p.limit = Some(limit);
        set_prefetch_limits(&mut p.prefetch, limit);
    }
}

/// Groups a ranking, best first (see the module docs).
fn group(hits: Vec<ScoredPoint>, g: &GroupRequest) -> Vec<PointGroup> {
    let mut groups: Vec<PointGroup> = Vec::new();
    for mut hit in hits {
        let Some(payload) = hit.payload.as_ref() else {
            continue;
        };
        let Some(ids) = group_ids(g.group_by.values(payload, true)) else {
            continue;
        };
        hit.payload = select_payload(payload, &g.with_payload);
        for id in ids {
            match groups.iter_mut().find(|grp| grp.id == id) {
                Some(grp) if grp.hits.len() < g.group_size => grp.hits.push(hit.clone()),
                Some(_) => {}
                None => groups.push(PointGroup {
                    id,
                    hits: vec![hit.clone()],
                }),
            }
        }
    }
    groups
}

/// The group ids of one hit: its distinct string or integer values; none if any value is of
/// another kind (as local mode decides).
fn group_ids(values: Vec<&Value>) -> Option<Vec<Value>> {
    let mut out: Vec<Value> = Vec::new();
    for v in values {
        match v {
            Value::String(_) => {}
            Value::Number(n) if n.is_i64() || n.is_u64() => {}
            _ => return None,
        }
        if !out.contains(v) {
            out.push(v.clone());
        }
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::{QueryKind, VectorInput};
    use crate::{CollectionConfig, Database, DatabaseOptions, Distance, PointId, PointStruct};
    use serde_json::json;

    fn query(v: Vec<f32>) -> UniversalQuery {
        UniversalQuery {
            prefetch: Vec::new(),
            query: Some(QueryKind::Nearest(VectorInput::Vector(v))),
            using: None,
            filter: None,
            limit: 10,
            offset: 0,
            score_threshold: None,
            with_payload: PayloadSelector::None,
            with_vector: Default::default(),
            params: Default::default(),
        }
    }

    /// The definition: group the whole ranking, keep the first `limit` groups.
    fn reference(c: &Collection, q: &UniversalQuery, g: &GroupRequest) -> Vec<PointGroup> {
        let mut all = q.clone();
        all.limit = c.points_count();
        all.with_payload = PayloadSelector::All;
        let mut groups = group(c.query(&all, None).unwrap(), g);
        groups.truncate(g.limit);
        groups
    }

    #[test]
    fn groups_equal_those_of_the_whole_ranking() {
        let db = Database::open(DatabaseOptions::in_memory()).unwrap();
        db.create_collection("g", CollectionConfig::with_dim(Distance::Euclid, 2))
            .unwrap();
        let c = db.collection("g").unwrap();
        // group sizes from 1 to 40 (so some groups fill late in the ranking), some points in
        // two groups, some without the field or with a value that is no group id
        let points: Vec<PointStruct> = (0..600u64)
            .map(|i| {
                let g = (i * 7919 % 600) % 40;
                let payload = match i % 50 {
                    0 => json!({}),
                    1 => json!({"g": 1.5}),
                    2 => json!({"g": [format!("s{}", g % 3), g]}),
                    _ => json!({"g": g}),
                };
                let x = (i as f32 * 0.37).sin();
                let y = (i as f32 * 0.11).cos();
                PointStruct::new(
                    PointId::Num(i),
                    vec![x, y],
                    payload.as_object().unwrap().clone(),
                )
            })
            .collect();
        c.upsert(points).unwrap();
        for (limit, group_size) in [(1, 1), (3, 2), (5, 10), (10, 3), (40, 30), (100, 1)] {
            for q in [vec![0.0, 0.0], vec![0.9, -0.9]] {
                let g = GroupRequest {
                    group_by: JsonPath::parse("g").unwrap(),
                    group_size,
                    limit,
                    with_payload: PayloadSelector::Include(vec!["g".into()]),
                };
                let q = query(q);
                let got = c.query_groups(&q, None, &g).unwrap();
                assert_eq!(
                    got,
                    reference(&c, &q, &g),
                    "limit {limit} size {group_size}"
                );
                assert!(got.len() <= limit);
                assert!(got.iter().all(|grp| grp.hits.len() <= group_size));
            }
        }
    }
}
