//! Facets: how many points that pass a filter hold each value of a payload key.
//!
//! As in Qdrant, a facet reads a payload index: the key must have a `keyword`, `integer`, `bool`
//! or `uuid` index, and only the values that index holds are counted (a keyword index counts
//! strings, an integer index whole numbers, …). A point holding a value more than once (in an
//! array) counts once for it. Hits are ordered by count, highest first, then by value
//! ascending, and the first `limit` are returned. Counts are always exact.
//!
//! The matching points are found as `count` finds them (index candidates when the filter is
//! selective, each one still checked), then their values are read from their payloads with the
//! index's own typing rules, which gives the same counts as reading the index's value lists.

use std::collections::HashMap;

use rvdb_filter::{Filter, JsonPath, PayloadIndex, PayloadSchemaType};
use serde_json::Value;

use crate::segment::Segment;
use crate::segments::Segments;
use crate::{Collection, EngineError, Result};

/// A value of a facet: what a `keyword`/`uuid` (strings), `integer` or `bool` index holds.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FacetValue {
    /// A keyword, or a UUID in its hyphenated lowercase form.
    Str(String),
    Int(i64),
    Bool(bool),
}

/// One value and how many matching points hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FacetHit {
    pub value: FacetValue,
    pub count: usize,
}

/// What to facet.
#[derive(Debug, Clone)]
pub struct FacetRequest {
    /// The payload key (a path such as `meta.tags[]`).
    pub key: String,
    /// Count only the points that pass it.
    pub filter: Option<Filter>,
    /// At most this many hits.
    pub limit: usize,
}

impl Collection {
    /// The values of `req.key` among the points passing `req.filter`, most frequent first.
    ///
    /// A key without a facetable payload index is the caller's fault, answered with Qdrant's
    /// own words.
    pub fn facet(&self, req: &FacetRequest) -> Result<Vec<FacetHit>> {
        let path = JsonPath::parse(&req.key).map_err(|e| EngineError::bad(format!("key: {e}")))?;
        let kind = self
            .config
            .read()
            .payload_schema
            .iter()
            .find(|(field, _)| JsonPath::parse(field).is_ok_and(|p| p.same_steps(&path)))
            .map(|(_, kind)| *kind)
            .filter(|k| {
                matches!(
                    k,
                    PayloadSchemaType::Keyword
                        | PayloadSchemaType::Integer
                        | PayloadSchemaType::Bool
                        | PayloadSchemaType::Uuid
                )
            })
            .ok_or_else(|| {
                EngineError::bad(format!(
                    "No appropriate index for faceting: `{}`. Please create one to facet on this field. Check https://qdrant.tech/documentation/concepts/indexing/#payload-index to see which payload schemas support Match conditions",
                    req.key
                ))
            })?;
        let mut counts: HashMap<FacetValue, usize> = HashMap::new();
        let segs = self.points.read();
        let mut values = Vec::new();
        for_each_match(&segs, req.filter.as_ref(), &mut |seg, row| {
            values.clear();
            values.extend(
                path.values(seg.payload(row), true)
                    .into_iter()
                    .filter_map(|v| facet_value(kind, v)),
            );
            values.sort_unstable();
            values.dedup();
            for v in values.drain(..) {
                *counts.entry(v).or_default() += 1;
            }
        });
        drop(segs);
        let mut hits: Vec<FacetHit> = counts
            .into_iter()
            .map(|(value, count)| FacetHit { value, count })
            .collect();
        hits.sort_unstable_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
        hits.truncate(req.limit);
        Ok(hits)
    }
}

/// The value an index of `kind` holds for one payload value, if any.
fn facet_value(kind: PayloadSchemaType, v: &Value) -> Option<FacetValue> {
    match (kind, v) {
        (PayloadSchemaType::Keyword, Value::String(s)) => Some(FacetValue::Str(s.clone())),
        (PayloadSchemaType::Uuid, Value::String(s)) => uuid::Uuid::parse_str(s)
            .ok()
            .map(|u| FacetValue::Str(u.hyphenated().to_string())),
        (PayloadSchemaType::Integer, Value::Number(n)) => n.as_i64().map(FacetValue::Int),
        (PayloadSchemaType::Bool, Value::Bool(b)) => Some(FacetValue::Bool(*b)),
        _ => None,
    }
}

/// Calls `f` with each live point (segment and row) that passes `filter` (every live point
/// without one). Uses the payload indexes' candidates when they narrow the filter down; each
/// candidate is still checked.
pub(crate) fn for_each_match<'a>(
    segs: &'a Segments,
    filter: Option<&Filter>,
    f: &mut dyn FnMut(&'a Segment, usize),
) {
    let filter = filter.filter(|f| !f.is_empty());
    let mut visit = |seg: &'a Segment, index: &PayloadIndex, deleted: &dyn Fn(usize) -> bool| {
        let pass = |r: usize| !deleted(r) && filter.is_none_or(|flt| seg.matches(r, flt));
        match filter.and_then(|flt| index.candidates(flt)) {
            Some(ids) => {
                let mut rows: Vec<usize> = ids.into_iter().filter_map(|id| seg.find(id)).collect();
                rows.sort_unstable();
                for r in rows.into_iter().filter(|&r| pass(r)) {
                    f(seg, r);
                }
            }
            None => {
                for r in (0..seg.len()).filter(|&r| pass(r)) {
                    f(seg, r);
                }
            }
        }
    };
    visit(&segs.appendable, segs.appendable.payload_index(), &|_| {
        false
    });
    for s in &segs.sealed {
        visit(&s.data, &s.index.read(), &|r| s.is_deleted(r));
    }
}
