//! `rustvecdb bench sparse` and `rustvecdb bench hybrid`: sparse vectors on a synthetic
//! SPLADE-like set, a 30k-term vocabulary drawn with a Zipf-like law (the term of rank `r` with
//! weight `1 / (r + 1)^s`), about 100 distinct non-zeros per vector, queries of 20–40, positive
//! weights.
//!
//! - `sparse`: the inverted indexes in this process (mutable and sealed, filtered, with IDF):
//!   build times, then single-threaded QPS and recall@10 per search path against an exact
//!   brute-force scan (1.0 expected: every path is exact), plus the brute-force QPS itself.
//! - `hybrid`: the server over HTTP. A collection with a dense vector (clustered, Euclid) and a
//!   sparse one (dot product, IDF with `--idf`), loaded with `wait=true` batches; then, per
//!   number of connections, closed-loop sparse, dense and hybrid queries (prefetch over both,
//!   then RRF or DBSF fusion): throughput, p50/p90/p99/max and recall@10 (sparse and dense
//!   against exact top-10 computed here).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use bytes::Bytes;
use clap::Args;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rvdb_index::{apply_idf, Scored, SealedSparseIndex, SearchParams, SparseIndex, SparseVector};
use serde_json::{json, Value};

use crate::bench_load::{
    call, drive, exact_top, expect_ok, round3, setup, Clustered, Queries, ServerArgs, Writes,
};

/// Samples term ids by a Zipf-like law over a random permutation of the vocabulary (so
/// frequent terms are not simply the low ids).
pub(crate) struct Splade {
    cdf: Vec<f64>,
    perm: Vec<u32>,
}

impl Splade {
    pub(crate) fn new(vocab: usize, s: f64, rng: &mut StdRng) -> Splade {
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
        Splade { cdf, perm }
    }

    /// A vector of `nnz` distinct terms with SPLADE-like weights: `log(1 + relu(x))`, mostly
    /// small, a few large.
    pub(crate) fn vector(&self, rng: &mut StdRng, nnz: usize) -> SparseVector {
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
        let vals = idx
            .iter()
            .map(|_| {
                let x: f64 = rng.random::<f64>() * rng.random::<f64>() * 12.0;
                (1.0 + x).ln() as f32 + 0.01
            })
            .collect();
        SparseVector::new(idx, vals).expect("generated vectors are valid")
    }

    /// A query: 20 to 40 terms.
    pub(crate) fn query(&self, rng: &mut StdRng) -> SparseVector {
        let nnz = rng.random_range(20..=40);
        self.vector(rng, nnz)
    }
}

#[derive(Debug, Args)]
pub struct SparseArgs {
    /// Vectors in the index.
    #[arg(long, default_value_t = 100_000)]
    n: usize,
    /// Queries timed per search path.
    #[arg(long, default_value_t = 1000)]
    queries: usize,
    /// Queries checked against the brute-force scan (recall).
    #[arg(long, default_value_t = 100)]
    brute_queries: usize,
    /// Vocabulary size.
    #[arg(long, default_value_t = 30_000)]
    vocab: usize,
    /// Non-zeros per stored vector.
    #[arg(long, default_value_t = 100)]
    nnz: usize,
    /// Exponent of the Zipf-like term law.
    #[arg(long, default_value_t = 1.0)]
    zipf: f64,
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

/// Exact top-k rows by dot product (rows sharing no term with the query are no match).
fn exact_sparse(vectors: &[SparseVector], q: &SparseVector, k: usize) -> Vec<Scored> {
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

pub fn sparse(a: SparseArgs) -> anyhow::Result<()> {
    if a.n == 0 || a.queries == 0 || a.vocab == 0 {
        bail!("--n, --queries and --vocab must be positive");
    }
    let k = 10;
    let mut rng = StdRng::seed_from_u64(a.seed);
    let terms = Splade::new(a.vocab, a.zipf, &mut rng);
    let t = Instant::now();
    let vectors: Vec<SparseVector> = (0..a.n).map(|_| terms.vector(&mut rng, a.nnz)).collect();
    let queries: Vec<SparseVector> = (0..a.queries).map(|_| terms.query(&mut rng)).collect();
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
        .map(|q| exact_sparse(&vectors, q, k))
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
        .map(|q| exact_sparse(&vectors, &idf_q(q), k))
        .collect();
    report(
        "sealed_postings_idf",
        &|q| sealed.search(&idf_q(q), params, None),
        &truth_idf,
    );
    Ok(())
}

#[derive(Debug, Args)]
pub struct HybridArgs {
    /// Points in the collection.
    #[arg(long, default_value_t = 100_000)]
    n: usize,
    /// Dimension of the dense vector.
    #[arg(long, default_value_t = 128)]
    dim: usize,
    /// Vocabulary of the sparse vector.
    #[arg(long, default_value_t = 30_000)]
    vocab: usize,
    /// Non-zeros per stored sparse vector.
    #[arg(long, default_value_t = 100)]
    nnz: usize,
    /// Give the sparse vector the `idf` modifier (BM25-style weighting by the collection).
    #[arg(long)]
    idf: bool,
    /// Connection counts to measure with (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "1,8")]
    connections: Vec<usize>,
    /// Seconds per measurement.
    #[arg(long, default_value_t = 10.0)]
    secs: f64,
    /// Distinct queries, sent in turn.
    #[arg(long, default_value_t = 64)]
    queries: usize,
    /// Beam width of dense searches (`params.hnsw_ef`).
    #[arg(long, default_value_t = 64)]
    ef: usize,
    /// Candidates each prefetch of a hybrid query gathers.
    #[arg(long, default_value_t = 50)]
    prefetch_limit: usize,
    /// Points per upsert while loading.
    #[arg(long, default_value_t = 500)]
    batch: usize,
    /// A request without an answer after this many seconds counts as a timeout.
    #[arg(long, default_value_t = 2.0)]
    timeout: f64,
    #[command(flatten)]
    server: ServerArgs,
    /// Collection name (dropped and re-created).
    #[arg(long, default_value = "hybrid")]
    collection: String,
}

fn sparse_json(v: &SparseVector) -> Value {
    json!({"indices": v.indices(), "values": v.values()})
}

fn bodies(requests: impl Iterator<Item = Value>) -> Vec<Bytes> {
    requests
        .map(|r| Bytes::from(serde_json::to_vec(&r).expect("serialize")))
        .collect()
}

pub fn hybrid(a: HybridArgs) -> anyhow::Result<()> {
    if a.n == 0 || a.queries == 0 || a.batch == 0 || a.connections.contains(&0) {
        bail!("--n, --queries, --batch and --connections must be positive");
    }
    let (rt, _server, url, t) = setup(&a.server)?;
    let c = &a.collection;
    eprintln!("server: {url}; generating {} points", a.n);
    let mut rng = StdRng::seed_from_u64(7);
    let terms = Splade::new(a.vocab, 1.0, &mut rng);
    let mut dense_gen = Clustered::new(a.dim, 42);
    let dense: Vec<Vec<f32>> = (0..a.n).map(|_| dense_gen.point()).collect();
    let sparse: Vec<SparseVector> = (0..a.n).map(|_| terms.vector(&mut rng, a.nnz)).collect();
    let dense_q: Vec<Vec<f32>> = (0..a.queries).map(|_| dense_gen.point()).collect();
    let sparse_q: Vec<SparseVector> = (0..a.queries).map(|_| terms.query(&mut rng)).collect();

    // exact answers, computed here: the query weighted by IDF over this data when asked
    let weighted: Vec<SparseVector> = if a.idf {
        let mut df: HashMap<u32, usize> = HashMap::new();
        for v in &sparse {
            for &i in v.indices() {
                *df.entry(i).or_default() += 1;
            }
        }
        sparse_q
            .iter()
            .map(|q| apply_idf(q, a.n, |t| df.get(&t).copied().unwrap_or(0)))
            .collect()
    } else {
        sparse_q.clone()
    };
    let sparse_truth: Vec<Vec<u64>> = weighted
        .iter()
        .map(|q| {
            exact_sparse(&sparse, q, 10)
                .iter()
                .map(|s| s.offset as u64)
                .collect()
        })
        .collect();
    let dense_truth: Vec<Vec<u64>> = dense_q
        .iter()
        .map(|q| exact_top(&dense, q, 10.min(a.n)))
        .collect();

    let _ = call(&rt, &t, "DELETE", &format!("/collections/{c}"), Value::Null)?;
    let mut text = json!({});
    if a.idf {
        text["modifier"] = json!("idf");
    }
    expect_ok(
        call(
            &rt,
            &t,
            "PUT",
            &format!("/collections/{c}"),
            json!({"vectors": {"dense": {"size": a.dim, "distance": "Euclid"}},
                   "sparse_vectors": {"text": text},
                   "hnsw_config": {"m": 16, "ef_construct": 100}}),
        ),
        "create the collection",
    )?;
    let began = Instant::now();
    for start in (0..a.n).step_by(a.batch) {
        let end = (start + a.batch).min(a.n);
        let points: Vec<Value> = (start..end)
            .map(|i| {
                json!({"id": i, "vector": {"dense": dense[i], "text": sparse_json(&sparse[i])}})
            })
            .collect();
        expect_ok(
            call(
                &rt,
                &t,
                "PUT",
                &format!("/collections/{c}/points?wait=true"),
                json!({ "points": points }),
            ),
            "upsert",
        )?;
    }
    let loaded = began.elapsed().as_secs_f64();
    let green = Instant::now();
    loop {
        let info = expect_ok(
            call(&rt, &t, "GET", &format!("/collections/{c}"), Value::Null),
            "collection info",
        )?;
        if info["result"]["status"] == "green" {
            break;
        }
        if green.elapsed() > Duration::from_secs(600) {
            bail!("not green after 600 s: {}", info["result"]);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    println!(
        "{}",
        json!({"bench": "hybrid", "run": "setup", "points": a.n, "dim": a.dim,
               "vocab": a.vocab, "nnz": a.nnz, "idf": a.idf,
               "ingest_seconds": round3(loaded),
               "green_seconds_after_ingest": round3(green.elapsed().as_secs_f64())})
    );

    let ef = json!({"hnsw_ef": a.ef});
    let pl = a.prefetch_limit;
    let hybrid = |fusion: &'static str| {
        bodies((0..a.queries).map(|i| {
            json!({"prefetch": [
                       {"query": dense_q[i], "using": "dense", "limit": pl, "params": ef},
                       {"query": sparse_json(&sparse_q[i]), "using": "text", "limit": pl}],
                   "query": {"fusion": fusion}, "limit": 10})
        }))
    };
    let no_truth = vec![Vec::new(); a.queries];
    let kinds: Vec<(&str, Queries)> = vec![
        (
            "sparse",
            Queries {
                bodies: bodies(
                    sparse_q
                        .iter()
                        .map(|q| json!({"query": sparse_json(q), "using": "text", "limit": 10})),
                ),
                truth: sparse_truth,
            },
        ),
        (
            "dense",
            Queries {
                bodies: bodies(
                    dense_q
                        .iter()
                        .map(|q| json!({"query": q, "using": "dense", "limit": 10, "params": ef})),
                ),
                truth: dense_truth,
            },
        ),
        (
            "hybrid-rrf",
            Queries {
                bodies: hybrid("rrf"),
                truth: no_truth.clone(),
            },
        ),
        (
            "hybrid-dbsf",
            Queries {
                bodies: hybrid("dbsf"),
                truth: no_truth,
            },
        ),
    ];
    let path = format!("/collections/{c}/points/query");
    let timeout = Duration::from_secs_f64(a.timeout);
    let no_writes = Writes::none();
    for (kind, qs) in kinds {
        let qs = Arc::new(qs);
        // warm-up: caches, connections, the allocator
        let _ = drive(&rt, &t, &path, &qs, 4, &no_writes, 1.0, timeout);
        for &conns in &a.connections {
            let (s, _, secs) = drive(&rt, &t, &path, &qs, conns, &no_writes, a.secs, timeout);
            println!(
                "{}",
                s.line(
                    kind,
                    conns,
                    secs,
                    json!({"bench": "hybrid", "n": a.n, "idf": a.idf, "hnsw_ef": a.ef,
                           "prefetch_limit": pl})
                )
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splade_vectors_have_the_asked_non_zeros_and_positive_weights() {
        let mut rng = StdRng::seed_from_u64(1);
        let terms = Splade::new(1000, 1.0, &mut rng);
        let v = terms.vector(&mut rng, 50);
        assert_eq!(v.len(), 50);
        assert!(v.values().iter().all(|&x| x > 0.0));
        assert!(v.indices().iter().all(|&i| i < 1000));
        let q = terms.query(&mut rng);
        assert!((20..=40).contains(&q.len()));
    }

    #[test]
    fn exact_sparse_ranks_by_dot_product_and_skips_disjoint_rows() {
        let v = |i: Vec<u32>, x: Vec<f32>| SparseVector::new(i, x).unwrap();
        let rows = vec![
            v(vec![1, 2], vec![1.0, 1.0]),
            v(vec![3], vec![5.0]),
            v(vec![2], vec![3.0]),
        ];
        let top = exact_sparse(&rows, &v(vec![2], vec![1.0]), 10);
        let ids: Vec<u32> = top.iter().map(|s| s.offset).collect();
        assert_eq!(ids, vec![2, 0]);
    }
}
