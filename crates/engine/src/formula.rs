//! Score formulas (Qdrant's `formula` query): an expression over the prefetches' scores
//! (`$score[i]`), payload values, conditions, datetimes and geo distances, evaluated for each
//! prefetched point in f64, with the semantics of qdrant-client's local mode
//! (`qdrant_client/hybrid/formula.py`): `mult` stops at a zero factor, `div` at a zero
//! numerator, a zero divisor takes `by_zero_default` or fails, and every operation whose
//! result is not a finite number fails the query naming the operation.
//!
//! A payload variable (and `datetime_key`, `geo_distance.to`) takes the values its path
//! selects (arrays flattened); none: the formula's `defaults` under the key as written; a single
//! value is used as it is. A `$score[i]` that the point lacks (it was not in prefetch `i`) is
//! `defaults["$score[i]"]`, else 0.

use std::collections::HashMap;

use serde_json::Value;

use rvdb_filter::{Filter, GeoPoint, JsonPath, Payload, PointId};

use crate::{EngineError, Result};

/// A formula and the defaults of its variables.
#[derive(Debug, Clone, PartialEq)]
pub struct FormulaQuery {
    pub formula: Expression,
    /// Keys as written in the formula; `$score` and `$score[0]` name the same default.
    pub defaults: HashMap<String, Value>,
}

/// Decay functions of `x` around `target` (Qdrant's `lin_decay`, `exp_decay`, `gauss_decay`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decay {
    Lin,
    Exp,
    Gauss,
}

/// A formula expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expression {
    Constant(f64),
    /// `$score[i]`: the point's score in prefetch `i`.
    Score(usize),
    /// A number from the payload, by its path as written.
    Payload(PayloadKey),
    /// 1 when the condition (a filter of one `must` condition) holds, else 0.
    Condition(Box<Filter>),
    /// Meters from `origin` to the geo point at `to`.
    GeoDistance {
        origin: GeoPoint,
        to: PayloadKey,
    },
    /// A datetime constant, as seconds since 1970.
    Datetime(f64),
    /// The datetime at a payload key, as seconds since 1970.
    DatetimeKey(PayloadKey),
    Mult(Vec<Expression>),
    Sum(Vec<Expression>),
    Max(Vec<Expression>),
    Min(Vec<Expression>),
    Neg(Box<Expression>),
    Abs(Box<Expression>),
    Sqrt(Box<Expression>),
    Exp(Box<Expression>),
    Log10(Box<Expression>),
    Ln(Box<Expression>),
    Acosh(Box<Expression>),
    Div {
        left: Box<Expression>,
        right: Box<Expression>,
        by_zero_default: Option<f64>,
    },
    Pow {
        base: Box<Expression>,
        exponent: Box<Expression>,
    },
    Decay {
        kind: Decay,
        x: Box<Expression>,
        /// Default 0.
        target: Option<Box<Expression>>,
        /// Default 0.5: the value at `scale` from the target.
        midpoint: f64,
        /// Default 1.
        scale: f64,
    },
}

/// A payload path and the key it was written as (which the defaults use).
#[derive(Debug, Clone, PartialEq)]
pub struct PayloadKey {
    pub raw: String,
    pub path: JsonPath,
}

impl PayloadKey {
    /// A checked payload path.
    pub fn parse(raw: &str) -> Result<PayloadKey> {
        let path = JsonPath::parse(raw).map_err(|e| EngineError::bad(format!("{raw}: {e}")))?;
        Ok(PayloadKey {
            raw: raw.to_string(),
            path,
        })
    }
}

/// What a variable name means: `$score`, `$score[i]`, or a payload path.
pub enum Variable {
    Score(usize),
    Payload(PayloadKey),
}

impl Variable {
    /// Parses a variable as local mode does: `$score` is `$score[0]`; anything else starting
    /// with `$score` must be `$score[<digits>]`.
    pub fn parse(var: &str) -> Result<Variable> {
        let Some(rest) = var.strip_prefix("$score") else {
            return PayloadKey::parse(var).map(Variable::Payload);
        };
        if rest.is_empty() {
            return Ok(Variable::Score(0));
        }
        let invalid = || EngineError::bad(format!("Invalid score pattern: {var}"));
        let digits = rest
            .strip_prefix('[')
            .and_then(|r| r.strip_suffix(']'))
            .ok_or_else(invalid)?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid());
        }
        digits.parse().map(Variable::Score).map_err(|_| invalid())
    }
}

impl FormulaQuery {
    /// A formula with its defaults, whose keys are read like variables.
    pub fn new(formula: Expression, defaults: serde_json::Map<String, Value>) -> Result<Self> {
        let mut parsed = HashMap::new();
        for (key, value) in defaults {
            let key = match Variable::parse(&key)? {
                Variable::Score(i) => score_key(i),
                Variable::Payload(_) => key,
            };
            parsed.insert(key, value);
        }
        Ok(FormulaQuery {
            formula,
            defaults: parsed,
        })
    }
}

/// Checks decay parameters as Qdrant does when parsing.
pub fn check_decay(kind: Decay, midpoint: f64, scale: f64) -> Result<()> {
    if kind == Decay::Lin {
        if !(0.0..=1.0).contains(&midpoint) {
            return Err(EngineError::bad(format!(
                "Linear decay midpoint should be in the range [0.0, 1.0], got {midpoint}"
            )));
        }
    } else if midpoint <= 0.0 || midpoint >= 1.0 || midpoint.is_nan() {
        return Err(EngineError::bad(format!(
            "Decay midpoint should be in the range (0.0, 1.0), got {midpoint}"
        )));
    }
    if scale.is_nan() || scale <= 0.0 {
        return Err(EngineError::bad(format!(
            "Scale must be non-zero positive, got {scale}"
        )));
    }
    Ok(())
}

fn score_key(i: usize) -> String {
    format!("$score[{i}]")
}

/// One point as a formula sees it.
pub(crate) struct Point<'a> {
    pub id: PointId,
    pub payload: &'a Payload,
    pub has_vector: &'a dyn Fn(&str) -> bool,
    /// Each prefetch's scores by id.
    pub scores: &'a [HashMap<PointId, f32>],
}

fn non_finite(what: String) -> EngineError {
    EngineError::bad(format!(
        "The expression {what} produced a non-finite number"
    ))
}

impl FormulaQuery {
    /// The point's score as f64 (the caller makes it an f32 and refuses a non-finite one).
    pub(crate) fn eval(&self, e: &Expression, p: &Point) -> Result<f64> {
        let one = |e: &Expression| self.eval(e, p);
        Ok(match e {
            Expression::Constant(c) => *c,
            Expression::Score(i) => match p.scores.get(*i).and_then(|s| s.get(&p.id)) {
                Some(s) => f64::from(*s),
                None => match self.defaults.get(&score_key(*i)) {
                    None | Some(Value::Null) => 0.0,
                    Some(v) => v.as_f64().ok_or_else(|| {
                        EngineError::bad(format!("the default of $score[{i}] is not a number"))
                    })?,
                },
            },
            Expression::Payload(key) => match self.value(key, p.payload)? {
                Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
                _ => {
                    return Err(EngineError::bad(format!(
                        "Expected number value for {} in the payload and/or in the formula defaults. Error: Value is not a number",
                        key.raw
                    )))
                }
            },
            Expression::Condition(f) => {
                if f.check(p.id, p.payload, p.has_vector) {
                    1.0
                } else {
                    0.0
                }
            }
            Expression::GeoDistance { origin, to } => {
                let v = self.value(to, p.payload)?;
                match rvdb_filter::geo_point(&v) {
                    Some(dest) => rvdb_filter::geo_distance(*origin, dest),
                    None => {
                        return Err(EngineError::bad(format!(
                            "Expected geo point for {} in the payload and/or in the formula defaults.",
                            to.raw
                        )))
                    }
                }
            }
            Expression::Datetime(t) => *t,
            Expression::DatetimeKey(key) => {
                let v = self.value(key, p.payload)?;
                match v.as_str().and_then(rvdb_filter::parse_datetime) {
                    Some(us) => us as f64 / 1e6,
                    None => {
                        return Err(EngineError::bad(format!(
                            "Expected datetime for {} in the payload and/or in the formula defaults.",
                            key.raw
                        )))
                    }
                }
            }
            Expression::Mult(factors) => {
                let mut product = 1.0;
                for f in factors {
                    let x = one(f)?;
                    if x == 0.0 {
                        return Ok(x);
                    }
                    product *= x;
                }
                product
            }
            Expression::Sum(terms) => {
                let mut sum = 0.0;
                for t in terms {
                    sum += one(t)?;
                }
                sum
            }
            Expression::Max(xs) => {
                let mut m = f64::NEG_INFINITY;
                for x in xs {
                    m = m.max(one(x)?);
                }
                m
            }
            Expression::Min(xs) => {
                let mut m = f64::INFINITY;
                for x in xs {
                    m = m.min(one(x)?);
                }
                m
            }
            Expression::Neg(x) => -one(x)?,
            Expression::Abs(x) => one(x)?.abs(),
            Expression::Sqrt(x) => {
                let v = one(x)?;
                if v >= 0.0 {
                    v.sqrt()
                } else {
                    return Err(non_finite(format!("√{}", py(v))));
                }
            }
            Expression::Exp(x) => {
                let v = one(x)?;
                let r = v.exp();
                if r.is_infinite() && v.is_finite() {
                    return Err(non_finite(format!("exp({})", py(v))));
                }
                r
            }
            Expression::Log10(x) => {
                let v = one(x)?;
                if v > 0.0 && v.is_finite() {
                    v.log10()
                } else if v > 0.0 {
                    v
                } else {
                    return Err(non_finite(format!("log10({})", py(v))));
                }
            }
            Expression::Ln(x) => {
                let v = one(x)?;
                if v > 0.0 && v.is_finite() {
                    v.ln()
                } else if v > 0.0 {
                    v
                } else {
                    return Err(non_finite(format!("ln({})", py(v))));
                }
            }
            Expression::Acosh(x) => {
                let v = one(x)?;
                let r = v.acosh();
                if v >= 1.0 && r.is_finite() {
                    r
                } else {
                    return Err(non_finite(format!("acosh({})", py(v))));
                }
            }
            Expression::Div {
                left,
                right,
                by_zero_default,
            } => {
                let l = one(left)?;
                if l == 0.0 {
                    return Ok(l);
                }
                let r = one(right)?;
                if r == 0.0 {
                    return by_zero_default
                        .ok_or_else(|| non_finite(format!("{}/{}", py(l), py(r))));
                }
                let q = l / r;
                if !q.is_finite() {
                    return Err(non_finite(format!("{}/{}", py(l), py(r))));
                }
                q
            }
            Expression::Pow { base, exponent } => {
                let (b, x) = (one(base)?, one(exponent)?);
                let r = b.powf(x);
                if !r.is_finite() {
                    return Err(non_finite(format!("{}^{}", py(b), py(x))));
                }
                r
            }
            Expression::Decay {
                kind,
                x,
                target,
                midpoint,
                scale,
            } => {
                let x = one(x)?;
                let target = match target {
                    Some(t) => one(t)?,
                    None => 0.0,
                };
                match kind {
                    Decay::Lin => {
                        let lambda = (1.0 - midpoint) / scale;
                        (-lambda * (x - target).abs() + 1.0).max(0.0)
                    }
                    Decay::Exp => (midpoint.ln() / scale * (x - target).abs()).exp(),
                    Decay::Gauss => {
                        let d = x - target;
                        (midpoint.ln() / (scale * scale) * d * d).exp()
                    }
                }
            }
        })
    }

    /// The single value at a key (arrays flattened), or the default under the key as written.
    fn value(&self, key: &PayloadKey, payload: &Payload) -> Result<Value> {
        let found = key.path.values(payload, true);
        let v = if found.is_empty() {
            match self.defaults.get(&key.raw) {
                None | Some(Value::Null) => None,
                Some(Value::Array(a)) if a.is_empty() => None,
                Some(Value::Array(a)) if a.len() == 1 => Some(a[0].clone()),
                Some(v) => Some(v.clone()),
            }
        } else if found.len() == 1 {
            Some(found[0].clone())
        } else {
            Some(Value::Array(found.into_iter().cloned().collect()))
        };
        v.ok_or_else(|| {
            EngineError::bad(format!(
                "No value found for {} in the payload nor the formula defaults",
                key.raw
            ))
        })
    }
}

/// A number as Python prints a float in local mode's messages.
fn py(x: f64) -> String {
    if x.is_nan() {
        "nan".into()
    } else if x.is_infinite() {
        if x > 0.0 { "inf" } else { "-inf" }.into()
    } else if x.fract() == 0.0 && x.abs() < 1e16 {
        format!("{x:.1}")
    } else {
        format!("{x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn payload(v: Value) -> Payload {
        v.as_object().unwrap().clone()
    }

    fn c(x: f64) -> Box<Expression> {
        Box::new(Expression::Constant(x))
    }

    fn var(s: &str) -> Expression {
        match Variable::parse(s).unwrap() {
            Variable::Score(i) => Expression::Score(i),
            Variable::Payload(k) => Expression::Payload(k),
        }
    }

    /// Evaluates `e` for point 1 (payload `p`, vector "a" only), which scored 0.5 in prefetch 0
    /// and 2 in prefetch 1.
    fn eval_with(e: Expression, p: Value, defaults: Value) -> Result<f64> {
        let q = FormulaQuery::new(e, defaults.as_object().unwrap().clone())?;
        let scores = vec![
            HashMap::from([(PointId::Num(1), 0.5f32)]),
            HashMap::from([(PointId::Num(1), 2.0f32), (PointId::Num(2), 3.0f32)]),
        ];
        let pl = payload(p);
        let point = Point {
            id: PointId::Num(1),
            payload: &pl,
            has_vector: &|n| n == "a",
            scores: &scores,
        };
        q.eval(&q.formula, &point)
    }

    fn eval(e: Expression) -> Result<f64> {
        eval_with(
            e,
            json!({"n": 4, "arr": [3], "many": [1, 2], "s": "x",
            "when": "2024-01-02T00:00:00Z", "geo": {"lat": 52.52, "lon": 13.405}}),
            json!({}),
        )
    }

    fn err(e: Expression) -> String {
        eval(e).unwrap_err().to_string()
    }

    #[test]
    fn constants_and_score_variables() {
        assert_eq!(eval(Expression::Constant(1.5)).unwrap(), 1.5);
        assert_eq!(eval(var("$score")).unwrap(), 0.5);
        assert_eq!(eval(var("$score[0]")).unwrap(), 0.5);
        assert_eq!(eval(var("$score[1]")).unwrap(), 2.0);
        // a prefetch the point was not in, or that does not exist: the default, else 0
        assert_eq!(eval(var("$score[5]")).unwrap(), 0.0);
        let d = eval_with(var("$score[5]"), json!({}), json!({"$score[5]": 7.0})).unwrap();
        assert_eq!(d, 7.0);
        // `$score` and `$score[0]` share a default
        let q = FormulaQuery::new(
            var("$score"),
            json!({"$score": 1}).as_object().unwrap().clone(),
        )
        .unwrap();
        assert!(q.defaults.contains_key("$score[0]"));
        for bad in [
            "$score[",
            "$score[]",
            "$score[-1]",
            "$score[1]x",
            "$scores",
            "$score[ 1]",
        ] {
            assert!(Variable::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn payload_variables_and_defaults() {
        assert_eq!(eval(var("n")).unwrap(), 4.0);
        // a one-element array is its element; several values are not a number
        assert_eq!(eval(var("arr")).unwrap(), 3.0);
        assert!(err(var("many")).contains("Expected number value for many"));
        assert!(err(var("s")).contains("Expected number value for s"));
        assert!(err(var("missing")).contains("No value found for missing"));
        let d = eval_with(var("missing"), json!({}), json!({"missing": 2.5})).unwrap();
        assert_eq!(d, 2.5);
        let d = eval_with(var("missing"), json!({}), json!({"missing": [6]})).unwrap();
        assert_eq!(d, 6.0);
        // the payload wins over the default
        assert_eq!(
            eval_with(var("n"), json!({"n": 1}), json!({"n": 9})).unwrap(),
            1.0
        );
    }

    #[test]
    fn arithmetic() {
        use Expression as E;
        let e = E::Sum(vec![var("n"), E::Constant(1.0), var("$score")]);
        assert_eq!(eval(e).unwrap(), 5.5);
        assert_eq!(
            eval(E::Mult(vec![var("n"), E::Constant(0.5)])).unwrap(),
            2.0
        );
        // a zero factor ends the product: later factors are not evaluated
        assert_eq!(
            eval(E::Mult(vec![E::Constant(0.0), var("missing")])).unwrap(),
            0.0
        );
        assert_eq!(eval(E::Neg(c(2.0))).unwrap(), -2.0);
        assert_eq!(eval(E::Abs(c(-2.0))).unwrap(), 2.0);
        assert_eq!(eval(E::Max(vec![E::Constant(1.0), var("n")])).unwrap(), 4.0);
        assert_eq!(eval(E::Min(vec![E::Constant(1.0), var("n")])).unwrap(), 1.0);
    }

    #[test]
    fn division() {
        use Expression as E;
        let div = |l, r, d| E::Div {
            left: c(l),
            right: c(r),
            by_zero_default: d,
        };
        assert_eq!(eval(div(1.0, 4.0, None)).unwrap(), 0.25);
        assert_eq!(eval(div(0.0, 0.0, None)).unwrap(), 0.0);
        assert_eq!(eval(div(1.0, 0.0, Some(9.0))).unwrap(), 9.0);
        assert!(err(div(1.0, 0.0, None)).contains("1.0/0.0"));
        assert!(err(div(1e308, 1e-308, None)).contains("non-finite"));
    }

    #[test]
    fn powers_roots_exponentials_and_logarithms() {
        use Expression as E;
        assert_eq!(eval(E::Sqrt(c(9.0))).unwrap(), 3.0);
        assert!(err(E::Sqrt(c(-1.0))).contains("√-1.0"));
        let pow = |b, x| E::Pow {
            base: c(b),
            exponent: c(x),
        };
        assert_eq!(eval(pow(2.0, 10.0)).unwrap(), 1024.0);
        assert!(err(pow(-8.0, 0.5)).contains("-8.0^0.5"));
        assert!(err(pow(0.0, -1.0)).contains("non-finite"));
        assert!(err(pow(10.0, 400.0)).contains("non-finite"));
        assert_eq!(eval(E::Exp(c(0.0))).unwrap(), 1.0);
        assert!(err(E::Exp(c(1000.0))).contains("exp(1000.0)"));
        assert_eq!(eval(E::Log10(c(1000.0))).unwrap(), 3.0);
        assert!(err(E::Log10(c(0.0))).contains("log10(0.0)"));
        assert_eq!(eval(E::Ln(c(1.0))).unwrap(), 0.0);
        assert!(err(E::Ln(c(-1.0))).contains("ln(-1.0)"));
        assert_eq!(eval(E::Acosh(c(1.0))).unwrap(), 0.0);
        assert!(err(E::Acosh(c(0.5))).contains("acosh(0.5)"));
    }

    #[test]
    fn conditions_are_one_or_zero() {
        let cond = |json: Value| {
            let f = Filter::from_qdrant(&json!({"must": [json]})).unwrap();
            Expression::Condition(Box::new(f))
        };
        assert_eq!(
            eval(cond(json!({"key": "n", "match": {"value": 4}}))).unwrap(),
            1.0
        );
        assert_eq!(
            eval(cond(json!({"key": "n", "range": {"gt": 4}}))).unwrap(),
            0.0
        );
        assert_eq!(eval(cond(json!({"has_id": [1]}))).unwrap(), 1.0);
        assert_eq!(eval(cond(json!({"has_vector": "a"}))).unwrap(), 1.0);
        assert_eq!(eval(cond(json!({"has_vector": "b"}))).unwrap(), 0.0);
    }

    #[test]
    fn datetimes_are_seconds_since_1970() {
        let key = PayloadKey::parse("when").unwrap();
        assert_eq!(eval(Expression::DatetimeKey(key)).unwrap(), 1_704_153_600.0);
        let key = PayloadKey::parse("s").unwrap();
        assert!(err(Expression::DatetimeKey(key)).contains("Expected datetime for s"));
    }

    #[test]
    fn geo_distance_in_meters() {
        let e = Expression::GeoDistance {
            origin: GeoPoint {
                lat: 52.52,
                lon: 13.405,
            },
            to: PayloadKey::parse("geo").unwrap(),
        };
        assert!(eval(e).unwrap().abs() < 1e-6);
        let e = Expression::GeoDistance {
            origin: GeoPoint { lat: 0.0, lon: 0.0 },
            to: PayloadKey::parse("n").unwrap(),
        };
        assert!(err(e).contains("Expected geo point for n"));
    }

    #[test]
    fn decays() {
        let decay = |kind, x: f64, target: Option<f64>, midpoint, scale| Expression::Decay {
            kind,
            x: c(x),
            target: target.map(c),
            midpoint,
            scale,
        };
        // at `scale` from the target each decay is `midpoint`
        for kind in [Decay::Lin, Decay::Exp, Decay::Gauss] {
            let v = eval(decay(kind, 7.0, Some(5.0), 0.3, 2.0)).unwrap();
            assert!((v - 0.3).abs() < 1e-12, "{kind:?}: {v}");
            assert_eq!(eval(decay(kind, 5.0, Some(5.0), 0.3, 2.0)).unwrap(), 1.0);
        }
        // linear decay stops at 0; the target defaults to 0
        assert_eq!(eval(decay(Decay::Lin, 10.0, None, 0.5, 1.0)).unwrap(), 0.0);
        let v = eval(decay(Decay::Exp, 1.0, None, 0.5, 1.0)).unwrap();
        assert!((v - 0.5).abs() < 1e-12);
        assert!(check_decay(Decay::Lin, 1.0, 1.0).is_ok());
        assert!(check_decay(Decay::Exp, 1.0, 1.0).is_err());
        assert!(check_decay(Decay::Gauss, 0.5, 0.0).is_err());
    }
}
