//! `rustvecdb import`: loads vectors from a file into a collection, either of a running server
//! (`--url`, PUT …/points?wait=true in batches) or of a storage directory opened directly
//! (`--storage-path`; refused while a server holds it).
//!
//! Formats:
//! - `fvecs`: records of `dim: i32 LE` then `dim` × `f32 LE`; ids 0, 1, 2, …
//! - `npy`: a 2-D little-endian `float32`/`float64` array in C order; row i gets id i
//! - `jsonl`: one object per line, `{"id"?, "vector": [...], "payload"?: {...}}`; a record
//!   without an id gets its position (0-based, blank lines skipped)

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use rvdb_engine::{
    Database, DatabaseOptions, Distance, EngineError, PointId, PointStruct, VectorsConfig,
};
use serde_json::{json, Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// `dim: i32` then `dim` float32s per vector (the ANN benchmarks' format)
    Fvecs,
    /// NumPy `.npy`: a 2-D float32 or float64 array
    Npy,
    /// JSON lines: `{"id"?, "vector": [...], "payload"?: {...}}`
    Jsonl,
}

/// Options of `rustvecdb import`.
#[derive(Args)]
pub struct ImportArgs {
    /// Collection to load into.
    #[arg(long)]
    collection: String,
    /// Base URL of a running server, e.g. http://127.0.0.1:6333.
    #[arg(
        long,
        required_unless_present = "storage_path",
        conflicts_with = "storage_path"
    )]
    url: Option<String>,
    /// API key for --url (sent as `api-key`).
    #[arg(long, env = "RVDB_API_KEY", hide_env_values = true, value_name = "KEY")]
    api_key: Option<String>,
    /// Storage directory to write into directly (no server may be using it).
    #[arg(long, value_name = "DIR")]
    storage_path: Option<PathBuf>,
    /// File format [default: from the extension: .fvecs, .npy, .jsonl/.ndjson/.json].
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// The file to load.
    #[arg(long, value_name = "FILE")]
    file: PathBuf,
    /// Distance of a collection that --create makes.
    #[arg(long, default_value = "Cosine")]
    distance: String,
    /// Points per request (or per write).
    #[arg(long, default_value_t = 1000)]
    batch_size: usize,
    /// Create the collection if it does not exist (the dimension comes from the file).
    #[arg(long)]
    create: bool,
}

/// One point read from the file.
#[derive(Debug)]
struct Point {
    id: Value,
    vector: Vec<f32>,
    payload: Option<Map<String, Value>>,
}

fn format_of(path: &Path) -> anyhow::Result<Format> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    Ok(match ext.as_str() {
        "fvecs" => Format::Fvecs,
        "npy" => Format::Npy,
        "jsonl" | "ndjson" | "json" => Format::Jsonl,
        _ => bail!(
            "cannot tell the format of {} from its extension: pass --format fvecs|npy|jsonl",
            path.display()
        ),
    })
}

// ---------------------------------------------------------------------------------------------
// Readers

/// Reads points one at a time; `dim` is known once the reader is open (or the file is empty).
enum Reader {
    Fvecs {
        r: BufReader<File>,
        dim: usize,
        total: u64,
        read: u64,
    },
    Npy {
        r: BufReader<File>,
        dim: usize,
        rows: u64,
        read: u64,
        f64: bool,
    },
    Jsonl {
        r: BufReader<File>,
        /// The first point, read at open to learn the dimension.
        first: Option<Point>,
        dim: usize,
        line_no: u64,
        index: u64,
        bytes: u64,
        total_bytes: u64,
    },
}

impl Reader {
    fn open(path: &Path, format: Format) -> anyhow::Result<Reader> {
        let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let len = file.metadata()?.len();
        let mut r = BufReader::with_capacity(1 << 20, file);
        match format {
            Format::Fvecs => {
                if len == 0 {
                    return Ok(Reader::Fvecs {
                        r,
                        dim: 0,
                        total: 0,
                        read: 0,
                    });
                }
                let mut b = [0u8; 4];
                r.read_exact(&mut b)
                    .context("fvecs: the file is shorter than one record")?;
                let dim = i32::from_le_bytes(b);
                if dim <= 0 || dim > rvdb_engine::MAX_DIM as i32 {
                    bail!("fvecs: the first record says dimension {dim}: not a .fvecs file?");
                }
                let dim = dim as usize;
                let rec = 4 + 4 * dim as u64;
                if len % rec != 0 {
                    bail!(
                        "fvecs: the file's {len} bytes are not a whole number of {rec}-byte records (dimension {dim}): truncated?"
                    );
                }
                // re-read the first record through the normal path
                let mut file = r.into_inner();
                std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(0))?;
                Ok(Reader::Fvecs {
                    r: BufReader::with_capacity(1 << 20, file),
                    dim,
                    total: len / rec,
                    read: 0,
                })
            }
            Format::Npy => {
                let (dim, rows, f64, header_len) = npy_header(&mut r)?;
                let item = if f64 { 8 } else { 4 };
                let want = header_len + rows * dim as u64 * item;
                if len < want {
                    bail!(
                        "npy: the header says {rows}×{dim} values but the file is {len} bytes, {want} needed: truncated?"
                    );
                }
                Ok(Reader::Npy {
                    r,
                    dim,
                    rows,
                    read: 0,
                    f64,
                })
            }
            Format::Jsonl => {
                let mut reader = Reader::Jsonl {
                    r,
                    first: None,
                    dim: 0,
                    line_no: 0,
                    index: 0,
                    bytes: 0,
                    total_bytes: len,
                };
                if let Some(p) = reader.next_point()? {
                    if let Reader::Jsonl { first, dim, .. } = &mut reader {
                        *dim = p.vector.len();
                        *first = Some(p);
                    }
                }
                Ok(reader)
            }
        }
    }

    fn dim(&self) -> usize {
        match self {
            Reader::Fvecs { dim, .. } | Reader::Npy { dim, .. } | Reader::Jsonl { dim, .. } => *dim,
        }
    }

    /// (progress length, counts bytes rather than points).
    fn progress_len(&self) -> (u64, bool) {
        match self {
            Reader::Fvecs { total, .. } => (*total, false),
            Reader::Npy { rows, .. } => (*rows, false),
            Reader::Jsonl { total_bytes, .. } => (*total_bytes, true),
        }
    }

    fn progress_pos(&self) -> u64 {
        match self {
            Reader::Fvecs { read, .. } | Reader::Npy { read, .. } => *read,
            Reader::Jsonl { bytes, .. } => *bytes,
        }
    }

    fn next_point(&mut self) -> anyhow::Result<Option<Point>> {
        match self {
            Reader::Fvecs {
                r,
                dim,
                total,
                read,
            } => {
                if *read == *total {
                    return Ok(None);
                }
                let mut head = [0u8; 4];
                r.read_exact(&mut head)
                    .with_context(|| format!("fvecs: record {read}: unexpected end of file"))?;
                let d = i32::from_le_bytes(head);
                if d as i64 != *dim as i64 {
                    bail!("fvecs: record {read} has dimension {d}, the first has {dim}");
                }
                let vector = read_f32s(r, *dim)
                    .with_context(|| format!("fvecs: record {read}: unexpected end of file"))?;
                let id = json!(*read);
                *read += 1;
                Ok(Some(Point {
                    id,
                    vector,
                    payload: None,
                }))
            }
            Reader::Npy {
                r,
                dim,
                rows,
                read,
                f64,
            } => {
                if *read == *rows {
                    return Ok(None);
                }
                let vector = if *f64 {
                    let mut buf = vec![0u8; *dim * 8];
                    r.read_exact(&mut buf)
                        .with_context(|| format!("npy: row {read}: unexpected end of file"))?;
                    buf.chunks_exact(8)
                        .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")) as f32)
                        .collect()
                } else {
                    read_f32s(r, *dim)
                        .with_context(|| format!("npy: row {read}: unexpected end of file"))?
                };
                let id = json!(*read);
                *read += 1;
                Ok(Some(Point {
                    id,
                    vector,
                    payload: None,
                }))
            }
            Reader::Jsonl {
                r,
                first,
                dim,
                line_no,
                index,
                bytes,
                ..
            } => {
                if let Some(p) = first.take() {
                    return Ok(Some(p));
                }
                let mut line = String::new();
                loop {
                    line.clear();
                    let n = r.read_line(&mut line).with_context(|| {
                        format!("jsonl: line {}: cannot read (not UTF-8?)", *line_no + 1)
                    })?;
                    if n == 0 {
                        return Ok(None);
                    }
                    *bytes += n as u64;
                    *line_no += 1;
                    if !line.trim().is_empty() {
                        break;
                    }
                }
                let at = *line_no;
                let p = jsonl_point(&line, *index).map_err(|e| anyhow!("jsonl: line {at}: {e}"))?;
                if *dim != 0 && p.vector.len() != *dim {
                    bail!(
                        "jsonl: line {at}: the vector has {} values, the first has {dim}",
                        p.vector.len()
                    );
                }
                *index += 1;
                Ok(Some(p))
            }
        }
    }
}

fn read_f32s(r: &mut impl Read, n: usize) -> std::io::Result<Vec<f32>> {
    let mut buf = vec![0u8; n * 4];
    r.read_exact(&mut buf)?;
    Ok(buf
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
        .collect())
}

fn jsonl_point(line: &str, index: u64) -> Result<Point, String> {
    let v: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let Value::Object(mut m) = v else {
        return Err("expected an object {\"id\"?, \"vector\", \"payload\"?}".into());
    };
    if let Some(k) = m
        .keys()
        .find(|k| !matches!(k.as_str(), "id" | "vector" | "payload"))
    {
        return Err(format!(
            "unknown field `{k}` (expected id, vector, payload)"
        ));
    }
    let id = match m.remove("id") {
        None | Some(Value::Null) => json!(index),
        Some(id) => {
            serde_json::from_value::<PointId>(id.clone())
                .map_err(|e| format!("id: {e} (an id is an unsigned integer or a UUID string)"))?;
            id
        }
    };
    let vector = match m.remove("vector") {
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, x)| {
                x.as_f64()
                    .map(|f| f as f32)
                    .ok_or_else(|| format!("vector[{i}]: expected a number, got {x}"))
            })
            .collect::<Result<Vec<f32>, String>>()?,
        Some(Value::Object(_)) => {
            return Err("named vectors are not supported by import: give one `vector` array".into())
        }
        Some(other) => return Err(format!("vector: expected an array of numbers, got {other}")),
        None => return Err("missing `vector`".into()),
    };
    if vector.is_empty() {
        return Err("vector: empty".into());
    }
    let payload = match m.remove("payload") {
        None | Some(Value::Null) => None,
        Some(Value::Object(p)) => Some(p),
        Some(other) => return Err(format!("payload: expected an object, got {other}")),
    };
    Ok(Point {
        id,
        vector,
        payload,
    })
}

/// Reads a .npy header with the `npyz` crate: (columns, rows, is float64, bytes before the data).
fn npy_header(r: &mut impl Read) -> anyhow::Result<(usize, u64, bool, u64)> {
    use npyz::{DType, Endianness, TypeChar};
    // a header is a few hundred bytes; a huge length field is not a .npy file
    let mut counted = Counted {
        inner: r.take(NPY_MAX_HEADER),
        read: 0,
    };
    let header = npyz::NpyHeader::from_reader(&mut counted)
        .map_err(|e| anyhow!("npy: cannot read the header ({e}): not a .npy file?"))?;
    let f64 = match header.dtype() {
        DType::Plain(ty) => match (ty.endianness(), ty.type_char(), ty.size_field()) {
            (Endianness::Little, TypeChar::Float, 4) => false,
            (Endianness::Little, TypeChar::Float, 8) => true,
            (Endianness::Big, TypeChar::Float, 4 | 8) => {
                bail!("npy: big-endian data ({ty}) is not supported; use little-endian")
            }
            _ => bail!("npy: dtype {ty} is not supported: use float32 ('<f4') or float64 ('<f8')"),
        },
        other => bail!(
            "npy: dtype {} is not supported: use float32 ('<f4') or float64 ('<f8')",
            other.descr()
        ),
    };
    if header.order() == npyz::Order::Fortran {
        bail!("npy: Fortran (column-major) order is not supported: save a C-order array (np.ascontiguousarray)");
    }
    let [rows, cols] = *header.shape() else {
        let dims: Vec<String> = header.shape().iter().map(u64::to_string).collect();
        bail!(
            "npy: the array has shape ({}); import needs a 2-D array (points × dimension)",
            dims.join(", ")
        );
    };
    if cols == 0 || cols > rvdb_engine::MAX_DIM as u64 {
        bail!(
            "npy: dimension {cols} is out of range (1..={})",
            rvdb_engine::MAX_DIM
        );
    }
    Ok((cols as usize, rows, f64, counted.read))
}

/// Longest .npy header read (magic, version, length and the header text).
const NPY_MAX_HEADER: u64 = (1 << 20) + 12;

/// A reader that counts the bytes it returns.
struct Counted<R> {
    inner: R,
    read: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

// ---------------------------------------------------------------------------------------------
// Destinations

enum Sink {
    Http {
        client: reqwest::blocking::Client,
        base: reqwest::Url,
        api_key: Option<String>,
        collection: String,
    },
    Local {
        db: Database,
        collection: String,
    },
}

/// The error message of an answer in the envelope, or its text.
fn answer_error(resp: reqwest::blocking::Response) -> String {
    let status = resp.status();
    let text = resp.text().unwrap_or_default();
    let msg = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v["status"]["error"].as_str().map(str::to_string))
        .unwrap_or(text);
    format!("{status}: {msg}")
}

impl Sink {
    fn http(url: &str, api_key: Option<String>, collection: &str) -> anyhow::Result<Sink> {
        let base = reqwest::Url::parse(url).with_context(|| format!("--url {url}"))?;
        if base.scheme() != "http" {
            bail!("--url {url}: only http:// is supported (import into an HTTPS server through --storage-path on its host, or a plain-HTTP listener)");
        }
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(600))
            .build()?;
        Ok(Sink::Http {
            client,
            base,
            api_key: api_key.filter(|k| !k.is_empty()),
            collection: collection.to_string(),
        })
    }

    fn local(dir: &Path, collection: &str) -> anyhow::Result<Sink> {
        let db = Database::open(DatabaseOptions::persistent(dir))
            .with_context(|| format!("could not open the storage directory {}", dir.display()))?;
        Ok(Sink::Local {
            db,
            collection: collection.to_string(),
        })
    }

    fn endpoint(base: &reqwest::Url, segments: &[&str]) -> anyhow::Result<reqwest::Url> {
        let mut u = base.clone();
        u.path_segments_mut()
            .map_err(|_| anyhow!("--url {base}: cannot be a base URL"))?
            .pop_if_empty()
            .extend(segments);
        Ok(u)
    }

    /// Checks that the collection exists with this dimension, or creates it.
    fn prepare(&mut self, dim: usize, create: bool, distance: Distance) -> anyhow::Result<()> {
        let create_body = json!({"vectors": {"size": dim, "distance": distance.as_str()}});
        match self {
            Sink::Http {
                client,
                base,
                api_key,
                collection,
            } => {
                let url = Self::endpoint(base, &["collections", collection])?;
                let key = api_key.as_deref();
                let with_key = |rb: reqwest::blocking::RequestBuilder| match key {
                    Some(k) => rb.header("api-key", k),
                    None => rb,
                };
                let resp = with_key(client.get(url.clone()))
                    .send()
                    .with_context(|| format!("cannot reach {base}"))?;
                match resp.status().as_u16() {
                    200 => {
                        let info: Value = resp.json()?;
                        let vectors = &info["result"]["config"]["params"]["vectors"];
                        if !vectors.is_object() || vectors.get("distance").is_none() {
                            bail!("collection `{collection}` has named vectors; import writes one unnamed vector");
                        }
                        if let Some(size) = vectors["size"].as_u64() {
                            if size != dim as u64 {
                                bail!("collection `{collection}` has dimension {size}, the file's vectors have {dim}");
                            }
                        }
                        Ok(())
                    }
                    404 if create => {
                        let resp = with_key(client.put(url)).json(&create_body).send()?;
                        if !resp.status().is_success() {
                            bail!(
                                "could not create collection `{collection}`: {}",
                                answer_error(resp)
                            );
                        }
                        Ok(())
                    }
                    404 => bail!(
                        "collection `{collection}` does not exist (pass --create to create it)"
                    ),
                    _ => bail!(
                        "GET collection `{collection}` failed: {}",
                        answer_error(resp)
                    ),
                }
            }
            Sink::Local { db, collection } => match db.collection(collection) {
                Ok(c) => {
                    let info = c.info();
                    if !matches!(info.config.vectors, VectorsConfig::Single(_)) {
                        bail!("collection `{collection}` has named vectors; import writes one unnamed vector");
                    }
                    if let Some(size) = info.dim() {
                        if size != dim {
                            bail!("collection `{collection}` has dimension {size}, the file's vectors have {dim}");
                        }
                    }
                    Ok(())
                }
                Err(EngineError::CollectionNotFound(_)) if create => {
                    let config = rvdb_api::collection_config(&create_body)
                        .map_err(|e| anyhow!("{}", e.message))?;
                    db.create_collection(collection, config)?;
                    Ok(())
                }
                Err(EngineError::CollectionNotFound(_)) => {
                    bail!("collection `{collection}` does not exist (pass --create to create it)")
                }
                Err(e) => Err(e.into()),
            },
        }
    }

    fn send(&mut self, batch: Vec<Point>) -> anyhow::Result<()> {
        match self {
            Sink::Http {
                client,
                base,
                api_key,
                collection,
            } => {
                let mut url = Self::endpoint(base, &["collections", collection, "points"])?;
                url.set_query(Some("wait=true"));
                let points: Vec<Value> = batch
                    .into_iter()
                    .map(|p| {
                        let mut o = json!({"id": p.id, "vector": p.vector});
                        if let Some(pl) = p.payload {
                            o["payload"] = Value::Object(pl);
                        }
                        o
                    })
                    .collect();
                let mut rb = client.put(url).json(&json!({ "points": points }));
                if let Some(k) = api_key {
                    rb = rb.header("api-key", k.as_str());
                }
                let resp = rb.send().context("the upsert request failed")?;
                if !resp.status().is_success() {
                    bail!("upsert failed: {}", answer_error(resp));
                }
                Ok(())
            }
            Sink::Local { db, collection } => {
                let c = db.collection(collection)?;
                let points = batch
                    .into_iter()
                    .map(|p| {
                        let id: PointId = serde_json::from_value(p.id)?;
                        Ok(PointStruct::new(
                            id,
                            p.vector,
                            p.payload.unwrap_or_default(),
                        ))
                    })
                    .collect::<anyhow::Result<Vec<_>>>()?;
                c.upsert(points)?;
                Ok(())
            }
        }
    }
}

/// Runs the import; prints `imported N points in S s (R points/s)` on stdout.
pub fn run(args: ImportArgs) -> anyhow::Result<()> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    if args.batch_size == 0 {
        bail!("--batch-size must be at least 1");
    }
    let distance = Distance::parse(&args.distance).ok_or_else(|| {
        anyhow!(
            "--distance {}: expected Cosine, Euclid, Dot or Manhattan",
            args.distance
        )
    })?;
    let format = match args.format {
        Some(f) => f,
        None => format_of(&args.file)?,
    };
    let mut reader = Reader::open(&args.file, format)?;
    let mut sink = match (&args.url, &args.storage_path) {
        (Some(url), _) => Sink::http(url, args.api_key.clone(), &args.collection)?,
        (None, Some(dir)) => Sink::local(dir, &args.collection)?,
        (None, None) => bail!("pass --url or --storage-path"),
    };
    let start = Instant::now();
    let mut imported = 0u64;
    if reader.dim() > 0 {
        sink.prepare(reader.dim(), args.create, distance)?;
        let (len, bytes) = reader.progress_len();
        let bar = ProgressBar::new(len);
        let template = if bytes {
            "{elapsed_precise} [{bar:40}] {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta}) {msg}"
        } else {
            "{elapsed_precise} [{bar:40}] {pos}/{len} points ({per_sec}, eta {eta})"
        };
        bar.set_style(
            ProgressStyle::with_template(template)
                .expect("a valid template")
                .progress_chars("=> "),
        );
        let mut batch = Vec::with_capacity(args.batch_size);
        loop {
            let p = reader.next_point()?;
            let done = p.is_none();
            if let Some(p) = p {
                batch.push(p);
            }
            if batch.len() == args.batch_size || (done && !batch.is_empty()) {
                let n = batch.len() as u64;
                sink.send(std::mem::replace(
                    &mut batch,
                    Vec::with_capacity(args.batch_size),
                ))
                .with_context(|| format!("after {imported} points were imported"))?;
                imported += n;
                bar.set_position(reader.progress_pos());
                if bytes {
                    bar.set_message(format!("{imported} points"));
                }
            }
            if done {
                break;
            }
        }
        bar.finish_and_clear();
    }
    let secs = start.elapsed().as_secs_f64();
    let rate = if secs > 0.0 {
        imported as f64 / secs
    } else {
        0.0
    };
    println!("imported {imported} points in {secs:.2} s ({rate:.0} points/s)");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A version 1.0 .npy header with this dict, padded as numpy pads it.
    fn npy_bytes(dict: &str) -> Vec<u8> {
        let mut header = dict.to_string();
        while !(10 + header.len() + 1).is_multiple_of(64) {
            header.push(' ');
        }
        header.push('\n');
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
        bytes.extend_from_slice(header.as_bytes());
        bytes
    }

    #[test]
    fn npy_dict() {
        let h = npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }");
        assert_eq!(npy_header(&mut &h[..]).unwrap(), (4, 3, false, 128));
        assert_eq!(h.len(), 128);
        let h = npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (0, 7), }");
        assert_eq!(npy_header(&mut &h[..]).unwrap(), (7, 0, true, 128));
        let err = |dict: &str| {
            npy_header(&mut &npy_bytes(dict)[..])
                .unwrap_err()
                .to_string()
        };
        assert!(
            err("{'descr': '>f4', 'fortran_order': False, 'shape': (3, 4), }")
                .contains("big-endian data (>f4)")
        );
        assert!(
            err("{'descr': '<i4', 'fortran_order': False, 'shape': (3, 4), }")
                .contains("dtype <i4 is not supported")
        );
        assert!(
            err("{'descr': '<f4', 'fortran_order': True, 'shape': (3, 4), }").contains("Fortran")
        );
        assert!(
            err("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }")
                .contains("shape (3); import needs a 2-D array")
        );
        assert!(
            err("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 0), }")
                .contains("dimension 0 is out of range")
        );
        assert!(npy_header(&mut &b"not numpy at all"[..])
            .unwrap_err()
            .to_string()
            .contains("not a .npy file"));
        // a length field far beyond any real header
        let mut huge = b"\x93NUMPY\x02\x00".to_vec();
        huge.extend_from_slice(&(2u32 << 20).to_le_bytes());
        huge.resize(huge.len() + (2 << 20), b' ');
        assert!(npy_header(&mut &huge[..]).is_err());
    }

    #[test]
    fn jsonl_records() {
        let p = jsonl_point(r#"{"vector": [1, 2.5], "payload": {"a": 1}}"#, 7).unwrap();
        assert_eq!(p.id, json!(7));
        assert_eq!(p.vector, vec![1.0, 2.5]);
        assert!(jsonl_point(r#"{"vectors": [1]}"#, 0)
            .unwrap_err()
            .contains("unknown field `vectors`"));
        assert!(jsonl_point(r#"{"id": -1, "vector": [1]}"#, 0)
            .unwrap_err()
            .starts_with("id:"));
        assert!(jsonl_point(r#"{"id": "not-a-uuid", "vector": [1]}"#, 0).is_err());
    }
}
