"""Vector datatypes through qdrant-client: collections created with `datatype=UINT8` or
`FLOAT16`. Local mode accepts the setting but does not apply it (it keeps float32), so the
server is checked two ways: the vectors it reads back are numpy's casts of what was written
(uint8 truncated toward zero and clamped to 0..255, float16 the nearest half), and its query
results, in plain and indexed segments, equal local mode's on a float32 collection holding
those cast vectors and asked with the cast query."""

from __future__ import annotations

import numpy as np
import pytest
from qdrant_client import QdrantClient, models

from compat import SELFCHECK, compare_scored, indexed_config, unique_name, upsert_indexed, vectors_equal

pytestmark = pytest.mark.skipif(SELFCHECK, reason="local mode does not apply datatypes")

DIM = 8


def _cast(dtype: models.Datatype, v: np.ndarray) -> np.ndarray:
    if dtype == models.Datatype.UINT8:
        return np.clip(np.trunc(v), 0, 255).astype(np.float32)
    return v.astype(np.float16).astype(np.float32)


def _inputs(dtype: models.Datatype, rng: np.random.Generator, n: int) -> np.ndarray:
    if dtype == models.Datatype.UINT8:
        return rng.uniform(-20, 280, size=(n, DIM)).astype(np.float32)
    return rng.normal(size=(n, DIM)).astype(np.float32)


CASES = [
    (models.Datatype.UINT8, models.Distance.COSINE),
    (models.Datatype.UINT8, models.Distance.EUCLID),
    (models.Datatype.UINT8, models.Distance.DOT),
    (models.Datatype.FLOAT16, models.Distance.EUCLID),
    (models.Datatype.FLOAT16, models.Distance.DOT),
    (models.Datatype.FLOAT16, models.Distance.MANHATTAN),
]


@pytest.mark.parametrize("dtype,distance", CASES, ids=[f"{d.value}-{m.value}" for d, m in CASES])
def test_cast_vectors_are_stored_and_scored_like_float32_ones_holding_the_casts(
    remote: QdrantClient, local: QdrantClient, dtype, distance
):
    rng = np.random.default_rng(11)
    name = unique_name("dtype")
    vectors = _inputs(dtype, rng, 400)
    remote.create_collection(
        name,
        vectors_config=models.VectorParams(size=DIM, distance=distance, datatype=dtype),
        **indexed_config(threshold_kb=1),
    )
    local.create_collection(name, vectors_config=models.VectorParams(size=DIM, distance=distance))
    assert remote.get_collection(name).config.params.vectors.datatype == dtype

    # the first 100 stay in the appendable segment; queried before and after the rest is indexed
    first = [models.PointStruct(id=i, vector=vectors[i].tolist()) for i in range(100)]
    remote.upsert(name, points=first, wait=True)
    local.upsert(name, points=[models.PointStruct(id=i, vector=_cast(dtype, vectors[i]).tolist()) for i in range(100)])
    queries = _inputs(dtype, rng, 6)

    def compare(ctx: str, n: int):
        got = remote.retrieve(name, ids=list(range(n)), with_vectors=True)
        for p in got:
            vectors_equal(_cast(dtype, vectors[p.id]).tolist(), p.vector, f"{ctx}: point {p.id}")
        for qi, q in enumerate(queries):
            for exact in (True, False):
                params = models.SearchParams(exact=exact, hnsw_ef=64)
                r = remote.query_points(name, query=q.tolist(), limit=10, search_params=params).points
                l_ = local.query_points(name, query=_cast(dtype, q).tolist(), limit=10).points
                compare_scored(l_, r, f"{ctx}: query {qi} exact={exact}")

    compare("appendable", 100)
    rest = [models.PointStruct(id=i, vector=vectors[i].tolist()) for i in range(100, 400)]
    upsert_indexed(remote, name, [rest], before=first)
    local.upsert(
        name, points=[models.PointStruct(id=i, vector=_cast(dtype, vectors[i]).tolist()) for i in range(100, 400)]
    )
    compare("indexed", 400)
