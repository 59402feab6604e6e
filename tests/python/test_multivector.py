"""Multivectors (`multivector_config` with `max_sim`, ColBERT-style late interaction), each answer
compared with local mode on the same data: the collection config, upsert and retrieve/scroll
(Cosine rows normalised), has_vector counts, nearest queries by max_sim with filters, score
thresholds and offsets, recommend (every strategy), discover and context by ids and by inline
multivectors, maximal marginal relevance, the search matrix, a dense prefetch reranked by a multivector (the ColBERT pipeline), the legacy
search's refusal, and writes: validation, vector updates and deletes.

The read tests run on a collection whose points stay in the appendable segment and on one whose
points lie in sealed segments (the dense vector in an HNSW graph, the multivectors scanned
exactly, as with Qdrant's `hnsw_config.m = 0`).
"""

from __future__ import annotations

import numpy as np
import pytest
from qdrant_client import models

from compat import indexed_config, needs_server, unique_name
from test_facet_matrix import compare_offsets, compare_pairs
from test_sparse import wait_green

N = 300
SEGMENTS = ["appendable", "indexed"]
DENSE = 4
DIMS = {"colbert": 4, "e": 3, "dot": 3, "man": 3}


def vectors_config() -> dict:
    multi = models.MultiVectorConfig(comparator=models.MultiVectorComparator.MAX_SIM)
    return {
        "d": models.VectorParams(size=DENSE, distance=models.Distance.DOT),
        "colbert": models.VectorParams(
            size=DIMS["colbert"],
            distance=models.Distance.COSINE,
            multivector_config=multi,
            hnsw_config=models.HnswConfigDiff(m=0),
        ),
        "e": models.VectorParams(
            size=DIMS["e"], distance=models.Distance.EUCLID, multivector_config=multi
        ),
        "dot": models.VectorParams(
            size=DIMS["dot"], distance=models.Distance.DOT, multivector_config=multi
        ),
        "man": models.VectorParams(
            size=DIMS["man"], distance=models.Distance.MANHATTAN, multivector_config=multi
        ),
    }


def random_multi(rng: np.random.Generator, dim: int) -> list[list[float]]:
    rows = int(rng.integers(1, 5))
    # not rounded: sums of few rounded values tie exactly (Manhattan), and local mode breaks a
    # tie cut by the limit its own way
    return [[float(x) for x in rng.normal(size=dim)] for _ in range(rows)]


def make_points(seed: int, n: int) -> list[models.PointStruct]:
    rng = np.random.default_rng(seed)
    points = []
    for i in range(n):
        vector: dict = {"d": [round(float(x), 4) for x in rng.normal(size=DENSE)]}
        for name, dim in DIMS.items():
            if rng.random() < 0.85:
                vector[name] = random_multi(rng, dim)
        points.append(
            models.PointStruct(
                id=i,
                vector=vector,
                payload={"g": int(rng.integers(0, 4)), "kw": ["a", "b", "c"][i % 3]},
            )
        )
    return points


@pytest.fixture(scope="module", params=SEGMENTS)
def coll(pair, request):
    name = unique_name(f"multi_{request.param}")
    points = make_points(seed=91, n=N)
    pair.local.create_collection(name, vectors_config=vectors_config())
    pair.local.upsert(name, points=points)
    if request.param == "appendable":
        assert pair.remote.create_collection(name, vectors_config=vectors_config())
        pair.remote.upsert(name, points=points, wait=True)
    else:
        needs_server()  # local mode has no segments to wait for
        # 16 bytes of dense vector per point: 1 KB seals from 64 points on
        assert pair.remote.create_collection(
            name, vectors_config=vectors_config(), **indexed_config(1, segments=8)
        )
        for lo in range(0, N, 100):
            pair.remote.upsert(name, points=points[lo : lo + 100], wait=True)
            wait_green(pair.remote, name, dense=min(lo + 100, N))
    yield name
    pair.drop(name)


def queries(seed: int, n: int, using: str) -> list[list[list[float]]]:
    rng = np.random.default_rng(seed)
    return [random_multi(rng, DIMS[using]) for _ in range(n)]


def test_collection_config_reports_multivectors(pair, coll):
    lres = pair.local.get_collection(coll).config.params.vectors
    rres = pair.remote.get_collection(coll).config.params.vectors
    for name in DIMS:
        assert lres[name].multivector_config == rres[name].multivector_config, name
        assert (lres[name].size, lres[name].distance) == (rres[name].size, rres[name].distance)
    assert rres["d"].multivector_config is None


def test_retrieve_scroll_and_count_return_multivectors(pair, coll):
    ids = list(range(0, N, 7))
    pair.same(lambda c: c.retrieve(coll, ids=ids, with_vectors=True), ctx="retrieve")
    pair.same(
        lambda c: c.retrieve(coll, ids=ids, with_vectors=["colbert"]), ctx="retrieve colbert only"
    )
    pair.same(
        lambda c: c.scroll(coll, limit=N, with_payload=True, with_vectors=True), ctx="scroll"
    )
    for name in DIMS:
        pair.same(
            lambda c: c.count(
                coll,
                count_filter=models.Filter(must=[models.HasVectorCondition(has_vector=name)]),
            ),
            ctx=f"count has_vector {name}",
        )


@pytest.mark.parametrize("using", list(DIMS))
def test_multivector_nearest_queries_match_local_mode(pair, coll, using):
    for i, q in enumerate(queries(5, 20, using)):
        pair.same(
            lambda c: c.query_points(coll, query=q, using=using, limit=10, with_payload=True),
            ctx=f"{using} query #{i}",
        )
    q = queries(4, 1, using)[0]
    pair.same(
        lambda c: c.query_points(
            coll, query=q, using=using, limit=5, offset=3, with_vectors=[using]
        ),
        ctx=f"{using} offset, with_vectors",
    )
    filters = [
        models.Filter(must=[models.FieldCondition(key="g", match=models.MatchValue(value=2))]),
        models.Filter(must=[models.FieldCondition(key="kw", match=models.MatchAny(any=["a", "c"]))]),
        models.Filter(must_not=[models.HasIdCondition(has_id=list(range(0, N, 2)))]),
    ]
    for i, q in enumerate(queries(6, 8, using)):
        for j, f in enumerate(filters):
            pair.same(
                lambda c: c.query_points(coll, query=q, using=using, query_filter=f, limit=7),
                ctx=f"{using} filtered query #{i} filter #{j}",
            )
    q = queries(7, 1, using)[0]
    lres = pair.local.query_points(coll, query=q, using=using, limit=20).points
    threshold = (lres[4].score + lres[5].score) / 2
    pair.same(
        lambda c: c.query_points(coll, query=q, using=using, limit=20, score_threshold=threshold),
        ctx=f"{using} score_threshold",
    )
    pair.same(lambda c: c.query_points(coll, query=11, using=using, limit=5), ctx="by id")
    pair.same(
        lambda c: c.query_points(
            coll,
            query=11,
            using=using,
            limit=5,
            lookup_from=models.LookupLocation(collection=coll, vector=using),
        ),
        ctx="by id, lookup_from",
    )


@pytest.mark.parametrize("using", list(DIMS))
def test_multivector_recommend_discover_and_context(pair, coll, using):
    for strategy in (
        models.RecommendStrategy.AVERAGE_VECTOR,
        models.RecommendStrategy.BEST_SCORE,
        models.RecommendStrategy.SUM_SCORES,
    ):
        pair.same(
            lambda c: c.query_points(
                coll,
                query=models.RecommendQuery(
                    recommend=models.RecommendInput(
                        positive=[3, queries(8, 1, using)[0]], negative=[4], strategy=strategy
                    )
                ),
                using=using,
                limit=10,
            ),
            ctx=f"recommend {strategy} {using}",
        )
    pair.same(
        lambda c: c.query_points(
            coll,
            query=models.DiscoverQuery(
                discover=models.DiscoverInput(
                    target=5, context=[models.ContextPair(positive=12, negative=13)]
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
                    models.ContextPair(positive=queries(3, 1, using)[0], negative=22),
                ]
            ),
            using=using,
            limit=10,
        ),
        ctx=f"context {using}",
    )


@pytest.mark.parametrize("using", list(DIMS))
def test_multivector_mmr(pair, coll, using):
    """Maximal marginal relevance over multivector candidates, compared by max_sim."""
    for i, q in enumerate(queries(15, 6, using)):
        for diversity in (0.0, 0.5, 0.9):
            pair.same(
                lambda c: c.query_points(
                    coll,
                    query=models.NearestQuery(
                        nearest=q, mmr=models.Mmr(diversity=diversity, candidates_limit=25)
                    ),
                    using=using,
                    limit=8,
                    with_vectors=[using],
                ),
                ctx=f"mmr {using} #{i} diversity {diversity}",
            )


# Not Manhattan: its max_sim ties structurally (a stored row between two query rows in every
# coordinate adds the same L1 sum to both), and local mode, which keeps the given float64 values,
# breaks such near ties by rounding differently from float32 storage; a matrix row of 3 neighbours
# out of ~70 candidates meets one.
@pytest.mark.parametrize("using", ["colbert", "e", "dot"])
def test_multivector_search_matrix(pair, coll, using):
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


def test_multivector_batches_and_groups(pair, coll):
    qc, qe = queries(16, 1, "colbert")[0], queries(17, 1, "e")[0]
    requests = [
        models.QueryRequest(query=qc, using="colbert", limit=5),
        models.QueryRequest(query=qe, using="e", limit=4, offset=1, with_vector=["e"]),
        models.QueryRequest(
            prefetch=models.Prefetch(query=qe, using="e", limit=20),
            query=qc,
            using="colbert",
            limit=6,
        ),
    ]
    pair.same(lambda c: c.query_batch_points(coll, requests=requests), ctx="query batch")
    for group_by, limit, size in [("kw", 3, 2), ("g", 4, 3)]:
        pair.same(
            lambda c: c.query_points_groups(
                coll, group_by=group_by, query=qc, using="colbert", limit=limit, group_size=size
            ),
            ctx=f"groups by {group_by}",
        )


def test_dense_prefetch_reranked_by_a_multivector(pair, coll):
    """The ColBERT pipeline: dense candidates, reranked by late interaction."""
    rng = np.random.default_rng(13)
    f = models.Filter(must=[models.FieldCondition(key="g", match=models.MatchValue(value=1))])
    for i, q in enumerate(queries(14, 8, "colbert")):
        dense = [float(x) for x in rng.normal(size=DENSE)]
        prefetch = models.Prefetch(query=dense, using="d", limit=30)
        pair.same(
            lambda c: c.query_points(
                coll, prefetch=prefetch, query=q, using="colbert", limit=10, with_payload=True
            ),
            ctx=f"rerank #{i}",
        )
        pair.same(
            lambda c: c.query_points(
                coll, prefetch=prefetch, query=q, using="colbert", query_filter=f, limit=5
            ),
            ctx=f"rerank filtered #{i}",
        )


def test_legacy_search_and_mismatched_queries_are_refused(pair, coll, http):
    r = http.post(
        f"/collections/{coll}/points/search",
        json={"vector": {"name": "colbert", "vector": [[1.0, 0.0, 0.0, 0.0]]}, "limit": 5},
    )
    assert r.status_code == 400, r.text
    r = http.post(
        f"/collections/{coll}/points/search",
        json={"vector": {"name": "colbert", "vector": [1.0, 0.0, 0.0, 0.0]}, "limit": 5},
    )
    assert r.status_code == 400 and "is a multivector" in r.text, r.text
    # a dense query for a multivector field: local mode finds no such dense vector
    pair.both_fail(
        lambda c: c.query_points(coll, query=[1.0, 0.0, 0.0, 0.0], using="colbert"),
        ctx="dense query for a multivector",
    )
    pair.both_fail(
        lambda c: c.query_points(coll, query=[[1.0, 0.0, 0.0, 0.0]], using="d"),
        ctx="multivector query for a dense vector",
    )
    # relevance feedback on a multivector: local mode looks for a dense vector and fails
    pair.both_fail(
        lambda c: c.query_points(
            coll,
            query=models.RelevanceFeedbackQuery(
                relevance_feedback=models.RelevanceFeedbackInput(
                    target=[[1.0, 0.0, 0.0, 0.0]],
                    feedback=[
                        models.FeedbackItem(example=3, score=1.0),
                        models.FeedbackItem(example=4, score=0.0),
                    ],
                    strategy=models.NaiveFeedbackStrategy(
                        naive=models.NaiveFeedbackStrategyParams(a=1.0, b=1.0, c=1.0)
                    ),
                )
            ),
            using="colbert",
        ),
        ctx="relevance feedback on a multivector",
    )


def test_multivector_writes_validation_updates_and_deletes(pair):
    name = unique_name("multi_writes")
    try:
        pair.create(name, vectors_config=vectors_config())
        rng = np.random.default_rng(1)
        points = [
            models.PointStruct(
                id=i,
                vector={"colbert": random_multi(rng, 4), "e": random_multi(rng, 3)},
                payload={"i": i},
            )
            for i in range(30)
        ]
        pair.upsert(name, points)
        for ctx, vector in [
            ("a row of the wrong dimension", {"colbert": [[1.0, 0.0, 0.0, 0.0], [1.0, 0.0]]}),
            ("an empty multivector", {"colbert": []}),
            ("an empty row", {"colbert": [[1.0, 0.0, 0.0, 0.0], []]}),
            ("a dense vector for a multivector", {"colbert": [1.0, 0.0, 0.0, 0.0]}),
            ("a multivector for a dense vector", {"d": [[1.0, 0.0, 0.0, 0.0]]}),
        ]:
            pair.both_fail(
                lambda c: c.upsert(
                    name,
                    points=[
                        models.PointStruct(id=100, vector={"e": [[1.0, 2.0, 3.0]]}),
                        models.PointStruct(id=101, vector=vector),
                    ],
                    wait=True,
                ),
                ctx=ctx,
            )
        pair.state(name, ctx="nothing applied by refused batches")
        pair.both(
            lambda c: c.update_vectors(
                name,
                points=[
                    models.PointVectors(id=3, vector={"colbert": [[0.5, 0.5, 0.0, 1.0]]}),
                    models.PointVectors(id=4, vector={"e": [[1.0, 1.0, 1.0], [0.0, 0.0, 2.0]]}),
                ],
                wait=True,
            ),
            ctx="update_vectors",
        )
        pair.both(
            lambda c: c.delete_vectors(name, vectors=["colbert"], points=[5, 6, 7], wait=True),
            ctx="delete_vectors",
        )
        pair.both(lambda c: c.delete(name, points_selector=[8, 9], wait=True), ctx="delete")
        pair.state(name, ctx="after writes")
        for using in DIMS:
            for i, q in enumerate(queries(12, 6, using)):
                pair.same(
                    lambda c: c.query_points(name, query=q, using=using, limit=8),
                    ctx=f"after writes {using} #{i}",
                )
    finally:
        pair.drop(name)
