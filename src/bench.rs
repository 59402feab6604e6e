//! `rustvecdb bench …`: benchmarks as programs, printing one JSON line per measurement.

use std::hint::black_box;
use std::time::Instant;

use clap::{Args, Subcommand};
use rvdb_index::{flat_search, SearchParams};
use rvdb_vector::Distance;
use serde_json::json;

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Exact (brute-force) search: vectors scanned per second on one core, beside this
    /// machine's single-thread memory read bandwidth measured in the same run.
    Exact(ExactArgs),
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
    }
}

/// Deterministic pseudo-random values in [-1, 1).
fn random_vectors(n: usize, dim: usize, mut seed: u64) -> Vec<f32> {
    (0..n * dim)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
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
