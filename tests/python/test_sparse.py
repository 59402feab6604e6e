"""Sparse vectors, each answer compared with local mode on the same data: the collection config,
upsert and retrieve (vectors sorted by index), nearest queries with and without the idf
modifier, with filters and score thresholds, recommend by ids, the legacy search with a named
sparse vector, hybrid queries fusing a dense and a sparse prefetch (rrf, rrf with k, dbsf), and
vector updates and deletes.

The read tests run on a collection whose points stay in the appendable segment and on one whose
points lie in sealed segments (sparse vectors in their immutable inverted index, the dense one
in an HNSW graph).
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from qdrant_client import models

from compat import indexed_config, unique_name
from test_facet_matrix import compare_offsets, compare_pairs

N = 450
SEGMENTS = ["appendable", "indexed"]
DENSE = 4


def sparse_config() -> dict:
    return {
        "text": models.SparseVectorParams(modifier=models.Modifier.IDF),
        "plain": models.SparseVectorParams(
            index=models.SparseIndexParams(full_scan_threshold=50, on_disk=False)
        ),
    }


def random_sparse(rng: np.random.Generator, vocab: int = 40) -> models.SparseVector:
    n = int(rng.integers(0, 7))
    indices = [int(i) for i in rng.choice(vocab, size=n, replace=False)]
    values = [float(v) for v in rng.uniform(0.05, 2.0, size=n)]
    return models.SparseVector(indices=indices, values=values)


def make_points(seed: int, n: int, first_id: int = 0) -> list[models.PointStruct]:
    rng = np.random.default_rng(seed)
    points = []
    for i in range(n):
        vector: dict = {"d": [round(float(x), 4) for x in rng.normal(size=DENSE)]}
        for name in ("text", "plain"):
            if rng.random() < 0.85:
                vector[name] = random_sparse(rng)
        points.append(
            models.PointStruct(
                id=first_id + i,
                vector=vector,
                payload={"g": int(rng.integers(0, 4)), "kw": ["a", "b", "c"][i % 3]},
            )
        )
    return points


def wait_green(client, name: str, dense: int, timeout: float = 60.0) -> None:
    """Until every dense vector lies in an indexed segment (sparse ones are sealed with it)."""
    deadline = time.monotonic() + timeout
    while True:
        info = client.get_collection(name)
        status = getattr(info.status, "value", info.status)
        if status == "green" and info.indexed_vectors_count >= dense and info.segments_count > 1:
            return
        assert time.monotonic() < deadline, f"{name} not indexed in {timeout}s: {info}"
        time.sleep(0.05)


@pytest.fixture(scope="module", params=SEGMENTS)
def coll(pair, request):
    name = unique_name(f"sparse_{request.param}")
    points = make_points(seed=77, n=N)
    dense_config = {"d": models.VectorParams(size=DENSE, distance=models.Distance.DOT)}
    pair.local.create_collection(
        name, vectors_config=dense_config, sparse_vectors_config=sparse_config()
    )
    pair.local.upsert(name, points=points)
    if request.param == "appendable":
        assert pair.remote.create_collection(
            name, vectors_config=dense_config, sparse_vectors_config=sparse_config()
        )
        pair.remote.upsert(name, points=points, wait=True)
    else:
        # 16 bytes of dense vector per point: 2 KB seals from 128 points on
        assert pair.remote.create_collection(
            name,
            vectors_config=dense_config,
            sparse_vectors_config=sparse_config(),
            **indexed_config(2, segments=8),
        )
        for lo in range(0, N, 150):
            pair.remote.upsert(name, points=points[lo : lo + 150], wait=True)
            wait_green(pair.remote, name, dense=min(lo + 150, N))
    yield name
    pair.drop(name)


def queries(seed: int, n: int) -> list[models.SparseVector]:
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        q = random_sparse(rng)
        if q.indices:
            out.append(q)
    return out


def test_collection_config_reports_sparse_vectors(pair, coll):
    lres = pair.local.get_collection(coll).config.params.sparse_vectors
    rres = pair.remote.get_collection(coll).config.params.sparse_vectors
    assert {k: v.model_dump(exclude_none=True) for k, v in lres.items()} == {
        k: v.model_dump(exclude_none=True) for k, v in rres.items()
    }


def test_retrieve_and_scroll_return_sparse_vectors_sorted(pair, coll):
    ids = list(range(0, N, 7))
    pair.same(lambda c: c.retrieve(coll, ids=ids, with_vectors=True), ctx="retrieve")
    pair.same(
        lambda c: c.retrieve(coll, ids=ids, with_vectors=["text"]), ctx="retrieve text only"
    )
    pair.same(
        lambda c: c.scroll(coll, limit=N, with_payload=True, with_vectors=True), ctx="scroll"
    )
    pair.same(
        lambda c: c.count(
            coll,
            count_filter=models.Filter(must=[models.HasVectorCondition(has_vector="plain")]),
        ),
        ctx="count has_vector plain",
    )


@pytest.mark.parametrize("using", ["plain", "text"])
def test_sparse_nearest_queries_match_local_mode(pair, coll, using):
    for i, q in enumerate(queries(5, 25)):
        pair.same(
            lambda c: c.query_points(coll, query=q, using=using, limit=10, with_payload=True),
            ctx=f"{using} query #{i}",
        )
    filters = [
        models.Filter(must=[models.FieldCondition(key="g", match=models.MatchValue(value=2))]),
        models.Filter(must=[models.FieldCondition(key="kw", match=models.MatchAny(any=["a", "c"]))]),
        models.Filter(must_not=[models.HasIdCondition(has_id=list(range(0, N, 2)))]),
    ]
    for i, q in enumerate(queries(6, 10)):
        for j, f in enumerate(filters):
            pair.same(
                lambda c: c.query_points(coll, query=q, using=using, query_filter=f, limit=7),
                ctx=f"{using} filtered query #{i} filter #{j}",
            )
    q = queries(7, 1)[0]
    lres = pair.local.query_points(coll, query=q, using=using, limit=20).points
    if len(lres) > 3:
        threshold = (lres[2].score + lres[3].score) / 2
        pair.same(
            lambda c: c.query_points(coll, query=q, using=using, limit=20, score_threshold=threshold),
            ctx=f"{using} score_threshold",
        )


@pytest.mark.parametrize("using", ["plain", "text"])
def test_sparse_mmr_matches_local_mode(pair, coll, using):
    """Maximal marginal relevance over sparse candidates: the candidates come from the search
    (with IDF on `text`), relevance and similarities are plain dot products (0 without a shared
    index), the points keep their search scores."""
    for i, q in enumerate(queries(12, 6)):
        for diversity in (0.0, 0.5, 0.9):
            pair.same(
                lambda c: c.query_points(
                    coll,
                    query=models.NearestQuery(nearest=q, mmr=models.Mmr(diversity=diversity, candidates_limit=20)),
                    using=using,
                    limit=6,
                    with_vectors=[using],
                ),
                ctx=f"mmr {using} #{i} diversity {diversity}",
            )


def test_sparse_recommend_by_ids(pair, coll):
    for strategy in (
        models.RecommendStrategy.AVERAGE_VECTOR,
        models.RecommendStrategy.BEST_SCORE,
        models.RecommendStrategy.SUM_SCORES,
    ):
        for using in ("plain", "text"):
            pair.same(
                lambda c: c.query_points(
                    coll,
                    query=models.RecommendQuery(
                        recommend=models.RecommendInput(
                            positive=[3, 10], negative=[4], strategy=strategy
                        )
                    ),
                    using=using,
                    limit=10,
                ),
                ctx=f"recommend {strategy} {using}",
            )
    pair.same(
        lambda c: c.query_points(coll, query=11, using="plain", limit=5),
        ctx="nearest by id",
    )


def test_sparse_discover_and_context(pair, coll):
    for using in ("plain", "text"):
        pair.same(
            lambda c: c.query_points(
                coll,
                query=models.DiscoverQuery(
                    discover=models.DiscoverInput(
                        target=5,
                        context=[models.ContextPair(positive=12, negative=13)],
                    )
                ),
                using=using,
                limit=10,
            ),
            ctx=f"discover {using}",
        )
        pair.same(
            lambda c: c.query_points(
                coll,
                query=models.ContextQuery(
                    context=[
                        models.ContextPair(positive=20, negative=21),
                        models.ContextPair(positive=queries(3, 1)[0], negative=22),
                    ]
                ),
                using=using,
                limit=10,
            ),
            ctx=f"context {using}",
        )


@pytest.mark.parametrize("using", ["plain", "text"])
def test_sparse_search_matrix(pair, coll, using):
    """The whole filtered set is sampled on both sides, so the matrices must agree."""
    f = models.Filter(must=[models.FieldCondition(key="g", match=models.MatchValue(value=1))])
    pair.same(
        lambda c: c.search_matrix_offsets(coll, query_filter=f, limit=3, sample=N, using=using),
        compare_offsets,
        f"matrix offsets {using}",
    )
    pair.same(
        lambda c: c.search_matrix_pairs(coll, query_filter=f, limit=2, sample=N, using=using),
        compare_pairs,
        f"matrix pairs {using}",
    )


@pytest.mark.parametrize(
    "fusion",
    [
        models.FusionQuery(fusion=models.Fusion.RRF),
        models.FusionQuery(fusion=models.Fusion.DBSF),
        models.RrfQuery(rrf=models.Rrf(k=10)),
    ],
    ids=["rrf", "dbsf", "rrf_k10"],
)
def test_hybrid_fusion_of_dense_and_sparse_prefetches(pair, coll, fusion):
    rng = np.random.default_rng(9)
    for i, q in enumerate(queries(8, 8)):
        dense = [float(x) for x in rng.normal(size=DENSE)]
        prefetch = [
            models.Prefetch(query=q, using="text", limit=15),
            models.Prefetch(query=dense, using="d", limit=15),
        ]
        pair.same(
            lambda c: c.query_points(coll, prefetch=prefetch, query=fusion, limit=10),
            ctx=f"hybrid #{i}",
        )
        f = models.Filter(must=[models.FieldCondition(key="g", match=models.MatchValue(value=1))])
        pair.same(
            lambda c: c.query_points(coll, prefetch=prefetch, query=fusion, query_filter=f, limit=10),
            ctx=f"hybrid filtered #{i}",
        )


def test_legacy_search_with_a_named_sparse_vector(pair, coll, http):
    q = queries(10, 1)[0]
    body = {
        "vector": {"name": "plain", "vector": {"indices": q.indices, "values": q.values}},
        "limit": 5,
    }
    r = http.post(f"/collections/{coll}/points/search", json=body)
    assert r.status_code == 200, r.text
    got = [(p["id"], p["score"]) for p in r.json()["result"]]
    want = [
        (p.id, p.score)
        for p in pair.local.query_points(coll, query=q, using="plain", limit=5).points
    ]
    assert [i for i, _ in got] == [i for i, _ in want]
    assert all(abs(a[1] - b[1]) < 1e-4 for a, b in zip(got, want))


def test_sparse_writes_validation_updates_and_deletes(pair):
    name = unique_name("sparse_writes")
    try:
        pair.create(name, vectors_config={}, sparse_vectors_config=sparse_config())
        points = [
            models.PointStruct(id=i, vector={"text": random_sparse(np.random.default_rng(i))})
            for i in range(30)
        ]
        pair.upsert(name, points)
        # unsorted input is stored sorted
        pair.upsert(
            name,
            [models.PointStruct(id=100, vector={"text": models.SparseVector(indices=[9, 2, 5], values=[0.9, 0.2, 0.5])})],
        )
        pair.same(lambda c: c.retrieve(name, ids=[100], with_vectors=True), ctx="sorted on storage")
        # malformed vectors are refused by both
        pair.both_fail(
            lambda c: c.upsert(
                name,
                points=[models.PointStruct(id=1, vector={"text": models.SparseVector(indices=[1, 1], values=[1.0, 2.0])})],
                wait=True,
            ),
            ctx="duplicate indices",
        )
        pair.both_fail(
            lambda c: c.upsert(
                name,
                points=[models.PointStruct(id=1, vector={"text": models.SparseVector(indices=[1, 2], values=[1.0])})],
                wait=True,
            ),
            ctx="length mismatch",
        )
        pair.both(
            lambda c: c.update_vectors(
                name,
                points=[
                    models.PointVectors(
                        id=3, vector={"plain": models.SparseVector(indices=[1, 4], values=[1.0, 2.0])}
                    ),
                    models.PointVectors(
                        id=4, vector={"text": models.SparseVector(indices=[7], values=[3.0])}
                    ),
                ],
                wait=True,
            ),
            ctx="update_vectors",
        )
        pair.both(
            lambda c: c.delete_vectors(name, vectors=["text"], points=[5, 6, 7], wait=True),
            ctx="delete_vectors",
        )
        pair.both(lambda c: c.delete(name, points_selector=[8, 9], wait=True), ctx="delete")
        pair.state(name, ctx="after writes")
        for i, q in enumerate(queries(12, 10)):
            for using in ("text", "plain"):
                pair.same(
                    lambda c: c.query_points(name, query=q, using=using, limit=8),
                    ctx=f"after writes {using} #{i}",
                )
    finally:
        pair.drop(name)
