"""Facet and the search matrix (pairs and offsets), each answer compared with local mode on the
same data.

Facet: the server, like Qdrant, needs a payload index on the key (keyword, integer or bool here;
local mode needs none), so the server collections get one on every faceted key; the data's
values of those keys are all of the index's type, where local mode and an index count the same.

Search matrix: the sample is random on both sides, so every request asks for a sample at least
as large as the number of matching points: both sides then take every one of them, and the
matrices must agree (neighbours in order up to score ties, scores within the tolerance).

Both run on a collection whose points stay in the appendable segment and on one whose points lie
in sealed, HNSW-indexed segments (the facet then reads sealed segments' payload indexes).
"""

from __future__ import annotations

import pytest
from qdrant_client import models

from compat import (
    compare_scored,
    indexed_config,
    json_equal,
    needs_server,
    unique_name,
    upsert_indexed,
)
from data import NAMED_VECTORS, make_points, named_vectors_config

N = 400
SEGMENTS = ["appendable", "indexed"]
FACET_KEYS = {
    "kw": models.PayloadSchemaType.KEYWORD,
    "city": models.PayloadSchemaType.KEYWORD,
    "tags": models.PayloadSchemaType.KEYWORD,
    "nested.b.c": models.PayloadSchemaType.KEYWORD,
    "items[].name": models.PayloadSchemaType.KEYWORD,
    "n_int": models.PayloadSchemaType.INTEGER,
    "nested.a": models.PayloadSchemaType.INTEGER,
    "flag": models.PayloadSchemaType.BOOL,
}


@pytest.fixture(scope="module", params=SEGMENTS)
def coll(pair, request):
    needs_server()  # the server needs payload indexes that local mode does not model
    name = unique_name(f"facet_matrix_{request.param}")
    points = make_points(seed=303, n=N)
    pair.local.create_collection(name, vectors_config=named_vectors_config())
    pair.local.upsert(name, points=points)
    if request.param == "appendable":
        assert pair.remote.create_collection(name, vectors_config=named_vectors_config())
        for field, schema in FACET_KEYS.items():
            pair.remote.create_payload_index(name, field, field_schema=schema, wait=True)
        pair.remote.upsert(name, points=points, wait=True)
    else:
        assert pair.remote.create_collection(
            name, vectors_config=named_vectors_config(), **indexed_config(10, segments=2)
        )
        for field, schema in FACET_KEYS.items():
            pair.remote.create_payload_index(name, field, field_schema=schema, wait=True)
        # 92 bytes of vectors per point: a threshold of 10 KB seals from 111 points on
        upsert_indexed(pair.remote, name, [points[:134], points[134:267], points[267:]])
    yield name
    pair.drop(name)


def compare_facet(local: models.FacetResponse, remote: models.FacetResponse, ctx: str = "") -> None:
    lh = [[h.value, h.count] for h in local.hits]
    rh = [[h.value, h.count] for h in remote.hits]
    try:
        json_equal(lh, rh)
    except AssertionError as e:
        raise AssertionError(f"{ctx}: {e}\n local {lh}\nremote {rh}") from None


FILTERS = {
    "none": None,
    "city": models.Filter(must=[models.FieldCondition(key="city", match=models.MatchAny(any=["paris", "rome"]))]),
    "range": models.Filter(must=[models.FieldCondition(key="n_float", range=models.Range(gt=0))]),
    "nothing": models.Filter(must=[models.FieldCondition(key="city", match=models.MatchValue(value="nowhere"))]),
}


@pytest.mark.parametrize("key", list(FACET_KEYS))
@pytest.mark.parametrize("flt", list(FILTERS))
def test_facet(pair, coll, key, flt):
    pair.same(
        lambda c: c.facet(coll, key, facet_filter=FILTERS[flt]),
        compare_facet,
        f"facet {key} {flt}",
    )


@pytest.mark.parametrize("limit", [1, 3, 100])
def test_facet_limit(pair, coll, limit):
    pair.same(lambda c: c.facet(coll, "n_int", limit=limit), compare_facet, f"facet limit {limit}")


def _rows_of_pairs(res: models.SearchMatrixPairsResponse) -> dict:
    rows: dict = {}
    for p in res.pairs:
        rows.setdefault(p.a, []).append(models.ScoredPoint(id=p.b, version=0, score=p.score))
    return rows


def compare_pairs(local, remote, ctx: str = "") -> None:
    la = [p.a for p in local.pairs]
    ra = [p.a for p in remote.pairs]
    assert la == ra, f"{ctx}: the sampled points (a) differ\n local {la}\nremote {ra}"
    lr, rr = _rows_of_pairs(local), _rows_of_pairs(remote)
    for a in lr:
        compare_scored(lr[a], rr[a], f"{ctx} a={a!r}")


def compare_offsets(local, remote, ctx: str = "") -> None:
    assert local.ids == remote.ids, f"{ctx}: ids differ\n local {local.ids}\nremote {remote.ids}"
    assert local.offsets_row == remote.offsets_row, f"{ctx}: offsets_row differ"

    def rows(res):
        out: dict = {}
        for r, col, s in zip(res.offsets_row, res.offsets_col, res.scores):
            out.setdefault(r, []).append(models.ScoredPoint(id=res.ids[col], version=0, score=s))
        return out

    lr, rr = rows(local), rows(remote)
    for r in lr:
        compare_scored(lr[r], rr[r], f"{ctx} row {r}")


MATRIX_FILTERS = {
    "city": FILTERS["city"],
    "flag": models.Filter(must=[models.FieldCondition(key="flag", match=models.MatchValue(value=True))]),
    "one": models.Filter(must=[models.FieldCondition(key="city", match=models.MatchValue(value="paris")),
                               models.FieldCondition(key="n_int", match=models.MatchValue(value=3))]),
}


@pytest.mark.parametrize("using", list(NAMED_VECTORS))
@pytest.mark.parametrize("flt", list(MATRIX_FILTERS))
@pytest.mark.parametrize("limit", [1, 4])
def test_search_matrix_pairs(pair, coll, using, flt, limit):
    pair.same(
        lambda c: c.search_matrix_pairs(
            coll, query_filter=MATRIX_FILTERS[flt], limit=limit, sample=N, using=using
        ),
        compare_pairs,
        f"matrix pairs {using} {flt} {limit}",
    )


@pytest.mark.parametrize("using", list(NAMED_VECTORS))
@pytest.mark.parametrize("flt", list(MATRIX_FILTERS))
def test_search_matrix_offsets(pair, coll, using, flt):
    pair.same(
        lambda c: c.search_matrix_offsets(
            coll, query_filter=MATRIX_FILTERS[flt], limit=3, sample=N, using=using
        ),
        compare_offsets,
        f"matrix offsets {using} {flt}",
    )


def test_search_matrix_random_sample_has_the_asked_size(pair, coll):
    for c in (pair.local, pair.remote):
        res = c.search_matrix_offsets(coll, limit=2, sample=20, using="cos")
        assert len(res.ids) == 20 and len(set(res.ids)) == 20
        assert len(res.scores) == 40


def test_search_matrix_of_an_unknown_vector_is_empty(pair, coll):
    pair.same(lambda c: c.search_matrix_pairs(coll, using="nope", sample=N), compare_pairs, "unknown vector")
