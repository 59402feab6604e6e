#!/usr/bin/env python3
"""Through-HTTP benchmark, measured the way shared/BENCHMARKS.md measured a Qdrant 1.18.3 server.

Starts `target/release/rustvecdb` (durable: STORAGE_PATH in a temporary directory, so every
acknowledged batch is fsynced), creates a collection (Euclid, M=16, ef_construct=100), then from
one keep-alive HTTP client with bodies serialised before timing:

1. ingest: PUT /collections/bench/points?wait=true in batches of 1,000 -> points/s;
2. indexing: seconds from the last acknowledged batch until GET /collections/bench says green
   (every sealed segment has its HNSW index);
3. search: one query at a time, POST /points/query with params.hnsw_ef=64 (and --ef values),
   limit 10 -> p50 / p99 latency, QPS, and recall@10 against the exact truth file.

Data: bench/data/clustered-<n/1000>k/{base,queries}.fvecs and truth.ivecs, made by bench/ann.py
(run `bench/ann.py --n 100000` first, or pass --data). Prints one JSON line per measurement.

Usage: bench/http_bench.py [--n 100000] [--ef 32,64,128] [--batch 1000] [--bin target/release/rustvecdb]
"""

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def read_vecs(path, kind):
    import array

    raw = Path(path).read_bytes()
    ints = array.array("i")
    ints.frombytes(raw)
    dim = ints[0]
    rows = []
    step = dim + 1
    if kind == "f":
        floats = array.array("f")
        floats.frombytes(raw)
        for i in range(0, len(ints), step):
            rows.append(floats[i + 1 : i + step].tolist())
    else:
        for i in range(0, len(ints), step):
            rows.append(ints[i + 1 : i + step].tolist())
    return rows


class Client:
    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def call(self, method, path, body=None):
        headers = {"content-type": "application/json"} if body is not None else {}
        self.conn.request(method, path, body=body, headers=headers)
        resp = self.conn.getresponse()
        data = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"{method} {path}: {resp.status} {data[:300]!r}")
        return json.loads(data)


def percentile(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--data", default=None)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--ef", default="32,64,128")
    ap.add_argument("--bin", default=str(ROOT / "target/release/rustvecdb"))
    ap.add_argument("--green-timeout", type=float, default=300)
    args = ap.parse_args()
    data = Path(args.data or ROOT / f"bench/data/clustered-{args.n // 1000}k")
    if not (data / "base.fvecs").exists():
        sys.exit(f"no data in {data}: run bench/ann.py --n {args.n} first")
    base = read_vecs(data / "base.fvecs", "f")[: args.n]
    queries = read_vecs(data / "queries.fvecs", "f")
    truth = read_vecs(data / "truth.ivecs", "i")

    # bodies serialised before timing
    bodies = []
    for start in range(0, len(base), args.batch):
        pts = [{"id": i, "vector": base[i]} for i in range(start, min(start + args.batch, len(base)))]
        bodies.append(json.dumps({"points": pts}))

    storage = tempfile.mkdtemp(prefix="rvdb-bench-")
    env = dict(os.environ, PORT="0", HOST="127.0.0.1", STORAGE_PATH=storage, RUST_LOG="warn")
    proc = subprocess.Popen([args.bin], env=env, stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        port = int(line.strip().rsplit(":", 1)[1])
        c = Client(port)
        # the port opens before the storage is loaded: wait for /readyz
        while True:
            c.conn.request("GET", "/readyz")
            resp = c.conn.getresponse()
            resp.read()
            if resp.status == 200:
                break
            time.sleep(0.01)
        c.call("PUT", "/collections/bench", json.dumps({
            "vectors": {"size": len(base[0]), "distance": "Euclid"},
            "hnsw_config": {"m": 16, "ef_construct": 100},
            **({"optimizers_config": {"indexing_threshold": int(os.environ["RVDB_BENCH_KB"])}} if os.environ.get("RVDB_BENCH_KB") else {}),
        }))
        t0 = time.perf_counter()
        for body in bodies:
            c.call("PUT", "/collections/bench/points?wait=true", body)
        ingest = time.perf_counter() - t0
        print(json.dumps({"bench": "http_ingest", "points": len(base), "batch": args.batch,
                          "seconds": round(ingest, 3), "points_per_s": round(len(base) / ingest)}), flush=True)
        t1 = time.perf_counter()
        while True:
            info = c.call("GET", "/collections/bench")["result"]
            if info["status"] == "green" and info["indexed_vectors_count"] >= len(base) * 0.9:
                break
            if time.perf_counter() - t1 > args.green_timeout:
                raise RuntimeError(f"not green after {args.green_timeout}s: {json.dumps(info)[:400]}")
            time.sleep(0.05)
        green = time.perf_counter() - t1
        print(json.dumps({"bench": "http_green", "seconds_after_last_batch": round(green, 3),
                          "segments": info["segments_count"], "indexed_vectors": info["indexed_vectors_count"]}), flush=True)
        for ef in [int(x) for x in args.ef.split(",")]:
            qbodies = [json.dumps({"query": q, "limit": 10, "params": {"hnsw_ef": ef}}) for q in queries]
            for b in qbodies[:50]:  # warm-up
                c.call("POST", "/collections/bench/points/query", b)
            lat = []
            hits = 0
            for b, t in zip(qbodies, truth):
                s = time.perf_counter()
                r = c.call("POST", "/collections/bench/points/query", b)
                lat.append(time.perf_counter() - s)
                got = {p["id"] for p in r["result"]["points"]}
                hits += len(got & set(t[:10]))
            print(json.dumps({"bench": "http_query", "hnsw_ef": ef, "queries": len(qbodies),
                              "p50_ms": round(percentile(lat, 50) * 1e3, 3),
                              "p99_ms": round(percentile(lat, 99) * 1e3, 3),
                              "qps": round(len(lat) / sum(lat)),
                              "recall_at_10": round(hits / (10 * len(qbodies)), 4)}), flush=True)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        subprocess.run(["rm", "-rf", storage])


if __name__ == "__main__":
    main()
