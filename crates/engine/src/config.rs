//! A collection's persisted configuration (`config.json`): its vector spaces, settings and
//! payload index definitions (format: docs/durability.md §8).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use rvdb_filter::PayloadSchemaType;
use rvdb_vector::Distance;

use crate::settings::{CollectionSettings, HnswConfigDiff};
use rvdb_index::{SparseIndexParams, SparseModifier};

use crate::types::{
    CollectionConfig, MultiVectorComparator, SparseVectorParams, VectorParams, VectorsConfig,
};
use crate::{EngineError, Result};

const FORMAT: u32 = 2;

#[derive(Serialize, Deserialize)]
struct SpaceFile {
    size: Option<usize>,
    distance: String,
    /// The multivector comparator (`max_sim`); absent for a space of single vectors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    multivector: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hnsw_config: Option<HnswConfigDiff>,
    #[serde(default)]
    extra: Map<String, Value>,
}

#[derive(Serialize, Deserialize)]
struct SparseSpaceFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    full_scan_threshold: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    on_disk: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    datatype: Option<String>,
    /// "idf" or "none"; absent when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    modifier: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct ConfigFile {
    format: u32,
    /// `true`: one unnamed vector, stored under the name "".
    single: bool,
    vectors: BTreeMap<String, SpaceFile>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    sparse_vectors: BTreeMap<String, SparseSpaceFile>,
    #[serde(default)]
    settings: Map<String, Value>,
    #[serde(default)]
    payload_schema: BTreeMap<String, String>,
}

/// Everything `config.json` holds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StoredConfig {
    pub config: CollectionConfig,
    pub payload_schema: BTreeMap<String, PayloadSchemaType>,
}

impl StoredConfig {
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let vectors = self
            .config
            .vectors
            .spaces()
            .into_iter()
            .map(|(name, p)| {
                (
                    name.to_string(),
                    SpaceFile {
                        size: p.size,
                        distance: p.distance.as_str().to_string(),
                        multivector: p.multivector.map(|m| m.as_str().to_string()),
                        hnsw_config: p.hnsw_config.clone(),
                        extra: p.extra.clone(),
                    },
                )
            })
            .collect();
        let file = ConfigFile {
            format: FORMAT,
            single: self.config.vectors.is_single(),
            vectors,
            sparse_vectors: self
                .config
                .sparse_vectors
                .iter()
                .map(|(name, p)| {
                    (
                        name.clone(),
                        SparseSpaceFile {
                            full_scan_threshold: p.index.full_scan_threshold,
                            on_disk: p.index.on_disk,
                            datatype: p.datatype.clone(),
                            modifier: p.modifier.map(|m| {
                                match m {
                                    SparseModifier::Idf => "idf",
                                    SparseModifier::None => "none",
                                }
                                .to_string()
                            }),
                        },
                    )
                })
                .collect(),
            settings: match serde_json::to_value(&self.config.settings) {
                Ok(Value::Object(m)) => m,
                _ => unreachable!("settings serialize to an object"),
            },
            payload_schema: self
                .payload_schema
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().to_string()))
                .collect(),
        };
        serde_json::to_vec_pretty(&file).expect("config serializes")
    }

    pub(crate) fn read(vfs: &dyn rvdb_storage::Vfs, path: &Path) -> Result<StoredConfig> {
        let bytes = vfs
            .read(path)
            .map_err(|source| rvdb_storage::StorageError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        let corrupt = |reason: String| EngineError::Corrupt {
            what: path.display().to_string(),
            reason,
        };
        let file: ConfigFile =
            serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
        if file.format != FORMAT {
            return Err(corrupt(format!(
                "unsupported format version {}",
                file.format
            )));
        }
        let mut spaces = BTreeMap::new();
        let what = path.display().to_string();
        for (name, mut s) in file.vectors {
            // before typed settings, a vector's hnsw_config was kept among its other settings
            let hnsw_config = s.hnsw_config.or_else(|| {
                s.extra
                    .remove("hnsw_config")
                    .and_then(|v| HnswConfigDiff::from_stored(v, &what))
            });
            let distance = Distance::parse(&s.distance)
                .ok_or_else(|| corrupt(format!("unknown distance {}", s.distance)))?;
            let multivector = match s.multivector.as_deref() {
                None => None,
                Some(m) => Some(
                    MultiVectorComparator::parse(m)
                        .ok_or_else(|| corrupt(format!("unknown multivector comparator {m}")))?,
                ),
            };
            spaces.insert(
                name,
                VectorParams {
                    size: s.size,
                    distance,
                    multivector,
                    hnsw_config,
                    extra: s.extra,
                },
            );
        }
        let vectors = if file.single {
            let p = spaces
                .remove("")
                .ok_or_else(|| corrupt("single-vector config without the unnamed vector".into()))?;
            VectorsConfig::Single(p)
        } else {
            VectorsConfig::Named(spaces)
        };
        let mut sparse_vectors = BTreeMap::new();
        for (name, s) in file.sparse_vectors {
            let modifier = match s.modifier.as_deref() {
                None => None,
                Some("idf") => Some(SparseModifier::Idf),
                Some("none") => Some(SparseModifier::None),
                Some(m) => return Err(corrupt(format!("unknown sparse modifier {m}"))),
            };
            sparse_vectors.insert(
                name,
                SparseVectorParams {
                    index: SparseIndexParams {
                        full_scan_threshold: s.full_scan_threshold,
                        on_disk: s.on_disk,
                    },
                    datatype: s.datatype,
                    modifier,
                },
            );
        }
        let mut payload_schema = BTreeMap::new();
        for (field, t) in file.payload_schema {
            let t = PayloadSchemaType::parse(&t)
                .ok_or_else(|| corrupt(format!("unknown index type {t}")))?;
            payload_schema.insert(field, t);
        }
        Ok(StoredConfig {
            config: CollectionConfig {
                vectors,
                sparse_vectors,
                settings: CollectionSettings::from_stored(file.settings, &what),
            },
            payload_schema,
        })
    }
}
