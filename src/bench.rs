//! `rustvecdb bench …`: benchmarks as programs, printing one JSON line per measurement. Here:
//! `exact` (scan speed beside this machine's memory read bandwidth) and `ann` (HNSW build, then
//! recall@k and QPS per `ef`, filtered too); `restart`, `wal` and `load` are in
//! `bench_durability.rs` and `bench_load.rs`.

use std::collections::HashSet;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rvdb_index::{
    flat_search, BinaryEncoding, BinaryQuery, HnswIndex, HnswParams, Quantization, QuantizedHnsw,
    SearchParams, TurboBits,
};
use rvdb_vector::Distance;
use serde_json::json;

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Exact (brute-force) search: vectors scanned per second on one core, beside this
    /// machine's single-thread memory read bandwidth measured in the same run.
    Exact(ExactArgs),
    /// HNSW on standard ANN files: build time, then recall@k and single-thread QPS per `ef`
    /// (one JSON line each), optionally also for filtered queries.
    ///
    /// Files: `.fvecs` / `.ivecs` (each record: little-endian i32 dimension, then that many f32
    /// or i32). `--truth`: one record per query, its exact nearest rows, best first.
    /// `--filtered-labels`: one record of dimension 1 per base row, its label (a non-negative
    /// i32). `--filtered-truth`: one record per query: the query's label, then the exact
    /// nearest rows among those with that label, best first.
    Ann(AnnArgs),
    /// Restart time of a durable database: load `--n` points, seal, index and flush them, then
    /// time `Database::open` (segments mapped, graphs read back, log tail replayed) and the
    /// first search after it.
    Restart(crate::bench_durability::RestartArgs),
    /// Acknowledged writes per second through the log: one point per write, for each number of
    /// concurrent writers, with wait=true (fsynced; concurrent writers share fsyncs) and
    /// wait=false (appended).
    Wal(crate::bench_durability::WalArgs),
    /// The server under many concurrent clients: starts it (or uses --url), loads a clustered
    /// data set, then reports throughput, p50/p90/p99/max latency and recall@10 per number of
    /// connections for searches alone, then a mixed run of upserts (wait=true) and searches.
    Load(crate::bench_load::LoadArgs),
    /// The sparse inverted indexes in this process on a synthetic SPLADE-like set: build
    /// times, then QPS and recall@10 per search path against an exact scan.
    Sparse(crate::bench_sparse::SparseArgs),
    /// Sparse, dense and hybrid (prefetch + RRF / DBSF) queries over HTTP on a collection with
    /// a dense and a sparse vector: throughput, p50/p90/p99/max and recall@10 per number of
    /// connections.
    Hybrid(crate::bench_sparse::HybridArgs),
}

#[derive(Debug, Args)]
pub struct AnnArgs {
    /// Base vectors (.fvecs).
    #[arg(long)]
    base: PathBuf,
    /// Query vectors (.fvecs).
    #[arg(long)]
    queries: PathBuf,
    /// Exact neighbours of each query (.ivecs).
    #[arg(long)]
    truth: PathBuf,
    /// Cosine, Euclid, Dot or Manhattan.
    #[arg(long, default_value = "Euclid")]
    distance: String,
    /// Links per node (2m on layer 0).
    #[arg(long, default_value_t = 16)]
    m: usize,
    /// Beam width while building.
    #[arg(long, default_value_t = 100)]
    ef_construct: usize,
    /// Beam widths to measure (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "16,32,64,128,256")]
    ef: Vec<usize>,
    /// Results per query (recall@k).
    #[arg(long, default_value_t = 10)]
    k: usize,
    /// Build threads (0 = all cores). Searches always run on one thread.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Seed of the index build (levels).
    #[arg(long)]
    seed: Option<u64>,
    /// Timed passes over the queries per ef; the median is reported.
    #[arg(long, default_value_t = 3)]
    passes: usize,
    /// Reuse a built plain index: read it from this file if it exists (build_seconds is then
    /// reported as 0), else build it and write it there. For iterating on search speed.
    #[arg(long)]
    index_cache: Option<PathBuf>,
    /// Also walk the graph on codes: `int8` (scalar quantization), `binary` (bits per value,
    /// see `--binary-encoding` and `--query-encoding`; `binary-asymmetric` is `binary` with
    /// `--query-encoding scalar8bits`) or `product` (codebooks per sub-space, see
    /// `--compression`) or `turbo` (a rotation, then `--turbo-bits` per coordinate), then rescore the best `k × oversampling` candidates from the original
    /// vectors. Reported beside the f32 lines.
    #[arg(long, value_parser = ["int8", "binary", "binary-asymmetric", "product", "turbo"])]
    quantization: Option<String>,
    /// Bits per rotated coordinate of `--quantization turbo`.
    #[arg(long, default_value = "bits4", value_parser = ["bits1", "bits1_5", "bits2", "bits4"])]
    turbo_bits: String,
    /// How the graph stores the vectors: `f32`, or `f16` (a float16 space: the base vectors
    /// rounded to halves, the graph's vectors half the bytes; recall is against the f32 truth).
    #[arg(long, default_value = "f32", value_parser = ["f32", "f16"])]
    element: String,
    /// Candidates rescored per result with `--quantization` (comma-separated values).
    #[arg(long, value_delimiter = ',', default_value = "1,2,3")]
    oversampling: Vec<f64>,
    /// Compression of `--quantization product` (4 to 64: bytes of f32 per code byte).
    #[arg(long, default_value_t = 16)]
    compression: usize,
    /// The central share of values the int8 byte range covers (Qdrant's `quantile`, 0.5–1);
    /// all values when not given.
    #[arg(long)]
    quantile: Option<f32>,
    /// Bits per value of `--quantization binary` (Qdrant's `encoding`).
    #[arg(long, default_value = "one_bit", value_parser = ["one_bit", "two_bits", "one_and_half_bits"])]
    binary_encoding: String,
    /// How a query meets `--quantization binary` codes (Qdrant's `query_encoding`): as a code
    /// (`binary`, Hamming distance) or at 4 or 8 bits per value.
    #[arg(long, default_value = "binary", value_parser = ["binary", "scalar4bits", "scalar8bits"])]
    query_encoding: String,
    /// Label of each base row (.ivecs, dimension 1).
    #[arg(long, requires = "filtered_truth")]
    filtered_labels: Option<PathBuf>,
    /// Label and exact filtered neighbours of each query (.ivecs).
    #[arg(long, requires = "filtered_labels")]
    filtered_truth: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ExactArgs {
    /// Number of stored vectors.
    #[arg(long, default_value_t = 100_000)]
    n: usize,
    /// Vector dimension.
    #[arg(long, default_value_t = 128)]
    dim: usize,
    /// Number of queries per distance.
    #[arg(long, default_value_t = 200)]
    queries: usize,
    /// Results per query.
    #[arg(long, default_value_t = 10)]
    k: usize,
    /// Distances to measure (comma-separated).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "Cosine,Euclid,Dot,Manhattan"
    )]
    distance: Vec<String>,
    /// Bytes read per bandwidth pass.
    #[arg(long, default_value_t = 1 << 30)]
    bandwidth_bytes: usize,
}

pub fn run(cmd: BenchCommand) -> anyhow::Result<()> {
    match cmd {
        BenchCommand::Exact(a) => exact(a),
        BenchCommand::Ann(a) => ann(a),
        BenchCommand::Restart(a) => crate::bench_durability::restart(a),
        BenchCommand::Wal(a) => crate::bench_durability::wal(a),
        BenchCommand::Load(a) => crate::bench_load::load(a),
        BenchCommand::Sparse(a) => crate::bench_sparse::sparse(a),
        BenchCommand::Hybrid(a) => crate::bench_sparse::hybrid(a),
    }
}

/// Reads a `.fvecs` / `.ivecs` file: records of an i32 dimension and that many 4-byte values.
/// Returns the dimension and the values, all records concatenated (every record must have the
/// same dimension).
fn read_vecs(path: &Path) -> anyhow::Result<(usize, Vec<[u8; 4]>)> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let mut dim = None;
    let mut out = Vec::with_capacity(bytes.len() / 4);
    let mut pos = 0;
    while pos < bytes.len() {
        let head = bytes
            .get(pos..pos + 4)
            .with_context(|| format!("{}: truncated record", path.display()))?;
        let d = i32::from_le_bytes(head.try_into()?);
        let d = usize::try_from(d)
            .with_context(|| format!("{}: negative dimension", path.display()))?;
        if *dim.get_or_insert(d) != d {
            bail!("{}: records of different dimensions", path.display());
        }
        let body = bytes
            .get(pos + 4..pos + 4 + 4 * d)
            .with_context(|| format!("{}: truncated record", path.display()))?;
        out.extend(body.chunks_exact(4).map(|c| [c[0], c[1], c[2], c[3]]));
        pos += 4 + 4 * d;
    }
    Ok((dim.unwrap_or(0), out))
}

fn read_fvecs(path: &Path) -> anyhow::Result<(usize, Vec<f32>)> {
    let (dim, raw) = read_vecs(path)?;
    Ok((dim, raw.into_iter().map(f32::from_le_bytes).collect()))
}

fn read_ivecs(path: &Path) -> anyhow::Result<(usize, Vec<i32>)> {
    let (dim, raw) = read_vecs(path)?;
    Ok((dim, raw.into_iter().map(i32::from_le_bytes).collect()))
}

/// One pass over the queries: the results and the elapsed seconds.
fn pass(
    queries: &[f32],
    dim: usize,
    search: impl Fn(usize, &[f32]) -> Vec<u32>,
) -> (Vec<Vec<u32>>, f64) {
    let t = Instant::now();
    let results = queries
        .chunks_exact(dim)
        .enumerate()
        .map(|(i, q)| black_box(search(i, q)))
        .collect();
    (results, t.elapsed().as_secs_f64())
}

/// Mean recall@k of `results` against the first `k` of each truth row.
fn recall(results: &[Vec<u32>], truth: &[Vec<u32>], k: usize) -> f64 {
    let mut hits = 0usize;
    let mut total = 0usize;
    for (got, want) in results.iter().zip(truth) {
        let want: HashSet<u32> = want.iter().take(k).copied().collect();
        hits += got.iter().take(k).filter(|x| want.contains(x)).count();
        total += want.len();
    }
    if total == 0 {
        1.0
    } else {
        hits as f64 / total as f64
    }
}

fn ann(a: AnnArgs) -> anyhow::Result<()> {
    let distance = Distance::parse(&a.distance)
        .ok_or_else(|| anyhow::anyhow!("unknown distance `{}`", a.distance))?;
    let (dim, mut base) = read_fvecs(&a.base)?;
    let (qdim, mut queries) = read_fvecs(&a.queries)?;
    if dim == 0 || qdim != dim {
        bail!("base dimension {dim} and query dimension {qdim} must be equal and positive");
    }
    for v in base
        .chunks_exact_mut(dim)
        .chain(queries.chunks_exact_mut(dim))
    {
        distance.prepare(v);
    }
    let element = match a.element.as_str() {
        "f16" => rvdb_index::Element::F16,
        _ => rvdb_index::Element::F32,
    };
    for x in base.iter_mut() {
        *x = element.cast(*x);
    }
    let n = base.len() / dim;
    let nq = queries.len() / dim;
    let (tdim, truth) = read_ivecs(&a.truth)?;
    if tdim < a.k || truth.len() / tdim.max(1) != nq {
        bail!(
            "truth must hold at least k = {} neighbours for each of the {nq} queries",
            a.k
        );
    }
    let truth: Vec<Vec<u32>> = truth
        .chunks_exact(tdim)
        .map(|r| r.iter().map(|&x| x as u32).collect())
        .collect();
    let params = HnswParams {
        m: a.m,
        ef_construct: a.ef_construct,
        threads: a.threads,
        deterministic: false,
        seed: a.seed.unwrap_or(HnswParams::default().seed),
        payload_m: None,
        element,
    };
    let passes = a.passes.max(1);
    // `run(ef, accept, query)` answers one query; one JSON line per ef
    let measure = |run: &AnnRun,
                   index_bytes: usize,
                   build_seconds: f64,
                   mode: &str,
                   truth: &[Vec<u32>],
                   filter: Option<(&[i32], &[i32])>,
                   extra: serde_json::Value| {
        for &ef in &a.ef {
            let search = |i: usize, q: &[f32]| -> Vec<u32> {
                let accept = filter.map(|(labels, qlabels)| {
                    let want = qlabels[i];
                    move |row: u32| labels[row as usize] == want
                });
                run(ef, accept.as_ref().map(|f| f as _), q)
            };
            // Warm-up pass (also the recall measurement), then the timed passes.
            let (results, _) = pass(&queries, dim, search);
            let mut times: Vec<f64> = (0..passes).map(|_| pass(&queries, dim, search).1).collect();
            times.sort_by(f64::total_cmp);
            let median = times[times.len() / 2];
            let mut line = json!({
                "bench": "ann", "mode": mode, "distance": distance.as_str(), "element": a.element,
                "kernel": rvdb_vector::active_kernel(), "ef": ef, "k": a.k,
                format!("recall_at_{}", a.k): round(recall(&results, truth, a.k)),
                "qps": round(nq as f64 / median),
                "build_seconds": round(build_seconds),
                "index_bytes": index_bytes,
                "threads": a.threads, "m": a.m, "ef_construct": a.ef_construct,
                "n": n, "dim": dim, "queries": nq,
            });
            if let (Some(l), serde_json::Value::Object(e)) = (line.as_object_mut(), &extra) {
                l.extend(e.clone());
            }
            println!("{line}");
        }
    };
    // the same index walked on int8 codes, rescoring from the original vectors
    let int8 = |index: &HnswIndex, build_seconds: f64, mode: &str, truth: &[Vec<u32>], filter| {
        let quantization = match a.quantization.as_deref() {
            Some("int8") => Quantization::Scalar {
                quantile: a.quantile,
            },
            Some(kind @ ("binary" | "binary-asymmetric")) => Quantization::Binary {
                encoding: match a.binary_encoding.as_str() {
                    "two_bits" => BinaryEncoding::TwoBits,
                    "one_and_half_bits" => BinaryEncoding::OneAndHalfBits,
                    _ => BinaryEncoding::OneBit,
                },
                query: match a.query_encoding.as_str() {
                    _ if kind == "binary-asymmetric" => BinaryQuery::Scalar8Bits,
                    "scalar4bits" => BinaryQuery::Scalar4Bits,
                    "scalar8bits" => BinaryQuery::Scalar8Bits,
                    _ => BinaryQuery::SameAsStorage,
                },
            },
            Some("product") => Quantization::Product {
                compression: a.compression,
            },
            Some("turbo") => Quantization::Turbo {
                bits: match a.turbo_bits.as_str() {
                    "bits1" => TurboBits::Bits1,
                    "bits1_5" => TurboBits::Bits1_5,
                    "bits2" => TurboBits::Bits2,
                    _ => TurboBits::Bits4,
                },
            },
            _ => return,
        };
        let t = Instant::now();
        let sq = QuantizedHnsw::new(index, quantization);
        let encode_seconds = t.elapsed().as_secs_f64();
        for &o in &a.oversampling {
            let run = |ef: usize, accept: Accept, q: &[f32]| {
                sq.search(&base, q, a.k, ef, o, accept)
                    .iter()
                    .map(|s| s.offset)
                    .collect::<Vec<u32>>()
            };
            measure(
                &run,
                sq.memory_bytes(),
                build_seconds,
                mode,
                truth,
                filter,
                json!({"quantization": a.quantization, "oversampling": o, "compression": a.compression,
                       "binary_encoding": a.binary_encoding, "query_encoding": a.query_encoding,
                       "turbo_bits": a.turbo_bits,
                       "encode_seconds": round(encode_seconds), "quantile": a.quantile}),
            );
        }
    };

    let cached = match &a.index_cache {
        Some(p) if p.exists() => {
            let bytes = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
            Some(
                HnswIndex::from_bytes(&bytes)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?,
            )
        }
        _ => None,
    };
    let (index, build_seconds) = match cached {
        Some(index) => (index, 0.0),
        None => {
            let t = Instant::now();
            let index = HnswIndex::build(distance, &base, dim, &params);
            let build_seconds = t.elapsed().as_secs_f64();
            if let Some(p) = &a.index_cache {
                std::fs::write(p, index.to_bytes())
                    .with_context(|| format!("writing {}", p.display()))?;
            }
            (index, build_seconds)
        }
    };
    if index.len() != n {
        bail!("the cached index has {} rows, the base {n}", index.len());
    }
    measure(
        &plain_run(&index, &base, a.k),
        index.memory_bytes(),
        build_seconds,
        "plain",
        &truth,
        None,
        json!({}),
    );
    int8(&index, build_seconds, "plain", &truth, None);
    drop(index);

    if let (Some(labels_path), Some(ftruth_path)) = (&a.filtered_labels, &a.filtered_truth) {
        let (ldim, labels) = read_ivecs(labels_path)?;
        if ldim != 1 || labels.len() != n || labels.iter().any(|&l| l < 0) {
            bail!(
                "{}: need one non-negative label per base row",
                labels_path.display()
            );
        }
        let (fdim, ftruth) = read_ivecs(ftruth_path)?;
        if fdim < 1 || ftruth.len() / fdim != nq {
            bail!("{}: need one record per query", ftruth_path.display());
        }
        let qlabels: Vec<i32> = ftruth.chunks_exact(fdim).map(|r| r[0]).collect();
        let ftruth: Vec<Vec<u32>> = ftruth
            .chunks_exact(fdim)
            .map(|r| {
                r[1..]
                    .iter()
                    .filter(|&&x| x >= 0)
                    .map(|&x| x as u32)
                    .collect()
            })
            .collect();
        let max_label = labels.iter().copied().max().unwrap_or(0) as usize;
        let mut groups = vec![Vec::new(); max_label + 1];
        for (i, &l) in labels.iter().enumerate() {
            groups[l as usize].push(i as u32);
        }
        let t = Instant::now();
        let index = HnswIndex::build_with_groups(distance, &base, dim, &params, &groups);
        let build_seconds = t.elapsed().as_secs_f64();
        let filter = Some((labels.as_slice(), qlabels.as_slice()));
        measure(
            &plain_run(&index, &base, a.k),
            index.memory_bytes(),
            build_seconds,
            "filtered",
            &ftruth,
            filter,
            json!({}),
        );
        int8(&index, build_seconds, "filtered", &ftruth, filter);
    }
    Ok(())
}

/// A row filter of a search.
type Accept<'a> = Option<&'a (dyn Fn(u32) -> bool + Sync)>;

/// One search of `bench ann`: `(ef, accept, query)` to the rows found.
type AnnRun<'r> = dyn Fn(usize, Accept, &[f32]) -> Vec<u32> + 'r;

/// A search of the f32 graph for `bench ann`.
fn plain_run<'r>(
    index: &'r HnswIndex,
    base: &'r [f32],
    k: usize,
) -> impl Fn(usize, Accept, &[f32]) -> Vec<u32> + 'r {
    move |ef, accept, q| {
        index
            .search(base, q, k, ef, accept)
            .iter()
            .map(|s| s.offset)
            .collect()
    }
}

/// Deterministic pseudo-random values in [-1, 1).
fn random_vectors(n: usize, dim: usize, seed: u64) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n * dim)
        .map(|_| rng.random_range(-1.0f32..1.0))
        .collect()
}

/// Single-thread sequential read bandwidth in GB/s: the best of 5 passes of two read loops over
/// a buffer much larger than the caches (a 16-lane sum the compiler vectorises, and the SIMD dot
/// kernel against a small L1-resident vector), so the figure is bound by memory, not instructions.
fn read_bandwidth(bytes: usize) -> f64 {
    const BLOCK: usize = 4096;
    let buf = vec![1.0f32; (bytes / 4).max(BLOCK)];
    let ones = vec![1.0f32; BLOCK];
    let gbps = |t: Instant| (buf.len() * 4) as f64 / t.elapsed().as_secs_f64() / 1e9;
    let mut best = 0f64;
    for _ in 0..5 {
        let t = Instant::now();
        let mut acc = [0f32; 16];
        for c in black_box(&buf).chunks_exact(16) {
            for j in 0..16 {
                acc[j] += c[j];
            }
        }
        black_box(acc);
        best = best.max(gbps(t));
        let t = Instant::now();
        let mut acc = 0f32;
        for c in black_box(&buf).chunks_exact(BLOCK) {
            acc += rvdb_vector::dot(c, &ones);
        }
        black_box(acc);
        best = best.max(gbps(t));
    }
    best
}

fn exact(a: ExactArgs) -> anyhow::Result<()> {
    let distances = a
        .distance
        .iter()
        .map(|d| Distance::parse(d).ok_or_else(|| anyhow::anyhow!("unknown distance `{d}`")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let bw = read_bandwidth(a.bandwidth_bytes);
    let vec_bytes = (a.dim * 4) as f64;
    println!(
        "{}",
        json!({"bench": "memory_read_bandwidth", "threads": 1, "gb_per_s": round(bw),
               "vectors_per_s_limit": round(bw * 1e9 / vec_bytes)})
    );
    for d in distances {
        let mut base = random_vectors(a.n, a.dim, 0x9E37_79B9_7F4A_7C15);
        for v in base.chunks_exact_mut(a.dim) {
            d.prepare(v);
        }
        let mut queries = random_vectors(a.queries, a.dim, 42);
        for q in queries.chunks_exact_mut(a.dim) {
            d.prepare(q);
        }
        let params = SearchParams {
            k: a.k,
            min_raw: None,
        };
        // warm-up pass over the data
        black_box(flat_search(d, &base, &queries[..a.dim], params, None));
        let mut per_query = Vec::with_capacity(a.queries);
        let t = Instant::now();
        for q in queries.chunks_exact(a.dim) {
            let s = Instant::now();
            black_box(flat_search(d, &base, q, params, None));
            per_query.push(s.elapsed().as_secs_f64());
        }
        let total = t.elapsed().as_secs_f64();
        per_query.sort_by(f64::total_cmp);
        let median = per_query[per_query.len() / 2];
        let vps = a.n as f64 / median;
        println!(
            "{}",
            json!({
                "bench": "exact_scan", "distance": d.as_str(), "kernel": rvdb_vector::active_kernel(),
                "threads": 1, "n": a.n, "dim": a.dim, "k": a.k, "queries": a.queries,
                "qps": round(a.queries as f64 / total),
                "median_query_ms": round(median * 1e3),
                "vectors_per_s": round(vps),
                "gb_per_s": round(vps * vec_bytes / 1e9),
                "fraction_of_read_bandwidth": round(vps * vec_bytes / 1e9 / bw),
            })
        );
    }
    Ok(())
}

fn round(x: f64) -> f64 {
    if x.abs() >= 100.0 {
        x.round()
    } else {
        (x * 1000.0).round() / 1000.0
    }
}
