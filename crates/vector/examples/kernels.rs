//! Micro-benchmark of the distance kernels: nanoseconds per pair for `dot`
//! and `l2_squared` at d = 128 and d = 1536, for every kernel set this CPU
//! can run, called pair by pair through the function pointer ("pair") and
//! one query against a block of vectors ("batch", the exact-search loop).
//!
//! ```text
//! cargo run --release -p rvdb-vector --example kernels
//! ```
//!
//! Two working sets are measured: ~16 KiB of vectors (L1-resident: the
//! arithmetic itself) and ~512 KiB (L2-resident: closer to a real scan,
//! where load bandwidth starts to dominate). Set `RVDB_KERNEL` to see which
//! set the dispatched functions would use; every available set is timed
//! regardless.

use std::hint::black_box;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rvdb_vector::kernels::{self, BatchFn, KernelFn};

const TARGET: Duration = Duration::from_millis(60);

/// `n` values uniform in [-1, 1).
fn random_vec(rng: &mut StdRng, n: usize) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

/// Runs `f` (which scores `rows` pairs) until `TARGET` has elapsed and
/// returns nanoseconds per pair.
fn time_per_pair(rows: usize, mut f: impl FnMut()) -> f64 {
    for _ in 0..10 {
        f(); // warm up caches and clocks
    }
    let mut reps = 0u64;
    let start = Instant::now();
    loop {
        for _ in 0..16 {
            f();
        }
        reps += 16;
        if start.elapsed() >= TARGET {
            break;
        }
    }
    start.elapsed().as_nanos() as f64 / (reps * rows as u64) as f64
}

fn bench_pair(kernel: KernelFn, q: &[f32], vs: &[f32], dim: usize) -> f64 {
    time_per_pair(vs.len() / dim, || {
        let mut acc = 0.0f32;
        for row in black_box(vs).chunks_exact(dim) {
            acc += kernel(black_box(q), row);
        }
        black_box(acc);
    })
}

fn bench_batch(kernel: BatchFn, q: &[f32], vs: &[f32], out: &mut [f32]) -> f64 {
    time_per_pair(out.len(), || {
        kernel(black_box(q), black_box(vs), out);
        black_box(&mut *out);
    })
}

fn main() {
    println!(
        "active kernel set: {}  (RVDB_KERNEL={})",
        rvdb_vector::active_kernel(),
        std::env::var("RVDB_KERNEL").unwrap_or_else(|_| "<unset>".into())
    );
    println!("ns per pair (one query against each stored vector)");
    let mut rng = StdRng::seed_from_u64(0x2545_F491_4F6C_DD1D);
    for (label, bytes) in [("L1", 16 << 10), ("L2", 512 << 10)] {
        println!(
            "\n{label}: ~{} KiB of vectors\n{:<10} {:>5} {:>5}  {:>9} {:>9} {:>9} {:>9}",
            bytes >> 10,
            "set",
            "dim",
            "rows",
            "dot pair",
            "dot batch",
            "l2 pair",
            "l2 batch"
        );
        for dim in [128, 1536] {
            let rows = (bytes / (dim * 4)).max(1);
            let q = random_vec(&mut rng, dim);
            let vs = random_vec(&mut rng, rows * dim);
            let mut out = vec![0.0f32; rows];
            for set in kernels::available() {
                let dot_pair = bench_pair(set.dot, &q, &vs, dim);
                let dot_batch = bench_batch(set.dot_batch, &q, &vs, &mut out);
                let l2_pair = bench_pair(set.l2_squared, &q, &vs, dim);
                let l2_batch = bench_batch(set.l2_squared_batch, &q, &vs, &mut out);
                println!(
                    "{:<10} {:>5} {:>5}  {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
                    set.name, dim, rows, dot_pair, dot_batch, l2_pair, l2_batch
                );
            }
        }
    }
}
