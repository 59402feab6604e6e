//! Collection, alias and payload-index bodies, each parsed by its type and turned into the
//! engine's request by `into_*`, and what the collection routes answer
//! (`render::collection_info`, `handlers::stats`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use rvdb_engine::settings::{CollectionParamsDiff, ShardingMethod};
use rvdb_engine::{
    CollectionConfig, CollectionSettings, HnswConfigDiff, OptimizersConfigDiff, SettingsDiff,
    VectorParamsDiff, WalConfigDiff,
};

use super::common::envelope;
use crate::convert::{bad, join};
use crate::ApiError;

/// A distance function (matched without regard to case; `Euclidean` and `DotProduct` are
/// accepted spellings of `Euclid` and `Dot`).
#[derive(ToSchema, Debug)]
pub(crate) enum Distance {
    Cosine,
    Euclid,
    Euclidean,
    Dot,
    DotProduct,
    Manhattan,
}

/// A distance as a body names it, parsed into the engine's.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DistanceName(pub rvdb_engine::Distance);

impl<'de> Deserialize<'de> for DistanceName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        rvdb_engine::Distance::parse(&name).map(DistanceName).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown distance `{name}`; expected Cosine, Euclid (Euclidean), Dot (DotProduct) or Manhattan"
            ))
        })
    }
}

/// One dense vector space. The other per-vector settings are stored and reported back.
#[derive(ToSchema, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct VectorParams {
    /// Dimension.
    #[schema(minimum = 1)]
    pub size: u64,
    #[schema(value_type = Distance)]
    pub distance: DistanceName,
    /// Keep indexed segments' graphs of this vector (its links and vectors) in their mapped
    /// files, not in anonymous memory (persistent storage only; a server without a storage
    /// path has no files and keeps them in RAM).
    pub on_disk: Option<bool>,
    /// What this vector's index sets over the collection's `hnsw_config`.
    pub hnsw_config: Option<HnswConfigDiff>,
    /// This vector's quantization (over the collection's): indexed segments keep codes that
    /// searches walk before rescoring from the originals. Not for a multivector space.
    pub quantization_config: Option<rvdb_engine::QuantizationConfig>,
    /// The element type vectors are stored in: float32 (default), float16 (half the bytes) or
    /// uint8 (a quarter; values cast as Rust's `as u8` does, not normalised under Cosine).
    /// Not for a multivector space.
    pub datatype: Option<Datatype>,
    /// Placement of the vectors (Qdrant 1.19; over `on_disk`): `cold` or `cached` keep this
    /// vector's indexed graphs in their mapped files, as `on_disk: true` does; `pinned` is
    /// refused (Qdrant does not support it for dense vectors).
    pub memory: Option<rvdb_engine::settings::Memory>,
    /// Makes every vector of this space a multivector (rows of `size` values, ColBERT-style),
    /// scored by late interaction; such a space is scanned exactly, never HNSW-indexed.
    #[schema(value_type = Option<MultiVectorConfig>)]
    pub multivector_config: Option<Value>,
}

/// Qdrant's `MultiVectorConfig`: how two multivectors compare.
#[derive(ToSchema, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"comparator": "max_sim"}))]
pub(crate) struct MultiVectorConfig {
    pub comparator: MultiVectorComparator,
}

/// `max_sim`: the sum over the query's rows of the best similarity to any stored row.
#[derive(ToSchema, Deserialize, Debug, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub(crate) enum MultiVectorComparator {
    MaxSim,
}

/// A multivector config read from its JSON, every mistake named by its path under `at`.
fn multivector_config(v: Value, at: &str) -> Result<rvdb_engine::MultiVectorComparator, ApiError> {
    let Value::Object(m) = v else {
        return Err(bad(at, "expected an object {\"comparator\": \"max_sim\"}"));
    };
    if let Some(k) = m.keys().find(|k| *k != "comparator") {
        return Err(bad(&join(at, k), "unknown field; expected `comparator`"));
    }
    match m.get("comparator") {
        None => Err(bad(&join(at, "comparator"), "missing field")),
        Some(Value::String(c)) => rvdb_engine::MultiVectorComparator::parse(c).ok_or_else(|| {
            bad(
                &join(at, "comparator"),
                format!("unknown comparator `{c}`; expected `max_sim`"),
            )
        }),
        Some(other) => Err(bad(
            &join(at, "comparator"),
            format!("expected the string `max_sim`, got {other}"),
        )),
    }
}

impl VectorParams {
    fn into_engine(self, at: &str) -> Result<rvdb_engine::VectorParams, ApiError> {
        let multivector = match self.multivector_config.filter(|v| !v.is_null()) {
            Some(v) => Some(multivector_config(v, &join(at, "multivector_config"))?),
            None => None,
        };
        if let Some(h) = &self.hnsw_config {
            h.validate(&join(at, "hnsw_config"))?;
        }
        let mut extra = serde_json::Map::new();
        let others = [
            ("on_disk", self.on_disk.map(Value::Bool)),
            (
                "quantization_config",
                self.quantization_config
                    .map(|q| serde_json::to_value(q).unwrap_or_default()),
            ),
            (
                "datatype",
                self.datatype.map(|d| Value::String(d.as_str().to_string())),
            ),
            ("memory", self.memory.map(|m| serde_json::json!(m))),
        ];
        for (key, v) in others {
            if let Some(v) = v.filter(|v| !v.is_null()) {
                extra.insert(key.to_string(), v);
            }
        }
        Ok(rvdb_engine::VectorParams {
            size: Some(self.size as usize),
            distance: self.distance.0,
            multivector,
            hnsw_config: self.hnsw_config,
            extra,
        })
    }
}

/// One unnamed vector space, or named ones.
#[derive(ToSchema, Debug)]
#[serde(untagged)]
pub(crate) enum VectorsConfig {
    Single(Box<VectorParams>),
    Named(BTreeMap<String, VectorParams>),
}

impl<'de> Deserialize<'de> for VectorsConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // one space has `size`/`distance` keys; named spaces are objects under their names
        let m = serde_json::Map::<String, Value>::deserialize(d)?;
        let single = m.contains_key("size") || m.contains_key("distance");
        let v = Value::Object(m);
        let named_error = |e: serde_path_to_error::Error<serde_json::Error>| {
            serde::de::Error::custom(crate::extract::path_message(e))
        };
        if single {
            serde_path_to_error::deserialize(v)
                .map(VectorsConfig::Single)
                .map_err(named_error)
        } else {
            serde_path_to_error::deserialize(v)
                .map(VectorsConfig::Named)
                .map_err(named_error)
        }
    }
}

/// One sparse vector space (Qdrant's `SparseVectorParams`): always scored by dot product.
#[derive(ToSchema, Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct SparseVectorParams {
    /// The inverted index's settings.
    pub index: Option<SparseIndexParams>,
    /// `idf`: query values are weighted by the inverse document frequency of their index over
    /// the collection's points with this vector; `none` (the default): plain dot product.
    pub modifier: Option<Modifier>,
}

/// A sparse vector space's index settings.
#[derive(ToSchema, Deserialize, Serialize, Debug, Default, Clone)]
#[serde(deny_unknown_fields)]
pub(crate) struct SparseIndexParams {
    /// A filtered search whose estimated matches are fewer than this many points scores them
    /// directly instead of walking the posting lists (default 5000). Results are exact either
    /// way.
    #[schema(minimum = 0)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub full_scan_threshold: Option<usize>,
    /// Kept and reported back, without effect: the index is held in memory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_disk: Option<bool>,
    /// Only `float32` (values are stored as float32): `float16` and `uint8` are refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub datatype: Option<Datatype>,
}

/// A vector element type, as Qdrant names it.
#[derive(ToSchema, Deserialize, Serialize, Debug, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Datatype {
    Float32,
    Float16,
    Uint8,
}

impl Datatype {
    fn as_str(self) -> &'static str {
        match self {
            Datatype::Float32 => "float32",
            Datatype::Float16 => "float16",
            Datatype::Uint8 => "uint8",
        }
    }
}

/// Qdrant's sparse vector `modifier`.
#[derive(ToSchema, Deserialize, Serialize, Debug, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Modifier {
    None,
    Idf,
}

impl SparseVectorParams {
    fn into_engine(self) -> rvdb_engine::SparseVectorParams {
        let index = self.index.unwrap_or_default();
        rvdb_engine::SparseVectorParams {
            index: rvdb_engine::SparseIndexParams {
                full_scan_threshold: index.full_scan_threshold,
                on_disk: index.on_disk,
            },
            datatype: index.datatype.map(|d| d.as_str().to_string()),
            modifier: self.modifier.map(|m| match m {
                Modifier::None => rvdb_engine::SparseModifier::None,
                Modifier::Idf => rvdb_engine::SparseModifier::Idf,
            }),
        }
    }
}

/// Sparse vector spaces by name, for the engine.
fn sparse_into_engine(
    m: Option<BTreeMap<String, SparseVectorParams>>,
) -> BTreeMap<String, rvdb_engine::SparseVectorParams> {
    m.unwrap_or_default()
        .into_iter()
        .map(|(k, p)| (k, p.into_engine()))
        .collect()
}

/// A sparse vector space as stored: the fields given at creation (or by a PATCH).
#[derive(ToSchema, Serialize)]
pub(crate) struct SparseVectorParamsOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<SparseIndexParams>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modifier: Option<Modifier>,
}

impl From<&rvdb_engine::SparseVectorParams> for SparseVectorParamsOut {
    fn from(p: &rvdb_engine::SparseVectorParams) -> Self {
        let index = SparseIndexParams {
            full_scan_threshold: p.index.full_scan_threshold,
            on_disk: p.index.on_disk,
            datatype: p.datatype.as_deref().and_then(|d| match d {
                "float32" => Some(Datatype::Float32),
                "float16" => Some(Datatype::Float16),
                "uint8" => Some(Datatype::Uint8),
                _ => None,
            }),
        };
        let given = index.full_scan_threshold.is_some()
            || index.on_disk.is_some()
            || index.datatype.is_some();
        SparseVectorParamsOut {
            index: given.then_some(index),
            modifier: p.modifier.map(|m| match m {
                rvdb_engine::SparseModifier::None => Modifier::None,
                rvdb_engine::SparseModifier::Idf => Modifier::Idf,
            }),
        }
    }
}

/// PUT /collections/{name}: Qdrant's body (`vectors`, required in it) or the seed's
/// (`distance`; the dimension is fixed by the first point). The other settings are stored and
/// reported back; `init_from` is refused.
#[derive(ToSchema, Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"vectors": {"size": 4, "distance": "Cosine"}}))]
pub(crate) struct CreateCollection {
    /// Seed body: must equal the name in the path when given.
    pub name: Option<String>,
    /// Seed body: the distance of the unnamed vector.
    #[schema(value_type = Option<Distance>)]
    pub distance: Option<DistanceName>,
    /// Qdrant body: the vector spaces.
    pub vectors: Option<VectorsConfig>,
    #[schema(minimum = 1)]
    pub shard_number: Option<u32>,
    #[schema(minimum = 1)]
    pub replication_factor: Option<u32>,
    #[schema(minimum = 1)]
    pub write_consistency_factor: Option<u32>,
    pub on_disk_payload: Option<bool>,
    /// Payload storage parameters, stored and reported.
    #[schema(value_type = Option<Object>)]
    pub payload: Option<Value>,
    pub hnsw_config: Option<HnswConfigDiff>,
    pub optimizers_config: Option<OptimizersConfigDiff>,
    pub wal_config: Option<WalConfigDiff>,
    /// The codes indexed segments keep for every vector without its own.
    pub quantization_config: Option<rvdb_engine::QuantizationConfig>,
    #[schema(value_type = Option<Object>)]
    pub strict_mode_config: Option<serde_json::Map<String, Value>>,
    /// Any JSON object, reported back in the collection's config.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Map<String, Value>>,
    pub sharding_method: Option<ShardingMethod>,
    /// Sparse vector spaces by name (a name may not also be a dense vector's). A collection
    /// may have only sparse vectors (`vectors` absent or `{}`).
    pub sparse_vectors: Option<BTreeMap<String, SparseVectorParams>>,
    /// Refused: initialising from another collection is not supported.
    #[schema(value_type = Option<Object>)]
    pub init_from: Option<Value>,
}

impl CreateCollection {
    /// The collection's config: its vector spaces, and the settings over Qdrant's defaults
    /// (validated: a rule broken is a 422 naming the field).
    pub(crate) fn into_config(self) -> Result<CollectionConfig, ApiError> {
        let vectors = match (self.vectors, self.distance) {
            (Some(VectorsConfig::Single(p)), _) => {
                rvdb_engine::VectorsConfig::Single((*p).into_engine("vectors")?)
            }
            (Some(VectorsConfig::Named(m)), _) => rvdb_engine::VectorsConfig::Named(
                m.into_iter()
                    .map(|(name, p)| {
                        let at = format!("vectors.{name}");
                        Ok((name, p.into_engine(&at)?))
                    })
                    .collect::<Result<_, ApiError>>()?,
            ),
            (None, Some(d)) => {
                rvdb_engine::VectorsConfig::Single(rvdb_engine::VectorParams::new(d.0, None))
            }
            (None, None) if self.sparse_vectors.is_some() => {
                rvdb_engine::VectorsConfig::Named(BTreeMap::new())
            }
            (None, None) => {
                return Err(bad(
                    "",
                    "missing `distance` (seed body) or `vectors` (Qdrant body)",
                ))
            }
        };
        let sparse_vectors = sparse_into_engine(self.sparse_vectors);
        if let Some(name) = sparse_vectors.keys().find(|n| vectors.get(n).is_some()) {
            return Err(bad(
                &format!("sparse_vectors.{name}"),
                "a dense vector has this name already",
            ));
        }
        if self.init_from.is_some_and(|v| !v.is_null()) {
            return Err(bad(
                "init_from",
                "initialising from another collection is not supported",
            ));
        }
        let diff = SettingsDiff {
            shard_number: self.shard_number,
            sharding_method: self.sharding_method,
            params: CollectionParamsDiff {
                replication_factor: self.replication_factor,
                write_consistency_factor: self.write_consistency_factor,
                on_disk_payload: self.on_disk_payload,
                payload: self.payload,
                ..Default::default()
            },
            hnsw: self.hnsw_config,
            optimizers: self.optimizers_config,
            wal: self.wal_config,
            quantization: self
                .quantization_config
                .map(rvdb_engine::QuantizationConfigDiff::Config),
            strict_mode: self.strict_mode_config,
            metadata: self.metadata,
        };
        let settings = CollectionSettings::default().apply(&diff)?;
        Ok(CollectionConfig {
            vectors,
            sparse_vectors,
            settings,
        })
    }
}

/// PATCH /collections/{name}: settings to merge into the stored ones.
#[derive(ToSchema, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateCollection {
    /// Per named vector (`""` for the unnamed one): settings to merge.
    pub vectors: Option<BTreeMap<String, VectorParamsDiff>>,
    /// Collection parameters (e.g. `replication_factor`, `on_disk_payload`).
    pub params: Option<CollectionParamsDiff>,
    pub hnsw_config: Option<HnswConfigDiff>,
    pub optimizers_config: Option<OptimizersConfigDiff>,
    /// A new quantization for every vector without its own, or `"Disabled"`.
    pub quantization_config: Option<rvdb_engine::QuantizationConfigDiff>,
    #[schema(value_type = Option<Object>)]
    pub strict_mode_config: Option<serde_json::Map<String, Value>>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Map<String, Value>>,
    /// Per sparse vector: the `modifier` and the `index` fields given replace the stored ones.
    pub sparse_vectors: Option<BTreeMap<String, SparseVectorParams>>,
}

/// What a PATCH changes: the settings, per dense vector its diff, per sparse vector the fields
/// given.
pub(crate) type ConfigDiffs = (
    SettingsDiff,
    BTreeMap<String, VectorParamsDiff>,
    BTreeMap<String, rvdb_engine::SparseVectorParams>,
);

impl UpdateCollection {
    /// The settings to merge, and per vector space its own.
    pub(crate) fn into_diffs(self) -> Result<ConfigDiffs, ApiError> {
        let settings = SettingsDiff {
            params: self.params.unwrap_or_default(),
            hnsw: self.hnsw_config,
            optimizers: self.optimizers_config,
            quantization: self.quantization_config,
            strict_mode: self.strict_mode_config,
            metadata: self.metadata,
            ..Default::default()
        };
        Ok((
            settings,
            self.vectors.unwrap_or_default(),
            sparse_into_engine(self.sparse_vectors),
        ))
    }
}

/// GET /collections/{name}: Qdrant's CollectionInfo.
#[derive(ToSchema, Serialize)]
pub(crate) struct CollectionInfo {
    /// `green`: nothing to do; `yellow`: the optimizer is working; `red`: segments were
    /// quarantined at load (their points are missing).
    pub status: &'static str,
    /// Always `ok`.
    pub optimizer_status: &'static str,
    /// Vectors in segments whose HNSW index is built (sparse vectors included).
    pub indexed_vectors_count: u64,
    pub points_count: u64,
    /// Sealed segments plus the appendable one.
    pub segments_count: u64,
    pub config: CollectionConfigOut,
    /// Payload indexes by key.
    pub payload_schema: BTreeMap<String, PayloadIndexInfo>,
}

impl From<&rvdb_engine::CollectionInfo> for CollectionInfo {
    fn from(info: &rvdb_engine::CollectionInfo) -> Self {
        let s = &info.config.settings;
        let space = |p: &rvdb_engine::VectorParams| VectorParamsOut {
            size: p.size.map(|d| d as u64),
            distance: p.distance.as_str(),
            hnsw_config: p.hnsw_config.clone(),
            multivector_config: p.multivector.map(|c| MultiVectorConfigOut {
                comparator: c.as_str(),
            }),
            extra: p.extra.clone(),
        };
        let vectors = match &info.config.vectors {
            rvdb_engine::VectorsConfig::Single(p) => VectorsConfigOut::Single(space(p)),
            rvdb_engine::VectorsConfig::Named(m) => {
                VectorsConfigOut::Named(m.iter().map(|(k, p)| (k.clone(), space(p))).collect())
            }
        };
        CollectionInfo {
            status: info.status,
            optimizer_status: "ok",
            indexed_vectors_count: info.indexed_vectors_count as u64,
            points_count: info.points_count as u64,
            segments_count: info.segments_count as u64,
            config: CollectionConfigOut {
                params: CollectionParamsOut {
                    vectors,
                    sparse_vectors: (!info.config.sparse_vectors.is_empty()).then(|| {
                        info.config
                            .sparse_vectors
                            .iter()
                            .map(|(k, p)| (k.clone(), p.into()))
                            .collect()
                    }),
                    shard_number: s.shard_number,
                    replication_factor: s.replication_factor,
                    write_consistency_factor: s.write_consistency_factor,
                    on_disk_payload: s.on_disk_payload,
                    sharding_method: s.sharding_method,
                    other: s.other_params.clone(),
                },
                hnsw_config: s.hnsw.clone(),
                optimizer_config: s.optimizers.clone(),
                wal_config: s.wal.clone(),
                quantization_config: s.quantization.clone(),
                strict_mode_config: s.strict_mode.clone(),
                metadata: s.metadata.clone(),
            },
            payload_schema: info
                .payload_schema
                .iter()
                .map(|f| {
                    let kind = f.data_type.as_str();
                    let info = PayloadIndexInfo {
                        data_type: kind,
                        params: PayloadIndexParams { type_: kind },
                        points: f.points as u64,
                    };
                    (f.field.clone(), info)
                })
                .collect(),
        }
    }
}

/// The stored configuration, Qdrant's defaults filled in.
#[derive(ToSchema, Serialize)]
pub(crate) struct CollectionConfigOut {
    pub params: CollectionParamsOut,
    pub hnsw_config: rvdb_engine::HnswConfig,
    pub optimizer_config: rvdb_engine::OptimizersConfig,
    pub wal_config: rvdb_engine::WalConfig,
    pub quantization_config: Option<rvdb_engine::QuantizationConfig>,
    #[schema(value_type = Object)]
    pub strict_mode_config: serde_json::Map<String, Value>,
    /// Only when the collection has metadata.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Map<String, Value>>,
}

#[derive(ToSchema, Serialize)]
pub(crate) struct CollectionParamsOut {
    pub vectors: VectorsConfigOut,
    /// Only when the collection has sparse vectors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sparse_vectors: Option<BTreeMap<String, SparseVectorParamsOut>>,
    pub shard_number: u32,
    pub replication_factor: u32,
    pub write_consistency_factor: u32,
    pub on_disk_payload: bool,
    /// Only when given at creation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sharding_method: Option<ShardingMethod>,
    /// Parameters set by a PATCH (`read_fan_out_factor`, …), as given.
    #[serde(flatten)]
    #[schema(ignore)]
    pub other: serde_json::Map<String, Value>,
}

/// The unnamed vector space, or the named ones.
#[derive(ToSchema, Serialize)]
#[serde(untagged)]
pub(crate) enum VectorsConfigOut {
    Single(VectorParamsOut),
    Named(BTreeMap<String, VectorParamsOut>),
}

/// A vector space as stored (the other settings given at creation are reported too).
#[derive(ToSchema, Serialize)]
pub(crate) struct VectorParamsOut {
    /// `null` until the first point of a seed-created collection fixes it.
    pub size: Option<u64>,
    /// `Cosine`, `Euclid`, `Dot` or `Manhattan`.
    pub distance: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hnsw_config: Option<HnswConfigDiff>,
    /// Set for a multivector space.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<MultiVectorConfig>)]
    pub multivector_config: Option<MultiVectorConfigOut>,
    /// `on_disk`, `quantization_config`, `datatype`, `memory`, as given.
    #[serde(flatten)]
    #[schema(ignore)]
    pub extra: serde_json::Map<String, Value>,
}

/// A multivector space's config as shown: `{"comparator": "max_sim"}`.
#[derive(Serialize)]
pub(crate) struct MultiVectorConfigOut {
    pub comparator: &'static str,
}

/// One payload index.
#[derive(ToSchema, Serialize)]
pub(crate) struct PayloadIndexInfo {
    #[schema(value_type = PayloadSchemaType)]
    pub data_type: &'static str,
    pub params: PayloadIndexParams,
    /// Points with a value at the key.
    pub points: u64,
}

/// The parameters of a payload index: its type.
#[derive(ToSchema, Serialize)]
pub(crate) struct PayloadIndexParams {
    #[serde(rename = "type")]
    #[schema(value_type = PayloadSchemaType)]
    pub type_: &'static str,
}

/// GET /collections.
#[derive(ToSchema, Serialize)]
pub(crate) struct CollectionsList {
    pub collections: Vec<CollectionDescription>,
}

#[derive(ToSchema, Serialize)]
pub(crate) struct CollectionDescription {
    pub name: String,
}

/// GET /collections/{name}/exists.
#[derive(ToSchema, Serialize)]
pub(crate) struct CollectionExistence {
    /// True for a collection or an alias of one.
    pub exists: bool,
}

/// POST /collections/aliases: actions applied in order, all or none.
#[derive(ToSchema, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"actions": [{"create_alias": {"collection_name": "docs", "alias_name": "live"}}]}))]
pub(crate) struct ChangeAliasesOperation {
    pub actions: Vec<AliasOperation>,
}

/// One action: an object with one key naming it.
#[derive(ToSchema, Debug)]
#[serde(untagged)]
pub(crate) enum AliasOperation {
    Create(CreateAliasOperation),
    Delete(DeleteAliasOperation),
    Rename(RenameAliasOperation),
}

impl<'de> Deserialize<'de> for AliasOperation {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{Error, MapAccess, Visitor};
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = AliasOperation;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("{create_alias|delete_alias|rename_alias: …}")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AliasOperation, A::Error> {
                let op = match map.next_key::<String>()?.as_deref() {
                    Some("create_alias") => AliasOperation::Create(CreateAliasOperation {
                        create_alias: map.next_value()?,
                    }),
                    Some("delete_alias") => AliasOperation::Delete(DeleteAliasOperation {
                        delete_alias: map.next_value()?,
                    }),
                    Some("rename_alias") => AliasOperation::Rename(RenameAliasOperation {
                        rename_alias: map.next_value()?,
                    }),
                    _ => {
                        return Err(A::Error::custom(
                            "expected create_alias, delete_alias or rename_alias",
                        ))
                    }
                };
                if map.next_key::<serde::de::IgnoredAny>()?.is_some() {
                    return Err(A::Error::custom("one action per object"));
                }
                Ok(op)
            }
        }
        d.deserialize_map(V)
    }
}

impl From<AliasOperation> for rvdb_engine::AliasAction {
    fn from(op: AliasOperation) -> Self {
        match op {
            AliasOperation::Create(c) => rvdb_engine::AliasAction::Create {
                alias: c.create_alias.alias_name,
                collection: c.create_alias.collection_name,
            },
            AliasOperation::Delete(d) => rvdb_engine::AliasAction::Delete {
                alias: d.delete_alias.alias_name,
            },
            AliasOperation::Rename(r) => rvdb_engine::AliasAction::Rename {
                old: r.rename_alias.old_alias_name,
                new: r.rename_alias.new_alias_name,
            },
        }
    }
}

#[derive(ToSchema, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateAliasOperation {
    pub create_alias: CreateAlias,
}

#[derive(ToSchema, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateAlias {
    pub collection_name: String,
    pub alias_name: String,
}

#[derive(ToSchema, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeleteAliasOperation {
    pub delete_alias: DeleteAlias,
}

#[derive(ToSchema, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeleteAlias {
    pub alias_name: String,
}

#[derive(ToSchema, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct RenameAliasOperation {
    pub rename_alias: RenameAlias,
}

#[derive(ToSchema, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct RenameAlias {
    pub old_alias_name: String,
    pub new_alias_name: String,
}

/// GET /aliases and GET /collections/{name}/aliases.
#[derive(ToSchema, Serialize)]
pub(crate) struct CollectionsAliases {
    pub aliases: Vec<AliasDescription>,
}

#[derive(ToSchema, Serialize)]
pub(crate) struct AliasDescription {
    pub alias_name: String,
    pub collection_name: String,
}

/// A payload index type.
#[derive(ToSchema, Debug, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub(crate) enum PayloadSchemaType {
    Keyword,
    Integer,
    Float,
    Bool,
    Geo,
    Text,
    Uuid,
    Datetime,
}

impl<'de> Deserialize<'de> for PayloadSchemaType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        let kind = rvdb_engine::PayloadSchemaType::parse(&name).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown index type `{name}`; expected keyword, integer, float, bool, geo, text, uuid or datetime"
            ))
        })?;
        use rvdb_engine::PayloadSchemaType as E;
        Ok(match kind {
            E::Keyword => PayloadSchemaType::Keyword,
            E::Integer => PayloadSchemaType::Integer,
            E::Float => PayloadSchemaType::Float,
            E::Bool => PayloadSchemaType::Bool,
            E::Geo => PayloadSchemaType::Geo,
            E::Text => PayloadSchemaType::Text,
            E::Uuid => PayloadSchemaType::Uuid,
            E::Datetime => PayloadSchemaType::Datetime,
        })
    }
}

impl From<PayloadSchemaType> for rvdb_engine::PayloadSchemaType {
    fn from(t: PayloadSchemaType) -> Self {
        use rvdb_engine::PayloadSchemaType as E;
        match t {
            PayloadSchemaType::Keyword => E::Keyword,
            PayloadSchemaType::Integer => E::Integer,
            PayloadSchemaType::Float => E::Float,
            PayloadSchemaType::Bool => E::Bool,
            PayloadSchemaType::Geo => E::Geo,
            PayloadSchemaType::Text => E::Text,
            PayloadSchemaType::Uuid => E::Uuid,
            PayloadSchemaType::Datetime => E::Datetime,
        }
    }
}

/// PUT /collections/{name}/index.
#[derive(ToSchema, Deserialize, Debug)]
#[schema(example = json!({"field_name": "city", "field_schema": "keyword"}))]
pub(crate) struct CreateFieldIndex {
    pub field_name: String,
    pub field_schema: PayloadFieldSchema,
}

/// An index type, or `{"type": …, …}` (the other parameters are accepted).
#[derive(ToSchema, Debug)]
#[serde(untagged)]
pub(crate) enum PayloadFieldSchema {
    Type(PayloadSchemaType),
    Params(PayloadSchemaParams),
}

impl PayloadFieldSchema {
    pub(crate) fn kind(&self) -> rvdb_engine::PayloadSchemaType {
        match self {
            PayloadFieldSchema::Type(t)
            | PayloadFieldSchema::Params(PayloadSchemaParams { type_: t }) => (*t).into(),
        }
    }
}

impl<'de> Deserialize<'de> for PayloadFieldSchema {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{value, MapAccess, Visitor};
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = PayloadFieldSchema;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an index type such as \"keyword\", or {\"type\": …}")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<PayloadFieldSchema, E> {
                PayloadSchemaType::deserialize(value::StrDeserializer::<E>::new(v))
                    .map(PayloadFieldSchema::Type)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<PayloadFieldSchema, A::Error> {
                PayloadSchemaParams::deserialize(value::MapAccessDeserializer::new(map))
                    .map(PayloadFieldSchema::Params)
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(ToSchema, Deserialize, Debug)]
pub(crate) struct PayloadSchemaParams {
    #[serde(rename = "type")]
    pub type_: PayloadSchemaType,
}

/// GET /: the server's name and versions (not in the envelope).
#[derive(ToSchema, Serialize)]
pub(crate) struct RootInfo {
    pub title: String,
    /// The Qdrant API version this server implements.
    pub version: String,
    pub rustvecdb_version: String,
}

/// GET /health.
#[derive(ToSchema, Serialize)]
pub(crate) struct HealthInfo {
    /// Always `ok`.
    pub status: String,
    pub title: String,
    pub version: String,
}

/// GET /stats.
#[derive(ToSchema, Serialize)]
pub(crate) struct DatabaseStats {
    pub collections_count: u64,
    pub total_points: u64,
    /// `memory` or `disk`.
    pub storage: &'static str,
    pub storage_path: Option<String>,
    pub collections: Vec<CollectionSummary>,
    pub uptime_seconds: u64,
    pub version: &'static str,
}

impl DatabaseStats {
    pub(crate) fn of(s: rvdb_engine::DatabaseStats, uptime_seconds: u64) -> Self {
        DatabaseStats {
            collections_count: s.collections_count as u64,
            total_points: s.total_points as u64,
            storage: s.storage,
            storage_path: s.storage_path.map(|p| p.display().to_string()),
            collections: s
                .collections
                .into_iter()
                .map(|c| CollectionSummary {
                    name: c.name,
                    distance: c.distance,
                    dim: c.dim.map(|d| d as u64),
                    vectors: c.vectors,
                    points_count: c.points_count as u64,
                    wal_bytes: c.wal_bytes,
                    segments_count: c.segments_count as u64,
                    status: c.status,
                    indexed_vectors_count: c.indexed_vectors_count as u64,
                    problems: c.problems,
                })
                .collect(),
            uptime_seconds,
            version: env!("CARGO_PKG_VERSION"),
        }
    }
}

/// One collection in GET /stats.
#[derive(ToSchema, Serialize)]
pub(crate) struct CollectionSummary {
    pub name: String,
    /// The distance of the unnamed vector (or of the first named one).
    pub distance: &'static str,
    /// Its dimension, once known.
    pub dim: Option<u64>,
    /// Every vector space as `[name, distance, dimension or null]` (name `""`: the unnamed).
    #[schema(value_type = Vec<Vec<Value>>)]
    pub vectors: Vec<(String, &'static str, Option<usize>)>,
    pub points_count: u64,
    pub wal_bytes: u64,
    pub segments_count: u64,
    /// `green`, `yellow` (the optimizer has work) or `red` (see `problems`).
    pub status: &'static str,
    pub indexed_vectors_count: u64,
    /// What went wrong when it was loaded (quarantined segments).
    pub problems: Vec<String>,
}

envelope! {
    CollectionInfoResponse => CollectionInfo;
    CollectionsListResponse => CollectionsList;
    CollectionExistenceResponse => CollectionExistence;
    CollectionsAliasesResponse => CollectionsAliases;
    HealthResponse => HealthInfo;
    StatsResponse => DatabaseStats;
}

envelope! {
    /// GET /telemetry.
    TelemetryResponse => crate::telemetry::TelemetryData;
}

/// PUT /collections/{name}/vectors/{vector_name}: the new vector space, dense or sparse (Qdrant's
/// `VectorNameConfig`). Only the properties that define the space are given here; the others
/// take the collection's settings.
#[derive(ToSchema, Debug)]
#[schema(example = json!({"dense": {"size": 768, "distance": "Cosine"}}))]
pub(crate) enum VectorNameConfig {
    /// A dense vector space.
    #[schema(rename = "dense")]
    Dense(DenseVectorConfig),
    /// A sparse vector space.
    #[schema(rename = "sparse")]
    Sparse(SparseVectorConfig),
}

impl<'de> Deserialize<'de> for VectorNameConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let m = serde_json::Map::<String, Value>::deserialize(d)?;
        if m.len() != 1 {
            return Err(D::Error::custom(
                "expected exactly one of `dense` ({\"size\", \"distance\"}) or `sparse` ({\"modifier\"})",
            ));
        }
        let (key, v) = m.into_iter().next().expect("one entry");
        let named = |e: serde_path_to_error::Error<serde_json::Error>| {
            D::Error::custom(format!("{key}: {}", crate::extract::path_message(e)))
        };
        match key.as_str() {
            "dense" => serde_path_to_error::deserialize(v)
                .map(VectorNameConfig::Dense)
                .map_err(named),
            "sparse" => serde_path_to_error::deserialize(v)
                .map(VectorNameConfig::Sparse)
                .map_err(named),
            other => Err(D::Error::custom(format!(
                "unknown field `{other}`, expected `dense` or `sparse`"
            ))),
        }
    }
}

/// A new dense vector space (Qdrant's `DenseVectorConfig`).
#[derive(ToSchema, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct DenseVectorConfig {
    /// Dimension.
    #[schema(minimum = 1, maximum = 65536)]
    pub size: u64,
    #[schema(value_type = Distance)]
    pub distance: DistanceName,
    /// As in a collection's vector params.
    #[schema(value_type = Option<Object>)]
    pub multivector_config: Option<Value>,
    /// As in a collection's vector params.
    pub datatype: Option<Datatype>,
}

/// A new sparse vector space (Qdrant's `SparseVectorConfig`).
#[derive(ToSchema, Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct SparseVectorConfig {
    /// `idf` or `none`, as in a collection's sparse vector params.
    pub modifier: Option<Modifier>,
    /// As the index's `datatype`: only `float32`.
    pub datatype: Option<Datatype>,
}

impl VectorNameConfig {
    /// The engine's new space; a dense one is checked as a collection's vector params are.
    pub(crate) fn into_engine(self) -> Result<rvdb_engine::NewVectorSpace, ApiError> {
        Ok(match self {
            VectorNameConfig::Dense(d) => {
                let params = VectorParams {
                    size: d.size,
                    distance: d.distance,
                    on_disk: None,
                    hnsw_config: None,
                    quantization_config: None,
                    datatype: d.datatype,
                    memory: None,
                    multivector_config: d.multivector_config,
                };
                rvdb_engine::NewVectorSpace::Dense(params.into_engine("dense")?)
            }
            VectorNameConfig::Sparse(s) => {
                let params = SparseVectorParams {
                    index: s.datatype.map(|d| SparseIndexParams {
                        datatype: Some(d),
                        ..SparseIndexParams::default()
                    }),
                    modifier: s.modifier,
                };
                rvdb_engine::NewVectorSpace::Sparse(params.into_engine())
            }
        })
    }
}
