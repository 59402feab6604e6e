//! Search bodies: the universal query, its batch and groups, and the legacy search and
//! recommend. Each type parses its body (hand-written `Deserialize` only for the unions, which
//! dispatch on the JSON's shape or keys so that an error names the field) and describes it in
//! the spec; `into_*` turns it into the engine's request.

use std::fmt;

use rvdb_engine::{Fusion as EngineFusion, PointId, QueryKind, ScoreQuery, DEFAULT_VECTOR};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::common::{
    envelope, sparse_from_map, vector_object, Dense, DenseOrMulti, DocumentRole, ExtendedPointId,
    SparseOrDocument, SparseVector, Vector, WithPayload, WithVector,
};
use super::filter::SearchFilter;
use super::points::{limit, optional_filter, FilterBody, OrderByInterface};
use crate::convert::{bad, invalid, join, QueryRequest as ParsedQuery};
use crate::ApiError;

/// A dense vector, a sparse vector (for a `using` naming a sparse vector), or the id of a
/// stored point whose vector is used.
#[derive(ToSchema, Debug)]
#[serde(untagged)]
pub(crate) enum VectorInput {
    Vector(Vec<f32>),
    #[schema(value_type = SparseOrDocument)]
    Sparse(SparseVector),
    /// A multivector (for a space with `multivector_config`).
    Multi(Vec<Vec<f32>>),
    #[schema(value_type = ExtendedPointId)]
    Id(PointId),
}

impl From<VectorInput> for rvdb_engine::VectorInput {
    fn from(v: VectorInput) -> Self {
        match v {
            VectorInput::Vector(v) => rvdb_engine::VectorInput::Vector(v),
            VectorInput::Sparse(v) => rvdb_engine::VectorInput::Sparse(v.into_engine()),
            VectorInput::Multi(v) => rvdb_engine::VectorInput::Multi(v),
            VectorInput::Id(id) => rvdb_engine::VectorInput::Id(id),
        }
    }
}

fn id_from_str<E: de::Error>(s: &str) -> Result<PointId, E> {
    PointId::deserialize(de::value::StrDeserializer::<E>::new(s))
}

impl<'de> Deserialize<'de> for VectorInput {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = VectorInput;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a vector or a point id")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<VectorInput, E> {
                Ok(VectorInput::Id(PointId::Num(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<VectorInput, E> {
                PointId::deserialize(de::value::I64Deserializer::<E>::new(v)).map(VectorInput::Id)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<VectorInput, E> {
                id_from_str(v).map(VectorInput::Id)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<VectorInput, A::Error> {
                Ok(
                    match DenseOrMulti::deserialize(de::value::SeqAccessDeserializer::new(seq))? {
                        DenseOrMulti::Dense(v) => VectorInput::Vector(v),
                        DenseOrMulti::Multi(v) => VectorInput::Multi(v),
                    },
                )
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<VectorInput, A::Error> {
                sparse_from_map(map, DocumentRole::Query).map(VectorInput::Sparse)
            }
        }
        d.deserialize_any(V)
    }
}

/// The `query` of POST …/points/query (and of a prefetch): a vector or a point id (nearest
/// neighbours), or one of `nearest` (with `mmr`), `recommend`, `discover`, `context`,
/// `relevance_feedback`, `sample`, `fusion`, `rrf`, `order_by`.
#[derive(ToSchema, Debug)]
#[serde(untagged)]
pub(crate) enum QueryInterface {
    Vector(Vec<f32>),
    #[schema(value_type = SparseOrDocument)]
    Sparse(SparseVector),
    /// A multivector: nearest by max_sim in the multivector space `using` names.
    Multi(Vec<Vec<f32>>),
    #[schema(value_type = ExtendedPointId)]
    Id(PointId),
    Nearest(NearestQuery),
    Recommend(RecommendQuery),
    Discover(DiscoverQuery),
    Context(ContextQuery),
    RelevanceFeedback(RelevanceFeedbackQuery),
    Sample(SampleQuery),
    Fusion(FusionQuery),
    Rrf(RrfQuery),
    Formula(FormulaQuery),
    OrderBy(OrderByQuery),
}

#[derive(ToSchema, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct NearestQuery {
    pub nearest: VectorInput,
    /// Re-rank the nearest candidates by maximal marginal relevance (the scores stay the
    /// similarities to the query).
    pub mmr: Option<Mmr>,
}

/// Maximal marginal relevance: each pick is relevant to the query and unlike those picked before.
#[derive(ToSchema, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct Mmr {
    /// 0 favours relevance, 1 diversity; default 0.5.
    #[schema(minimum = 0, maximum = 1)]
    pub diversity: Option<f32>,
    /// Candidates to re-rank (default: `limit`).
    #[schema(minimum = 0, maximum = 16384)]
    pub candidates_limit: Option<usize>,
}

/// Discovery: points on the positive side of every context pair first, then closest to
/// `target`.
#[derive(ToSchema, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct DiscoverQuery {
    pub discover: DiscoverInput,
}

#[derive(ToSchema, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct DiscoverInput {
    pub target: VectorInput,
    /// The pairs that constrain the search space.
    pub context: Option<ContextInput>,
}

/// Context search: points closer to each pair's positive than to its negative.
#[derive(ToSchema, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct ContextQuery {
    pub context: ContextInput,
}

/// One context pair, or several (`null`: none).
#[derive(ToSchema, Debug, Default)]
#[serde(untagged)]
pub(crate) enum ContextInput {
    One(ContextPair),
    Many(Vec<ContextPair>),
    #[default]
    None,
}

#[derive(ToSchema, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct ContextPair {
    pub positive: VectorInput,
    pub negative: VectorInput,
}

impl<'de> Deserialize<'de> for ContextInput {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ContextInput;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a context pair, an array of them, or null")
            }
            fn visit_unit<E: de::Error>(self) -> Result<ContextInput, E> {
                Ok(ContextInput::None)
            }
            fn visit_none<E: de::Error>(self) -> Result<ContextInput, E> {
                Ok(ContextInput::None)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<ContextInput, A::Error> {
                Vec::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(ContextInput::Many)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ContextInput, A::Error> {
                ContextPair::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(ContextInput::One)
            }
        }
        d.deserialize_any(V)
    }
}

impl ContextInput {
    fn into_pairs(self) -> Vec<rvdb_engine::ContextPair> {
        let pairs = match self {
            ContextInput::One(p) => vec![p],
            ContextInput::Many(ps) => ps,
            ContextInput::None => Vec::new(),
        };
        pairs
            .into_iter()
            .map(|p| rvdb_engine::ContextPair {
                positive: p.positive.into(),
                negative: p.negative.into(),
            })
            .collect()
    }
}

/// Relevance feedback: a target and examples scored for relevance.
#[derive(ToSchema, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct RelevanceFeedbackQuery {
    pub relevance_feedback: RelevanceFeedbackInput,
}

#[derive(ToSchema, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct RelevanceFeedbackInput {
    pub target: VectorInput,
    pub feedback: Vec<FeedbackItem>,
    pub strategy: FeedbackStrategy,
}

#[derive(ToSchema, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct FeedbackItem {
    pub example: VectorInput,
    pub score: f64,
}

/// The only strategy: `naive`.
#[derive(ToSchema, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct FeedbackStrategy {
    pub naive: NaiveFeedbackStrategyParams,
}

/// `a · sim(target) + Σ (confidence^b · c) · (sim(positive) − sim(negative))` over the pairs of
/// examples whose score difference (confidence) is positive.
#[derive(ToSchema, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct NaiveFeedbackStrategyParams {
    pub a: f64,
    #[schema(minimum = 0)]
    pub b: f64,
    pub c: f64,
}

/// Random points, each scored 1.
#[derive(ToSchema, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct SampleQuery {
    pub sample: Sample,
}

#[derive(ToSchema, Deserialize, Debug, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Sample {
    Random,
}

#[derive(ToSchema, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct RecommendQuery {
    pub recommend: RecommendInput,
}

/// Closer to `positive`, farther from `negative`.
#[derive(ToSchema, Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RecommendInput {
    pub positive: Option<Vec<VectorInput>>,
    pub negative: Option<Vec<VectorInput>>,
    pub strategy: Option<RecommendStrategy>,
}

impl RecommendInput {
    fn into_kind(self) -> QueryKind {
        let inputs = |v: Option<Vec<VectorInput>>| {
            v.unwrap_or_default().into_iter().map(Into::into).collect()
        };
        QueryKind::Recommend {
            positive: inputs(self.positive),
            negative: inputs(self.negative),
            strategy: self.strategy.map_or(
                rvdb_engine::RecommendStrategy::AverageVector,
                RecommendStrategy::into_engine,
            ),
        }
    }
}

/// Default `average_vector`.
#[derive(ToSchema, Deserialize, Debug, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RecommendStrategy {
    AverageVector,
    BestScore,
    SumScores,
}

impl RecommendStrategy {
    fn into_engine(self) -> rvdb_engine::RecommendStrategy {
        match self {
            RecommendStrategy::AverageVector => rvdb_engine::RecommendStrategy::AverageVector,
            RecommendStrategy::BestScore => rvdb_engine::RecommendStrategy::BestScore,
            RecommendStrategy::SumScores => rvdb_engine::RecommendStrategy::SumScores,
        }
    }
}

/// Fuse the prefetches' results.
#[derive(ToSchema, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct FusionQuery {
    pub fusion: Fusion,
}

#[derive(ToSchema, Deserialize, Debug, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Fusion {
    Rrf,
    Dbsf,
}

/// Reciprocal rank fusion with parameters.
#[derive(ToSchema, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct RrfQuery {
    pub rrf: Rrf,
}

#[derive(ToSchema, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct Rrf {
    /// Default 2.
    pub k: Option<usize>,
    /// One weight per prefetch.
    pub weights: Option<Vec<f32>>,
}

/// Order by a payload key instead of scoring.
#[derive(ToSchema, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct OrderByQuery {
    pub order_by: OrderByInterface,
}

/// Re-score the prefetches' points by an expression.
#[derive(ToSchema, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct FormulaQuery {
    pub formula: Expression,
    /// Values of variables (payload keys, `$score[i]`) that a point lacks.
    #[schema(value_type = Option<Object>)]
    pub defaults: Option<serde_json::Map<String, Value>>,
}

/// A formula expression: a number, a variable (a payload key, or `$score[i]`: the score in
/// prefetch `i`), a condition (1 or 0), or one of the operations below.
#[derive(ToSchema, Debug)]
#[serde(untagged)]
pub(crate) enum Expression {
    Constant(f64),
    Variable(String),
    #[schema(value_type = rvdb_filter::wire::Condition)]
    Condition(Box<rvdb_filter::wire::Condition>),
    GeoDistance(GeoDistance),
    Datetime(DatetimeExpression),
    DatetimeKey(DatetimeKeyExpression),
    Mult(MultExpression),
    Sum(SumExpression),
    Max(MaxExpression),
    Min(MinExpression),
    Neg(NegExpression),
    Abs(AbsExpression),
    Div(DivExpression),
    Sqrt(SqrtExpression),
    Pow(PowExpression),
    Exp(ExpExpression),
    Log10(Log10Expression),
    Ln(LnExpression),
    Acosh(AcoshExpression),
    LinDecay(LinDecayExpression),
    ExpDecay(ExpDecayExpression),
    GaussDecay(GaussDecayExpression),
}

/// Meters from `origin` to the geo point at the payload key `to`.
#[derive(ToSchema, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct GeoDistance {
    pub geo_distance: GeoDistanceParams,
}

#[derive(ToSchema, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct GeoDistanceParams {
    pub origin: rvdb_filter::wire::GeoPoint,
    pub to: String,
}

/// A datetime constant (seconds since 1970).
#[derive(ToSchema, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct DatetimeExpression {
    pub datetime: String,
}

/// The datetime at a payload key (seconds since 1970).
#[derive(ToSchema, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct DatetimeKeyExpression {
    pub datetime_key: String,
}

macro_rules! operations {
    ($($(#[$doc:meta])* $name:ident { $field:ident: $ty:ty })*) => {$(
        $(#[$doc])*
        #[derive(ToSchema, Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        pub(crate) struct $name {
            #[schema(no_recursion)]
            pub $field: $ty,
        }
    )*};
}

operations! {
    /// The product; a zero factor ends it.
    MultExpression { mult: Vec<Expression> }
    SumExpression { sum: Vec<Expression> }
    /// The largest operand (at least one).
    MaxExpression { max: Vec<Expression> }
    /// The smallest operand (at least one).
    MinExpression { min: Vec<Expression> }
    NegExpression { neg: Box<Expression> }
    AbsExpression { abs: Box<Expression> }
    DivExpression { div: DivParams }
    SqrtExpression { sqrt: Box<Expression> }
    PowExpression { pow: PowParams }
    ExpExpression { exp: Box<Expression> }
    Log10Expression { log10: Box<Expression> }
    LnExpression { ln: Box<Expression> }
    AcoshExpression { acosh: Box<Expression> }
    /// `max(0, 1 − (1 − midpoint) / scale · |x − target|)`.
    LinDecayExpression { lin_decay: DecayParams }
    /// `exp(ln(midpoint) / scale · |x − target|)`.
    ExpDecayExpression { exp_decay: DecayParams }
    /// `exp(ln(midpoint) / scale² · (x − target)²)`.
    GaussDecayExpression { gauss_decay: DecayParams }
}

/// `left / right`; 0 when `left` is 0; `by_zero_default` (or an error) when `right` is 0.
#[derive(ToSchema, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct DivParams {
    #[schema(no_recursion)]
    pub left: Box<Expression>,
    #[schema(no_recursion)]
    pub right: Box<Expression>,
    pub by_zero_default: Option<f64>,
}

#[derive(ToSchema, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct PowParams {
    #[schema(no_recursion)]
    pub base: Box<Expression>,
    #[schema(no_recursion)]
    pub exponent: Box<Expression>,
}

#[derive(ToSchema, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct DecayParams {
    /// The value to decay.
    #[schema(no_recursion)]
    pub x: Box<Expression>,
    /// Where the decay is 1 (default 0).
    #[schema(no_recursion)]
    pub target: Option<Box<Expression>>,
    /// Distance from the target at which the value is `midpoint` (default 1, above 0).
    pub scale: Option<f64>,
    /// The value at `scale` from the target (default 0.5; (0, 1), linear: [0, 1]).
    pub midpoint: Option<f64>,
}

/// A map whose first key was read already: hands that key back first, then the rest.
struct Resumed<'de, A: MapAccess<'de>> {
    first: Option<String>,
    rest: A,
    _de: std::marker::PhantomData<&'de ()>,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Resumed<'de, A> {
    type Error = A::Error;
    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        match self.first.take() {
            Some(k) => seed
                .deserialize(de::value::StringDeserializer::<A::Error>::new(k))
                .map(Some),
            None => self.rest.next_key_seed(seed),
        }
    }
    fn next_value_seed<V: de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, A::Error> {
        self.rest.next_value_seed(seed)
    }
}

impl<'de> Deserialize<'de> for Expression {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Expression;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number, a variable name, a condition or an expression object")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Expression, E> {
                Ok(Expression::Constant(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Expression, E> {
                Ok(Expression::Constant(v as f64))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Expression, E> {
                Ok(Expression::Constant(v as f64))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Expression, E> {
                Ok(Expression::Variable(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Expression, A::Error> {
                use Expression as X;
                let Some(key) = map.next_key::<String>()? else {
                    return Err(de::Error::custom("an empty expression"));
                };
                let e = match key.as_str() {
                    "geo_distance" => X::GeoDistance(GeoDistance {
                        geo_distance: map.next_value()?,
                    }),
                    "datetime" => X::Datetime(DatetimeExpression {
                        datetime: map.next_value()?,
                    }),
                    "datetime_key" => X::DatetimeKey(DatetimeKeyExpression {
                        datetime_key: map.next_value()?,
                    }),
                    "mult" => X::Mult(MultExpression {
                        mult: map.next_value()?,
                    }),
                    "sum" => X::Sum(SumExpression {
                        sum: map.next_value()?,
                    }),
                    "max" => X::Max(MaxExpression {
                        max: map.next_value()?,
                    }),
                    "min" => X::Min(MinExpression {
                        min: map.next_value()?,
                    }),
                    "neg" => X::Neg(NegExpression {
                        neg: map.next_value()?,
                    }),
                    "abs" => X::Abs(AbsExpression {
                        abs: map.next_value()?,
                    }),
                    "div" => X::Div(DivExpression {
                        div: map.next_value()?,
                    }),
                    "sqrt" => X::Sqrt(SqrtExpression {
                        sqrt: map.next_value()?,
                    }),
                    "pow" => X::Pow(PowExpression {
                        pow: map.next_value()?,
                    }),
                    "exp" => X::Exp(ExpExpression {
                        exp: map.next_value()?,
                    }),
                    "log10" => X::Log10(Log10Expression {
                        log10: map.next_value()?,
                    }),
                    "ln" => X::Ln(LnExpression {
                        ln: map.next_value()?,
                    }),
                    "acosh" => X::Acosh(AcoshExpression {
                        acosh: map.next_value()?,
                    }),
                    "lin_decay" => X::LinDecay(LinDecayExpression {
                        lin_decay: map.next_value()?,
                    }),
                    "exp_decay" => X::ExpDecay(ExpDecayExpression {
                        exp_decay: map.next_value()?,
                    }),
                    "gauss_decay" => X::GaussDecay(GaussDecayExpression {
                        gauss_decay: map.next_value()?,
                    }),
                    _ => {
                        // anything else is a condition (`key`, `has_id`, `must`, …)
                        let rest = Resumed {
                            first: Some(key),
                            rest: map,
                            _de: std::marker::PhantomData,
                        };
                        let c = rvdb_filter::wire::Condition::deserialize(
                            de::value::MapAccessDeserializer::new(rest),
                        )?;
                        return Ok(X::Condition(Box::new(c)));
                    }
                };
                if let Some(k) = map.next_key::<String>()? {
                    return Err(de::Error::custom(format!(
                        "{k}: an expression object has one key ({key} here)"
                    )));
                }
                Ok(e)
            }
        }
        d.deserialize_any(V)
    }
}

impl Expression {
    /// The engine's expression; `at` names it in errors (checked as Qdrant parses a formula:
    /// variables, paths, datetimes, conditions, decay parameters, empty `max`/`min`).
    fn into_engine(self, at: &str) -> Result<rvdb_engine::Expression, ApiError> {
        use rvdb_engine::Expression as E;
        let boxed = |e: Box<Expression>, at: &str| e.into_engine(at).map(Box::new);
        let all = |es: Vec<Expression>, at: &str| {
            es.into_iter()
                .enumerate()
                .map(|(i, e)| e.into_engine(&format!("{at}[{i}]")))
                .collect::<Result<Vec<_>, _>>()
        };
        let key = |raw: &str, at: &str| rvdb_engine::PayloadKey::parse(raw).map_err(|e| bad(at, e));
        let decay = |kind, p: DecayParams, at: &str| -> Result<E, ApiError> {
            let midpoint = p.midpoint.unwrap_or(0.5);
            let scale = p.scale.unwrap_or(1.0);
            rvdb_engine::check_decay(kind, midpoint, scale).map_err(|e| bad(at, e))?;
            Ok(E::Decay {
                kind,
                x: boxed(p.x, &join(at, "x"))?,
                target: p
                    .target
                    .map(|t| boxed(t, &join(at, "target")))
                    .transpose()?,
                midpoint,
                scale,
            })
        };
        Ok(match self {
            Expression::Constant(c) => E::Constant(c),
            Expression::Variable(v) => {
                match rvdb_engine::Variable::parse(&v).map_err(|e| bad(at, e))? {
                    rvdb_engine::Variable::Score(i) => E::Score(i),
                    rvdb_engine::Variable::Payload(k) => E::Payload(k),
                }
            }
            Expression::Condition(c) => {
                let f = rvdb_filter::wire::Filter {
                    must: Some(rvdb_filter::wire::Conditions::One(c)),
                    ..Default::default()
                };
                E::Condition(Box::new(f.into_ast(at).map_err(|e| bad("", e))?))
            }
            Expression::GeoDistance(g) => E::GeoDistance {
                origin: rvdb_filter::GeoPoint {
                    lon: g.geo_distance.origin.lon,
                    lat: g.geo_distance.origin.lat,
                },
                to: key(&g.geo_distance.to, &join(at, "geo_distance.to"))?,
            },
            Expression::Datetime(d) => match rvdb_engine::parse_datetime_micros(&d.datetime) {
                Some(us) => E::Datetime(us as f64 / 1e6),
                None => {
                    return Err(bad(
                        &join(at, "datetime"),
                        format!("Expected datetime in supported format for {}", d.datetime),
                    ))
                }
            },
            Expression::DatetimeKey(d) => {
                E::DatetimeKey(key(&d.datetime_key, &join(at, "datetime_key"))?)
            }
            Expression::Mult(m) => E::Mult(all(m.mult, &join(at, "mult"))?),
            Expression::Sum(s) => E::Sum(all(s.sum, &join(at, "sum"))?),
            Expression::Max(m) => {
                if m.max.is_empty() {
                    return Err(bad(&join(at, "max"), "`max` needs at least one operand"));
                }
                E::Max(all(m.max, &join(at, "max"))?)
            }
            Expression::Min(m) => {
                if m.min.is_empty() {
                    return Err(bad(&join(at, "min"), "`min` needs at least one operand"));
                }
                E::Min(all(m.min, &join(at, "min"))?)
            }
            Expression::Neg(x) => E::Neg(boxed(x.neg, &join(at, "neg"))?),
            Expression::Abs(x) => E::Abs(boxed(x.abs, &join(at, "abs"))?),
            Expression::Sqrt(x) => E::Sqrt(boxed(x.sqrt, &join(at, "sqrt"))?),
            Expression::Exp(x) => E::Exp(boxed(x.exp, &join(at, "exp"))?),
            Expression::Log10(x) => E::Log10(boxed(x.log10, &join(at, "log10"))?),
            Expression::Ln(x) => E::Ln(boxed(x.ln, &join(at, "ln"))?),
            Expression::Acosh(x) => E::Acosh(boxed(x.acosh, &join(at, "acosh"))?),
            Expression::Div(d) => E::Div {
                left: boxed(d.div.left, &join(at, "div.left"))?,
                right: boxed(d.div.right, &join(at, "div.right"))?,
                by_zero_default: d.div.by_zero_default,
            },
            Expression::Pow(p) => E::Pow {
                base: boxed(p.pow.base, &join(at, "pow.base"))?,
                exponent: boxed(p.pow.exponent, &join(at, "pow.exponent"))?,
            },
            Expression::LinDecay(d) => {
                decay(rvdb_engine::Decay::Lin, d.lin_decay, &join(at, "lin_decay"))?
            }
            Expression::ExpDecay(d) => {
                decay(rvdb_engine::Decay::Exp, d.exp_decay, &join(at, "exp_decay"))?
            }
            Expression::GaussDecay(d) => decay(
                rvdb_engine::Decay::Gauss,
                d.gauss_decay,
                &join(at, "gauss_decay"),
            )?,
        })
    }
}

impl<'de> Deserialize<'de> for QueryInterface {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = QueryInterface;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a vector, a point id, or {nearest|recommend|discover|context|relevance_feedback|sample|fusion|rrf|formula|order_by: …}")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<QueryInterface, E> {
                Ok(QueryInterface::Id(PointId::Num(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<QueryInterface, E> {
                PointId::deserialize(de::value::I64Deserializer::<E>::new(v))
                    .map(QueryInterface::Id)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<QueryInterface, E> {
                id_from_str(v).map(QueryInterface::Id)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<QueryInterface, A::Error> {
                Ok(
                    match DenseOrMulti::deserialize(de::value::SeqAccessDeserializer::new(seq))? {
                        DenseOrMulti::Dense(v) => QueryInterface::Vector(v),
                        DenseOrMulti::Multi(v) => QueryInterface::Multi(v),
                    },
                )
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<QueryInterface, A::Error> {
                use QueryInterface as Q;
                let mut out: Option<QueryInterface> = None;
                // `nearest` and its `mmr` are two keys of one object
                let mut mmr: Option<Option<Mmr>> = None;
                // and so are `formula` and its `defaults`
                let mut defaults: Option<Option<serde_json::Map<String, Value>>> = None;
                // a sparse vector's two keys
                let mut sparse = serde_json::Map::new();
                while let Some(key) = map.next_key::<String>()? {
                    let q = match key.as_str() {
                        "nearest" => Q::Nearest(NearestQuery {
                            nearest: map.next_value()?,
                            mmr: None,
                        }),
                        "mmr" => {
                            if mmr.replace(map.next_value()?).is_some() {
                                return Err(de::Error::duplicate_field("mmr"));
                            }
                            continue;
                        }
                        "recommend" => Q::Recommend(RecommendQuery { recommend: map.next_value()? }),
                        "discover" => Q::Discover(DiscoverQuery { discover: map.next_value()? }),
                        "context" => Q::Context(ContextQuery { context: map.next_value()? }),
                        "relevance_feedback" => Q::RelevanceFeedback(RelevanceFeedbackQuery {
                            relevance_feedback: map.next_value()?,
                        }),
                        "sample" => Q::Sample(SampleQuery { sample: map.next_value()? }),
                        "fusion" => Q::Fusion(FusionQuery { fusion: map.next_value()? }),
                        "rrf" => Q::Rrf(RrfQuery { rrf: map.next_value()? }),
                        "formula" => Q::Formula(FormulaQuery {
                            formula: map.next_value()?,
                            defaults: None,
                        }),
                        "defaults" => {
                            if defaults.replace(map.next_value()?).is_some() {
                                return Err(de::Error::duplicate_field("defaults"));
                            }
                            continue;
                        }
                        "order_by" => Q::OrderBy(OrderByQuery { order_by: map.next_value()? }),
                        "indices" | "values" | "text" | "model" | "options" => {
                            sparse.insert(key, map.next_value()?);
                            continue;
                        }
                        _ => {
                            return Err(de::Error::custom(
                                "expected a vector, a point id, or {nearest|recommend|discover|context|relevance_feedback|sample|fusion|rrf|formula|order_by: …}",
                            ))
                        }
                    };
                    if out.replace(q).is_some() {
                        return Err(de::Error::custom("give one query kind per query"));
                    }
                }
                if !sparse.is_empty() {
                    let v = vector_object(sparse, DocumentRole::Query)?;
                    if out.replace(Q::Sparse(v)).is_some() {
                        return Err(de::Error::custom("give one query kind per query"));
                    }
                }
                let out = match (out, defaults) {
                    (Some(Q::Formula(f)), Some(defaults)) => {
                        Some(Q::Formula(FormulaQuery { defaults, ..f }))
                    }
                    (_, Some(_)) => {
                        return Err(de::Error::custom(
                            "defaults: only a formula query takes defaults",
                        ))
                    }
                    (out, None) => out,
                };
                match (out, mmr) {
                    (Some(Q::Nearest(n)), Some(mmr)) => Ok(Q::Nearest(NearestQuery { mmr, ..n })),
                    (_, Some(_)) => Err(de::Error::custom("mmr: only a nearest query takes mmr")),
                    (out, None) => out.ok_or_else(|| de::Error::custom("an empty query")),
                }
            }
        }
        d.deserialize_any(V)
    }
}

impl QueryInterface {
    fn into_kind(self, at: &str) -> Result<QueryKind, ApiError> {
        use QueryInterface as Q;
        Ok(match self {
            Q::Vector(v) => QueryKind::Nearest(rvdb_engine::VectorInput::Vector(v)),
            Q::Sparse(v) => QueryKind::Nearest(rvdb_engine::VectorInput::Sparse(v.into_engine())),
            Q::Multi(v) => QueryKind::Nearest(rvdb_engine::VectorInput::Multi(v)),
            Q::Id(id) => QueryKind::Nearest(rvdb_engine::VectorInput::Id(id)),
            Q::Nearest(NearestQuery { nearest, mmr: None }) => QueryKind::Nearest(nearest.into()),
            Q::Nearest(NearestQuery {
                nearest,
                mmr: Some(mmr),
            }) => {
                let diversity = mmr.diversity.unwrap_or(0.5);
                if !(0.0..=1.0).contains(&diversity) {
                    return Err(invalid(
                        &join(at, "mmr.diversity"),
                        "must be between 0 and 1",
                    ));
                }
                if mmr.candidates_limit.is_some_and(|c| c > 16384) {
                    return Err(invalid(
                        &join(at, "mmr.candidates_limit"),
                        "must be at most 16384",
                    ));
                }
                QueryKind::NearestMmr {
                    nearest: nearest.into(),
                    mmr: rvdb_engine::Mmr {
                        diversity,
                        candidates_limit: mmr.candidates_limit,
                    },
                }
            }
            Q::Recommend(r) => r.recommend.into_kind(),
            Q::Discover(d) => QueryKind::Discover {
                target: d.discover.target.into(),
                context: d.discover.context.unwrap_or_default().into_pairs(),
            },
            Q::Context(c) => {
                let pairs = c.context.into_pairs();
                if pairs.is_empty() {
                    return Err(bad(&join(at, "context"), "no context pairs given"));
                }
                QueryKind::Context(pairs)
            }
            Q::RelevanceFeedback(r) => {
                let input = r.relevance_feedback;
                let naive = input.strategy.naive;
                if naive.b < 0.0 {
                    return Err(invalid(
                        &join(at, "relevance_feedback.strategy.naive.b"),
                        "must be at least 0",
                    ));
                }
                QueryKind::RelevanceFeedback {
                    target: input.target.into(),
                    feedback: input
                        .feedback
                        .into_iter()
                        .map(|f| rvdb_engine::FeedbackItem {
                            example: f.example.into(),
                            score: f.score,
                        })
                        .collect(),
                    strategy: rvdb_engine::NaiveFeedback {
                        a: naive.a,
                        b: naive.b,
                        c: naive.c,
                    },
                }
            }
            Q::Sample(SampleQuery {
                sample: Sample::Random,
            }) => QueryKind::Sample,
            Q::Formula(f) => {
                let formula = f.formula.into_engine(&join(at, "formula"))?;
                QueryKind::Formula(
                    rvdb_engine::FormulaQuery::new(formula, f.defaults.unwrap_or_default())
                        .map_err(|e| bad(&join(at, "defaults"), e))?,
                )
            }
            Q::Fusion(f) => QueryKind::Fusion(match f.fusion {
                Fusion::Rrf => EngineFusion::Rrf {
                    k: 2,
                    weights: None,
                },
                Fusion::Dbsf => EngineFusion::Dbsf,
            }),
            Q::Rrf(r) => QueryKind::Fusion(EngineFusion::Rrf {
                k: r.rrf.k.unwrap_or(2),
                weights: r.rrf.weights,
            }),
            Q::OrderBy(o) => QueryKind::OrderBy(o.order_by.into_order_by(&join(at, "order_by"))?),
        })
    }
}

/// Search parameters. `indexed_only` and `acorn` are accepted as Qdrant does without a mixed
/// indexed state: they change nothing here.
#[derive(ToSchema, Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct SearchParams {
    /// Beam width of the HNSW search (larger: better recall, slower).
    pub hnsw_ef: Option<usize>,
    /// `true`: exact search, no index.
    pub exact: Option<bool>,
    /// How a quantized vector's codes are used: `ignore` (walk the originals' graph),
    /// `rescore` (default true) and `oversampling` (candidates per result, at least 1).
    pub quantization: Option<rvdb_engine::QuantizationSearchParams>,
    pub indexed_only: Option<bool>,
    #[schema(value_type = Option<Object>)]
    pub acorn: Option<Value>,
}

impl SearchParams {
    fn into_engine(self) -> rvdb_engine::QueryParams {
        rvdb_engine::QueryParams {
            hnsw_ef: self.hnsw_ef,
            exact: self.exact.unwrap_or(false),
            quantization: self.quantization,
        }
    }
}

fn params(p: Option<SearchParams>) -> rvdb_engine::QueryParams {
    p.map(SearchParams::into_engine).unwrap_or_default()
}

/// Where ids in the query are looked up: another collection (and vector name).
#[derive(ToSchema, Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct LookupLocation {
    pub collection: String,
    pub vector: Option<String>,
}

/// One prefetch or several.
#[derive(ToSchema, Debug)]
#[serde(untagged)]
pub(crate) enum Prefetches {
    Many(Vec<Prefetch>),
    One(Box<Prefetch>),
}

impl<'de> Deserialize<'de> for Prefetches {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Prefetches;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a prefetch object or an array of them")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Prefetches, A::Error> {
                Vec::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(Prefetches::Many)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Prefetches, A::Error> {
                Prefetch::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|p| Prefetches::One(Box::new(p)))
            }
        }
        d.deserialize_any(V)
    }
}

/// A sub-query whose results the outer query rescores or fuses.
#[derive(ToSchema, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct Prefetch {
    #[schema(no_recursion)]
    pub prefetch: Option<Box<Prefetches>>,
    pub query: Option<QueryInterface>,
    /// The vector name to search (default: the unnamed vector).
    pub using: Option<String>,
    pub filter: Option<FilterBody>,
    pub params: Option<SearchParams>,
    pub score_threshold: Option<f32>,
    #[schema(minimum = 1)]
    pub limit: Option<usize>,
    /// Must equal the query's `lookup_from`.
    pub lookup_from: Option<LookupLocation>,
}

/// Prefetches into the engine's stages; each `lookup_from` met is pushed to `lookups`.
fn prefetches(
    p: Option<Prefetches>,
    at: &str,
    lookups: &mut Vec<LookupLocation>,
) -> Result<Vec<rvdb_engine::Prefetch>, ApiError> {
    match p {
        None => Ok(Vec::new()),
        Some(Prefetches::One(p)) => Ok(vec![p.into_stage(at, lookups)?]),
        Some(Prefetches::Many(ps)) => ps
            .into_iter()
            .enumerate()
            .map(|(i, p)| p.into_stage(&format!("{at}[{i}]"), lookups))
            .collect(),
    }
}

impl Prefetch {
    fn into_stage(
        self,
        at: &str,
        lookups: &mut Vec<LookupLocation>,
    ) -> Result<rvdb_engine::Prefetch, ApiError> {
        if let Some(l) = self.lookup_from {
            lookups.push(l);
        }
        Ok(rvdb_engine::Prefetch {
            prefetch: prefetches(self.prefetch.map(|p| *p), &join(at, "prefetch"), lookups)?,
            query: self
                .query
                .map(|q| q.into_kind(&join(at, "query")))
                .transpose()?,
            using: self.using,
            filter: optional_filter(self.filter, &join(at, "filter"))?,
            limit: self
                .limit
                .map(|l| limit(Some(l), &join(at, "limit"), l))
                .transpose()?,
            score_threshold: self.score_threshold,
            params: params(self.params),
        })
    }
}

/// POST …/points/query.
#[derive(ToSchema, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"query": [0.1, 0.2, 0.3, 0.4], "filter": {"must": [{"key": "city", "match": {"value": "Berlin"}}]}, "limit": 3, "with_payload": true}))]
pub(crate) struct QueryRequest {
    pub prefetch: Option<Prefetches>,
    /// Missing: the points in id order (or the prefetches' results).
    pub query: Option<QueryInterface>,
    /// The vector name to search (default: the unnamed vector).
    pub using: Option<String>,
    pub filter: Option<FilterBody>,
    pub params: Option<SearchParams>,
    /// Leave out points scoring worse.
    pub score_threshold: Option<f32>,
    /// Default 10, at least 1.
    #[schema(minimum = 1)]
    pub limit: Option<usize>,
    pub offset: Option<usize>,
    /// Default `false`.
    pub with_payload: Option<WithPayload>,
    #[serde(alias = "with_vectors")]
    pub with_vector: Option<WithVector>,
    pub lookup_from: Option<LookupLocation>,
}

impl QueryRequest {
    /// The engine's query and the `lookup_from` collection; `at` names the body in errors.
    pub(crate) fn into_query(self, at: &str) -> Result<ParsedQuery, ApiError> {
        let mut lookups = Vec::new();
        let prefetch = prefetches(self.prefetch, &join(at, "prefetch"), &mut lookups)?;
        if lookups.iter().any(|l| Some(l) != self.lookup_from.as_ref()) {
            return Err(bad(
                &join(at, "prefetch"),
                "lookup_from inside prefetches must match the query's lookup_from",
            ));
        }
        Ok(ParsedQuery {
            query: rvdb_engine::UniversalQuery {
                prefetch,
                query: self
                    .query
                    .map(|q| q.into_kind(&join(at, "query")))
                    .transpose()?,
                using: self.using,
                filter: optional_filter(self.filter, &join(at, "filter"))?,
                limit: limit(self.limit, &join(at, "limit"), 10)?,
                offset: self.offset.unwrap_or(0),
                score_threshold: self.score_threshold,
                with_payload: self
                    .with_payload
                    .map_or(rvdb_engine::PayloadSelector::None, Into::into),
                with_vector: self.with_vector.map(Into::into).unwrap_or_default(),
                params: params(self.params),
            },
            lookup: self.lookup_from.map(|l| (l.collection, l.vector)),
        })
    }
}

/// POST …/points/query/batch.
#[derive(ToSchema, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct QueryRequestBatch {
    pub searches: Vec<QueryRequest>,
}

/// The requests of a batch body, each converted with `searches[i]` naming it in errors.
pub(crate) fn each<T, R>(
    searches: Vec<T>,
    convert: impl Fn(T, &str) -> Result<R, ApiError>,
) -> Result<Vec<R>, ApiError> {
    searches
        .into_iter()
        .enumerate()
        .map(|(i, q)| convert(q, &format!("searches[{i}]")))
        .collect()
}

/// POST …/points/query/groups: a query (the fields of [`QueryRequest`]) whose hits are grouped
/// by a payload key; `limit` is the number of groups.
#[derive(ToSchema, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct QueryGroupsRequest {
    /// The payload key whose value (a string or an integer) names the group.
    pub group_by: String,
    /// Hits per group (default 3, at least 1).
    #[schema(minimum = 1)]
    pub group_size: Option<usize>,
    pub prefetch: Option<Prefetches>,
    pub query: Option<QueryInterface>,
    pub using: Option<String>,
    pub filter: Option<FilterBody>,
    pub params: Option<SearchParams>,
    pub score_threshold: Option<f32>,
    /// Groups to return (default 10, at least 1).
    #[schema(minimum = 1)]
    pub limit: Option<usize>,
    pub offset: Option<usize>,
    /// Default `false`.
    pub with_payload: Option<WithPayload>,
    #[serde(alias = "with_vectors")]
    pub with_vector: Option<WithVector>,
    /// Refused for now: group lookups are not supported yet.
    #[schema(value_type = Option<Object>)]
    pub with_lookup: Option<Value>,
    pub lookup_from: Option<LookupLocation>,
}

impl QueryGroupsRequest {
    /// The query, and the grouping (`with_payload` applies to each hit).
    pub(crate) fn into_parts(self) -> Result<(ParsedQuery, rvdb_engine::GroupRequest), ApiError> {
        if self.with_lookup.is_some_and(|v| !v.is_null()) {
            return Err(bad("with_lookup", "group lookups are not supported yet"));
        }
        let group_by =
            rvdb_engine::JsonPath::parse(&self.group_by).map_err(|e| bad("group_by", e))?;
        let group_size = limit(self.group_size, "group_size", 3)?;
        let with_payload = self
            .with_payload
            .map_or(rvdb_engine::PayloadSelector::None, Into::into);
        let q = QueryRequest {
            prefetch: self.prefetch,
            query: self.query,
            using: self.using,
            filter: self.filter,
            params: self.params,
            score_threshold: self.score_threshold,
            limit: self.limit,
            offset: self.offset,
            with_payload: None,
            with_vector: self.with_vector,
            lookup_from: self.lookup_from,
        }
        .into_query("")?;
        let group = rvdb_engine::GroupRequest {
            group_by,
            group_size,
            limit: q.query.limit,
            with_payload,
        };
        Ok((q, group))
    }
}

/// A dense vector of the unnamed space, or a named one (dense or sparse).
#[derive(ToSchema, Debug)]
#[serde(untagged)]
pub(crate) enum NamedVectorStruct {
    Dense(Vec<f32>),
    Named(NamedVector),
}

#[derive(ToSchema, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct NamedVector {
    pub name: String,
    /// A dense or sparse vector (a multivector is searched with POST …/points/query).
    #[schema(value_type = DenseOrSparse)]
    pub vector: Vector,
}

/// The vector of a legacy named search, as the served spec describes it: dense or sparse
/// (the parser reads a [`Vector`], refusing a multivector by name; no value of this type is
/// ever built).
#[derive(ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub(crate) enum DenseOrSparse {
    Dense(Vec<f32>),
    #[schema(value_type = SparseOrDocument)]
    Sparse(SparseVector),
}

impl<'de> Deserialize<'de> for NamedVectorStruct {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = NamedVectorStruct;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array of numbers or {\"name\": …, \"vector\": […]}")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<NamedVectorStruct, A::Error> {
                let Dense(v) = Dense::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
                Ok(NamedVectorStruct::Dense(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<NamedVectorStruct, A::Error> {
                NamedVector::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(NamedVectorStruct::Named)
            }
        }
        d.deserialize_any(V)
    }
}

/// POST …/points/search (the seed's search and Qdrant's legacy one) and each search of
/// …/search/batch.
#[derive(ToSchema, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"vector": [0.1, 0.2, 0.3, 0.4], "limit": 3, "filter": {"city": "Berlin"}}))]
pub(crate) struct SearchRequest {
    pub vector: NamedVectorStruct,
    /// Qdrant's filter, or the seed's flat `{"key": value}` equality filter.
    #[schema(value_type = Option<SearchFilter>)]
    pub filter: Option<Value>,
    pub params: Option<SearchParams>,
    /// Default 10, at least 1.
    #[schema(minimum = 1)]
    pub limit: Option<usize>,
    pub offset: Option<usize>,
    pub score_threshold: Option<f32>,
    /// Default `true` on …/points/search, `false` in a batch.
    pub with_payload: Option<WithPayload>,
    #[serde(alias = "with_vectors")]
    pub with_vector: Option<WithVector>,
}

impl SearchRequest {
    /// The engine's search; `payload_default` is what a missing `with_payload` means.
    pub(crate) fn into_search(
        self,
        at: &str,
        payload_default: bool,
    ) -> Result<rvdb_engine::SearchRequest, ApiError> {
        let (using, query) = match self.vector {
            NamedVectorStruct::Dense(v) => (DEFAULT_VECTOR.to_string(), ScoreQuery::Nearest(v)),
            NamedVectorStruct::Named(n) => (
                n.name,
                match n.vector {
                    Vector::Dense(v) => ScoreQuery::Nearest(v),
                    Vector::Sparse(v) => ScoreQuery::NearestSparse(v.into_engine()),
                    Vector::Multi(_) => {
                        return Err(bad(
                            &join(at, "vector.vector"),
                            "the legacy search takes one dense or sparse vector; search a multivector with POST /collections/{collection_name}/points/query",
                        ))
                    }
                },
            ),
        };
        Ok(rvdb_engine::SearchRequest {
            using,
            query,
            limit: limit(self.limit, &join(at, "limit"), 10)?,
            offset: self.offset.unwrap_or(0),
            score_threshold: self.score_threshold,
            filter: crate::convert::any_filter(self.filter.as_ref(), &join(at, "filter"))?,
            with_payload: self.with_payload.map_or(
                if payload_default {
                    rvdb_engine::PayloadSelector::All
                } else {
                    rvdb_engine::PayloadSelector::None
                },
                Into::into,
            ),
            with_vector: self.with_vector.map(Into::into).unwrap_or_default(),
            params: params(self.params),
        })
    }
}

/// POST …/points/search/batch.
#[derive(ToSchema, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct SearchRequestBatch {
    pub searches: Vec<SearchRequest>,
}

/// POST …/points/recommend (Qdrant's legacy recommend).
#[derive(ToSchema, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct RecommendRequest {
    pub positive: Option<Vec<VectorInput>>,
    pub negative: Option<Vec<VectorInput>>,
    pub strategy: Option<RecommendStrategy>,
    pub using: Option<String>,
    pub filter: Option<FilterBody>,
    pub params: Option<SearchParams>,
    /// Default 10, at least 1.
    #[schema(minimum = 1)]
    pub limit: Option<usize>,
    pub offset: Option<usize>,
    pub score_threshold: Option<f32>,
    /// Default `false`.
    pub with_payload: Option<WithPayload>,
    #[serde(alias = "with_vectors")]
    pub with_vector: Option<WithVector>,
    pub lookup_from: Option<LookupLocation>,
}

impl RecommendRequest {
    /// The legacy body as a universal query with a `recommend` query.
    pub(crate) fn into_query(self, at: &str) -> Result<ParsedQuery, ApiError> {
        let recommend = RecommendInput {
            positive: self.positive,
            negative: self.negative,
            strategy: self.strategy,
        };
        QueryRequest {
            prefetch: None,
            query: Some(QueryInterface::Recommend(RecommendQuery { recommend })),
            using: self.using,
            filter: self.filter,
            params: self.params,
            score_threshold: self.score_threshold,
            limit: self.limit,
            offset: self.offset,
            with_payload: self.with_payload,
            with_vector: self.with_vector,
            lookup_from: self.lookup_from,
        }
        .into_query(at)
    }
}

/// POST …/points/recommend/batch.
#[derive(ToSchema, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct RecommendRequestBatch {
    pub searches: Vec<RecommendRequest>,
}

/// POST …/points/query/groups.
#[derive(ToSchema, serde::Serialize)]
pub(crate) struct GroupsResult {
    pub groups: Vec<PointGroup>,
}

#[derive(ToSchema, serde::Serialize)]
pub(crate) struct PointGroup {
    /// The group's payload value.
    #[schema(value_type = GroupId)]
    pub id: Value,
    pub hits: Vec<crate::render::ScoredOut>,
}

impl From<Vec<rvdb_engine::PointGroup>> for GroupsResult {
    fn from(groups: Vec<rvdb_engine::PointGroup>) -> Self {
        GroupsResult {
            groups: groups
                .into_iter()
                .map(|g| PointGroup {
                    id: g.id,
                    hits: crate::render::hits(g.hits),
                })
                .collect(),
        }
    }
}

#[derive(ToSchema, serde::Serialize)]
#[serde(untagged)]
pub(crate) enum GroupId {
    String(String),
    Integer(i64),
}

envelope! {
    QueryResponse => crate::qdrant::QueryOut;
    QueryBatchResponse => Vec<crate::qdrant::QueryOut>;
    GroupsResponse => GroupsResult;
    SearchResponse => Vec<crate::render::ScoredOut>;
    SearchBatchResponse => Vec<Vec<crate::render::ScoredOut>>;
}
