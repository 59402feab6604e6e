//! Shapes many routes share: the envelopes, point ids, payloads, vectors and selectors.

use std::collections::BTreeMap;

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

/// Qdrant's error envelope: every 4xx and 5xx answer has this shape.
#[derive(ToSchema, serde::Serialize)]
#[schema(example = json!({"status": {"error": "Not found: Collection `docs` doesn't exist!"}, "time": 0.0}))]
pub(crate) struct ErrorResponse {
    pub status: ErrorStatus,
    /// Seconds spent on the request (0 for errors).
    pub time: f64,
}

/// What went wrong, for a person to read (the field that was rejected is named).
#[derive(ToSchema, serde::Serialize)]
pub(crate) struct ErrorStatus {
    pub error: String,
}

/// A success envelope `{"result": …, "status": "ok", "time": seconds}`, one named schema per
/// result type (OpenAPI 3.1 has no generics).
macro_rules! envelope {
    ($($(#[$doc:meta])* $name:ident => $result:ty;)*) => {$(
        $(#[$doc])*
        #[derive(utoipa::ToSchema)]
        pub(crate) struct $name {
            pub result: $result,
            /// Always `ok`.
            #[schema(example = "ok")]
            pub status: String,
            /// Seconds the server spent on the request.
            pub time: f64,
        }
    )*};
}
pub(crate) use envelope;

envelope! {
    /// `true` when the operation was applied (`false`: e.g. the collection did not exist).
    BoolResponse => bool;
    /// The result of a write.
    UpdateResponse => UpdateResult;
    /// One result per operation of the batch, in order.
    UpdateBatchResponse => Vec<UpdateResult>;
}

/// An unsigned integer or a UUID string (any of its usual spellings; answered hyphenated).
#[derive(ToSchema, Deserialize, serde::Serialize)]
#[serde(untagged)]
pub(crate) enum ExtendedPointId {
    #[schema(example = 42)]
    Integer(u64),
    #[schema(example = "550e8400-e29b-41d4-a716-446655440000")]
    Uuid(String),
}

/// A point's payload: any JSON object (`null` or missing: no payload).
#[derive(ToSchema, Deserialize)]
#[serde(transparent)]
#[schema(example = json!({"city": "Berlin", "price": 11.5, "tags": ["new"]}))]
pub(crate) struct Payload(pub BTreeMap<String, Value>);

/// A point's vectors: one dense vector or multivector (the unnamed vector) or an object of
/// named vectors, dense, sparse or multi. Inference objects other than a `qdrant/bm25`
/// document are refused.
#[derive(ToSchema, Debug)]
#[serde(untagged)]
#[schema(example = json!([0.1, 0.2, 0.3, 0.4]))]
pub(crate) enum VectorStruct {
    Dense(Vec<f32>),
    /// A multivector: rows of the space's dimension (at least one).
    Multi(Vec<Vec<f32>>),
    Named(BTreeMap<String, Vector>),
}

impl VectorStruct {
    pub(crate) fn into_named(self) -> rvdb_engine::NamedVectors {
        match self {
            VectorStruct::Dense(v) => rvdb_engine::NamedVectors::from([(
                rvdb_engine::DEFAULT_VECTOR.to_string(),
                rvdb_engine::Vector::Dense(v),
            )]),
            VectorStruct::Multi(v) => rvdb_engine::NamedVectors::from([(
                rvdb_engine::DEFAULT_VECTOR.to_string(),
                rvdb_engine::Vector::Multi(v),
            )]),
            VectorStruct::Named(m) => m.into_iter().map(|(k, v)| (k, v.into())).collect(),
        }
    }
}

/// One named vector: dense (an array of numbers), sparse (or a BM25 `Document` the server
/// turns into a sparse vector) or a multivector (an array of arrays of numbers).
#[derive(ToSchema, Debug)]
#[serde(untagged)]
pub(crate) enum Vector {
    Dense(Vec<f32>),
    #[schema(value_type = SparseOrDocument)]
    Sparse(SparseVector),
    Multi(Vec<Vec<f32>>),
}

/// The JSON a sparse vector may be given as: `{"indices", "values"}`, or a BM25 `Document`
/// that the server turns into one (for a stored point or for a query). It describes the
/// accepted shapes in the served spec: the parsers read either into a [`SparseVector`] (see
/// [`vector_object`]), so no value of this type is ever built.
#[derive(ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub(crate) enum SparseOrDocument {
    Sparse(SparseVector),
    Document(Document),
}

impl<'de> Deserialize<'de> for Vector {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        NamedValue::deserialize(d).map(|NamedValue(v)| v)
    }
}

impl From<Vector> for rvdb_engine::Vector {
    fn from(v: Vector) -> Self {
        match v {
            Vector::Dense(v) => rvdb_engine::Vector::Dense(v),
            Vector::Sparse(v) => rvdb_engine::Vector::Sparse(v.into_engine()),
            Vector::Multi(v) => rvdb_engine::Vector::Multi(v),
        }
    }
}

/// A sparse vector: `indices` (unique, in any order: stored sorted by index) and one value per
/// index. A length mismatch or a repeated index is refused naming the field.
#[derive(ToSchema, Debug, Clone, serde::Serialize)]
#[schema(example = json!({"indices": [6, 1, 42], "values": [0.5, 0.25, 1.0]}))]
pub(crate) struct SparseVector {
    pub indices: Vec<u32>,
    pub values: Vec<f32>,
}

impl SparseVector {
    pub(crate) fn into_engine(self) -> rvdb_engine::SparseVector {
        rvdb_engine::SparseVector::new(self.indices, self.values)
            .expect("checked when the body was parsed")
    }
}

impl<'de> Deserialize<'de> for SparseVector {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            indices: Vec<u32>,
            values: Vec<f32>,
        }
        let Raw { indices, values } = Raw::deserialize(d)?;
        let v = rvdb_engine::SparseVector::new(indices, values).map_err(de::Error::custom)?;
        Ok(SparseVector {
            indices: v.indices().to_vec(),
            values: v.values().to_vec(),
        })
    }
}

/// Qdrant's `Document`: text that the server turns into a sparse vector with its `qdrant/bm25`
/// model (BM25's term-frequency weights for a stored point, weight 1 per distinct token for a
/// query; the IDF half comes from the sparse vector's `idf` modifier). Other models are refused.
#[derive(ToSchema, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"text": "the quick brown fox", "model": "qdrant/bm25"}))]
pub(crate) struct Document {
    pub text: String,
    /// `qdrant/bm25` (in any case).
    pub model: String,
    /// The model's options (Qdrant's `Bm25Config`).
    pub options: Option<rvdb_engine::bm25::Bm25Config>,
}

/// Which side of BM25 a document is turned into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DocumentRole {
    /// A stored point's vector: term-frequency weights.
    Stored,
    /// A query: each distinct token once, weight 1.
    Query,
}

impl Document {
    /// The sparse vector the model makes of the text.
    pub(crate) fn embed(self, role: DocumentRole) -> Result<SparseVector, String> {
        if !self.model.eq_ignore_ascii_case("qdrant/bm25") {
            return Err(format!(
                "model `{}` is not supported: only `qdrant/bm25` (server-side BM25) turns text into vectors here",
                self.model
            ));
        }
        let bm25 = rvdb_engine::bm25::Bm25::new(self.options.unwrap_or_default(), "options")
            .map_err(|e| e.to_string())?;
        let (indices, values) = match role {
            DocumentRole::Stored => bm25.document(&self.text),
            DocumentRole::Query => bm25.query(&self.text),
        };
        Ok(SparseVector { indices, values })
    }
}

/// A JSON object where a vector was expected: a sparse vector `{"indices", "values"}`, a BM25
/// `Document` (turned into one for `role`), or an error saying what it looks like (images and
/// other inference objects are not supported).
pub(crate) fn vector_object<E: de::Error>(
    obj: serde_json::Map<String, Value>,
    role: DocumentRole,
) -> Result<SparseVector, E> {
    if obj.contains_key("indices") || obj.contains_key("values") {
        SparseVector::deserialize(Value::Object(obj)).map_err(de::Error::custom)
    } else if obj.contains_key("text") {
        Document::deserialize(Value::Object(obj))
            .map_err(de::Error::custom)?
            .embed(role)
            .map_err(de::Error::custom)
    } else {
        Err(de::Error::custom(
            "inference objects (images, other objects) are not supported; send vectors or a qdrant/bm25 document",
        ))
    }
}

/// [`vector_object`] of the map being read.
pub(crate) fn sparse_from_map<'de, A: MapAccess<'de>>(
    map: A,
    role: DocumentRole,
) -> Result<SparseVector, A::Error> {
    let obj =
        serde_json::Map::<String, Value>::deserialize(de::value::MapAccessDeserializer::new(map))?;
    vector_object(obj, role)
}

/// An array of numbers (a dense vector) or an array of arrays of numbers (a multivector; its
/// rows' lengths are checked against the space by the engine).
#[derive(ToSchema, Debug)]
#[serde(untagged)]
pub(crate) enum DenseOrMulti {
    Dense(Vec<f32>),
    Multi(Vec<Vec<f32>>),
}

impl<'de> Deserialize<'de> for DenseOrMulti {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// One element: a number, or a row of numbers.
        enum Elem {
            Num(f32),
            Row(Vec<f32>),
        }
        impl<'de> Deserialize<'de> for Elem {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = Elem;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str("a number or an array of numbers")
                    }
                    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Elem, E> {
                        Ok(Elem::Num(v as f32))
                    }
                    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Elem, E> {
                        Ok(Elem::Num(v as f32))
                    }
                    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Elem, E> {
                        Ok(Elem::Num(v as f32))
                    }
                    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Elem, A::Error> {
                        let Dense(v) =
                            Dense::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
                        Ok(Elem::Row(v))
                    }
                }
                d.deserialize_any(V)
            }
        }
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = DenseOrMulti;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array of numbers or an array of arrays of numbers (a multivector)")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<DenseOrMulti, A::Error> {
                let mixed = || {
                    de::Error::custom("a vector mixes numbers and arrays: give an array of numbers or an array of arrays of numbers (a multivector)")
                };
                match seq.next_element::<Elem>()? {
                    None => Ok(DenseOrMulti::Dense(Vec::new())),
                    Some(Elem::Num(x)) => {
                        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0) + 1);
                        out.push(x);
                        while let Some(e) = seq.next_element::<Elem>()? {
                            match e {
                                Elem::Num(x) => out.push(x),
                                Elem::Row(_) => return Err(mixed()),
                            }
                        }
                        Ok(DenseOrMulti::Dense(out))
                    }
                    Some(Elem::Row(r)) => {
                        let mut out = vec![r];
                        while let Some(e) = seq.next_element::<Elem>()? {
                            match e {
                                Elem::Row(r) => out.push(r),
                                Elem::Num(_) => return Err(mixed()),
                            }
                        }
                        Ok(DenseOrMulti::Multi(out))
                    }
                }
            }
        }
        d.deserialize_seq(V)
    }
}

/// A dense vector: an array of numbers (no multivector).
#[derive(Debug)]
pub(crate) struct Dense(pub Vec<f32>);

impl<'de> Deserialize<'de> for Dense {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Dense;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array of numbers")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Dense, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(x) = seq.next_element::<Number>()? {
                    out.push(x.0);
                }
                Ok(Dense(out))
            }
        }
        d.deserialize_seq(V)
    }
}

/// One element of a dense vector.
struct Number(f32);

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Number;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Number, E> {
                Ok(Number(v as f32))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Number, E> {
                Ok(Number(v as f32))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Number, E> {
                Ok(Number(v as f32))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Number, A::Error> {
                Err(de::Error::custom(
                    "expected a number, found an array (a multivector is accepted only where a point's vector or a query is)",
                ))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for VectorStruct {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = VectorStruct;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a vector (array of numbers) or an object of named vectors")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<VectorStruct, A::Error> {
                Ok(
                    match DenseOrMulti::deserialize(de::value::SeqAccessDeserializer::new(seq))? {
                        DenseOrMulti::Dense(v) => VectorStruct::Dense(v),
                        DenseOrMulti::Multi(v) => VectorStruct::Multi(v),
                    },
                )
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<VectorStruct, A::Error> {
                let mut out = BTreeMap::new();
                while let Some(name) = map.next_key::<String>()? {
                    if name == "indices" || name == "values" {
                        return Err(de::Error::custom(
                            "a sparse vector must be named: {\"<name>\": {\"indices\": […], \"values\": […]}}",
                        ));
                    }
                    let NamedValue(v) = map.next_value()?;
                    out.insert(name, v);
                }
                Ok(VectorStruct::Named(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// The value of one named vector: dense or sparse.
struct NamedValue(Vector);

impl<'de> Deserialize<'de> for NamedValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = NamedValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array of numbers or {\"indices\": […], \"values\": […]}")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<NamedValue, A::Error> {
                Ok(NamedValue(
                    match DenseOrMulti::deserialize(de::value::SeqAccessDeserializer::new(seq))? {
                        DenseOrMulti::Dense(v) => Vector::Dense(v),
                        DenseOrMulti::Multi(v) => Vector::Multi(v),
                    },
                ))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<NamedValue, A::Error> {
                sparse_from_map(map, DocumentRole::Stored).map(|v| NamedValue(Vector::Sparse(v)))
            }
        }
        d.deserialize_any(V)
    }
}

/// What of the payload to return: everything (`true`), nothing (`false`), these keys, or a
/// selector.
#[derive(ToSchema, Debug)]
#[serde(untagged)]
pub(crate) enum WithPayload {
    All(bool),
    Keys(Vec<String>),
    Include(PayloadInclude),
    Exclude(PayloadExclude),
}

impl From<WithPayload> for rvdb_engine::PayloadSelector {
    fn from(w: WithPayload) -> Self {
        use rvdb_engine::PayloadSelector as P;
        match w {
            WithPayload::All(true) => P::All,
            WithPayload::All(false) => P::None,
            WithPayload::Keys(k) | WithPayload::Include(PayloadInclude { include: k }) => {
                P::Include(k)
            }
            WithPayload::Exclude(PayloadExclude { exclude }) => P::Exclude(exclude),
        }
    }
}

impl<'de> Deserialize<'de> for WithPayload {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = WithPayload;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("true, false, a list of keys, {\"include\": […]} or {\"exclude\": […]}")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<WithPayload, E> {
                Ok(WithPayload::All(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<WithPayload, A::Error> {
                let keys = Vec::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
                Ok(WithPayload::Keys(keys))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<WithPayload, A::Error> {
                let out = match map.next_key::<String>()?.as_deref() {
                    Some("include") => WithPayload::Include(PayloadInclude {
                        include: map.next_value()?,
                    }),
                    Some("exclude") => WithPayload::Exclude(PayloadExclude {
                        exclude: map.next_value()?,
                    }),
                    _ => {
                        return Err(de::Error::custom(
                            "expected {\"include\": […]} or {\"exclude\": […]}",
                        ))
                    }
                };
                if map.next_key::<de::IgnoredAny>()?.is_some() {
                    return Err(de::Error::custom("give one of `include` and `exclude`"));
                }
                Ok(out)
            }
        }
        d.deserialize_any(V)
    }
}

/// Only these payload keys.
#[derive(ToSchema, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct PayloadInclude {
    pub include: Vec<String>,
}

/// Every payload key but these.
#[derive(ToSchema, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct PayloadExclude {
    pub exclude: Vec<String>,
}

/// Which vectors to return: all (`true`), none (`false`, the default), or these names
/// (`with_vectors` is accepted as another spelling of the field).
#[derive(ToSchema, Debug)]
#[serde(untagged)]
pub(crate) enum WithVector {
    All(bool),
    Names(Vec<String>),
}

impl From<WithVector> for rvdb_engine::VectorSelector {
    fn from(w: WithVector) -> Self {
        use rvdb_engine::VectorSelector as S;
        match w {
            WithVector::All(true) => S::All,
            WithVector::All(false) => S::None,
            WithVector::Names(n) => S::Names(n),
        }
    }
}

impl<'de> Deserialize<'de> for WithVector {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = WithVector;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("true, false or a list of vector names")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<WithVector, E> {
                Ok(WithVector::All(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<WithVector, A::Error> {
                let names = Vec::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
                Ok(WithVector::Names(names))
            }
        }
        d.deserialize_any(V)
    }
}

/// The answer to a write.
#[derive(ToSchema, serde::Serialize)]
pub(crate) struct UpdateResult {
    /// The write's sequence number in the collection's log.
    pub operation_id: u64,
    /// `completed` with `?wait=true` (or on the seed's routes), else `acknowledged`; the write
    /// is durable and visible in both cases.
    pub status: UpdateStatus,
}

#[derive(ToSchema, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum UpdateStatus {
    Acknowledged,
    Completed,
}

impl UpdateResult {
    /// What a write answers: `completed` when the caller waited for the fsync.
    pub(crate) fn of(r: rvdb_engine::UpdateResult, waited: bool) -> Self {
        UpdateResult {
            operation_id: r.operation_id,
            status: if waited {
                UpdateStatus::Completed
            } else {
                UpdateStatus::Acknowledged
            },
        }
    }
}

/// The collection in the path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct CollectionPath {
    /// Name of the collection (or of an alias of it).
    pub name: String,
}

/// A point of the collection in the path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct PointPath {
    /// Name of the collection (or of an alias of it).
    pub name: String,
    /// The point's id: an unsigned integer or a UUID.
    pub id: String,
}

/// A payload index of the collection in the path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct IndexPath {
    /// Name of the collection (or of an alias of it).
    pub name: String,
    /// The indexed payload key.
    pub field: String,
}

/// A vector space of the collection in the path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct VectorNamePath {
    /// Name of the collection (or of an alias of it).
    pub name: String,
    /// Name of the vector space.
    pub vector_name: String,
}

/// `?wait=`: when the write is answered.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct WaitQuery {
    /// `true`: answer `completed` once the write's log record is fsynced (concurrent writers
    /// share fsyncs); `false` (the default): `acknowledged` once it is appended to the log and
    /// applied (visible to reads, kept through a crash of the process, fsynced within
    /// milliseconds).
    pub wait: Option<bool>,
}

/// `?timeout=&consistency=` of the read routes.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ReadQuery {
    /// Seconds the request may take, waiting for a search worker included; past it the answer
    /// is 408 and the request is dropped if it has not started.
    pub timeout: Option<u64>,
    /// Which replicas must answer: an integer of at least 1, `majority`, `quorum` or `all`.
    /// A single node holds every replica, so each value reads the same data.
    pub consistency: Option<String>,
}
