//! Sparse vectors end to end in the engine: every search against a brute-force model through
//! upserts, vector updates and deletes, point deletes, sealing and merging; persistence through
//! seal + reopen (segment files, the sealed index file, the log replayed) and snapshots.

use std::collections::BTreeMap;
use std::path::Path;

use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng};
use serde_json::json;

use rvdb_index::{apply_idf, SparseIndexParams, SparseModifier, SparseVector};

use super::{manual_db, set_optimizers};
use crate::types::{NamedVectors, Vector};
use crate::{
    Collection, CollectionConfig, Database, DatabaseOptions, Distance, Filter, PayloadSelector,
    PointId, PointStruct, PointUpdate, RecommendStrategy, ScoreQuery, SearchRequest,
    SparseVectorParams, VectorSelector, VectorsConfig,
};

/// A dense space "d" (2 dims) and sparse spaces "s" (plain) and "si" (idf), sealing every 64
/// points; "s" scores filtered candidates directly below 1,000,000 (always), "si" never.
pub(super) fn config() -> CollectionConfig {
    let mut cfg = CollectionConfig::with_dim(Distance::Dot, 2);
    let crate::types::VectorsConfig::Single(p) = cfg.vectors.clone() else {
        unreachable!()
    };
    cfg.vectors = VectorsConfig::Named(BTreeMap::from([("d".to_string(), p)]));
    cfg.sparse_vectors = BTreeMap::from([
        (
            "s".to_string(),
            SparseVectorParams {
                index: SparseIndexParams {
                    full_scan_threshold: Some(1_000_000),
                    on_disk: None,
                },
                ..Default::default()
            },
        ),
        (
            "si".to_string(),
            SparseVectorParams {
                index: SparseIndexParams {
                    full_scan_threshold: Some(0),
                    on_disk: Some(true),
                },
                datatype: Some("float32".into()),
                modifier: Some(SparseModifier::Idf),
            },
        ),
    ]);
    // 1 KB of dense vectors (8 bytes each): a segment every 128 points
    set_optimizers(
        &mut cfg,
        json!({"indexing_threshold": 1, "default_segment_number": 8}),
    );
    cfg
}

pub(super) fn sparse(rng: &mut StdRng) -> SparseVector {
    let n = rng.random_range(0..6);
    let mut idx: Vec<u32> = (0..n).map(|_| rng.random_range(0..30)).collect();
    idx.sort_unstable();
    idx.dedup();
    let vals = idx
        .iter()
        .map(|_| rng.random_range(-100..100) as f32 / 10.0)
        .collect();
    SparseVector::new(idx, vals).unwrap()
}

/// What the collection should hold: per point, its sparse vectors and its `g` payload.
#[derive(Default, Clone, PartialEq, Debug)]
pub(super) struct Model(BTreeMap<u64, (BTreeMap<String, SparseVector>, u64)>);

impl Model {
    fn search(&self, using: &str, q: &SparseVector, g: Option<u64>, k: usize) -> Vec<(u64, f32)> {
        let holding: Vec<(&u64, &SparseVector)> = self
            .0
            .iter()
            .filter_map(|(id, (vs, _))| vs.get(using).map(|v| (id, v)))
            .collect();
        let q = if using == "si" {
            let df = |t: u32| {
                holding
                    .iter()
                    .filter(|(_, v)| v.indices().contains(&t))
                    .count()
            };
            apply_idf(q, holding.len(), df)
        } else {
            q.clone()
        };
        let mut hits: Vec<(u64, f32)> = holding
            .iter()
            .filter(|(id, _)| g.is_none_or(|g| self.0[id].1 == g))
            .filter_map(|(id, v)| v.dot(&q).map(|s| (**id, s)))
            .collect();
        hits.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        hits.truncate(k);
        hits
    }
}

pub(super) fn point(id: u64, rng: &mut StdRng, model: &mut Model) -> PointStruct {
    let mut vectors = NamedVectors::new();
    let mut held = BTreeMap::new();
    vectors.insert("d".into(), Vector::Dense(vec![id as f32, 1.0]));
    for name in ["s", "si"] {
        if rng.random_bool(0.8) {
            let v = sparse(rng);
            held.insert(name.to_string(), v.clone());
            vectors.insert(name.into(), Vector::Sparse(v));
        }
    }
    let g = id % 3;
    model.0.insert(id, (held, g));
    PointStruct {
        id: PointId::Num(id),
        vectors,
        payload: json!({"g": g}).as_object().unwrap().clone(),
    }
}

fn check(c: &Collection, model: &Model, rng: &mut StdRng) {
    for _ in 0..40 {
        let q = sparse(rng);
        let using = if rng.random_bool(0.5) { "s" } else { "si" };
        let g = rng.random_bool(0.4).then(|| rng.random_range(0..3u64));
        let mut req = SearchRequest::new(vec![], 7);
        req.using = using.into();
        req.query = ScoreQuery::NearestSparse(q.clone());
        req.filter = g.map(|g| Filter::from_seed(&json!({ "g": g })).unwrap());
        let got: Vec<(u64, f32)> = c
            .search(&req)
            .unwrap()
            .into_iter()
            .map(|h| match h.id {
                PointId::Num(n) => (n, h.score),
                PointId::Uuid(_) => unreachable!(),
            })
            .collect();
        let full = model.search(using, &q, g, 8);
        let want = &full[..full.len().min(7)];
        assert_eq!(got.len(), want.len(), "{using} {q:?} g={g:?}");
        for (a, b) in got.iter().zip(want) {
            assert!(
                (a.1 - b.1).abs() <= 1e-4 * b.1.abs().max(1.0),
                "{using} {q:?} g={g:?}: {got:?} vs {want:?}"
            );
        }
        // ids agree except where scores tie
        let ids = |v: &[(u64, f32)]| v.iter().map(|x| x.0).collect::<Vec<_>>();
        if full.windows(2).all(|w| (w[0].1 - w[1].1).abs() > 1e-3) {
            assert_eq!(ids(&got), ids(want), "{using} {q:?} g={g:?}");
        }
    }
    // every stored vector reads back, sorted by index
    for (id, (vs, _)) in &model.0 {
        let r = c.get(PointId::Num(*id)).unwrap();
        let got: BTreeMap<String, SparseVector> = r
            .vectors
            .unwrap()
            .into_iter()
            .filter_map(|(n, v)| v.as_sparse().map(|v| (n, v.clone())))
            .collect();
        assert_eq!(&got, vs, "point {id}");
    }
    assert_eq!(c.points_count(), model.0.len());
}

/// A random workload over `c`, checked against the model as it goes.
pub(super) fn workload(c: &Collection, seed: u64) -> Model {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut model = Model::default();
    for round in 0..6u64 {
        let pts = (0..100)
            .map(|_| point(rng.random_range(0..400), &mut rng, &mut model))
            .collect();
        c.upsert(pts).unwrap();
        // vector updates and deletes, including points in sealed segments
        let mut updates = Vec::new();
        for _ in 0..20 {
            let id = rng.random_range(0..400u64);
            if model.0.contains_key(&id) && !updates.iter().any(|(i, _)| *i == PointId::Num(id)) {
                let v = sparse(&mut rng);
                model
                    .0
                    .get_mut(&id)
                    .unwrap()
                    .0
                    .insert("si".into(), v.clone());
                updates.push((
                    PointId::Num(id),
                    NamedVectors::from([("si".to_string(), Vector::Sparse(v))]),
                ));
            }
        }
        c.update(PointUpdate::UpdateVectors(updates)).unwrap();
        let ids: Vec<PointId> = (0..10)
            .map(|_| rng.random_range(0..400u64))
            .filter(|id| model.0.contains_key(id))
            .map(PointId::Num)
            .collect();
        for id in &ids {
            let PointId::Num(n) = id else { unreachable!() };
            model.0.get_mut(n).unwrap().0.remove("s");
        }
        c.update(PointUpdate::DeleteVectors {
            selector: crate::PointSelector::Ids(ids),
            names: vec!["s".into()],
        })
        .unwrap();
        let gone: Vec<PointId> = (0..15)
            .map(|_| rng.random_range(0..400u64))
            .inspect(|id| {
                model.0.remove(id);
            })
            .map(PointId::Num)
            .collect();
        c.delete(gone).unwrap();
        check(c, &model, &mut rng);
        if round % 2 == 0 {
            c.optimize();
            check(c, &model, &mut rng);
        }
    }
    model
}

#[test]
fn sparse_search_matches_brute_force_through_writes_seals_and_merges() {
    let db = manual_db();
    db.create_collection("c", config()).unwrap();
    let c = db.collection("c").unwrap();
    c.create_index("g", crate::PayloadSchemaType::Integer)
        .unwrap();
    workload(&c, 7);
    assert!(
        c.info().segments_count > 1,
        "the workload sealed some segments"
    );
}

#[test]
fn vacuum_carries_sparse_vectors_and_their_index() {
    let db = manual_db();
    let mut cfg = config();
    set_optimizers(
        &mut cfg,
        json!({"deleted_threshold": 0.1, "vacuum_min_vector_number": 5}),
    );
    db.create_collection("c", cfg).unwrap();
    let c = db.collection("c").unwrap();
    let mut rng = StdRng::seed_from_u64(21);
    let mut model = Model::default();
    c.upsert((0..300).map(|id| point(id, &mut rng, &mut model)).collect())
        .unwrap();
    c.optimize();
    let gone: Vec<u64> = (0..300).filter(|i| i % 4 == 0).collect();
    for id in &gone {
        model.0.remove(id);
    }
    c.delete(gone.into_iter().map(PointId::Num).collect())
        .unwrap();
    assert!(c.points.read().sealed.iter().any(|s| s.deleted_count() > 0));
    c.optimize();
    {
        let segs = c.points.read();
        assert!(!segs.sealed.is_empty());
        assert!(
            segs.sealed.iter().all(|s| s.deleted_count() == 0),
            "vacuumed"
        );
    }
    check(&c, &model, &mut rng);
}

#[test]
fn sparse_queries_refuse_what_they_cannot_do() {
    let db = manual_db();
    db.create_collection("c", config()).unwrap();
    let c = db.collection("c").unwrap();
    let mut req = SearchRequest::new(vec![1.0, 2.0], 3);
    req.using = "s".into();
    let e = c.search(&req).unwrap_err().to_string();
    assert!(e.contains("`s` is a sparse vector"), "{e}");
    req.using = "d".into();
    req.query = ScoreQuery::NearestSparse(SparseVector::new(vec![1], vec![1.0]).unwrap());
    let e = c.search(&req).unwrap_err().to_string();
    assert!(e.contains("not a sparse vector"), "{e}");
    // a dense vector for a sparse name and the other way around
    let e = c
        .upsert(vec![PointStruct {
            id: PointId::Num(1),
            vectors: NamedVectors::from([("s".to_string(), Vector::Dense(vec![1.0]))]),
            payload: Default::default(),
        }])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("points[0].vector.s") && e.contains("sparse"),
        "{e}"
    );
    let e = c
        .upsert(vec![PointStruct {
            id: PointId::Num(1),
            vectors: NamedVectors::from([(
                "d".to_string(),
                Vector::Sparse(SparseVector::new(vec![1], vec![1.0]).unwrap()),
            )]),
            payload: Default::default(),
        }])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("points[0].vector.d") && e.contains("dense"),
        "{e}"
    );
}

#[test]
fn sparse_recommend_follows_local_mode_strategies() {
    let db = manual_db();
    db.create_collection("c", config()).unwrap();
    let c = db.collection("c").unwrap();
    let sv = |i: &[u32], v: &[f32]| SparseVector::new(i.to_vec(), v.to_vec()).unwrap();
    let pts = [
        (1, sv(&[1, 2], &[1.0, 1.0])),
        (2, sv(&[2, 3], &[2.0, 1.0])),
        (3, sv(&[5], &[1.0])),
    ];
    c.upsert(
        pts.iter()
            .map(|(id, v)| PointStruct {
                id: PointId::Num(*id),
                vectors: NamedVectors::from([("s".to_string(), Vector::Sparse(v.clone()))]),
                payload: Default::default(),
            })
            .collect(),
    )
    .unwrap();
    let run = |strategy| {
        let mut req = SearchRequest::new(vec![], 10);
        req.using = "s".into();
        req.with_payload = PayloadSelector::None;
        req.with_vector = VectorSelector::None;
        req.query = ScoreQuery::RecommendSparse {
            positive: vec![sv(&[1], &[1.0]), sv(&[3], &[3.0])],
            negative: vec![sv(&[2], &[1.0])],
            strategy,
        };
        c.search(&req)
            .unwrap()
            .into_iter()
            .map(|h| (h.id, h.score))
            .collect::<Vec<_>>()
    };
    // average: mean(+) = {1: .5, 3: 1.5}; 2·mean(+) − mean(−) = {1: 1, 2: -1, 3: 3}
    assert_eq!(
        run(RecommendStrategy::AverageVector),
        vec![(PointId::Num(2), 1.0), (PointId::Num(1), 0.0)]
    );
    // sum: Σ sim(+) − Σ sim(−), no overlap counting 0, so point 3 scores 0 too
    assert_eq!(
        run(RecommendStrategy::SumScores),
        vec![
            (PointId::Num(2), 1.0),
            (PointId::Num(1), 0.0),
            (PointId::Num(3), 0.0)
        ]
    );
    // best: the closest positive against the closest negative, through the sigmoid
    let best = run(RecommendStrategy::BestScore);
    assert_eq!(best[0], (PointId::Num(2), 0.5 * (3.0 / 4.0 + 1.0)));
}

#[test]
fn sparse_discover_and_context_score_as_local_mode() {
    let db = manual_db();
    db.create_collection("c", config()).unwrap();
    let c = db.collection("c").unwrap();
    let sv = |i: &[u32], v: &[f32]| SparseVector::new(i.to_vec(), v.to_vec()).unwrap();
    let pts = [
        (1, sv(&[1, 2], &[1.0, 1.0])),
        (2, sv(&[2, 3], &[2.0, 1.0])),
        (3, sv(&[], &[])),
    ];
    c.upsert(
        pts.iter()
            .map(|(id, v)| PointStruct {
                id: PointId::Num(*id),
                vectors: NamedVectors::from([("s".to_string(), Vector::Sparse(v.clone()))]),
                payload: Default::default(),
            })
            .collect(),
    )
    .unwrap();
    let run = |query| {
        let mut req = SearchRequest::new(vec![], 10);
        req.using = "s".into();
        req.query = query;
        c.search(&req)
            .unwrap()
            .into_iter()
            .map(|h| (h.id, h.score))
            .collect::<Vec<_>>()
    };
    let pair = (sv(&[2], &[1.0]), sv(&[1], &[1.0]));
    // discover: +1 / 0 / −1 per pair, plus the sigmoid of the target similarity (0 without
    // overlap: 0.5)
    let got = run(ScoreQuery::DiscoverSparse {
        target: sv(&[3], &[1.0]),
        pairs: vec![pair.clone()],
    });
    let s = |x: f32| 0.5 * (x / (1.0 + x.abs()) + 1.0);
    assert_eq!(
        got,
        vec![
            (PointId::Num(2), 1.0 + s(1.0)),
            (PointId::Num(1), s(0.0)),
            (PointId::Num(3), s(0.0)),
        ]
    );
    // context: 0 inside the zone the pair prefers, just under 0 on its border
    let got = run(ScoreQuery::ContextSparse(vec![pair]));
    let e = -f32::EPSILON / (1.0 + f32::EPSILON);
    assert_eq!(
        got,
        vec![
            (PointId::Num(2), 0.0),
            (PointId::Num(1), e),
            (PointId::Num(3), e),
        ]
    );
}

pub(super) fn dump(c: &Collection) -> Vec<(PointId, NamedVectors)> {
    let (rows, _) = c.list(0, usize::MAX);
    rows.into_iter()
        .map(|r| (r.id, r.vectors.unwrap()))
        .collect()
}

fn search_all(c: &Collection) -> Vec<Vec<(PointId, f32)>> {
    let mut rng = StdRng::seed_from_u64(99);
    (0..20)
        .map(|i| {
            let mut req = SearchRequest::new(vec![], 10);
            req.using = if i % 2 == 0 { "s" } else { "si" }.into();
            req.query = ScoreQuery::NearestSparse(sparse(&mut rng));
            c.search(&req)
                .unwrap()
                .into_iter()
                .map(|h| (h.id, h.score))
                .collect()
        })
        .collect()
}

fn sparse_files(coll: &Path) -> usize {
    let mut n = 0;
    for seg in std::fs::read_dir(coll.join("segments")).unwrap() {
        let seg = seg.unwrap().path();
        if seg.is_dir() {
            n += std::fs::read_dir(&seg)
                .unwrap()
                .filter(|e| {
                    let name = e.as_ref().unwrap().file_name();
                    name.to_string_lossy().starts_with("sparse-")
                })
                .count();
        }
    }
    n
}

#[test]
fn sparse_vectors_survive_seal_reopen_log_replay_and_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    let opts = DatabaseOptions {
        background_optimizer: false,
        ..DatabaseOptions::persistent(dir.path())
    };
    let (before, searches, model) = {
        let db = Database::open(opts.clone()).unwrap();
        db.create_collection("c", config()).unwrap();
        let c = db.collection("c").unwrap();
        // sealed segments (written to files), tombstones, and writes only in the log
        let model = workload(&c, 11);
        c.flush().unwrap();
        let mut rng = StdRng::seed_from_u64(5);
        let mut m = model.clone();
        let late: Vec<PointStruct> = (500..520).map(|id| point(id, &mut rng, &mut m)).collect();
        c.upsert(late).unwrap();
        c.delete(vec![PointId::Num(*model.0.keys().next().unwrap())])
            .unwrap();
        m.0.remove(model.0.keys().next().unwrap());
        (dump(&c), search_all(&c), m)
    };
    let coll = dir.path().join("collections").join("c");
    assert!(
        sparse_files(&coll) > 0,
        "sealed segments keep their sparse index"
    );
    let db = Database::open(opts.clone()).unwrap();
    let c = db.collection("c").unwrap();
    assert_eq!(dump(&c), before);
    assert_eq!(search_all(&c), searches);
    check(&c, &model, &mut StdRng::seed_from_u64(1));
    assert_eq!(
        c.config().sparse_vectors["si"].modifier,
        Some(SparseModifier::Idf)
    );

    // a damaged sealed index is rebuilt from the vectors
    for seg in std::fs::read_dir(coll.join("segments")).unwrap() {
        let f = seg.unwrap().path().join("sparse-0.bin");
        if f.exists() {
            let mut b = std::fs::read(&f).unwrap();
            let n = b.len();
            b[n / 2] ^= 0x5a;
            std::fs::write(&f, b).unwrap();
        }
    }
    drop(c);
    drop(db);
    let db = Database::open(opts).unwrap();
    let c = db.collection("c").unwrap();
    assert_eq!(dump(&c), before);
    assert_eq!(search_all(&c), searches);

    // a snapshot restores them, into a persistent and an in-memory database
    let d = db.create_snapshot("c").unwrap();
    let file = db.snapshot_path("c", &d.name).unwrap();
    let other = tempfile::tempdir().unwrap();
    let db2 = Database::open(DatabaseOptions {
        background_optimizer: false,
        ..DatabaseOptions::persistent(other.path())
    })
    .unwrap();
    db2.recover_snapshot("c", &file, None).unwrap();
    let c2 = db2.collection("c").unwrap();
    assert_eq!(dump(&c2), before);
    assert_eq!(search_all(&c2), searches);
    let mem = manual_db();
    mem.recover_snapshot("c", &file, None).unwrap();
    let c3 = mem.collection("c").unwrap();
    assert_eq!(dump(&c3), before);
    assert_eq!(search_all(&c3), searches);
    // and an in-memory collection's snapshot (a checkpoint) carries them too
    let msnap = mem.create_snapshot("c").unwrap();
    let mfile = mem.snapshot_path("c", &msnap.name).unwrap();
    let mem2 = manual_db();
    mem2.recover_snapshot("c", &mfile, None).unwrap();
    assert_eq!(dump(&mem2.collection("c").unwrap()), before);
}

#[test]
fn writes_only_in_the_log_are_replayed_with_their_sparse_vectors() {
    let dir = tempfile::tempdir().unwrap();
    let opts = DatabaseOptions {
        background_optimizer: false,
        ..DatabaseOptions::persistent(dir.path())
    };
    let before = {
        let db = Database::open(opts.clone()).unwrap();
        db.create_collection("c", config()).unwrap();
        let c = db.collection("c").unwrap();
        let mut rng = StdRng::seed_from_u64(3);
        let mut m = Model::default();
        c.upsert((0..30).map(|id| point(id, &mut rng, &mut m)).collect())
            .unwrap();
        c.update(PointUpdate::DeleteVectors {
            selector: crate::PointSelector::Ids(vec![PointId::Num(4)]),
            names: vec!["s".into(), "si".into()],
        })
        .unwrap();
        (dump(&c), search_all(&c))
    };
    let db = Database::open(opts).unwrap();
    let c = db.collection("c").unwrap();
    assert_eq!((dump(&c), search_all(&c)), before);
}
