#!/usr/bin/env python3
"""HNSW benchmark: rustvecdb against hnswlib, side by side in one run.

1. Generates the data set of shared/BENCHMARKS.md deterministically (numpy default_rng(42)):
   1,000 centres ~ N(0, 1) in 128-d, each with sigma ~ U(0.9, 1.3); a point is a uniformly chosen
   centre plus N(0, sigma^2) noise; n base points, then 1,000 queries drawn the same way; then a
   keyword label per base point and per query (100 values, uniform) from the same generator.
   Exact top-10 (Euclid) truth in blocks with numpy (float32 candidates, re-ranked in float64),
   and the exact top-10 among the base points that share the query's label.
2. Builds hnswlib (M, ef_construction, threads as given) and measures its build time and its
   single-thread QPS per ef, both one query per knn_query call and all queries in one call with
   num_threads=1 (the fair basis: no Python per query), median of 3 passes.
3. Runs `target/release/rustvecdb bench ann` on the same files (build timed in process; QPS one
   query at a time on one thread, median of 3 passes), and prints the ratios.

Files (under --data, default bench/data/clustered-<n>):
  base.fvecs, queries.fvecs     records: little-endian i32 dimension, then that many f32
  truth.ivecs                   per query: the 10 exact nearest base rows, best first
  labels.ivecs                  per base row: one i32, its label (0..99)
  filtered_truth.ivecs          per query: its label, then the 10 exact nearest rows with it

Usage: bench/ann.py [--n 100000|1000000] [--threads 1,2] [--skip-gen] [--ef 16,24,...]
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

# The environment pins OpenBLAS to an old core type, which slows numpy's matrix products on this
# CPU. Unset it for this process only (it must happen before numpy loads OpenBLAS); the child
# processes get the environment as it was.
CHILD_ENV = dict(os.environ)
for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
    os.environ.pop(var, None)

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DIM = 128
CENTRES = 1000
NQ = 1000
K = 10
LABELS = 100


def write_vecs(path, arr):
    arr = np.ascontiguousarray(arr)
    n, d = arr.shape
    out = np.empty((n, d + 1), dtype=np.int32)
    out[:, 0] = d
    out[:, 1:] = arr.view(np.int32) if arr.dtype == np.float32 else arr.astype(np.int32)
    out.tofile(path)


def read_vecs(path, dtype):
    raw = np.fromfile(path, dtype=np.int32)
    d = raw[0]
    rows = raw.reshape(-1, d + 1)[:, 1:]
    return np.ascontiguousarray(rows).view(dtype) if dtype == np.float32 else rows


def exact_topk(queries, base, k, block=50_000):
    """Exact top-k Euclid: float32 candidates from |x|^2 - 2 q.x per block, re-ranked in
    float64."""
    extra = k + 20
    cand_d = np.full((len(queries), 0), np.inf, dtype=np.float32)
    cand_i = np.zeros((len(queries), 0), dtype=np.int64)
    for start in range(0, len(base), block):
        b = base[start:start + block]
        d = (b * b).sum(axis=1)[None, :] - 2.0 * (queries @ b.T)
        take = min(extra, b.shape[0])
        idx = np.argpartition(d, take - 1, axis=1)[:, :take]
        cand_d = np.concatenate([cand_d, np.take_along_axis(d, idx, axis=1)], axis=1)
        cand_i = np.concatenate([cand_i, idx + start], axis=1)
        if cand_d.shape[1] > extra:
            keep = np.argpartition(cand_d, extra - 1, axis=1)[:, :extra]
            cand_d = np.take_along_axis(cand_d, keep, axis=1)
            cand_i = np.take_along_axis(cand_i, keep, axis=1)
    q64 = queries.astype(np.float64)
    out = np.empty((len(queries), k), dtype=np.int64)
    for i in range(len(queries)):
        c = cand_i[i]
        dist = ((base[c].astype(np.float64) - q64[i]) ** 2).sum(axis=1)
        order = np.lexsort((c, dist))[:k]
        out[i] = c[order]
    return out


def generate(n, data):
    data.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    rng = np.random.default_rng(42)
    centres = rng.standard_normal((CENTRES, DIM))
    sigma = rng.uniform(0.9, 1.3, CENTRES)

    def draw(count, chunk=100_000):
        which = rng.integers(0, CENTRES, count)
        out = np.empty((count, DIM), dtype=np.float32)
        for s in range(0, count, chunk):
            w = which[s:s + chunk]
            noise = rng.standard_normal((len(w), DIM))
            out[s:s + chunk] = centres[w] + noise * sigma[w, None]
        return out

    base = draw(n)
    queries = draw(NQ)
    labels = rng.integers(0, LABELS, n)
    qlabels = rng.integers(0, LABELS, NQ)
    write_vecs(data / "base.fvecs", base)
    write_vecs(data / "queries.fvecs", queries)
    write_vecs(data / "labels.ivecs", labels[:, None])
    truth = exact_topk(queries, base, K)
    write_vecs(data / "truth.ivecs", truth)
    ftruth = np.empty((NQ, K + 1), dtype=np.int64)
    ftruth[:, 0] = qlabels
    for v in range(LABELS):
        qs = np.nonzero(qlabels == v)[0]
        if len(qs) == 0:
            continue
        rows = np.nonzero(labels == v)[0]
        ftruth[qs, 1:] = rows[exact_topk(queries[qs], base[rows], K)]
    write_vecs(data / "filtered_truth.ivecs", ftruth)
    print(f"# generated {n} x {DIM} in {time.perf_counter() - t:.1f} s -> {data}", file=sys.stderr)


def recall(got, truth):
    hits = sum(len(set(g[:K]) & set(t[:K])) for g, t in zip(got, truth))
    return hits / (K * len(truth))


def run_hnswlib(base, queries, truth, m, efc, threads, efs):
    import hnswlib

    n = len(base)
    p = hnswlib.Index(space="l2", dim=base.shape[1])
    p.init_index(max_elements=n, ef_construction=efc, M=m, random_seed=100)
    p.set_num_threads(threads)
    t = time.perf_counter()
    p.add_items(base, np.arange(n), num_threads=threads)
    build = time.perf_counter() - t
    rows = []
    for ef in efs:
        p.set_ef(ef)
        got, _ = p.knn_query(queries, k=K, num_threads=1)  # warm-up and recall
        rec = recall(got, truth)
        batch = []
        for _ in range(3):
            t = time.perf_counter()
            p.knn_query(queries, k=K, num_threads=1)
            batch.append(time.perf_counter() - t)
        single = []
        for _ in range(3):
            t = time.perf_counter()
            for q in queries:
                p.knn_query(q, k=K, num_threads=1)
            single.append(time.perf_counter() - t)
        rows.append({
            "ef": ef,
            "recall_at_10": rec,
            "qps_batch": len(queries) / sorted(batch)[1],
            "qps_single_call": len(queries) / sorted(single)[1],
        })
    return build, rows


def run_faiss(base, queries, truth, m, efc, efs, threads):
    """faiss's graph on 8-bit scalar codes (IndexHNSWSQ) and IVF-PQ with exact re-ranking
    (IVF1024,PQ32 = 16x compression at 128-d, RFlat with k_factor 4: the candidates re-ranked
    from the original vectors, as our quantized searches do), QPS on one search thread, all
    queries in one call (median of 3 passes)."""
    import faiss

    d = base.shape[1]
    faiss.omp_set_num_threads(threads)
    out = {}
    t = time.perf_counter()
    hsq = faiss.IndexHNSWSQ(d, faiss.ScalarQuantizer.QT_8bit, m)
    hsq.hnsw.efConstruction = efc
    hsq.train(base)
    hsq.add(base)
    build = time.perf_counter() - t
    ivf = faiss.index_factory(d, "IVF1024,PQ32,RFlat")
    t = time.perf_counter()
    ivf.train(base[:: max(1, len(base) // 100_000)])
    ivf.add(base)
    ivf_build = time.perf_counter() - t
    faiss.omp_set_num_threads(1)

    def measure(index, label, settings):
        rows = []
        for value, apply in settings:
            apply(value)
            _, got = index.search(queries, K)  # warm-up and recall
            rec = recall(got, truth)
            times = []
            for _ in range(3):
                t = time.perf_counter()
                index.search(queries, K)
                times.append(time.perf_counter() - t)
            rows.append({"param": value, "recall_at_10": rec, "qps": len(queries) / sorted(times)[1]})
        out[label] = rows

    measure(hsq, "faiss IndexHNSWSQ 8-bit", [(ef, lambda v: setattr(hsq.hnsw, "efSearch", v)) for ef in efs])
    ivf_inner = faiss.downcast_index(ivf.base_index)
    ivf.k_factor = 4
    measure(ivf, "faiss IVF1024,PQ32 + re-rank x4", [(p, lambda v: setattr(ivf_inner, "nprobe", v)) for p in (4, 8, 16, 32, 64, 128)])
    return {"builds": {"faiss IndexHNSWSQ 8-bit": build, "faiss IVF1024,PQ32 + re-rank x4": ivf_build}, "rows": out}


def run_ours(binary, data, m, efc, threads, efs, extra=()):
    cmd = [
        str(binary), "bench", "ann",
        "--base", str(data / "base.fvecs"),
        "--queries", str(data / "queries.fvecs"),
        "--truth", str(data / "truth.ivecs"),
        "--distance", "Euclid",
        "--m", str(m), "--ef-construct", str(efc),
        "--ef", ",".join(map(str, efs)),
        "--k", str(K), "--threads", str(threads),
        "--filtered-labels", str(data / "labels.ivecs"),
        "--filtered-truth", str(data / "filtered_truth.ivecs"),
        *extra,
    ]
    print("# " + " ".join(cmd), file=sys.stderr)
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=CHILD_ENV).stdout
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return lines


def at_recall(rows, key, target=0.95):
    """QPS interpolated (log-linear in recall) where recall first reaches `target`."""
    pts = sorted((r["recall_at_10"], r[key]) for r in rows)
    for (r0, q0), (r1, q1) in zip(pts, pts[1:]):
        if r0 <= target <= r1 and r1 > r0:
            f = (target - r0) / (r1 - r0)
            return float(np.exp(np.log(q0) + f * (np.log(q1) - np.log(q0))))
    if pts and pts[0][0] >= target:
        return pts[0][1]
    return None


def fmt(x, spec):
    return "—" if x is None else format(x, spec)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000, help="base points (100000 or 1000000)")
    ap.add_argument("--threads", default="1", help="build threads, comma-separated (e.g. 1,2)")
    ap.add_argument("--skip-gen", action="store_true", help="reuse the files already in --data")
    ap.add_argument("--data", type=Path, default=None, help="data dir (default bench/data/clustered-<n>)")
    ap.add_argument("--m", type=int, default=16)
    ap.add_argument("--ef-construct", type=int, default=100)
    ap.add_argument("--ef", default="16,24,32,48,64,96,128,256")
    ap.add_argument("--binary", type=Path, default=ROOT / "target/release/rustvecdb")
    ap.add_argument("--skip-hnswlib", action="store_true")
    ap.add_argument("--quantization", default=None,
                    help="also walk our graph on codes (int8, product, turbo, ...; passed to bench ann)")
    ap.add_argument("--oversampling", default="2", help="with --quantization (comma-separated)")
    ap.add_argument("--faiss", action="store_true",
                    help="also faiss IndexHNSWSQ 8-bit and IVF-PQ with re-ranking (pip install faiss-cpu)")
    a = ap.parse_args()
    data = a.data or ROOT / "bench/data" / f"clustered-{a.n // 1000}k"
    efs = [int(x) for x in a.ef.split(",")]
    if not a.skip_gen or not (data / "filtered_truth.ivecs").exists():
        generate(a.n, data)
    if not a.binary.exists():
        subprocess.run(["cargo", "build", "--release", "--bin", "rustvecdb"], cwd=ROOT, check=True, env=CHILD_ENV)
    try:
        from threadpoolctl import threadpool_info
        print("# numpy BLAS: " + json.dumps([(i.get("internal_api"), i.get("architecture")) for i in threadpool_info()]), file=sys.stderr)
    except ImportError:
        pass
    base = read_vecs(data / "base.fvecs", np.float32)
    queries = read_vecs(data / "queries.fvecs", np.float32)
    truth = read_vecs(data / "truth.ivecs", np.int32)
    results = []
    for threads in [int(t) for t in a.threads.split(",")]:
        if a.skip_hnswlib:
            h_build, h_rows = None, []
        else:
            h_build, h_rows = run_hnswlib(base, queries, truth, a.m, a.ef_construct, threads, efs)
        extra = ["--quantization", a.quantization, "--oversampling", a.oversampling] if a.quantization else []
        ours = run_ours(a.binary, data, a.m, a.ef_construct, threads, efs, extra)
        coded = [r for r in ours if r["mode"] == "plain" and r.get("quantization")]
        ours = [r for r in ours if not r.get("quantization")]
        plain = [r for r in ours if r["mode"] == "plain"]
        filtered = [r for r in ours if r["mode"] == "filtered"]
        o_build = plain[0]["build_seconds"]
        print(f"\n## n={len(base)} dim={base.shape[1]} M={a.m} ef_construct={a.ef_construct} "
              f"build threads={threads}; QPS on one thread\n")
        print(f"build: ours {o_build:.2f} s, hnswlib {fmt(h_build, '.2f')} s, "
              f"ratio {fmt(o_build / h_build if h_build else None, '.2f')} (lower is better); "
              f"ours with group links {filtered[0]['build_seconds']:.2f} s; "
              f"index {plain[0]['index_bytes'] / 1e6:.1f} MB\n")
        print("| ef | recall ours | recall hnswlib | QPS ours | QPS hnswlib batch | QPS hnswlib 1/call | ratio vs batch | ratio vs 1/call | filtered recall | filtered QPS |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        hmap = {r["ef"]: r for r in h_rows}
        fmap = {r["ef"]: r for r in filtered}
        for r in plain:
            h = hmap.get(r["ef"], {})
            f = fmap.get(r["ef"], {})
            hb, hs = h.get("qps_batch"), h.get("qps_single_call")
            print(f"| {r['ef']} | {r['recall_at_10']:.4f} | {fmt(h.get('recall_at_10'), '.4f')} | "
                  f"{r['qps']:.0f} | {fmt(hb, '.0f')} | {fmt(hs, '.0f')} | "
                  f"{fmt(r['qps'] / hb if hb else None, '.2f')} | {fmt(r['qps'] / hs if hs else None, '.2f')} | "
                  f"{fmt(f.get('recall_at_10'), '.4f')} | {fmt(f.get('qps'), '.0f')} |")
        o95 = at_recall(plain, "qps")
        hb95 = at_recall(h_rows, "qps_batch") if h_rows else None
        hs95 = at_recall(h_rows, "qps_single_call") if h_rows else None
        f95 = at_recall(filtered, "qps")
        print(f"\nat recall@10 = 0.95: QPS ours {fmt(o95, '.0f')}, hnswlib batch {fmt(hb95, '.0f')}, "
              f"hnswlib 1/call {fmt(hs95, '.0f')}; ratio vs batch "
              f"{fmt(o95 / hb95 if o95 and hb95 else None, '.2f')}, vs 1/call "
              f"{fmt(o95 / hs95 if o95 and hs95 else None, '.2f')}; filtered QPS {fmt(f95, '.0f')}")
        for o in sorted({r["oversampling"] for r in coded}):
            rows = [r for r in coded if r["oversampling"] == o]
            q95 = at_recall(rows, "qps")
            print(f"ours on {a.quantization} codes, oversampling {o}: " + ", ".join(
                f"ef {r['ef']} recall {r['recall_at_10']:.4f} QPS {r['qps']:.0f}" for r in rows)
                + f"; at recall 0.95: QPS {fmt(q95, '.0f')}, ratio to hnswlib batch "
                f"{fmt(q95 / hb95 if q95 and hb95 else None, '.2f')}, to our f32 {fmt(q95 / o95 if q95 and o95 else None, '.2f')}")
        fa = run_faiss(base, queries, truth, a.m, a.ef_construct, efs, threads) if a.faiss else None
        if fa:
            for label, rows in fa["rows"].items():
                q95 = at_recall(rows, "qps")
                print(f"{label} (build {fa['builds'][label]:.1f} s): " + ", ".join(
                    f"{r['param']} recall {r['recall_at_10']:.4f} QPS {r['qps']:.0f}" for r in rows)
                    + f"; at recall 0.95: QPS {fmt(q95, '.0f')}, ours f32 / it "
                    f"{fmt(o95 / q95 if q95 and o95 else None, '.2f')}")
        results.append({"threads": threads, "ours": ours, "coded": coded, "faiss": fa,
                        "hnswlib": {"build_seconds": h_build, "rows": h_rows}})
    out = data / "results.json"
    out.write_text(json.dumps(results, indent=1))
    print(f"\n# raw results: {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
