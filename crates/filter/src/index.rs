//! Payload indexes: per indexed field, a map from values to the points holding them, used to
//! narrow a filter to candidate points and to estimate how many points it matches.
//!
//! An index never decides a match: [`PayloadIndex::candidates`] returns a superset of the
//! points that pass, and the engine still runs [`Filter::check`] on each. A condition is
//! answered from an index only where the index holds every value that could satisfy it (a
//! keyword index holds every string at its key, so it answers `match: {value: "x"}`, text and
//! prefix tests by scanning its distinct strings, and datetime ranges by parsing them; it does
//! not answer `match: {except: …}`, which non-strings also satisfy).

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Bound;

use serde_json::Value;

use crate::eval::cmp_int_float;
use crate::geo::geo_point;
use crate::{
    parse_datetime, text_tokens, Condition, FieldCondition, Filter, FilterError, GeoPoint,
    JsonPath, Match, Payload, PointId, Range,
};

/// The kinds of payload index (Qdrant's `PayloadSchemaType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PayloadSchemaType {
    Keyword,
    Integer,
    Float,
    Bool,
    Geo,
    Text,
    Uuid,
    Datetime,
}

impl PayloadSchemaType {
    /// Every kind, in Qdrant's order.
    pub const ALL: [PayloadSchemaType; 8] = [
        PayloadSchemaType::Keyword,
        PayloadSchemaType::Integer,
        PayloadSchemaType::Float,
        PayloadSchemaType::Geo,
        PayloadSchemaType::Text,
        PayloadSchemaType::Bool,
        PayloadSchemaType::Datetime,
        PayloadSchemaType::Uuid,
    ];

    /// The kind with this Qdrant name (`"keyword"`, `"integer"`, …).
    pub fn parse(s: &str) -> Option<PayloadSchemaType> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Qdrant's name of the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            PayloadSchemaType::Keyword => "keyword",
            PayloadSchemaType::Integer => "integer",
            PayloadSchemaType::Float => "float",
            PayloadSchemaType::Bool => "bool",
            PayloadSchemaType::Geo => "geo",
            PayloadSchemaType::Text => "text",
            PayloadSchemaType::Uuid => "uuid",
            PayloadSchemaType::Datetime => "datetime",
        }
    }
}

/// How many points a filter matches: `min ≤ true count ≤ max`, and a guess in between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cardinality {
    pub min: usize,
    pub expected: usize,
    pub max: usize,
}

impl Cardinality {
    fn exact(n: usize) -> Cardinality {
        Cardinality {
            min: n,
            expected: n,
            max: n,
        }
    }

    fn unknown(total: usize) -> Cardinality {
        Cardinality {
            min: 0,
            expected: total / 2,
            max: total,
        }
    }

    fn clamped(min: usize, expected: f64, max: usize) -> Cardinality {
        let expected = if expected.is_finite() {
            expected.round().max(0.0) as usize
        } else {
            max
        };
        Cardinality {
            min,
            expected: expected.clamp(min, max),
            max,
        }
    }
}

/// An indexed value. Numbers order by value across integers and floats (an integer first when
/// equal); `Probe` is a search bound for numeric ranges, never stored.
#[derive(Debug, Clone)]
enum Key {
    Str(String),
    Int(i128),
    Float(f64),
    Probe(f64, Ordering),
    Bool(bool),
    Time(i64),
    Geo(GeoPoint),
}

impl Key {
    fn family(&self) -> u8 {
        match self {
            Key::Str(_) => 0,
            Key::Int(_) | Key::Float(_) | Key::Probe(..) => 1,
            Key::Bool(_) => 2,
            Key::Time(_) => 3,
            Key::Geo(_) => 4,
        }
    }

    /// Rank among numerically equal numbers.
    fn tie(&self) -> (i8, f64) {
        match self {
            Key::Probe(_, Ordering::Less) => (-1, 0.0),
            Key::Int(_) => (0, 0.0),
            Key::Float(f) => (1, *f),
            _ => (2, 0.0),
        }
    }
}

fn cmp_numeric(a: &Key, b: &Key) -> Ordering {
    let float = |k: &Key| match k {
        Key::Float(f) | Key::Probe(f, _) => Some(*f),
        _ => None,
    };
    let value = match (a, b) {
        (Key::Int(x), Key::Int(y)) => x.cmp(y),
        (Key::Int(x), _) => cmp_int_float(*x, float(b).unwrap_or(0.0)),
        (_, Key::Int(y)) => cmp_int_float(*y, float(a).unwrap_or(0.0)).reverse(),
        _ => {
            let (x, y) = (float(a).unwrap_or(0.0), float(b).unwrap_or(0.0));
            x.partial_cmp(&y).unwrap_or(Ordering::Equal)
        }
    };
    value.then_with(|| {
        let ((ra, fa), (rb, fb)) = (a.tie(), b.tie());
        ra.cmp(&rb).then(fa.total_cmp(&fb))
    })
}

impl Ord for Key {
    fn cmp(&self, other: &Key) -> Ordering {
        match (self, other) {
            (Key::Str(a), Key::Str(b)) => a.cmp(b),
            (Key::Bool(a), Key::Bool(b)) => a.cmp(b),
            (Key::Time(a), Key::Time(b)) => a.cmp(b),
            (Key::Geo(a), Key::Geo(b)) => a.lat.total_cmp(&b.lat).then(a.lon.total_cmp(&b.lon)),
            (a, b) if a.family() == 1 && b.family() == 1 => cmp_numeric(a, b),
            (a, b) => a.family().cmp(&b.family()),
        }
    }
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Key) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Key {}

/// One indexed field.
#[derive(Debug, Clone)]
struct FieldIndex {
    name: String,
    path: JsonPath,
    kind: PayloadSchemaType,
    map: BTreeMap<Key, HashSet<PointId>>,
    /// Each point's distinct keys, and whether it counts as indexed (an integer index also
    /// keeps floats, to answer ranges, but counts only points holding an integer).
    points: HashMap<PointId, (Vec<Key>, bool)>,
    counted: usize,
}

/// A candidate set from one index, and whether it is exactly the set of matching points.
type Answer = (HashSet<PointId>, bool);

impl FieldIndex {
    fn keys_of(&self, payload: &Payload) -> (Vec<Key>, bool) {
        use PayloadSchemaType as K;
        let mut keys = Vec::new();
        let mut counted = false;
        for v in self.path.values(payload, true) {
            match (self.kind, v) {
                (K::Keyword, Value::String(s)) => keys.push(Key::Str(s.clone())),
                (K::Uuid, Value::String(s)) if uuid::Uuid::parse_str(s).is_ok() => {
                    keys.push(Key::Str(s.clone()))
                }
                (K::Integer | K::Float, Value::Number(n)) => {
                    if let Some(i) = n.as_i64() {
                        keys.push(Key::Int(i.into()));
                        counted = true;
                    } else if let Some(u) = n.as_u64() {
                        keys.push(Key::Int(u.into()));
                        counted = true;
                    } else if let Some(f) = n.as_f64() {
                        keys.push(Key::Float(f));
                        counted |= self.kind == K::Float;
                    }
                }
                (K::Bool, Value::Bool(b)) => keys.push(Key::Bool(*b)),
                (K::Datetime, Value::String(s)) => {
                    if let Some(t) = parse_datetime(s) {
                        keys.push(Key::Time(t));
                    }
                }
                (K::Geo, v) => {
                    if let Some(p) = geo_point(v) {
                        keys.push(Key::Geo(p));
                    }
                }
                (K::Text, Value::String(s)) => {
                    keys.extend(text_tokens(s).into_iter().map(Key::Str));
                }
                _ => {}
            }
        }
        keys.sort();
        keys.dedup();
        if self.kind != K::Integer && self.kind != K::Float {
            counted = !keys.is_empty();
        }
        (keys, counted)
    }

    fn add(&mut self, id: PointId, payload: &Payload) {
        self.remove(id);
        let (keys, counted) = self.keys_of(payload);
        if keys.is_empty() {
            return;
        }
        for k in &keys {
            self.map.entry(k.clone()).or_default().insert(id);
        }
        self.counted += usize::from(counted);
        self.points.insert(id, (keys, counted));
    }

    fn remove(&mut self, id: PointId) {
        let Some((keys, counted)) = self.points.remove(&id) else {
            return;
        };
        self.counted -= usize::from(counted);
        for k in keys {
            if let Some(set) = self.map.get_mut(&k) {
                set.remove(&id);
                if set.is_empty() {
                    self.map.remove(&k);
                }
            }
        }
    }

    fn lookup(&self, keys: impl IntoIterator<Item = Key>) -> HashSet<PointId> {
        let mut out = HashSet::new();
        for k in keys {
            if let Some(set) = self.map.get(&k) {
                out.extend(set);
            }
        }
        out
    }

    /// Every point holding a key that passes `pred`.
    fn scan(&self, pred: impl Fn(&Key) -> bool) -> HashSet<PointId> {
        let mut out = HashSet::new();
        for (k, set) in &self.map {
            if pred(k) {
                out.extend(set);
            }
        }
        out
    }

    fn numeric_range(&self, r: &Range) -> HashSet<PointId> {
        // the tightest lower and upper probes
        let lower = [
            r.gt.map(|b| Key::Probe(b, Ordering::Greater)),
            r.gte.map(|b| Key::Probe(b, Ordering::Less)),
        ]
        .into_iter()
        .flatten()
        .max();
        let upper = [
            r.lt.map(|b| Key::Probe(b, Ordering::Less)),
            r.lte.map(|b| Key::Probe(b, Ordering::Greater)),
        ]
        .into_iter()
        .flatten()
        .min();
        if let (Some(lo), Some(hi)) = (&lower, &upper) {
            if lo >= hi {
                return HashSet::new();
            }
        }
        let bound = |k: Option<Key>| k.map_or(Bound::Unbounded, Bound::Excluded);
        let mut out = HashSet::new();
        for (k, set) in self.map.range((bound(lower), bound(upper))) {
            let inside = match k {
                Key::Int(i) => int_in_range(*i, r),
                Key::Float(f) => r.contains(*f),
                _ => false,
            };
            if inside {
                out.extend(set);
            }
        }
        out
    }

    fn tokens_all(&self, text: &str) -> Answer {
        let mut tokens = text_tokens(text);
        tokens.sort();
        tokens.dedup();
        let exact = tokens.len() <= 1;
        let mut sets: Vec<&HashSet<PointId>> = Vec::with_capacity(tokens.len());
        for t in tokens {
            match self.map.get(&Key::Str(t)) {
                Some(s) => sets.push(s),
                None => return (HashSet::new(), true),
            }
        }
        sets.sort_by_key(|s| s.len());
        let Some((first, rest)) = sets.split_first() else {
            return (HashSet::new(), true);
        };
        let out = first
            .iter()
            .filter(|id| rest.iter().all(|s| s.contains(id)))
            .copied()
            .collect();
        (out, exact)
    }

    /// The points that may pass `test`, when this index holds every value that could.
    fn answer(&self, test: &Match) -> Option<Answer> {
        use PayloadSchemaType as K;
        let strings = |list: &[Value]| -> Option<Vec<Key>> {
            list.iter()
                .map(|v| v.as_str().map(|s| Key::Str(s.to_string())))
                .collect()
        };
        let ints = |list: &[Value]| -> Option<Vec<Key>> { list.iter().map(int_key).collect() };
        let is_uuid = |s: &str| uuid::Uuid::parse_str(s).is_ok();
        let found = match (self.kind, test) {
            (K::Keyword, Match::Value(Value::String(s))) => self.lookup([Key::Str(s.clone())]),
            (K::Keyword, Match::Any(list)) => self.lookup(strings(list)?),
            (
                K::Keyword,
                Match::Text(_)
                | Match::TextAny(_)
                | Match::Phrase(_)
                | Match::Prefix(_)
                | Match::Substring(_)
                | Match::DatetimeRange(_),
            ) => self.scan(|k| matches!(k, Key::Str(s) if test.matches_str(s))),
            (K::Uuid, Match::Value(Value::String(s))) if is_uuid(s) => {
                self.lookup([Key::Str(s.clone())])
            }
            (K::Uuid, Match::Any(list)) if list.iter().all(|v| v.as_str().is_some_and(is_uuid)) => {
                self.lookup(strings(list)?)
            }
            (K::Integer | K::Float, Match::Value(v)) => self.lookup([int_key(v)?]),
            (K::Integer | K::Float, Match::Any(list)) => self.lookup(ints(list)?),
            (K::Integer | K::Float, Match::Range(r)) => self.numeric_range(r),
            (K::Bool, Match::Value(Value::Bool(b))) => self.lookup([Key::Bool(*b)]),
            (K::Datetime, Match::DatetimeRange(r)) => {
                let lo = [r.gt.map(|b| b.saturating_add(1)), r.gte]
                    .into_iter()
                    .flatten()
                    .max();
                let hi = [r.lt.map(|b| b.saturating_sub(1)), r.lte]
                    .into_iter()
                    .flatten()
                    .min();
                let (lo, hi) = (lo.unwrap_or(i64::MIN), hi.unwrap_or(i64::MAX));
                if lo > hi {
                    HashSet::new()
                } else {
                    let mut out = HashSet::new();
                    for set in self.map.range(Key::Time(lo)..=Key::Time(hi)).map(|e| e.1) {
                        out.extend(set);
                    }
                    out
                }
            }
            (K::Geo, Match::GeoBoundingBox(b)) => {
                self.scan(|k| matches!(k, Key::Geo(p) if b.contains(*p)))
            }
            (K::Geo, Match::GeoRadius(r)) => {
                self.scan(|k| matches!(k, Key::Geo(p) if r.contains(*p)))
            }
            (K::Geo, Match::GeoPolygon(poly)) => {
                self.scan(|k| matches!(k, Key::Geo(p) if poly.contains(*p)))
            }
            (K::Text, Match::Text(q) | Match::Phrase(q)) => return Some(self.tokens_all(q)),
            (K::Text, Match::TextAny(q)) => self.lookup(text_tokens(q).into_iter().map(Key::Str)),
            _ => return None,
        };
        Some((found, true))
    }
}

fn int_key(v: &Value) -> Option<Key> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
            .map(Key::Int),
        _ => None,
    }
}

fn int_in_range(i: i128, r: &Range) -> bool {
    let ok = |b: Option<f64>, allowed: fn(Ordering) -> bool| {
        b.is_none_or(|b| allowed(cmp_int_float(i, b)))
    };
    ok(r.lt, Ordering::is_lt)
        && ok(r.lte, Ordering::is_le)
        && ok(r.gt, Ordering::is_gt)
        && ok(r.gte, Ordering::is_ge)
}

/// Payload indexes of one collection (or segment), by field name.
#[derive(Debug, Clone, Default)]
pub struct PayloadIndex {
    fields: Vec<FieldIndex>,
}

impl PayloadIndex {
    /// No indexed fields.
    pub fn new() -> Self {
        Self::default()
    }

    /// Indexes `field` (a key path such as `meta.tags[]`) as `kind` over `points`, replacing
    /// any index the field had. The error names a field that is not a valid key path.
    pub fn create_field<'a>(
        &mut self,
        field: &str,
        kind: PayloadSchemaType,
        points: impl Iterator<Item = (PointId, &'a Payload)>,
    ) -> Result<(), FilterError> {
        let path = JsonPath::parse(field).map_err(|e| FilterError(format!("field_name: {e}")))?;
        let mut index = FieldIndex {
            name: field.to_string(),
            path,
            kind,
            map: BTreeMap::new(),
            points: HashMap::new(),
            counted: 0,
        };
        for (id, payload) in points {
            index.add(id, payload);
        }
        self.delete_field(field);
        self.fields.push(index);
        Ok(())
    }

    /// Drops the field's index; whether it had one.
    pub fn delete_field(&mut self, field: &str) -> bool {
        let before = self.fields.len();
        self.fields.retain(|f| f.name != field);
        self.fields.len() != before
    }

    /// The indexed fields in creation order: name, kind, and how many points hold at least one
    /// value of the kind there.
    pub fn fields(&self) -> Vec<(String, PayloadSchemaType, usize)> {
        self.fields
            .iter()
            .map(|f| (f.name.clone(), f.kind, f.counted))
            .collect()
    }

    /// The kind the field is indexed as, if it is.
    pub fn field_kind(&self, field: &str) -> Option<PayloadSchemaType> {
        self.fields.iter().find(|f| f.name == field).map(|f| f.kind)
    }

    /// Indexes a point's payload; a point already indexed is re-indexed.
    pub fn add_point(&mut self, id: PointId, payload: &Payload) {
        for f in &mut self.fields {
            f.add(id, payload);
        }
    }

    /// Forgets a point. The index remembers what it indexed for each point, so `_payload` (the
    /// point's payload as it was indexed) is not needed to find its entries.
    pub fn remove_point(&mut self, id: PointId, _payload: &Payload) {
        for f in &mut self.fields {
            f.remove(id);
        }
    }

    fn field_answer(&self, c: &FieldCondition) -> Option<Answer> {
        self.fields
            .iter()
            .filter(|f| f.path.same_steps(&c.key))
            .find_map(|f| f.answer(&c.test))
    }

    fn condition_candidates(&self, c: &Condition) -> Option<HashSet<PointId>> {
        match c {
            Condition::Field(fc) => self.field_answer(fc).map(|a| a.0),
            Condition::HasId(ids) => Some(ids.clone()),
            Condition::Filter(f) => self.candidates(f),
            _ => None,
        }
    }

    /// Ids that may match (a superset of the true matches), from indexed `must` conditions and
    /// `has_id` (and `should` / `min_should` when every alternative is indexed); `None` when no
    /// index applies. Ids named by `has_id` are returned whether or not such points exist.
    pub fn candidates(&self, filter: &Filter) -> Option<HashSet<PointId>> {
        let mut acc: Option<HashSet<PointId>> = None;
        let mut narrow = |set: HashSet<PointId>| {
            acc = Some(match acc.take() {
                None => set,
                Some(a) => intersect(a, set),
            });
        };
        for c in &filter.must {
            if let Some(s) = self.condition_candidates(c) {
                narrow(s);
            }
        }
        if !filter.should.is_empty() {
            let sets: Option<Vec<_>> = filter
                .should
                .iter()
                .map(|c| self.condition_candidates(c))
                .collect();
            if let Some(sets) = sets {
                narrow(sets.into_iter().flatten().collect());
            }
        }
        if let Some(ms) = filter.min_should.as_ref().filter(|m| m.min_count > 0) {
            let sets: Option<Vec<_>> = ms
                .conditions
                .iter()
                .map(|c| self.condition_candidates(c))
                .collect();
            if let Some(sets) = sets {
                let mut counts: HashMap<PointId, usize> = HashMap::new();
                for id in sets.into_iter().flatten() {
                    *counts.entry(id).or_default() += 1;
                }
                narrow(
                    counts
                        .into_iter()
                        .filter(|&(_, n)| n >= ms.min_count)
                        .map(|(id, _)| id)
                        .collect(),
                );
            }
        }
        acc
    }

    fn condition_estimate(&self, c: &Condition, total: usize) -> Cardinality {
        match c {
            Condition::Field(fc) => match self.field_answer(fc) {
                Some((set, exact)) => answer_card(&set, exact, total),
                None => Cardinality::unknown(total),
            },
            Condition::HasId(ids) => {
                let n = ids.len().min(total);
                Cardinality {
                    min: 0,
                    expected: n,
                    max: n,
                }
            }
            Condition::Filter(f) => self.estimate(f, total),
            _ => Cardinality::unknown(total),
        }
    }

    /// Cardinality estimate of a filter over `total` points: `min ≤ true count ≤ max`, and an
    /// expected value. Indexed `must` conditions are intersected exactly; other parts combine
    /// as in Qdrant's `CardinalityEstimation` (an unindexed condition is `0..=total`).
    pub fn estimate(&self, filter: &Filter, total: usize) -> Cardinality {
        let mut parts = Vec::new();
        let mut indexed: Option<Answer> = None;
        for c in &filter.must {
            let answer = match c {
                Condition::Field(fc) => self.field_answer(fc),
                _ => None,
            };
            match answer {
                Some((set, exact)) => {
                    indexed = Some(match indexed.take() {
                        None => (set, exact),
                        Some((a, e)) => (intersect(a, set), e && exact),
                    });
                }
                None => parts.push(self.condition_estimate(c, total)),
            }
        }
        if let Some((set, exact)) = indexed {
            parts.push(answer_card(&set, exact, total));
        }
        for c in &filter.must_not {
            let e = self.condition_estimate(c, total);
            parts.push(Cardinality {
                min: total - e.max,
                expected: total - e.expected,
                max: total - e.min,
            });
        }
        if !filter.should.is_empty() {
            let cards: Vec<_> = filter
                .should
                .iter()
                .map(|c| self.condition_estimate(c, total))
                .collect();
            parts.push(at_least(&cards, 1, total));
        }
        if let Some(ms) = filter.min_should.as_ref().filter(|m| m.min_count > 0) {
            let cards: Vec<_> = ms
                .conditions
                .iter()
                .map(|c| self.condition_estimate(c, total))
                .collect();
            parts.push(at_least(&cards, ms.min_count, total));
        }
        all_of(&parts, total)
    }
}

fn intersect(a: HashSet<PointId>, b: HashSet<PointId>) -> HashSet<PointId> {
    let (small, large) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    small.into_iter().filter(|id| large.contains(id)).collect()
}

fn answer_card(set: &HashSet<PointId>, exact: bool, total: usize) -> Cardinality {
    let n = set.len().min(total);
    if exact {
        Cardinality::exact(n)
    } else {
        Cardinality {
            min: 0,
            expected: n / 2,
            max: n,
        }
    }
}

/// All parts hold.
fn all_of(parts: &[Cardinality], total: usize) -> Cardinality {
    if parts.is_empty() {
        return Cardinality::exact(total);
    }
    let sum_min: usize = parts.iter().map(|p| p.min).sum();
    let min = sum_min.saturating_sub((parts.len() - 1) * total);
    let max = parts.iter().map(|p| p.max).min().unwrap_or(total);
    let expected = if total == 0 {
        0.0
    } else {
        parts.iter().fold(total as f64, |acc, p| {
            acc * p.expected as f64 / total as f64
        })
    };
    Cardinality::clamped(min.min(max), expected, max)
}

/// At least `k` of the parts hold.
fn at_least(parts: &[Cardinality], k: usize, total: usize) -> Cardinality {
    let n = parts.len();
    if k > n || total == 0 {
        return Cardinality::exact(0);
    }
    // each matching point accounts for at least k of the parts' true counts
    let sum_max: usize = parts.iter().map(|p| p.max).sum();
    let max = (sum_max / k).min(total);
    // a point that does not match accounts for at most k - 1 of them, one that does for n
    let sum_min: usize = parts.iter().map(|p| p.min).sum();
    let spare = (k - 1) * total;
    let mut min = sum_min.saturating_sub(spare).div_ceil(n - k + 1);
    if k == 1 {
        min = min.max(parts.iter().map(|p| p.min).max().unwrap_or(0));
    }
    // expected: independent events, P(at least k of n)
    let mut dist = vec![1.0f64];
    for p in parts {
        let q = (p.expected as f64 / total as f64).clamp(0.0, 1.0);
        let mut next = vec![0.0; dist.len() + 1];
        for (j, &d) in dist.iter().enumerate() {
            next[j] += d * (1.0 - q);
            next[j + 1] += d * q;
        }
        dist = next;
    }
    let p: f64 = dist[k..].iter().sum();
    Cardinality::clamped(min.min(max), p * total as f64, max)
}

mod codec;
#[cfg(test)]
mod tests;
