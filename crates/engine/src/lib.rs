//! The embeddable core of rustvecdb: a [`Database`] of named [`Collection`]s.
//!
//! Every write is validated in full, appended to the collection's write-ahead log (when the
//! database has a storage directory) and then applied in memory, both under the collection's
//! writer lock, so the log's order is the apply order; a write refused by validation or by the
//! log is not applied at all. It is answered once its record is fsynced (`Durability::Fsync`,
//! concurrent writers sharing one fsync) or as soon as it is appended (`Durability::Logged`).
//! Searches take a shared lock on the collection's points: they run side by side, never copy the
//! collection, and wait only for the short in-memory apply step of a write (never for its
//! fsync).
//!
//! ```
//! use rvdb_engine::{CollectionConfig, Database, DatabaseOptions, PointStruct, SearchRequest};
//! use rvdb_engine::Distance;
//!
//! let db = Database::open(DatabaseOptions::in_memory()).unwrap();
//! db.create_collection("docs", CollectionConfig::new(Distance::Cosine)).unwrap();
//! let docs = db.collection("docs").unwrap();
//! docs.upsert(vec![PointStruct::new(1u64.into(), vec![1.0, 0.0], Default::default())]).unwrap();
//! let hits = docs.search(&SearchRequest::new(vec![1.0, 0.1], 5)).unwrap();
//! assert_eq!(hits[0].id, 1u64.into());
//! ```

pub mod bm25;
mod codec;
mod collection;
mod config;
mod database;
mod datatype;
mod error;
mod facet;
mod formula;
mod groups;
mod matrix;
mod mmr;
mod multi;
mod optimizations;
mod optimizer;
mod persist;
pub mod pool;
mod quantization;
mod query;
mod quota;
mod read;
mod segment;
mod segments;
pub mod settings;
mod snapshot;
mod sparse;
mod types;

pub use collection::{Collection, CollectionInfo, NewVectorSpace, PayloadFieldInfo, MAX_DIM};
pub use database::{AliasAction, CollectionSummary, Database, DatabaseOptions, DatabaseStats};
pub use datatype::Datatype;
pub use error::EngineError;
pub use facet::{FacetHit, FacetRequest, FacetValue};
pub use formula::{check_decay, Decay, Expression, FormulaQuery, PayloadKey, Variable};
pub use groups::{GroupRequest, PointGroup};
pub use matrix::{DistanceMatrix, MatrixRequest};
pub use optimizations::{
    segment_uuid, Optimization, OptimizationSegment, OptimizationsReport, PendingOptimization,
};
pub use quantization::{
    BinaryEncoding, BinaryQuantizationConfig, BinaryQueryEncoding, CompressionRatio, Disabled,
    ProductQuantizationConfig, QuantizationConfig, QuantizationConfigDiff,
    QuantizationSearchParams, ScalarQuantizationConfig, ScalarType, TurboBitSize,
    TurboQuantizationConfig,
};
pub use query::{
    ContextPair, FeedbackItem, Fusion, Lookup, Mmr, NaiveFeedback, Prefetch, QueryKind,
    UniversalQuery, VectorInput,
};
pub use quota::{QuotaConfig, QuotaUsage, Quotas, DEFAULT_RELEASE_MARGIN};
pub use rvdb_filter::{
    parse_datetime as parse_datetime_micros, select_payload, Cardinality, Filter, JsonPath,
    Payload, PayloadSchemaType, PointId,
};
pub use rvdb_index::{SparseIndexParams, SparseModifier, SparseVector, SparseVectorError};
pub use rvdb_storage::StorageError;
pub use rvdb_vector::Distance;
pub use settings::{
    CollectionSettings, HnswConfig, HnswConfigDiff, OptimizersConfig, OptimizersConfigDiff,
    SettingsDiff, VectorParamsDiff, WalConfig, WalConfigDiff,
};
pub use snapshot::{file_sha256, validate_snapshot_name, SnapshotDescription};
pub use types::{
    CollectionConfig, Durability, MultiQuery, MultiVector, MultiVectorComparator, NamedVectors,
    OrderBy, PayloadSelector, PointSelector, PointStruct, PointUpdate, QueryParams,
    RecommendStrategy, Record, ScoreQuery, ScoredPoint, ScrollRequest, SearchRequest,
    SparseVectorParams, UpdateResult, Vector, VectorParams, VectorSelector, VectorStorage,
    VectorsConfig, DEFAULT_VECTOR,
};

/// The engine's result type.
pub type Result<T> = std::result::Result<T, EngineError>;

#[cfg(test)]
mod tests;
