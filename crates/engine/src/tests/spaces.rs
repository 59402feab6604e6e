//! Vector spaces added to and dropped from a live collection: points keep their other vectors,
//! dropped values are gone for good (also after a reopen and when the name is created again),
//! and searches over the remaining spaces answer as before.

use rand::rngs::StdRng;
use rand::SeedableRng;

use super::sparse::{config, dump, point, sparse, workload, Model};
use crate::types::{NamedVectors, Vector};
use crate::{
    CollectionConfig, Database, DatabaseOptions, Distance, NewVectorSpace, PointId, PointStruct,
    ScoreQuery, SearchRequest, SparseVectorParams,
};

fn si_searches(c: &crate::Collection) -> Vec<Vec<(PointId, f32)>> {
    let mut rng = StdRng::seed_from_u64(17);
    (0..12)
        .map(|_| {
            let mut req = SearchRequest::new(vec![], 10);
            req.using = "si".into();
            req.query = ScoreQuery::NearestSparse(sparse(&mut rng));
            c.search(&req)
                .unwrap()
                .into_iter()
                .map(|h| (h.id, h.score))
                .collect()
        })
        .collect()
}

fn without(rows: &[(PointId, NamedVectors)], names: &[&str]) -> Vec<(PointId, NamedVectors)> {
    rows.iter()
        .map(|(id, v)| {
            let mut v = v.clone();
            v.retain(|n, _| !names.contains(&n.as_str()));
            (*id, v)
        })
        .collect()
}

#[test]
fn vector_spaces_are_added_and_dropped_durably() {
    let dir = tempfile::tempdir().unwrap();
    let opts = DatabaseOptions {
        background_optimizer: false,
        ..DatabaseOptions::persistent(dir.path())
    };
    let expected = {
        let db = Database::open(opts.clone()).unwrap();
        db.create_collection("c", config()).unwrap();
        let c = db.collection("c").unwrap();
        workload(&c, 3);
        c.optimize();
        assert!(c.info().segments_count > 1, "sealed segments with graphs");
        let before = dump(&c);
        let si = si_searches(&c);

        let mut e = c.config().vectors.get("d").unwrap().clone();
        e.distance = Distance::Cosine;
        e.size = Some(3);
        c.create_vector_name("e", NewVectorSpace::Dense(e.clone()))
            .unwrap();
        c.create_vector_name("t", NewVectorSpace::Sparse(SparseVectorParams::default()))
            .unwrap();
        // taken and empty names, unknown names, and wrong vectors are refused
        assert!(c
            .create_vector_name("e", NewVectorSpace::Dense(e.clone()))
            .is_err());
        assert!(c
            .create_vector_name("s", NewVectorSpace::Dense(e.clone()))
            .is_err());
        assert!(c.create_vector_name("", NewVectorSpace::Dense(e)).is_err());
        assert!(c.delete_vector_name("nope").is_err());
        // points written before have no vector in the new spaces; new ones may
        let mut rng = StdRng::seed_from_u64(8);
        let mut p = point(1000, &mut rng, &mut Model::default());
        p.vectors
            .insert("e".into(), Vector::Dense(vec![3.0, 0.0, 4.0]));
        p.vectors
            .insert("t".into(), Vector::Sparse(sparse(&mut rng)));
        let wrong = PointStruct {
            id: PointId::Num(1001),
            vectors: NamedVectors::from([("e".to_string(), Vector::Dense(vec![1.0, 2.0]))]),
            payload: Default::default(),
        };
        assert!(c.upsert(vec![wrong]).is_err(), "e has 3 dimensions");
        c.upsert(vec![p.clone()]).unwrap();
        let mut stored = p.vectors.clone();
        stored.insert("e".into(), Vector::Dense(vec![0.6, 0.0, 0.8]));

        c.delete_vector_name("d").unwrap();
        c.delete_vector_name("s").unwrap();
        let mut all = before.clone();
        all.push((PointId::Num(1000), stored));
        let mut expected = without(&all, &["d", "s"]);
        expected.sort_by_key(|(id, _)| *id);
        let without_new = without(&expected, &["e", "t"]);
        let mut got = dump(&c);
        got.sort_by_key(|(id, _)| *id);
        assert_eq!(got, expected);
        assert!(c.config().vectors.get("d").is_none());
        assert!(!c.config().sparse_vectors.contains_key("s"));
        let mut req = SearchRequest::new(vec![1.0, 0.0], 5);
        req.using = "d".into();
        assert!(
            c.search(&req).is_err(),
            "the dropped space is not searchable"
        );
        // the point written after has no `si` vector: the other searches are unchanged
        assert_eq!(si_searches(&c), si);
        // a write naming a dropped space is refused
        assert!(c
            .upsert(vec![point(1002, &mut rng, &mut Model::default())])
            .is_err());
        (expected, without_new, si)
    };
    let (expected, without_new, si) = expected;
    let sorted = |c: &crate::Collection| {
        let mut d = dump(c);
        d.sort_by_key(|(id, _)| *id);
        d
    };
    let db = Database::open(opts.clone()).unwrap();
    let c = db.collection("c").unwrap();
    assert_eq!(sorted(&c), expected, "after a reopen");
    assert_eq!(si_searches(&c), si);
    // created again under the same name, the space starts empty, also after a reopen
    let d = CollectionConfig::with_dim(Distance::Dot, 2)
        .vectors
        .get("")
        .unwrap()
        .clone();
    c.create_vector_name("d", NewVectorSpace::Dense(d)).unwrap();
    c.create_vector_name("s", NewVectorSpace::Sparse(SparseVectorParams::default()))
        .unwrap();
    assert_eq!(sorted(&c), expected);
    drop(c);
    drop(db);
    let db = Database::open(opts).unwrap();
    let c = db.collection("c").unwrap();
    assert_eq!(sorted(&c), expected);
    c.delete_vector_name("e").unwrap();
    c.delete_vector_name("t").unwrap();
    assert_eq!(sorted(&c), without_new);
}

#[test]
fn the_unnamed_vector_stays_alone() {
    let db = super::manual_db();
    db.create_collection("c", CollectionConfig::with_dim(Distance::Dot, 2))
        .unwrap();
    let c = db.collection("c").unwrap();
    let p = c.config().vectors.get("").unwrap().clone();
    let err = c
        .create_vector_name("x", NewVectorSpace::Dense(p))
        .unwrap_err()
        .to_string();
    assert!(err.contains("unnamed vector"), "{err}");
    assert!(c.delete_vector_name("").is_err());
    // a sparse space can be added beside it, and dropped again
    c.create_vector_name("s", NewVectorSpace::Sparse(SparseVectorParams::default()))
        .unwrap();
    assert!(c.config().sparse_vectors.contains_key("s"));
    c.delete_vector_name("s").unwrap();
    assert!(c.config().sparse_vectors.is_empty());
}
