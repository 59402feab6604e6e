//! Typed collection settings: Qdrant's `hnsw_config`, `optimizers_config`, `wal_config` and
//! collection parameters, with Qdrant's defaults defined here and nowhere else.
//!
//! A create or update body carries *diffs* (every field optional); [`CollectionSettings::apply`]
//! merges one into the stored settings after [`SettingsDiff::validate`] checked Qdrant's
//! rules, so a stored config is always valid. `config.json` holds the serialized
//! [`CollectionSettings`]; a field missing there takes its default, so older files still load.
//! The engine reads the fields (`settings.hnsw.m`), never JSON keys.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::quantization::{QuantizationConfig, QuantizationConfigDiff};
use crate::{EngineError, Result};

/// KB of vectors at which the appendable segment is sealed and indexed, when unset.
const DEFAULT_INDEXING_THRESHOLD_KB: usize = 10_000;
/// KB of vectors per core that a segment may grow to, when `max_segment_size` is unset.
const DEFAULT_MAX_SEGMENT_KB_PER_CPU: usize = 200_000;

/// Where a component's data is held (Qdrant 1.19's `memory`, over the deprecated `on_disk`).
/// For a vector's storage or an HNSW graph: `cold` and `cached` keep the graphs in their
/// mapped files (as `on_disk: true`; the checksum check when a file is opened reads it once, so
/// its pages start in the page cache either way), `pinned` on the heap. For quantization codes
/// every value is accepted: codes are always on the heap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Memory {
    Cold,
    Cached,
    Pinned,
}

/// How points are placed on shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ShardingMethod {
    Auto,
    Custom,
}

/// `max_optimization_threads`: a number, or `"auto"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum MaxOptimizationThreads {
    #[schema(value_type = String, example = "auto")]
    Auto(AutoSetting),
    Threads(usize),
}

/// The one word `"auto"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AutoSetting {
    Auto,
}

/// The HNSW index of a vector space.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct HnswConfig {
    /// Links per node (level 0 has twice as many). 0 disables the graph: searches scan.
    pub m: usize,
    /// Candidates considered while linking a node.
    pub ef_construct: usize,
    /// KB of vectors below which a filtered search scans instead of walking the graph.
    pub full_scan_threshold: usize,
    /// Threads that build one graph; 0 = as many as there are cores.
    pub max_indexing_threads: usize,
    /// Keep indexed segments' graphs in their mapped files (persistent collections): the links
    /// and, stored with them, the vectors are the files' pages, not anonymous memory.
    pub on_disk: bool,
    /// Links per node of the extra links made within each value of an indexed payload field;
    /// `m` when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload_m: Option<usize>,
    /// Over `on_disk`: `cold` or `cached` keep the graphs in their mapped files, `pinned` on
    /// the heap.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<Memory>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inline_storage: Option<bool>,
}

impl Default for HnswConfig {
    fn default() -> Self {
        HnswConfig {
            m: 16,
            ef_construct: 100,
            full_scan_threshold: 10_000,
            max_indexing_threads: 0,
            on_disk: false,
            payload_m: None,
            memory: None,
            inline_storage: None,
        }
    }
}

/// Changes to an [`HnswConfig`]; as a vector's `hnsw_config`, what it overrides for that
/// vector.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HnswConfigDiff {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub m: Option<usize>,
    /// At least 4.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 4)]
    pub ef_construct: Option<usize>,
    /// At least 10.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 10)]
    pub full_scan_threshold: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_indexing_threads: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_disk: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload_m: Option<usize>,
    /// Over `on_disk`: `cold` or `cached` keep the graphs in their mapped files, `pinned` on
    /// the heap.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<Memory>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inline_storage: Option<bool>,
}

impl HnswConfigDiff {
    /// `base` with the fields this diff sets.
    pub fn applied_to(&self, base: &HnswConfig) -> HnswConfig {
        HnswConfig {
            m: self.m.unwrap_or(base.m),
            ef_construct: self.ef_construct.unwrap_or(base.ef_construct),
            full_scan_threshold: self.full_scan_threshold.unwrap_or(base.full_scan_threshold),
            max_indexing_threads: self
                .max_indexing_threads
                .unwrap_or(base.max_indexing_threads),
            on_disk: self.on_disk.unwrap_or(base.on_disk),
            payload_m: self.payload_m.or(base.payload_m),
            memory: self.memory.or(base.memory),
            inline_storage: self.inline_storage.or(base.inline_storage),
        }
    }

    /// This diff with `newer`'s fields laid over it.
    pub fn merged(&self, newer: &HnswConfigDiff) -> HnswConfigDiff {
        HnswConfigDiff {
            m: newer.m.or(self.m),
            ef_construct: newer.ef_construct.or(self.ef_construct),
            full_scan_threshold: newer.full_scan_threshold.or(self.full_scan_threshold),
            max_indexing_threads: newer.max_indexing_threads.or(self.max_indexing_threads),
            on_disk: newer.on_disk.or(self.on_disk),
            payload_m: newer.payload_m.or(self.payload_m),
            memory: newer.memory.or(self.memory),
            inline_storage: newer.inline_storage.or(self.inline_storage),
        }
    }

    /// Qdrant's rules for the fields it sets; `at` is the JSON path of the diff.
    pub fn validate(&self, at: &str) -> Result<()> {
        min(at, "ef_construct", self.ef_construct, 4)?;
        min(at, "full_scan_threshold", self.full_scan_threshold, 10)
    }
}

/// When the optimizer seals, indexes, folds, merges and vacuums segments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct OptimizersConfig {
    /// Share of deleted points in a segment that makes it worth vacuuming.
    pub deleted_threshold: f64,
    /// Vectors a segment must hold before it is vacuumed.
    pub vacuum_min_vector_number: usize,
    /// 0: fold into one graph as far as `max_segment_size` allows; otherwise keep at most this
    /// many sealed segments.
    pub default_segment_number: usize,
    /// KB of vectors a segment may grow to; 200,000 × cores when absent.
    pub max_segment_size: Option<usize>,
    /// Stored and reported (deprecated in Qdrant); segments are held in RAM.
    pub memmap_threshold: Option<usize>,
    /// KB of vectors at which the appendable segment is sealed and indexed; 0 turns indexing
    /// off (searches scan).
    pub indexing_threshold: Option<usize>,
    /// Seconds between flushes of segment files (the log makes every write durable first).
    pub flush_interval_sec: u64,
    /// Threads the optimizer uses; `null`/`"auto"` = as many as there are cores.
    pub max_optimization_threads: Option<MaxOptimizationThreads>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prevent_unoptimized: Option<bool>,
}

impl Default for OptimizersConfig {
    fn default() -> Self {
        OptimizersConfig {
            deleted_threshold: 0.2,
            vacuum_min_vector_number: 1000,
            default_segment_number: 0,
            max_segment_size: None,
            memmap_threshold: None,
            indexing_threshold: Some(10_000),
            flush_interval_sec: 5,
            max_optimization_threads: None,
            prevent_unoptimized: None,
        }
    }
}

impl OptimizersConfig {
    /// `indexing_threshold` in KB (Qdrant's default when unset); 0 = never index.
    pub fn indexing_threshold_kb(&self) -> usize {
        self.indexing_threshold
            .unwrap_or(DEFAULT_INDEXING_THRESHOLD_KB)
    }

    /// `max_segment_size` in KB; by default 200,000 KB per core, as Qdrant.
    pub fn max_segment_kb(&self) -> usize {
        self.max_segment_size
            .filter(|&kb| kb > 0)
            .unwrap_or_else(|| {
                let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
                DEFAULT_MAX_SEGMENT_KB_PER_CPU * cpus
            })
    }

    /// `default_segment_number` when set (not 0).
    pub fn target_segments(&self) -> Option<usize> {
        Some(self.default_segment_number).filter(|&n| n > 0)
    }
}

/// Changes to an [`OptimizersConfig`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OptimizersConfigDiff {
    /// Between 0 and 1.
    #[schema(minimum = 0, maximum = 1)]
    pub deleted_threshold: Option<f64>,
    /// Qdrant's minimum is 100; rustvecdb accepts any number (small ones make small test
    /// collections vacuum, and no value can do harm).
    pub vacuum_min_vector_number: Option<usize>,
    pub default_segment_number: Option<usize>,
    /// At least 1.
    #[schema(minimum = 1)]
    pub max_segment_size: Option<usize>,
    pub memmap_threshold: Option<usize>,
    pub indexing_threshold: Option<usize>,
    pub flush_interval_sec: Option<u64>,
    pub max_optimization_threads: Option<MaxOptimizationThreads>,
    pub prevent_unoptimized: Option<bool>,
}

impl OptimizersConfigDiff {
    fn apply(&self, to: &mut OptimizersConfig) {
        let d = self.clone();
        set(&mut to.deleted_threshold, d.deleted_threshold);
        set(&mut to.vacuum_min_vector_number, d.vacuum_min_vector_number);
        set(&mut to.default_segment_number, d.default_segment_number);
        to.max_segment_size = d.max_segment_size.or(to.max_segment_size);
        to.memmap_threshold = d.memmap_threshold.or(to.memmap_threshold);
        to.indexing_threshold = d.indexing_threshold.or(to.indexing_threshold);
        set(&mut to.flush_interval_sec, d.flush_interval_sec);
        to.max_optimization_threads = d.max_optimization_threads.or(to.max_optimization_threads);
        to.prevent_unoptimized = d.prevent_unoptimized.or(to.prevent_unoptimized);
    }

    fn validate(&self, at: &str) -> Result<()> {
        if let Some(t) = self.deleted_threshold {
            if !(0.0..=1.0).contains(&t) {
                return Err(invalid(
                    at,
                    "deleted_threshold",
                    format!("value {t} invalid, must be from 0 to 1"),
                ));
            }
        }
        min(at, "max_segment_size", self.max_segment_size, 1)
    }
}

/// The write-ahead log's segment sizes (stored and reported; rustvecdb's log has its own
/// segment size).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct WalConfig {
    pub wal_capacity_mb: usize,
    pub wal_segments_ahead: usize,
    pub wal_retain_closed: usize,
}

impl Default for WalConfig {
    fn default() -> Self {
        WalConfig {
            wal_capacity_mb: 32,
            wal_segments_ahead: 0,
            wal_retain_closed: 1,
        }
    }
}

/// Changes to a [`WalConfig`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WalConfigDiff {
    /// At least 1.
    #[schema(minimum = 1)]
    pub wal_capacity_mb: Option<usize>,
    pub wal_segments_ahead: Option<usize>,
    /// At least 1.
    #[schema(minimum = 1)]
    pub wal_retain_closed: Option<usize>,
}

impl WalConfigDiff {
    fn apply(&self, to: &mut WalConfig) {
        set(&mut to.wal_capacity_mb, self.wal_capacity_mb);
        set(&mut to.wal_segments_ahead, self.wal_segments_ahead);
        set(&mut to.wal_retain_closed, self.wal_retain_closed);
    }

    fn validate(&self, at: &str) -> Result<()> {
        min(at, "wal_capacity_mb", self.wal_capacity_mb, 1)?;
        min(at, "wal_retain_closed", self.wal_retain_closed, 1)
    }
}

/// Everything a collection is configured with besides its vector spaces and payload indexes.
/// Serialized into `config.json` under the keys of Qdrant's create body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CollectionSettings {
    pub shard_number: u32,
    pub replication_factor: u32,
    pub write_consistency_factor: u32,
    pub on_disk_payload: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sharding_method: Option<ShardingMethod>,
    #[serde(rename = "hnsw_config")]
    pub hnsw: HnswConfig,
    #[serde(rename = "optimizers_config")]
    pub optimizers: OptimizersConfig,
    #[serde(rename = "wal_config")]
    pub wal: WalConfig,
    /// The codes indexed segments keep for every vector space without its own
    /// `quantization_config`.
    #[serde(rename = "quantization_config")]
    pub quantization: Option<QuantizationConfig>,
    /// Stored and reported as given.
    #[serde(rename = "strict_mode_config")]
    pub strict_mode: Map<String, Value>,
    /// The user's own JSON object, reported back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
    /// Collection parameters given through `params` of an update (read_fan_out_factor, …),
    /// stored and reported.
    #[serde(flatten)]
    pub other_params: Map<String, Value>,
}

impl Default for CollectionSettings {
    fn default() -> Self {
        let mut strict_mode = Map::new();
        strict_mode.insert("enabled".into(), Value::Bool(false));
        CollectionSettings {
            shard_number: 1,
            replication_factor: 1,
            write_consistency_factor: 1,
            on_disk_payload: true,
            sharding_method: None,
            hnsw: HnswConfig::default(),
            optimizers: OptimizersConfig::default(),
            wal: WalConfig::default(),
            quantization: None,
            strict_mode,
            metadata: None,
            other_params: Map::new(),
        }
    }
}

/// The collection parameters a PATCH may change (`params` of Qdrant's UpdateCollection).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CollectionParamsDiff {
    #[schema(minimum = 1)]
    pub replication_factor: Option<u32>,
    #[schema(minimum = 1)]
    pub write_consistency_factor: Option<u32>,
    pub read_fan_out_factor: Option<u32>,
    pub read_fan_out_delay_ms: Option<u64>,
    pub on_disk_payload: Option<bool>,
    #[schema(value_type = Option<Object>)]
    pub payload: Option<Value>,
}

/// What a PATCH changes in one vector space (Qdrant's VectorParamsDiff).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VectorParamsDiff {
    pub hnsw_config: Option<HnswConfigDiff>,
    /// This vector's quantization, or `"Disabled"` (it follows the collection's again).
    pub quantization_config: Option<QuantizationConfigDiff>,
    /// Keep this vector's indexed segments' graphs (links and vectors) in their mapped files
    /// (persistent collections).
    pub on_disk: Option<bool>,
    /// Over `on_disk`: `cold` or `cached` map the graphs; `pinned` is refused for dense vectors.
    pub memory: Option<Memory>,
}

impl VectorParamsDiff {
    /// Validates and applies the diff to a vector space; `at` names it (`vectors.text`).
    pub(crate) fn apply(&self, to: &mut crate::VectorParams, at: &str) -> Result<()> {
        if let Some(h) = &self.hnsw_config {
            h.validate(&format!("{at}.hnsw_config"))?;
            to.hnsw_config = Some(match &to.hnsw_config {
                Some(old) => old.merged(h),
                None => h.clone(),
            });
        }
        match &self.quantization_config {
            Some(QuantizationConfigDiff::Config(q)) => {
                let at = format!("{at}.quantization_config");
                q.validate(&at)?;
                if to.multivector.is_some() {
                    return Err(EngineError::bad(format!(
                        "{at}: not supported for a multivector space (it is scanned exactly, never indexed); leave it out"
                    )));
                }
                to.extra.insert(
                    "quantization_config".into(),
                    serde_json::to_value(q).unwrap_or_default(),
                );
            }
            Some(QuantizationConfigDiff::Disabled(_)) => {
                to.extra.remove("quantization_config");
            }
            None => {}
        }
        if self.memory == Some(Memory::Pinned) {
            return Err(EngineError::bad(format!(
                "{at}.memory: pinned is not supported for dense vector storage; use cold or cached"
            )));
        }
        let others = [
            ("on_disk", self.on_disk.map(Value::Bool)),
            ("memory", self.memory.map(|m| serde_json::json!(m))),
        ];
        for (key, v) in others {
            match v {
                Some(Value::Null) | None => {}
                Some(v) => {
                    to.extra.insert(key.into(), v);
                }
            }
        }
        Ok(())
    }
}

/// A change of settings: what a create body sets over the defaults, or what a PATCH sets over
/// the stored settings. `None` leaves a part as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SettingsDiff {
    pub shard_number: Option<u32>,
    pub sharding_method: Option<ShardingMethod>,
    pub params: CollectionParamsDiff,
    pub hnsw: Option<HnswConfigDiff>,
    pub optimizers: Option<OptimizersConfigDiff>,
    pub wal: Option<WalConfigDiff>,
    pub quantization: Option<QuantizationConfigDiff>,
    pub strict_mode: Option<Map<String, Value>>,
    pub metadata: Option<Map<String, Value>>,
}

impl SettingsDiff {
    /// Qdrant's rules for every field the diff sets (an error names the field).
    pub fn validate(&self) -> Result<()> {
        min("", "shard_number", self.shard_number, 1)?;
        min(
            "params",
            "replication_factor",
            self.params.replication_factor,
            1,
        )?;
        min(
            "params",
            "write_consistency_factor",
            self.params.write_consistency_factor,
            1,
        )?;
        if let Some(h) = &self.hnsw {
            h.validate("hnsw_config")?;
        }
        if let Some(o) = &self.optimizers {
            o.validate("optimizers_config")?;
        }
        if let Some(w) = &self.wal {
            w.validate("wal_config")?;
        }
        if let Some(q) = &self.quantization {
            q.validate("quantization_config")?;
        }
        Ok(())
    }
}

impl CollectionSettings {
    /// These settings with `diff` applied (objects merged field by field, as Qdrant does;
    /// `metadata` keys merged too). Validates the diff first.
    pub fn apply(&self, diff: &SettingsDiff) -> Result<CollectionSettings> {
        diff.validate()?;
        let mut s = self.clone();
        set(&mut s.shard_number, diff.shard_number);
        s.sharding_method = diff.sharding_method.or(s.sharding_method);
        let p = &diff.params;
        set(&mut s.replication_factor, p.replication_factor);
        set(&mut s.write_consistency_factor, p.write_consistency_factor);
        set(&mut s.on_disk_payload, p.on_disk_payload);
        for (key, v) in [
            (
                "read_fan_out_factor",
                p.read_fan_out_factor.map(Value::from),
            ),
            (
                "read_fan_out_delay_ms",
                p.read_fan_out_delay_ms.map(Value::from),
            ),
            ("payload", p.payload.clone()),
        ] {
            if let Some(v) = v.filter(|v| !v.is_null()) {
                s.other_params.insert(key.into(), v);
            }
        }
        if let Some(h) = &diff.hnsw {
            s.hnsw = h.applied_to(&s.hnsw);
        }
        if let Some(o) = &diff.optimizers {
            o.apply(&mut s.optimizers);
        }
        if let Some(w) = &diff.wal {
            w.apply(&mut s.wal);
        }
        if let Some(q) = &diff.quantization {
            s.quantization = q.config().cloned();
        }
        if let Some(m) = &diff.strict_mode {
            merge_map(&mut s.strict_mode, m);
        }
        if let Some(m) = &diff.metadata {
            merge_map(s.metadata.get_or_insert_with(Map::new), m);
        }
        Ok(s)
    }
}

impl CollectionSettings {
    /// The settings `config.json` holds. A key whose value no longer parses (one an older
    /// version stored without checking) takes its default, with a warning naming it.
    pub(crate) fn from_stored(stored: Map<String, Value>, what: &str) -> CollectionSettings {
        if let Ok(s) = serde_json::from_value(Value::Object(stored.clone())) {
            return s;
        }
        let mut kept = Map::new();
        for (key, v) in stored {
            let one = Map::from_iter([(key.clone(), v.clone())]);
            match serde_json::from_value::<CollectionSettings>(Value::Object(one)) {
                Ok(_) => {
                    kept.insert(key, v);
                }
                Err(e) => tracing::warn!(config = what, key, error = %e,
                    "stored setting is not valid; its default is used"),
            }
        }
        serde_json::from_value(Value::Object(kept)).unwrap_or_default()
    }
}

impl HnswConfigDiff {
    /// A vector's stored `hnsw_config`, keeping the fields that parse.
    pub(crate) fn from_stored(v: Value, what: &str) -> Option<HnswConfigDiff> {
        let Value::Object(m) = v else { return None };
        let mut kept = Map::new();
        for (key, v) in m {
            let one = Map::from_iter([(key.clone(), v.clone())]);
            if serde_json::from_value::<HnswConfigDiff>(Value::Object(one)).is_ok() {
                kept.insert(key, v);
            } else {
                tracing::warn!(
                    config = what,
                    key,
                    "stored vector hnsw_config key is not valid; ignored"
                );
            }
        }
        serde_json::from_value(Value::Object(kept)).ok()
    }
}

fn merge_map(into: &mut Map<String, Value>, from: &Map<String, Value>) {
    for (k, v) in from {
        if !v.is_null() {
            into.insert(k.clone(), v.clone());
        }
    }
}

fn set<T>(field: &mut T, v: Option<T>) {
    if let Some(v) = v {
        *field = v;
    }
}

fn invalid(at: &str, key: &str, problem: String) -> EngineError {
    let field = if at.is_empty() {
        key.to_string()
    } else {
        format!("{at}.{key}")
    };
    EngineError::Invalid { field, problem }
}

/// Qdrant's `range(min = …)` rule and its wording.
fn min<T: PartialOrd + std::fmt::Display + Copy>(
    at: &str,
    key: &str,
    v: Option<T>,
    least: T,
) -> Result<()> {
    match v {
        Some(v) if v < least => Err(invalid(
            at,
            key,
            format!("value {v} invalid, must be {least} or larger"),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_are_qdrants_and_an_empty_file_section_reads_as_them() {
        let s: CollectionSettings = serde_json::from_value(json!({})).unwrap();
        assert_eq!(s, CollectionSettings::default());
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["hnsw_config"]["m"], 16);
        assert_eq!(v["hnsw_config"]["ef_construct"], 100);
        assert_eq!(v["optimizers_config"]["indexing_threshold"], 10_000);
        assert_eq!(v["optimizers_config"]["max_segment_size"], Value::Null);
        assert_eq!(v["wal_config"]["wal_capacity_mb"], 32);
        assert_eq!(v["strict_mode_config"], json!({"enabled": false}));
        assert_eq!(v["on_disk_payload"], true);
    }

    #[test]
    fn a_diff_merges_field_by_field_and_round_trips() {
        let diff = SettingsDiff {
            hnsw: Some(HnswConfigDiff {
                m: Some(32),
                ..Default::default()
            }),
            optimizers: Some(OptimizersConfigDiff {
                indexing_threshold: Some(0),
                ..Default::default()
            }),
            params: CollectionParamsDiff {
                read_fan_out_factor: Some(2),
                ..Default::default()
            },
            metadata: Some(json!({"a": 1}).as_object().unwrap().clone()),
            ..Default::default()
        };
        let s = CollectionSettings::default().apply(&diff).unwrap();
        assert_eq!((s.hnsw.m, s.hnsw.ef_construct), (32, 100));
        assert_eq!(s.optimizers.indexing_threshold, Some(0));
        assert_eq!(s.optimizers.deleted_threshold, 0.2);
        let back: CollectionSettings =
            serde_json::from_value(serde_json::to_value(&s).unwrap()).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.other_params["read_fan_out_factor"], 2);
    }

    #[test]
    fn qdrants_rules_are_checked_and_name_the_field() {
        let check = |diff: SettingsDiff| match CollectionSettings::default().apply(&diff) {
            Err(EngineError::Invalid { field, problem }) => format!("{field}: {problem}"),
            other => panic!("expected a validation error, got {other:?}"),
        };
        let hnsw = |h: HnswConfigDiff| SettingsDiff {
            hnsw: Some(h),
            ..Default::default()
        };
        assert_eq!(
            check(hnsw(HnswConfigDiff {
                ef_construct: Some(2),
                ..Default::default()
            })),
            "hnsw_config.ef_construct: value 2 invalid, must be 4 or larger"
        );
        assert_eq!(
            check(hnsw(HnswConfigDiff {
                full_scan_threshold: Some(5),
                ..Default::default()
            })),
            "hnsw_config.full_scan_threshold: value 5 invalid, must be 10 or larger"
        );
        assert_eq!(
            check(SettingsDiff {
                optimizers: Some(OptimizersConfigDiff {
                    deleted_threshold: Some(1.5),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            "optimizers_config.deleted_threshold: value 1.5 invalid, must be from 0 to 1"
        );
        assert_eq!(
            check(SettingsDiff {
                shard_number: Some(0),
                ..Default::default()
            }),
            "shard_number: value 0 invalid, must be 1 or larger"
        );
        assert_eq!(
            check(SettingsDiff {
                wal: Some(WalConfigDiff {
                    wal_capacity_mb: Some(0),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            "wal_config.wal_capacity_mb: value 0 invalid, must be 1 or larger"
        );
    }

    #[test]
    fn unknown_keys_in_a_diff_are_refused() {
        let e = serde_json::from_value::<HnswConfigDiff>(json!({"mm": 3})).unwrap_err();
        assert!(e.to_string().contains("unknown field `mm`"), "{e}");
        let e = serde_json::from_value::<HnswConfigDiff>(json!({"m": -1})).unwrap_err();
        assert!(e.to_string().contains("-1"), "{e}");
        let t: OptimizersConfigDiff =
            serde_json::from_value(json!({"max_optimization_threads": "auto"})).unwrap();
        assert_eq!(
            t.max_optimization_threads,
            Some(MaxOptimizationThreads::Auto(AutoSetting::Auto))
        );
    }
}
