//! `rustvecdb bench restart` and `rustvecdb bench wal`: how long a durable database takes to
//! serve again after a restart, and how many acknowledged writes per second the log takes.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rvdb_engine::{
    CollectionConfig, Database, DatabaseOptions, Distance, Durability, PointStruct, SearchRequest,
};
use serde_json::json;

#[derive(Debug, Args)]
pub struct RestartArgs {
    /// Points to load.
    #[arg(long, default_value_t = 1_000_000)]
    n: usize,
    /// Their dimension.
    #[arg(long, default_value_t = 128)]
    dim: usize,
    /// Build the HNSW graphs before the restart (they are persisted and read back).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    index: bool,
    /// Storage directory (kept); default: a temporary one (removed).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Restarts to time; the median is reported.
    #[arg(long, default_value_t = 3)]
    restarts: usize,
    /// Give every point a payload `{"g": i % 100, "k": "t<i % 10>"}` and index both fields
    /// (integer and keyword): the indexes are rebuilt from the payloads at load.
    #[arg(long)]
    payload_index: bool,
}

#[derive(Debug, Args)]
pub struct WalArgs {
    /// Writer thread counts to measure (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "1,16")]
    writers: Vec<usize>,
    /// Seconds per measurement.
    #[arg(long, default_value_t = 3.0)]
    secs: f64,
    /// Vector dimension of the points written (one point per write).
    #[arg(long, default_value_t = 128)]
    dim: usize,
    /// Directory for the database (default: a temporary one).
    #[arg(long)]
    dir: Option<PathBuf>,
}

/// Values uniform in [-0.5, 0.5), seeded.
fn rng(seed: u64) -> impl FnMut() -> f32 {
    let mut rng = StdRng::seed_from_u64(seed);
    move || rng.random_range(-0.5..0.5)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn temp_or(dir: Option<PathBuf>) -> anyhow::Result<(PathBuf, Option<tempfile_dir::TempDir>)> {
    Ok(match dir {
        Some(d) => (d, None),
        None => {
            let t = tempfile_dir::TempDir::new()?;
            (t.path().to_path_buf(), Some(t))
        }
    })
}

/// A temporary directory removed on drop (no dev-dependency in the binary).
mod tempfile_dir {
    use std::path::{Path, PathBuf};

    pub struct TempDir(PathBuf);

    impl TempDir {
        pub fn new() -> std::io::Result<TempDir> {
            let base = std::env::var_os("RVDB_BENCH_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(std::env::temp_dir);
            let p = base.join(format!("rvdb-bench-{}", uuid_like()));
            std::fs::create_dir_all(&p)?;
            Ok(TempDir(p))
        }

        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn uuid_like() -> String {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        format!("{}-{t}", std::process::id())
    }
}

fn options(dir: &std::path::Path) -> DatabaseOptions {
    DatabaseOptions {
        background_optimizer: false,
        ..DatabaseOptions::persistent(dir)
    }
}

fn dir_size(p: &std::path::Path) -> u64 {
    std::fs::read_dir(p)
        .map(|rd| {
            rd.flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => dir_size(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

pub fn restart(a: RestartArgs) -> anyhow::Result<()> {
    let (dir, _guard) = temp_or(a.dir)?;
    let started = Instant::now();
    {
        let db = Database::open(options(&dir)).context("open the storage")?;
        if !db.collection_exists("bench") {
            let mut cfg = CollectionConfig::with_dim(Distance::Euclid, a.dim);
            // the build is setup, not what is measured: use every core
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
            cfg.settings.hnsw.max_indexing_threads = threads;
            if !a.index {
                cfg.settings.optimizers.indexing_threshold = Some(0);
            }
            db.create_collection("bench", cfg)?;
            let c = db.collection("bench")?;
            if a.payload_index {
                c.create_index("g", rvdb_engine::PayloadSchemaType::Integer)?;
                c.create_index("k", rvdb_engine::PayloadSchemaType::Keyword)?;
            }
            let mut r = rng(42);
            let batch = 1000;
            for start in (0..a.n).step_by(batch) {
                let pts = (start..(start + batch).min(a.n))
                    .map(|i| {
                        let payload = if a.payload_index {
                            json!({"g": i % 100, "k": format!("t{}", i % 10)})
                                .as_object()
                                .cloned()
                                .unwrap_or_default()
                        } else {
                            Default::default()
                        };
                        PointStruct::new(
                            (i as u64).into(),
                            (0..a.dim).map(|_| r()).collect(),
                            payload,
                        )
                    })
                    .collect();
                c.upsert_with(pts, Durability::Logged)?;
            }
            c.upsert(vec![PointStruct::new(
                u64::MAX.into(),
                vec![0.0; a.dim],
                Default::default(),
            )])?;
            eprintln!(
                "loaded {} points in {:.1} s; sealing, indexing and flushing…",
                a.n,
                started.elapsed().as_secs_f64()
            );
            c.optimize();
            let info = c.info();
            eprintln!(
                "optimized in {:.1} s: {} segments, {} indexed vectors",
                started.elapsed().as_secs_f64(),
                info.segments_count,
                info.indexed_vectors_count
            );
        }
    }
    let bytes = dir_size(&dir);
    let q: Vec<f32> = {
        let mut r = rng(7);
        (0..a.dim).map(|_| r()).collect()
    };
    let mut open_secs = Vec::new();
    let mut first_query_ms = Vec::new();
    let mut points = 0;
    let mut status = "";
    for _ in 0..a.restarts.max(1) {
        let t = Instant::now();
        let db = Database::open(options(&dir))?;
        open_secs.push(t.elapsed().as_secs_f64());
        let c = db.collection("bench")?;
        let t = Instant::now();
        let hits = c.search(&SearchRequest::new(q.clone(), 10))?;
        first_query_ms.push(t.elapsed().as_secs_f64() * 1e3);
        anyhow::ensure!(
            hits.len() == 10,
            "a search after the restart found {}",
            hits.len()
        );
        let info = c.info();
        points = info.points_count;
        status = info.status;
    }
    println!(
        "{}",
        json!({
            "bench": "restart",
            "points": points,
            "dim": a.dim,
            "indexed": a.index,
            "payload_indexes": if a.payload_index { 2 } else { 0 },
            "status_after_open": status,
            "storage_bytes": bytes,
            "open_seconds_median": median(open_secs.clone()),
            "open_seconds": open_secs,
            "first_query_ms_median": median(first_query_ms),
            "note": "serving = Database::open returned (segments mapped, graphs read, log replayed); files are in the page cache after the load",
        })
    );
    Ok(())
}

pub fn wal(a: WalArgs) -> anyhow::Result<()> {
    let (dir, _guard) = temp_or(a.dir)?;
    let db = Arc::new(Database::open(options(&dir))?);
    for (mode, durability) in [
        ("wait=true", Durability::Fsync),
        ("wait=false", Durability::Logged),
    ] {
        for &writers in &a.writers {
            let name = format!("w{writers}-{}", mode.replace('=', "_"));
            db.create_collection(&name, CollectionConfig::with_dim(Distance::Dot, a.dim))?;
            let c = db.collection(&name)?;
            let stop = Arc::new(AtomicBool::new(false));
            let count = Arc::new(AtomicU64::new(0));
            let t = Instant::now();
            let handles: Vec<_> = (0..writers)
                .map(|w| {
                    let (c, stop, count) = (c.clone(), stop.clone(), count.clone());
                    let dim = a.dim;
                    std::thread::spawn(move || -> anyhow::Result<()> {
                        let mut r = rng(w as u64 + 1);
                        let mut i = 0u64;
                        while !stop.load(Ordering::Relaxed) {
                            let id = (w as u64) << 40 | i;
                            let v = (0..dim).map(|_| r()).collect();
                            c.upsert_with(
                                vec![PointStruct::new(id.into(), v, Default::default())],
                                durability,
                            )?;
                            count.fetch_add(1, Ordering::Relaxed);
                            i += 1;
                        }
                        Ok(())
                    })
                })
                .collect();
            std::thread::sleep(Duration::from_secs_f64(a.secs));
            stop.store(true, Ordering::Relaxed);
            for h in handles {
                h.join().expect("writer thread")?;
            }
            let secs = t.elapsed().as_secs_f64();
            let n = count.load(Ordering::Relaxed);
            println!(
                "{}",
                json!({
                    "bench": "wal",
                    "mode": mode,
                    "writers": writers,
                    "writes": n,
                    "writes_per_sec": (n as f64 / secs).round(),
                    "point_bytes": a.dim * 4,
                })
            );
        }
    }
    Ok(())
}
