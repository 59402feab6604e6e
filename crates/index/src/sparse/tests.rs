//! Every search path against a brute-force reference (a `Vec` of vectors scored one by one with
//! [`SparseVector::dot`]): identical ids *and* scores, ties by row, with and without deletions,
//! filters, candidate sets and the IDF modifier; the byte format against damage.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;
use crate::{Scored, SearchParams};

/// Values on a coarse grid, so equal scores (ties) are common.
fn random_vector(rng: &mut StdRng, vocab: u32, max_len: usize) -> SparseVector {
    let len = rng.random_range(0..=max_len);
    let mut idx: Vec<u32> = (0..len)
        .map(|_| {
            // skewed: low terms are frequent
            let u: f64 = rng.random();
            ((u * u * vocab as f64) as u32).min(vocab - 1)
        })
        .collect();
    idx.sort_unstable();
    idx.dedup();
    let vals = idx
        .iter()
        .map(|_| rng.random_range(-4..=8) as f32 * 0.25)
        .collect();
    SparseVector::new(idx, vals).unwrap()
}

fn brute_force(
    rows: &[Option<SparseVector>],
    query: &SparseVector,
    params: SearchParams,
    accept: &dyn Fn(u32) -> bool,
) -> Vec<Scored> {
    let min_raw = params.min_raw.unwrap_or(f32::NEG_INFINITY);
    let mut all: Vec<Scored> = rows
        .iter()
        .enumerate()
        .filter_map(|(i, v)| {
            let raw = v.as_ref()?.dot(query)?;
            (accept(i as u32) && raw > min_raw).then_some(Scored {
                offset: i as u32,
                raw,
            })
        })
        .collect();
    all.sort_by(Scored::better_first);
    all.truncate(params.k);
    all
}

/// The IDF-weighted query computed from the reference rows directly.
fn brute_idf(rows: &[Option<SparseVector>], query: &SparseVector) -> SparseVector {
    let live: Vec<&SparseVector> = rows.iter().flatten().filter(|v| !v.is_empty()).collect();
    let df = |t: u32| live.iter().filter(|v| v.indices().contains(&t)).count();
    let values = query
        .iter()
        .map(|(t, v)| (v as f64 * idf(df(t), live.len())) as f32)
        .collect();
    SparseVector::new(query.indices().to_vec(), values).unwrap()
}

#[test]
fn idf_matches_a_hand_computed_example() {
    // 4 documents; term 1 in all of them, term 2 in one, term 3 in none
    let docs = [
        (vec![1, 2], vec![1.0, 1.0]),
        (vec![1], vec![1.0]),
        (vec![1, 5], vec![1.0, 1.0]),
        (vec![1, 5], vec![1.0, 1.0]),
    ];
    let mut ix = SparseIndex::new();
    for (row, (i, v)) in docs.into_iter().enumerate() {
        ix.insert(row as u32, SparseVector::new(i, v).unwrap());
    }
    ix.insert(9, SparseVector::default()); // empty: not a document
    assert_eq!(ix.vector_count(), 4);
    // ln((4 - 4 + 0.5) / 4.5 + 1) = ln(10/9); ln(3.5 / 1.5 + 1) = ln(10/3); ln(4.5 / 0.5 + 1) = ln(10)
    assert!((idf(4, 4) - (10.0f64 / 9.0).ln()).abs() < 1e-12);
    assert!((idf(1, 4) - (10.0f64 / 3.0).ln()).abs() < 1e-12);
    assert!((idf(0, 4) - 10.0f64.ln()).abs() < 1e-12);
    let q = SparseVector::new(vec![1, 2, 3], vec![2.0, 1.0, 1.0]).unwrap();
    let w = apply_idf(&q, ix.vector_count(), |t| ix.document_frequency(t));
    // 2·ln(10/9) = 0.2107210, ln(10/3) = 1.2039728, ln(10) = 2.3025851
    let expect = [0.210_721_03f32, 1.203_972_8, std::f32::consts::LN_10];
    for (got, want) in w.values().iter().zip(expect) {
        assert!((got - want).abs() < 1e-6, "{got} vs {want}");
    }
    // the rare term now outweighs the common one: row 0 (terms 1, 2) ranks first
    let hits = ix.search(
        &w,
        SearchParams {
            k: 2,
            min_raw: None,
        },
        None,
    );
    assert_eq!(hits[0].offset, 0);
    assert_eq!(hits[0].raw, 0.0 + w.values()[0] + w.values()[1]);
    // qdrant-client's local mode on the same four points (ids 1..=4, `Modifier.IDF`, query
    // above) scores id 1 at 1.414693832397461 and the other three at 0.21072103083133698
    let all = ix.search(
        &w,
        SearchParams {
            k: 10,
            min_raw: None,
        },
        None,
    );
    let local = [
        1.414_693_832_397_461f64,
        0.210_721_030_831_337,
        0.210_721_030_831_337,
        0.210_721_030_831_337,
    ];
    assert_eq!(
        all.iter().map(|s| s.offset).collect::<Vec<_>>(),
        [0, 1, 2, 3]
    );
    for (got, want) in all.iter().zip(local) {
        assert!(
            (got.raw as f64 - want).abs() < 1e-6,
            "{} vs {want}",
            got.raw
        );
    }
}

#[test]
fn removal_and_replacement_keep_document_frequencies_live() {
    let mut ix = SparseIndex::new();
    ix.insert(0, SparseVector::new(vec![1, 2], vec![1.0, 1.0]).unwrap());
    ix.insert(1, SparseVector::new(vec![2], vec![1.0]).unwrap());
    assert_eq!((ix.document_frequency(2), ix.vector_count()), (2, 2));
    ix.insert(1, SparseVector::new(vec![3], vec![1.0]).unwrap());
    assert_eq!((ix.document_frequency(2), ix.document_frequency(3)), (1, 1));
    assert!(ix.remove(0));
    assert!(!ix.remove(0));
    assert_eq!((ix.document_frequency(1), ix.vector_count()), (0, 1));
    assert_eq!(ix.term_count(), 1);
    assert!(ix.get(0).is_none());
    ix.insert(5, SparseVector::default());
    assert_eq!(ix.get(5), Some(&SparseVector::default()));
    assert_eq!((ix.vector_count(), ix.len()), (1, 2));
    ix.insert(5, SparseVector::new(vec![4], vec![1.0]).unwrap());
    assert_eq!((ix.vector_count(), ix.len()), (2, 2));
    assert!(ix.remove(5) && ix.remove(1) && ix.is_empty());
    assert_eq!(
        (ix.row_space(), ix.term_count(), ix.posting_count()),
        (0, 0, 0)
    );
}

#[test]
fn full_scan_threshold_follows_qdrant() {
    let p = SparseIndexParams::default();
    assert!(p.use_candidates(4999));
    assert!(!p.use_candidates(5000));
    let p = SparseIndexParams {
        full_scan_threshold: Some(10),
        ..p
    };
    assert!(p.use_candidates(9) && !p.use_candidates(10));
}

#[test]
fn every_search_path_matches_brute_force() {
    let mut rng = StdRng::seed_from_u64(0x5EED_5BA5);
    for round in 0..6 {
        let vocab = [8u32, 60, 400][round % 3];
        let n = [50usize, 400, 1500][round % 3];
        let mut reference: Vec<Option<SparseVector>> = vec![None; n];
        let mut ix = SparseIndex::new();
        // rows inserted out of order, so posting lists take inserts in the middle
        let mut order: Vec<u32> = (0..n as u32).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, rng.random_range(0..=i));
        }
        for &row in &order {
            let v = random_vector(&mut rng, vocab, 12);
            reference[row as usize] = Some(v.clone());
            ix.insert(row, v);
        }
        let deletions = round >= 2;
        if deletions {
            for _ in 0..n / 3 {
                let row = rng.random_range(0..n as u32);
                if rng.random_bool(0.5) {
                    assert_eq!(ix.remove(row), reference[row as usize].take().is_some());
                } else {
                    let v = random_vector(&mut rng, vocab, 12);
                    reference[row as usize] = Some(v.clone());
                    ix.insert(row, v);
                }
            }
        }
        let live: Vec<&SparseVector> = reference.iter().flatten().collect();
        assert_eq!(ix.len(), live.len());
        assert_eq!(
            ix.vector_count(),
            live.iter().filter(|v| !v.is_empty()).count()
        );
        let sealed = ix.freeze();
        let built = SealedSparseIndex::build(
            n as u32,
            reference
                .iter()
                .enumerate()
                .filter_map(|(i, v)| Some((i as u32, v.as_ref()?))),
        );
        assert_eq!(sealed.terms_and_postings(), built.terms_and_postings());
        let decoded = SealedSparseIndex::from_bytes(&sealed.to_bytes()).unwrap();
        assert_eq!(decoded, sealed);

        for qi in 0..60 {
            let raw_query = random_vector(&mut rng, vocab + 3, 8);
            for use_idf in [false, true] {
                let (query, expect_query) = if use_idf {
                    (
                        apply_idf(&raw_query, ix.vector_count(), |t| ix.document_frequency(t)),
                        brute_idf(&reference, &raw_query),
                    )
                } else {
                    (raw_query.clone(), raw_query.clone())
                };
                assert_eq!(query, expect_query, "idf weighting differs");
                let k = [1usize, 5, 10, 10_000][qi % 4];
                let min_raw = (qi % 5 == 0).then_some(0.5);
                let params = SearchParams { k, min_raw };
                let filters: [(&str, &dyn Fn(u32) -> bool); 3] = [
                    ("none", &|_| true),
                    ("every third", &|r| r % 3 == 0),
                    ("a few rows", &|r| r % 97 < 4),
                ];
                for (name, f) in filters {
                    let want = brute_force(&reference, &query, params, f);
                    let accept = (name != "none").then_some(f);
                    let ctx = format!("round {round} query {qi} idf {use_idf} filter {name} k {k}");
                    assert_eq!(ix.search(&query, params, accept), want, "mutable, {ctx}");
                    assert_eq!(sealed.search(&query, params, accept), want, "sealed, {ctx}");
                    assert_eq!(
                        decoded.search(&query, params, accept),
                        want,
                        "decoded, {ctx}"
                    );
                    // the candidate path, with repeats and rows outside the index
                    let mut cands: Vec<u32> = (0..n as u32 + 5).filter(|&r| f(r)).collect();
                    cands.extend_from_slice(&cands.clone()[..cands.len().min(3)]);
                    cands.reverse();
                    assert_eq!(
                        ix.search_candidates(&query, params, &cands),
                        want,
                        "mutable candidates, {ctx}"
                    );
                    assert_eq!(
                        sealed.search_candidates(&query, params, &cands),
                        want,
                        "sealed candidates, {ctx}"
                    );
                }
            }
        }
    }
}

#[test]
fn sealed_reconstructs_every_row() {
    let mut rng = StdRng::seed_from_u64(7);
    let vs: Vec<SparseVector> = (0..100).map(|_| random_vector(&mut rng, 50, 10)).collect();
    let s = SealedSparseIndex::build(0, vs.iter().enumerate().map(|(i, v)| (i as u32, v)));
    for (i, v) in vs.iter().enumerate() {
        assert_eq!(&s.vector(i as u32), v);
    }
    assert_eq!(
        s.vector_count(),
        vs.iter().filter(|v| !v.is_empty()).count()
    );
}

#[test]
fn a_search_inside_a_filter_does_not_disturb_the_outer_one() {
    let mut ix = SparseIndex::new();
    for r in 0..20u32 {
        ix.insert(
            r,
            SparseVector::new(vec![1, r + 2], vec![r as f32, 1.0]).unwrap(),
        );
    }
    let q = SparseVector::new(vec![1], vec![1.0]).unwrap();
    let p = SearchParams {
        k: 3,
        min_raw: None,
    };
    let inner = |row: u32| !ix.search(&q, p, None).is_empty() && row.is_multiple_of(2);
    let got: Vec<u32> = ix
        .search(&q, p, Some(&inner))
        .iter()
        .map(|s| s.offset)
        .collect();
    assert_eq!(got, vec![18, 16, 14]);
}

fn sample_index() -> SealedSparseIndex {
    let mut rng = StdRng::seed_from_u64(11);
    let vs: Vec<SparseVector> = (0..40).map(|_| random_vector(&mut rng, 30, 8)).collect();
    SealedSparseIndex::build(45, vs.iter().enumerate().map(|(i, v)| (i as u32, v)))
}

fn reseal(mut body: Vec<u8>) -> Vec<u8> {
    body.truncate(body.len() - 4);
    let crc = crc32c::crc32c(&body);
    body.extend_from_slice(&crc.to_le_bytes());
    body
}

#[test]
fn decoding_refuses_truncated_or_damaged_bytes() {
    let s = sample_index();
    let bytes = s.to_bytes();
    assert_eq!(SealedSparseIndex::from_bytes(&bytes).unwrap(), s);
    for len in 0..bytes.len() {
        assert!(
            SealedSparseIndex::from_bytes(&bytes[..len]).is_err(),
            "truncated to {len}"
        );
    }
    for at in 0..bytes.len() {
        let mut b = bytes.clone();
        b[at] ^= 0x10;
        assert!(
            SealedSparseIndex::from_bytes(&b).is_err(),
            "flipped byte {at}"
        );
    }
    let mut b = bytes.clone();
    b[8] = 2;
    assert_eq!(
        SealedSparseIndex::from_bytes(&reseal(b)),
        Err(SparseDecodeError::UnsupportedVersion(2))
    );
    // a posting row past the row count, with a valid checksum
    let tc = s.term_count();
    let rows_at = HEADER_FOR_TESTS + 8 * tc;
    let mut b = bytes.clone();
    b[rows_at..rows_at + 4].copy_from_slice(&1000u32.to_le_bytes());
    assert!(matches!(
        SealedSparseIndex::from_bytes(&reseal(b)),
        Err(SparseDecodeError::Corrupt(_))
    ));
    // a NaN weight
    let w_at = rows_at + 4 * s.posting_count();
    let mut b = bytes.clone();
    b[w_at..w_at + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    assert_eq!(
        SealedSparseIndex::from_bytes(&reseal(b)),
        Err(SparseDecodeError::Corrupt("a weight is not finite"))
    );
    // a huge declared posting count
    let mut b = bytes.clone();
    b[24..32].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(SealedSparseIndex::from_bytes(&reseal(b)).is_err());
}

const HEADER_FOR_TESTS: usize = 32;

#[test]
fn hostile_bytes_with_valid_checksums_never_panic() {
    let s = sample_index();
    let bytes = s.to_bytes();
    let mut rng = StdRng::seed_from_u64(3);
    let q = SparseVector::new(vec![0, 1, 2, 5, 9], vec![1.0; 5]).unwrap();
    let mut accepted = 0;
    for _ in 0..3000 {
        let mut b = bytes.clone();
        for _ in 0..rng.random_range(1..4) {
            let at = rng.random_range(8..b.len() - 4);
            b[at] = rng.random();
        }
        if rng.random_bool(0.2) {
            let cut = rng.random_range(0..b.len());
            b.truncate(cut.max(4));
        }
        if let Ok(ix) = SealedSparseIndex::from_bytes(&reseal(b)) {
            accepted += 1;
            ix.search(
                &q,
                SearchParams {
                    k: 5,
                    min_raw: None,
                },
                None,
            );
            ix.search_candidates(
                &q,
                SearchParams {
                    k: 5,
                    min_raw: None,
                },
                &[0, 3, 7, 40],
            );
        }
    }
    // a changed weight or an unchanged byte is still a valid index: some must get through
    assert!(accepted > 0);
}

impl SealedSparseIndex {
    fn terms_and_postings(&self) -> Vec<u8> {
        let mut b = self.to_bytes();
        // row_count may differ between the two builders; compare from the term count on
        // (and so the checksum)
        b.truncate(b.len() - 4);
        b.drain(..16);
        b
    }
}
