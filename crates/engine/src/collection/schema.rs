//! Config changes (Qdrant's PATCH) and payload indexes.

use std::collections::BTreeMap;

use rvdb_filter::{JsonPath, PayloadSchemaType};

use super::{Collection, CONFIG_FILE};
use crate::config::StoredConfig;
use crate::settings::{SettingsDiff, VectorParamsDiff};
use crate::types::{SparseVectorParams, VectorsConfig};
use crate::{EngineError, Result, UpdateResult};

impl Collection {
    /// Rewrites `config.json` (under the writer lock, so config changes are serialised).
    pub(super) fn store_config(&self, stored: &StoredConfig) -> Result<()> {
        if let Some(dir) = &self.dir {
            rvdb_storage::atomic_write_in(&*self.vfs, &dir.join(CONFIG_FILE), &stored.to_bytes())?;
        }
        Ok(())
    }

    /// Changes settings (Qdrant's PATCH): `settings` over the collection's, and per named
    /// vector (`""` for the unnamed one) its diff. Validated in full before anything changes.
    pub fn update_config(
        &self,
        settings: &SettingsDiff,
        vectors: &BTreeMap<String, VectorParamsDiff>,
    ) -> Result<()> {
        self.update_config_with_sparse(settings, vectors, &BTreeMap::new())
    }

    /// [`Self::update_config`], and per sparse vector the given fields of its params
    /// (`modifier`, and each given `index` field, as Qdrant updates them; the rest stays).
    pub fn update_config_with_sparse(
        &self,
        settings: &SettingsDiff,
        vectors: &BTreeMap<String, VectorParamsDiff>,
        sparse: &BTreeMap<String, SparseVectorParams>,
    ) -> Result<()> {
        let _w = self.writer.lock();
        let mut stored = self.config.read().clone();
        for (name, diff) in vectors {
            let space = match &mut stored.config.vectors {
                VectorsConfig::Single(p) if name.is_empty() => p,
                VectorsConfig::Named(m) => m.get_mut(name).ok_or_else(|| {
                    EngineError::bad(format!("Not existing vector name error: {name}"))
                })?,
                VectorsConfig::Single(_) => {
                    return Err(EngineError::bad(format!(
                        "Not existing vector name error: {name}"
                    )))
                }
            };
            let at = if name.is_empty() {
                "vectors".to_string()
            } else {
                format!("vectors.{name}")
            };
            diff.apply(space, &at)?;
        }
        for (name, diff) in sparse {
            let p = stored.config.sparse_vectors.get_mut(name).ok_or_else(|| {
                EngineError::bad(format!("Not existing vector name error: {name}"))
            })?;
            if diff.modifier.is_some() {
                p.modifier = diff.modifier;
            }
            if diff.index.full_scan_threshold.is_some() {
                p.index.full_scan_threshold = diff.index.full_scan_threshold;
            }
            if diff.index.on_disk.is_some() {
                p.index.on_disk = diff.index.on_disk;
            }
            if diff.datatype.is_some() {
                diff.check_datatype(&format!("sparse_vectors.{name}.index.datatype"))?;
                p.datatype = diff.datatype.clone();
            }
        }
        stored.config.settings = stored.config.settings.apply(settings)?;
        self.store_config(&stored)?;
        *self.config.write() = stored;
        Ok(())
    }

    /// Creates (or replaces) a payload index on `field`.
    pub fn create_index(&self, field: &str, kind: PayloadSchemaType) -> Result<UpdateResult> {
        JsonPath::parse(field).map_err(|e| EngineError::bad(format!("field_name: {e}")))?;
        let w = self.writer.lock();
        let mut stored = self.config.read().clone();
        stored.payload_schema.insert(field.to_string(), kind);
        {
            let mut segs = self.points.write();
            let bad = |e: rvdb_filter::FilterError| EngineError::bad(e.to_string());
            let (index, points) = segs.appendable.payload_index_mut();
            index.create_field(field, kind, points).map_err(bad)?;
            for s in &segs.sealed {
                let points = (0..s.data.len()).map(|r| (s.data.id(r), s.data.payload(r)));
                s.index
                    .write()
                    .create_field(field, kind, points)
                    .map_err(bad)?;
            }
        }
        self.store_config(&stored)?;
        *self.config.write() = stored;
        Ok(UpdateResult::completed(w.last_seq))
    }

    /// Drops the payload index on `field` (a no-op if there is none).
    pub fn delete_index(&self, field: &str) -> Result<UpdateResult> {
        let w = self.writer.lock();
        let mut stored = self.config.read().clone();
        stored.payload_schema.remove(field);
        {
            let mut segs = self.points.write();
            segs.appendable.payload_index_mut().0.delete_field(field);
            for s in &segs.sealed {
                s.index.write().delete_field(field);
            }
        }
        self.store_config(&stored)?;
        *self.config.write() = stored;
        Ok(UpdateResult::completed(w.last_seq))
    }
}
