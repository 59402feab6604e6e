#!/usr/bin/env python3
"""Embedding-like data for `rustvecdb bench ann`: high-dimensional, anisotropic, normalised.

Real text and image embeddings are not isotropic noise: a few directions carry most of the
variance and points gather in many loose topics. This draws, from numpy.random.default_rng(7):
`--topics` centres and then points (a uniformly chosen centre plus noise of `--noise` times its
scale) in a latent space whose axis `i` has standard deviation 1 / sqrt(1 + i / 32) (a falling
spectrum), turned by one random rotation (so the principal axes are not the coordinates),
normalised to unit length; n base points, then 1,000 queries drawn the same way. Truth: the
exact top-10 by cosine (float32 candidates re-ranked in float64).

Files (under --data, default bench/data/embeddings-<dim>d-<n/1000>k): base.fvecs, queries.fvecs,
truth.ivecs, as bench/ann.py writes them. Then, for example:

    D=bench/data/embeddings-1024d-100k
    target/release/rustvecdb bench ann --base $D/base.fvecs --queries $D/queries.fvecs \\
      --truth $D/truth.ivecs --distance Cosine --threads 2 --index-cache $D/index.bin \\
      --quantization binary --query-encoding scalar8bits --oversampling 1,2,4

Usage: bench/embeddings.py [--n 100000] [--dim 1024]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from ann import write_vecs  # bench/ann.py, beside this script

ROOT = Path(__file__).resolve().parent.parent
NQ, K = 1000, 10


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=1024)
    ap.add_argument("--topics", type=int, default=2000)
    ap.add_argument("--noise", type=float, default=0.6)
    ap.add_argument("--data", type=Path, default=None)
    a = ap.parse_args()
    data = a.data or ROOT / "bench/data" / f"embeddings-{a.dim}d-{a.n // 1000}k"
    data.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    rng = np.random.default_rng(7)
    scale = (1.0 / np.sqrt(1.0 + np.arange(a.dim) / 32.0)).astype(np.float32)
    rotation, _ = np.linalg.qr(rng.standard_normal((a.dim, a.dim)))
    rotation = rotation.astype(np.float32)
    centres = (rng.standard_normal((a.topics, a.dim)) * scale).astype(np.float32)

    def draw(count: int, chunk: int = 20_000) -> np.ndarray:
        out = np.empty((count, a.dim), dtype=np.float32)
        for s in range(0, count, chunk):
            m = min(chunk, count - s)
            x = centres[rng.integers(0, a.topics, m)]
            x = x + a.noise * rng.standard_normal((m, a.dim)).astype(np.float32) * scale
            x = x @ rotation
            out[s:s + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
        return out

    base = draw(a.n)
    queries = draw(NQ)
    write_vecs(data / "base.fvecs", base)
    write_vecs(data / "queries.fvecs", queries)
    truth = np.empty((NQ, K), dtype=np.int64)
    for s in range(0, NQ, 100):
        q = queries[s:s + 100]
        scores = q @ base.T
        cand = np.argpartition(-scores, 4 * K, axis=1)[:, : 4 * K]
        for r in range(len(q)):
            c = cand[r]
            exact = base[c].astype(np.float64) @ q[r].astype(np.float64)
            truth[s + r] = c[np.argsort(-exact, kind="stable")[:K]]
    write_vecs(data / "truth.ivecs", truth)
    print(f"# generated {a.n} x {a.dim} in {time.perf_counter() - t:.1f} s -> {data}", file=sys.stderr)


if __name__ == "__main__":
    main()
