//! Segment files and the collection state file: what a collection keeps on disk besides its
//! write-ahead log. Byte formats (little-endian; strings, ids, vectors and payloads as in
//! `codec.rs`):
//!
//! `segments/<id>/segment.bin` — one sealed segment's rows, immutable once written:
//! magic `RVDBSEG1`, then a checksummed block (`crc32c: u32` + body) whose body is
//! `version: u32` (1), `segment_id: u64`, `rows: u64`, `spaces: u32` × (name string,
//! `dim: u32` with `u32::MAX` = unknown, presence bitmap of `ceil(rows / 8)` bytes, bit `r % 8`
//! of byte `r / 8` set when row `r` has a vector), then `rows` ids, `rows` × `version: u64`,
//! `rows` payloads; then, only when the segment has sparse or multivector spaces, `sparse: u32` ×
//! (name string, presence bitmap, one sparse vector as in `codec.rs` per present row); then, only
//! when it has multivector spaces, `multi: u32` × (name string, `dim: u32`, presence bitmap, per
//! present row `count: u32` and `count × dim` f32 values, its rows one after another). A file
//! without the multivector part (written before multivectors) reads as having none.
//!
//! `segments/<id>/sparse-<k>.bin` — the inverted index of the k-th sparse space (in name order):
//! `rvdb_index::SealedSparseIndex`'s byte format (with its own checksum). A missing or damaged
//! one is rebuilt from the vectors in `segment.bin`.
//!
//! `segments/<id>/vectors-<k>.bin` — the vectors of the k-th dense space (in name order) of that
//! segment, memory-mapped at load: a 64-byte header (magic `RVDBVEC1`, `version: u32` (1),
//! `dim: u32`, `rows: u64`, `crc32c: u32` of the data, `crc32c: u32` of header bytes 0..28, zero
//! padding), then `rows × dim` f32 (absent vectors are zero rows).
//!
//! `segments/<id>/hnsw-<k>.bin` — that space's HNSW graph (`rvdb_index` byte format, which
//! carries its own checksum). Optional: written once the optimizer has built it; a missing or
//! damaged graph file is rebuilt, never trusted.
//!
//! `state.bin` — which segments make the collection as of one log sequence number: magic
//! `RVDBSTA1`, then a checksummed block whose body is `version: u32` (1), `seq: u64` (every
//! operation up to it is reflected, none after), `next_segment_id: u64`, `segments: u32` ×
//! (`segment_id: u64`, `rows: u64`, tombstone bitmap of `ceil(rows / 8)` bytes), then the
//! appendable segment's rows: `spaces: u32` × (name string, `dim: u32`) of its dense spaces,
//! `count: u64`, `count` × (id, `version: u64`, named vectors, payload).
//!
//! Commit protocol: a segment directory is written as `segments/.tmp-<id>` (every file fsynced,
//! the directory fsynced), renamed to `segments/<id>` and `segments/` fsynced; only then can a
//! `state.bin` name it. `state.bin` is replaced atomically (temporary file, fsync, rename,
//! directory fsync). The log is truncated only up to the `seq` of a durable `state.bin`. At
//! start, segment directories that `state.bin` does not name are leftovers (of a flush that did
//! not finish, or of segments merged away) and are removed, and a segment whose files fail
//! their checks is moved to `quarantine/` (the collection opens without it, status red).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rvdb_filter::{Payload, PayloadIndex, PointId};
use rvdb_index::{HnswIndex, QuantizedHnsw};
use rvdb_storage::{StorageError, Vfs};

use crate::codec::{Reader, Writer};
use crate::datatype::{Datatype, Elem};
use crate::multi::MultiColumn;
use crate::quantization::QuantizationConfig;
use crate::segment::{Column, Segment, Values};
use crate::segments::{Graphs, Sealed};
use crate::sparse::SparseColumn;
use crate::types::Vector;
use crate::{EngineError, Result};

#[cfg(target_endian = "big")]
compile_error!("segment files store f32 values little-endian and are mapped as they are");

pub(crate) const SEGMENTS_DIR: &str = "segments";
pub(crate) const STATE_FILE: &str = "state.bin";
pub(crate) const QUARANTINE_DIR: &str = "quarantine";
const SEGMENT_FILE: &str = "segment.bin";
const PAYLOAD_INDEX_FILE: &str = "payload-index.bin";
const PAYLOAD_INDEX_MAGIC: &[u8; 8] = b"RVDBPIX1";
const SEGMENT_MAGIC: &[u8; 8] = b"RVDBSEG1";
const VECTORS_MAGIC: &[u8; 8] = b"RVDBVEC1";
const STATE_MAGIC: &[u8; 8] = b"RVDBSTA1";
const VECTORS_HEADER: usize = 64;
const FORMAT_VERSION: u32 = 1;

fn vectors_file(k: usize) -> String {
    format!("vectors-{k}.bin")
}

fn sparse_file(k: usize) -> String {
    format!("sparse-{k}.bin")
}

fn hnsw_file(k: usize) -> String {
    format!("hnsw-{k}.bin")
}

pub(crate) fn segment_dir(collection_dir: &Path, id: u64) -> PathBuf {
    collection_dir.join(SEGMENTS_DIR).join(id.to_string())
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> EngineError + '_ {
    move |source| {
        EngineError::Storage(StorageError::Io {
            path: path.to_path_buf(),
            source,
        })
    }
}

fn corrupt(path: &Path, reason: impl Into<String>) -> EngineError {
    EngineError::Corrupt {
        what: path.display().to_string(),
        reason: reason.into(),
    }
}

pub(crate) use rvdb_storage::Mapped;

/// Creates `path`, writes `parts` and fsyncs it.
fn write_new(vfs: &dyn Vfs, path: &Path, parts: &[&[u8]]) -> Result<()> {
    let f = vfs.create_new(path).map_err(io_err(path))?;
    for p in parts {
        f.write_all(p).map_err(io_err(path))?;
    }
    f.sync_all().map_err(io_err(path))
}

fn bitmap(bits: impl ExactSizeIterator<Item = bool>) -> Vec<u8> {
    let mut out = vec![0u8; bits.len().div_ceil(8)];
    for (i, b) in bits.enumerate() {
        if b {
            out[i / 8] |= 1 << (i % 8);
        }
    }
    out
}

fn unbitmap(bytes: &[u8], n: usize) -> Vec<bool> {
    (0..n).map(|i| bytes[i / 8] & (1 << (i % 8)) != 0).collect()
}

/// A vectors file's header: magic, format, dim, rows, the data's checksum, the header's own;
/// then, for a float16 or uint8 column, the element type's code at byte 32 and 1 at byte 33
/// when rows are scaled to unit length when scored (uint8 under Cosine), with the checksum of
/// bytes 32..36 after them (a float32 column leaves them zero, as files did before datatypes).
fn vectors_header(dim: usize, rows: usize, elem: Elem, data: &[&[u8]]) -> [u8; VECTORS_HEADER] {
    let mut h = [0u8; VECTORS_HEADER];
    h[..8].copy_from_slice(VECTORS_MAGIC);
    h[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    h[12..16].copy_from_slice(&(dim as u32).to_le_bytes());
    h[16..24].copy_from_slice(&(rows as u64).to_le_bytes());
    let crc = data
        .iter()
        .fold(0, |c, part| crc32c::crc32c_append(c, part));
    h[24..28].copy_from_slice(&crc.to_le_bytes());
    let hcrc = crc32c::crc32c(&h[..28]);
    h[28..32].copy_from_slice(&hcrc.to_le_bytes());
    if elem != Elem::default() {
        h[32] = elem.dtype.code();
        h[33] = u8::from(elem.renorm);
        let tcrc = crc32c::crc32c(&h[32..36]);
        h[36..40].copy_from_slice(&tcrc.to_le_bytes());
    }
    h
}

fn encode_segment(id: u64, seg: &Segment) -> Vec<u8> {
    let n = seg.len();
    let mut w = Writer::default();
    w.u32(FORMAT_VERSION);
    w.u64(id);
    w.u64(n as u64);
    let cols: Vec<(&str, &Column)> = seg.columns().collect();
    w.len(cols.len());
    for (name, c) in &cols {
        w.str(name);
        w.u32(c.dim().map_or(u32::MAX, |d| d as u32));
        w.0.extend_from_slice(&bitmap(c.present().iter().copied()));
    }
    for id in seg.ids() {
        w.id(*id);
    }
    for v in seg.versions() {
        w.u64(*v);
    }
    for p in seg.payloads() {
        w.payload(p);
    }
    let sparse: Vec<(&str, &SparseColumn)> = seg.sparse_columns().collect();
    let multi: Vec<(&str, &MultiColumn)> = seg.multi_columns().collect();
    if !sparse.is_empty() || !multi.is_empty() {
        w.len(sparse.len());
        for (name, c) in sparse {
            w.str(name);
            w.0.extend_from_slice(&bitmap((0..n).map(|r| c.is_present(r))));
            for v in (0..n).filter_map(|r| c.get(r)) {
                w.sparse(v);
            }
        }
    }
    if !multi.is_empty() {
        w.len(multi.len());
        for (name, c) in multi {
            w.str(name);
            let dim = c.dim();
            w.len(dim);
            w.0.extend_from_slice(&bitmap((0..n).map(|r| c.is_present(r))));
            for v in (0..n).filter_map(|r| c.get(r)) {
                w.len(v.len() / dim.max(1));
                w.0.extend_from_slice(bytemuck::cast_slice(v));
            }
        }
    }
    let mut out = SEGMENT_MAGIC.to_vec();
    out.extend_from_slice(&rvdb_storage::checksummed(&w.0));
    out
}

/// Writes a sealed segment's directory (rows, vectors and, when built, its graphs) and renames
/// it into place.
pub(crate) fn write_segment(
    vfs: &dyn Vfs,
    collection_dir: &Path,
    id: u64,
    seg: &Segment,
    payload_index: &PayloadIndex,
    hnsw: Option<&Graphs>,
) -> Result<()> {
    let segments = collection_dir.join(SEGMENTS_DIR);
    if !vfs.exists(&segments) {
        vfs.create_dir_all(&segments).map_err(io_err(&segments))?;
        rvdb_storage::fsync_dir_in(vfs, collection_dir)?;
    }
    let tmp = segments.join(format!(".tmp-{id}"));
    if vfs.exists(&tmp) {
        vfs.remove_dir_all(&tmp).map_err(io_err(&tmp))?;
    }
    let result = (|| -> Result<()> {
        vfs.create_dir_all(&tmp).map_err(io_err(&tmp))?;
        write_new(vfs, &tmp.join(SEGMENT_FILE), &[&encode_segment(id, seg)])?;
        write_new(
            vfs,
            &tmp.join(PAYLOAD_INDEX_FILE),
            &[
                PAYLOAD_INDEX_MAGIC,
                &rvdb_storage::checksummed(&payload_index.to_bytes()),
            ],
        )?;
        for (k, (name, c)) in seg.columns().enumerate() {
            let data = c.values().bytes();
            let header = vectors_header(c.dim().unwrap_or(0), seg.len(), c.elem(), &data);
            let mut parts: Vec<&[u8]> = vec![&header];
            parts.extend(data);
            write_new(vfs, &tmp.join(vectors_file(k)), &parts)?;
            if let Some(g) = hnsw.and_then(|h| h.get(name)) {
                write_new(vfs, &tmp.join(hnsw_file(k)), &[&g.to_bytes()])?;
            }
        }
        for (k, (_, c)) in seg.sparse_columns().enumerate() {
            let sealed;
            let index = match c.sealed_index() {
                Some(ix) => ix,
                None => {
                    sealed = c.seal(seg.len());
                    sealed.sealed_index().expect("just sealed")
                }
            };
            write_new(vfs, &tmp.join(sparse_file(k)), &[&index.to_bytes()])?;
        }
        rvdb_storage::fsync_dir_in(vfs, &tmp)?;
        let dest = segments.join(id.to_string());
        vfs.rename(&tmp, &dest).map_err(io_err(&dest))?;
        rvdb_storage::fsync_dir_in(vfs, &segments)?;
        Ok(())
    })();
    if result.is_err() {
        let _ = vfs.remove_dir_all(&tmp);
    }
    result
}

/// Adds the graphs of an already written segment (each file replaced atomically).
pub(crate) fn write_hnsw(
    vfs: &dyn Vfs,
    collection_dir: &Path,
    id: u64,
    seg: &Segment,
    hnsw: &Graphs,
) -> Result<()> {
    let dir = segment_dir(collection_dir, id);
    for (k, (name, _)) in seg.columns().enumerate() {
        if let Some(g) = hnsw.get(name) {
            rvdb_storage::atomic_write_in(vfs, &dir.join(hnsw_file(k)), &g.to_bytes())?;
        }
    }
    Ok(())
}

fn quant_file(k: usize) -> String {
    format!("quant-{k}.bin")
}

/// The codes file of a space of a segment (files are numbered by the space's column).
fn codes_path(collection_dir: &Path, id: u64, seg: &Segment, name: &str) -> Option<PathBuf> {
    let k = seg.columns().position(|(n, _)| n == name)?;
    Some(segment_dir(collection_dir, id).join(quant_file(k)))
}

/// Writes one space's codes (`quant-<k>.bin`, replaced atomically): the configuration they
/// were built for (u32 length, then its JSON), then the index crate's bytes (checksummed).
pub(crate) fn write_codes(
    vfs: &dyn Vfs,
    collection_dir: &Path,
    id: u64,
    seg: &Segment,
    name: &str,
    config: &QuantizationConfig,
    codes: &QuantizedHnsw,
) -> Result<()> {
    let Some(path) = codes_path(collection_dir, id, seg, name) else {
        return Ok(());
    };
    let json = serde_json::to_vec(config).expect("a configuration serializes");
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&(json.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&json);
    codes.write_bytes(&mut bytes);
    rvdb_storage::atomic_write_in(vfs, &path, &bytes)?;
    Ok(())
}

/// Removes one space's codes file, if any.
pub(crate) fn remove_codes(
    vfs: &dyn Vfs,
    collection_dir: &Path,
    id: u64,
    seg: &Segment,
    name: &str,
) -> Result<()> {
    let Some(path) = codes_path(collection_dir, id, seg, name) else {
        return Ok(());
    };
    match vfs.remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err(&path)(e)),
    }
}

/// One space's codes read back over its graph, when the file is there, intact, and was
/// written for `config` (else `None`, with a warning for a damaged file: they are built again).
pub(crate) fn read_codes(
    vfs: &dyn Vfs,
    collection_dir: &Path,
    id: u64,
    seg: &Segment,
    name: &str,
    config: &QuantizationConfig,
    graph: &HnswIndex,
) -> Option<QuantizedHnsw> {
    let path = codes_path(collection_dir, id, seg, name)?;
    let bytes = vfs.read(&path).ok()?;
    let len = u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
    let json = bytes.get(4..4 + len)?;
    let written: QuantizationConfig = serde_json::from_slice(json).ok()?;
    if &written != config {
        return None;
    }
    match QuantizedHnsw::from_bytes(graph, &bytes[4 + len..]) {
        Ok(codes) => Some(codes),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "codes file is damaged; the codes will be rebuilt");
            None
        }
    }
}

/// One space's graph read from a written segment's file, its blocks viewed in the mapped file
/// where they can be (see [`HnswIndex::from_shared`]).
pub(crate) fn map_graph(
    vfs: &dyn Vfs,
    collection_dir: &Path,
    id: u64,
    seg: &Segment,
    name: &str,
) -> Result<HnswIndex> {
    let dir = segment_dir(collection_dir, id);
    let corrupt = |reason: String| EngineError::Corrupt {
        what: dir.display().to_string(),
        reason,
    };
    let k = seg
        .columns()
        .position(|(n, _)| n == name)
        .ok_or_else(|| corrupt(format!("no column `{name}`")))?;
    let mapped = vfs
        .map(&dir.join(hnsw_file(k)))
        .map_err(|e| corrupt(e.to_string()))?;
    HnswIndex::from_shared(std::sync::Arc::new(mapped)).map_err(corrupt)
}

/// A segment read back from its directory.
pub(crate) struct LoadedSegment {
    pub(crate) data: Segment,
    /// The graphs, when every space with vectors has a valid one.
    pub(crate) hnsw: Option<Graphs>,
}

/// Loads a segment directory: rows decoded, vectors mapped (and their checksum verified), graphs
/// loaded when present and valid; `index` then builds the payload indexes. The graphs are read
/// while the rows are decoded and indexed.
pub(crate) fn load_segment(
    vfs: &dyn Vfs,
    collection_dir: &Path,
    id: u64,
    rows: u64,
    index: &(dyn Fn(&mut Segment, Option<PayloadIndex>) -> Result<()> + Sync),
    on_disk: &(dyn Fn(&str) -> bool + Sync),
) -> Result<LoadedSegment> {
    let started = std::time::Instant::now();
    let dir = segment_dir(collection_dir, id);
    let (data, mut graphs) = rayon::join(
        || {
            let (columns, sparse, multi, ids, versions, payloads) = load_rows(vfs, &dir, id, rows)?;
            let mut data = Segment::from_parts(columns, ids, versions, payloads);
            data.set_sparse(sparse);
            data.set_multi(multi);
            index(&mut data, load_payload_index(vfs, &dir))?;
            Ok::<_, EngineError>(data)
        },
        || load_graphs(vfs, &dir, rows as usize),
    );
    let data = data?;
    let mut chosen = BTreeMap::new();
    let mut all_graphs = true;
    for (k, (name, c)) in data.columns().enumerate() {
        if c.dim().is_none() || !c.present().iter().any(|&p| p) {
            continue;
        }
        match graphs.remove(&k) {
            Some(g) => {
                // an on_disk space's graph stays in its mapped file; the others are copied
                // into memory
                let g = if on_disk(name) { g } else { g.into_owned() };
                chosen.insert(name.to_string(), std::sync::Arc::new(g));
            }
            None => all_graphs = false,
        }
    }
    let n = data.len();
    tracing::debug!(
        segment = id,
        rows = n,
        secs = started.elapsed().as_secs_f64(),
        "segment loaded"
    );
    Ok(LoadedSegment {
        data,
        hnsw: all_graphs.then_some(chosen),
    })
}

type Rows = (
    BTreeMap<String, Column>,
    BTreeMap<String, SparseColumn>,
    BTreeMap<String, MultiColumn>,
    Vec<PointId>,
    Vec<u64>,
    Vec<Payload>,
);

/// `segment.bin` decoded and the vectors files mapped and verified.
fn load_rows(vfs: &dyn Vfs, dir: &Path, id: u64, rows: u64) -> Result<Rows> {
    let path = dir.join(SEGMENT_FILE);
    let bytes = vfs.read(&path).map_err(io_err(&path))?;
    let body = bytes
        .strip_prefix(SEGMENT_MAGIC.as_slice())
        .ok_or_else(|| corrupt(&path, "bad magic"))?;
    let body = rvdb_storage::verify_checksummed(body)
        .ok_or_else(|| corrupt(&path, "checksum mismatch"))?;
    let at = |e: EngineError| match e {
        EngineError::Corrupt { reason, .. } => corrupt(&path, reason),
        e => e,
    };
    let mut r = Reader::new(body, "segment file");
    let version = r.u32().map_err(at)?;
    if version != FORMAT_VERSION {
        return Err(corrupt(&path, format!("unknown format version {version}")));
    }
    let (file_id, n) = (r.u64().map_err(at)?, r.u64().map_err(at)?);
    if file_id != id || n != rows {
        return Err(corrupt(
            &path,
            format!(
                "holds segment {file_id} with {n} rows; the state names segment {id} with {rows}"
            ),
        ));
    }
    let n = n as usize;
    let spaces = r.count().map_err(at)?;
    let mut meta = Vec::new();
    for _ in 0..spaces {
        let name = r.str().map_err(at)?;
        let dim = match r.u32().map_err(at)? {
            u32::MAX => None,
            d => Some(d as usize),
        };
        let present = unbitmap(r.take(n.div_ceil(8)).map_err(at)?, n);
        meta.push((name, dim, present));
    }
    let mut ids = Vec::with_capacity(n);
    for _ in 0..n {
        ids.push(r.id().map_err(at)?);
    }
    let mut versions = Vec::with_capacity(n);
    for _ in 0..n {
        versions.push(r.u64().map_err(at)?);
    }
    let mut payloads: Vec<Payload> = Vec::with_capacity(n);
    for _ in 0..n {
        payloads.push(r.payload().map_err(at)?);
    }
    let mut sparse_meta = Vec::new();
    let mut multi = BTreeMap::new();
    if !r.at_end() {
        for _ in 0..r.count().map_err(at)? {
            let name = r.str().map_err(at)?;
            let present = unbitmap(r.take(n.div_ceil(8)).map_err(at)?, n);
            let mut vectors = Vec::with_capacity(n);
            for p in present {
                vectors.push(if p {
                    Some(r.sparse().map_err(at)?)
                } else {
                    None
                });
            }
            sparse_meta.push((name, vectors));
        }
    }
    if !r.at_end() {
        for _ in 0..r.count().map_err(at)? {
            let name = r.str().map_err(at)?;
            let dim = r.count().map_err(at)?;
            let present = unbitmap(r.take(n.div_ceil(8)).map_err(at)?, n);
            let mut vectors = Vec::with_capacity(n);
            for p in present {
                if !p {
                    vectors.push(None);
                    continue;
                }
                let count = r.count().map_err(at)?;
                let len = count
                    .checked_mul(dim)
                    .filter(|&l| l > 0)
                    .ok_or_else(|| corrupt(&path, "empty or huge multivector"))?;
                let bytes = r
                    .take(
                        len.checked_mul(4)
                            .ok_or_else(|| corrupt(&path, "huge multivector"))?,
                    )
                    .map_err(at)?;
                vectors.push(Some(bytemuck::pod_collect_to_vec::<u8, f32>(bytes)));
            }
            multi.insert(name, MultiColumn::from_rows(dim, vectors));
        }
    }
    r.finish().map_err(at)?;

    let mut columns = BTreeMap::new();
    for (k, (name, dim, present)) in meta.into_iter().enumerate() {
        let vpath = dir.join(vectors_file(k));
        let map = vfs.map(&vpath).map_err(io_err(&vpath))?;
        let d = dim.unwrap_or(0);
        let elem = match (map.get(32).map(|&c| Datatype::from_code(c)), map.get(33)) {
            (Some(Some(dtype)), Some(&renorm)) if renorm < 2 => Elem {
                dtype,
                renorm: renorm == 1,
            },
            _ => return Err(corrupt(&vpath, "unknown element type")),
        };
        let dtype = elem.dtype;
        let data_len = n * d * dtype.width();
        if map.len() != VECTORS_HEADER + data_len {
            return Err(corrupt(
                &vpath,
                format!(
                    "{} bytes, expected {}",
                    map.len(),
                    VECTORS_HEADER + data_len
                ),
            ));
        }
        let data = &map[VECTORS_HEADER..];
        if map[..VECTORS_HEADER] != vectors_header(d, n, elem, &[data]) {
            return Err(corrupt(&vpath, "header or checksum mismatch"));
        }
        let mut values = Values::Mapped {
            map: map.clone(),
            offset: VECTORS_HEADER,
            len: n * d,
            dtype,
        };
        if !(map.as_ptr() as usize + VECTORS_HEADER).is_multiple_of(dtype.width()) {
            values = Values::from_bytes(dtype, data);
        }
        columns.insert(name, Column::from_parts(dim, elem, values, present));
    }
    let mut sparse = BTreeMap::new();
    for (k, (name, vectors)) in sparse_meta.into_iter().enumerate() {
        // the stored index, when it is there, valid and true to the vectors; else rebuilt
        let spath = dir.join(sparse_file(k));
        let stored = vfs
            .read(&spath)
            .ok()
            .and_then(|b| rvdb_index::SealedSparseIndex::from_bytes(&b).ok())
            .filter(|ix| {
                ix.row_count() == n
                    && ix.vector_count()
                        == vectors
                            .iter()
                            .filter(|v| v.as_ref().is_some_and(|v| !v.is_empty()))
                            .count()
            });
        if stored.is_none() {
            tracing::warn!(path = %spath.display(), "sparse index missing or damaged: rebuilt");
        }
        sparse.insert(name, SparseColumn::sealed(n, vectors, stored));
    }
    Ok((columns, sparse, multi, ids, versions, payloads))
}

/// The stored payload indexes of a segment, if its file is there and valid (a damaged one is
/// left out, with a warning: the indexes are rebuilt from the payloads).
fn load_payload_index(vfs: &dyn Vfs, dir: &Path) -> Option<PayloadIndex> {
    let path = dir.join(PAYLOAD_INDEX_FILE);
    let bytes = vfs.read(&path).ok()?;
    let decoded = bytes
        .strip_prefix(PAYLOAD_INDEX_MAGIC.as_slice())
        .and_then(rvdb_storage::verify_checksummed)
        .ok_or_else(|| "bad magic or checksum".to_string())
        .and_then(PayloadIndex::from_bytes);
    match decoded {
        Ok(ix) => Some(ix),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "payload index file is damaged; the indexes are rebuilt from the payloads");
            None
        }
    }
}

/// Every valid `hnsw-<k>.bin` of a segment directory, by `k` (a damaged one is left out, with a
/// warning: its graph is rebuilt).
fn load_graphs(vfs: &dyn Vfs, dir: &Path, n: usize) -> BTreeMap<usize, HnswIndex> {
    let mut out = BTreeMap::new();
    let Ok(entries) = vfs.read_dir(dir) else {
        return out;
    };
    for e in entries {
        let Some(k) = e
            .name
            .to_str()
            .and_then(|s| s.strip_prefix("hnsw-")?.strip_suffix(".bin")?.parse().ok())
        else {
            continue;
        };
        let gpath = dir.join(hnsw_file(k));
        // decoded in place in the mapped file (copied later unless the space is on_disk)
        let decoded = vfs
            .map(&gpath)
            .map_err(|e| e.to_string())
            .and_then(|m| HnswIndex::from_shared(std::sync::Arc::new(m)));
        match decoded {
            Ok(g) if g.len() == n => {
                out.insert(k, g);
            }
            Ok(g) => {
                tracing::warn!(path = %gpath.display(), nodes = g.len(), rows = n, "graph file does not fit its segment; it will be rebuilt");
            }
            Err(e) => {
                tracing::warn!(path = %gpath.display(), error = %e, "graph file is damaged; it will be rebuilt");
            }
        }
    }
    out
}

/// What `state.bin` says.
pub(crate) struct State {
    pub(crate) seq: u64,
    pub(crate) next_segment_id: u64,
    /// (segment id, rows, tombstones).
    pub(crate) segments: Vec<(u64, u64, Vec<bool>)>,
    pub(crate) appendable: Segment,
}

/// Writes the rows of a segment (the appendable one) in the state file's layout.
fn encode_rows(w: &mut Writer, seg: &Segment) {
    let cols: Vec<(&str, &Column)> = seg.columns().collect();
    w.len(cols.len());
    for (name, c) in &cols {
        w.str(name);
        w.u32(c.dim().map_or(u32::MAX, |d| d as u32));
    }
    w.u64(seg.len() as u64);
    for r in 0..seg.len() {
        w.id(seg.id(r));
        w.u64(seg.version(r));
        w.vectors(&seg.vectors(r));
        w.payload(seg.payload(r));
    }
}

/// Reads rows written by `encode_rows` (also the body of a legacy checkpoint after its `seq`).
pub(crate) fn decode_rows(r: &mut Reader) -> Result<Segment> {
    let n_spaces = r.count()?;
    let mut spaces = Vec::with_capacity(n_spaces.min(1024));
    for _ in 0..n_spaces {
        let name = r.str()?;
        let dim = match r.u32()? {
            u32::MAX => None,
            d => Some(d as usize),
        };
        spaces.push((name, dim));
    }
    // f32 columns: the collection gives each space its element type once open (`add_space`)
    let mut seg = Segment::new(
        spaces
            .iter()
            .map(|(n, d)| (n.as_str(), *d, Elem::default())),
    );
    let n = r.u64()?;
    for _ in 0..n {
        let id: PointId = r.id()?;
        let version = r.u64()?;
        let vectors = r.vectors()?;
        let payload = r.payload()?;
        for (name, v) in &vectors {
            let Vector::Dense(v) = v else {
                // sparse and multivector spaces are not listed: their columns come with their
                // first vector
                continue;
            };
            match spaces.iter().find(|(n, _)| n == name) {
                Some((_, Some(d))) if *d == v.len() => {}
                _ => return Err(r.corrupt(format!("vector `{name}` does not fit the collection"))),
            }
        }
        seg.upsert(id, &vectors, payload, version);
    }
    Ok(seg)
}

/// The bytes of `state.bin`: the sealed segments (with their tombstones as of `seq`) and the
/// appendable segment's rows.
pub(crate) fn encode_state(
    seq: u64,
    next_segment_id: u64,
    sealed: &[(u64, usize, Vec<u8>)],
    appendable: &[u8],
) -> Vec<u8> {
    let mut w = Writer::default();
    w.u32(FORMAT_VERSION);
    w.u64(seq);
    w.u64(next_segment_id);
    w.len(sealed.len());
    for (id, rows, tombstones) in sealed {
        w.u64(*id);
        w.u64(*rows as u64);
        w.0.extend_from_slice(tombstones);
    }
    w.0.extend_from_slice(appendable);
    let mut out = STATE_MAGIC.to_vec();
    out.extend_from_slice(&rvdb_storage::checksummed(&w.0));
    out
}

/// The appendable segment's part of `state.bin` (taken under the writer lock).
pub(crate) fn encode_appendable(seg: &Segment) -> Vec<u8> {
    let mut w = Writer::default();
    encode_rows(&mut w, seg);
    w.0
}

/// A sealed segment's tombstones as a bitmap (taken under the writer lock).
pub(crate) fn tombstones(s: &Sealed) -> Vec<u8> {
    bitmap((0..s.data.len()).map(|r| s.is_deleted(r)))
}

pub(crate) fn decode_state(path: &Path, bytes: &[u8]) -> Result<State> {
    let body = bytes
        .strip_prefix(STATE_MAGIC.as_slice())
        .ok_or_else(|| corrupt(path, "bad magic"))?;
    let body =
        rvdb_storage::verify_checksummed(body).ok_or_else(|| corrupt(path, "checksum mismatch"))?;
    let at = |e: EngineError| match e {
        EngineError::Corrupt { reason, .. } => corrupt(path, reason),
        e => e,
    };
    let mut r = Reader::new(body, "state file");
    let version = r.u32().map_err(at)?;
    if version != FORMAT_VERSION {
        return Err(corrupt(path, format!("unknown format version {version}")));
    }
    let seq = r.u64().map_err(at)?;
    let next_segment_id = r.u64().map_err(at)?;
    let count = r.count().map_err(at)?;
    let mut segments = Vec::with_capacity(count.min(1 << 16));
    for _ in 0..count {
        let id = r.u64().map_err(at)?;
        let rows = r.u64().map_err(at)?;
        let n = usize::try_from(rows).map_err(|_| corrupt(path, "huge segment"))?;
        let bits = unbitmap(r.take(n.div_ceil(8)).map_err(at)?, n);
        segments.push((id, rows, bits));
    }
    let appendable = decode_rows(&mut r).map_err(at)?;
    r.finish().map_err(at)?;
    Ok(State {
        seq,
        next_segment_id,
        segments,
        appendable,
    })
}

/// Moves a damaged segment directory aside (to `quarantine/<id>-<unix time>`), so the
/// collection can open without it and the files stay for inspection.
pub(crate) fn quarantine(vfs: &dyn Vfs, collection_dir: &Path, id: u64) -> Result<PathBuf> {
    let qdir = collection_dir.join(QUARANTINE_DIR);
    vfs.create_dir_all(&qdir).map_err(io_err(&qdir))?;
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let dest = qdir.join(format!("{id}-{secs}"));
    let src = segment_dir(collection_dir, id);
    if vfs.exists(&src) {
        vfs.rename(&src, &dest).map_err(io_err(&src))?;
        rvdb_storage::fsync_dir_in(vfs, &collection_dir.join(SEGMENTS_DIR))?;
    }
    rvdb_storage::fsync_dir_in(vfs, &qdir)?;
    Ok(dest)
}

/// Removes segment directories (and unfinished `.tmp-*` ones) that `keep` does not name.
pub(crate) fn remove_unreferenced(
    vfs: &dyn Vfs,
    collection_dir: &Path,
    keep: &[u64],
) -> Result<usize> {
    let segments = collection_dir.join(SEGMENTS_DIR);
    let entries = match vfs.read_dir(&segments) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(io_err(&segments)(e)),
    };
    let mut removed = 0;
    for entry in entries {
        let referenced = entry
            .name
            .to_str()
            .and_then(|s| s.parse::<u64>().ok())
            .is_some_and(|id| keep.contains(&id));
        if !referenced {
            let path = segments.join(&entry.name);
            let r = if entry.is_dir {
                vfs.remove_dir_all(&path)
            } else {
                vfs.remove_file(&path)
            };
            r.map_err(io_err(&path))?;
            removed += 1;
        }
    }
    if removed > 0 {
        rvdb_storage::fsync_dir_in(vfs, &segments)?;
    }
    Ok(removed)
}
