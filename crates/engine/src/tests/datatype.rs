//! Vector datatypes: float16 and uint8 spaces store Qdrant's cast values (and read them back
//! as such), score them as brute force over those values does (exact scans, graphs, reopened
//! segment files, a deleted row), and hold them in 2 or 1 bytes per value on disk and in the
//! graphs, which are the one copy of an indexed space's rows (not for uint8 under Cosine).

use std::collections::HashSet;

use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng};
use serde_json::json;

use super::set_optimizers;
use crate::{
    Collection, CollectionConfig, Database, DatabaseOptions, Datatype, Distance, PointId,
    PointStruct, SearchRequest, VectorSelector,
};

const DIM: usize = 16;
const N: u64 = 900;

fn config(distance: Distance, dtype: Datatype) -> CollectionConfig {
    let mut cfg = CollectionConfig::with_dim(distance, DIM);
    if let crate::types::VectorsConfig::Single(p) = &mut cfg.vectors {
        p.extra.insert("datatype".into(), json!(dtype.as_str()));
    }
    // a sealed, indexed segment every 300 points
    set_optimizers(
        &mut cfg,
        json!({"indexing_threshold": (300 * DIM * dtype.width()).div_ceil(1024)}),
    );
    cfg
}

/// Values around the element type's range: negatives, fractions and, for uint8, above 255.
fn input(rng: &mut StdRng, dtype: Datatype) -> Vec<f32> {
    (0..DIM)
        .map(|_| match dtype {
            Datatype::Uint8 => rng.random_range(-20.0..280.0),
            _ => rng.random_range(-1.0..1.0),
        })
        .collect()
}

/// What Qdrant stores, written out here apart from the engine's code: unit length under
/// Cosine (not for uint8), then each value cast.
fn stored(distance: Distance, dtype: Datatype, v: &[f32]) -> Vec<f32> {
    let mut v = v.to_vec();
    if distance == Distance::Cosine && dtype != Datatype::Uint8 {
        let norm = v.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt();
        v.iter_mut()
            .for_each(|x| *x = (f64::from(*x) / norm) as f32);
    }
    v.into_iter()
        .map(|x| match dtype {
            Datatype::Float32 => x,
            Datatype::Float16 => half::f16::from_f32(x).to_f32(),
            Datatype::Uint8 => f32::from(x as u8),
        })
        .collect()
}

/// Qdrant's score of two stored-form vectors (the query cast as a stored vector is).
fn score(distance: Distance, dtype: Datatype, a: &[f32], b: &[f32]) -> f64 {
    let pairs = a.iter().zip(b).map(|(&x, &y)| (f64::from(x), f64::from(y)));
    let dot: f64 = pairs.clone().map(|(x, y)| x * y).sum();
    match distance {
        Distance::Cosine => {
            let n = |v: &[f32]| v.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt();
            // uint8 rows are not normalised: the full cosine; float16 rows are unit length
            // already (up to rounding), and Qdrant scores them by their dot product
            if dtype == Datatype::Uint8 {
                dot / (n(a) * n(b))
            } else {
                dot
            }
        }
        Distance::Dot => dot,
        Distance::Euclid => pairs.map(|(x, y)| (x - y).powi(2)).sum::<f64>().sqrt(),
        Distance::Manhattan => pairs.map(|(x, y)| (x - y).abs()).sum(),
    }
}

/// The exact answer: every stored row scored against the query, best first.
fn brute(
    distance: Distance,
    dtype: Datatype,
    rows: &[(u64, Vec<f32>)],
    q: &[f32],
    k: usize,
) -> Vec<(u64, f32)> {
    let q = stored(distance, dtype, q);
    let better = |a: f64, b: f64| match distance {
        Distance::Cosine | Distance::Dot => b.total_cmp(&a),
        Distance::Euclid | Distance::Manhattan => a.total_cmp(&b),
    };
    let mut all: Vec<(u64, f64)> = rows
        .iter()
        .map(|(id, s)| (*id, score(distance, dtype, &q, s)))
        .collect();
    all.sort_by(|a, b| better(a.1, b.1).then(a.0.cmp(&b.0)));
    all.truncate(k);
    all.into_iter().map(|(id, s)| (id, s as f32)).collect()
}

fn search(c: &Collection, q: &[f32], k: usize, exact: bool) -> Vec<(u64, f32)> {
    let mut req = SearchRequest::new(q.to_vec(), k);
    req.params.exact = exact;
    req.params.hnsw_ef = Some(128);
    c.search(&req)
        .unwrap()
        .into_iter()
        .map(|h| match h.id {
            PointId::Num(n) => (n, h.score),
            PointId::Uuid(_) => unreachable!(),
        })
        .collect()
}

fn close(a: f32, b: f32) -> bool {
    (a - b).abs() <= 1e-4 * a.abs().max(b.abs()).max(1.0)
}

/// Exact searches equal brute force (ids, and scores up to summation order); graph searches
/// find at least 90% of it, each hit with its exact score.
fn check_searches(
    c: &Collection,
    distance: Distance,
    dtype: Datatype,
    rows: &[(u64, Vec<f32>)],
    seed: u64,
) {
    let mut rng = StdRng::seed_from_u64(seed);
    let (mut found, mut wanted) = (0, 0);
    for _ in 0..20 {
        let q = input(&mut rng, dtype);
        let want = brute(distance, dtype, rows, &q, 10);
        let exact = search(c, &q, 10, true);
        assert_eq!(exact.len(), want.len());
        for (e, w) in exact.iter().zip(&want) {
            assert!(
                e.0 == w.0 || close(e.1, w.1),
                "{distance:?} {dtype:?}: {exact:?} vs {want:?}"
            );
            assert!(close(e.1, w.1), "{distance:?} {dtype:?}: {e:?} vs {w:?}");
        }
        let approx = search(c, &q, 10, false);
        let want_ids: HashSet<u64> = want.iter().map(|w| w.0).collect();
        let all = brute(distance, dtype, rows, &q, rows.len());
        for (id, score) in &approx {
            let exact_score = all.iter().find(|w| w.0 == *id).unwrap().1;
            assert!(close(*score, exact_score), "{id}: {score} vs {exact_score}");
        }
        found += approx.iter().filter(|h| want_ids.contains(&h.0)).count();
        wanted += want.len();
    }
    assert!(
        found * 10 >= wanted * 9,
        "{distance:?} {dtype:?}: recall {found}/{wanted}"
    );
}

#[test]
fn float16_and_uint8_spaces_store_cast_values_and_score_them_exactly() {
    for dtype in [Datatype::Float32, Datatype::Float16, Datatype::Uint8] {
        for distance in [
            Distance::Cosine,
            Distance::Euclid,
            Distance::Dot,
            Distance::Manhattan,
        ] {
            let dir = tempfile::tempdir().unwrap();
            let opts = DatabaseOptions {
                background_optimizer: false,
                ..DatabaseOptions::persistent(dir.path())
            };
            let mut rng = StdRng::seed_from_u64(7);
            let inputs: Vec<(u64, Vec<f32>)> =
                (0..N).map(|i| (i, input(&mut rng, dtype))).collect();
            let mut rows: Vec<(u64, Vec<f32>)> = inputs
                .iter()
                .map(|(i, v)| (*i, stored(distance, dtype, v)))
                .collect();
            {
                let db = Database::open(opts.clone()).unwrap();
                db.create_collection("c", config(distance, dtype)).unwrap();
                let c = db.collection("c").unwrap();
                for chunk in inputs.chunks(100) {
                    c.upsert(
                        chunk
                            .iter()
                            .map(|(i, v)| {
                                PointStruct::new(PointId::Num(*i), v.clone(), Default::default())
                            })
                            .collect(),
                    )
                    .unwrap();
                }
                // the appendable segment: scanned
                check_searches(&c, distance, dtype, &rows, 1);
                c.optimize();
                let info = c.info();
                assert!(info.indexed_vectors_count >= 600, "{info:?}");
                // one copy: indexed rows are read from the graph, which stores them in the
                // datatype (uint8 under Cosine: an f32 graph of the scaled rows, beside them)
                let one_copy = !(dtype == Datatype::Uint8 && distance == Distance::Cosine);
                for s in &c.points.read().sealed {
                    let col = s.data.column("").unwrap();
                    let graph_backed = matches!(col.values(), crate::segment::Values::Graph(_));
                    assert_eq!(graph_backed, one_copy, "{dtype:?} {distance:?}");
                    assert_eq!(col.values().dtype(), dtype);
                }
                // sealed segments with graphs, one point deleted from one of them
                c.delete(vec![PointId::Num(5)]).unwrap();
                rows.retain(|r| r.0 != 5);
                check_searches(&c, distance, dtype, &rows, 2);
                // a point reads back as stored: the cast values
                let got = c
                    .retrieve(
                        &[PointId::Num(7)],
                        &crate::PayloadSelector::None,
                        &VectorSelector::All,
                    )
                    .unwrap();
                let v = got[0].vectors.as_ref().unwrap()[""].as_dense().unwrap();
                assert_eq!(v, &rows[6].1[..], "{distance:?} {dtype:?}");
                if dtype == Datatype::Uint8 {
                    assert!(v
                        .iter()
                        .all(|x| x.fract() == 0.0 && (0.0..=255.0).contains(x)));
                }
            }
            // segment files hold `width` bytes per value; reopened, the same answers
            let mut sizes = Vec::new();
            for seg in std::fs::read_dir(dir.path().join("collections/c/segments")).unwrap() {
                let seg = seg.unwrap().path();
                let rows_in = std::fs::metadata(seg.join("vectors-0.bin")).unwrap().len();
                sizes.push(rows_in);
            }
            assert!(!sizes.is_empty());
            for s in &sizes {
                assert_eq!(
                    (s - 64) % (DIM * dtype.width()) as u64,
                    0,
                    "{dtype:?}: {sizes:?}"
                );
            }
            let total: u64 = sizes.iter().map(|s| s - 64).sum();
            assert!(
                total <= N * (DIM * dtype.width()) as u64,
                "{dtype:?}: {total} bytes for at most {N} rows"
            );
            let db = Database::open(opts).unwrap();
            let c = db.collection("c").unwrap();
            for s in &c.points.read().sealed {
                let graph_backed = matches!(
                    s.data.column("").unwrap().values(),
                    crate::segment::Values::Graph(_)
                );
                let one_copy = !(dtype == Datatype::Uint8 && distance == Distance::Cosine);
                assert_eq!(graph_backed, one_copy, "{dtype:?} {distance:?} reopened");
            }
            check_searches(&c, distance, dtype, &rows, 2);
        }
    }
}

#[test]
fn a_query_by_stored_example_uses_the_stored_values() {
    // recommend by id in a uint8 Cosine space: the example is the stored (integer) vector,
    // prepared as a query again, not its unit-length view (which would cast to zeros)
    let db = Database::open(DatabaseOptions::in_memory()).unwrap();
    let mut cfg = CollectionConfig::with_dim(Distance::Cosine, 2);
    if let crate::types::VectorsConfig::Single(p) = &mut cfg.vectors {
        p.extra.insert("datatype".into(), json!("uint8"));
    }
    db.create_collection("c", cfg).unwrap();
    let c = db.collection("c").unwrap();
    let pts = [(1, [10.0, 0.0]), (2, [9.0, 1.0]), (3, [0.0, 10.0])];
    c.upsert(
        pts.iter()
            .map(|(i, v)| PointStruct::new(PointId::Num(*i), v.to_vec(), Default::default()))
            .collect(),
    )
    .unwrap();
    assert_eq!(
        c.vector_of(PointId::Num(2), "").unwrap(),
        vec![9.0, 1.0],
        "as stored"
    );
    let mut req = SearchRequest::new(c.vector_of(PointId::Num(1), "").unwrap(), 3);
    req.params.exact = true;
    let hits: Vec<(PointId, f32)> = c
        .search(&req)
        .unwrap()
        .into_iter()
        .map(|h| (h.id, h.score))
        .collect();
    assert_eq!(hits[0], (PointId::Num(1), 1.0));
    assert_eq!(hits[1].0, PointId::Num(2));
    assert!(close(hits[1].1, 9.0 / 82f32.sqrt()), "{hits:?}");
}

#[test]
fn unknown_datatypes_and_multivector_datatypes_are_refused() {
    let db = Database::open(DatabaseOptions::in_memory()).unwrap();
    let mut cfg = CollectionConfig::with_dim(Distance::Dot, 2);
    if let crate::types::VectorsConfig::Single(p) = &mut cfg.vectors {
        p.extra.insert("datatype".into(), json!("int4"));
    }
    let e = db
        .create_collection("c", cfg.clone())
        .unwrap_err()
        .to_string();
    assert!(e.contains("vectors.datatype") && e.contains("int4"), "{e}");
    if let crate::types::VectorsConfig::Single(p) = &mut cfg.vectors {
        p.extra.insert("datatype".into(), json!("float16"));
        p.multivector = Some(crate::MultiVectorComparator::MaxSim);
    }
    let e = db.create_collection("c", cfg).unwrap_err().to_string();
    assert!(e.contains("multivector"), "{e}");
    assert!(db.collection("c").is_err());
}
