"""Cases users reported as different from local mode, kept as regression tests, each on a
collection whose points stay in the appendable segment and on one whose points lie in sealed,
HNSW-indexed segments with payload indexes on the filtered fields:

- query_points_groups with a filter that combines a geo radius and a full-text match (fewer
  groups came back than local mode's);
- values_count over a field that holds objects, scalars, lists and nulls from point to point.
"""

from __future__ import annotations

import random

import pytest
from qdrant_client import models

from compat import indexed_config, unique_name, upsert_indexed

SEGMENTS = ["appendable", "indexed"]
DIM = 8
N = 600
WORDS = ["river", "stone", "bridge", "harbour", "market", "tower", "garden", "mill", "forest"]
CITIES = ["oslo", "lyon", "porto", "graz", "turku", "gent", "bern", "cork"]
# mixed shapes for values_count: objects, scalars, lists of each kind, nulls, empty lists
SHAPES = [
    lambda r: {"a": r.randint(0, 5)},
    lambda r: [{"a": 1}, {"a": 2}],
    lambda r: r.randint(0, 9),
    lambda r: "word",
    lambda r: [r.randint(0, 9) for _ in range(r.randint(1, 4))],
    lambda r: ["x", "y", "z"][: r.randint(1, 3)],
    lambda r: None,
    lambda r: [],
    lambda r: [None, 1],
    lambda r: [[1, 2], [3]],
    lambda r: True,
]


def make_points(seed: int) -> list[models.PointStruct]:
    r = random.Random(seed)
    points = []
    for i in range(N):
        payload = {
            "city": r.choice(CITIES),
            "loc": {"lat": 48.0 + r.uniform(-4, 4), "lon": 10.0 + r.uniform(-6, 6)},
            "text": " ".join(r.choice(WORDS) for _ in range(r.randint(2, 6))),
            "group": r.randint(0, 40),
        }
        shape = r.randrange(len(SHAPES) + 1)
        if shape < len(SHAPES):  # one in twelve points has no "mixed" field
            payload["mixed"] = SHAPES[shape](r)
        points.append(
            models.PointStruct(id=i, vector=[r.gauss(0, 1) for _ in range(DIM)], payload=payload)
        )
    return points


@pytest.fixture(scope="module", params=SEGMENTS)
def reported(pair, request):
    name = unique_name(f"reported_{request.param}")
    points = make_points(7)
    vectors = models.VectorParams(size=DIM, distance=models.Distance.COSINE)
    if request.param == "appendable":
        pair.create(name, vectors_config=vectors)
        pair.upsert(name, points)
    else:
        # payload indexes on the server only (local mode has none, and needs none)
        pair.local.create_collection(name, vectors_config=vectors)
        pair.local.upsert(name, points=points, wait=True)
        pair.remote.create_collection(name, vectors_config=vectors, **indexed_config(2))
        for field, schema in [
            ("loc", models.PayloadSchemaType.GEO),
            ("text", models.PayloadSchemaType.TEXT),
            ("city", models.PayloadSchemaType.KEYWORD),
        ]:
            pair.remote.create_payload_index(name, field, field_schema=schema, wait=True)
        upsert_indexed(pair.remote, name, [points[i : i + 200] for i in range(0, N, 200)])
    yield name
    pair.drop(name)


GEO_TEXT = models.Filter(
    must=[
        models.FieldCondition(
            key="loc",
            geo_radius=models.GeoRadius(center=models.GeoPoint(lat=48.0, lon=10.0), radius=300_000.0),
        ),
        models.FieldCondition(key="text", match=models.MatchText(text="river")),
    ]
)


@pytest.mark.parametrize("group_by", ["city", "group"])
@pytest.mark.parametrize("limit,group_size", [(3, 2), (10, 3), (50, 1)])
def test_groups_with_geo_and_text_filter(pair, reported, group_by, limit, group_size):
    q = [random.Random(limit * 31 + group_size).gauss(0, 1) for _ in range(DIM)]
    lres, _ = pair.same(
        lambda c: c.query_points_groups(
            reported, group_by=group_by, query=q, limit=limit, group_size=group_size,
            query_filter=GEO_TEXT, with_payload=True,
        ),
        ctx=f"groups by {group_by}, limit {limit}, size {group_size}, geo AND text",
    )
    assert lres.groups, "the filter matches some points"
    pair.same(lambda c: c.count(reported, count_filter=GEO_TEXT, exact=True), ctx="count geo AND text")


@pytest.mark.parametrize(
    "bounds",
    [
        {"gte": 1},
        {"gt": 1},
        {"lte": 1},
        {"lt": 1},
        {"gte": 2, "lte": 3},
        {"gte": 0},
        {"lt": 2},
        {"gt": 2},
    ],
)
def test_values_count_over_mixed_shapes(pair, reported, bounds):
    flt = models.Filter(must=[models.FieldCondition(key="mixed", values_count=models.ValuesCount(**bounds))])
    pair.same(
        lambda c: c.scroll(reported, scroll_filter=flt, limit=N, with_payload=["mixed"]),
        ctx=f"values_count {bounds} over mixed shapes",
    )
    pair.same(lambda c: c.count(reported, count_filter=flt, exact=True), ctx=f"count values_count {bounds}")
    nested = models.Filter(must=[models.FieldCondition(key="mixed[].a", values_count=models.ValuesCount(**bounds))])
    pair.same(
        lambda c: c.scroll(reported, scroll_filter=nested, limit=N, with_payload=["mixed"]),
        ctx=f"values_count {bounds} over mixed[].a",
    )
