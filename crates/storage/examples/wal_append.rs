//! Durable-append throughput of the WAL on the real file system: one writer
//! versus 16 concurrent writers sharing fsyncs through group commit.
//!
//! Each append is "wait=true" style: append under the writer mutex, then
//! `WalSync::sync_to(seq)` after unlocking, so it returns only once the
//! record is durable.
//!
//! ```text
//! cargo run --release -p rvdb-storage --example wal_append -- [RECORD_BYTES] [SECONDS] [DIR]
//! ```
//!
//! Defaults: 512-byte records, 3 seconds per run, a temporary directory
//! under the system temp dir (pass DIR to measure another file system).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rvdb_storage::{default_vfs, Wal, WalOptions};

struct Run {
    appends: u64,
    fsyncs: u64,
    elapsed: Duration,
}

fn run(dir: &Path, writers: usize, record: usize, duration: Duration) -> Run {
    let _ = std::fs::remove_dir_all(dir);
    let (wal, _) = Wal::open_in(default_vfs(), dir, WalOptions::default()).expect("open WAL");
    let handle = wal.sync_handle();
    let before = handle.stats();
    let wal = Arc::new(Mutex::new(wal));
    let body = vec![0x5au8; record];
    let start = Instant::now();
    let deadline = start + duration;
    let appends: u64 = std::thread::scope(|s| {
        let workers: Vec<_> = (0..writers)
            .map(|_| {
                let (wal, handle, body) = (Arc::clone(&wal), handle.clone(), &body);
                s.spawn(move || {
                    let mut n = 0u64;
                    while Instant::now() < deadline {
                        let seq = {
                            let mut wal = wal.lock();
                            let seq = wal.last_seq() + 1;
                            wal.append(seq, body).expect("append");
                            seq
                        };
                        handle.sync_to(seq).expect("sync_to");
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().expect("writer")).sum()
    });
    let elapsed = start.elapsed();
    let fsyncs = handle.stats().fsyncs - before.fsyncs;
    drop(wal);
    let _ = std::fs::remove_dir_all(dir);
    Run {
        appends,
        fsyncs,
        elapsed,
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let record: usize = args
        .next()
        .map_or(512, |a| a.parse().expect("RECORD_BYTES"));
    let secs: f64 = args.next().map_or(3.0, |a| a.parse().expect("SECONDS"));
    let base: PathBuf = args.next().map_or_else(std::env::temp_dir, PathBuf::from);
    let dir = base.join(format!("rvdb-wal-bench-{}", std::process::id()));
    let duration = Duration::from_secs_f64(secs);

    println!(
        "WAL durable appends: {record}-byte records, {secs} s per run, in {}",
        base.display()
    );
    let mut results = Vec::new();
    for writers in [1usize, 16] {
        let r = run(&dir, writers, record, duration);
        let t = r.elapsed.as_secs_f64();
        let (aps, fps) = (r.appends as f64 / t, r.fsyncs as f64 / t);
        println!(
            "{writers:>2} writer(s): {aps:>10.0} appends/s {fps:>9.0} fsyncs/s \
             {:>6.2} appends per fsync ({} appends, {} fsyncs, {t:.2} s)",
            r.appends as f64 / r.fsyncs.max(1) as f64,
            r.appends,
            r.fsyncs
        );
        results.push(aps);
    }
    println!(
        "group commit: 16 writers reach {:.1}x the appends/s of 1 writer",
        results[1] / results[0]
    );
}
