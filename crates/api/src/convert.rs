//! Qdrant request JSON → engine types. Every parser names the field it rejects
//! (`query.recommend.positive[2]: …`), and `null` always means "not given". Features not
//! supported yet are refused with 400 saying so; a body that breaks a rule (`limit: 0`) is 422,
//! as in Qdrant.

use rvdb_engine::{
    Filter, Fusion, OrderBy, PayloadSelector, PointId, Prefetch, QueryKind, RecommendStrategy,
    UniversalQuery, VectorInput, VectorSelector, DEFAULT_VECTOR,
};
use serde_json::{Map, Value};

use crate::ApiError;

pub(crate) type Obj = Map<String, Value>;

pub(crate) fn bad(at: &str, msg: impl std::fmt::Display) -> ApiError {
    if at.is_empty() {
        ApiError::bad_request(format!("Wrong input: {msg}"))
    } else {
        ApiError::bad_request(format!("Wrong input: {at}: {msg}"))
    }
}

/// 422, Qdrant's answer to a body that parses but breaks a rule (e.g. `limit: 0`).
pub(crate) fn invalid(at: &str, msg: impl std::fmt::Display) -> ApiError {
    ApiError {
        status: axum::http::StatusCode::UNPROCESSABLE_ENTITY,
        message: format!("Validation error in JSON body: [{at}: {msg}]"),
    }
}

/// `m[key]` parsed as `T` (`None` when missing or null); a mismatch names its JSON path
/// (`hnsw_config.m: invalid value: integer `-1`, expected usize`).
pub(crate) fn typed<T: serde::de::DeserializeOwned>(
    m: &Obj,
    key: &str,
    at: &str,
) -> Result<Option<T>, ApiError> {
    let Some(v) = field(m, key) else {
        return Ok(None);
    };
    serde_path_to_error::deserialize(v).map(Some).map_err(|e| {
        let inner = e.path().to_string();
        let at = join(at, key);
        let at = if inner == "." {
            at
        } else {
            format!("{at}.{inner}")
        };
        bad(&at, e.into_inner())
    })
}

pub(crate) fn object(v: Value, at: &str) -> Result<Obj, ApiError> {
    match v {
        Value::Object(m) => Ok(m),
        _ => Err(bad(at, "expected a JSON object")),
    }
}

/// A field, `None` when missing or null.
pub(crate) fn field<'a>(m: &'a Obj, key: &str) -> Option<&'a Value> {
    m.get(key).filter(|v| !v.is_null())
}

pub(crate) fn usize_field(m: &Obj, key: &str, at: &str) -> Result<Option<usize>, ApiError> {
    field(m, key)
        .map(|v| {
            v.as_u64()
                .map(|n| n as usize)
                .ok_or_else(|| bad(&join(at, key), "must be a non-negative integer"))
        })
        .transpose()
}

pub(crate) fn f32_field(m: &Obj, key: &str, at: &str) -> Result<Option<f32>, ApiError> {
    field(m, key)
        .map(|v| {
            v.as_f64()
                .map(|x| x as f32)
                .filter(|x| x.is_finite())
                .ok_or_else(|| bad(&join(at, key), "must be a finite number"))
        })
        .transpose()
}

pub(crate) fn str_field<'a>(m: &'a Obj, key: &str, at: &str) -> Result<Option<&'a str>, ApiError> {
    field(m, key)
        .map(|v| {
            v.as_str()
                .ok_or_else(|| bad(&join(at, key), "must be a string"))
        })
        .transpose()
}

pub(crate) fn join(at: &str, key: &str) -> String {
    if at.is_empty() {
        key.to_string()
    } else {
        format!("{at}.{key}")
    }
}

/// `limit` (default `default`, at least 1).
pub(crate) fn limit_field(m: &Obj, key: &str, at: &str, default: usize) -> Result<usize, ApiError> {
    match usize_field(m, key, at)? {
        Some(0) => Err(invalid(
            &join(at, key),
            "value 0 invalid, must be 1 or larger",
        )),
        Some(n) => Ok(n),
        None => Ok(default),
    }
}

pub(crate) fn point_id(v: &Value, at: &str) -> Result<PointId, ApiError> {
    PointId::from_json(v).map_err(|e| bad(at, e))
}

pub(crate) fn dense(v: &Value, at: &str) -> Result<Vec<f32>, ApiError> {
    let Value::Array(items) = v else {
        return Err(bad(at, "expected an array of numbers"));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, x)| match x {
            Value::Number(n) => Ok(n.as_f64().unwrap_or(f64::NAN) as f32),
            Value::Array(_) => Err(bad(at, "multi-vectors are not supported")),
            _ => Err(bad(&format!("{at}[{i}]"), "expected a number")),
        })
        .collect()
}

/// A search vector: a list, or the legacy `{"name": …, "vector": […]}`; returns (using, vector).
pub(crate) fn named_vector(v: &Value, at: &str) -> Result<(String, Vec<f32>), ApiError> {
    match v {
        Value::Array(_) => Ok((DEFAULT_VECTOR.to_string(), dense(v, at)?)),
        Value::Object(m) if m.contains_key("vector") => {
            let name = str_field(m, "name", at)?
                .unwrap_or(DEFAULT_VECTOR)
                .to_string();
            Ok((name, dense(&m["vector"], &join(at, "vector"))?))
        }
        _ => Err(bad(
            at,
            "expected an array of numbers or {\"name\": …, \"vector\": […]}",
        )),
    }
}

pub(crate) fn filter(v: Option<&Value>, at: &str) -> Result<Option<Filter>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => Filter::from_qdrant_at(v, at)
            .map(Some)
            .map_err(|e| bad("", e)),
    }
}

/// `with_payload`: bool, a list of keys, `{"include": […]}` or `{"exclude": […]}`.
pub(crate) fn with_payload(
    v: Option<&Value>,
    default: bool,
    at: &str,
) -> Result<PayloadSelector, ApiError> {
    let strings = |v: &Value, at: &str| -> Result<Vec<String>, ApiError> {
        let Value::Array(items) = v else {
            return Err(bad(at, "expected an array of keys"));
        };
        items
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| bad(at, "keys must be strings"))
            })
            .collect()
    };
    Ok(match v {
        None | Some(Value::Null) => {
            if default {
                PayloadSelector::All
            } else {
                PayloadSelector::None
            }
        }
        Some(Value::Bool(true)) => PayloadSelector::All,
        Some(Value::Bool(false)) => PayloadSelector::None,
        Some(Value::Array(_)) => PayloadSelector::Include(strings(v.unwrap(), at)?),
        Some(Value::Object(m)) => match (field(m, "include"), field(m, "exclude")) {
            (Some(inc), None) => PayloadSelector::Include(strings(inc, &join(at, "include"))?),
            (None, Some(exc)) => PayloadSelector::Exclude(strings(exc, &join(at, "exclude"))?),
            _ => return Err(bad(at, "expected {\"include\": […]} or {\"exclude\": […]}")),
        },
        Some(_) => return Err(bad(at, "expected a boolean, a list of keys or a selector")),
    })
}

/// `with_vector(s)`: bool or a list of vector names.
pub(crate) fn with_vector(v: Option<&Value>, at: &str) -> Result<VectorSelector, ApiError> {
    Ok(match v {
        None | Some(Value::Null) | Some(Value::Bool(false)) => VectorSelector::None,
        Some(Value::Bool(true)) => VectorSelector::All,
        Some(Value::Array(items)) => VectorSelector::Names(
            items
                .iter()
                .map(|x| {
                    x.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| bad(at, "vector names must be strings"))
                })
                .collect::<Result<_, _>>()?,
        ),
        Some(_) => return Err(bad(at, "expected a boolean or a list of vector names")),
    })
}

fn vector_input(v: &Value, at: &str) -> Result<VectorInput, ApiError> {
    match v {
        Value::Number(_) | Value::String(_) => Ok(VectorInput::Id(point_id(v, at)?)),
        Value::Array(_) => Ok(VectorInput::Vector(dense(v, at)?)),
        Value::Object(m) if m.contains_key("indices") => {
            Err(bad(at, "sparse vectors are not supported"))
        }
        Value::Object(_) => Err(bad(
            at,
            "inference objects (documents, images) are not supported; send vectors",
        )),
        _ => Err(bad(at, "expected a vector or a point id")),
    }
}

fn vector_inputs(v: Option<&Value>, at: &str) -> Result<Vec<VectorInput>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, x)| vector_input(x, &format!("{at}[{i}]")))
            .collect(),
        Some(_) => Err(bad(at, "expected an array of vectors or point ids")),
    }
}

pub(crate) fn strategy(v: Option<&Value>, at: &str) -> Result<RecommendStrategy, ApiError> {
    match v.and_then(Value::as_str) {
        None if v.is_none_or(Value::is_null) => Ok(RecommendStrategy::AverageVector),
        Some("average_vector") => Ok(RecommendStrategy::AverageVector),
        Some("best_score") => Ok(RecommendStrategy::BestScore),
        Some("sum_scores") => Ok(RecommendStrategy::SumScores),
        _ => Err(bad(at, "expected average_vector, best_score or sum_scores")),
    }
}

pub(crate) fn order_by(v: &Value, at: &str) -> Result<OrderBy, ApiError> {
    match v {
        Value::String(key) => Ok(OrderBy {
            key: key.clone(),
            descending: false,
            start_from: None,
        }),
        Value::Object(m) => {
            let key = str_field(m, "key", at)?
                .ok_or_else(|| bad(at, "missing `key`"))?
                .to_string();
            let descending = match str_field(m, "direction", at)? {
                None | Some("asc") => false,
                Some("desc") => true,
                Some(_) => return Err(bad(&join(at, "direction"), "expected asc or desc")),
            };
            let start_from = match field(m, "start_from") {
                None => None,
                Some(Value::Number(n)) => n.as_f64(),
                Some(Value::String(s)) => {
                    Some(rvdb_engine::parse_datetime_micros(s).ok_or_else(|| {
                        bad(&join(at, "start_from"), "expected a number or a datetime")
                    })? as f64)
                }
                Some(_) => {
                    return Err(bad(
                        &join(at, "start_from"),
                        "expected a number or a datetime",
                    ))
                }
            };
            Ok(OrderBy {
                key,
                descending,
                start_from,
            })
        }
        _ => Err(bad(
            at,
            "expected a key or {\"key\", \"direction\", \"start_from\"}",
        )),
    }
}

/// The `query` of /points/query (and of a prefetch).
pub(crate) fn query_kind(v: &Value, at: &str) -> Result<QueryKind, ApiError> {
    let m = match v {
        Value::Object(m) => m,
        _ => return Ok(QueryKind::Nearest(vector_input(v, at)?)),
    };
    if let Some(n) = field(m, "nearest") {
        if field(m, "mmr").is_some() {
            return Err(bad(
                &join(at, "mmr"),
                "maximal marginal relevance is not supported",
            ));
        }
        return Ok(QueryKind::Nearest(vector_input(n, &join(at, "nearest"))?));
    }
    if let Some(r) = field(m, "recommend") {
        let rat = join(at, "recommend");
        let Value::Object(r) = r else {
            return Err(bad(&rat, "expected an object"));
        };
        return Ok(QueryKind::Recommend {
            positive: vector_inputs(field(r, "positive"), &join(&rat, "positive"))?,
            negative: vector_inputs(field(r, "negative"), &join(&rat, "negative"))?,
            strategy: strategy(field(r, "strategy"), &join(&rat, "strategy"))?,
        });
    }
    if let Some(f) = field(m, "fusion") {
        return match f.as_str() {
            Some("rrf") => Ok(QueryKind::Fusion(Fusion::Rrf {
                k: 2,
                weights: None,
            })),
            Some("dbsf") => Ok(QueryKind::Fusion(Fusion::Dbsf)),
            _ => Err(bad(&join(at, "fusion"), "expected rrf or dbsf")),
        };
    }
    if let Some(r) = field(m, "rrf") {
        let rat = join(at, "rrf");
        let Value::Object(r) = r else {
            return Err(bad(&rat, "expected an object"));
        };
        let k = usize_field(r, "k", &rat)?.unwrap_or(2);
        let weights = match field(r, "weights") {
            None => None,
            Some(Value::Array(ws)) => Some(
                ws.iter()
                    .map(|w| {
                        w.as_f64()
                            .map(|x| x as f32)
                            .ok_or_else(|| bad(&join(&rat, "weights"), "expected numbers"))
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            Some(_) => return Err(bad(&join(&rat, "weights"), "expected an array of numbers")),
        };
        return Ok(QueryKind::Fusion(Fusion::Rrf { k, weights }));
    }
    if let Some(o) = field(m, "order_by") {
        return Ok(QueryKind::OrderBy(order_by(o, &join(at, "order_by"))?));
    }
    for unsupported in [
        "discover",
        "context",
        "sample",
        "formula",
        "relevance_feedback",
    ] {
        if m.contains_key(unsupported) {
            return Err(bad(
                &join(at, unsupported),
                "this query kind is not supported yet",
            ));
        }
    }
    Err(bad(
        at,
        "expected a vector, a point id, or {nearest|recommend|fusion|rrf|order_by: …}",
    ))
}

/// `params`: `{"hnsw_ef": n, "exact": bool, …}` (other keys, e.g. quantization, are accepted).
pub(crate) fn params(m: &Obj, at: &str) -> Result<rvdb_engine::QueryParams, ApiError> {
    match field(m, "params") {
        None => Ok(rvdb_engine::QueryParams::default()),
        Some(Value::Object(p)) => {
            let pat = join(at, "params");
            Ok(rvdb_engine::QueryParams {
                hnsw_ef: usize_field(p, "hnsw_ef", &pat)?,
                exact: match field(p, "exact") {
                    None => false,
                    Some(Value::Bool(b)) => *b,
                    Some(_) => return Err(bad(&join(&pat, "exact"), "must be a boolean")),
                },
            })
        }
        Some(_) => Err(bad(&join(at, "params"), "expected an object")),
    }
}

fn lookup_name(m: &Obj, at: &str) -> Result<Option<(String, Option<String>)>, ApiError> {
    match field(m, "lookup_from") {
        None => Ok(None),
        Some(Value::Object(l)) => {
            let lat = join(at, "lookup_from");
            let c = str_field(l, "collection", &lat)?
                .ok_or_else(|| bad(&lat, "missing `collection`"))?;
            Ok(Some((
                c.to_string(),
                str_field(l, "vector", &lat)?.map(str::to_string),
            )))
        }
        Some(_) => Err(bad(
            &join(at, "lookup_from"),
            "expected {\"collection\", \"vector\"}",
        )),
    }
}

fn prefetch(
    v: &Value,
    at: &str,
    lookups: &mut Vec<(String, Option<String>)>,
) -> Result<Prefetch, ApiError> {
    let Value::Object(m) = v else {
        return Err(bad(at, "expected a prefetch object"));
    };
    if let Some(l) = lookup_name(m, at)? {
        lookups.push(l);
    }
    Ok(Prefetch {
        prefetch: prefetches(field(m, "prefetch"), &join(at, "prefetch"), lookups)?,
        query: field(m, "query")
            .map(|q| query_kind(q, &join(at, "query")))
            .transpose()?,
        using: str_field(m, "using", at)?.map(str::to_string),
        filter: filter(field(m, "filter"), &join(at, "filter"))?,
        limit: match usize_field(m, "limit", at)? {
            Some(0) => {
                return Err(invalid(
                    &join(at, "limit"),
                    "value 0 invalid, must be 1 or larger",
                ))
            }
            l => l,
        },
        score_threshold: f32_field(m, "score_threshold", at)?,
        params: params(m, at)?,
    })
}

fn prefetches(
    v: Option<&Value>,
    at: &str,
    lookups: &mut Vec<(String, Option<String>)>,
) -> Result<Vec<Prefetch>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, p)| prefetch(p, &format!("{at}[{i}]"), lookups))
            .collect(),
        Some(p) => Ok(vec![prefetch(p, at, lookups)?]),
    }
}

/// A parsed /points/query body, with the `lookup_from` collection (if any).
pub(crate) struct QueryRequest {
    pub query: UniversalQuery,
    pub lookup: Option<(String, Option<String>)>,
}

pub(crate) fn query_request(m: &Obj, at: &str) -> Result<QueryRequest, ApiError> {
    let mut lookups = Vec::new();
    let prefetch = prefetches(field(m, "prefetch"), &join(at, "prefetch"), &mut lookups)?;
    let lookup = lookup_name(m, at)?;
    if lookups.iter().any(|l| Some(l) != lookup.as_ref()) {
        return Err(bad(
            &join(at, "prefetch"),
            "lookup_from inside prefetches must match the query's lookup_from",
        ));
    }
    let offset = usize_field(m, "offset", at)?.unwrap_or(0);
    Ok(QueryRequest {
        query: UniversalQuery {
            prefetch,
            query: field(m, "query")
                .map(|q| query_kind(q, &join(at, "query")))
                .transpose()?,
            using: str_field(m, "using", at)?.map(str::to_string),
            filter: filter(field(m, "filter"), &join(at, "filter"))?,
            limit: limit_field(m, "limit", at, 10)?,
            offset,
            score_threshold: f32_field(m, "score_threshold", at)?,
            with_payload: with_payload(field(m, "with_payload"), false, &join(at, "with_payload"))?,
            with_vector: with_vector(
                field(m, "with_vector").or(field(m, "with_vectors")),
                &join(at, "with_vector"),
            )?,
            params: params(m, at)?,
        },
        lookup,
    })
}
