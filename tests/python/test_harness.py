"""The comparison helpers themselves: they must catch every kind of difference (otherwise a
local-vs-local self-check proves nothing) and accept what is allowed (score ties, tolerances)."""

from __future__ import annotations

import pytest
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import UnexpectedResponse

from compat import (
    Pair,
    check_remote_error,
    compare_records,
    compare_scored,
    compare_scroll,
    json_equal,
    needs_server,
    vector_count,
    wait_indexed,
)
from data import make_points, named_vectors_config


def sp(id_, score, payload=None, vector=None):
    return models.ScoredPoint(id=id_, version=0, score=score, payload=payload, vector=vector)


def fails(fn, *args):
    with pytest.raises(AssertionError):
        fn(*args)


def test_scored_points_differences_are_caught():
    base = [sp(1, 0.9, {"a": 1}, [1.0, 2.0]), sp("00000000-0000-0000-0000-000000000002", 0.8), sp(3, 0.7)]
    compare_scored(base, [sp(1, 0.90000001, {"a": 1}, [1.0, 2.00001]), base[1], base[2]])
    fails(compare_scored, base, [base[1], base[0], base[2]])  # order
    fails(compare_scored, base, base[:2])  # length
    fails(compare_scored, base, [sp(1, 0.91, {"a": 1}, [1.0, 2.0]), base[1], base[2]])  # score
    fails(compare_scored, base, [sp(1, 0.9, {"a": 2}, [1.0, 2.0]), base[1], base[2]])  # payload
    fails(compare_scored, base, [sp(1, 0.9, {"a": True}, [1.0, 2.0]), base[1], base[2]])  # bool vs int
    fails(compare_scored, base, [sp(1, 0.9, {"a": 1.0}, [1.0, 2.0]), base[1], base[2]])  # float vs int
    fails(compare_scored, base, [sp(1, 0.9, {"a": 1}, [1.0, 2.1]), base[1], base[2]])  # vector
    fails(compare_scored, base, [sp(1, 0.9, {"a": 1}, None), base[1], base[2]])  # missing vector
    fails(compare_scored, base, [sp(1, 0.9, None, [1.0, 2.0]), base[1], base[2]])  # missing payload
    fails(compare_scored, base, [sp(1, 0.9, {}, [1.0, 2.0]), base[1], base[2]])  # {} is not None
    fails(compare_scored, base, [base[0], sp(2, 0.8), base[2]])  # int id vs uuid


def test_score_ties_may_come_in_any_order():
    local = [sp(1, 0.5), sp(2, 0.5), sp(3, 0.4), sp(4, 0.3), sp(5, 0.3)]
    compare_scored(local, [sp(2, 0.5), sp(1, 0.5), sp(3, 0.4), sp(4, 0.3), sp(5, 0.3)])
    # a tie cut by the limit: other members are fine
    compare_scored(local, [sp(1, 0.5), sp(2, 0.5), sp(3, 0.4), sp(9, 0.3), sp(5, 0.3)])
    # an inner tie group must hold the same members
    fails(compare_scored, local, [sp(1, 0.5), sp(9, 0.5), sp(3, 0.4), sp(4, 0.3), sp(5, 0.3)])


def test_records_and_scroll():
    a = [models.Record(id=1, payload={"x": [1, {"y": None}]}), models.Record(id=2, payload={})]
    compare_records(a, [models.Record(id=1, payload={"x": [1, {"y": None}]}), models.Record(id=2, payload={})])
    fails(compare_records, a, [models.Record(id=1, payload={"x": [1, {"y": 0}]}), a[1]])
    fails(compare_records, a, [models.Record(id=1, payload={"x": [1, {}]}), a[1]])
    fails(compare_records, a, list(reversed(a)))
    compare_scroll((a, None), (a, None))
    fails(compare_scroll, (a, 3), (a, None))
    fails(compare_records, [models.Record(id=1, order_value=5)], [models.Record(id=1, order_value=6)])


def test_json_equal_nested():
    json_equal({"a": [1, 2.5, "x", None, {"b": False}]}, {"a": [1, 2.5, "x", None, {"b": False}]})
    fails(json_equal, {"a": [1]}, {"a": [1, 1]})
    fails(json_equal, {"a": None}, {})
    fails(json_equal, {"b": False}, {"b": 0})


def test_pair_same_catches_one_sided_errors():
    left, right = QdrantClient(":memory:"), QdrantClient(":memory:")
    pair = Pair(right, left)
    config = models.VectorParams(size=2, distance=models.Distance.DOT)
    left.create_collection("c", vectors_config=config)
    right.create_collection("c", vectors_config=config)
    left.upsert("c", points=[models.PointStruct(id=1, vector=[1.0, 0.0])])
    right.upsert("c", points=[models.PointStruct(id=1, vector=[1.0, 0.0])])
    pair.same(lambda c: c.query_points("c", query=[1.0, 1.0]))
    right.upsert("c", points=[models.PointStruct(id=2, vector=[1.0, 1.0])])
    fails(pair.same, lambda c: c.query_points("c", query=[1.0, 1.0]))
    right.delete_collection("c")
    fails(pair.same, lambda c: c.count("c"))  # the "server" fails, local mode doesn't
    fails(pair.both_fail, lambda c: c.count("c"))  # local mode doesn't fail
    pair.both_fail(lambda c: c.count("missing"))


def test_remote_errors_must_be_4xx():
    check_remote_error(UnexpectedResponse(404, "Not Found", b"{}", {}))
    with pytest.raises(AssertionError):
        check_remote_error(UnexpectedResponse(500, "Internal Server Error", b"{}", {}))
    with pytest.raises(AssertionError):
        check_remote_error(UnexpectedResponse(400, "Bad Request", b"{}", {}), statuses=(404,))


def test_groups_comparison():
    def g(id_, *hits):
        return models.PointGroup(id=id_, hits=[sp(h, s) for h, s in hits])

    local = models.GroupsResult(groups=[g("a", (1, 0.9)), g("b", (1, 0.9), (2, 0.5)), g("c", (3, 0.4)), g(1, (4, 0.3))])
    same_but_tied_order = models.GroupsResult(groups=[local.groups[1], local.groups[0], local.groups[2], local.groups[3]])
    from compat import compare_groups

    compare_groups(local, same_but_tied_order)
    fails(compare_groups, local, models.GroupsResult(groups=local.groups[:3]))
    fails(compare_groups, local, models.GroupsResult(groups=[local.groups[0], local.groups[1], local.groups[3], local.groups[2]]))
    fails(compare_groups, local, models.GroupsResult(groups=local.groups[:3] + [g("1", (4, 0.3))]))  # 1 vs "1"
    fails(compare_groups, local, models.GroupsResult(groups=[local.groups[0], g("b", (1, 0.9)), local.groups[2], local.groups[3]]))


def test_compare_auto_dispatch():
    """Every answer type goes to its own comparison (qdrant_client.models.QueryResponse is
    fastembed's class, not the REST one: a wrong isinstance would fall back to ==)."""
    from compat import compare_auto
    from qdrant_client.http import models as rest

    a = rest.QueryResponse(points=[sp(1, 0.5), sp(2, 0.4)])
    compare_auto(a, rest.QueryResponse(points=[sp(1, 0.50000001), sp(2, 0.4)]))
    fails(compare_auto, a, rest.QueryResponse(points=[sp(2, 0.5), sp(1, 0.4)]))
    compare_auto(rest.CountResult(count=3), rest.CountResult(count=3))
    fails(compare_auto, rest.CountResult(count=3), rest.CountResult(count=4))
    with pytest.raises(TypeError):
        compare_auto(rest.UpdateResult(operation_id=1, status="completed"), rest.UpdateResult(operation_id=1, status="completed"))


def test_wait_indexed_fails_on_unindexed_data(pair, coll):
    """The indexed variants must fail, not compare the appendable segment again, when the data
    is never indexed (indexing_threshold 0 turns indexing off)."""
    needs_server()
    points = make_points(seed=7, n=40)
    pair.remote.create_collection(
        coll, vectors_config=named_vectors_config(), optimizers_config=models.OptimizersConfigDiff(indexing_threshold=0)
    )
    pair.remote.upsert(coll, points=points, wait=True)
    with pytest.raises(AssertionError, match="not indexed"):
        wait_indexed(pair.remote, coll, vector_count(points), timeout=0.3)
