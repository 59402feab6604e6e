//! The engine's request and result types: collection configs, points and their updates,
//! selectors, search requests, records and scored points.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

use rvdb_filter::{Filter, Payload, PointId};
use rvdb_index::{SparseIndexParams, SparseModifier, SparseVector};
use rvdb_vector::Distance;

use crate::settings::{CollectionSettings, HnswConfigDiff};

/// The name of the unnamed (default) vector.
pub const DEFAULT_VECTOR: &str = "";

/// One vector of a point: dense (a vector space of `vectors`), sparse (one of
/// `sparse_vectors`) or a multivector (rows of a vector space of `vectors` whose
/// `multivector` comparator is set; each row has the space's dimension).
#[derive(Debug, Clone, PartialEq)]
pub enum Vector {
    Dense(Vec<f32>),
    Sparse(SparseVector),
    Multi(Vec<Vec<f32>>),
}

impl Vector {
    pub fn as_dense(&self) -> Option<&[f32]> {
        match self {
            Vector::Dense(v) => Some(v),
            Vector::Sparse(_) | Vector::Multi(_) => None,
        }
    }

    pub fn as_sparse(&self) -> Option<&SparseVector> {
        match self {
            Vector::Sparse(v) => Some(v),
            Vector::Dense(_) | Vector::Multi(_) => None,
        }
    }

    pub fn as_multi(&self) -> Option<&[Vec<f32>]> {
        match self {
            Vector::Multi(v) => Some(v),
            Vector::Dense(_) | Vector::Sparse(_) => None,
        }
    }
}

impl From<Vec<f32>> for Vector {
    fn from(v: Vec<f32>) -> Self {
        Vector::Dense(v)
    }
}

impl From<SparseVector> for Vector {
    fn from(v: SparseVector) -> Self {
        Vector::Sparse(v)
    }
}

/// Dense as an array of numbers, sparse as Qdrant's `{"indices": […], "values": […]}`.
impl Serialize for Vector {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            Vector::Dense(v) => v.serialize(s),
            Vector::Multi(v) => v.serialize(s),
            Vector::Sparse(v) => {
                let mut m = s.serialize_map(Some(2))?;
                m.serialize_entry("indices", v.indices())?;
                m.serialize_entry("values", v.values())?;
                m.end()
            }
        }
    }
}

/// A point's vectors by name; a collection with one unnamed vector uses [`DEFAULT_VECTOR`].
pub type NamedVectors = BTreeMap<String, Vector>;

/// One sparse vector space of a collection (Qdrant's `SparseVectorParams`). Sparse vectors are
/// always scored by dot product.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SparseVectorParams {
    /// `full_scan_threshold` is honoured; `on_disk` is kept and reported back.
    pub index: SparseIndexParams,
    /// Qdrant's `index.datatype`: only `float32` (values are stored as f32), kept and
    /// reported back; float16 and uint8 are refused (see `check_datatype`).
    pub datatype: Option<String>,
    /// `None` when not given (reported back as absent); `Some(None)` when given as "none".
    pub modifier: Option<SparseModifier>,
}

impl SparseVectorParams {
    /// Checks `datatype` (named at `at`): float32 or absent. Qdrant stores a float16 or uint8
    /// sparse index's weights in that type (approximate scores); this engine keeps them as
    /// float32, so those are refused rather than accepted without their effect.
    pub(crate) fn check_datatype(&self, at: &str) -> crate::Result<()> {
        match self.datatype.as_deref() {
            None | Some("float32") => Ok(()),
            Some(d @ ("float16" | "uint8")) => Err(crate::EngineError::bad(format!(
                "{at}: {d} is not supported for sparse vectors (their weights are stored as float32); leave it out or give float32"
            ))),
            Some(d) => Err(crate::EngineError::bad(format!(
                "{at}: unknown datatype `{d}`; expected float32"
            ))),
        }
    }

    /// Whether query values are weighted by IDF.
    pub fn idf(&self) -> bool {
        self.modifier == Some(SparseModifier::Idf)
    }
}

/// How the rows of two multivectors make one similarity (Qdrant's `MultiVectorComparator`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MultiVectorComparator {
    /// Late interaction (ColBERT): the sum over the query's rows of their best similarity to
    /// any of the stored rows.
    MaxSim,
}

impl MultiVectorComparator {
    pub fn parse(s: &str) -> Option<Self> {
        (s == "max_sim").then_some(MultiVectorComparator::MaxSim)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MultiVectorComparator::MaxSim => "max_sim",
        }
    }
}

/// One vector space of a collection.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorParams {
    /// `None` until the first point fixes it (the seed dialect).
    pub size: Option<usize>,
    pub distance: Distance,
    /// Set: every vector of this space is a multivector (rows of `size` values), compared by
    /// this comparator; such a space is scanned exactly, never HNSW-indexed.
    pub multivector: Option<MultiVectorComparator>,
    /// What this vector's HNSW index sets over the collection's `hnsw_config`.
    pub hnsw_config: Option<HnswConfigDiff>,
    /// Qdrant's other per-vector settings (on_disk, quantization_config, datatype), kept and
    /// reported back as given.
    pub extra: Map<String, Value>,
}

impl VectorParams {
    /// The element type (`extra.datatype`; float32 when absent). Checked when the space is
    /// created, so an unknown name here is float32.
    pub fn datatype(&self) -> crate::Datatype {
        self.extra
            .get("datatype")
            .and_then(Value::as_str)
            .and_then(|d| crate::Datatype::parse(d).ok())
            .unwrap_or_default()
    }

    /// Checks `extra.datatype` (named at `at`): one of Qdrant's names, and float32 for a
    /// multivector space (its rows are stored as f32).
    pub(crate) fn check_datatype(&self, at: &str) -> crate::Result<()> {
        let Some(d) = self.extra.get("datatype") else {
            return Ok(());
        };
        let dtype = d
            .as_str()
            .ok_or_else(|| crate::EngineError::bad(format!("{at}: expected a string, got {d}")))
            .and_then(|d| {
                crate::Datatype::parse(d).map_err(|_| {
                    crate::EngineError::bad(format!(
                        "{at}: unknown datatype `{d}`; expected float32, float16 or uint8"
                    ))
                })
            })?;
        if self.multivector.is_some() && dtype != crate::Datatype::Float32 {
            return Err(crate::EngineError::bad(format!(
                "{at}: {} is not supported for a multivector space (its rows are stored as float32); leave it out or give float32",
                dtype.as_str()
            )));
        }
        Ok(())
    }

    /// This space's own `quantization_config` (`extra`; checked when it was set).
    pub fn quantization(&self) -> Option<crate::QuantizationConfig> {
        let v = self.extra.get("quantization_config")?;
        crate::QuantizationConfig::parse(v, "quantization_config").ok()
    }

    /// Checks `extra.memory` (named at `at`): `pinned` is refused for dense vector storage, as
    /// Qdrant refuses it.
    pub(crate) fn check_memory(&self, at: &str) -> crate::Result<()> {
        match self.extra.get("memory").and_then(Value::as_str) {
            Some("pinned") => Err(crate::EngineError::bad(format!(
                "{at}: pinned is not supported for dense vector storage; use cold or cached"
            ))),
            _ => Ok(()),
        }
    }

    /// Checks `extra.quantization_config` (named at `at`): a configuration Qdrant accepts and
    /// rustvecdb implements, and no multivector space (those are scanned, never indexed).
    pub(crate) fn check_quantization(&self, at: &str) -> crate::Result<()> {
        let Some(v) = self.extra.get("quantization_config") else {
            return Ok(());
        };
        crate::QuantizationConfig::parse(v, at)?;
        if self.multivector.is_some() {
            return Err(crate::EngineError::bad(format!(
                "{at}: not supported for a multivector space (it is scanned exactly, never indexed); leave it out"
            )));
        }
        Ok(())
    }

    /// How this space's column stores and scores its rows.
    pub(crate) fn elem(&self) -> crate::datatype::Elem {
        crate::datatype::Elem::of(self.datatype(), self.distance)
    }

    pub fn new(distance: Distance, size: Option<usize>) -> Self {
        VectorParams {
            size,
            distance,
            multivector: None,
            hnsw_config: None,
            extra: Map::new(),
        }
    }
}

/// A collection's vector spaces: one unnamed, or several named.
#[derive(Debug, Clone, PartialEq)]
pub enum VectorsConfig {
    Single(VectorParams),
    Named(BTreeMap<String, VectorParams>),
}

impl VectorsConfig {
    /// Every vector space by name (the unnamed one is [`DEFAULT_VECTOR`]).
    pub fn spaces(&self) -> Vec<(&str, &VectorParams)> {
        match self {
            VectorsConfig::Single(p) => vec![(DEFAULT_VECTOR, p)],
            VectorsConfig::Named(m) => m.iter().map(|(k, v)| (k.as_str(), v)).collect(),
        }
    }

    pub fn get(&self, name: &str) -> Option<&VectorParams> {
        match self {
            VectorsConfig::Single(p) if name == DEFAULT_VECTOR => Some(p),
            VectorsConfig::Single(_) => None,
            VectorsConfig::Named(m) => m.get(name),
        }
    }

    pub fn is_single(&self) -> bool {
        matches!(self, VectorsConfig::Single(_))
    }

    /// Whether `name` is a multivector space.
    pub fn is_multi(&self, name: &str) -> bool {
        self.get(name).is_some_and(|p| p.multivector.is_some())
    }

    /// The spaces of single dense vectors (segments keep a column and an HNSW index for each).
    pub fn dense_spaces(&self) -> Vec<(&str, &VectorParams)> {
        let mut s = self.spaces();
        s.retain(|(_, p)| p.multivector.is_none());
        s
    }
}

/// A collection's parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectionConfig {
    pub vectors: VectorsConfig,
    /// Sparse vector spaces by name (their names never clash with `vectors`').
    pub sparse_vectors: BTreeMap<String, SparseVectorParams>,
    /// Qdrant's collection-level settings (hnsw_config, optimizers_config, wal_config, …).
    pub settings: CollectionSettings,
}

impl CollectionConfig {
    /// One unnamed vector whose dimension the first point will fix.
    pub fn new(distance: Distance) -> Self {
        CollectionConfig {
            vectors: VectorsConfig::Single(VectorParams::new(distance, None)),
            sparse_vectors: BTreeMap::new(),
            settings: CollectionSettings::default(),
        }
    }

    /// One unnamed vector of `dim` dimensions.
    pub fn with_dim(distance: Distance, dim: usize) -> Self {
        CollectionConfig {
            vectors: VectorsConfig::Single(VectorParams::new(distance, Some(dim))),
            sparse_vectors: BTreeMap::new(),
            settings: CollectionSettings::default(),
        }
    }
}

/// A point to insert or overwrite.
#[derive(Debug, Clone, PartialEq)]
pub struct PointStruct {
    pub id: PointId,
    pub vectors: NamedVectors,
    pub payload: Payload,
}

impl PointStruct {
    /// A point with one unnamed vector.
    pub fn new(id: PointId, vector: Vec<f32>, payload: Payload) -> Self {
        PointStruct {
            id,
            vectors: NamedVectors::from([(DEFAULT_VECTOR.to_string(), Vector::Dense(vector))]),
            payload,
        }
    }
}

/// Which payload fields to return.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum PayloadSelector {
    #[default]
    None,
    All,
    Include(Vec<String>),
    Exclude(Vec<String>),
}

/// Which vectors to return.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum VectorSelector {
    #[default]
    None,
    All,
    Names(Vec<String>),
}

/// A stored point as returned by get, retrieve and scroll.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Record {
    pub id: PointId,
    pub payload: Option<Payload>,
    pub vectors: Option<NamedVectors>,
    /// Sequence number of the write that last changed the point.
    pub version: u64,
    /// The value the points were ordered by (scroll with order_by).
    pub order_value: Option<Value>,
}

/// A search hit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoredPoint {
    pub id: PointId,
    /// Sequence number of the write that last changed the point.
    pub version: u64,
    pub score: f32,
    pub payload: Option<Payload>,
    pub vectors: Option<NamedVectors>,
    pub order_value: Option<Value>,
}

/// How recommendation examples become scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecommendStrategy {
    /// One query: mean(positive) + mean(positive) − mean(negative).
    AverageVector,
    /// Closest positive vs closest negative, squashed by a sigmoid.
    BestScore,
    /// Σ similarity to positives − Σ similarity to negatives.
    SumScores,
}

/// What scores a point, as vectors (point ids are resolved before this).
#[derive(Debug, Clone, PartialEq)]
pub enum ScoreQuery {
    Nearest(Vec<f32>),
    /// Nearest by dot product in a sparse vector space (weighted by IDF under the `idf`
    /// modifier); points sharing no index with the query are not results.
    NearestSparse(SparseVector),
    /// Recommendation in a sparse vector space (as local mode: `average_vector` searches the
    /// merged average; the other strategies score every point, no overlap scoring 0).
    RecommendSparse {
        positive: Vec<SparseVector>,
        negative: Vec<SparseVector>,
        strategy: RecommendStrategy,
    },
    /// [`ScoreQuery::Discover`] in a sparse vector space (no overlap: similarity 0).
    DiscoverSparse {
        target: SparseVector,
        pairs: Vec<(SparseVector, SparseVector)>,
    },
    /// [`ScoreQuery::Context`] in a sparse vector space (no overlap: similarity 0).
    ContextSparse(Vec<(SparseVector, SparseVector)>),
    /// A query in a multivector space, every example a multivector (rows).
    Multi(MultiQuery),
    Recommend {
        positive: Vec<Vec<f32>>,
        negative: Vec<Vec<f32>>,
        strategy: RecommendStrategy,
    },
    /// Discovery: Σ over pairs of +1 / 0 / −1 (closer to the positive, tied, closer to the
    /// negative) plus the sigmoid of the similarity to `target`.
    Discover {
        target: Vec<f32>,
        pairs: Vec<(Vec<f32>, Vec<f32>)>,
    },
    /// Context: Σ over (positive, negative) pairs of `fast_sigmoid(min(pos − neg − ε, 0))`.
    Context(Vec<(Vec<f32>, Vec<f32>)>),
    /// Naive relevance feedback: `a · sim(target) + Σ w · (sim(positive) − sim(negative))`.
    Feedback {
        target: Vec<f32>,
        a: f32,
        pairs: Vec<(Vec<f32>, Vec<f32>, f32)>,
    },
}

/// A multivector: rows of one dimension.
pub type MultiVector = Vec<Vec<f32>>;

/// What scores a point in a multivector space: as the dense queries, with the max_sim
/// similarity of two multivectors in place of the similarity of two vectors (local mode's).
#[derive(Debug, Clone, PartialEq)]
pub enum MultiQuery {
    Nearest(Vec<Vec<f32>>),
    /// `average_vector` is a nearest query on the positives' rows and the negated rows of the
    /// negatives (local mode's); the other strategies score every point.
    Recommend {
        positive: Vec<Vec<Vec<f32>>>,
        negative: Vec<Vec<Vec<f32>>>,
        strategy: RecommendStrategy,
    },
    Discover {
        target: Vec<Vec<f32>>,
        pairs: Vec<(MultiVector, MultiVector)>,
    },
    Context(Vec<(MultiVector, MultiVector)>),
}

/// Where one dense vector space's data is held (see [`crate::Collection::vector_storage`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VectorStorage {
    pub name: String,
    /// Anonymous memory: vectors, and graphs (links and the vectors they hold) on the heap.
    pub ram_bytes: u64,
    /// Mapped file bytes: vectors files and `on_disk` graphs (resident only as far as read).
    pub mapped_bytes: u64,
    /// Quantization codes with their links (always on the heap).
    pub quantized_bytes: u64,
}

/// Per-query search parameters (Qdrant's `params`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct QueryParams {
    /// Beam width of the HNSW search (default: the collection's ef_construct).
    pub hnsw_ef: Option<usize>,
    /// Scan every point instead of using the HNSW index.
    pub exact: bool,
    /// How a quantized space's codes are used (`ignore`, `rescore`, `oversampling`).
    pub quantization: Option<crate::QuantizationSearchParams>,
}

/// A vector search in one vector space.
#[derive(Debug, Clone)]
pub struct SearchRequest {
    /// The vector space ([`DEFAULT_VECTOR`] for the unnamed one).
    pub using: String,
    pub query: ScoreQuery,
    pub limit: usize,
    pub offset: usize,
    /// Qdrant's semantics: similarity must exceed it; distance must stay under it.
    pub score_threshold: Option<f32>,
    pub filter: Option<Filter>,
    pub with_payload: PayloadSelector,
    pub with_vector: VectorSelector,
    pub params: QueryParams,
}

impl SearchRequest {
    /// The `limit` nearest points to `vector` in the unnamed space, with payloads.
    pub fn new(vector: Vec<f32>, limit: usize) -> Self {
        SearchRequest {
            using: DEFAULT_VECTOR.to_string(),
            query: ScoreQuery::Nearest(vector),
            limit,
            offset: 0,
            score_threshold: None,
            filter: None,
            with_payload: PayloadSelector::All,
            with_vector: VectorSelector::None,
            params: QueryParams::default(),
        }
    }
}

/// Order of a scroll by payload value.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderBy {
    pub key: String,
    pub descending: bool,
    /// Start from this value (inclusive).
    pub start_from: Option<f64>,
}

/// A page of points in id order (or by a payload value).
#[derive(Debug, Clone)]
pub struct ScrollRequest {
    pub filter: Option<Filter>,
    pub limit: usize,
    /// Start at this id (inclusive).
    pub offset: Option<PointId>,
    pub order_by: Option<OrderBy>,
    pub with_payload: PayloadSelector,
    pub with_vector: VectorSelector,
}

/// When a write is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// After its log record is fsynced (Qdrant's `wait=true`); concurrent writers share fsyncs.
    #[default]
    Fsync,
    /// As soon as its log record is appended (Qdrant's `wait=false`): it survives a crash of
    /// the process, and reaches the disk with the next fsync (another writer's, or the
    /// log-sync thread's within ~10 ms), not necessarily before the answer.
    Logged,
}

/// The outcome of an acknowledged write (Qdrant's `UpdateResult`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct UpdateResult {
    /// The write's sequence number in the collection's log.
    pub operation_id: u64,
    /// Always "completed": the write is applied (and, with `Durability::Fsync`, durable).
    pub status: &'static str,
}

impl UpdateResult {
    pub(crate) fn completed(seq: u64) -> Self {
        UpdateResult {
            operation_id: seq,
            status: "completed",
        }
    }
}

/// Which points a payload or vector operation touches.
#[derive(Debug, Clone)]
pub enum PointSelector {
    Ids(Vec<PointId>),
    Filter(Filter),
}

/// A payload or vector update.
#[derive(Debug, Clone)]
pub enum PointUpdate {
    Upsert(Vec<PointStruct>),
    Delete(PointSelector),
    SetPayload {
        selector: PointSelector,
        payload: Payload,
        key: Option<String>,
    },
    OverwritePayload {
        selector: PointSelector,
        payload: Payload,
    },
    DeletePayload {
        selector: PointSelector,
        keys: Vec<String>,
    },
    ClearPayload(PointSelector),
    UpdateVectors(Vec<(PointId, NamedVectors)>),
    DeleteVectors {
        selector: PointSelector,
        names: Vec<String>,
    },
}
