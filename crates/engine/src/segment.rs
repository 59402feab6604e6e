//! The in-memory appendable segment: one contiguous column of vectors per vector space, with
//! parallel arrays of ids, versions and payloads, an ordered id map and the payload indexes.
//!
//! Deletes swap the last row into the hole, so the rows stay dense and a scan never skips
//! tombstones. A sealed segment (see `segments.rs`) wraps one of these, frozen, with tombstones
//! and its HNSW indexes.

use std::collections::BTreeMap;

use rvdb_filter::{Filter, Payload, PayloadIndex, PointId};

use crate::datatype::{Datatype, Elem};
use crate::multi::MultiColumn;
use crate::sparse::SparseColumn;
use crate::types::{NamedVectors, Vector};

/// Where a column's values live: in memory (the appendable segment, segments built since the
/// start) or in a memory-mapped segment file (sealed segments loaded at start), in the space's
/// element type (see `datatype.rs`).
#[derive(Clone)]
pub(crate) enum Values {
    F32(Vec<f32>),
    F16(Vec<half::f16>),
    U8(Vec<u8>),
    /// `len` values of type `dtype` at byte `offset` of the mapped file (offset a multiple of
    /// the type's width).
    Mapped {
        map: crate::persist::Mapped,
        offset: usize,
        len: usize,
        dtype: Datatype,
    },
    /// The f32 rows held by a sealed segment's HNSW index, next to each node's links: the one
    /// copy of an indexed space's vectors (see [`Column::back_by_graph`]).
    Graph(std::sync::Arc<rvdb_index::HnswIndex>),
}

impl Default for Values {
    fn default() -> Self {
        Values::F32(Vec::new())
    }
}

impl std::fmt::Debug for Values {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Values::F32(v) => write!(f, "F32({} values)", v.len()),
            Values::F16(v) => write!(f, "F16({} values)", v.len()),
            Values::U8(v) => write!(f, "U8({} values)", v.len()),
            Values::Mapped { len, dtype, .. } => write!(f, "Mapped({len} {dtype:?} values)"),
            Values::Graph(g) => write!(f, "Graph({} rows)", g.len()),
        }
    }
}

/// Runs `$body` with `$v` bound to the owned vector of whichever element type `$values` holds
/// (a mapped column is copied into memory first).
macro_rules! with_owned {
    ($values:expr, $v:ident => $body:expr) => {{
        let values: &mut Values = $values;
        values.own();
        match values {
            Values::F32($v) => $body,
            Values::F16($v) => $body,
            Values::U8($v) => $body,
            Values::Mapped { .. } | Values::Graph(_) => unreachable!("just copied into memory"),
        }
    }};
}

/// An element type's zero, and its encoding of an (already cast) f32.
trait Element: Copy + bytemuck::Pod {
    const ZERO: Self;
    fn encode(x: f32) -> Self;
}

impl Element for f32 {
    const ZERO: f32 = 0.0;
    fn encode(x: f32) -> f32 {
        x
    }
}

impl Element for half::f16 {
    const ZERO: half::f16 = half::f16::ZERO;
    fn encode(x: f32) -> half::f16 {
        half::f16::from_f32(x)
    }
}

impl Element for u8 {
    const ZERO: u8 = 0;
    fn encode(x: f32) -> u8 {
        x as u8
    }
}

fn extend_encoded<T: Element>(out: &mut Vec<T>, v: &[f32]) {
    out.extend(v.iter().map(|&x| T::encode(x)));
}

fn write_encoded<T: Element>(out: &mut [T], v: &[f32]) {
    for (o, &x) in out.iter_mut().zip(v) {
        *o = T::encode(x);
    }
}

impl Values {
    /// Empty values of an element type.
    pub(crate) fn empty(dtype: Datatype) -> Values {
        Values::zeros(dtype, 0)
    }

    /// `len` zeros of an element type.
    pub(crate) fn zeros(dtype: Datatype, len: usize) -> Values {
        match dtype {
            Datatype::Float32 => Values::F32(vec![0.0; len]),
            Datatype::Float16 => Values::F16(vec![half::f16::ZERO; len]),
            Datatype::Uint8 => Values::U8(vec![0; len]),
        }
    }

    pub(crate) fn dtype(&self) -> Datatype {
        match self {
            Values::F32(_) => Datatype::Float32,
            Values::F16(_) => Datatype::Float16,
            Values::U8(_) => Datatype::Uint8,
            Values::Mapped { dtype, .. } => *dtype,
            Values::Graph(g) => match g.element() {
                rvdb_index::Element::F32 => Datatype::Float32,
                rvdb_index::Element::F16 => Datatype::Float16,
                rvdb_index::Element::U8 => Datatype::Uint8,
            },
        }
    }

    /// How many values.
    pub(crate) fn len(&self) -> usize {
        match self {
            Values::F32(v) => v.len(),
            Values::F16(v) => v.len(),
            Values::U8(v) => v.len(),
            Values::Mapped { len, .. } => *len,
            Values::Graph(g) => g.len() * g.dim(),
        }
    }

    /// (heap bytes, mapped file bytes) of the values (a graph's are the graph's own).
    pub(crate) fn storage_bytes(&self) -> (usize, usize) {
        match self {
            Values::F32(v) => (v.capacity() * 4, 0),
            Values::F16(v) => (v.capacity() * 2, 0),
            Values::U8(v) => (v.capacity(), 0),
            Values::Mapped { len, dtype, .. } => (0, len * dtype.width()),
            Values::Graph(g) => (g.memory_bytes(), g.mapped_bytes()),
        }
    }

    /// The values' bytes, as a segment's vectors file holds them, in one or more pieces (one
    /// per row when they live in a graph).
    pub(crate) fn bytes(&self) -> Vec<&[u8]> {
        match self {
            Values::Graph(g) => (0..g.len()).map(|i| g.row_bytes(i)).collect(),
            _ => vec![self.flat_bytes()],
        }
    }

    /// Contiguous bytes of a value type stored in one piece (not a graph).
    fn flat_bytes(&self) -> &[u8] {
        match self {
            Values::F32(v) => bytemuck::cast_slice(v),
            Values::F16(v) => bytemuck::cast_slice(v),
            Values::U8(v) => v,
            Values::Mapped {
                map,
                offset,
                len,
                dtype,
            } => &map[*offset..*offset + len * dtype.width()],
            Values::Graph(_) => unreachable!("a graph's rows are not contiguous"),
        }
    }

    /// The values as f32 without a copy, when they are f32.
    fn as_f32(&self) -> Option<&[f32]> {
        match self {
            Values::F32(v) => Some(v),
            Values::Mapped {
                dtype: Datatype::Float32,
                ..
            } => Some(bytemuck::cast_slice(self.flat_bytes())),
            _ => None,
        }
    }

    /// Values `from..from + out.len()` read as f32 into `out`.
    fn decode(&self, from: usize, out: &mut [f32]) {
        use half::slice::HalfFloatSliceExt;
        let n = out.len();
        if let Values::Graph(g) = self {
            // whole rows or parts of them, row by row
            let d = g.dim().max(1);
            let mut at = from;
            let mut done = 0;
            while done < n {
                let (row, col) = (at / d, at % d);
                let take = (d - col).min(n - done);
                out[done..done + take].copy_from_slice(&g.vector(row)[col..col + take]);
                done += take;
                at += take;
            }
            return;
        }
        match self.dtype() {
            Datatype::Float32 => {
                let v: &[f32] = bytemuck::cast_slice(self.flat_bytes());
                out.copy_from_slice(&v[from..from + n]);
            }
            Datatype::Float16 => {
                let v: &[half::f16] = bytemuck::cast_slice(self.flat_bytes());
                v[from..from + n].convert_to_f32_slice(out);
            }
            Datatype::Uint8 => {
                for (o, &b) in out.iter_mut().zip(&self.flat_bytes()[from..from + n]) {
                    *o = f32::from(b);
                }
            }
        }
    }

    /// Values of an element type copied from their bytes (at any alignment).
    pub(crate) fn from_bytes(dtype: Datatype, bytes: &[u8]) -> Values {
        match dtype {
            Datatype::Float32 => Values::F32(bytemuck::pod_collect_to_vec(bytes)),
            Datatype::Float16 => Values::F16(bytemuck::pod_collect_to_vec(bytes)),
            Datatype::Uint8 => Values::U8(bytes.to_vec()),
        }
    }

    /// Copies mapped values into memory (only the appendable segment, which is never mapped,
    /// is written to in practice).
    fn own(&mut self) {
        match self {
            Values::Mapped { dtype, .. } => *self = Values::from_bytes(*dtype, self.flat_bytes()),
            Values::Graph(_) => {
                let mut all = vec![0.0; self.len()];
                self.decode(0, &mut all);
                *self = Values::F32(all);
            }
            _ => {}
        }
    }

    fn push(&mut self, v: &[f32]) {
        with_owned!(self, d => extend_encoded(d, v))
    }

    fn push_zeros(&mut self, n: usize) {
        with_owned!(self, d => d.resize(d.len() + n, Element::ZERO))
    }

    fn write(&mut self, at: usize, v: &[f32]) {
        with_owned!(self, d => write_encoded(&mut d[at..at + v.len()], v))
    }

    fn zero(&mut self, at: usize, n: usize) {
        with_owned!(self, d => d[at..at + n].fill(Element::ZERO))
    }

    fn copy_within(&mut self, from: std::ops::Range<usize>, to: usize) {
        with_owned!(self, d => d.copy_within(from, to))
    }

    fn truncate(&mut self, len: usize) {
        with_owned!(self, d => d.truncate(len))
    }
}

/// The vectors of one vector space, row-major; absent vectors are zero rows marked absent.
#[derive(Debug, Default, Clone)]
pub(crate) struct Column {
    dim: Option<usize>,
    elem: Elem,
    data: Values,
    present: Vec<bool>,
    /// How many rows have a vector (so "all present" is O(1)).
    present_count: usize,
}

impl Column {
    /// Whether the rows are a graph's (see [`Column::back_by_graph`]).
    pub(crate) fn is_graph_backed(&self) -> bool {
        matches!(self.data, Values::Graph(_))
    }

    /// (heap bytes, mapped file bytes) of the vectors (with their graph's links when the
    /// graph holds them).
    pub(crate) fn storage_bytes(&self) -> (usize, usize) {
        let (heap, mapped) = self.data.storage_bytes();
        (heap + self.present.capacity(), mapped)
    }

    fn new(dim: Option<usize>, elem: Elem, rows: usize) -> Column {
        Column {
            dim,
            elem,
            data: Values::zeros(elem.dtype, rows * dim.unwrap_or(0)),
            present: vec![false; rows],
            present_count: 0,
        }
    }

    pub(crate) fn dim(&self) -> Option<usize> {
        self.dim
    }

    pub(crate) fn elem(&self) -> Elem {
        self.elem
    }

    /// The stored values, in their element type.
    pub(crate) fn values(&self) -> &Values {
        &self.data
    }

    /// Rows `rows` as scoring sees them (see [`Column::get`]), `rows.len() * dim` values:
    /// borrowed when the column is plain f32, else decoded into `buf`.
    pub(crate) fn view_rows<'a>(
        &'a self,
        rows: std::ops::Range<usize>,
        buf: &'a mut Vec<f32>,
    ) -> &'a [f32] {
        let d = self.dim.unwrap_or(0);
        let span = rows.start * d..rows.end * d;
        if let (Some(v), false) = (self.data.as_f32(), self.elem.renorm) {
            return &v[span];
        }
        buf.clear();
        buf.resize(span.len(), 0.0);
        self.data.decode(span.start, buf);
        if self.elem.renorm {
            for row in buf.chunks_exact_mut(d.max(1)) {
                self.elem.view(row);
            }
        }
        buf
    }

    /// All rows in one f32 slice, when the column holds them so (plain f32, in memory or
    /// mapped): what scoring sees, without a copy.
    pub(crate) fn contiguous(&self) -> Option<&[f32]> {
        self.data.as_f32().filter(|_| !self.elem.renorm)
    }

    /// Every row as scoring sees it (what an HNSW index is built from).
    pub(crate) fn view_all(&self) -> std::borrow::Cow<'_, [f32]> {
        let mut buf = Vec::new();
        let n = self.present.len();
        if let (Some(v), false) = (self.data.as_f32(), self.elem.renorm) {
            return std::borrow::Cow::Borrowed(v);
        }
        self.view_rows(0..n, &mut buf);
        std::borrow::Cow::Owned(buf)
    }

    /// Makes `index` the storage of this column's rows when it holds exactly them (a float32
    /// column scored as stored, of the index's dimension and row count): the column's own
    /// copy is dropped, so an indexed space keeps one copy of its vectors, in the graph's
    /// blocks where a search reads them anyway.
    pub(crate) fn back_by_graph(&mut self, index: &std::sync::Arc<rvdb_index::HnswIndex>) {
        if self.can_back(index) {
            self.data = Values::Graph(index.clone());
        }
    }

    /// Whether `index` holds exactly this column's rows as stored (in the same element type;
    /// never for uint8 under Cosine, whose graph holds the rows scaled to unit length).
    fn can_back(&self, index: &rvdb_index::HnswIndex) -> bool {
        !self.elem.renorm
            && self.elem.dtype.element() == index.element()
            && self.dim == Some(index.dim())
            && index.len() == self.present.len()
    }

    /// Which rows have a vector.
    pub(crate) fn present(&self) -> &[bool] {
        &self.present
    }

    /// A column read back from a segment file.
    pub(crate) fn from_parts(
        dim: Option<usize>,
        elem: Elem,
        data: Values,
        present: Vec<bool>,
    ) -> Column {
        let present_count = present.iter().filter(|&&p| p).count();
        Column {
            dim,
            elem,
            data,
            present,
            present_count,
        }
    }

    pub(crate) fn is_present(&self, row: usize) -> bool {
        self.present[row]
    }

    /// Whether every row has a vector.
    pub(crate) fn all_present(&self) -> bool {
        self.present_count == self.present.len()
    }

    /// Row `row` as scoring sees it: the stored values as f32, scaled to unit length for
    /// `uint8` under Cosine. Borrowed from the column when it is plain f32.
    pub(crate) fn get(&self, row: usize) -> Option<std::borrow::Cow<'_, [f32]>> {
        let d = self.dim?;
        if !self.present[row] {
            return None;
        }
        if let (Some(v), false) = (self.data.as_f32(), self.elem.renorm) {
            return Some(std::borrow::Cow::Borrowed(&v[row * d..(row + 1) * d]));
        }
        if let (Values::Graph(g), false) = (&self.data, self.elem.renorm) {
            return Some(g.vector(row));
        }
        let mut out = self.stored(row)?;
        self.elem.view(&mut out);
        Some(std::borrow::Cow::Owned(out))
    }

    /// Row `row`'s stored values as f32 (what a point's vector reads back as).
    pub(crate) fn stored(&self, row: usize) -> Option<Vec<f32>> {
        let d = self.dim?;
        if !self.present[row] {
            return None;
        }
        let mut out = vec![0.0; d];
        self.data.decode(row * d, &mut out);
        Some(out)
    }

    /// The first vector of a space fixes its dimension; earlier rows were absent and zero-width.
    fn fix_dim(&mut self, v: Option<&[f32]>) {
        if let (Some(v), None) = (v, self.dim) {
            self.dim = Some(v.len());
            self.data = Values::zeros(self.elem.dtype, self.present.len() * v.len());
        }
    }

    fn push(&mut self, v: Option<&[f32]>) {
        self.fix_dim(v);
        let d = self.dim.unwrap_or(0);
        match v {
            Some(v) => self.data.push(v),
            None => self.data.push_zeros(d),
        }
        self.present.push(v.is_some());
        self.present_count += usize::from(v.is_some());
    }

    fn set(&mut self, row: usize, v: Option<&[f32]>) {
        self.fix_dim(v);
        let d = self.dim.unwrap_or(0);
        match v {
            Some(v) => self.data.write(row * d, v),
            None => self.data.zero(row * d, d),
        }
        self.present_count =
            self.present_count + usize::from(v.is_some()) - usize::from(self.present[row]);
        self.present[row] = v.is_some();
    }

    fn swap_remove(&mut self, row: usize) {
        let d = self.dim.unwrap_or(0);
        let last = self.present.len() - 1;
        if row != last {
            self.data.copy_within(last * d..(last + 1) * d, row * d);
        }
        self.data.truncate(last * d);
        self.present_count -= usize::from(self.present[row]);
        self.present.swap_remove(row);
    }
}

#[derive(Debug, Default)]
pub(crate) struct Segment {
    columns: BTreeMap<String, Column>,
    /// Sparse vector spaces, created by the first sparse vector written to them.
    sparse: BTreeMap<String, SparseColumn>,
    /// Multivector spaces, created by the first multivector written to them.
    multi: BTreeMap<String, MultiColumn>,
    ids: Vec<PointId>,
    versions: Vec<u64>,
    payloads: Vec<Payload>,
    /// Id → row, in Qdrant's id order (integers, then UUIDs).
    index: BTreeMap<PointId, u32>,
    payload_index: PayloadIndex,
}

impl Segment {
    /// A segment with these vector spaces (a space's dimension may be unknown yet), each with
    /// its element type.
    pub(crate) fn new<'a>(
        spaces: impl IntoIterator<Item = (&'a str, Option<usize>, Elem)>,
    ) -> Self {
        Segment {
            columns: spaces
                .into_iter()
                .map(|(name, dim, elem)| (name.to_string(), Column::new(dim, elem, 0)))
                .collect(),
            ..Segment::default()
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }

    /// A segment read back from its file (payload indexes are built by the caller).
    pub(crate) fn from_parts(
        columns: BTreeMap<String, Column>,
        ids: Vec<PointId>,
        versions: Vec<u64>,
        payloads: Vec<Payload>,
    ) -> Segment {
        let index = ids
            .iter()
            .enumerate()
            .map(|(r, id)| (*id, r as u32))
            .collect();
        Segment {
            columns,
            sparse: BTreeMap::new(),
            multi: BTreeMap::new(),
            ids,
            versions,
            payloads,
            index,
            payload_index: PayloadIndex::default(),
        }
    }

    /// Puts sparse columns in (read back from a segment file).
    pub(crate) fn set_sparse(&mut self, sparse: BTreeMap<String, SparseColumn>) {
        self.sparse = sparse;
    }

    /// Puts multivector columns in (read back from a segment file).
    pub(crate) fn set_multi(&mut self, multi: BTreeMap<String, MultiColumn>) {
        self.multi = multi;
    }

    pub(crate) fn multi_column(&self, name: &str) -> Option<&MultiColumn> {
        self.multi.get(name)
    }

    pub(crate) fn multi_columns(&self) -> impl Iterator<Item = (&str, &MultiColumn)> {
        self.multi.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The sparse columns in their immutable form, the multivector columns compacted (a
    /// segment being sealed).
    pub(crate) fn seal_sparse(&mut self) {
        let rows = self.len();
        for col in self.sparse.values_mut() {
            *col = col.seal(rows);
        }
        for col in self.multi.values_mut() {
            col.compact();
        }
    }

    pub(crate) fn sparse_column(&self, name: &str) -> Option<&SparseColumn> {
        self.sparse.get(name)
    }

    pub(crate) fn sparse_columns(&self) -> impl Iterator<Item = (&str, &SparseColumn)> {
        self.sparse.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub(crate) fn ids(&self) -> &[PointId] {
        &self.ids
    }

    pub(crate) fn versions(&self) -> &[u64] {
        &self.versions
    }

    pub(crate) fn payloads(&self) -> &[Payload] {
        &self.payloads
    }

    /// An empty segment with the same vector spaces (and their fixed dimensions) and the same
    /// indexed payload fields.
    pub(crate) fn empty_like(&self) -> Segment {
        let mut s = Segment::new(
            self.columns
                .iter()
                .map(|(n, c)| (n.as_str(), c.dim, c.elem)),
        );
        for (field, kind, _) in self.payload_index.fields() {
            let _ = s
                .payload_index
                .create_field(&field, kind, std::iter::empty());
        }
        s
    }

    /// A copy of every row (ids, versions, payloads, vectors: a mapped column stays mapped
    /// until written to), without payload indexes: the start of a segment that grows from this
    /// one's rows, in their order.
    pub(crate) fn copy_rows(&self) -> Segment {
        self.copy_rows_backed(&BTreeMap::new())
    }

    /// [`Segment::copy_rows`], with each space that has a graph in `graphs` holding its rows
    /// stored in it instead of copied (see [`Column::back_by_graph`]).
    pub(crate) fn copy_rows_backed(
        &self,
        graphs: &BTreeMap<String, std::sync::Arc<rvdb_index::HnswIndex>>,
    ) -> Segment {
        let columns = self
            .columns
            .iter()
            .map(|(name, c)| {
                let col = match graphs.get(name) {
                    Some(g) if c.can_back(g) => Column {
                        data: Values::Graph(g.clone()),
                        present: c.present.clone(),
                        ..*c
                    },
                    _ => c.clone(),
                };
                (name.clone(), col)
            })
            .collect();
        Segment {
            columns,
            sparse: self.sparse.clone(),
            multi: self.multi.clone(),
            ids: self.ids.clone(),
            versions: self.versions.clone(),
            payloads: self.payloads.clone(),
            index: self.index.clone(),
            payload_index: PayloadIndex::default(),
        }
    }

    /// Puts payload indexes in (read back from a segment's files).
    pub(crate) fn set_payload_index(&mut self, index: PayloadIndex) {
        self.payload_index = index;
    }

    /// Moves the payload indexes out (a sealed segment keeps them behind a lock).
    pub(crate) fn take_payload_index(&mut self) -> PayloadIndex {
        std::mem::take(&mut self.payload_index)
    }

    pub(crate) fn column(&self, name: &str) -> Option<&Column> {
        self.columns.get(name)
    }

    pub(crate) fn columns(&self) -> impl Iterator<Item = (&str, &Column)> {
        self.columns.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Makes each graph the storage of its space's rows where it can (see
    /// [`Column::back_by_graph`]).
    pub(crate) fn back_by_graphs(
        &mut self,
        graphs: &BTreeMap<String, std::sync::Arc<rvdb_index::HnswIndex>>,
    ) {
        for (name, g) in graphs {
            if let Some(c) = self.columns.get_mut(name) {
                c.back_by_graph(g);
            }
        }
    }

    /// Adds an (empty) vector space, e.g. after a collection update; a space it has already
    /// is given `elem` (rows read back from a checkpoint or the log are f32 until then).
    pub(crate) fn add_space(&mut self, name: &str, dim: Option<usize>, elem: Elem) {
        let rows = self.ids.len();
        let col = self
            .columns
            .entry(name.to_string())
            .or_insert_with(|| Column::new(dim, elem, rows));
        if col.elem != elem {
            let mut all = vec![0.0; col.data.len()];
            col.data.decode(0, &mut all);
            let mut data = Values::empty(elem.dtype);
            data.push(&all);
            col.data = data;
            col.elem = elem;
        }
    }

    /// Drops a vector space (dense, sparse or multivector) with every row's vector in it.
    pub(crate) fn remove_space(&mut self, name: &str) {
        self.columns.remove(name);
        self.sparse.remove(name);
        self.multi.remove(name);
    }

    pub(crate) fn id(&self, row: usize) -> PointId {
        self.ids[row]
    }

    pub(crate) fn version(&self, row: usize) -> u64 {
        self.versions[row]
    }

    pub(crate) fn payload(&self, row: usize) -> &Payload {
        &self.payloads[row]
    }

    pub(crate) fn payload_index(&self) -> &PayloadIndex {
        &self.payload_index
    }

    pub(crate) fn payload_index_mut(
        &mut self,
    ) -> (&mut PayloadIndex, impl Iterator<Item = (PointId, &Payload)>) {
        (
            &mut self.payload_index,
            self.ids.iter().copied().zip(self.payloads.iter()),
        )
    }

    pub(crate) fn has_vector(&self, row: usize, name: &str) -> bool {
        self.columns.get(name).is_some_and(|c| c.is_present(row))
            || self.sparse.get(name).is_some_and(|c| c.is_present(row))
            || self.multi.get(name).is_some_and(|c| c.is_present(row))
    }

    /// The point's vector `name`, if it has one.
    pub(crate) fn vector(&self, row: usize, name: &str) -> Option<Vector> {
        if let Some(c) = self.multi.get(name) {
            return c.get_rows(row).map(Vector::Multi);
        }
        match self.columns.get(name) {
            Some(c) => c.stored(row).map(Vector::Dense),
            None => self
                .sparse
                .get(name)
                .and_then(|c| c.get(row))
                .map(|v| Vector::Sparse(v.clone())),
        }
    }

    /// The point's present vectors.
    pub(crate) fn vectors(&self, row: usize) -> NamedVectors {
        let dense = self
            .columns
            .iter()
            .filter_map(|(name, c)| c.stored(row).map(|v| (name.clone(), Vector::Dense(v))));
        let sparse = self.sparse.iter().filter_map(|(name, c)| {
            c.get(row)
                .map(|v| (name.clone(), Vector::Sparse(v.clone())))
        });
        let multi = self
            .multi
            .iter()
            .filter_map(|(name, c)| c.get_rows(row).map(|v| (name.clone(), Vector::Multi(v))));
        dense.chain(sparse).chain(multi).collect()
    }

    pub(crate) fn find(&self, id: PointId) -> Option<usize> {
        self.index.get(&id).map(|&r| r as usize)
    }

    /// Rows in id order, starting at `from` (inclusive).
    pub(crate) fn rows_from(&self, from: Option<PointId>) -> impl Iterator<Item = usize> + '_ {
        let range = match from {
            Some(id) => self.index.range(id..),
            None => self.index.range(..),
        };
        range.map(|(_, &r)| r as usize)
    }

    /// Whether the point at `row` passes `filter`.
    pub(crate) fn matches(&self, row: usize, filter: &Filter) -> bool {
        filter.check(self.ids[row], &self.payloads[row], &|name| {
            self.has_vector(row, name)
        })
    }

    /// Inserts or replaces a point: all its vectors and its payload. Vectors must have their
    /// space's dimension (the caller validated that); unknown spaces were refused before.
    pub(crate) fn upsert(
        &mut self,
        id: PointId,
        vectors: &NamedVectors,
        payload: Payload,
        version: u64,
    ) {
        match self.find(id) {
            Some(r) => {
                for (name, col) in self.columns.iter_mut() {
                    col.set(r, vectors.get(name).and_then(Vector::as_dense));
                }
                self.set_sparse_row(r, vectors);
                self.set_multi_row(r, vectors);
                self.replace_payload(r, payload);
                self.versions[r] = version;
            }
            None => {
                let r = u32::try_from(self.ids.len()).expect("fewer than 2^32 points per segment");
                for (name, col) in self.columns.iter_mut() {
                    col.push(vectors.get(name).and_then(Vector::as_dense));
                }
                self.set_sparse_row(r as usize, vectors);
                self.set_multi_row(r as usize, vectors);
                self.payload_index.add_point(id, &payload);
                self.ids.push(id);
                self.versions.push(version);
                self.payloads.push(payload);
                self.index.insert(id, r);
            }
        }
    }

    /// Sets every sparse vector of the row (absent from `vectors`: removed).
    fn set_sparse_row(&mut self, row: usize, vectors: &NamedVectors) {
        for (name, col) in self.sparse.iter_mut() {
            if !vectors.contains_key(name) {
                col.set(row, None);
            }
        }
        for (name, v) in vectors {
            if let Vector::Sparse(v) = v {
                self.sparse
                    .entry(name.clone())
                    .or_default()
                    .set(row, Some(v.clone()));
            }
        }
    }

    /// Sets every multivector of the row (absent from `vectors`: removed).
    fn set_multi_row(&mut self, row: usize, vectors: &NamedVectors) {
        for (name, col) in self.multi.iter_mut() {
            if !vectors.contains_key(name) {
                col.set(row, None);
            }
        }
        for (name, v) in vectors {
            if let Vector::Multi(v) = v {
                self.multi
                    .entry(name.clone())
                    .or_default()
                    .set(row, Some(v));
            }
        }
    }

    /// Replaces the payload of the point at `row`, keeping the payload indexes true.
    pub(crate) fn replace_payload(&mut self, row: usize, payload: Payload) {
        let id = self.ids[row];
        self.payload_index.remove_point(id, &self.payloads[row]);
        self.payload_index.add_point(id, &payload);
        self.payloads[row] = payload;
    }

    pub(crate) fn set_version(&mut self, row: usize, version: u64) {
        self.versions[row] = version;
    }

    /// Sets (or, with `None`, removes) one vector of the point at `row`.
    pub(crate) fn set_vector(&mut self, row: usize, name: &str, v: Option<&Vector>) {
        match v {
            Some(Vector::Sparse(v)) => self
                .sparse
                .entry(name.to_string())
                .or_default()
                .set(row, Some(v.clone())),
            Some(Vector::Dense(v)) => {
                if let Some(col) = self.columns.get_mut(name) {
                    col.set(row, Some(v));
                }
            }
            Some(Vector::Multi(v)) => self
                .multi
                .entry(name.to_string())
                .or_default()
                .set(row, Some(v)),
            None => {
                if let Some(col) = self.multi.get_mut(name) {
                    col.set(row, None);
                }
                if let Some(col) = self.columns.get_mut(name) {
                    col.set(row, None);
                }
                if let Some(col) = self.sparse.get_mut(name) {
                    col.set(row, None);
                }
            }
        }
    }

    /// Removes a point; returns whether it existed.
    pub(crate) fn delete(&mut self, id: PointId) -> bool {
        let Some(r) = self.index.remove(&id).map(|r| r as usize) else {
            return false;
        };
        self.payload_index.remove_point(id, &self.payloads[r]);
        let last = self.ids.len() - 1;
        if r != last {
            self.index.insert(self.ids[last], r as u32);
        }
        for col in self.columns.values_mut() {
            col.swap_remove(r);
        }
        for col in self.sparse.values_mut() {
            col.swap_remove(r, last);
        }
        for col in self.multi.values_mut() {
            col.swap_remove(r, last);
        }
        self.ids.swap_remove(r);
        self.versions.swap_remove(r);
        self.payloads.swap_remove(r);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(name: &str, x: &[f32]) -> NamedVectors {
        NamedVectors::from([(name.to_string(), Vector::Dense(x.to_vec()))])
    }

    #[test]
    fn deletes_keep_rows_dense_and_the_id_map_true() {
        let mut s = Segment::new([("", None, Elem::default())]);
        for i in 0..10u64 {
            s.upsert(PointId::Num(i), &v("", &[i as f32, 0.0]), Payload::new(), i);
        }
        assert_eq!(s.column("").unwrap().dim(), Some(2));
        assert!(s.delete(PointId::Num(3)));
        assert!(!s.delete(PointId::Num(3)));
        assert!(s.delete(PointId::Num(9)));
        assert_eq!(s.len(), 8);
        for i in [0u64, 1, 2, 4, 5, 6, 7, 8] {
            let r = s.find(PointId::Num(i)).unwrap();
            assert_eq!(s.column("").unwrap().stored(r).unwrap(), [i as f32, 0.0]);
        }
        let order: Vec<PointId> = s.rows_from(None).map(|r| s.id(r)).collect();
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(order, sorted);
        let from4: Vec<PointId> = s
            .rows_from(Some(PointId::Num(4)))
            .map(|r| s.id(r))
            .collect();
        assert_eq!(from4[0], PointId::Num(4));
        s.upsert(PointId::Num(4), &v("", &[40.0, 1.0]), Payload::new(), 20);
        let r = s.find(PointId::Num(4)).unwrap();
        assert_eq!(s.version(r), 20);
        assert_eq!(s.column("").unwrap().stored(r).unwrap(), [40.0, 1.0]);
        assert_eq!(s.len(), 8);
    }

    #[test]
    fn named_spaces_may_be_absent_per_point() {
        let mut s = Segment::new([
            ("a", Some(2), Elem::default()),
            ("b", None, Elem::default()),
        ]);
        s.upsert(PointId::Num(1), &v("a", &[1.0, 2.0]), Payload::new(), 1);
        s.upsert(PointId::Num(2), &v("a", &[3.0, 4.0]), Payload::new(), 2);
        assert!(!s.has_vector(0, "b"));
        // the first vector of space b fixes its dimension and widens the column
        s.set_vector(1, "b", Some(&Vector::Dense(vec![5.0, 6.0, 7.0])));
        assert_eq!(s.column("b").unwrap().dim(), Some(3));
        assert_eq!(s.column("b").unwrap().values().len(), 6);
        assert_eq!(s.vectors(1).len(), 2);
        s.set_vector(1, "a", None);
        assert_eq!(s.vectors(1).keys().collect::<Vec<_>>(), ["b"]);
        assert!(s.delete(PointId::Num(1)));
        assert_eq!(s.column("b").unwrap().stored(0).unwrap(), [5.0, 6.0, 7.0]);
    }
}
