"""Points: upsert (lists and batches, wait or not), retrieve, delete, payload and vector updates,
batch updates, scroll (paging, filters, order_by) and count — each compared with local mode
through the whole collection state afterwards. The read-only tests (retrieve, scroll, count) run
twice: on points in the server's appendable segment and on points in sealed, indexed segments."""

from __future__ import annotations

import uuid

import numpy as np
import pytest
from qdrant_client import models

from compat import (
    expect_status,
    indexed_config,
    needs_server,
    unique_name,
    upsert_indexed,
    vector_count,
    wait_indexed,
)
from data import (
    NAMED_VECTORS,
    make_points,
    named_vectors_config,
    plain_vectors_config,
    random_vector,
)

N = 120


@pytest.fixture
def named(pair, coll):
    """A fresh collection with the four named vectors and N points."""
    pair.create(coll, vectors_config=named_vectors_config())
    points = make_points(seed=11, n=N)
    pair.upsert(coll, points)
    return coll, points


def some_ids(points, k, seed):
    rng = np.random.default_rng(seed)
    return [points[int(i)].id for i in rng.choice(len(points), size=k, replace=False)]


def test_upsert_point_structs_and_batch(pair, coll):
    pair.create(coll, vectors_config=named_vectors_config())
    points = make_points(seed=12, n=60)
    pair.upsert(coll, points[:30])
    pair.state(coll, "after PointStruct upsert")
    rest = points[30:]
    # a Batch is column-oriented: every named vector needs a value for every point
    rng = np.random.default_rng(13)
    batch = models.Batch(
        ids=[p.id for p in rest],
        vectors={name: [random_vector(rng, size) for _ in rest] for name, (size, _) in NAMED_VECTORS.items()},
        payloads=[p.payload for p in rest],
    )
    pair.upsert(coll, batch)
    pair.state(coll, "after Batch upsert")
    pair.same(lambda c: c.get_collection(coll), ctx="get_collection")


def test_upsert_batch_unnamed_vector(pair, coll):
    pair.create(coll, vectors_config=plain_vectors_config())
    rng = np.random.default_rng(14)
    batch = models.Batch(
        ids=[1, 2, 3, str(uuid.UUID(int=7)), 2**64 - 1],
        vectors=[random_vector(rng, 8) for _ in range(5)],
        payloads=[{"i": i} for i in range(5)],
    )
    pair.upsert(coll, batch)
    pair.state(coll, "after batch")
    # a batch without payloads
    batch = models.Batch(ids=[10, 11], vectors=[random_vector(rng, 8) for _ in range(2)])
    pair.upsert(coll, batch)
    pair.state(coll, "after batch without payloads")


def test_upsert_wait_false_is_visible(pair, coll):
    """An acknowledged write (wait=False) is visible to the next read."""
    pair.create(coll, vectors_config=named_vectors_config())
    points = make_points(seed=15, n=50)
    for chunk in (points[:20], points[20:35], points[35:]):
        pair.upsert(coll, chunk, wait=False)
        ids = [p.id for p in chunk]
        pair.same(lambda c: c.retrieve(coll, ids=ids, with_vectors=True), ctx="retrieve after wait=False")
    pair.state(coll, "after wait=False upserts")
    pair.both(lambda c: c.delete(coll, points_selector=[points[0].id], wait=False), "delete wait=False")
    pair.same(lambda c: c.retrieve(coll, ids=[points[0].id]), ctx="deleted with wait=False")
    pair.both(
        lambda c: c.set_payload(coll, payload={"w": 1}, points=[points[1].id], wait=False),
        "set_payload wait=False",
    )
    pair.same(lambda c: c.retrieve(coll, ids=[points[1].id]), ctx="payload set with wait=False")


def test_upsert_replaces_whole_point(pair, named):
    """Upserting an existing id replaces payload and vectors: vectors not given are gone."""
    coll, points = named
    rng = np.random.default_rng(16)
    target = some_ids(points, 5, 17)
    new = [
        models.PointStruct(id=pid, vector={"cos": random_vector(rng, 8)}, payload={"replaced": True})
        for pid in target
    ]
    pair.upsert(coll, new)
    pair.same(lambda c: c.retrieve(coll, ids=target, with_vectors=True), ctx="replaced points")
    pair.state(coll)


def test_uuid_spellings_are_one_id(pair, coll):
    """A UUID given in another spelling (upper case, no hyphens, uuid.UUID) is the same point,
    and comes back in the canonical lower-case hyphenated form."""
    pair.create(coll, vectors_config=plain_vectors_config())
    rng = np.random.default_rng(18)
    u = uuid.UUID("550e8400-e29b-41d4-a716-446655440000")
    pair.upsert(coll, [models.PointStruct(id=u.hex.upper(), vector=random_vector(rng, 8), payload={"v": 1})])
    pair.upsert(coll, [models.PointStruct(id=str(u), vector=random_vector(rng, 8), payload={"v": 2})])
    pair.upsert(coll, [models.PointStruct(id=u, vector=random_vector(rng, 8), payload={"v": 3})])
    lres, _ = pair.same(lambda c: c.retrieve(coll, ids=[str(u)]), ctx="retrieve canonical")
    assert [r.id for r in lres] == [str(u)]
    pair.same(lambda c: c.retrieve(coll, ids=[u]), ctx="retrieve by uuid.UUID")
    pair.same(lambda c: c.count(coll), ctx="one point")


@pytest.mark.parametrize(
    "with_payload",
    [
        True,
        False,
        ["kw", "nested.a"],
        models.PayloadSelectorInclude(include=["city", "items[].qty", "nested.b"]),
        models.PayloadSelectorExclude(exclude=["text", "items", "nested.b.c"]),
    ],
    ids=["all", "none", "list", "include", "exclude"],
)
@pytest.mark.parametrize(
    "with_vectors", [True, False, ["cos"], ["euc", "man"]], ids=["vec_all", "vec_none", "vec_cos", "vec_two"]
)
def test_retrieve_selectors(pair, shared_named, with_payload, with_vectors):
    coll, points = shared_named
    ids = some_ids(points, 12, 19) + [987654321, str(uuid.UUID(int=12345))]  # two missing ids
    pair.same(
        lambda c: c.retrieve(coll, ids=ids, with_payload=with_payload, with_vectors=with_vectors),
        ctx="retrieve",
    )


@pytest.fixture(scope="module", params=["appendable", "indexed"])
def shared_named(pair, request):
    """A read-only collection shared by the retrieve/scroll/count tests of this module, with
    its points in the server's appendable segment, or (`indexed`) in sealed, HNSW-indexed
    segments: two batches, the second folded into the first one's graph, and the payload
    indexes built over that sealed segment afterwards (see compat.indexed_config)."""
    name = unique_name(f"points_shared_{request.param}")
    points = make_points(seed=20, n=150)
    if request.param == "appendable":
        pair.create(name, vectors_config=named_vectors_config())
        pair.upsert(name, points)
    else:
        needs_server()
        pair.local.create_collection(name, vectors_config=named_vectors_config())
        pair.local.upsert(name, points=points)
        # 92 bytes of vectors per point: 5 KB seal from 56 points on
        assert pair.remote.create_collection(name, vectors_config=named_vectors_config(), **indexed_config(5))
        upsert_indexed(pair.remote, name, [points[:75], points[75:]])
    for field, schema in (
        ("rank", models.PayloadSchemaType.INTEGER),
        ("score_f", models.PayloadSchemaType.FLOAT),
        ("created", models.PayloadSchemaType.DATETIME),
    ):
        pair.both(lambda c: c.create_payload_index(name, field, field_schema=schema, wait=True), "index")
    if request.param == "indexed":
        wait_indexed(pair.remote, name, vector_count(points))
    yield name, points
    pair.drop(name)


def test_delete_by_ids_and_filter(pair, named):
    coll, points = named
    pair.both(lambda c: c.delete(coll, points_selector=some_ids(points, 10, 21)), "delete ids")
    pair.state(coll, "after delete by ids")
    pair.both(
        lambda c: c.delete(coll, points_selector=models.PointIdsList(points=some_ids(points, 10, 22))),
        "delete PointIdsList (some already gone)",
    )
    pair.state(coll, "after delete by PointIdsList")
    flt = models.Filter(must=[models.FieldCondition(key="city", match=models.MatchValue(value="paris"))])
    pair.both(lambda c: c.delete(coll, points_selector=models.FilterSelector(filter=flt)), "delete filter")
    pair.state(coll, "after delete by filter")
    pair.same(lambda c: c.count(coll, count_filter=flt), ctx="nothing left to match")


def test_set_payload(pair, named):
    coll, points = named
    ids = some_ids(points, 8, 23)
    pair.both(
        lambda c: c.set_payload(coll, payload={"kw": "set", "new": {"x": [1, 2]}, "b": False}, points=ids),
        "set_payload ids",
    )
    pair.state(coll, "after set_payload")
    flt = models.Filter(must=[models.FieldCondition(key="n_int", range=models.Range(gte=5))])
    pair.both(lambda c: c.set_payload(coll, payload={"big": True}, points=flt), "set_payload filter")
    pair.state(coll, "after set_payload by filter")
    pair.both(
        lambda c: c.set_payload(
            coll, payload={"x": 1.5}, points=models.FilterSelector(filter=flt)
        ),
        "set_payload FilterSelector",
    )
    pair.state(coll, "after set_payload by FilterSelector")


def test_set_payload_with_key(pair, named):
    """set_payload with `key`: the payload is set under that (nested) path."""
    coll, points = named
    ids = some_ids(points, 10, 24)
    pair.both(lambda c: c.set_payload(coll, payload={"z": 9}, points=ids, key="nested"), "key=nested")
    pair.state(coll, "after key=nested")
    pair.both(lambda c: c.set_payload(coll, payload={"deep": "yes"}, points=ids, key="nested.b"), "key=nested.b")
    pair.state(coll, "after key=nested.b")
    pair.both(lambda c: c.set_payload(coll, payload={"k": 1}, points=ids, key="fresh.path"), "key=fresh.path")
    pair.state(coll, "after key=fresh.path")
    # into every element of an array of objects (only points that hold such an array: what a
    # missing array turns into is an edge this suite doesn't pin down)
    with_items = [p.id for p in points if p.payload.get("items")][:10]
    pair.both(lambda c: c.set_payload(coll, payload={"q": 0}, points=with_items, key="items[]"), "key=items[]")
    pair.state(coll, "after key=items[]")


def test_overwrite_delete_clear_payload(pair, named):
    coll, points = named
    pair.both(
        lambda c: c.overwrite_payload(coll, payload={"only": "this", "n_int": 3}, points=some_ids(points, 6, 25)),
        "overwrite_payload",
    )
    pair.state(coll, "after overwrite_payload")
    ids = some_ids(points, 20, 26)
    pair.both(lambda c: c.delete_payload(coll, keys=["kw", "nested.b", "items[].price", "nope"], points=ids), "delete_payload")
    pair.state(coll, "after delete_payload")
    flt = models.Filter(must=[models.FieldCondition(key="flag", match=models.MatchValue(value=True))])
    pair.both(lambda c: c.delete_payload(coll, keys=["text"], points=flt), "delete_payload filter")
    pair.state(coll, "after delete_payload by filter")
    pair.both(lambda c: c.clear_payload(coll, points_selector=some_ids(points, 7, 27)), "clear_payload ids")
    pair.state(coll, "after clear_payload by ids")
    flt = models.Filter(must=[models.FieldCondition(key="city", match=models.MatchAny(any=["rome", "oslo"]))])
    pair.both(lambda c: c.clear_payload(coll, points_selector=models.FilterSelector(filter=flt)), "clear filter")
    pair.state(coll, "after clear_payload by filter")


def test_payload_update_of_missing_point_fails(pair, named):
    """A payload update naming a point that doesn't exist fails (404 on the server), and the
    points that do exist are updated all the same (as local mode and Qdrant do)."""
    coll, points = named
    ids = [points[0].id, 424242424242, points[1].id]
    err = pair.both_fail(lambda c: c.set_payload(coll, payload={"m": 1}, points=ids), ctx="set_payload missing")
    expect_status(err[1], (404,))
    pair.state(coll, "after failed set_payload")


def test_update_vectors(pair, named):
    coll, points = named
    rng = np.random.default_rng(28)
    ids = some_ids(points, 10, 29)
    updates = [
        models.PointVectors(id=pid, vector={"cos": random_vector(rng, 8), "man": random_vector(rng, 4)})
        for pid in ids
    ]
    pair.both(lambda c: c.update_vectors(coll, points=updates), "update_vectors")
    pair.same(lambda c: c.retrieve(coll, ids=ids, with_vectors=True), ctx="updated vectors")
    pair.state(coll, "after update_vectors")
    # adding a vector a point didn't have
    lacking = [p.id for p in points if "euc" not in p.vector][:3]
    if lacking:
        add = [models.PointVectors(id=pid, vector={"euc": random_vector(rng, 6)}) for pid in lacking]
        pair.both(lambda c: c.update_vectors(coll, points=add), "update_vectors adds a vector")
        pair.same(lambda c: c.retrieve(coll, ids=lacking, with_vectors=True), ctx="added vectors")
    # a missing point: 404
    err = pair.both_fail(
        lambda c: c.update_vectors(coll, points=[models.PointVectors(id=99999999, vector={"cos": random_vector(rng, 8)})]),
        ctx="update_vectors of a missing point",
    )
    expect_status(err[1], (404,))


def test_update_vectors_unnamed(pair, coll):
    pair.create(coll, vectors_config=plain_vectors_config())
    pair.upsert(coll, make_points(seed=30, n=20, named=False))
    rng = np.random.default_rng(31)
    lres, _ = pair.same(lambda c: c.scroll(coll, limit=5)[0], ctx="scroll")
    updates = [models.PointVectors(id=r.id, vector=random_vector(rng, 8)) for r in lres]
    pair.both(lambda c: c.update_vectors(coll, points=updates), "update unnamed vectors")
    pair.state(coll, "after update of unnamed vectors")


def test_delete_vectors(pair, named):
    coll, points = named
    ids = some_ids(points, 10, 32)
    pair.both(lambda c: c.delete_vectors(coll, vectors=["cos", "dot"], points=ids), "delete_vectors ids")
    pair.same(lambda c: c.retrieve(coll, ids=ids, with_vectors=True), ctx="after delete_vectors")
    flt = models.Filter(must=[models.FieldCondition(key="city", match=models.MatchValue(value="berlin"))])
    pair.both(lambda c: c.delete_vectors(coll, vectors=["euc"], points=flt), "delete_vectors filter")
    pair.state(coll, "after delete_vectors")
    # a search on that vector no longer finds them
    query = random_vector(np.random.default_rng(33), 8)
    pair.same(lambda c: c.query_points(coll, query=query, using="cos", limit=N), ctx="search after delete_vectors")
    pair.both_fail(lambda c: c.delete_vectors(coll, vectors=["nope"], points=ids), ctx="unknown vector name")


def test_batch_update_points(pair, named):
    coll, points = named
    rng = np.random.default_rng(34)
    ids = some_ids(points, 30, 35)
    flt = models.Filter(must=[models.FieldCondition(key="city", match=models.MatchValue(value="rome"))])
    operations = [
        models.UpsertOperation(
            upsert=models.PointsList(
                points=[
                    models.PointStruct(id=5_000_000 + i, vector={"cos": random_vector(rng, 8)}, payload={"b": i})
                    for i in range(5)
                ]
            )
        ),
        models.UpsertOperation(
            upsert=models.PointsBatch(
                batch=models.Batch(
                    ids=[6_000_000, 6_000_001],
                    vectors={"man": [random_vector(rng, 4), random_vector(rng, 4)]},
                    payloads=[{"batch": 1}, {"batch": 2}],
                )
            )
        ),
        models.DeleteOperation(delete=models.PointIdsList(points=ids[:3])),
        models.SetPayloadOperation(set_payload=models.SetPayload(payload={"s": 1}, points=ids[3:8])),
        models.SetPayloadOperation(set_payload=models.SetPayload(payload={"sk": 1}, points=ids[3:5], key="nested")),
        models.SetPayloadOperation(set_payload=models.SetPayload(payload={"by_filter": True}, filter=flt)),
        models.OverwritePayloadOperation(overwrite_payload=models.SetPayload(payload={"o": 1}, points=ids[8:10])),
        models.DeletePayloadOperation(delete_payload=models.DeletePayload(keys=["kw", "ts"], points=ids[10:15])),
        models.ClearPayloadOperation(clear_payload=models.PointIdsList(points=ids[15:18])),
        models.UpdateVectorsOperation(
            update_vectors=models.UpdateVectors(
                points=[models.PointVectors(id=pid, vector={"dot": random_vector(rng, 5)}) for pid in ids[18:22]]
            )
        ),
        models.DeleteVectorsOperation(delete_vectors=models.DeleteVectors(points=ids[22:26], vector=["man"])),
        models.DeleteOperation(delete=models.FilterSelector(filter=models.Filter(must=[models.HasIdCondition(has_id=ids[26:28])]))),
    ]
    pair.both(lambda c: c.batch_update_points(coll, update_operations=operations), "batch_update_points")
    pair.state(coll, "after batch_update_points")


def test_scroll_paging(pair, shared_named):
    """Page through everything with next_page_offset until it is None."""
    coll, points = shared_named
    for limit in (7, 50):
        offset = None
        pages = 0
        seen = []
        while True:
            lres, _ = pair.same(
                lambda c: c.scroll(coll, limit=limit, offset=offset, with_payload=True),
                ctx=f"scroll page {pages} limit {limit}",
            )
            records, offset = lres
            seen += [r.id for r in records]
            pages += 1
            if offset is None:
                break
            assert pages < 1000
        assert len(seen) == len(points)


@pytest.mark.parametrize("with_vectors", [False, True, ["dot"]], ids=["novec", "vec", "dot"])
def test_scroll_filter(pair, shared_named, with_vectors):
    coll, points = shared_named
    filters = [
        models.Filter(must=[models.FieldCondition(key="kw", match=models.MatchAny(any=["red", "blue"]))]),
        models.Filter(must_not=[models.FieldCondition(key="flag", match=models.MatchValue(value=True))]),
        models.Filter(should=[models.HasIdCondition(has_id=some_ids(points, 30, 36))],
                      must=[models.FieldCondition(key="n_float", range=models.Range(lt=0))]),
    ]
    for i, flt in enumerate(filters):
        pair.same(
            lambda c: c.scroll(coll, scroll_filter=flt, limit=15, with_payload=["kw", "n_float"], with_vectors=with_vectors),
            ctx=f"scroll filter #{i}",
        )
        # and from an offset: the next page
        lres, _ = pair.same(lambda c: c.scroll(coll, scroll_filter=flt, limit=15), ctx=f"scroll #{i} page 1")
        if lres[1] is not None:
            pair.same(lambda c: c.scroll(coll, scroll_filter=flt, limit=15, offset=lres[1]), ctx=f"scroll #{i} page 2")


def test_scroll_offset_that_is_not_a_point(pair, shared_named):
    """An offset id that isn't stored starts at the next id."""
    coll, _ = shared_named
    for offset in (1, 500, 2**63, str(uuid.UUID(int=2**127))):
        pair.same(lambda c: c.scroll(coll, limit=5, offset=offset), ctx=f"offset {offset}")


@pytest.mark.parametrize("key", ["rank", "score_f", "created"])
@pytest.mark.parametrize("direction", [models.Direction.ASC, models.Direction.DESC], ids=["asc", "desc"])
def test_scroll_order_by(pair, shared_named, key, direction):
    """order_by on an integer, a float and a datetime payload index (values are unique)."""
    coll, points = shared_named
    values = sorted(p.payload[key] for p in points if key in p.payload)
    start = values[len(values) // 3] if direction == models.Direction.ASC else values[2 * len(values) // 3]
    for order_by in (
        models.OrderBy(key=key, direction=direction),
        models.OrderBy(key=key, direction=direction, start_from=start),
    ):
        pair.same(lambda c: c.scroll(coll, limit=25, order_by=order_by), ctx=f"order_by {order_by}")
        flt = models.Filter(must=[models.FieldCondition(key="flag", match=models.MatchValue(value=False))])
        pair.same(
            lambda c: c.scroll(coll, limit=10, order_by=order_by, scroll_filter=flt, with_vectors=["cos"]),
            ctx=f"order_by {order_by} with filter",
        )
    # the plain-string shorthand is ascending
    pair.same(lambda c: c.scroll(coll, limit=10, order_by=key), ctx="order_by shorthand")


def test_count(pair, shared_named):
    coll, points = shared_named
    lres, _ = pair.same(lambda c: c.count(coll, exact=True), ctx="count all")
    assert lres.count == len(points)
    pair.same(lambda c: c.count(coll, exact=False), ctx="approximate count, no filter")
    for flt in (
        models.Filter(must=[models.FieldCondition(key="city", match=models.MatchValue(value="oslo"))]),
        models.Filter(must=[models.IsEmptyCondition(is_empty=models.PayloadField(key="tags"))]),
        models.Filter(must_not=[models.HasVectorCondition(has_vector="euc")]),
    ):
        pair.same(lambda c: c.count(coll, count_filter=flt, exact=True), ctx=f"count {flt}")


def test_upload_helpers(pair, coll):
    """upload_collection / upload_points: the client's batching helpers over upsert."""
    pair.create(coll, vectors_config=named_vectors_config())
    rng = np.random.default_rng(37)
    n = 70
    vectors = {name: rng.normal(size=(n, size)).astype(np.float32) for name, (size, _) in NAMED_VECTORS.items()}
    ids = list(range(1000, 1000 + n))
    payloads = [{"i": i, "even": i % 2 == 0} for i in range(n)]
    pair.both(
        lambda c: c.upload_collection(coll, vectors=vectors, payload=payloads, ids=ids, batch_size=16, wait=True),
        "upload_collection",
    )
    pair.state(coll, "after upload_collection")
    points = make_points(seed=38, n=40)
    pair.both(lambda c: c.upload_points(coll, points=points, batch_size=7, wait=True), "upload_points")
    pair.state(coll, "after upload_points")
