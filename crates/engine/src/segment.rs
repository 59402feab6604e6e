//! The in-memory appendable segment: vectors packed contiguously for the scan, with parallel
//! arrays of ids, versions and payloads, and an ordered id map.
//!
//! Deletes swap the last row into the hole, so the rows stay dense and a scan never skips
//! tombstones. (Sealed, indexed segments with tombstones come with the HNSW work.)

use std::collections::BTreeMap;

use rvdb_filter::{Payload, PointId};

#[derive(Debug, Default)]
pub(crate) struct Segment {
    dim: Option<usize>,
    /// `len() * dim` values; row `i` belongs to `ids[i]`.
    vectors: Vec<f32>,
    ids: Vec<PointId>,
    versions: Vec<u64>,
    payloads: Vec<Payload>,
    /// Id → row, in Qdrant's id order (integers, then UUIDs).
    index: BTreeMap<PointId, u32>,
}

impl Segment {
    pub(crate) fn new(dim: Option<usize>) -> Self {
        Segment {
            dim,
            ..Segment::default()
        }
    }

    pub(crate) fn dim(&self) -> Option<usize> {
        self.dim
    }

    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }

    /// All vectors, row-major.
    pub(crate) fn vectors(&self) -> &[f32] {
        &self.vectors
    }

    pub(crate) fn row(&self, i: usize) -> (PointId, u64, &[f32], &Payload) {
        let d = self.dim.unwrap_or(0);
        (
            self.ids[i],
            self.versions[i],
            &self.vectors[i * d..(i + 1) * d],
            &self.payloads[i],
        )
    }

    pub(crate) fn id(&self, i: usize) -> PointId {
        self.ids[i]
    }

    pub(crate) fn payload(&self, i: usize) -> &Payload {
        &self.payloads[i]
    }

    pub(crate) fn find(&self, id: PointId) -> Option<usize> {
        self.index.get(&id).map(|&r| r as usize)
    }

    /// Rows in id order, starting at the `skip`-th.
    pub(crate) fn rows_in_id_order(&self, skip: usize) -> impl Iterator<Item = usize> + '_ {
        self.index.values().skip(skip).map(|&r| r as usize)
    }

    /// Inserts or overwrites a point. The vector must have the segment's dimension (fixed by
    /// the first point when the segment has none yet); the caller validated that.
    pub(crate) fn upsert(&mut self, id: PointId, vector: &[f32], payload: Payload, version: u64) {
        let d = *self.dim.get_or_insert(vector.len());
        debug_assert_eq!(d, vector.len());
        match self.find(id) {
            Some(r) => {
                self.vectors[r * d..(r + 1) * d].copy_from_slice(vector);
                self.payloads[r] = payload;
                self.versions[r] = version;
            }
            None => {
                let r = u32::try_from(self.ids.len()).expect("fewer than 2^32 points per segment");
                self.vectors.extend_from_slice(vector);
                self.ids.push(id);
                self.versions.push(version);
                self.payloads.push(payload);
                self.index.insert(id, r);
            }
        }
    }

    /// Removes a point; returns whether it existed.
    pub(crate) fn delete(&mut self, id: PointId) -> bool {
        let Some(r) = self.index.remove(&id).map(|r| r as usize) else {
            return false;
        };
        let d = self.dim.unwrap_or(0);
        let last = self.ids.len() - 1;
        if r != last {
            self.vectors.copy_within(last * d..(last + 1) * d, r * d);
            self.index.insert(self.ids[last], r as u32);
        }
        self.vectors.truncate(last * d);
        self.ids.swap_remove(r);
        self.versions.swap_remove(r);
        self.payloads.swap_remove(r);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deletes_keep_rows_dense_and_the_id_map_true() {
        let mut s = Segment::new(None);
        for i in 0..10u64 {
            s.upsert(PointId::Num(i), &[i as f32, 0.0], Payload::new(), i);
        }
        assert_eq!(s.dim(), Some(2));
        assert!(s.delete(PointId::Num(3)));
        assert!(!s.delete(PointId::Num(3)));
        assert!(s.delete(PointId::Num(9)));
        assert_eq!(s.len(), 8);
        for i in [0u64, 1, 2, 4, 5, 6, 7, 8] {
            let r = s.find(PointId::Num(i)).unwrap();
            assert_eq!(s.row(r).2, &[i as f32, 0.0]);
        }
        let order: Vec<PointId> = s.rows_in_id_order(0).map(|r| s.id(r)).collect();
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(order, sorted);
        s.upsert(PointId::Num(4), &[40.0, 1.0], Payload::new(), 20);
        let r = s.find(PointId::Num(4)).unwrap();
        assert_eq!(s.row(r).1, 20);
        assert_eq!(s.row(r).2, &[40.0, 1.0]);
        assert_eq!(s.len(), 8);
    }
}
