//! The body of GET /telemetry, in Qdrant's shape (`TelemetryData`): one type serializes it and
//! describes it in /openapi.json. Fields Qdrant has that a single node without a cluster, gRPC
//! or jemalloc cannot fill honestly are left out rather than invented; fields of ours that
//! Qdrant lacks (marked *rustvecdb*) sit beside its own.
//!
//! `details_level` works as in Qdrant: 0 gives the counts, 1 adds the build features, the
//! system, the memory and one aggregated entry per collection, 2 and above one full entry per
//! collection (its configuration and our segment figures).

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

use crate::openapi::collections::{CollectionConfigOut, CollectionParamsOut};

/// GET /telemetry.
#[derive(Serialize, ToSchema)]
pub(crate) struct TelemetryData {
    /// A random id made when the process started (the same until it restarts).
    pub id: String,
    pub app: AppBuildTelemetry,
    pub collections: CollectionsTelemetry,
    pub cluster: ClusterTelemetry,
    pub requests: RequestsTelemetry,
    /// From `details_level` 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<MemoryTelemetry>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct AppBuildTelemetry {
    /// `rustvecdb`.
    pub name: &'static str,
    /// This build's version.
    pub version: &'static str,
    /// From `details_level` 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub features: Option<AppFeaturesTelemetry>,
    /// From `details_level` 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system: Option<RunningEnvironmentTelemetry>,
    /// When the HTTP layer started (RFC 3339, UTC).
    pub startup: String,
    /// *rustvecdb*: the Qdrant API version this server speaks.
    pub qdrant_api_version: &'static str,
    /// *rustvecdb*: `startup` as Unix seconds.
    pub startup_unix_seconds: u64,
    /// *rustvecdb*: seconds since `startup`.
    pub uptime_seconds: f64,
}

/// Build features, as Qdrant reports its own (all of them facts about this build).
#[derive(Serialize, ToSchema)]
pub(crate) struct AppFeaturesTelemetry {
    /// A debug build.
    pub debug: bool,
    /// Always `false`: there is no service-debug build.
    pub service_debug_feature: bool,
    /// Always `false`: there is no recovery mode.
    pub recovery_mode: bool,
    /// Always `false`: no GPU support.
    pub gpu: bool,
    /// Always `false`: no RocksDB storage.
    pub rocksdb: bool,
    /// Always `false`: no staging features.
    pub staging: bool,
}

/// The machine, as far as it can be read here (`null` where it cannot).
#[derive(Serialize, ToSchema)]
pub(crate) struct RunningEnvironmentTelemetry {
    /// `ID` of /etc/os-release.
    pub distribution: Option<String>,
    /// `VERSION_ID` of /etc/os-release.
    pub distribution_version: Option<String>,
    /// Whether /.dockerenv exists.
    pub is_docker: bool,
    /// CPU cores this process may use.
    pub cores: Option<u64>,
    /// Total memory in KiB (the cgroup limit when one is set, else MemTotal).
    pub ram_size: Option<u64>,
    /// SIMD features of this CPU, comma-separated.
    pub cpu_flags: String,
    /// `little` or `big`.
    pub cpu_endian: &'static str,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct CollectionsTelemetry {
    pub number_of_collections: u64,
    /// From `details_level` 1: aggregated entries; from 2: full ones.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collections: Option<Vec<CollectionTelemetryEnum>>,
    /// *rustvecdb*: points in all collections.
    pub total_points: u64,
    /// *rustvecdb*: `memory` or `disk`.
    pub storage: &'static str,
    /// *rustvecdb*: collections whose files could not be loaded at start, with the reason.
    pub failed_to_load: Vec<FailedCollection>,
}

/// A full entry (`details_level` 2 and above) or an aggregated one (1).
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub(crate) enum CollectionTelemetryEnum {
    Full(Box<CollectionTelemetry>),
    Aggregated(Box<CollectionsAggregatedTelemetry>),
}

/// One collection in full.
#[derive(Serialize, ToSchema)]
pub(crate) struct CollectionTelemetry {
    /// The collection's name (a hash of it with `anonymize=true`).
    pub id: String,
    pub config: CollectionConfigOut,
    /// *rustvecdb*
    pub points_count: u64,
    /// *rustvecdb*: sealed segments plus the appendable one.
    pub segments_count: u64,
    /// *rustvecdb*: vectors in segments whose HNSW index is built.
    pub indexed_vectors_count: u64,
    /// *rustvecdb*: `green`, `yellow` or `red` (see `problems`).
    pub status: &'static str,
    /// *rustvecdb*: bytes of log not yet covered by a checkpoint (0 in memory).
    pub wal_bytes: u64,
    /// *rustvecdb*: always `ok`.
    pub optimizer_status: &'static str,
    /// *rustvecdb*: whether the optimizer has work on it (status `yellow`).
    pub optimizer_running: bool,
    /// *rustvecdb*: what went wrong when it was loaded (quarantined segments).
    pub problems: Vec<String>,
    /// *rustvecdb*: bytes of the collection's files on disk (0 in memory).
    pub disk_bytes: u64,
    /// *rustvecdb*: each vector space, with the points that have a vector in it and where its
    /// data is held.
    pub vectors: Vec<VectorTelemetry>,
}

/// One collection, aggregated (Qdrant's `CollectionsAggregatedTelemetry`).
#[derive(Serialize, ToSchema)]
pub(crate) struct CollectionsAggregatedTelemetry {
    /// Vectors stored, over all vector spaces.
    pub vectors: u64,
    /// Always `ok`.
    pub optimizers_status: &'static str,
    pub params: CollectionParamsOut,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct VectorTelemetry {
    /// `""` for the unnamed vector.
    pub name: String,
    pub distance: &'static str,
    pub size: Option<u64>,
    /// Points that have a vector in this space.
    pub vectors: u64,
    /// Anonymous memory of its vectors and graphs (links and the vectors they hold).
    pub ram_bytes: u64,
    /// Bytes of mapped files holding them (vectors files, `on_disk` graphs): resident only as
    /// far as the kernel has read them in, and evictable.
    pub mapped_bytes: u64,
    /// Anonymous memory of its quantization codes (with their copy of the links).
    pub quantized_bytes: u64,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct FailedCollection {
    pub name: String,
    pub error: String,
}

/// Always `{"enabled": false}`: one node, no cluster.
#[derive(Serialize, ToSchema)]
pub(crate) struct ClusterTelemetry {
    pub enabled: bool,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct RequestsTelemetry {
    pub rest: WebApiTelemetry,
    /// Always empty: there is no gRPC API.
    pub grpc: GrpcTelemetry,
    /// *rustvecdb*: REST responses since the start.
    pub total: u64,
}

/// Statistics by `"METHOD /route/template"`, then by status code.
#[derive(Serialize, ToSchema)]
pub(crate) struct WebApiTelemetry {
    pub responses: BTreeMap<String, BTreeMap<String, OperationDurationStatistics>>,
    /// With `per_collection=true` (and not anonymized): collection → route → status.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    #[allow(clippy::type_complexity)]
    pub per_collection_responses:
        BTreeMap<String, BTreeMap<String, BTreeMap<String, OperationDurationStatistics>>>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct GrpcTelemetry {
    pub responses: BTreeMap<String, BTreeMap<String, OperationDurationStatistics>>,
}

/// Counts and latencies of the responses of one route with one status.
#[derive(Serialize, ToSchema, Clone, Debug, PartialEq)]
pub(crate) struct OperationDurationStatistics {
    /// Responses.
    pub count: u64,
    /// Of them, those with a 5xx status (omitted when 0).
    #[serde(skip_serializing_if = "is_zero")]
    pub fail_count: u64,
    /// Mean of the latest 128 durations.
    pub avg_duration_micros: f64,
    pub min_duration_micros: f64,
    pub max_duration_micros: f64,
    pub total_duration_micros: u64,
    /// When the latest one was answered (RFC 3339, UTC).
    pub last_responded: String,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The process's memory, read from /proc (Qdrant reports jemalloc's statistics here; the
/// allocator's own figures, `active`, `metadata` and `retained`, have no counterpart).
#[derive(Serialize, ToSchema)]
pub(crate) struct MemoryTelemetry {
    /// Anonymous resident memory (`RssAnon`): the heap and stacks, without mapped files.
    pub allocated_bytes: u64,
    /// Resident set size (`VmRSS`).
    pub resident_bytes: u64,
    /// *rustvecdb*: resident pages of mapped files (`RssFile`).
    pub mapped_bytes: u64,
}
