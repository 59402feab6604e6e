//! Multivectors end to end in the engine: every max_sim search against a brute-force model
//! through upserts, vector updates and deletes, point deletes, sealing, merging and vacuum;
//! persistence through seal + reopen (segment files, the log replayed) and snapshots.

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng};
use serde_json::json;

use super::{manual_db, set_optimizers};
use crate::types::{MultiQuery, MultiVectorComparator, NamedVectors, Vector};
use crate::{
    Collection, CollectionConfig, Database, DatabaseOptions, Distance, Filter, PointId,
    PointStruct, PointUpdate, RecommendStrategy, ScoreQuery, SearchRequest, VectorParams,
    VectorsConfig,
};

type Multi = Vec<Vec<f32>>;

/// A dense space "d" (2 dims) and multivector spaces "m" (Cosine, 3 dims) and "e" (Euclid,
/// 2 dims), sealing every 128 points.
fn config() -> CollectionConfig {
    let mut cfg = CollectionConfig::with_dim(Distance::Dot, 2);
    let multi = |distance, dim| VectorParams {
        multivector: Some(MultiVectorComparator::MaxSim),
        ..VectorParams::new(distance, Some(dim))
    };
    cfg.vectors = VectorsConfig::Named(BTreeMap::from([
        ("d".to_string(), VectorParams::new(Distance::Dot, Some(2))),
        ("m".to_string(), multi(Distance::Cosine, 3)),
        ("e".to_string(), multi(Distance::Euclid, 2)),
    ]));
    // 1 KB of dense vectors (8 bytes each): a segment every 128 points
    set_optimizers(
        &mut cfg,
        json!({"indexing_threshold": 1, "default_segment_number": 8}),
    );
    cfg
}

fn dim(using: &str) -> usize {
    if using == "m" {
        3
    } else {
        2
    }
}

fn multi(rng: &mut StdRng, dim: usize) -> Multi {
    let rows = rng.random_range(1..5);
    (0..rows)
        .map(|_| {
            (0..dim)
                .map(|_| rng.random_range(-100..100) as f32 / 10.0 + 0.05)
                .collect()
        })
        .collect()
}

/// The model's similarity: Σ over query rows of the best row similarity (f64, unprepared
/// vectors, Cosine normalising each row), turned into the user-facing score.
fn max_sim(using: &str, q: &Multi, x: &Multi) -> f64 {
    let norm = |v: &[f32]| -> Vec<f64> {
        let v: Vec<f64> = v.iter().map(|&a| f64::from(a)).collect();
        if using == "m" {
            let n = v.iter().map(|a| a * a).sum::<f64>().sqrt();
            v.iter().map(|a| a / n).collect()
        } else {
            v
        }
    };
    let sim = |a: &[f32], b: &[f32]| -> f64 {
        let (a, b) = (norm(a), norm(b));
        if using == "m" {
            a.iter().zip(&b).map(|(x, y)| x * y).sum()
        } else {
            -a.iter()
                .zip(&b)
                .map(|(x, y)| (x - y) * (x - y))
                .sum::<f64>()
        }
    };
    q.iter()
        .map(|qr| {
            x.iter()
                .map(|xr| sim(qr, xr))
                .fold(f64::NEG_INFINITY, f64::max)
        })
        .sum()
}

/// What the collection should hold: per point, its multivectors and its `g` payload.
#[derive(Default, Clone, PartialEq, Debug)]
struct Model(BTreeMap<u64, (BTreeMap<String, Multi>, u64)>);

impl Model {
    /// (id, score) best first: Cosine by similarity, Euclid by smallest distance.
    fn search(&self, using: &str, q: &Multi, g: Option<u64>, k: usize) -> Vec<(u64, f64)> {
        let mut hits: Vec<(u64, f64)> = self
            .0
            .iter()
            .filter(|(_, (_, pg))| g.is_none_or(|g| *pg == g))
            .filter_map(|(id, (vs, _))| vs.get(using).map(|v| (*id, max_sim(using, q, v))))
            .collect();
        hits.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        hits.truncate(k);
        if using == "e" {
            hits.iter_mut().for_each(|h| h.1 = (-h.1).max(0.0).sqrt());
        }
        hits
    }
}

fn point(id: u64, rng: &mut StdRng, model: &mut Model) -> PointStruct {
    let mut vectors = NamedVectors::new();
    let mut held = BTreeMap::new();
    vectors.insert("d".into(), Vector::Dense(vec![id as f32, 1.0]));
    for name in ["m", "e"] {
        if rng.random_bool(0.8) {
            let v = multi(rng, dim(name));
            held.insert(name.to_string(), v.clone());
            vectors.insert(name.into(), Vector::Multi(v));
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

fn num(id: PointId) -> u64 {
    match id {
        PointId::Num(n) => n,
        PointId::Uuid(_) => unreachable!(),
    }
}

fn check(c: &Collection, model: &Model, rng: &mut StdRng) {
    for _ in 0..30 {
        let using = if rng.random_bool(0.5) { "m" } else { "e" };
        let q = multi(rng, dim(using));
        let g = rng.random_bool(0.4).then(|| rng.random_range(0..3u64));
        let mut req = SearchRequest::new(vec![], 7);
        req.using = using.into();
        req.query = ScoreQuery::Multi(MultiQuery::Nearest(q.clone()));
        req.filter = g.map(|g| Filter::from_seed(&json!({ "g": g })).unwrap());
        let got: Vec<(u64, f32)> = c
            .search(&req)
            .unwrap()
            .into_iter()
            .map(|h| (num(h.id), h.score))
            .collect();
        let full = model.search(using, &q, g, 8);
        let want = &full[..full.len().min(7)];
        assert_eq!(got.len(), want.len(), "{using} {q:?} g={g:?}");
        for (a, b) in got.iter().zip(want) {
            assert!(
                (f64::from(a.1) - b.1).abs() <= 1e-3 * b.1.abs().max(1.0),
                "{using} {q:?} g={g:?}: {got:?} vs {want:?}"
            );
        }
        let ids = |v: &[(u64, f64)]| v.iter().map(|x| x.0).collect::<Vec<_>>();
        if full.windows(2).all(|w| (w[0].1 - w[1].1).abs() > 1e-2) {
            let got_ids: Vec<u64> = got.iter().map(|x| x.0).collect();
            assert_eq!(got_ids, ids(want), "{using} {q:?} g={g:?}");
        }
    }
    // every stored multivector reads back (Cosine rows normalised)
    for (id, (vs, _)) in &model.0 {
        let r = c.get(PointId::Num(*id)).unwrap();
        let got: BTreeMap<String, Multi> = r
            .vectors
            .unwrap()
            .into_iter()
            .filter_map(|(n, v)| v.as_multi().map(|v| (n, v.to_vec())))
            .collect();
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            vs.keys().collect::<Vec<_>>(),
            "point {id}"
        );
        assert_eq!(got.get("e"), vs.get("e"), "point {id}");
        if let (Some(g), Some(w)) = (got.get("m"), vs.get("m")) {
            assert_eq!(g.len(), w.len());
            for (gr, wr) in g.iter().zip(w) {
                let n = wr.iter().map(|x| x * x).sum::<f32>().sqrt();
                for (a, b) in gr.iter().zip(wr) {
                    assert!((a - b / n).abs() < 1e-5, "point {id}: {g:?} vs {w:?}");
                }
            }
        }
    }
    assert_eq!(c.points_count(), model.0.len());
    let has = |name: &str| {
        c.count(Some(
            &Filter::from_qdrant(&json!({"must": [{"has_vector": name}]})).unwrap(),
        ))
    };
    for name in ["m", "e"] {
        let want = model
            .0
            .values()
            .filter(|(v, _)| v.contains_key(name))
            .count();
        assert_eq!(has(name), want, "has_vector {name}");
    }
}

/// A random workload over `c`, checked against the model as it goes.
fn workload(c: &Collection, seed: u64) -> Model {
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
                let v = multi(&mut rng, 2);
                model
                    .0
                    .get_mut(&id)
                    .unwrap()
                    .0
                    .insert("e".into(), v.clone());
                updates.push((
                    PointId::Num(id),
                    NamedVectors::from([("e".to_string(), Vector::Multi(v))]),
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
            model.0.get_mut(&num(*id)).unwrap().0.remove("m");
        }
        c.update(PointUpdate::DeleteVectors {
            selector: crate::PointSelector::Ids(ids),
            names: vec!["m".into()],
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
fn multivector_search_matches_brute_force_through_writes_seals_and_merges() {
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
fn vacuum_carries_multivectors() {
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
fn multivector_writes_and_queries_refuse_malformed_input_naming_the_field() {
    let db = manual_db();
    db.create_collection("c", config()).unwrap();
    let c = db.collection("c").unwrap();
    let up = |v: Vector, name: &str| {
        c.upsert(vec![PointStruct {
            id: PointId::Num(1),
            vectors: NamedVectors::from([(name.to_string(), v)]),
            payload: Default::default(),
        }])
        .unwrap_err()
        .to_string()
    };
    let e = up(Vector::Multi(vec![vec![1.0, 2.0], vec![1.0]]), "e");
    assert!(
        e.contains("points[0].vector.e[1]: Vector dimension error: expected dim: 2, got 1"),
        "{e}"
    );
    assert!(up(Vector::Multi(vec![]), "e")
        .contains("points[0].vector.e: a multivector must not be empty"));
    assert!(up(Vector::Dense(vec![1.0, 2.0]), "e").contains("is a multivector"));
    assert!(up(Vector::Multi(vec![vec![1.0, 2.0]]), "d").contains("is a dense vector"));
    assert!(up(Vector::Multi(vec![vec![f32::NAN, 2.0]]), "e").contains("e[0][0]"));
    assert_eq!(c.points_count(), 0, "nothing half-applied");

    let search = |using: &str, query: ScoreQuery| {
        let mut req = SearchRequest::new(vec![], 3);
        req.using = using.into();
        req.query = query;
        c.search(&req)
    };
    let e = search("e", ScoreQuery::Nearest(vec![1.0, 2.0]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("`e` is a multivector"), "{e}");
    let e = search(
        "d",
        ScoreQuery::Multi(MultiQuery::Nearest(vec![vec![1.0, 2.0]])),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("not a multivector"), "{e}");
    let e = search("e", ScoreQuery::Multi(MultiQuery::Nearest(vec![vec![1.0]])))
        .unwrap_err()
        .to_string();
    assert!(e.contains("vector[0]: Vector dimension error"), "{e}");
}

#[test]
fn multivector_recommend_discover_and_context_score_as_local_mode() {
    let db = manual_db();
    db.create_collection("c", config()).unwrap();
    let c = db.collection("c").unwrap();
    let mut rng = StdRng::seed_from_u64(5);
    let mut model = Model::default();
    c.upsert((0..60).map(|id| point(id, &mut rng, &mut model)).collect())
        .unwrap();
    c.optimize();
    let ex: Vec<Multi> = (0..4).map(|_| multi(&mut rng, 3)).collect();
    let sim = |q: &Multi, x: &Multi| max_sim("m", q, x) as f32;
    let sig = |x: f32| x / (1.0 + x.abs());
    let scaled = |x: f32| 0.5 * (sig(x) + 1.0);
    let expect = |score: &dyn Fn(&Multi) -> f32| -> Vec<(u64, f32)> {
        let mut v: Vec<(u64, f32)> = model
            .0
            .iter()
            .filter_map(|(id, (vs, _))| vs.get("m").map(|x| (*id, score(x))))
            .collect();
        v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        v.truncate(5);
        v
    };
    let run = |q: MultiQuery| -> Vec<(u64, f32)> {
        let mut req = SearchRequest::new(vec![], 5);
        req.using = "m".into();
        req.query = ScoreQuery::Multi(q);
        c.search(&req)
            .unwrap()
            .into_iter()
            .map(|h| (num(h.id), h.score))
            .collect()
    };
    type Score<'a> = Box<dyn Fn(&Multi) -> f32 + 'a>;
    let cases: Vec<(MultiQuery, Score)> = vec![
        (
            MultiQuery::Recommend {
                positive: vec![ex[0].clone(), ex[1].clone()],
                negative: vec![ex[2].clone()],
                strategy: RecommendStrategy::SumScores,
            },
            Box::new(|x| sim(&ex[0], x) + sim(&ex[1], x) - sim(&ex[2], x)),
        ),
        (
            MultiQuery::Recommend {
                positive: vec![ex[0].clone()],
                negative: vec![ex[2].clone(), ex[3].clone()],
                strategy: RecommendStrategy::BestScore,
            },
            Box::new(|x| {
                let p = sim(&ex[0], x);
                let n = sim(&ex[2], x).max(sim(&ex[3], x));
                if p > n {
                    scaled(p)
                } else {
                    -scaled(n)
                }
            }),
        ),
        (
            MultiQuery::Recommend {
                positive: vec![ex[0].clone(), ex[1].clone()],
                negative: vec![ex[2].clone()],
                strategy: RecommendStrategy::AverageVector,
            },
            Box::new(|x| {
                let mut q = ex[0].clone();
                q.extend(ex[1].clone());
                q.extend(
                    ex[2]
                        .iter()
                        .map(|r| r.iter().map(|v| -v).collect::<Vec<f32>>()),
                );
                sim(&q, x)
            }),
        ),
        (
            MultiQuery::Discover {
                target: ex[0].clone(),
                pairs: vec![(ex[1].clone(), ex[2].clone())],
            },
            Box::new(|x| {
                let (p, n) = (sim(&ex[1], x), sim(&ex[2], x));
                (i32::from(p > n) - i32::from(p < n)) as f32 + scaled(sim(&ex[0], x))
            }),
        ),
        (
            MultiQuery::Context(vec![(ex[1].clone(), ex[2].clone())]),
            Box::new(|x| sig((sim(&ex[1], x) - sim(&ex[2], x) - f32::EPSILON).min(0.0))),
        ),
    ];
    for (q, score) in cases {
        let got = run(q.clone());
        let want = expect(&*score);
        assert_eq!(got.len(), want.len(), "{q:?}");
        for (a, b) in got.iter().zip(&want) {
            assert!((a.1 - b.1).abs() < 1e-3, "{q:?}: {got:?} vs {want:?}");
        }
    }
}

fn dump(c: &Collection) -> Vec<(PointId, NamedVectors)> {
    let (rows, _) = c.list(0, usize::MAX);
    rows.into_iter()
        .map(|r| (r.id, r.vectors.unwrap()))
        .collect()
}

fn search_all(c: &Collection) -> Vec<Vec<(PointId, f32)>> {
    let mut rng = StdRng::seed_from_u64(99);
    (0..20)
        .map(|i| {
            let using = if i % 2 == 0 { "m" } else { "e" };
            let mut req = SearchRequest::new(vec![], 10);
            req.using = using.into();
            req.query = ScoreQuery::Multi(MultiQuery::Nearest(multi(&mut rng, dim(using))));
            c.search(&req)
                .unwrap()
                .into_iter()
                .map(|h| (h.id, h.score))
                .collect()
        })
        .collect()
}

#[test]
fn multivectors_survive_seal_reopen_log_replay_and_snapshots() {
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
        assert!(c.info().segments_count > 1);
        let mut rng = StdRng::seed_from_u64(5);
        let mut m = model.clone();
        let late: Vec<PointStruct> = (500..520).map(|id| point(id, &mut rng, &mut m)).collect();
        c.upsert(late).unwrap();
        let first = *model.0.keys().next().unwrap();
        c.delete(vec![PointId::Num(first)]).unwrap();
        m.0.remove(&first);
        (dump(&c), search_all(&c), m)
    };
    let db = Database::open(opts.clone()).unwrap();
    let c = db.collection("c").unwrap();
    assert_eq!(dump(&c), before);
    assert_eq!(search_all(&c), searches);
    check(&c, &model, &mut StdRng::seed_from_u64(1));
    assert_eq!(
        c.config().vectors.get("m").unwrap().multivector,
        Some(MultiVectorComparator::MaxSim)
    );

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
fn writes_only_in_the_log_are_replayed_with_their_multivectors() {
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
            names: vec!["m".into(), "e".into()],
        })
        .unwrap();
        (dump(&c), search_all(&c))
    };
    let db = Database::open(opts).unwrap();
    let c = db.collection("c").unwrap();
    assert_eq!((dump(&c), search_all(&c)), before);
}

#[test]
fn a_collection_of_only_an_unnamed_multivector_seals_reopens_and_turns_green() {
    let dir = tempfile::tempdir().unwrap();
    let opts = DatabaseOptions {
        background_optimizer: false,
        ..DatabaseOptions::persistent(dir.path())
    };
    let mut cfg = CollectionConfig::with_dim(Distance::Dot, 2);
    if let VectorsConfig::Single(p) = &mut cfg.vectors {
        p.multivector = Some(MultiVectorComparator::MaxSim);
    }
    // 1 KB: a segment every 128 points (a multivector counts as one row)
    set_optimizers(&mut cfg, json!({"indexing_threshold": 1}));
    let mut rng = StdRng::seed_from_u64(8);
    let rows: Vec<Multi> = (0..300).map(|_| multi(&mut rng, 2)).collect();
    let q: Multi = vec![vec![1.0, 0.5], vec![-0.5, 1.0]];
    let search = |c: &Collection| -> Vec<(PointId, f32)> {
        let mut req = SearchRequest::new(vec![], 10);
        req.query = ScoreQuery::Multi(MultiQuery::Nearest(q.clone()));
        c.search(&req)
            .unwrap()
            .into_iter()
            .map(|h| (h.id, h.score))
            .collect()
    };
    let (before, hits) = {
        let db = Database::open(opts.clone()).unwrap();
        db.create_collection("c", cfg).unwrap();
        let c = db.collection("c").unwrap();
        c.upsert(
            rows.iter()
                .enumerate()
                .map(|(i, r)| PointStruct {
                    id: PointId::Num(i as u64),
                    vectors: NamedVectors::from([(String::new(), Vector::Multi(r.clone()))]),
                    payload: Default::default(),
                })
                .collect(),
        )
        .unwrap();
        c.optimize();
        let info = c.info();
        assert!(info.segments_count > 1, "sealed: {info:?}");
        assert_eq!(info.status, "green");
        assert_eq!(
            info.indexed_vectors_count, 0,
            "multivectors are never indexed"
        );
        c.flush().unwrap();
        (dump(&c), search(&c))
    };
    // the scores are the brute-force model's
    let mut want: Vec<(u64, f64)> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let dot = |a: &[f32], b: &[f32]| -> f64 {
                a.iter()
                    .zip(b)
                    .map(|(x, y)| f64::from(*x) * f64::from(*y))
                    .sum()
            };
            let s: f64 = q
                .iter()
                .map(|qr| {
                    r.iter()
                        .map(|x| dot(qr, x))
                        .fold(f64::NEG_INFINITY, f64::max)
                })
                .sum();
            (i as u64, s)
        })
        .collect();
    want.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    for (got, want) in hits.iter().zip(&want) {
        assert!(
            (f64::from(got.1) - want.1).abs() < 1e-3,
            "{hits:?} vs {want:?}"
        );
    }
    let db = Database::open(opts).unwrap();
    let c = db.collection("c").unwrap();
    assert_eq!(dump(&c), before);
    assert_eq!(search(&c), hits);
}
