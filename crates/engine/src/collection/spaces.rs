//! Vector spaces added to or dropped from an existing collection (Qdrant's
//! `PUT`/`DELETE /collections/{name}/vectors/{vector_name}`).
//!
//! Adding a space changes only the config: points written before it simply have no vector in
//! it. Dropping one removes its values and graphs everywhere, and makes that durable before the
//! config changes: each sealed segment holding the space is replaced by a copy without it
//! (under a new id, so its files are new too), the appendable segment drops its column, then a
//! flush writes the new segments and `state.bin` and drops the log and the old segment files.
//! Only then is `config.json` rewritten. A crash before the flush finishes leaves the old state
//! and the old config; a crash after it leaves a config naming a space no segment holds (an
//! empty space, the drop unacknowledged). Dropped values can never come back: no file that holds
//! them stays referenced, so a space created later under the same name starts empty.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{Collection, MAX_DIM};
use crate::segments::Sealed;
use crate::types::{SparseVectorParams, VectorParams, VectorsConfig, DEFAULT_VECTOR};
use crate::{EngineError, Result, UpdateResult};

/// A vector space to add: dense (with its size and distance, a multivector space when its
/// `multivector` comparator is set) or sparse.
#[derive(Debug, Clone)]
pub enum NewVectorSpace {
    Dense(VectorParams),
    Sparse(SparseVectorParams),
}

impl Collection {
    /// Adds a vector space named `name`. Refused when the name is taken (by a dense or a sparse
    /// space), is empty, or the collection has one unnamed vector (its points' vectors are not
    /// named, so another space could not be told apart in their bodies).
    pub fn create_vector_name(&self, name: &str, space: NewVectorSpace) -> Result<UpdateResult> {
        if name.is_empty() {
            return Err(EngineError::bad("vector_name: must not be empty"));
        }
        let w = self.writer.lock();
        let mut stored = self.config.read().clone();
        let config = &mut stored.config;
        if config.vectors.get(name).is_some() || config.sparse_vectors.contains_key(name) {
            return Err(EngineError::bad(format!(
                "vector_name: vector `{name}` already exists in collection `{}`",
                self.name
            )));
        }
        match space {
            NewVectorSpace::Dense(params) => {
                let VectorsConfig::Named(m) = &mut config.vectors else {
                    return Err(EngineError::bad(format!(
                        "vector_name: collection `{}` has one unnamed vector; named vectors can be added only to a collection created with named vectors",
                        self.name
                    )));
                };
                let size = params.size;
                let multi = params.multivector.is_some();
                let elem = params.elem();
                params.check_datatype("dense.datatype")?;
                params.check_quantization("dense.quantization_config")?;
                params.check_memory("dense.memory")?;
                match size {
                    Some(d) if (1..=MAX_DIM).contains(&d) => {}
                    _ => {
                        return Err(EngineError::bad(format!(
                            "dense.size: must be between 1 and {MAX_DIM}, got {}",
                            size.unwrap_or(0)
                        )))
                    }
                }
                m.insert(name.to_string(), params);
                if !multi {
                    // a multivector space's column is made by its first multivector
                    self.points.write().appendable.add_space(name, size, elem);
                }
            }
            NewVectorSpace::Sparse(params) => {
                params.check_datatype("sparse.datatype")?;
                config.sparse_vectors.insert(name.to_string(), params);
            }
        }
        self.store_config(&stored)?;
        *self.config.write() = stored;
        Ok(UpdateResult::completed(w.last_seq))
    }

    /// Drops the vector space named `name` (dense or sparse) with every point's vector in it;
    /// see the module docs for how that is made durable. The unnamed vector cannot be dropped.
    pub fn delete_vector_name(&self, name: &str) -> Result<UpdateResult> {
        // no optimizer step runs meanwhile: it could swap in a segment built from the old rows
        let _one = self.optimizer_lock.lock();
        let (stored, seq) = {
            let w = self.writer.lock();
            let mut stored = self.config.read().clone();
            let config = &mut stored.config;
            let dense = match &mut config.vectors {
                VectorsConfig::Named(m) => m.remove(name).is_some(),
                VectorsConfig::Single(_) if name == DEFAULT_VECTOR => {
                    return Err(EngineError::bad(
                        "vector_name: the unnamed vector of a collection cannot be deleted",
                    ))
                }
                VectorsConfig::Single(_) => false,
            };
            let sparse = !dense && config.sparse_vectors.remove(name).is_some();
            if !dense && !sparse {
                return Err(EngineError::bad(format!(
                    "Not existing vector name error: {name}"
                )));
            }
            // the copies are made with searches going on (writes wait: tombstones stay put)
            let schema = stored.payload_schema.clone();
            let sealed = self.points.read().sealed.clone();
            let mut replaced = Vec::with_capacity(sealed.len());
            for s in sealed {
                if s.data.column(name).is_none()
                    && s.data.sparse_column(name).is_none()
                    && s.data.multi_column(name).is_none()
                {
                    replaced.push(s);
                    continue;
                }
                let id = self.next_segment_id.fetch_add(1, Ordering::Relaxed);
                replaced.push(Arc::new(s.without_space(id, name, &schema)?));
            }
            {
                let mut segs = self.points.write();
                segs.appendable.remove_space(name);
                segs.sealed = replaced;
            }
            // writes from here on are checked against the config without the space
            *self.config.write() = stored.clone();
            self.segments_changed.store(true, Ordering::Relaxed);
            (stored, w.last_seq)
        };
        self.flush()?;
        let _w = self.writer.lock();
        self.store_config(&stored)?;
        Ok(UpdateResult::completed(seq))
    }
}

impl Sealed {
    /// A copy of this segment (its rows, tombstones, payload indexes and the graphs of the other
    /// spaces) without the vector space `name`, under segment id `id`, not yet on disk.
    fn without_space(
        &self,
        id: u64,
        name: &str,
        schema: &std::collections::BTreeMap<String, rvdb_filter::PayloadSchemaType>,
    ) -> Result<Sealed> {
        let mut data = self.data.copy_rows();
        data.remove_space(name);
        for (field, kind) in schema {
            let (index, points) = data.payload_index_mut();
            index
                .create_field(field, *kind, points)
                .map_err(|e| EngineError::bad(e.to_string()))?;
        }
        let copy = match self.hnsw.get() {
            Some(graphs) => {
                let mut graphs = graphs.clone();
                graphs.remove(name);
                Sealed::indexed(id, data, graphs)
            }
            None => Sealed::new(id, data),
        };
        for row in (0..self.data.len()).filter(|&r| self.is_deleted(r)) {
            copy.delete_row(row);
        }
        Ok(copy)
    }
}
