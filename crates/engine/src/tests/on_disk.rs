//! `on_disk`: a persistent collection's on_disk space (the vector's `on_disk`, or its
//! `hnsw_config.on_disk`) searches its indexed segments' graphs in their mapped files (built
//! ones once written, loaded ones from the start), with the same answers; turning it off
//! brings them back onto the heap; an in-memory collection has no files and keeps them there.

use serde_json::json;

use super::set_optimizers;
use crate::{
    Collection, CollectionConfig, Database, DatabaseOptions, Distance, HnswConfigDiff, PointId,
    PointStruct, SearchRequest, SettingsDiff, VectorParamsDiff,
};

const DIM: usize = 16;

fn rows(n: usize) -> Vec<Vec<f32>> {
    use rand::{Rng as _, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(n as u64);
    (0..n)
        .map(|_| (0..DIM).map(|_| rng.random_range(-0.5f32..0.5)).collect())
        .collect()
}

/// (heap bytes, mapped bytes) of the sealed segments' graphs of the unnamed space.
fn placement(c: &Collection) -> (usize, usize) {
    let segs = c.points.read();
    let graphs: Vec<_> = segs
        .sealed
        .iter()
        .filter_map(|s| s.hnsw.get().and_then(|g| g.get("").cloned()))
        .collect();
    assert!(!graphs.is_empty());
    graphs.iter().fold((0, 0), |(h, m), g| {
        (h + g.memory_bytes(), m + g.mapped_bytes())
    })
}

fn answers(c: &Collection) -> Vec<Vec<PointId>> {
    rows(30)
        .into_iter()
        .map(|q| {
            let mut req = SearchRequest::new(q.iter().map(|x| -x).collect(), 10);
            req.params.hnsw_ef = Some(100);
            c.search(&req).unwrap().into_iter().map(|h| h.id).collect()
        })
        .collect()
}

fn fill(db: &Database, on_disk: serde_json::Value) -> std::sync::Arc<Collection> {
    let mut cfg = CollectionConfig::with_dim(Distance::Euclid, DIM);
    if let crate::types::VectorsConfig::Single(p) = &mut cfg.vectors {
        p.extra.insert("on_disk".into(), on_disk);
    }
    set_optimizers(&mut cfg, json!({"indexing_threshold": 8}));
    db.create_collection("c", cfg).unwrap();
    let c = db.collection("c").unwrap();
    let data = rows(2000);
    for (i, chunk) in data.chunks(200).enumerate() {
        c.upsert(
            chunk
                .iter()
                .enumerate()
                .map(|(j, v)| {
                    PointStruct::new(
                        PointId::Num((i * 200 + j) as u64),
                        v.clone(),
                        Default::default(),
                    )
                })
                .collect(),
        )
        .unwrap();
    }
    c.optimize();
    c
}

#[test]
fn on_disk_graphs_are_searched_in_their_mapped_files() {
    let dir = tempfile::tempdir().unwrap();
    let opts = DatabaseOptions {
        background_optimizer: false,
        ..DatabaseOptions::persistent(dir.path())
    };
    let want = {
        let db = Database::open(opts.clone()).unwrap();
        let c = fill(&db, json!(true));
        let (heap, mapped) = placement(&c);
        assert!(
            mapped > 0 && mapped > 4 * heap,
            "heap {heap}, mapped {mapped}"
        );
        let exact: Vec<Vec<PointId>> = rows(30)
            .into_iter()
            .map(|q| {
                let mut req = SearchRequest::new(q.iter().map(|x| -x).collect(), 10);
                req.params.exact = true;
                c.search(&req).unwrap().into_iter().map(|h| h.id).collect()
            })
            .collect();
        let got = answers(&c);
        let found: usize = got
            .iter()
            .zip(&exact)
            .map(|(g, e)| g.iter().filter(|id| e.contains(id)).count())
            .sum();
        assert!(found >= 290, "recall {found}/300");
        got
    };
    let db = Database::open(opts.clone()).unwrap();
    let c = db.collection("c").unwrap();
    // loaded from the files, mapped from the start
    let (_, mapped) = placement(&c);
    assert!(mapped > 0);
    assert_eq!(answers(&c), want);
    // off: the graphs come back onto the heap, with the same answers
    let off: VectorParamsDiff = serde_json::from_value(json!({"on_disk": false})).unwrap();
    c.update_config(
        &SettingsDiff::default(),
        &[(String::new(), off)].into_iter().collect(),
    )
    .unwrap();
    c.optimize();
    assert_eq!(placement(&c).1, 0);
    assert_eq!(answers(&c), want);
    // the collection's hnsw_config.on_disk maps them again
    let hnsw_on_disk = SettingsDiff {
        hnsw: Some(HnswConfigDiff {
            on_disk: Some(true),
            ..Default::default()
        }),
        ..Default::default()
    };
    c.update_config(&hnsw_on_disk, &Default::default()).unwrap();
    c.optimize();
    assert!(placement(&c).1 > 0);
    assert_eq!(answers(&c), want);
}

#[test]
fn an_in_memory_collection_keeps_on_disk_graphs_on_the_heap() {
    let db = Database::open(DatabaseOptions {
        background_optimizer: false,
        ..DatabaseOptions::in_memory()
    })
    .unwrap();
    let c = fill(&db, json!(true));
    let (heap, mapped) = placement(&c);
    assert!(heap > 0 && mapped == 0);
}

/// Qdrant 1.19's `memory` overrides `on_disk` of the same component: the vector's `cold` maps
/// its graphs; the collection's `hnsw_config.memory: pinned` over `hnsw_config.on_disk` keeps
/// them on the heap; `pinned` for the vector's storage is refused, as Qdrant refuses it.
#[test]
fn memory_placement_overrides_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let opts = DatabaseOptions {
        background_optimizer: false,
        ..DatabaseOptions::persistent(dir.path())
    };
    let db = Database::open(opts).unwrap();
    let c = fill(&db, json!(false));
    assert_eq!(placement(&c).1, 0);
    let set = |v: serde_json::Value| {
        let diff: VectorParamsDiff = serde_json::from_value(v).unwrap();
        c.update_config(
            &SettingsDiff::default(),
            &[(String::new(), diff)].into_iter().collect(),
        )
    };
    set(json!({"memory": "cold"})).unwrap();
    c.optimize();
    assert!(placement(&c).1 > 0);
    // memory cached over on_disk false: still mapped
    set(json!({"memory": "cached", "on_disk": false})).unwrap();
    c.optimize();
    assert!(placement(&c).1 > 0);
    let e = set(json!({"memory": "pinned"})).unwrap_err().to_string();
    assert!(e.contains("memory") && e.contains("pinned"), "{e}");
    // back to the heap through the vector's memory being unset is not possible (a diff only
    // sets); the collection's hnsw memory pinned does not override the vector's own cold/cached
    let pinned = SettingsDiff {
        hnsw: Some(HnswConfigDiff {
            on_disk: Some(true),
            memory: Some(crate::settings::Memory::Pinned),
            ..Default::default()
        }),
        ..Default::default()
    };
    c.update_config(&pinned, &Default::default()).unwrap();
    c.optimize();
    assert!(
        placement(&c).1 > 0,
        "the vector's own `cached` still maps them"
    );
}

#[test]
fn hnsw_memory_pinned_overrides_hnsw_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(DatabaseOptions {
        background_optimizer: false,
        ..DatabaseOptions::persistent(dir.path())
    })
    .unwrap();
    let c = fill(&db, json!(false));
    let hnsw = |memory| SettingsDiff {
        hnsw: Some(HnswConfigDiff {
            on_disk: Some(true),
            memory,
            ..Default::default()
        }),
        ..Default::default()
    };
    c.update_config(
        &hnsw(Some(crate::settings::Memory::Pinned)),
        &Default::default(),
    )
    .unwrap();
    c.optimize();
    assert_eq!(placement(&c).1, 0, "pinned over on_disk: on the heap");
    c.update_config(&hnsw(None), &Default::default()).unwrap();
    c.optimize();
    // the stored memory stays pinned (a diff leaves unset fields as they are)
    assert_eq!(placement(&c).1, 0);
    c.update_config(
        &hnsw(Some(crate::settings::Memory::Cold)),
        &Default::default(),
    )
    .unwrap();
    c.optimize();
    assert!(placement(&c).1 > 0, "cold: mapped");
}
