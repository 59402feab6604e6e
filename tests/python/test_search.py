"""Search: query_points in all its forms, batches, groups, and the legacy REST search routes,
each answer compared with local mode on the same data.

Two read-only collections are shared by the whole module (built once, for speed): `named` with
four named vectors (Cosine, Euclid, Dot, Manhattan; some points lack some vectors) and `plain`
with one unnamed Cosine vector; several hundred points, mixed int and UUID ids, rich payloads.

Every test runs twice: on server collections whose points stay in the appendable segment
(`appendable`: exact scans) and on ones whose points lie in sealed, HNSW-indexed segments
(`indexed`, see compat.indexed_config): `named` in three batches merged into two segments, with
keyword payload indexes on `city`, `kw` and `nested.b.c` (FLT_CITY is answered from the payload
index, FLT_MIXED, on unindexed fields, by an exact scan of each sealed segment), and `plain` in
two batches folded into one graph. Queries without a filter walk the graphs.
"""

from __future__ import annotations

import numpy as np
import pytest
from qdrant_client import models

from compat import compare_scored, indexed_config, needs_server, unique_name, upsert_indexed
from data import (
    NAMED_VECTORS,
    PLAIN_SIZE,
    make_points,
    named_vectors_config,
    plain_vectors_config,
    random_vector,
)

N_NAMED = 400
N_PLAIN = 300


SEGMENTS = ["appendable", "indexed"]
NAMED_INDEXES = {  # payload indexes of the indexed `named` collection (server side only)
    "city": models.PayloadSchemaType.KEYWORD,
    "kw": models.PayloadSchemaType.KEYWORD,
    "nested.b.c": models.PayloadSchemaType.KEYWORD,
}


@pytest.fixture(scope="module", params=SEGMENTS)
def named(pair, request):
    name = unique_name(f"search_named_{request.param}")
    points = make_points(seed=101, n=N_NAMED)
    if request.param == "appendable":
        pair.create(name, vectors_config=named_vectors_config())
        pair.upsert(name, points[:200])
        pair.upsert(name, points[200:])
    else:
        needs_server()
        pair.local.create_collection(name, vectors_config=named_vectors_config())
        pair.local.upsert(name, points=points)
        # 92 bytes of vectors per point: a threshold of 10 KB seals from 111 points on; three
        # batches make three segments, the two smallest are merged (default_segment_number 2)
        assert pair.remote.create_collection(
            name, vectors_config=named_vectors_config(), **indexed_config(10, segments=2)
        )
        for field, schema in NAMED_INDEXES.items():
            pair.remote.create_payload_index(name, field, field_schema=schema, wait=True)
        upsert_indexed(pair.remote, name, [points[:134], points[134:267], points[267:]])
    yield name, points
    pair.drop(name)


@pytest.fixture(scope="module", params=SEGMENTS)
def plain(pair, request):
    name = unique_name(f"search_plain_{request.param}")
    points = make_points(seed=102, n=N_PLAIN, named=False)
    if request.param == "appendable":
        pair.create(name, vectors_config=plain_vectors_config())
        pair.upsert(name, points)
    else:
        needs_server()
        pair.local.create_collection(name, vectors_config=plain_vectors_config())
        pair.local.upsert(name, points=points)
        # 32 bytes per point: 4 KB seal from 128 points on; the second batch is folded into the
        # first one's graph (no payload indexes)
        assert pair.remote.create_collection(name, vectors_config=plain_vectors_config(), **indexed_config(4))
        upsert_indexed(pair.remote, name, [points[:150], points[150:]])
    yield name, points
    pair.drop(name)


def queries(seed: int, size: int, k: int = 4) -> list[list[float]]:
    rng = np.random.default_rng(seed)
    return [random_vector(rng, size) for _ in range(k)]


def pick_ids(points, k, seed, vector=None):
    """k ids of points that hold `vector` (any point when None)."""
    rng = np.random.default_rng(seed)
    eligible = [p.id for p in points if vector is None or vector in p.vector]
    return [eligible[int(i)] for i in rng.choice(len(eligible), size=k, replace=False)]


VECTOR_NAMES = list(NAMED_VECTORS)
FLT_CITY = models.Filter(must=[models.FieldCondition(key="city", match=models.MatchAny(any=["paris", "rome", "oslo"]))])
FLT_MIXED = models.Filter(
    should=[
        models.FieldCondition(key="n_int", range=models.Range(gte=0)),
        models.FieldCondition(key="flag", match=models.MatchValue(value=True)),
    ],
    must_not=[models.FieldCondition(key="kw", match=models.MatchValue(value="red"))],
)


def test_raw_vector(pair, plain):
    coll, _ = plain
    for i, q in enumerate(queries(1, PLAIN_SIZE)):
        for limit in (1, 10, 57):
            pair.same(lambda c: c.query_points(coll, query=q, limit=limit), ctx=f"query #{i} limit {limit}")
    # a numpy array is a raw vector as well
    q = np.asarray(queries(2, PLAIN_SIZE, 1)[0], dtype=np.float32)
    pair.same(lambda c: c.query_points(coll, query=q, limit=10), ctx="numpy query")
    # NearestQuery spelled out
    pair.same(lambda c: c.query_points(coll, query=models.NearestQuery(nearest=q.tolist()), limit=10), ctx="NearestQuery")


def test_limit_beyond_collection_size(pair, plain):
    coll, _ = plain
    q = queries(3, PLAIN_SIZE, 1)[0]
    lres, _ = pair.same(lambda c: c.query_points(coll, query=q, limit=N_PLAIN + 50), ctx="limit > points")
    assert len(lres.points) == N_PLAIN


@pytest.mark.parametrize("using", VECTOR_NAMES)
def test_named_vector_using(pair, named, using):
    coll, _ = named
    size = NAMED_VECTORS[using][0]
    for i, q in enumerate(queries(10 + size, size)):
        pair.same(lambda c: c.query_points(coll, query=q, using=using, limit=15), ctx=f"{using} query #{i}")
    # every point that holds the vector, in order: points without it never appear
    pair.same(lambda c: c.query_points(coll, query=q, using=using, limit=N_NAMED), ctx=f"{using} all")


@pytest.mark.parametrize("using", VECTOR_NAMES)
def test_point_id_as_query(pair, named, using):
    """query=<point id>: nearest to that point's vector, the point itself excluded."""
    coll, points = named
    for pid in pick_ids(points, 4, 20, using):
        lres, _ = pair.same(lambda c: c.query_points(coll, query=pid, using=using, limit=10), ctx=f"by id {pid!r}")
        assert pid not in [p.id for p in lres.points]
        pair.same(
            lambda c: c.query_points(coll, query=models.NearestQuery(nearest=pid), using=using, limit=5, query_filter=FLT_CITY),
            ctx=f"NearestQuery by id {pid!r} with filter",
        )


@pytest.mark.parametrize(
    "strategy",
    [models.RecommendStrategy.AVERAGE_VECTOR, models.RecommendStrategy.BEST_SCORE, models.RecommendStrategy.SUM_SCORES],
    ids=lambda s: s.value,
)
@pytest.mark.parametrize("examples", ["ids", "vectors", "mixed"])
@pytest.mark.parametrize("using", ["cos", "euc", "dot", "man"])
def test_recommend(pair, named, strategy, examples, using):
    coll, points = named
    size = NAMED_VECTORS[using][0]
    rng = np.random.default_rng(30 + size)
    ids = pick_ids(points, 5, 31 + size, using)
    vecs = [random_vector(rng, size) for _ in range(5)]
    if examples == "ids":
        positive, negative = ids[:3], ids[3:]
    elif examples == "vectors":
        positive, negative = vecs[:3], vecs[3:]
    else:
        positive, negative = [ids[0], vecs[0]], [vecs[1], ids[1]]
    query = models.RecommendQuery(recommend=models.RecommendInput(positive=positive, negative=negative, strategy=strategy))
    pair.same(lambda c: c.query_points(coll, query=query, using=using, limit=12), ctx="recommend")
    pair.same(
        lambda c: c.query_points(coll, query=query, using=using, limit=12, query_filter=FLT_MIXED, with_payload=["kw", "city"]),
        ctx="recommend with filter",
    )
    # positive only
    query = models.RecommendQuery(recommend=models.RecommendInput(positive=positive, strategy=strategy))
    pair.same(lambda c: c.query_points(coll, query=query, using=using, limit=8), ctx="recommend positive only")


@pytest.mark.parametrize("strategy", [models.RecommendStrategy.BEST_SCORE, models.RecommendStrategy.SUM_SCORES], ids=lambda s: s.value)
def test_recommend_negative_only(pair, named, strategy):
    coll, points = named
    ids = pick_ids(points, 2, 40, "cos")
    query = models.RecommendQuery(recommend=models.RecommendInput(negative=ids, strategy=strategy))
    pair.same(lambda c: c.query_points(coll, query=query, using="cos", limit=10), ctx="negative only")


def test_recommend_average_needs_positive(pair, named):
    coll, points = named
    ids = pick_ids(points, 2, 41, "cos")
    query = models.RecommendQuery(
        recommend=models.RecommendInput(negative=ids, strategy=models.RecommendStrategy.AVERAGE_VECTOR)
    )
    pair.both_fail(lambda c: c.query_points(coll, query=query, using="cos", limit=10), ctx="average without positive")


@pytest.mark.parametrize("using", ["cos", "euc", "dot", "man"])
def test_nearest_with_mmr(pair, named, using):
    """MMR re-ranks the nearest candidates; the scores stay the similarities to the query."""
    coll, points = named
    size = NAMED_VECTORS[using][0]
    for i, q in enumerate(queries(190 + size, size, 2)):
        for diversity in (0.0, 0.3, 0.5, 1.0):
            for candidates, limit in ((None, 10), (40, 10), (100, 25), (5, 10)):
                mmr = models.Mmr(diversity=diversity, candidates_limit=candidates)
                query = models.NearestQuery(nearest=q, mmr=mmr)
                pair.same(
                    lambda c: c.query_points(coll, query=query, using=using, limit=limit),
                    ctx=f"mmr #{i} diversity {diversity} candidates {candidates} limit {limit}",
                )
        # default diversity, offset, filter, selectors, a point id as the query
        query = models.NearestQuery(nearest=q, mmr=models.Mmr(candidates_limit=30))
        pair.same(
            lambda c: c.query_points(
                coll, query=query, using=using, limit=8, offset=3, query_filter=FLT_MIXED,
                with_payload=["kw"], with_vectors=["cos"],
            ),
            ctx=f"mmr #{i} with offset, filter and selectors",
        )
    pid = pick_ids(points, 1, 91, using)[0]
    query = models.NearestQuery(nearest=pid, mmr=models.Mmr(diversity=0.6, candidates_limit=30))
    pair.same(lambda c: c.query_points(coll, query=query, using=using, limit=10, with_vectors=True), ctx="mmr by id")


def test_mmr_in_prefetch_and_over_prefetches(pair, named):
    coll, _ = named
    q = queries(92, 8, 1)[0]
    mmr = models.NearestQuery(nearest=q, mmr=models.Mmr(diversity=0.7, candidates_limit=50))
    pair.same(
        lambda c: c.query_points(coll, prefetch=models.Prefetch(query=mmr, using="cos", limit=20), query=queries(93, 6, 1)[0], using="euc", limit=10),
        ctx="mmr as a prefetch",
    )
    pair.same(
        lambda c: c.query_points(coll, prefetch=two_prefetches(), query=mmr, using="cos", limit=10),
        ctx="mmr over prefetches",
    )


def test_mmr_diversity_out_of_range(pair, named):
    coll, _ = named
    q = queries(94, 8, 1)[0]
    pair.both_fail(
        lambda c: c.query_points(coll, query=models.NearestQuery(nearest=q, mmr=models.Mmr(diversity=1.5)), using="cos"),
        ctx="diversity 1.5",
    )


def context_pairs(points, using, seed, n, examples):
    size = NAMED_VECTORS[using][0]
    rng = np.random.default_rng(seed)
    ids = pick_ids(points, 2 * n, seed, using)
    vecs = [random_vector(rng, size) for _ in range(2 * n)]
    if examples == "ids":
        side = ids
    elif examples == "vectors":
        side = vecs
    else:
        side = [ids[i] if i % 2 else vecs[i] for i in range(2 * n)]
    return [models.ContextPair(positive=side[2 * i], negative=side[2 * i + 1]) for i in range(n)]


@pytest.mark.parametrize("examples", ["ids", "vectors", "mixed"])
@pytest.mark.parametrize("using", ["cos", "euc", "dot", "man"])
def test_discover(pair, named, using, examples):
    coll, points = named
    size = NAMED_VECTORS[using][0]
    target_id = pick_ids(points, 1, 95 + size, using)[0]
    target = target_id if examples == "ids" else queries(96 + size, size, 1)[0]
    for n in (1, 3):
        ctx_pairs = context_pairs(points, using, 97 + size + n, n, examples)
        query = models.DiscoverQuery(discover=models.DiscoverInput(target=target, context=ctx_pairs))
        pair.same(lambda c: c.query_points(coll, query=query, using=using, limit=15), ctx=f"discover {n} pairs")
        pair.same(
            lambda c: c.query_points(coll, query=query, using=using, limit=10, offset=2, query_filter=FLT_CITY, with_payload=True),
            ctx=f"discover {n} pairs, filtered",
        )
    # one pair given as an object; no pairs at all
    one = context_pairs(points, using, 98, 1, examples)[0]
    query = models.DiscoverQuery(discover=models.DiscoverInput(target=target, context=one))
    pair.same(lambda c: c.query_points(coll, query=query, using=using, limit=10), ctx="discover one pair")
    query = models.DiscoverQuery(discover=models.DiscoverInput(target=target, context=[]))
    pair.same(lambda c: c.query_points(coll, query=query, using=using, limit=10), ctx="discover no pairs")


@pytest.mark.parametrize("examples", ["ids", "vectors", "mixed"])
@pytest.mark.parametrize("using", ["cos", "euc", "dot", "man"])
def test_context(pair, named, using, examples):
    """Context scores tie at 0 inside the zone: compared as tie groups."""
    coll, points = named
    size = NAMED_VECTORS[using][0]
    for n in (1, 2, 4):
        query = models.ContextQuery(context=context_pairs(points, using, 99 + size + n, n, examples))
        pair.same(lambda c: c.query_points(coll, query=query, using=using, limit=N_NAMED), ctx=f"context {n} pairs")
        pair.same(
            lambda c: c.query_points(coll, query=query, using=using, limit=N_NAMED, query_filter=FLT_MIXED, score_threshold=-0.5),
            ctx=f"context {n} pairs, filtered, threshold",
        )


def test_discover_and_context_in_prefetch(pair, named):
    coll, points = named
    pairs = context_pairs(points, "cos", 100, 2, "mixed")
    discover = models.DiscoverQuery(discover=models.DiscoverInput(target=queries(101, 8, 1)[0], context=pairs))
    pair.same(
        lambda c: c.query_points(coll, prefetch=models.Prefetch(query=discover, using="cos", limit=30), query=queries(102, 5, 1)[0], using="dot", limit=10),
        ctx="discover as a prefetch",
    )
    pair.same(
        lambda c: c.query_points(coll, prefetch=two_prefetches(), query=discover, using="cos", limit=20),
        ctx="discover over prefetches",
    )


def test_context_needs_pairs(pair, named):
    coll, _ = named
    pair.both_fail(lambda c: c.query_points(coll, query=models.ContextQuery(context=[]), using="cos"), ctx="empty context")


@pytest.mark.parametrize("using", ["cos", "euc", "dot", "man"])
def test_relevance_feedback(pair, named, using):
    coll, points = named
    size = NAMED_VECTORS[using][0]
    rng = np.random.default_rng(110 + size)
    ids = pick_ids(points, 3, 111 + size, using)
    vecs = [random_vector(rng, size) for _ in range(3)]
    for target, examples in ((vecs[0], ids), (ids[0], vecs), (vecs[1], [ids[1], vecs[2]])):
        for a, b, c_ in ((1.0, 1.0, 1.0), (0.5, 2.0, 0.3), (0.0, 0.0, 1.0)):
            feedback = [models.FeedbackItem(example=e, score=s) for e, s in zip(examples, (0.9, 0.1, 0.5))]
            query = models.RelevanceFeedbackQuery(
                relevance_feedback=models.RelevanceFeedbackInput(
                    target=target, feedback=feedback,
                    strategy=models.NaiveFeedbackStrategy(naive=models.NaiveFeedbackStrategyParams(a=a, b=b, c=c_)),
                )
            )
            pair.same(lambda c: c.query_points(coll, query=query, using=using, limit=12), ctx=f"feedback a={a} b={b} c={c_}")
    pair.same(
        lambda c: c.query_points(coll, query=query, using=using, limit=12, query_filter=FLT_MIXED),
        ctx="feedback filtered",
    )


def test_sample_random(pair, named):
    """Random on both sides: only the sizes, scores and the filter can agree."""
    coll, _ = named
    for limit, flt in ((5, None), (30, FLT_CITY), (N_NAMED + 10, None)):
        lres, rres = pair.both(
            lambda c: c.query_points(coll, query=models.SampleQuery(sample=models.Sample.RANDOM), query_filter=flt, limit=limit, with_payload=True),
            ctx=f"sample {limit}",
        )
        assert len(lres.points) == len(rres.points), f"sample {limit}: sizes differ"
        assert all(p.score == 1.0 for p in rres.points)
        assert len({str(p.id) for p in rres.points}) == len(rres.points)
        if flt is not None:
            assert all(p.payload.get("city") in ("paris", "rome", "oslo") for p in rres.points)
    # over a prefetch: a random subset of its points
    prefetch = models.Prefetch(query=queries(120, 8, 1)[0], using="cos", limit=7)
    lres, rres = pair.both(
        lambda c: c.query_points(coll, prefetch=prefetch, query=models.SampleQuery(sample=models.Sample.RANDOM), limit=20),
        ctx="sample over a prefetch",
    )
    assert sorted(map(str, (p.id for p in lres.points))) == sorted(map(str, (p.id for p in rres.points)))


def two_prefetches(limit_a=30, limit_b=40, flt=None):
    qa, qb = queries(50, 8, 1)[0], queries(51, 6, 1)[0]
    return [
        models.Prefetch(query=qa, using="cos", limit=limit_a, filter=flt),
        models.Prefetch(query=qb, using="euc", limit=limit_b),
    ]


def test_fusion_rrf(pair, named):
    coll, _ = named
    for limit in (5, 10, 60):
        pair.same(
            lambda c: c.query_points(coll, prefetch=two_prefetches(), query=models.FusionQuery(fusion=models.Fusion.RRF), limit=limit),
            ctx=f"RRF limit {limit}",
        )
    pair.same(
        lambda c: c.query_points(
            coll, prefetch=two_prefetches(flt=FLT_CITY), query=models.FusionQuery(fusion=models.Fusion.RRF),
            limit=10, query_filter=FLT_MIXED, with_payload=True, with_vectors=["man"],
        ),
        ctx="RRF with filters",
    )
    pair.same(
        lambda c: c.query_points(coll, prefetch=two_prefetches(), query=models.FusionQuery(fusion=models.Fusion.RRF), limit=10, offset=5),
        ctx="RRF with offset",
    )


def test_rrf_query_with_k(pair, named):
    coll, _ = named
    for k in (1, 2, 60):
        pair.same(
            lambda c: c.query_points(coll, prefetch=two_prefetches(), query=models.RrfQuery(rrf=models.Rrf(k=k)), limit=15),
            ctx=f"RrfQuery k={k}",
        )


def test_fusion_dbsf(pair, named):
    coll, _ = named
    pair.same(
        lambda c: c.query_points(coll, prefetch=two_prefetches(), query=models.FusionQuery(fusion=models.Fusion.DBSF), limit=15),
        ctx="DBSF",
    )


def test_prefetch_rescore_with_vector(pair, named):
    """Prefetch candidates with one vector, re-score them with another."""
    coll, _ = named
    q_cos = queries(60, 8, 1)[0]
    q_dot = queries(61, 5, 1)[0]
    for limit in (5, 20):
        pair.same(
            lambda c: c.query_points(
                coll,
                prefetch=models.Prefetch(query=queries(62, 6, 1)[0], using="euc", limit=50),
                query=q_cos, using="cos", limit=limit,
            ),
            ctx=f"rescore limit {limit}",
        )
    # two prefetches re-scored together, with a filter on top (propagated into the prefetches)
    pair.same(
        lambda c: c.query_points(coll, prefetch=two_prefetches(20, 20), query=q_dot, using="dot", limit=25, query_filter=FLT_MIXED),
        ctx="rescore of two prefetches with filter",
    )
    # nested prefetch: euc -> man -> cos
    nested = models.Prefetch(
        prefetch=models.Prefetch(query=queries(63, 6, 1)[0], using="euc", limit=100),
        query=queries(64, 4, 1)[0], using="man", limit=40,
    )
    pair.same(lambda c: c.query_points(coll, prefetch=nested, query=q_cos, using="cos", limit=10), ctx="nested prefetch")
    # fusion of a plain and a nested prefetch
    pair.same(
        lambda c: c.query_points(
            coll, prefetch=[nested, models.Prefetch(query=q_dot, using="dot", limit=30)],
            query=models.FusionQuery(fusion=models.Fusion.RRF), limit=10,
        ),
        ctx="RRF over a nested prefetch",
    )


M = models
CITY_PARIS = M.FieldCondition(key="city", match=M.MatchValue(value="paris"))
FORMULAS = {
    "scores": (M.SumExpression(sum=["$score", "$score[1]"]), None),
    "payload_with_defaults": (
        M.MultExpression(mult=["$score", M.SumExpression(sum=[1, "nested.a", M.NegExpression(neg="rank")])]),
        {"nested.a": 0, "rank": 3},
    ),
    "conditions": (
        M.SumExpression(sum=[
            "$score",
            M.MultExpression(mult=[0.5, CITY_PARIS]),
            M.HasVectorCondition(has_vector="man"),
            M.Filter(should=[M.HasIdCondition(has_id=[1, 2, 3]), CITY_PARIS]),
        ]),
        None,
    ),
    "arithmetic": (
        M.SumExpression(sum=[
            M.DivExpression(div=M.DivParams(left="$score", right=M.AbsExpression(abs="$score[1]"), by_zero_default=1.5)),
            M.SqrtExpression(sqrt=M.AbsExpression(abs="$score")),
            M.LnExpression(ln=M.SumExpression(sum=[1, M.AbsExpression(abs="$score[1]")])),
            M.Log10Expression(log10=M.SumExpression(sum=[1, M.PowExpression(pow=M.PowParams(base="$score", exponent=2))])),
            M.ExpExpression(exp=M.NegExpression(neg=M.AbsExpression(abs="$score"))),
        ]),
        None,
    ),
    "decays": (
        M.SumExpression(sum=[
            M.ExpDecayExpression(exp_decay=M.DecayParamsExpression(x="rank", target=200, scale=50)),
            M.LinDecayExpression(lin_decay=M.DecayParamsExpression(x="rank", target="$score", scale=300, midpoint=0.2)),
            M.GaussDecayExpression(gauss_decay=M.DecayParamsExpression(x="score_f", scale=0.4, midpoint=0.7)),
        ]),
        {"rank": 0, "score_f": 0.5},
    ),
    "datetime_and_geo": (
        M.SumExpression(sum=[
            "$score",
            M.GaussDecayExpression(gauss_decay=M.DecayParamsExpression(
                x=M.DatetimeKeyExpression(datetime_key="created"),
                target=M.DatetimeExpression(datetime="2024-01-01T00:00:00Z"),
                scale=86400 * 300,
            )),
            M.ExpDecayExpression(exp_decay=M.DecayParamsExpression(
                x=M.GeoDistance(geo_distance=M.GeoDistanceParams(origin=M.GeoPoint(lat=48.85, lon=2.35), to="loc")),
                scale=2_000_000,
            )),
        ]),
        {"created": "2020-01-01T00:00:00Z", "loc": {"lat": 0.0, "lon": 0.0}},
    ),
}


@pytest.mark.parametrize("name", list(FORMULAS))
def test_formula(pair, named, name):
    coll, _ = named
    formula, defaults = FORMULAS[name]
    query = M.FormulaQuery(formula=formula, defaults=defaults)
    for limit in (5, 40):
        pair.same(lambda c: c.query_points(coll, prefetch=two_prefetches(), query=query, limit=limit), ctx=f"{name} limit {limit}")
    pair.same(
        lambda c: c.query_points(
            coll, prefetch=two_prefetches(), query=query, limit=10, offset=3, query_filter=FLT_MIXED,
            with_payload=["rank", "city"], with_vectors=["dot"],
        ),
        ctx=f"{name} with offset, filter and selectors",
    )


def test_formula_threshold_and_nesting(pair, named):
    coll, _ = named
    query = M.FormulaQuery(formula=M.SumExpression(sum=["$score", "$score[1]"]))
    ref = pair.local.query_points(coll, prefetch=two_prefetches(), query=query, limit=30).points
    threshold = (ref[9].score + ref[10].score) / 2
    pair.same(
        lambda c: c.query_points(coll, prefetch=two_prefetches(), query=query, limit=30, score_threshold=threshold),
        ctx="formula threshold",
    )
    # a formula as a prefetch, fused with a plain one
    inner = M.Prefetch(prefetch=two_prefetches(), query=query, limit=20)
    plain = M.Prefetch(query=queries(130, 5, 1)[0], using="dot", limit=20)
    pair.same(
        lambda c: c.query_points(coll, prefetch=[inner, plain], query=M.FusionQuery(fusion=M.Fusion.RRF), limit=15),
        ctx="formula prefetch fused",
    )


@pytest.mark.parametrize(
    "formula",
    [
        "no_such_key",
        "n_int",  # some points hold several values or none
        M.DivExpression(div=M.DivParams(left=1, right=0)),
        M.SqrtExpression(sqrt=-1),
        M.LnExpression(ln=0),
        M.PowExpression(pow=M.PowParams(base=-8, exponent=0.5)),
        M.ExpExpression(exp=1000),
        "$score[x]",
        M.DatetimeExpression(datetime="not a date"),
        M.LinDecayExpression(lin_decay=M.DecayParamsExpression(x=1, midpoint=1.5)),
        M.ExpDecayExpression(exp_decay=M.DecayParamsExpression(x=1, scale=0)),
    ],
    ids=["missing", "arrays", "div0", "sqrt", "ln", "pow", "exp", "score_pattern", "datetime", "lin_midpoint", "scale"],
)
def test_formula_errors(pair, named, formula):
    coll, _ = named
    query = M.FormulaQuery(formula=formula)
    pair.both_fail(lambda c: c.query_points(coll, prefetch=two_prefetches(), query=query, limit=10), ctx="formula error")


def test_formula_needs_prefetches(pair, named):
    coll, _ = named
    pair.both_fail(lambda c: c.query_points(coll, query=M.FormulaQuery(formula="$score"), limit=10), ctx="no prefetch")


@pytest.mark.parametrize("flt", [FLT_CITY, FLT_MIXED], ids=["city", "mixed"])
def test_filtered_query(pair, named, flt):
    coll, _ = named
    for using in VECTOR_NAMES:
        q = queries(70, NAMED_VECTORS[using][0], 1)[0]
        pair.same(lambda c: c.query_points(coll, query=q, using=using, query_filter=flt, limit=20), ctx=f"{using} filtered")


@pytest.mark.parametrize(
    "params",
    [
        models.SearchParams(hnsw_ef=128),
        models.SearchParams(exact=True),
        models.SearchParams(exact=False),
        models.SearchParams(hnsw_ef=64, exact=False),
    ],
    ids=["hnsw_ef", "exact", "not_exact", "ef_not_exact"],
)
def test_search_params(pair, named, params):
    """Local mode is always exact; on a few hundred points the server must be too."""
    coll, _ = named
    q = queries(80, 8, 1)[0]
    pair.same(lambda c: c.query_points(coll, query=q, using="cos", search_params=params, limit=10), ctx="search_params")
    pair.same(
        lambda c: c.query_points(coll, query=q, using="cos", search_params=params, limit=10, query_filter=FLT_CITY),
        ctx="search_params with filter",
    )


@pytest.mark.parametrize("using", VECTOR_NAMES)
def test_score_threshold(pair, named, using):
    """The threshold is put half-way between two scores, away from any boundary."""
    coll, _ = named
    size = NAMED_VECTORS[using][0]
    for i, q in enumerate(queries(90 + size, size, 2)):
        ref = pair.local.query_points(coll, query=q, using=using, limit=30).points
        for cut in (3, 17):
            threshold = (ref[cut - 1].score + ref[cut].score) / 2
            lres, _ = pair.same(
                lambda c: c.query_points(coll, query=q, using=using, limit=30, score_threshold=threshold),
                ctx=f"{using} #{i} threshold {threshold}",
            )
            assert len(lres.points) == cut


def test_offset(pair, named):
    coll, _ = named
    q = queries(100, 6, 1)[0]
    for offset in (0, 1, 7, 390, 1000):
        pair.same(lambda c: c.query_points(coll, query=q, using="euc", limit=10, offset=offset), ctx=f"offset {offset}")


@pytest.mark.parametrize(
    "with_payload",
    [True, False, ["city", "nested.b.c"], models.PayloadSelectorInclude(include=["items[].name", "loc"]),
     models.PayloadSelectorExclude(exclude=["text", "items[].price", "nested"])],
    ids=["all", "none", "list", "include", "exclude"],
)
@pytest.mark.parametrize("with_vectors", [False, True, ["euc"], ["cos", "man"]], ids=["nov", "allv", "euc", "cos_man"])
def test_with_payload_and_vectors(pair, named, with_payload, with_vectors):
    coll, _ = named
    q = queries(110, 5, 1)[0]
    pair.same(
        lambda c: c.query_points(coll, query=q, using="dot", limit=8, with_payload=with_payload, with_vectors=with_vectors),
        ctx="selectors",
    )


def test_with_vectors_plain(pair, plain):
    coll, _ = plain
    q = queries(111, PLAIN_SIZE, 1)[0]
    pair.same(lambda c: c.query_points(coll, query=q, limit=5, with_vectors=True), ctx="unnamed vectors returned")


def test_query_batch_points(pair, named):
    coll, points = named
    requests = [
        models.QueryRequest(query=queries(120, 8, 1)[0], using="cos", limit=5),
        models.QueryRequest(query=queries(121, 6, 1)[0], using="euc", limit=7, filter=FLT_CITY, with_payload=["city"]),
        models.QueryRequest(query=pick_ids(points, 1, 122, "dot")[0], using="dot", limit=3, with_vector=True),
        models.QueryRequest(
            query=models.RecommendQuery(recommend=models.RecommendInput(positive=pick_ids(points, 2, 123, "man"))),
            using="man", limit=4, offset=2,
        ),
        models.QueryRequest(prefetch=two_prefetches(), query=models.FusionQuery(fusion=models.Fusion.RRF), limit=6),
        models.QueryRequest(query=queries(124, 8, 1)[0], using="cos", limit=5, score_threshold=0.5, with_payload=False),
    ]
    lres, _ = pair.same(lambda c: c.query_batch_points(coll, requests=requests), ctx="query_batch_points")
    assert len(lres) == len(requests)


@pytest.mark.parametrize("group_by", ["city", "kw", "n_int", "nested.b.c"])
def test_query_points_groups(pair, named, group_by):
    coll, _ = named
    for i, (limit, group_size) in enumerate([(3, 1), (5, 3), (20, 2)]):
        q = queries(130 + i, 8, 1)[0]
        pair.same(
            lambda c: c.query_points_groups(coll, group_by=group_by, query=q, using="cos", limit=limit, group_size=group_size),
            ctx=f"groups by {group_by} limit {limit} size {group_size}",
        )
    q = queries(140, 4, 1)[0]
    pair.same(
        lambda c: c.query_points_groups(
            coll, group_by=group_by, query=q, using="man", limit=4, group_size=3,
            query_filter=FLT_MIXED, with_payload=["city", "kw"], with_vectors=["man"],
        ),
        ctx=f"groups by {group_by} with filter and selectors",
    )


# --------------------------------------------------------------------------- legacy REST routes
# qdrant-client 1.20 only calls /points/query; the v1.18 spec still has /points/search,
# /points/search/batch and /points/recommend, which older clients and integrations use. They are
# called with raw HTTP and compared with local mode's query_points for the same query.


def parse_scored(items) -> list[models.ScoredPoint]:
    return [models.ScoredPoint(**item) for item in items]


def post(http, path, body):
    response = http.post(path, json=body)
    assert response.status_code == 200, f"POST {path}: {response.status_code} {response.text[:500]}"
    payload = response.json()
    assert payload.get("status") == "ok", payload
    return payload["result"]


def filter_json(flt: models.Filter) -> dict:
    return flt.model_dump(mode="json", exclude_none=True, by_alias=True)


@pytest.mark.parametrize("using", VECTOR_NAMES)
def test_legacy_search(pair, named, http, using):
    coll, _ = named
    size = NAMED_VECTORS[using][0]
    q = queries(150 + size, size, 1)[0]
    body = {"vector": {"name": using, "vector": q}, "limit": 10, "with_payload": True, "with_vector": False}
    remote = parse_scored(post(http, f"/collections/{coll}/points/search", body))
    local = pair.local.query_points(coll, query=q, using=using, limit=10, with_payload=True).points
    compare_scored(local, remote, f"legacy search {using}")

    body = {
        "vector": {"name": using, "vector": q}, "limit": 5, "offset": 3, "filter": filter_json(FLT_MIXED),
        "with_payload": ["city"], "with_vector": [using], "score_threshold": None,
    }
    remote = parse_scored(post(http, f"/collections/{coll}/points/search", body))
    local = pair.local.query_points(
        coll, query=q, using=using, limit=5, offset=3, query_filter=FLT_MIXED, with_payload=["city"], with_vectors=[using]
    ).points
    compare_scored(local, remote, f"legacy search {using} with filter")


def test_legacy_search_unnamed(pair, plain, http):
    coll, _ = plain
    q = queries(160, PLAIN_SIZE, 1)[0]
    body = {"vector": q, "limit": 10, "with_payload": False, "with_vector": True}
    remote = parse_scored(post(http, f"/collections/{coll}/points/search", body))
    local = pair.local.query_points(coll, query=q, limit=10, with_payload=False, with_vectors=True).points
    compare_scored(local, remote, "legacy search unnamed")


def test_legacy_search_batch(pair, named, http):
    coll, _ = named
    searches = []
    expected = []
    for i, using in enumerate(VECTOR_NAMES):
        q = queries(170 + i, NAMED_VECTORS[using][0], 1)[0]
        searches.append({"vector": {"name": using, "vector": q}, "limit": 4 + i, "with_payload": True,
                         "filter": filter_json(FLT_CITY)})
        expected.append(pair.local.query_points(coll, query=q, using=using, limit=4 + i, query_filter=FLT_CITY).points)
    result = post(http, f"/collections/{coll}/points/search/batch", {"searches": searches})
    assert len(result) == len(expected)
    for i, (local, items) in enumerate(zip(expected, result)):
        compare_scored(local, parse_scored(items), f"legacy search batch #{i}")


@pytest.mark.parametrize("strategy", ["average_vector", "best_score", "sum_scores"])
def test_legacy_recommend(pair, named, http, strategy):
    coll, points = named
    ids = pick_ids(points, 4, 180, "euc")
    vec = queries(181, 6, 1)[0]
    body = {
        "positive": [ids[0], ids[1], vec], "negative": [ids[2]], "strategy": strategy,
        "using": "euc", "limit": 10, "with_payload": True, "filter": filter_json(FLT_MIXED),
    }
    remote = parse_scored(post(http, f"/collections/{coll}/points/recommend", body))
    query = models.RecommendQuery(
        recommend=models.RecommendInput(
            positive=[ids[0], ids[1], vec], negative=[ids[2]], strategy=models.RecommendStrategy(strategy)
        )
    )
    local = pair.local.query_points(coll, query=query, using="euc", limit=10, query_filter=FLT_MIXED).points
    compare_scored(local, remote, f"legacy recommend {strategy}")
