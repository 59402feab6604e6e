"""Errors: both sides must refuse the same requests, and the server with the status code Qdrant
uses and an error envelope `{"status": {"error": "..."}, "time": ...}`.

Status codes follow Qdrant: 400 for bad input (wrong dimension, unknown vector name, a body that
doesn't parse), 404 for a missing collection or point, 409 for a collection that already
exists, 422 for a body that parses but fails validation.
"""

from __future__ import annotations

import numpy as np
import pytest
from qdrant_client import models

from compat import error_message, expect_status, needs_server, unique_name
from data import named_vectors_config, random_vector


@pytest.fixture
def dim4(pair, coll):
    pair.create(coll, vectors_config=models.VectorParams(size=4, distance=models.Distance.COSINE))
    rng = np.random.default_rng(301)
    pair.upsert(coll, [models.PointStruct(id=i, vector=random_vector(rng, 4), payload={"i": i}) for i in range(1, 11)])
    return coll


DIM_MESSAGE = "Vector dimension error: expected dim: 4, got 3"


def test_wrong_dimension_upsert(pair, dim4):
    err = pair.both_fail(
        lambda c: c.upsert(dim4, points=[models.PointStruct(id=100, vector=[0.1, 0.2, 0.3])]),
        ctx="upsert dim 3 into dim 4",
    )
    assert DIM_MESSAGE in error_message(err[0]), error_message(err[0])
    expect_status(err[1], (400,), contains=DIM_MESSAGE)
    # a batch with one bad point is refused whole
    rng = np.random.default_rng(302)
    points = [models.PointStruct(id=200 + i, vector=random_vector(rng, 4)) for i in range(3)]
    points.append(models.PointStruct(id=300, vector=[1.0, 2.0, 3.0]))
    err = pair.both_fail(lambda c: c.upsert(dim4, points=points), ctx="batch with a bad point")
    expect_status(err[1], (400,), contains=DIM_MESSAGE)
    pair.state(dim4, "nothing of the refused batch was written")


def test_wrong_dimension_query(pair, dim4):
    err = pair.both_fail(lambda c: c.query_points(dim4, query=[0.1, 0.2, 0.3], limit=3), ctx="query dim 3")
    expect_status(err[1], (400,), contains=DIM_MESSAGE)


def test_wrong_dimension_update_vectors(pair, dim4):
    err = pair.both_fail(
        lambda c: c.update_vectors(dim4, points=[models.PointVectors(id=1, vector=[0.1, 0.2, 0.3])]),
        ctx="update_vectors dim 3",
    )
    expect_status(err[1], (400,), contains=DIM_MESSAGE)
    pair.state(dim4)


@pytest.mark.parametrize(
    "call",
    [
        "get_collection",
        "query_points",
        "upsert",
        "scroll",
        "count",
        "retrieve",
        "delete",
        "set_payload",
        "create_payload_index",
    ],
)
def test_unknown_collection(pair, call):
    name = unique_name("missing")
    calls = {
        "get_collection": lambda c: c.get_collection(name),
        "query_points": lambda c: c.query_points(name, query=[0.1, 0.2, 0.3, 0.4], limit=3),
        "upsert": lambda c: c.upsert(name, points=[models.PointStruct(id=1, vector=[0.1, 0.2, 0.3, 0.4])]),
        "scroll": lambda c: c.scroll(name, limit=3),
        "count": lambda c: c.count(name),
        "retrieve": lambda c: c.retrieve(name, ids=[1]),
        "delete": lambda c: c.delete(name, points_selector=[1]),
        "set_payload": lambda c: c.set_payload(name, payload={"a": 1}, points=[1]),
        "create_payload_index": lambda c: c.create_payload_index(name, "a", field_schema=models.PayloadSchemaType.KEYWORD),
    }
    err = pair.both_fail(calls[call], ctx=f"{call} on a missing collection")
    expect_status(err[1], (404,))
    assert name in error_message(err[1]) or not hasattr(err[1], "status_code"), error_message(err[1])


def test_existing_collection(pair, coll):
    pair.create(coll, vectors_config=models.VectorParams(size=4, distance=models.Distance.DOT))
    err = pair.both_fail(
        lambda c: c.create_collection(coll, vectors_config=models.VectorParams(size=4, distance=models.Distance.DOT)),
        ctx="create an existing collection",
    )
    expect_status(err[1], (409,))
    assert "already exists" in error_message(err[1]), error_message(err[1])


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "1234", "550e8400-e29b-41d4-a716-44665544000Z"])
def test_bad_string_id(pair, dim4, bad_id):
    """A string id must be a UUID; both refuse it, the server with 400 or 422."""
    err = pair.both_fail(
        lambda c: c.upsert(dim4, points=[models.PointStruct(id=bad_id, vector=[0.1, 0.2, 0.3, 0.4])]),
        ctx=f"upsert id {bad_id!r}",
    )
    expect_status(err[1], (400, 422))
    if hasattr(err[1], "status_code"):
        message = error_message(err[1]).lower()
        assert bad_id.lower() in message or "uuid" in message or "id" in message, message
    pair.state(dim4)


@pytest.mark.parametrize("bad_id", [-1, -(2**63), 2**64])
def test_bad_integer_id(pair, dim4, bad_id):
    """Point ids are u64 or UUIDs. Local mode stores any Python int (it doesn't validate them),
    so only the server's answer is checked: 400 or 422 with a message about the id."""
    needs_server()
    with pytest.raises(Exception) as info:
        pair.remote.upsert(dim4, points=[models.PointStruct(id=bad_id, vector=[0.1, 0.2, 0.3, 0.4])])
    expect_status(info.value, (400, 422))
    message = error_message(info.value).lower()
    assert str(bad_id) in message or "id" in message, message
    assert pair.remote.count(dim4).count == 10


def test_unknown_named_vector(pair, coll):
    pair.create(coll, vectors_config=named_vectors_config())
    rng = np.random.default_rng(303)
    pair.upsert(coll, [models.PointStruct(id=1, vector={"cos": random_vector(rng, 8)})])
    err = pair.both_fail(lambda c: c.query_points(coll, query=random_vector(rng, 8), using="nope", limit=3), ctx="query using=nope")
    expect_status(err[1], (400,))
    err = pair.both_fail(
        lambda c: c.upsert(coll, points=[models.PointStruct(id=2, vector={"nope": random_vector(rng, 8)})]),
        ctx="upsert vector nope",
    )
    expect_status(err[1], (400,))
    err = pair.both_fail(
        lambda c: c.update_vectors(coll, points=[models.PointVectors(id=1, vector={"nope": random_vector(rng, 8)})]),
        ctx="update_vectors nope",
    )
    expect_status(err[1], (400,))
    # an unnamed vector where the collection only has named ones
    err = pair.both_fail(
        lambda c: c.upsert(coll, points=[models.PointStruct(id=3, vector=random_vector(rng, 8))]),
        ctx="unnamed vector into a named collection",
    )
    expect_status(err[1], (400,))
    pair.state(coll)


def test_query_by_missing_point_id(pair, dim4):
    err = pair.both_fail(lambda c: c.query_points(dim4, query=987654, limit=3), ctx="query by a missing id")
    expect_status(err[1], (400, 404))


def test_invalid_limits(pair, dim4):
    """Values the client validates itself, or the server refuses."""
    pair.both_fail(lambda c: c.query_points(dim4, query=[0.1, 0.2, 0.3, 0.4], limit=0), ctx="limit 0")
    pair.both_fail(lambda c: c.scroll(dim4, limit=0), ctx="scroll limit 0")
    pair.both_fail(
        lambda c: c.count(dim4, count_filter=models.Filter(min_should=models.MinShould(conditions=[models.HasIdCondition(has_id=[1])], min_count=0))),
        ctx="min_should min_count 0",
    )


def test_invalid_collection_names(pair):
    for name in ("a/b", "x" * 300):
        pair.both_fail(
            lambda c: c.create_collection(name, vectors_config=models.VectorParams(size=4, distance=models.Distance.DOT)),
            ctx=f"create {name[:20]!r}",
        )


# --------------------------------------------------------------------------- raw HTTP


@pytest.mark.parametrize(
    "bad_filter",
    [
        {"must": "not a list"},
        {"must": [{"key": "i", "match": {"value": {"an": "object"}}}]},
        {"must": [{"key": "i", "range": {"gt": "not a number or a date"}}]},
        {"must": [{"nonsense": 1}]},
        {"should": [{"key": "i", "match": {"value": 1}}], "bogus_clause": []},
    ],
    ids=["must_string", "match_object", "range_string", "unknown_condition", "unknown_clause"],
)
def test_malformed_filter(pair, dim4, http, bad_filter):
    for path, body in (
        (f"/collections/{dim4}/points/scroll", {"filter": bad_filter, "limit": 5}),
        (f"/collections/{dim4}/points/count", {"filter": bad_filter, "exact": True}),
        (f"/collections/{dim4}/points/query", {"query": [0.1, 0.2, 0.3, 0.4], "filter": bad_filter, "limit": 3}),
    ):
        response = http.post(path, json=body)
        assert response.status_code == 400, f"POST {path} {bad_filter}: {response.status_code} {response.text[:300]}"
        envelope = response.json()
        assert envelope["status"]["error"], envelope


def test_malformed_json_body(dim4, http):
    response = http.post(f"/collections/{dim4}/points/scroll", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json()["status"]["error"]


def test_error_envelope(dim4, http):
    response = http.get(f"/collections/{unique_name('missing')}")
    assert response.status_code == 404
    body = response.json()
    assert set(body) >= {"status", "time"}, body
    assert isinstance(body["status"]["error"], str) and body["status"]["error"]
