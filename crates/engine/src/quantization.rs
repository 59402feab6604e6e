//! Quantization of a vector space (Qdrant's `quantization_config`, per collection and per
//! vector) and the per-search `params.quantization`.
//!
//! A configured space keeps, beside each indexed segment's HNSW graph (whose blocks hold the
//! original vectors), a second copy of the graph's links with each node's vector replaced by
//! its code ([`QuantizedHnsw`]: int8, sign bits or product codes). A search walks the codes and
//! rescores the best `oversampling × limit` candidates from the originals. The codes are derived
//! data: the optimizer builds them for every indexed segment whose space asks for them (and
//! again when the configuration changes), so a search before that, or with
//! `quantization.ignore`, walks the original graph.

use std::sync::Arc;

use rvdb_index as codes;
use rvdb_index::{BinaryQuery, Quantization, QuantizedHnsw};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::settings::Memory;
use crate::{EngineError, Result};

/// Qdrant's `quantization_config`: one of `scalar`, `product`, `binary`, `turbo`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum QuantizationConfig {
    Scalar(ScalarQuantizationConfig),
    Product(ProductQuantizationConfig),
    Binary(BinaryQuantizationConfig),
    Turbo(TurboQuantizationConfig),
}

/// `turbo` (Qdrant 1.18+): a random rotation, then `bits` per rotated coordinate from the
/// normal distribution's Lloyd–Max levels, with each vector's length kept beside its code.
/// No training: `bits4` (the default) is 8 times fewer bytes than float32, `bits2` 16,
/// `bits1_5` about 21, `bits1` 32.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TurboQuantizationConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bits: Option<TurboBitSize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub always_ram: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<Memory>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TurboBitSize {
    Bits1,
    #[serde(rename = "bits1_5")]
    Bits1_5,
    Bits2,
    Bits4,
}

/// `scalar`: int8 codes, one byte per value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScalarQuantizationConfig {
    #[serde(rename = "type")]
    pub kind: ScalarType,
    /// The central fraction of all values the byte range is fitted to (0.5 to 1); the whole
    /// range when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0.5, maximum = 1.0)]
    pub quantile: Option<f32>,
    /// Codes are always held in RAM here; accepted as Qdrant's (deprecated) placement flag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub always_ram: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<Memory>,
}

/// The one scalar type, `int8`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ScalarType {
    Int8,
}

/// `product`: one byte per sub-space, `compression` times fewer bytes than float32.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductQuantizationConfig {
    pub compression: CompressionRatio,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub always_ram: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<Memory>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CompressionRatio {
    X4,
    X8,
    X16,
    X32,
    X64,
}

impl CompressionRatio {
    fn factor(self) -> usize {
        match self {
            CompressionRatio::X4 => 4,
            CompressionRatio::X8 => 8,
            CompressionRatio::X16 => 16,
            CompressionRatio::X32 => 32,
            CompressionRatio::X64 => 64,
        }
    }
}

/// `binary`: one, one and a half or two bits per value, scored by Hamming distance (or, with
/// `query_encoding: scalar4bits | scalar8bits`, the query's 4- or 8-bit values against the
/// stored bits).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BinaryQuantizationConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub always_ram: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<Memory>,
    /// `one_bit` (the default: the sign of each value), `two_bits` (three bands of each
    /// value's z-score over the data: below −⅔σ, within ±⅔σ, above, as a thermometer code) or
    /// `one_and_half_bits` (as `two_bits`, with one "above" bit per pair of values).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding: Option<BinaryEncoding>,
    /// `default`/`binary` (the query is a code too: Hamming distance) or `scalar4bits` /
    /// `scalar8bits` (asymmetric: the query's values at 4 or 8 bits against the stored bits,
    /// a finer ranking for a little more work).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query_encoding: Option<BinaryQueryEncoding>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BinaryEncoding {
    OneBit,
    TwoBits,
    OneAndHalfBits,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum BinaryQueryEncoding {
    Default,
    Binary,
    Scalar4bits,
    Scalar8bits,
}

impl QuantizationConfig {
    /// Parses a stored or given `quantization_config` (named at `at`), checking Qdrant's rules
    /// and refusing what is not implemented.
    pub fn parse(v: &Value, at: &str) -> Result<QuantizationConfig> {
        let q: QuantizationConfig = serde_json::from_value(v.clone())
            .map_err(|e| EngineError::bad(format!("{at}: {e}")))?;
        q.validate(at)?;
        Ok(q)
    }

    /// Qdrant's rules (`quantile` in 0.5..=1).
    pub fn validate(&self, at: &str) -> Result<()> {
        match self {
            QuantizationConfig::Scalar(s) => {
                if let Some(q) = s.quantile {
                    if !(0.5..=1.0).contains(&q) {
                        return Err(EngineError::bad(format!(
                            "{at}.scalar.quantile: must be between 0.5 and 1, got {q}"
                        )));
                    }
                }
            }
            QuantizationConfig::Product(_)
            | QuantizationConfig::Binary(_)
            | QuantizationConfig::Turbo(_) => {}
        }
        Ok(())
    }

    /// What the index crate builds for this configuration.
    pub(crate) fn codes(&self) -> Quantization {
        match self {
            QuantizationConfig::Scalar(s) => Quantization::Scalar {
                quantile: s.quantile.filter(|&q| q < 1.0),
            },
            QuantizationConfig::Product(p) => Quantization::Product {
                compression: p.compression.factor(),
            },
            QuantizationConfig::Binary(b) => Quantization::Binary {
                encoding: match b.encoding {
                    None | Some(BinaryEncoding::OneBit) => codes::BinaryEncoding::OneBit,
                    Some(BinaryEncoding::TwoBits) => codes::BinaryEncoding::TwoBits,
                    Some(BinaryEncoding::OneAndHalfBits) => codes::BinaryEncoding::OneAndHalfBits,
                },
                query: match b.query_encoding {
                    None | Some(BinaryQueryEncoding::Default | BinaryQueryEncoding::Binary) => {
                        BinaryQuery::SameAsStorage
                    }
                    Some(BinaryQueryEncoding::Scalar4bits) => BinaryQuery::Scalar4Bits,
                    Some(BinaryQueryEncoding::Scalar8bits) => BinaryQuery::Scalar8Bits,
                },
            },
            QuantizationConfig::Turbo(t) => Quantization::Turbo {
                bits: match t.bits {
                    Some(TurboBitSize::Bits1) => codes::TurboBits::Bits1,
                    Some(TurboBitSize::Bits1_5) => codes::TurboBits::Bits1_5,
                    Some(TurboBitSize::Bits2) => codes::TurboBits::Bits2,
                    None | Some(TurboBitSize::Bits4) => codes::TurboBits::Bits4,
                },
            },
        }
    }
}

/// A `quantization_config` of an update: a configuration, or the word `"Disabled"` (removes
/// it).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(untagged)]
pub enum QuantizationConfigDiff {
    Config(QuantizationConfig),
    Disabled(Disabled),
}

/// The one word `"Disabled"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum Disabled {
    Disabled,
}

impl<'de> Deserialize<'de> for QuantizationConfigDiff {
    /// A configuration or `"Disabled"`; a configuration's own error (unknown kind or field)
    /// is reported as such rather than as "no variant matched".
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        if v.as_str() == Some("Disabled") {
            return Ok(QuantizationConfigDiff::Disabled(Disabled::Disabled));
        }
        if v.is_string() {
            return Err(serde::de::Error::custom(format!(
                "expected a quantization configuration object or \"Disabled\", got {v}"
            )));
        }
        serde_json::from_value(v)
            .map(QuantizationConfigDiff::Config)
            .map_err(serde::de::Error::custom)
    }
}

impl QuantizationConfigDiff {
    /// Checks a configuration (named at `at`); `"Disabled"` is always valid.
    pub fn validate(&self, at: &str) -> Result<()> {
        match self {
            QuantizationConfigDiff::Config(c) => c.validate(at),
            QuantizationConfigDiff::Disabled(_) => Ok(()),
        }
    }

    /// The configuration it sets, `None` for `"Disabled"`.
    pub fn config(&self) -> Option<&QuantizationConfig> {
        match self {
            QuantizationConfigDiff::Config(c) => Some(c),
            QuantizationConfigDiff::Disabled(_) => None,
        }
    }
}

/// A search's `params.quantization`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, try_from = "RawSearchParams")]
pub struct QuantizationSearchParams {
    /// Walk the original vectors' graph, not the codes.
    #[serde(default)]
    pub ignore: bool,
    /// Rescore the candidates from the original vectors (default true). With `false` the
    /// best `limit` by code are returned, scored by their codes (binary codes carry no score:
    /// those are scored from the originals).
    pub rescore: Option<bool>,
    /// Candidates taken from the codes per result wanted (at least 1; default 1), rescored
    /// from the originals.
    #[schema(minimum = 1.0)]
    pub oversampling: Option<f64>,
}

/// [`QuantizationSearchParams`] as given, before `oversampling` is checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSearchParams {
    #[serde(default)]
    ignore: bool,
    rescore: Option<bool>,
    oversampling: Option<f64>,
}

impl TryFrom<RawSearchParams> for QuantizationSearchParams {
    type Error = String;

    fn try_from(r: RawSearchParams) -> std::result::Result<Self, String> {
        if let Some(o) = r.oversampling {
            if !(o.is_finite() && o >= 1.0) {
                return Err(format!("oversampling: must be at least 1, got {o}"));
            }
        }
        Ok(QuantizationSearchParams {
            ignore: r.ignore,
            rescore: r.rescore,
            oversampling: r.oversampling,
        })
    }
}

/// One space's codes in one sealed segment, with the configuration they were built for.
pub(crate) struct Quantized {
    pub(crate) config: QuantizationConfig,
    pub(crate) codes: QuantizedHnsw,
}

/// A sealed segment's codes by vector space.
pub(crate) type QuantizedSpaces = std::collections::BTreeMap<String, Arc<Quantized>>;
