//! Benchmark of the sparse inverted indexes on a synthetic SPLADE-like set: a 30k-term
//! vocabulary drawn with a Zipf-like law (term of rank `r` with weight `1 / (r + 1)^s`),
//! about 100 distinct non-zeros per vector, queries of 20–40 non-zeros, positive weights.
//!
//! ```text
//! cargo run --release -p rvdb-index --example sparse -- [--n 100000] [--queries 1000]
//!     [--brute-queries 100] [--vocab 30000] [--nnz 100] [--zipf 1.0] [--seed 42]
//! ```
//!
//! Prints one JSON object per line: the data set, build times, and for each search path the
//! single-threaded QPS and recall@10 against an exact brute-force scan (1.0 expected: every
//! path is exact), plus the brute-force QPS itself.

use std::collections::HashSet;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rvdb_index::{apply_idf, Scored, SealedSparseIndex, SearchParams, SparseIndex, SparseVector};

struct Args {
    n: usize,
    queries: usize,
    brute_queries: usize,
    vocab: usize,
    nnz: usize,
    zipf: f64,
    seed: u64,
}

fn args() -> Args {
    let mut a = Args {
        n: 100_000,
        queries: 1000,
        brute_queries: 100,
        vocab: 30_000,
        nnz: 100,
        zipf: 1.0,
        seed: 42,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    for pair in argv.chunks(2) {
        let [k, v] = pair else {
            panic!("flags come in pairs: --name value");
        };
        let num = || {
            v.parse::<f64>()
                .unwrap_or_else(|_| panic!("{k}: not a number: {v}"))
        };
        match k.as_str() {
            "--n" => a.n = num() as usize,
            "--queries" => a.queries = num() as usize,
            "--brute-queries" => a.brute_queries = num() as usize,
            "--vocab" => a.vocab = num() as usize,
            "--nnz" => a.nnz = num() as usize,
            "--zipf" => a.zipf = num(),
            "--seed" => a.seed = num() as u64,
            _ => panic!("unknown flag {k}"),
        }
    }
    a
}

/// Samples term ids by a Zipf-like law over a random permutation of the vocabulary (so
/// frequent terms are not simply the low ids).
struct Terms {
    cdf: Vec<f64>,
    perm: Vec<u32>,
}

impl Terms {
    fn new(vocab: usize, s: f64, rng: &mut StdRng) -> Terms {
        let mut acc = 0.0;
        let cdf = (0..vocab)
            .map(|r| {
                acc += 1.0 / ((r + 1) as f64).powf(s);
                acc
            })
            .collect::<Vec<_>>();
        let total = acc;
        let cdf = cdf.into_iter().map(|c| c / total).collect();
        let mut perm: Vec<u32> = (0..vocab as u32).collect();
        for i in (1..perm.len()).rev() {
            perm.swap(i, rng.random_range(0..=i));
        }
        Terms { cdf, perm }
    }

    fn vector(&self, rng: &mut StdRng, nnz: usize) -> SparseVector {
        let mut set = HashSet::with_capacity(nnz * 2);
        let nnz = nnz.min(self.perm.len());
        while set.len() < nnz {
            let u: f64 = rng.random();
            let r = self
                .cdf
                .partition_point(|&c| c < u)
                .min(self.perm.len() - 1);
            set.insert(self.perm[r]);
        }
        let idx: Vec<u32> = set.into_iter().collect();
        // SPLADE-like weights: log(1 + relu(x)), mostly small, a few large
        let vals = idx
            .iter()
            .map(|_| {
                let x: f64 = rng.random::<f64>() * rng.random::<f64>() * 12.0;
                (1.0 + x).ln() as f32 + 0.01
            })
            .collect();
        SparseVector::new(idx, vals).expect("generated vectors are valid")
    }
}

fn brute_force(vectors: &[SparseVector], q: &SparseVector, k: usize) -> Vec<Scored> {
    let mut top = rvdb_index::TopK::new(k);
    for (i, v) in vectors.iter().enumerate() {
        if let Some(raw) = v.dot(q) {
            top.push(i as u32, raw);
        }
    }
    top.into_sorted_vec()
}

fn recall(got: &[Scored], want: &[Scored]) -> f64 {
    if want.is_empty() {
        return 1.0;
    }
    let w: HashSet<u32> = want.iter().map(|s| s.offset).collect();
    got.iter().filter(|s| w.contains(&s.offset)).count() as f64 / want.len() as f64
}

fn main() {
    let a = args();
    let k = 10;
    let mut rng = StdRng::seed_from_u64(a.seed);
    let terms = Terms::new(a.vocab, a.zipf, &mut rng);
    let t = Instant::now();
    let vectors: Vec<SparseVector> = (0..a.n).map(|_| terms.vector(&mut rng, a.nnz)).collect();
    let queries: Vec<SparseVector> = (0..a.queries)
        .map(|_| {
            let nnz = rng.random_range(20..=40);
            terms.vector(&mut rng, nnz)
        })
        .collect();
    let gen_s = t.elapsed().as_secs_f64();
    let postings: usize = vectors.iter().map(SparseVector::len).sum();
    println!(
        "{{\"bench\":\"sparse\",\"what\":\"dataset\",\"n\":{},\"vocab\":{},\"zipf\":{},\"postings\":{},\"avg_nnz\":{:.1},\"queries\":{},\"avg_query_nnz\":{:.1},\"generate_s\":{:.2}}}",
        a.n,
        a.vocab,
        a.zipf,
        postings,
        postings as f64 / a.n as f64,
        a.queries,
        queries.iter().map(SparseVector::len).sum::<usize>() as f64 / a.queries as f64,
        gen_s
    );

    let t = Instant::now();
    let mut mutable = SparseIndex::new();
    for (i, v) in vectors.iter().enumerate() {
        mutable.insert(i as u32, v.clone());
    }
    let insert_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let frozen = mutable.freeze();
    let freeze_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let sealed = SealedSparseIndex::build(
        a.n as u32,
        vectors.iter().enumerate().map(|(i, v)| (i as u32, v)),
    );
    let build_s = t.elapsed().as_secs_f64();
    assert_eq!(frozen, sealed);
    let t = Instant::now();
    let bytes = sealed.to_bytes();
    let encode_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let decoded = SealedSparseIndex::from_bytes(&bytes).expect("round trip");
    let decode_s = t.elapsed().as_secs_f64();
    assert_eq!(decoded, sealed);
    println!(
        "{{\"bench\":\"sparse\",\"what\":\"build\",\"mutable_insert_s\":{insert_s:.3},\"freeze_s\":{freeze_s:.3},\"sealed_build_s\":{build_s:.3},\"terms\":{},\"bytes\":{},\"encode_s\":{encode_s:.3},\"decode_s\":{decode_s:.3}}}",
        sealed.term_count(),
        bytes.len()
    );

    // exact references for the first `brute_queries` queries (unfiltered, and filtered)
    let nb = a.brute_queries.min(a.queries);
    let t = Instant::now();
    let truth: Vec<Vec<Scored>> = queries[..nb]
        .iter()
        .map(|q| brute_force(&vectors, q, k))
        .collect();
    let brute_s = t.elapsed().as_secs_f64();
    println!(
        "{{\"bench\":\"sparse\",\"what\":\"search\",\"path\":\"brute_force\",\"queries\":{nb},\"qps\":{:.1},\"ms_per_query\":{:.3}}}",
        nb as f64 / brute_s,
        brute_s * 1e3 / nb as f64
    );

    let params = SearchParams { k, min_raw: None };
    let report = |path: &str, run: &dyn Fn(&SparseVector) -> Vec<Scored>, truth: &[Vec<Scored>]| {
        let t = Instant::now();
        let mut hits = 0usize;
        for q in &queries {
            hits += run(q).len();
        }
        let s = t.elapsed().as_secs_f64();
        let mut r = 0.0;
        let mut exact = true;
        for (q, want) in queries.iter().zip(truth) {
            let got = run(q);
            r += recall(&got, want);
            exact &= got == *want;
        }
        println!(
            "{{\"bench\":\"sparse\",\"what\":\"search\",\"path\":\"{path}\",\"k\":{k},\"queries\":{},\"qps\":{:.1},\"ms_per_query\":{:.3},\"recall_at_10\":{:.4},\"recall_queries\":{},\"identical_scores\":{exact},\"avg_hits\":{:.1}}}",
            queries.len(),
            queries.len() as f64 / s,
            s * 1e3 / queries.len() as f64,
            r / truth.len().max(1) as f64,
            truth.len(),
            hits as f64 / queries.len() as f64,
        );
    };
    report(
        "mutable_postings",
        &|q| mutable.search(q, params, None),
        &truth,
    );
    report(
        "sealed_postings",
        &|q| sealed.search(q, params, None),
        &truth,
    );

    // a 10% filter through the predicate, and 1% of rows through the candidate path
    let ten = |r: u32| r % 10 == 3;
    let truth10: Vec<Vec<Scored>> = queries[..nb]
        .iter()
        .map(|q| {
            let mut top = rvdb_index::TopK::new(k);
            for (i, v) in vectors.iter().enumerate() {
                if ten(i as u32) {
                    if let Some(raw) = v.dot(q) {
                        top.push(i as u32, raw);
                    }
                }
            }
            top.into_sorted_vec()
        })
        .collect();
    report(
        "sealed_postings_filter_10pct",
        &|q| sealed.search(q, params, Some(&ten)),
        &truth10,
    );
    let one: Vec<u32> = (0..a.n as u32).filter(|r| r % 100 == 7).collect();
    let truth1: Vec<Vec<Scored>> = queries[..nb]
        .iter()
        .map(|q| {
            let mut top = rvdb_index::TopK::new(k);
            for &r in &one {
                if let Some(raw) = vectors[r as usize].dot(q) {
                    top.push(r, raw);
                }
            }
            top.into_sorted_vec()
        })
        .collect();
    report(
        "sealed_candidates_1pct",
        &|q| sealed.search_candidates(q, params, &one),
        &truth1,
    );
    report(
        "sealed_postings_filter_1pct",
        &|q| sealed.search(q, params, Some(&|r: u32| r % 100 == 7)),
        &truth1,
    );

    // the idf modifier: weighting the query is part of each search's cost
    let n_docs = sealed.vector_count();
    let idf_q = |q: &SparseVector| apply_idf(q, n_docs, |t| sealed.document_frequency(t));
    let truth_idf: Vec<Vec<Scored>> = queries[..nb]
        .iter()
        .map(|q| brute_force(&vectors, &idf_q(q), k))
        .collect();
    report(
        "sealed_postings_idf",
        &|q| sealed.search(&idf_q(q), params, None),
        &truth_idf,
    );
}
