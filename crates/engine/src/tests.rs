//! Engine behaviour: validation, search semantics, segments and the optimizer, concurrency,
//! durability and recovery (segment files, quarantine, vacuum, snapshots), and `mod faults`,
//! which fails every write and every fsync of a workload in turn, simulates a power loss and
//! checks that nothing acknowledged is lost.

use std::path::Path;

use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng};
use serde_json::json;

use crate::{
    Collection, CollectionConfig, Database, DatabaseOptions, Distance, EngineError, Filter,
    Payload, PayloadSelector, PointId, PointStruct, SearchRequest, VectorSelector,
};

mod datatype;
mod multi;
mod on_disk;
mod quantization;
mod spaces;
mod sparse;

fn dim(c: &Collection) -> Option<usize> {
    c.config().vectors.get("").unwrap().size
}

fn p(id: u64, v: &[f32], payload: serde_json::Value) -> PointStruct {
    PointStruct::new(
        PointId::Num(id),
        v.to_vec(),
        payload.as_object().unwrap().clone(),
    )
}

fn mem_db() -> Database {
    Database::open(DatabaseOptions::in_memory()).unwrap()
}

#[test]
fn first_point_fixes_the_dimension_and_bad_batches_apply_nothing() {
    let db = mem_db();
    db.create_collection("c", CollectionConfig::new(Distance::Dot))
        .unwrap();
    let c = db.collection("c").unwrap();
    // mixed dimensions inside one batch: refused whole
    let e = c
        .upsert(vec![p(1, &[1.0, 2.0], json!({})), p(2, &[1.0], json!({}))])
        .unwrap_err();
    assert!(e.to_string().contains("expected dim: 2, got 1"), "{e}");
    assert_eq!(c.points_count(), 0);
    assert_eq!(dim(&c), None);
    c.upsert(vec![p(1, &[1.0, 2.0], json!({}))]).unwrap();
    assert_eq!(dim(&c), Some(2));
    let e = c
        .upsert(vec![
            p(2, &[1.0, 2.0], json!({})),
            p(3, &[1.0, 2.0, 3.0], json!({})),
        ])
        .unwrap_err();
    assert!(matches!(e, EngineError::BadInput(_)));
    assert_eq!(c.points_count(), 1);
    // NaN and infinity are refused with the position
    let e = c
        .upsert(vec![p(2, &[1.0, f32::NAN], json!({}))])
        .unwrap_err();
    assert!(e.to_string().contains("points[0].vector[1]"), "{e}");
    assert!(c
        .upsert(vec![p(2, &[f32::INFINITY, 1.0], json!({}))])
        .is_err());
    assert!(c.upsert(vec![p(2, &[], json!({}))]).is_err());
    assert_eq!(c.points_count(), 1);
}

#[test]
fn scores_and_order_follow_each_distance() {
    let db = mem_db();
    let pts = [(1, [1.0f32, 0.0]), (2, [0.0, 2.0]), (3, [3.0, 3.0])];
    for d in [
        Distance::Cosine,
        Distance::Euclid,
        Distance::Dot,
        Distance::Manhattan,
    ] {
        let name = d.as_str();
        db.create_collection(name, CollectionConfig::new(d))
            .unwrap();
        let c = db.collection(name).unwrap();
        c.upsert(pts.iter().map(|(i, v)| p(*i, v, json!({}))).collect())
            .unwrap();
        let hits = c.search(&SearchRequest::new(vec![1.0, 0.5], 3)).unwrap();
        let ids: Vec<PointId> = hits.iter().map(|h| h.id).collect();
        let scores: Vec<f32> = hits.iter().map(|h| h.score).collect();
        match d {
            Distance::Cosine => {
                assert_eq!(ids, [3u64, 1, 2].map(PointId::Num));
                assert!((scores[0] - 1.5 / (1.25f32.sqrt() * 2f32.sqrt())).abs() < 1e-5);
            }
            Distance::Dot => {
                assert_eq!(ids, [3u64, 1, 2].map(PointId::Num));
                assert!((scores[0] - 4.5).abs() < 1e-5);
            }
            Distance::Euclid => {
                assert_eq!(ids, [1u64, 2, 3].map(PointId::Num));
                assert!((scores[0] - 0.5).abs() < 1e-5);
                assert!((scores[1] - (1.0f32 + 2.25).sqrt()).abs() < 1e-5);
            }
            Distance::Manhattan => {
                assert_eq!(ids, [1u64, 2, 3].map(PointId::Num));
                assert!((scores[0] - 0.5).abs() < 1e-5);
                assert!((scores[1] - 2.5).abs() < 1e-5);
            }
        }
        // thresholds keep the better side (as Qdrant): similarity > t, distance < t
        let mut req = SearchRequest::new(vec![1.0, 0.5], 3);
        let t = (scores[0] + scores[1]) / 2.0;
        req.score_threshold = Some(t);
        let kept = c.search(&req).unwrap();
        assert_eq!(kept.len(), 1, "{d:?}");
        assert_eq!(kept[0].id, ids[0]);
        req.score_threshold = Some(if d.higher_is_better() {
            scores[2] - 1.0
        } else {
            scores[2] + 1.0
        });
        assert_eq!(c.search(&req).unwrap().len(), 3, "{d:?}");
    }
}

#[test]
fn cosine_vectors_are_stored_normalised() {
    let db = mem_db();
    db.create_collection("c", CollectionConfig::new(Distance::Cosine))
        .unwrap();
    let c = db.collection("c").unwrap();
    c.upsert(vec![p(1, &[3.0, 4.0], json!({}))]).unwrap();
    let r = c.get(PointId::Num(1)).unwrap();
    let v = r.vectors.unwrap()[""].as_dense().unwrap().to_vec();
    assert!((v[0] - 0.6).abs() < 1e-6 && (v[1] - 0.8).abs() < 1e-6);
}

#[test]
fn search_filters_offsets_and_selects_fields() {
    let db = mem_db();
    db.create_collection("c", CollectionConfig::new(Distance::Euclid))
        .unwrap();
    let c = db.collection("c").unwrap();
    let pts = (0..20u64)
        .map(|i| {
            p(
                i,
                &[i as f32],
                json!({"even": i % 2 == 0, "tags": [format!("t{}", i % 3)]}),
            )
        })
        .collect();
    c.upsert(pts).unwrap();
    let mut req = SearchRequest::new(vec![0.0], 3);
    req.filter = Some(Filter::from_seed(&json!({"even": true})).unwrap());
    req.offset = 1;
    req.with_vector = VectorSelector::All;
    req.with_payload = PayloadSelector::None;
    let hits = c.search(&req).unwrap();
    assert_eq!(
        hits.iter().map(|h| h.id).collect::<Vec<_>>(),
        [2u64, 4, 6].map(PointId::Num)
    );
    assert!(hits[0].payload.is_none());
    assert_eq!(hits[0].vectors.as_ref().unwrap()[""], vec![2.0f32].into());
    req.filter = Some(Filter::from_seed(&json!({"tags": "t1", "even": false})).unwrap());
    req.offset = 0;
    let ids: Vec<_> = c.search(&req).unwrap().iter().map(|h| h.id).collect();
    assert_eq!(ids, [1u64, 7, 13].map(PointId::Num));
    let e = c
        .search(&SearchRequest::new(vec![0.0, 1.0], 3))
        .unwrap_err();
    assert!(e.to_string().contains("expected dim: 1, got 2"));
}

#[test]
fn names_are_validated_and_duplicates_refused() {
    let db = mem_db();
    for bad in ["", "a/b", "..", ".hidden", "a\\b", "x\0y", &"n".repeat(256)] {
        assert!(matches!(
            db.create_collection(bad, CollectionConfig::new(Distance::Dot)),
            Err(EngineError::BadInput(_))
        ));
    }
    db.create_collection("ok-name_1.v2", CollectionConfig::new(Distance::Dot))
        .unwrap();
    assert!(matches!(
        db.create_collection("ok-name_1.v2", CollectionConfig::new(Distance::Dot)),
        Err(EngineError::AlreadyExists(_))
    ));
    assert!(db.delete_collection("ok-name_1.v2").unwrap());
    assert!(!db.delete_collection("ok-name_1.v2").unwrap());
    assert!(matches!(
        db.collection("nope"),
        Err(EngineError::CollectionNotFound(_))
    ));
}

type Rows = Vec<(PointId, Vec<f32>, Payload, u64)>;

fn snapshot(db: &Database) -> Vec<(String, Rows)> {
    db.collection_names()
        .into_iter()
        .map(|n| {
            let c = db.collection(&n).unwrap();
            let (rows, total) = c.list(0, usize::MAX);
            assert_eq!(rows.len(), total);
            (
                n,
                rows.into_iter()
                    .map(|r| {
                        (
                            r.id,
                            r.vectors.unwrap()[""].as_dense().unwrap().to_vec(),
                            r.payload.unwrap(),
                            r.version,
                        )
                    })
                    .collect(),
            )
        })
        .collect()
}

fn write_workload(db: &Database) {
    db.create_collection("a", CollectionConfig::new(Distance::Cosine))
        .unwrap();
    db.create_collection("b", CollectionConfig::with_dim(Distance::Euclid, 3))
        .unwrap();
    db.create_collection("gone", CollectionConfig::new(Distance::Dot))
        .unwrap();
    let a = db.collection("a").unwrap();
    let b = db.collection("b").unwrap();
    for i in 0..200u64 {
        a.upsert(vec![p(
            i,
            &[i as f32, 1.0],
            json!({"i": i, "s": format!("x{i}")}),
        )])
        .unwrap();
        if i % 3 == 0 {
            a.delete(vec![PointId::Num(i / 2)]).unwrap();
        }
        b.upsert(vec![PointStruct::new(
            PointId::new_uuid(),
            vec![1.0, 2.0, i as f32],
            Payload::new(),
        )])
        .unwrap();
    }
    a.upsert(vec![p(5, &[9.0, 9.0], json!({"over": "written"}))])
        .unwrap();
    db.delete_collection("gone").unwrap();
}

#[test]
fn everything_acknowledged_survives_reopen_with_and_without_checkpoints() {
    for checkpoint_bytes in [u64::MAX, 2048] {
        let dir = tempfile::tempdir().unwrap();
        let opts = DatabaseOptions {
            checkpoint_wal_bytes: checkpoint_bytes,
            ..DatabaseOptions::persistent(dir.path().join("store"))
        };
        let before = {
            let db = Database::open(opts.clone()).unwrap();
            write_workload(&db);
            snapshot(&db)
        };
        let db = Database::open(opts.clone()).unwrap();
        assert_eq!(snapshot(&db), before, "checkpoint_bytes={checkpoint_bytes}");
        assert_eq!(db.collection_names(), ["a", "b"]);
        // writing after a reopen continues the sequence
        let a = db.collection("a").unwrap();
        let r = a.upsert(vec![p(1000, &[1.0, 1.0], json!({}))]).unwrap();
        assert!(r.operation_id > before[0].1.iter().map(|x| x.3).max().unwrap());
        drop(db);
        let db = Database::open(opts).unwrap();
        assert!(db
            .collection("a")
            .unwrap()
            .get(PointId::Num(1000))
            .is_some());
        if checkpoint_bytes != u64::MAX {
            let wal_files = std::fs::read_dir(dir.path().join("store/collections/a/wal"))
                .unwrap()
                .count();
            assert!(
                wal_files <= 2,
                "old log files are removed after a flush: {wal_files}"
            );
            assert!(dir.path().join("store/collections/a/state.bin").exists());
        }
    }
}

fn last_wal_file(dir: &Path) -> std::path::PathBuf {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files.pop().unwrap()
}

#[test]
fn writes_are_flushed_once_flush_interval_sec_has_passed() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(DatabaseOptions::persistent(dir.path())).unwrap(); // background
    let mut cfg = CollectionConfig::with_dim(Distance::Dot, 2);
    cfg.settings.optimizers.flush_interval_sec = 1;
    db.create_collection("f", cfg).unwrap();
    let c = db.collection("f").unwrap();
    for i in 0..20 {
        c.upsert(vec![p(i, &[1.0, 2.0], json!({"i": i}))]).unwrap();
    }
    // far below the log's size limit: only the interval can trigger this flush
    let logged = c.info().wal_bytes;
    assert!(logged > 0);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while c.info().wal_bytes >= logged && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(
        c.info().wal_bytes < logged,
        "the log was not folded into state.bin within 10 s"
    );
    drop(c);
    drop(db);
    let db = Database::open(DatabaseOptions::persistent(dir.path())).unwrap();
    assert_eq!(db.collection("f").unwrap().points_count(), 20);
}

#[test]
fn a_torn_last_record_is_ignored_and_the_rest_recovered() {
    let dir = tempfile::tempdir().unwrap();
    let opts = DatabaseOptions::persistent(dir.path());
    {
        let db = Database::open(opts.clone()).unwrap();
        db.create_collection("c", CollectionConfig::new(Distance::Dot))
            .unwrap();
        let c = db.collection("c").unwrap();
        for i in 0..10 {
            c.upsert(vec![p(i, &[1.0, 2.0], json!({"i": i}))]).unwrap();
        }
    }
    // simulate a crash in the middle of writing the 11th record
    let wal = last_wal_file(&dir.path().join("collections/c/wal"));
    let len = std::fs::metadata(&wal).unwrap().len();
    let mut bytes = std::fs::read(&wal).unwrap();
    let record_len = (len as usize - 8) / 10;
    let half_record = bytes[bytes.len() - record_len..bytes.len() - record_len / 2].to_vec();
    bytes.extend_from_slice(&half_record);
    std::fs::write(&wal, &bytes).unwrap();
    let db = Database::open(opts).unwrap();
    let c = db.collection("c").unwrap();
    assert_eq!(c.points_count(), 10);
    c.upsert(vec![p(10, &[1.0, 2.0], json!({}))]).unwrap();
    assert_eq!(c.points_count(), 11);
}

#[test]
fn leftovers_of_interrupted_creates_are_removed_and_the_directory_is_locked() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("collections/.tmp-123")).unwrap();
    let db = Database::open(DatabaseOptions::persistent(dir.path())).unwrap();
    assert!(!dir.path().join("collections/.tmp-123").exists());
    assert!(db.collection_names().is_empty());
    let second = Database::open(DatabaseOptions::persistent(dir.path()));
    assert!(
        second.is_err(),
        "a second open of a locked directory must fail"
    );
    drop(db);
    assert!(Database::open(DatabaseOptions::persistent(dir.path())).is_ok());
}

#[test]
fn a_file_as_storage_path_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("storage.json");
    std::fs::write(&f, b"{}").unwrap();
    let e = Database::open(DatabaseOptions::persistent(&f))
        .err()
        .unwrap();
    assert!(e.to_string().contains("is a file"));
}

fn sealed_collection(
    db: &Database,
    name: &str,
    d: Distance,
    n: u64,
    dim: usize,
) -> std::sync::Arc<Collection> {
    let mut cfg = CollectionConfig::with_dim(d, dim);
    // seal every 300 points (KB of vectors, Qdrant's unit), and keep up to 8 segments rather
    // than folding them into one graph
    let kb = (300 * dim * 4).div_ceil(1024);
    set_optimizers(
        &mut cfg,
        json!({"indexing_threshold": kb, "default_segment_number": 8}),
    );
    db.create_collection(name, cfg).unwrap();
    let c = db.collection(name).unwrap();
    let mut rng = StdRng::seed_from_u64(0x2545_F491_4F6C_DD1D);
    let mut rnd = move || rng.random_range(0..2000u32) as f32 / 1000.0 - 1.0;
    for chunk in (0..n).collect::<Vec<_>>().chunks(100) {
        let pts = chunk
            .iter()
            .map(|&i| {
                p(
                    i,
                    &(0..dim).map(|_| rnd()).collect::<Vec<_>>(),
                    json!({"g": i % 10, "i": i}),
                )
            })
            .collect();
        c.upsert(pts).unwrap();
        // seal (and index) as the data comes, so that there are several segments
        c.optimize();
    }
    c
}

fn manual_db() -> Database {
    Database::open(DatabaseOptions {
        background_optimizer: false,
        ..DatabaseOptions::in_memory()
    })
    .unwrap()
}

#[test]
fn sealed_segments_get_indexed_and_search_matches_exact() {
    let db = manual_db();
    let c = sealed_collection(&db, "s", Distance::Euclid, 2000, 16);
    c.upsert(vec![p(99_999, &[0.5; 16], json!({}))]).unwrap();
    c.optimize();
    let info = c.info();
    assert_eq!(info.status, "green");
    assert!(info.segments_count > 2, "{}", info.segments_count);
    assert!(
        info.indexed_vectors_count > 1500,
        "{}",
        info.indexed_vectors_count
    );
    assert_eq!(info.points_count, 2001);
    // approximate search agrees with the exact one on most of the top-10
    let mut agree = 0;
    for q in 0..20u64 {
        let v = c.vector_of(PointId::Num(q * 97), "").unwrap();
        let mut req = SearchRequest::new(v, 10);
        let approx: Vec<PointId> = c.search(&req).unwrap().iter().map(|h| h.id).collect();
        req.params.exact = true;
        let exact: Vec<PointId> = c.search(&req).unwrap().iter().map(|h| h.id).collect();
        agree += approx.iter().filter(|id| exact.contains(id)).count();
    }
    assert!(
        agree as f64 / 200.0 >= 0.95,
        "recall {}",
        agree as f64 / 200.0
    );
}

#[test]
fn m_zero_builds_no_graph_and_searches_scan() {
    let db = manual_db();
    let mut cfg = CollectionConfig::with_dim(Distance::Euclid, 8);
    cfg.settings.hnsw.m = 0;
    set_optimizers(&mut cfg, json!({"indexing_threshold": 10}));
    db.create_collection("m0", cfg).unwrap();
    let c = db.collection("m0").unwrap();
    let mut rng = StdRng::seed_from_u64(7);
    for chunk in (0..1200u64).collect::<Vec<_>>().chunks(100) {
        let pts = chunk
            .iter()
            .map(|&i| {
                p(
                    i,
                    &(0..8).map(|_| rng.random::<f32>()).collect::<Vec<_>>(),
                    json!({}),
                )
            })
            .collect();
        c.upsert(pts).unwrap();
        c.optimize();
    }
    assert!(c.info().segments_count > 1, "sealed segments exist");
    let info = c.info();
    assert_eq!(info.status, "green", "nothing left to do");
    assert_eq!(info.indexed_vectors_count, 0, "no space has a graph");
    for q in 0..10u64 {
        let v = c.vector_of(PointId::Num(q * 101), "").unwrap();
        let mut req = SearchRequest::new(v, 10);
        let got: Vec<PointId> = c.search(&req).unwrap().iter().map(|h| h.id).collect();
        req.params.exact = true;
        let exact: Vec<PointId> = c.search(&req).unwrap().iter().map(|h| h.id).collect();
        assert_eq!(got, exact);
    }
}

/// Sets optimizer settings as a create body's `optimizers_config` would (bypassing the
/// validation, so that tests can use tiny thresholds).
fn set_optimizers(cfg: &mut CollectionConfig, diff: serde_json::Value) {
    let diff: crate::OptimizersConfigDiff = serde_json::from_value(diff).unwrap();
    let mut o = serde_json::to_value(&cfg.settings.optimizers).unwrap();
    for (k, v) in serde_json::to_value(diff).unwrap().as_object().unwrap() {
        if !v.is_null() {
            o[k] = v.clone();
        }
    }
    cfg.settings.optimizers = serde_json::from_value(o).unwrap();
}

/// A collection sealing every 300 points of `dim` floats, with these extra optimizer settings.
fn folding_collection(
    db: &Database,
    name: &str,
    dim: usize,
    extra: serde_json::Value,
) -> std::sync::Arc<Collection> {
    let mut cfg = CollectionConfig::with_dim(Distance::Euclid, dim);
    let mut opt = json!({"indexing_threshold": (300 * dim * 4).div_ceil(1024)});
    for (k, v) in extra.as_object().unwrap() {
        opt[k] = v.clone();
    }
    set_optimizers(&mut cfg, opt);
    db.create_collection(name, cfg).unwrap();
    db.collection(name).unwrap()
}

fn noise(seed: u64, dim: usize) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..dim)
        .map(|_| rng.random_range(0..2000u32) as f32 / 1000.0 - 1.0)
        .collect()
}

fn recall_against_exact(c: &Collection, dim: usize) -> f64 {
    let mut agree = 0;
    for q in 0..20u64 {
        let mut req = SearchRequest::new(noise(10_000 + q, dim), 10);
        let approx: Vec<PointId> = c.search(&req).unwrap().iter().map(|h| h.id).collect();
        req.params.exact = true;
        let exact: Vec<PointId> = c.search(&req).unwrap().iter().map(|h| h.id).collect();
        agree += approx.iter().filter(|id| exact.contains(id)).count();
    }
    agree as f64 / 200.0
}

#[test]
fn sealed_segments_fold_into_one_graph_and_the_rest_follows() {
    let db = manual_db();
    let dim = 16;
    let c = folding_collection(&db, "f", dim, json!({}));
    for chunk in (0..2050u64).collect::<Vec<_>>().chunks(250) {
        let pts = chunk
            .iter()
            .map(|&i| p(i, &noise(i, dim), json!({"i": i})))
            .collect();
        c.upsert(pts).unwrap();
        c.optimize_step();
        c.optimize_step();
    }
    // optimize() takes writes as paused: the rest below the threshold is folded in too
    c.optimize();
    let info = c.info();
    assert_eq!(info.status, "green");
    assert_eq!(
        info.segments_count, 2,
        "one sealed segment and an empty appendable one"
    );
    assert_eq!(info.indexed_vectors_count, 2050);
    assert_eq!(info.points_count, 2050);
    assert!(recall_against_exact(&c, dim) >= 0.95);
    for id in [0u64, 299, 300, 1999, 2049] {
        assert_eq!(c.vector_of(PointId::Num(id), "").unwrap(), noise(id, dim));
    }
    // a segment with tombstones keeps its rows as they are: new data gets a graph of its own
    c.delete(vec![PointId::Num(7)]).unwrap();
    let pts = (5000..5400u64)
        .map(|i| p(i, &noise(i, dim), json!({"i": i})))
        .collect();
    c.upsert(pts).unwrap();
    c.optimize();
    let info = c.info();
    assert_eq!(info.status, "green");
    assert_eq!(info.segments_count, 3);
    assert_eq!(info.points_count, 2449);
    assert_eq!(info.indexed_vectors_count, 2449);
    assert!(c.get(PointId::Num(7)).is_none());
    assert!(recall_against_exact(&c, dim) >= 0.95);
}

#[test]
fn folding_respects_max_segment_size_and_default_segment_number() {
    let dim = 16;
    let load = |c: &Collection| {
        // chunks just above the sealing threshold (304 points): one seal each
        for chunk in (0..1500u64).collect::<Vec<_>>().chunks(310) {
            let pts = chunk
                .iter()
                .map(|&i| p(i, &noise(i, dim), json!({})))
                .collect();
            c.upsert(pts).unwrap();
            c.optimize();
        }
        c.info()
    };
    let db = manual_db();
    // room for 700 points per segment (64 bytes each): segments of 600 at most
    let small = folding_collection(&db, "small", dim, json!({"max_segment_size": 44}));
    let info = load(&small);
    assert!(info.segments_count >= 3, "{}", info.segments_count);
    assert_eq!(info.points_count, 1500);
    let segs = small.points.read();
    assert!(segs.sealed.iter().all(|s| s.live() <= 704));
    assert!(segs.sealed.iter().all(|s| s.is_indexed()));
    drop(segs);
    // an explicit segment count is kept
    let three = folding_collection(&db, "three", dim, json!({"default_segment_number": 3}));
    let info = load(&three);
    assert_eq!(info.segments_count, 4, "3 sealed and the appendable one");
    assert_eq!(info.indexed_vectors_count, 1500);
    // payload indexes with per-value links: graphs are not extended
    let keyed = folding_collection(&db, "keyed", dim, json!({}));
    keyed
        .create_index("k", crate::PayloadSchemaType::Keyword)
        .unwrap();
    let info = load(&keyed);
    assert_eq!(info.segments_count, 5, "4 sealed and the appendable rest");
    assert_eq!(info.indexed_vectors_count, 1240);
}

#[test]
fn the_appendable_rest_is_folded_once_writes_pause() {
    let db = mem_db(); // background optimizer
    let dim = 8;
    let c = folding_collection(&db, "idle", dim, json!({}));
    let pts = (0..5000u64)
        .map(|i| p(i, &noise(i, dim), json!({})))
        .collect();
    c.upsert(pts).unwrap();
    let began = std::time::Instant::now();
    while c.info().indexed_vectors_count < 5000 {
        assert!(began.elapsed() < std::time::Duration::from_secs(30));
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // a rest below the sealing threshold (304 points) and below a fold batch (100 points: a
    // fiftieth of the graph), above a twentieth of the threshold (15)
    let pts = (5000..5030u64)
        .map(|i| p(i, &noise(i, dim), json!({})))
        .collect();
    c.upsert(pts).unwrap();
    let began = std::time::Instant::now();
    loop {
        let info = c.info();
        if info.status == "green" && info.segments_count == 2 {
            assert_eq!(info.indexed_vectors_count, 5030);
            break;
        }
        assert!(
            began.elapsed() < std::time::Duration::from_secs(30),
            "not folded: {} segments, status {}",
            info.segments_count,
            info.status
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(began.elapsed() >= crate::optimizer::IDLE_FOLD_AFTER / 2);
    assert!(recall_against_exact(&c, dim) >= 0.95);
}

#[test]
fn writers_wait_for_indexing_so_the_unindexed_backlog_stays_bounded() {
    let dim = 16;
    let unindexed = |c: &Collection| {
        let segs = c.points.read();
        segs.appendable.len()
            + segs
                .sealed
                .iter()
                .filter(|s| !s.is_indexed())
                .map(|s| s.live())
                .sum::<usize>()
    };
    // without a background optimizer nobody would index: writes never wait
    let manual = manual_db();
    let c = folding_collection(&manual, "m", dim, json!({}));
    for b in 0..10u64 {
        let pts = (b * 1000..(b + 1) * 1000)
            .map(|i| p(i, &noise(i, dim), json!({})))
            .collect();
        c.upsert(pts).unwrap();
    }
    assert_eq!(unindexed(&c), 10_000);
    // with one, a writer far faster than indexing is held back: the backlog (limit 2,000
    // points here, see `backlog_limit`) never grows by more than the batch that got in
    let db = mem_db();
    let c = folding_collection(&db, "b", dim, json!({}));
    let mut worst = 0;
    for b in 0..40u64 {
        let pts = (b * 500..(b + 1) * 500)
            .map(|i| p(i, &noise(i, dim), json!({})))
            .collect();
        c.upsert(pts).unwrap();
        worst = worst.max(unindexed(&c));
    }
    assert!(worst <= 2_500, "backlog reached {worst}");
    assert_eq!(c.points_count(), 20_000);
    c.optimize();
    assert_eq!(c.info().indexed_vectors_count, 20_000);
}

#[test]
fn writes_to_sealed_points_are_tombstoned_and_never_lost() {
    let db = manual_db();
    let c = sealed_collection(&db, "w", Distance::Dot, 1000, 8);
    c.optimize();
    // overwrite, delete, update the payload of points that live in sealed segments
    c.upsert(vec![p(5, &[1.0; 8], json!({"new": true}))])
        .unwrap();
    c.delete(vec![PointId::Num(6)]).unwrap();
    c.update(crate::PointUpdate::SetPayload {
        selector: crate::PointSelector::Ids(vec![PointId::Num(7)]),
        payload: json!({"extra": 1}).as_object().unwrap().clone(),
        key: None,
    })
    .unwrap();
    assert_eq!(c.points_count(), 999);
    assert_eq!(
        c.get(PointId::Num(5)).unwrap().payload.unwrap(),
        *json!({"new": true}).as_object().unwrap()
    );
    assert!(c.get(PointId::Num(6)).is_none());
    assert_eq!(c.get(PointId::Num(7)).unwrap().payload.unwrap()["extra"], 1);
    assert_eq!(c.get(PointId::Num(7)).unwrap().payload.unwrap()["i"], 7);
    // scroll merges the segments in id order and sees every live point once
    let (all, total) = c.list(0, usize::MAX);
    assert_eq!(total, 999);
    let ids: Vec<PointId> = all.iter().map(|r| r.id).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(ids, sorted);
    // point 6 (g = 6) is gone and point 5 lost its payload; point 7 kept g = 7
    assert_eq!(
        c.count(Some(&Filter::from_seed(&json!({"g": 7})).unwrap())),
        100
    );
    assert_eq!(
        c.count(Some(&Filter::from_seed(&json!({"g": 6})).unwrap())),
        99
    );
    assert_eq!(
        c.count(Some(&Filter::from_seed(&json!({"g": 5})).unwrap())),
        99
    );
    // a search never returns a deleted or stale version
    let hits = c.search(&SearchRequest::new(vec![1.0; 8], 1000)).unwrap();
    assert_eq!(hits.len(), 999);
    assert!(hits.iter().all(|h| h.id != PointId::Num(6)));
    // many deletions trigger a vacuum; everything left stays
    let settings = crate::SettingsDiff {
        optimizers: Some(crate::OptimizersConfigDiff {
            vacuum_min_vector_number: Some(10),
            ..Default::default()
        }),
        ..Default::default()
    };
    c.update_config(&settings, &Default::default()).unwrap();
    let gone: Vec<PointId> = (100..600).map(PointId::Num).collect();
    c.delete(gone).unwrap();
    assert_eq!(c.info().status, "yellow", "a vacuum is due");
    c.optimize();
    assert_eq!(c.info().status, "green");
    assert_eq!(c.points_count(), 499);
    assert_eq!(
        c.search(&SearchRequest::new(vec![1.0; 8], 1000))
            .unwrap()
            .len(),
        499
    );
}

#[test]
fn filtered_search_over_sealed_segments_keeps_recall() {
    let db = manual_db();
    let c = sealed_collection(&db, "f", Distance::Cosine, 3000, 16);
    c.create_index("g", crate::PayloadSchemaType::Integer)
        .unwrap();
    c.optimize();
    let mut recall = 0.0;
    for q in 0..10u64 {
        let v = c.vector_of(PointId::Num(q * 31), "").unwrap();
        let mut req = SearchRequest::new(v, 10);
        req.filter = Some(Filter::from_seed(&json!({"g": 3})).unwrap());
        let approx: Vec<PointId> = c.search(&req).unwrap().iter().map(|h| h.id).collect();
        req.params.exact = true;
        let exact: Vec<PointId> = c.search(&req).unwrap().iter().map(|h| h.id).collect();
        assert_eq!(exact.len(), 10);
        recall += approx.iter().filter(|id| exact.contains(id)).count() as f64 / 100.0;
    }
    assert!(recall >= 0.95, "filtered recall {recall}");
}

#[test]
fn a_reopen_after_sealing_restores_every_point() {
    let dir = tempfile::tempdir().unwrap();
    let opts = DatabaseOptions {
        background_optimizer: false,
        checkpoint_wal_bytes: 4096,
        ..DatabaseOptions::persistent(dir.path())
    };
    let before = {
        let db = Database::open(opts.clone()).unwrap();
        let c = sealed_collection(&db, "r", Distance::Euclid, 1500, 8);
        c.optimize();
        c.delete(vec![PointId::Num(3), PointId::Num(1400)]).unwrap();
        snapshot(&db)
    };
    let db = Database::open(opts).unwrap();
    assert_eq!(snapshot(&db), before);
}

#[test]
fn concurrent_writes_and_searches_while_the_optimizer_runs_never_lose_a_point() {
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};

    let db = Database::open(DatabaseOptions::in_memory()).unwrap(); // background optimizer on
    let mut cfg = CollectionConfig::with_dim(Distance::Euclid, 8);
    set_optimizers(
        &mut cfg,
        json!({"indexing_threshold": 4, "vacuum_min_vector_number": 20, "default_segment_number": 3}),
    );
    db.create_collection("cc", cfg).unwrap();
    let c = db.collection("cc").unwrap();
    // id → acknowledged state: Some(x) = present with vector [x; 8], None = deleted
    let truth: Arc<Mutex<BTreeMap<u64, Option<f32>>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..2u64)
        .map(|t| {
            let (c, truth) = (c.clone(), truth.clone());
            std::thread::spawn(move || {
                for i in 0..1500u64 {
                    let id = (i * 7 + t) % 600 * 2 + t; // each writer owns its ids
                    if i % 4 == 3 {
                        c.delete(vec![PointId::Num(id)]).unwrap();
                        truth.lock().unwrap().insert(id, None);
                    } else {
                        let x = (i % 50) as f32;
                        c.upsert(vec![p(id, &[x; 8], json!({"w": t}))]).unwrap();
                        truth.lock().unwrap().insert(id, Some(x));
                    }
                    if i % 100 == 0 {
                        std::thread::sleep(std::time::Duration::from_millis(2));
                    }
                }
            })
        })
        .collect();
    let searcher = {
        let (c, truth, stop) = (c.clone(), truth.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut checks = 0;
            while !stop.load(Ordering::Relaxed) || checks < 20 {
                // points acknowledged before the search starts must all be found by it
                let snapshot = truth.lock().unwrap().clone();
                let live: Vec<u64> = snapshot
                    .iter()
                    .filter(|(_, v)| v.is_some())
                    .map(|(k, _)| *k)
                    .collect();
                let mut req = SearchRequest::new(vec![0.0; 8], 5000);
                req.params.exact = true;
                let found: std::collections::HashSet<PointId> =
                    c.search(&req).unwrap().iter().map(|h| h.id).collect();
                // writers keep going, so a point may be newer than the snapshot, but one
                // acknowledged as present and not touched since must be there
                let now = truth.lock().unwrap().clone();
                for id in &live {
                    if now.get(id) == snapshot.get(id) {
                        assert!(
                            found.contains(&PointId::Num(*id)),
                            "acknowledged point {id} missing"
                        );
                    }
                }
                checks += 1;
            }
            checks
        })
    };
    for w in writers {
        w.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    let checks = searcher.join().unwrap();
    assert!(checks >= 20, "the searcher ran {checks} times");
    // at rest: exactly the acknowledged state, with the right vectors, approximate search too
    c.optimize();
    let truth = truth.lock().unwrap();
    let live: Vec<(u64, f32)> = truth
        .iter()
        .filter_map(|(k, v)| v.map(|x| (*k, x)))
        .collect();
    assert_eq!(c.points_count(), live.len());
    for (id, x) in &live {
        let r = c.get(PointId::Num(*id)).unwrap();
        assert_eq!(r.vectors.unwrap()[""], vec![*x; 8].into(), "point {id}");
    }
    assert!(
        c.info().segments_count >= 2,
        "the optimizer sealed segments meanwhile"
    );
    let hits = c.search(&SearchRequest::new(vec![0.0; 8], 5000)).unwrap();
    assert_eq!(
        hits.len(),
        live.len(),
        "approximate search over the sealed segments sees every point"
    );
}

#[test]
fn filtered_recall_holds_for_every_filter_kind() {
    let db = manual_db();
    let dim = 16;
    let mut cfg = CollectionConfig::with_dim(Distance::Euclid, dim);
    let kb = (1000 * dim * 4).div_ceil(1024);
    cfg.settings.optimizers.indexing_threshold = Some(kb);
    // a low full-scan threshold, so that the filtered HNSW traversal is what gets tested
    cfg.settings.hnsw.full_scan_threshold = 1;
    db.create_collection("k", cfg).unwrap();
    let c = db.collection("k").unwrap();
    let mut rng = StdRng::seed_from_u64(0x9E37_79B9_7F4A_7C15);
    let mut rnd = move || rng.random_range(0..10_000u32) as f32 / 5_000.0 - 1.0;
    let n = 4000u64;
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let pts = chunk
            .iter()
            .map(|&i| {
                let lat = (i % 90) as f64 - 45.0;
                p(
                    i,
                    &(0..dim).map(|_| rnd()).collect::<Vec<_>>(),
                    json!({"color": format!("c{}", i % 20), "n": i % 100, "tags": [format!("t{}", i % 7), "all"],
                           "loc": {"lat": lat, "lon": 10.0}}),
                )
            })
            .collect();
        c.upsert(pts).unwrap();
    }
    c.create_index("color", crate::PayloadSchemaType::Keyword)
        .unwrap();
    c.create_index("n", crate::PayloadSchemaType::Integer)
        .unwrap();
    c.optimize();
    assert!(c.info().indexed_vectors_count >= 3000);
    let kinds = [
        (
            "keyword match (5 %)",
            json!({"must": [{"key": "color", "match": {"value": "c3"}}]}),
        ),
        (
            "integer range (10 %)",
            json!({"must": [{"key": "n", "range": {"gte": 10, "lt": 20}}]}),
        ),
        (
            "match any",
            json!({"must": [{"key": "color", "match": {"any": ["c1", "c2"]}}]}),
        ),
        (
            "must_not (95 %)",
            json!({"must_not": [{"key": "color", "match": {"value": "c3"}}]}),
        ),
        (
            "unindexed array value",
            json!({"must": [{"key": "tags", "match": {"value": "t4"}}]}),
        ),
        (
            "geo radius",
            json!({"must": [{"key": "loc", "geo_radius": {"center": {"lat": 0.0, "lon": 10.0}, "radius": 1_500_000.0}}]}),
        ),
        (
            "should",
            json!({"should": [{"key": "n", "match": {"value": 7}}, {"key": "color", "match": {"value": "c9"}}]}),
        ),
    ];
    for (name, f) in kinds {
        let filter = Filter::from_qdrant(&f).unwrap();
        let mut recall = 0.0;
        let queries = 20;
        for q in 0..queries {
            let v: Vec<f32> = (0..dim)
                .map(|j| ((q * 31 + j) % 17) as f32 / 8.0 - 1.0)
                .collect();
            let mut req = SearchRequest::new(v, 10);
            req.filter = Some(filter.clone());
            req.params.hnsw_ef = Some(64);
            let approx: Vec<PointId> = c.search(&req).unwrap().iter().map(|h| h.id).collect();
            req.params.exact = true;
            let exact: Vec<PointId> = c.search(&req).unwrap().iter().map(|h| h.id).collect();
            assert_eq!(exact.len(), 10, "{name}");
            assert!(
                approx.iter().all(|id| exact.contains(id)
                    || c.get(*id)
                        .is_some_and(|r| filter.matches(*id, r.payload.as_ref().unwrap()))),
                "{name}: a hit breaks the filter"
            );
            recall += approx.iter().filter(|id| exact.contains(id)).count() as f64
                / (10.0 * queries as f64);
        }
        // tolerance: filtered HNSW may miss a few of the exact top-10
        assert!(recall >= 0.9, "{name}: recall@10 {recall}");
    }
}

fn dir_bytes(path: &Path) -> u64 {
    let mut total = 0;
    for e in std::fs::read_dir(path).unwrap() {
        let e = e.unwrap();
        let m = e.metadata().unwrap();
        total += if m.is_dir() {
            dir_bytes(&e.path())
        } else {
            m.len()
        };
    }
    total
}

fn segment_ids(coll_dir: &Path) -> Vec<u64> {
    let mut ids: Vec<u64> = std::fs::read_dir(coll_dir.join("segments"))
        .unwrap()
        .filter_map(|e| e.unwrap().file_name().to_str()?.parse().ok())
        .collect();
    ids.sort();
    ids
}

#[test]
fn sealed_segments_reopen_from_their_files_with_their_graphs() {
    let dir = tempfile::tempdir().unwrap();
    let opts = DatabaseOptions {
        background_optimizer: false,
        ..DatabaseOptions::persistent(dir.path())
    };
    let (before, hits_before) = {
        let db = Database::open(opts.clone()).unwrap();
        let c = sealed_collection(&db, "r", Distance::Cosine, 1500, 8);
        c.create_index("g", crate::PayloadSchemaType::Integer)
            .unwrap();
        c.delete(vec![PointId::Num(3), PointId::Num(1400)]).unwrap();
        c.optimize();
        let info = c.info();
        assert!(info.segments_count > 2);
        assert_eq!(info.status, "green");
        let req = SearchRequest::new(vec![0.3; 8], 10);
        (snapshot(&db), c.search(&req).unwrap())
    };
    let coll = dir.path().join("collections/r");
    let ids = segment_ids(&coll);
    assert!(ids.len() >= 2, "segments on disk: {ids:?}");
    for id in &ids {
        let seg = coll.join("segments").join(id.to_string());
        assert!(seg.join("segment.bin").exists() && seg.join("vectors-0.bin").exists());
        assert!(seg.join("hnsw-0.bin").exists(), "graph of segment {id}");
        assert!(
            seg.join("payload-index.bin").exists(),
            "payload index of segment {id}"
        );
    }
    let db = Database::open(opts).unwrap();
    assert_eq!(snapshot(&db), before);
    let c = db.collection("r").unwrap();
    let info = c.info();
    // the graphs were read back: nothing left to build
    assert_eq!(info.status, "green");
    assert!(info.indexed_vectors_count > 0);
    let req = SearchRequest::new(vec![0.3; 8], 10);
    let hits: Vec<PointId> = c.search(&req).unwrap().iter().map(|h| h.id).collect();
    assert_eq!(hits, hits_before.iter().map(|h| h.id).collect::<Vec<_>>());
    // the payload index is there again (read back from its file)
    assert_eq!(info.payload_schema.len(), 1);
    let g_points = info.payload_schema[0].points;
    assert!(g_points > 1000);
    let filtered = |c: &Collection| {
        let mut req = SearchRequest::new(vec![0.3; 8], 10);
        req.filter = Some(
            crate::Filter::from_qdrant(&json!({"must": [{"key": "g", "match": {"value": 3}}]}))
                .unwrap(),
        );
        c.search(&req)
            .unwrap()
            .iter()
            .map(|h| h.id)
            .collect::<Vec<_>>()
    };
    let want = filtered(&c);
    assert_eq!(want.len(), 10);
    // an index created after the segments were written is built at load; a damaged index
    // file is rebuilt from the payloads
    c.create_index("i", crate::PayloadSchemaType::Integer)
        .unwrap();
    drop(c);
    drop(db);
    let victim = coll.join(format!("segments/{}/payload-index.bin", ids[0]));
    let mut bytes = std::fs::read(&victim).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x10;
    std::fs::write(&victim, bytes).unwrap();
    let db = Database::open(DatabaseOptions {
        background_optimizer: false,
        ..DatabaseOptions::persistent(dir.path())
    })
    .unwrap();
    let c = db.collection("r").unwrap();
    let schema = c.info().payload_schema;
    assert_eq!(schema.len(), 2);
    assert_eq!(
        schema.iter().find(|f| f.field == "g").unwrap().points,
        g_points
    );
    assert!(schema.iter().find(|f| f.field == "i").unwrap().points > 1000);
    assert_eq!(filtered(&c), want);
}

#[test]
fn a_damaged_segment_is_quarantined_and_the_rest_still_opens() {
    let dir = tempfile::tempdir().unwrap();
    let opts = DatabaseOptions {
        background_optimizer: false,
        ..DatabaseOptions::persistent(dir.path())
    };
    {
        let db = Database::open(opts.clone()).unwrap();
        sealed_collection(&db, "r", Distance::Euclid, 900, 8).optimize();
        db.create_collection("ok", CollectionConfig::with_dim(Distance::Dot, 2))
            .unwrap();
        db.collection("ok")
            .unwrap()
            .upsert(vec![p(1, &[1.0, 2.0], json!({}))])
            .unwrap();
    }
    let coll = dir.path().join("collections/r");
    let ids = segment_ids(&coll);
    let victim = coll.join(format!("segments/{}/vectors-0.bin", ids[0]));
    let mut bytes = std::fs::read(&victim).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x40;
    std::fs::write(&victim, bytes).unwrap();

    let db = Database::open(opts.clone()).unwrap();
    let c = db.collection("r").unwrap();
    let info = c.info();
    assert_eq!(info.status, "red");
    assert!(info.points_count < 900 && info.points_count > 0);
    assert!(coll.join("quarantine").read_dir().unwrap().count() == 1);
    assert_eq!(db.collection("ok").unwrap().points_count(), 1);
    // writes still work
    c.upsert(vec![p(5000, &[0.0; 8], json!({}))]).unwrap();
    drop(db);

    // a state file that does not check out fails that collection only
    let state = dir.path().join("collections/ok/state.bin");
    if !state.exists() {
        let db = Database::open(opts.clone()).unwrap();
        db.collection("ok").unwrap().optimize();
        let _g = db.collection("ok").unwrap();
        let c = db.collection("ok").unwrap();
        let _o = c.optimizer_lock.lock();
        c.flush().unwrap();
    }
    let mut bytes = std::fs::read(&state).unwrap();
    bytes[12] ^= 1;
    std::fs::write(&state, bytes).unwrap();
    let db = Database::open(opts).unwrap();
    assert!(db.collection("r").is_ok());
    let err = db.collection("ok").err().unwrap().to_string();
    assert!(err.contains("could not be loaded"), "{err}");
    assert_eq!(db.failed_collections().len(), 1);
}

#[test]
fn vacuum_gives_disk_space_back_and_leftovers_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    let opts = DatabaseOptions {
        background_optimizer: false,
        ..DatabaseOptions::persistent(dir.path())
    };
    let db = Database::open(opts.clone()).unwrap();
    let mut cfg = CollectionConfig::with_dim(Distance::Euclid, 64);
    set_optimizers(
        &mut cfg,
        json!({"indexing_threshold": 1000, "vacuum_min_vector_number": 100}),
    );
    db.create_collection("v", cfg).unwrap();
    let c = db.collection("v").unwrap();
    for chunk in (0..6000u64).collect::<Vec<_>>().chunks(500) {
        c.upsert(
            chunk
                .iter()
                .map(|&i| p(i, &[i as f32; 64], json!({"i": i})))
                .collect(),
        )
        .unwrap();
        c.optimize();
    }
    c.optimize();
    let coll = dir.path().join("collections/v");
    let full = dir_bytes(&coll.join("segments"));
    c.delete((0..5000).map(PointId::Num).collect()).unwrap();
    c.optimize();
    let after = dir_bytes(&coll.join("segments"));
    assert!(
        after * 3 < full,
        "segments used {full} bytes, {after} after deleting 5/6 of the points"
    );
    assert_eq!(c.points_count(), 1000);
    drop(c);
    drop(db);
    // leftovers of an interrupted flush are removed at the next start
    std::fs::create_dir_all(coll.join("segments/.tmp-99")).unwrap();
    std::fs::create_dir_all(coll.join("segments/98")).unwrap();
    let db = Database::open(opts).unwrap();
    assert_eq!(db.collection("v").unwrap().points_count(), 1000);
    assert!(!coll.join("segments/.tmp-99").exists() && !coll.join("segments/98").exists());
}

#[test]
fn snapshots_round_trip_between_databases_and_replace_a_collection_whole() {
    let src_dir = tempfile::tempdir().unwrap();
    let dst_dir = tempfile::tempdir().unwrap();
    let manual = |p: &Path| DatabaseOptions {
        background_optimizer: false,
        ..DatabaseOptions::persistent(p)
    };
    let src = Database::open(manual(src_dir.path())).unwrap();
    let c = sealed_collection(&src, "r", Distance::Cosine, 700, 8);
    c.delete(vec![PointId::Num(5)]).unwrap();
    c.upsert(vec![p(100_000, &[1.0; 8], json!({"late": true}))])
        .unwrap();
    src.update_aliases(&[crate::AliasAction::Create {
        alias: "al".into(),
        collection: "r".into(),
    }])
    .unwrap();
    let want = snapshot(&src);
    let d = src.create_snapshot("al").unwrap();
    assert!(d.name.starts_with("r-") && d.name.ends_with(".snapshot"));
    let file = src.snapshot_path("r", &d.name).unwrap();
    assert_eq!(
        d.checksum.as_deref(),
        Some(crate::file_sha256(&file).unwrap().as_str())
    );
    assert_eq!(src.list_snapshots("r").unwrap(), vec![d.clone()]);

    // into a fresh database, and into an in-memory one
    let dst = Database::open(manual(dst_dir.path())).unwrap();
    dst.recover_snapshot("r", &file, d.checksum.as_deref())
        .unwrap();
    assert_eq!(snapshot(&dst), want);
    let mem = manual_db();
    mem.recover_snapshot("r", &file, None).unwrap();
    assert_eq!(snapshot(&mem), want);
    let msnap = mem.create_snapshot("r").unwrap();
    let mfile = mem.snapshot_path("r", &msnap.name).unwrap();

    // over a collection of the same name: replaced whole
    dst.collection("r")
        .unwrap()
        .upsert(vec![p(7_777_777, &[0.5; 8], json!({}))])
        .unwrap();
    dst.recover_snapshot("r", &mfile, None).unwrap();
    assert_eq!(snapshot(&dst), want);
    // its sequence is ahead of its fresh log's: the log still syncs, and writes go on
    let r = dst.collection("r").unwrap();
    r.sync_log().unwrap();
    r.upsert_with(
        vec![p(123_456, &[0.25; 8], json!({}))],
        crate::Durability::Logged,
    )
    .unwrap();
    r.sync_log().unwrap();
    r.delete(vec![PointId::Num(123_456)]).unwrap();
    drop(dst);
    let dst = Database::open(manual(dst_dir.path())).unwrap();
    assert_eq!(snapshot(&dst), want, "the recovered collection is durable");

    // a damaged snapshot or a wrong checksum leaves the collection as it was
    let bad = dst_dir.path().join("bad.snapshot");
    let mut bytes = std::fs::read(&file).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 0x55;
    std::fs::write(&bad, &bytes).unwrap();
    assert!(dst.recover_snapshot("r", &bad, None).is_err());
    let err = dst
        .recover_snapshot("r", &file, Some("00ff"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("checksum"), "{err}");
    std::fs::write(&bad, b"not a tar").unwrap();
    assert!(dst.recover_snapshot("r", &bad, None).is_err());
    assert_eq!(snapshot(&dst), want);

    // leftovers of interrupted snapshot work go at the next start; snapshots stay
    let snaps = src_dir.path().join("snapshots");
    std::fs::create_dir_all(snaps.join(".uploads")).unwrap();
    std::fs::write(snaps.join(".uploads/x.upload"), b"half").unwrap();
    std::fs::write(snaps.join("collections/r/.r-partial.snapshot.tmp"), b"half").unwrap();
    drop(c);
    drop(src);
    let src = Database::open(manual(src_dir.path())).unwrap();
    assert!(!snaps.join(".uploads").exists());
    assert!(!snaps.join("collections/r/.r-partial.snapshot.tmp").exists());
    assert_eq!(src.list_snapshots("r").unwrap(), vec![d.clone()]);
    // snapshots can be deleted
    src.delete_snapshot("r", &d.name).unwrap();
    assert!(src.list_snapshots("r").unwrap().is_empty());
    assert!(matches!(
        src.delete_snapshot("r", &d.name),
        Err(EngineError::SnapshotNotFound(_))
    ));
}

#[test]
fn a_full_snapshot_restores_every_collection_and_the_aliases() {
    let src_dir = tempfile::tempdir().unwrap();
    let src = Database::open(DatabaseOptions {
        background_optimizer: false,
        ..DatabaseOptions::persistent(src_dir.path())
    })
    .unwrap();
    write_workload(&src);
    src.update_aliases(&[crate::AliasAction::Create {
        alias: "first".into(),
        collection: "a".into(),
    }])
    .unwrap();
    let want = snapshot(&src);
    let d = src.create_full_snapshot().unwrap();
    assert_eq!(src.list_full_snapshots().unwrap().len(), 1);
    let file = src.full_snapshot_path(&d.name).unwrap();
    let dst = manual_db();
    let names = dst
        .recover_full_snapshot(&file, d.checksum.as_deref())
        .unwrap();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(snapshot(&dst), want);
    assert_eq!(dst.aliases(), [("first".to_string(), "a".to_string())]);
    src.delete_full_snapshot(&d.name).unwrap();
    assert!(src.list_full_snapshots().unwrap().is_empty());
}

mod faults {
    //! The engine over the storage crate's in-memory and fault-injecting file systems: a
    //! failure at every write and every fsync of a workload that seals, indexes, flushes and
    //! vacuums, followed by a power loss, never loses an acknowledged write; a full disk refuses
    //! writes cleanly and they work again once space returns.

    use std::collections::BTreeMap;
    use std::sync::Arc;

    use rvdb_storage::{FaultyVfs, MemoryVfs, Vfs};
    use serde_json::json;

    use super::p;
    use crate::{CollectionConfig, Database, DatabaseOptions, Distance, PointId, PointUpdate};

    type Model = BTreeMap<PointId, (Vec<f32>, serde_json::Value)>;

    mod snapshots;

    fn open(vfs: Arc<dyn Vfs>) -> crate::Result<Database> {
        Database::open(DatabaseOptions {
            vfs: Some(vfs),
            background_optimizer: false,
            checkpoint_wal_bytes: 8 << 10,
            ..DatabaseOptions::persistent("/db")
        })
    }

    fn read_all(db: &Database) -> Model {
        let c = db.collection("f").unwrap();
        let (records, _) = c.list(0, usize::MAX);
        records
            .into_iter()
            .map(|r| {
                (
                    r.id,
                    (
                        r.vectors.unwrap()[""].as_dense().unwrap().to_vec(),
                        serde_json::Value::Object(r.payload.unwrap()),
                    ),
                )
            })
            .collect()
    }

    enum Op {
        Upsert(Vec<u64>, u64),
        Delete(Vec<u64>),
        SetPayload(Vec<u64>, u64),
        Optimize,
    }

    fn workload() -> Vec<Op> {
        let mut ops = Vec::new();
        for round in 0..6u64 {
            ops.push(Op::Upsert((round * 40..round * 40 + 50).collect(), round));
            ops.push(Op::Delete(
                (round * 40..round * 40 + 50).step_by(7).collect(),
            ));
            if round > 0 {
                ops.push(Op::SetPayload((0..round * 40).step_by(5).collect(), round));
            }
            if round % 2 == 1 {
                ops.push(Op::Optimize);
            }
        }
        ops.push(Op::Optimize);
        ops
    }

    fn vector(id: u64, round: u64) -> Vec<f32> {
        vec![1.0 + id as f32, round as f32, 0.5, (id % 3) as f32]
    }

    /// Runs the workload until the first failure; returns the model of what was acknowledged
    /// and, if an operation failed, the model as it would be had that operation applied.
    fn run(db: &Database) -> (Model, Option<Model>) {
        let c = db.collection("f").unwrap();
        let mut model = Model::new();
        for op in workload() {
            let mut next = model.clone();
            let result = match op {
                Op::Upsert(ids, round) => {
                    for &i in &ids {
                        next.insert(PointId::Num(i), (vector(i, round), json!({"r": round})));
                    }
                    c.upsert(
                        ids.iter()
                            .map(|&i| p(i, &vector(i, round), json!({"r": round})))
                            .collect(),
                    )
                    .map(|_| ())
                }
                Op::Delete(ids) => {
                    for i in &ids {
                        next.remove(&PointId::Num(*i));
                    }
                    c.delete(ids.into_iter().map(PointId::Num).collect())
                        .map(|_| ())
                }
                Op::SetPayload(ids, round) => {
                    let ids: Vec<PointId> = ids
                        .into_iter()
                        .map(PointId::Num)
                        .filter(|id| next.contains_key(id))
                        .collect();
                    for id in &ids {
                        next.get_mut(id).unwrap().1["s"] = json!(round);
                    }
                    c.update(PointUpdate::SetPayload {
                        selector: crate::PointSelector::Ids(ids),
                        payload: json!({"s": round}).as_object().unwrap().clone(),
                        key: None,
                    })
                    .map(|_| ())
                }
                Op::Optimize => {
                    // failures inside are logged, never acknowledged to anyone
                    c.optimize();
                    Ok(())
                }
            };
            match result {
                Ok(()) => model = next,
                Err(_) => return (model, Some(next)),
            }
        }
        (model, None)
    }

    fn fresh() -> (MemoryVfs, FaultyVfs) {
        let mem = MemoryVfs::new();
        let faulty = FaultyVfs::new(Arc::new(mem.clone()));
        {
            let db = open(Arc::new(mem.clone())).unwrap();
            let mut cfg = CollectionConfig::with_dim(Distance::Euclid, 4);
            super::set_optimizers(
                &mut cfg,
                json!({"indexing_threshold": 1, "vacuum_min_vector_number": 10, "default_segment_number": 8}),
            );
            db.create_collection("f", cfg).unwrap();
        }
        (mem, faulty)
    }

    #[test]
    fn a_failure_at_any_write_or_fsync_then_a_power_loss_loses_nothing_acknowledged() {
        // count the I/O calls of a clean run
        let (_, faulty) = fresh();
        let (full, failed) = run(&open(Arc::new(faulty.clone())).unwrap());
        assert!(failed.is_none(), "a clean run fails");
        let (writes, syncs) = (faulty.write_count(), faulty.sync_count());
        assert!(writes > 30 && syncs > 30, "{writes} writes, {syncs} syncs");
        let mut cases = 0;
        for (kind, total) in [("write", writes), ("sync", syncs)] {
            for n in 1..=total {
                let (mem, faulty) = fresh();
                match kind {
                    "write" => faulty.fail_nth_write(n),
                    _ => faulty.fail_nth_sync(n),
                }
                let (acked, maybe) = match open(Arc::new(faulty.clone())) {
                    // the fault hit while opening: nothing was acknowledged
                    Ok(db) if db.collection("f").is_ok() => run(&db),
                    _ => (Model::new(), None),
                };
                mem.crash();
                let db = open(Arc::new(mem.clone()))
                    .unwrap_or_else(|e| panic!("{kind} {n}: reopen failed: {e}"));
                let got = read_all(&db);
                assert!(
                    got == acked || maybe.as_ref() == Some(&got),
                    "{kind} {n} failed: {} points acknowledged, {} back",
                    acked.len(),
                    got.len()
                );
                cases += 1;
            }
        }
        assert!(cases > 60);
        // and a clean run survives a power loss whole
        let (mem, _) = fresh();
        let db = open(Arc::new(mem.clone())).unwrap();
        run(&db);
        let info = db.collection("f").unwrap().info();
        assert!(info.segments_count > 2, "the workload seals segments");
        drop(db);
        let coll = std::path::Path::new("/db/collections/f");
        assert!(mem.exists(&coll.join("state.bin")));
        let segs = mem.read_dir(&coll.join("segments")).unwrap();
        assert!(segs.len() >= 2, "segments on disk: {segs:?}");
        mem.crash();
        assert_eq!(read_all(&open(Arc::new(mem)).unwrap()), full);
    }

    #[test]
    fn a_full_disk_refuses_writes_and_they_work_again_once_space_returns() {
        let (mem, faulty) = fresh();
        let db = open(Arc::new(faulty.clone())).unwrap();
        let c = db.collection("f").unwrap();
        c.upsert((0..100).map(|i| p(i, &vector(i, 0), json!({}))).collect())
            .unwrap();
        faulty.set_disk_full(true);
        let err = c
            .upsert(vec![p(500, &vector(500, 0), json!({}))])
            .unwrap_err();
        assert!(err.is_disk_full(), "{err}");
        // the optimizer cannot write its segments either: it keeps the log
        c.optimize();
        assert!(c.get(PointId::Num(500)).is_none());
        faulty.set_disk_full(false);
        c.upsert(vec![p(501, &vector(501, 0), json!({}))]).unwrap();
        c.optimize();
        drop(c);
        drop(db);
        mem.crash();
        let db = open(Arc::new(mem)).unwrap();
        let got = read_all(&db);
        assert_eq!(got.len(), 101);
        assert!(got.contains_key(&PointId::Num(501)) && !got.contains_key(&PointId::Num(500)));
    }
}

#[test]
fn a_recovery_interrupted_between_its_renames_brings_the_old_collection_back() {
    let dir = tempfile::tempdir().unwrap();
    let opts = DatabaseOptions {
        background_optimizer: false,
        ..DatabaseOptions::persistent(dir.path())
    };
    {
        let db = Database::open(opts.clone()).unwrap();
        db.create_collection("my-coll", CollectionConfig::with_dim(Distance::Dot, 2))
            .unwrap();
        db.collection("my-coll")
            .unwrap()
            .upsert(vec![p(1, &[1.0, 2.0], json!({}))])
            .unwrap();
    }
    // as if the process died after renaming the old directory away
    let root = dir.path().join("collections");
    std::fs::rename(
        root.join("my-coll"),
        root.join(format!(".replaced-{}-my-coll", uuid::Uuid::new_v4())),
    )
    .unwrap();
    let db = Database::open(opts.clone()).unwrap();
    assert_eq!(db.collection("my-coll").unwrap().points_count(), 1);
    drop(db);
    // and after the new one was in place: the old copy goes
    let stale = root.join(format!(".replaced-{}-my-coll", uuid::Uuid::new_v4()));
    std::fs::create_dir(&stale).unwrap();
    let db = Database::open(opts).unwrap();
    assert_eq!(db.collection("my-coll").unwrap().points_count(), 1);
    assert!(!stale.exists());
    // a collection that cannot be loaded can be deleted
    drop(db);
    std::fs::write(root.join("my-coll/config.json"), b"{").unwrap();
    let db = Database::open(DatabaseOptions {
        background_optimizer: false,
        ..DatabaseOptions::persistent(dir.path())
    })
    .unwrap();
    assert!(db.collection("my-coll").is_err());
    assert!(db.delete_collection("my-coll").unwrap());
    assert!(db.failed_collections().is_empty());
    db.create_collection("my-coll", CollectionConfig::with_dim(Distance::Dot, 2))
        .unwrap();
}

#[test]
fn deleting_a_collection_whose_optimizer_is_busy_does_not_hold_up_the_others() {
    let db = std::sync::Arc::new(manual_db());
    for name in ["slow", "other"] {
        db.create_collection(name, CollectionConfig::with_dim(Distance::Dot, 2))
            .unwrap();
    }
    let slow = db.collection("slow").unwrap();
    // as if an index build were running on `slow`
    let busy = slow.optimizer_lock.lock();
    let deleter = {
        let db = db.clone();
        std::thread::spawn(move || db.delete_collection("slow").unwrap())
    };
    std::thread::sleep(std::time::Duration::from_millis(50));
    // the delete waits for `slow`'s optimizer; requests to other collections do not wait for it
    let other = db.collection("other").unwrap();
    other.upsert(vec![p(1, &[1.0, 2.0], json!({}))]).unwrap();
    assert_eq!(db.collection("other").unwrap().points_count(), 1);
    assert!(db.collection_names().contains(&"other".to_string()));
    drop(busy);
    assert!(deleter.join().unwrap());
    assert!(db.collection("slow").is_err());
    // a write through the handle taken before the delete is refused
    assert!(slow.upsert(vec![p(2, &[1.0, 0.0], json!({}))]).is_err());
}

#[test]
fn optimizations_report_the_queue_then_the_completed_work() {
    let db = manual_db();
    let mut cfg = CollectionConfig::with_dim(Distance::Euclid, 8);
    // 1 KB of vectors: 32 points of 8 floats
    set_optimizers(&mut cfg, json!({"indexing_threshold": 1}));
    db.create_collection("o", cfg).unwrap();
    let c = db.collection("o").unwrap();
    c.upsert(
        (0..40u64)
            .map(|i| p(i, &[i as f32; 8], json!({})))
            .collect(),
    )
    .unwrap();
    let r = c.optimizations(16);
    assert!(r.running.is_empty() && r.completed.is_empty(), "{r:?}");
    assert_eq!(r.queued.len(), 1, "{r:?}");
    assert_eq!(r.queued[0].optimizer, "indexing");
    assert_eq!(
        r.queued[0].segments,
        vec![crate::OptimizationSegment {
            uuid: crate::segment_uuid(0),
            points_count: 40
        }]
    );
    assert!(r.idle_segments.is_empty(), "{r:?}");
    // sealed, not yet indexed: its indexing is queued; the new appendable segment is idle
    assert!(c.optimize_step());
    let r = c.optimizations(16);
    assert_eq!(r.queued.len(), 1, "{r:?}");
    assert_eq!(r.queued[0].optimizer, "indexing");
    let sealed = r.queued[0].segments[0].clone();
    assert_ne!(sealed.uuid, crate::segment_uuid(0));
    assert_eq!(sealed.points_count, 40);
    assert_eq!(r.idle_segments.len(), 1);
    c.optimize();
    let r = c.optimizations(16);
    assert!(r.queued.is_empty() && r.running.is_empty(), "{r:?}");
    assert_eq!(r.completed.len(), 1, "{r:?}");
    let done = &r.completed[0];
    assert_eq!((done.optimizer, done.done), ("indexing", true));
    assert_eq!(done.uuid, sealed.uuid, "indexed in place");
    assert_eq!(done.segments, vec![sealed.clone()]);
    assert!(done.finished_at.is_some() && done.started_at.ends_with('Z'));
    assert_eq!(r.idle_segments.len(), 2);
    assert_eq!(c.optimizations(0).completed.len(), 0, "the limit");
}
