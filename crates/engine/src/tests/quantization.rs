//! Quantization: indexed segments keep codes for the spaces configured so (the vector's own
//! `quantization_config`, else the collection's), searches walk them and rescore from the
//! originals, `params.quantization` steers that, and a change of configuration rebuilds or
//! drops the codes while writes go on.

use std::collections::HashSet;

use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng};
use serde_json::json;

use super::set_optimizers;
use crate::quantization::QuantizationConfigDiff;
use crate::{
    Collection, CollectionConfig, Database, DatabaseOptions, Distance, PointId, PointStruct,
    QuantizationConfig, QuantizationSearchParams, SearchRequest, SettingsDiff,
};

/// Clustered rows (centred, so sign bits carry information): `n` of `dim` values.
fn clustered(n: usize, dim: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let centres: Vec<Vec<f32>> = (0..30)
        .map(|_| (0..dim).map(|_| rng.random_range(-1.0f32..1.0)).collect())
        .collect();
    (0..n)
        .map(|_| {
            let c = &centres[rng.random_range(0..centres.len())];
            c.iter()
                .map(|x| x + 0.6 * rng.random_range(-1.0f32..1.0))
                .collect()
        })
        .collect()
}

/// Embedding-like rows for sign codes: centred Gaussian values whose scale falls off across
/// the dimensions (an anisotropic spectrum, as learned embeddings have), in many small
/// clusters (about ten rows each in 2,000), `n` of `dim`; the same seed gives the same
/// clusters, `draw` different rows of them.
fn embedding_like(n: usize, dim: usize, draw: u64) -> Vec<Vec<f32>> {
    let normal = |rng: &mut StdRng| {
        // Box–Muller
        let (u, v): (f32, f32) = (rng.random_range(1e-7..1.0), rng.random_range(0.0..1.0));
        (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
    };
    let scale = |j: usize| 1.0 / (1.0 + j as f32 / 32.0).sqrt();
    let mut rng = StdRng::seed_from_u64(99);
    let centres: Vec<Vec<f32>> = (0..200)
        .map(|_| (0..dim).map(|j| normal(&mut rng) * scale(j)).collect())
        .collect();
    let mut rng = StdRng::seed_from_u64(draw);
    (0..n)
        .map(|_| {
            let c = &centres[rng.random_range(0..centres.len())];
            (0..dim)
                .map(|j| c[j] + 0.5 * normal(&mut rng) * scale(j))
                .collect()
        })
        .collect()
}

fn quantization(v: serde_json::Value) -> QuantizationConfig {
    QuantizationConfig::parse(&v, "quantization_config").unwrap()
}

/// A collection sealing and indexing every 500 points, quantized as `q`.
fn collection(db: &Database, distance: Distance, dim: usize, q: Option<QuantizationConfig>) {
    let mut cfg = CollectionConfig::with_dim(distance, dim);
    cfg.settings.quantization = q;
    set_optimizers(
        &mut cfg,
        json!({"indexing_threshold": (500 * dim * 4).div_ceil(1024)}),
    );
    db.create_collection("c", cfg).unwrap();
}

fn upsert(c: &Collection, rows: &[Vec<f32>], first: u64) {
    for (i, chunk) in rows.chunks(250).enumerate() {
        c.upsert(
            chunk
                .iter()
                .enumerate()
                .map(|(j, v)| {
                    let id = first + (i * 250 + j) as u64;
                    PointStruct::new(PointId::Num(id), v.clone(), Default::default())
                })
                .collect(),
        )
        .unwrap();
    }
}

fn search(
    c: &Collection,
    q: &[f32],
    exact: bool,
    quantization: Option<QuantizationSearchParams>,
) -> Vec<(PointId, f32)> {
    let mut req = SearchRequest::new(q.to_vec(), 10);
    req.params.exact = exact;
    req.params.hnsw_ef = Some(64);
    req.params.quantization = quantization;
    c.search(&req)
        .unwrap()
        .into_iter()
        .map(|h| (h.id, h.score))
        .collect()
}

/// The sealed segments' code configurations for the unnamed space.
fn codes_of(c: &Collection) -> Vec<Option<QuantizationConfig>> {
    c.points
        .read()
        .sealed
        .iter()
        .map(|s| s.quantized.read().get("").map(|q| q.config.clone()))
        .collect()
}

fn oversample(o: f64) -> Option<QuantizationSearchParams> {
    Some(QuantizationSearchParams {
        oversampling: Some(o),
        ..Default::default()
    })
}

/// Recall@10 of searches with `params` against exact search, every hit's score exact.
fn recall(c: &Collection, queries: &[Vec<f32>], params: Option<QuantizationSearchParams>) -> f64 {
    let (mut found, mut wanted) = (0, 0);
    for q in queries {
        let exact = search(c, q, true, None);
        let got = search(c, q, false, params);
        let ids: HashSet<PointId> = exact.iter().map(|h| h.0).collect();
        found += got.iter().filter(|h| ids.contains(&h.0)).count();
        wanted += exact.len();
        // best first: by distance ascending under Euclid, by score descending otherwise
        for w in got.windows(2) {
            let ordered = match c.distance_of("").unwrap() {
                Distance::Euclid | Distance::Manhattan => w[0].1 <= w[1].1,
                _ => w[0].1 >= w[1].1,
            };
            assert!(ordered, "{got:?}");
        }
    }
    found as f64 / wanted as f64
}

#[test]
fn every_kind_and_distance_walks_codes_and_rescores_to_the_exact_answer() {
    let cases = [
        (json!({"scalar": {"type": "int8"}}), 64, 2.0, 0.9),
        (
            json!({"scalar": {"type": "int8", "quantile": 0.99}}),
            64,
            3.0,
            0.9,
        ),
        (json!({"product": {"compression": "x8"}}), 64, 4.0, 0.85),
        (json!({"binary": {}}), 256, 4.0, 0.88),
        (
            json!({"binary": {"query_encoding": "scalar8bits"}}),
            256,
            4.0,
            0.92,
        ),
        (
            json!({"binary": {"encoding": "two_bits", "query_encoding": "scalar4bits"}}),
            256,
            4.0,
            0.92,
        ),
        (
            json!({"binary": {"encoding": "one_and_half_bits"}}),
            256,
            8.0,
            0.85,
        ),
        (json!({"turbo": {}}), 64, 2.0, 0.9),
        (json!({"turbo": {"bits": "bits2"}}), 256, 3.0, 0.9),
        (json!({"turbo": {"bits": "bits1_5"}}), 256, 4.0, 0.88),
        (json!({"turbo": {"bits": "bits1"}}), 256, 4.0, 0.88),
    ];
    for (config, dim, oversampling, want) in cases {
        for distance in [Distance::Cosine, Distance::Euclid, Distance::Dot] {
            let db = Database::open(DatabaseOptions {
                background_optimizer: false,
                ..DatabaseOptions::in_memory()
            })
            .unwrap();
            let q = quantization(config.clone());
            collection(&db, distance, dim, Some(q.clone()));
            let c = db.collection("c").unwrap();
            let binary = config.get("binary").is_some() || dim > 64;
            let data = if binary { embedding_like } else { clustered };
            let rows = data(2000, dim, 1);
            upsert(&c, &rows, 0);
            c.optimize();
            let held = codes_of(&c);
            assert!(!held.is_empty() && held.iter().all(|h| h.as_ref() == Some(&q)));
            let queries = data(30, dim, 2);
            let quantized = recall(&c, &queries, oversample(oversampling));
            // inner products are the hardest for a graph (the originals' reaches 0.9 here)
            let want = if distance == Distance::Dot {
                want - 0.05
            } else {
                want
            };
            assert!(
                quantized >= want,
                "{config} {distance:?}: recall@10 {quantized} after rescoring"
            );
            // ignoring the codes walks the originals' graph
            let ignored = recall(
                &c,
                &queries,
                Some(QuantizationSearchParams {
                    ignore: true,
                    ..Default::default()
                }),
            );
            assert!(ignored >= 0.85, "{config} {distance:?}: {ignored}");
        }
    }
}

#[test]
fn without_rescoring_scalar_codes_score_the_hits_approximately() {
    let db = Database::open(DatabaseOptions {
        background_optimizer: false,
        ..DatabaseOptions::in_memory()
    })
    .unwrap();
    collection(
        &db,
        Distance::Dot,
        64,
        Some(quantization(json!({"scalar": {"type": "int8"}}))),
    );
    let c = db.collection("c").unwrap();
    upsert(&c, &clustered(1500, 64, 3), 0);
    c.optimize();
    let no_rescore = Some(QuantizationSearchParams {
        rescore: Some(false),
        ..Default::default()
    });
    let mut differ = 0;
    for q in clustered(20, 64, 4) {
        let exact: std::collections::HashMap<PointId, f32> =
            search(&c, &q, true, None).into_iter().collect();
        for (id, score) in search(&c, &q, false, no_rescore) {
            // an estimate of the score, not the score: close, and not always equal
            let all = c
                .search(&{
                    let mut r = SearchRequest::new(q.clone(), 2000);
                    r.params.exact = true;
                    r
                })
                .unwrap();
            let truth = exact
                .get(&id)
                .copied()
                .unwrap_or_else(|| all.iter().find(|h| h.id == id).unwrap().score);
            assert!(
                (score - truth).abs() <= 0.05 * truth.abs().max(1.0),
                "{score} vs {truth}"
            );
            differ += usize::from(score != truth);
        }
    }
    assert!(differ > 0, "rescore=false returned exact scores throughout");
}

#[test]
fn a_vector_own_config_wins_and_changes_rebuild_or_drop_codes_while_writes_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let opts = DatabaseOptions {
        background_optimizer: false,
        ..DatabaseOptions::persistent(dir.path())
    };
    let dim = 32;
    let scalar = quantization(json!({"scalar": {"type": "int8"}}));
    let product = quantization(json!({"product": {"compression": "x4"}}));
    let rows = clustered(3000, dim, 5);
    {
        let db = Database::open(opts.clone()).unwrap();
        collection(&db, Distance::Euclid, dim, Some(scalar.clone()));
        let c = db.collection("c").unwrap();
        upsert(&c, &rows[..1500], 0);
        c.optimize();
        assert!(codes_of(&c).iter().all(|h| h.as_ref() == Some(&scalar)));
        // the vector's own config (PATCH vectors."".quantization_config) wins over the
        // collection's, while writes go on; nothing is lost
        let own: crate::VectorParamsDiff = serde_json::from_value(
            json!({"quantization_config": {"product": {"compression": "x4"}}}),
        )
        .unwrap();
        std::thread::scope(|s| {
            s.spawn(|| upsert(&c, &rows[1500..], 1500));
            c.update_config(
                &SettingsDiff::default(),
                &[(String::new(), own)].into_iter().collect(),
            )
            .unwrap();
        });
        c.optimize();
        assert!(codes_of(&c).iter().all(|h| h.as_ref() == Some(&product)));
        assert_eq!(c.count(None), 3000);
        let queries = clustered(20, dim, 6);
        assert!(recall(&c, &queries, oversample(4.0)) >= 0.85);
    }
    {
        // reopened: the codes are built again for the stored configuration
        let db = Database::open(opts.clone()).unwrap();
        let c = db.collection("c").unwrap();
        c.optimize();
        assert!(codes_of(&c).iter().all(|h| h.as_ref() == Some(&product)));
        assert_eq!(c.count(None), 3000);
        // "Disabled" on the vector: the collection's scalar config applies again
        let disabled: crate::VectorParamsDiff =
            serde_json::from_value(json!({"quantization_config": "Disabled"})).unwrap();
        c.update_config(
            &SettingsDiff::default(),
            &[(String::new(), disabled)].into_iter().collect(),
        )
        .unwrap();
        c.optimize();
        assert!(codes_of(&c).iter().all(|h| h.as_ref() == Some(&scalar)));
        // "Disabled" on the collection: no codes at all
        let off = SettingsDiff {
            quantization: Some(QuantizationConfigDiff::Disabled(crate::Disabled::Disabled)),
            ..Default::default()
        };
        c.update_config(&off, &Default::default()).unwrap();
        c.optimize();
        assert!(codes_of(&c).iter().all(Option::is_none));
        let queries = clustered(20, dim, 7);
        assert!(recall(&c, &queries, None) >= 0.95);
    }
}

#[test]
fn configurations_not_implemented_or_out_of_range_are_refused_naming_the_field() {
    for (v, field) in [
        (json!({"turbo": {"bits": "bits3"}}), "bits3"),
        (json!({"turbo": {"bits": "bits4", "seed": 1}}), "seed"),
        (json!({"binary": {"encoding": "three_bits"}}), "three_bits"),
        (
            json!({"binary": {"query_encoding": "scalar2bits"}}),
            "scalar2bits",
        ),
        (
            json!({"scalar": {"type": "int8", "quantile": 0.3}}),
            "quantile",
        ),
        (json!({"scalar": {"type": "int4"}}), "int4"),
        (json!({"product": {"compression": "x3"}}), "x3"),
        (json!({"scalar": {"type": "int8", "colour": 1}}), "colour"),
    ] {
        let e = QuantizationConfig::parse(&v, "quantization_config")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("quantization_config") && e.contains(field),
            "{v}: {e}"
        );
    }
    let e = serde_json::from_value::<QuantizationSearchParams>(json!({"oversampling": 0.5}))
        .unwrap_err()
        .to_string();
    assert!(e.contains("oversampling"), "{e}");
}

/// The codes files of a collection's segments: (path, bytes).
fn codes_files(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for seg in std::fs::read_dir(dir.join("collections/c/segments")).unwrap() {
        for f in std::fs::read_dir(seg.unwrap().path()).unwrap() {
            let p = f.unwrap().path();
            if p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("quant-")
            {
                let bytes = std::fs::read(&p).unwrap();
                out.push((p, bytes));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn codes_round_trip_through_segment_files_and_follow_the_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let opts = DatabaseOptions {
        background_optimizer: false,
        ..DatabaseOptions::persistent(dir.path())
    };
    let dim = 32;
    let turbo = quantization(json!({"turbo": {"bits": "bits2"}}));
    let queries = clustered(20, dim, 8);
    let (files, before) = {
        let db = Database::open(opts.clone()).unwrap();
        collection(&db, Distance::Cosine, dim, Some(turbo.clone()));
        let c = db.collection("c").unwrap();
        upsert(&c, &clustered(2000, dim, 1), 0);
        // built codes ask for a flush, which the optimizer makes
        c.optimize();
        assert!(!c.wants_flush());
        let files = codes_files(dir.path());
        // one file per indexed segment
        assert_eq!(files.len(), codes_of(&c).len(), "{files:?}");
        let before: Vec<_> = queries
            .iter()
            .map(|q| search(&c, q, false, oversample(2.0)))
            .collect();
        (files, before)
    };
    // read back: the same codes, the same answers, the files not written again
    let db = Database::open(opts.clone()).unwrap();
    let c = db.collection("c").unwrap();
    c.optimize();
    assert!(codes_of(&c).iter().all(|h| h.as_ref() == Some(&turbo)));
    assert!(!c.wants_flush(), "codes read back need no writing");
    let after: Vec<_> = queries
        .iter()
        .map(|q| search(&c, q, false, oversample(2.0)))
        .collect();
    assert_eq!(after, before);
    c.flush().unwrap();
    let modified = |fs: &[(std::path::PathBuf, Vec<u8>)]| {
        fs.iter()
            .map(|(p, _)| std::fs::metadata(p).unwrap().modified().unwrap())
            .collect::<Vec<_>>()
    };
    let again = codes_files(dir.path());
    assert_eq!(again, files);
    let stamps = modified(&again);
    drop(db);

    // a damaged file is refused: those codes are built again (the same) and rewritten
    let (damaged, mut bytes) = files[0].clone();
    let at = bytes.len() - 10;
    bytes[at] ^= 0xff;
    std::fs::write(&damaged, &bytes).unwrap();
    let db = Database::open(opts.clone()).unwrap();
    let c = db.collection("c").unwrap();
    // the optimizer flushes the rebuilt codes itself (no write came since the last flush)
    c.optimize();
    assert!(!c.wants_flush());
    assert_eq!(codes_files(dir.path()), files);
    assert_ne!(modified(&codes_files(dir.path()))[0], stamps[0]);
    let after: Vec<_> = queries
        .iter()
        .map(|q| search(&c, q, false, oversample(2.0)))
        .collect();
    assert_eq!(after, before);

    // another configuration replaces the files; "Disabled" removes them
    let scalar = quantization(json!({"scalar": {"type": "int8"}}));
    for (diff, want) in [
        (QuantizationConfigDiff::Config(scalar.clone()), Some(scalar)),
        (
            QuantizationConfigDiff::Disabled(crate::Disabled::Disabled),
            None,
        ),
    ] {
        let change = SettingsDiff {
            quantization: Some(diff),
            ..Default::default()
        };
        c.update_config(&change, &Default::default()).unwrap();
        c.optimize();
        c.flush().unwrap();
        let now = codes_files(dir.path());
        match want {
            Some(_) => {
                assert_eq!(now.len(), files.len());
                assert!(now.iter().zip(&files).all(|(a, b)| a.1 != b.1));
            }
            None => assert!(now.is_empty(), "{now:?}"),
        }
        assert!(codes_of(&c).iter().all(|h| h == &want));
    }
}
