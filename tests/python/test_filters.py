"""Filters: every condition kind, hand-written and generated from a seeded RNG, each used in
count, scroll and query_points, compared with local mode — on a collection without payload
indexes, again on one with payload indexes on every field (indexes must not change results),
and again on one whose points lie in sealed, HNSW-indexed segments with those payload indexes
(`sealed`: the payload-index and filtered-graph paths of the search planner, see
compat.indexed_config).

The server collections exist on the server only; local mode has no payload indexes (they are
no-ops there), so all of them are compared with the same local answers.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pytest
from qdrant_client import models

from compat import (
    SELFCHECK,
    check_remote_error,
    compare_count,
    compare_scored,
    compare_scroll,
    describe_error,
    indexed_config,
    needs_server,
    unique_name,
    upsert_indexed,
)
from data import (
    BASE_TIME,
    CITIES,
    GEO_LAT,
    GEO_LON,
    KEYWORDS,
    NAMED_VECTORS,
    WORDS,
    make_points,
    named_vectors_config,
    random_vector,
)

N = 400
N_RANDOM = 300  # generated filters
CHUNKS = 10

INDEXES = {
    "kw": models.PayloadSchemaType.KEYWORD,
    "city": models.PayloadSchemaType.KEYWORD,
    "tags": models.PayloadSchemaType.KEYWORD,
    "n_int": models.PayloadSchemaType.INTEGER,
    "n_float": models.PayloadSchemaType.FLOAT,
    "flag": models.PayloadSchemaType.BOOL,
    "ts": models.PayloadSchemaType.DATETIME,
    "created": models.PayloadSchemaType.DATETIME,
    "loc": models.PayloadSchemaType.GEO,
    "text": models.TextIndexParams(
        type=models.TextIndexType.TEXT, tokenizer=models.TokenizerType.WORD, lowercase=True, phrase_matching=True
    ),
    "nested.a": models.PayloadSchemaType.INTEGER,
    "nested.b.c": models.PayloadSchemaType.KEYWORD,
    "items[].qty": models.PayloadSchemaType.INTEGER,
    "items[].name": models.PayloadSchemaType.KEYWORD,
    "items[].price": models.PayloadSchemaType.FLOAT,
    "rank": models.PayloadSchemaType.INTEGER,
    "score_f": models.PayloadSchemaType.FLOAT,
    "maybe": models.PayloadSchemaType.INTEGER,
}


VARIANTS = ["unindexed", "indexed", "sealed"]


class Data:
    def __init__(self, local_name, remote_names, points):
        self.local_name = local_name  # the local-mode collection (the reference for all)
        # server collections by variant: "unindexed" (no payload indexes), "indexed" (payload
        # indexes on every field), "sealed" (those indexes, points in HNSW-indexed segments)
        self.remote_names = remote_names
        self.points = points
        self.ids = [p.id for p in points]
        self.cache: dict = {}  # filter key -> local answers


@pytest.fixture(scope="module")
def data(pair):
    points = make_points(seed=201, n=N)
    local_name = unique_name("filters_local")
    names = {variant: unique_name(f"filters_{variant}") for variant in VARIANTS}
    pair.local.create_collection(local_name, vectors_config=named_vectors_config())
    pair.local.upsert(local_name, points=points)
    for variant in ("unindexed", "indexed"):
        assert pair.remote.create_collection(names[variant], vectors_config=named_vectors_config())
    pair.remote.upsert(names["unindexed"], points=points, wait=True)
    # half of the points before the indexes are built, half after: both paths get indexed
    pair.remote.upsert(names["indexed"], points=points[: N // 2], wait=True)
    for field, schema in INDEXES.items():
        pair.remote.create_payload_index(names["indexed"], field, field_schema=schema, wait=True)
    pair.remote.upsert(names["indexed"], points=points[N // 2 :], wait=True)
    if not SELFCHECK:
        # the same in sealed segments: 92 bytes of vectors per point, a threshold of 10 KB
        # seals from 111 points on; the first half is sealed and indexed before the payload
        # indexes exist (they are built over a sealed segment), the second half after (its
        # graph gets the payload indexes' extra links)
        name = names["sealed"]
        assert pair.remote.create_collection(name, vectors_config=named_vectors_config(), **indexed_config(10))
        upsert_indexed(pair.remote, name, [points[: N // 2]])
        for field, schema in INDEXES.items():
            pair.remote.create_payload_index(name, field, field_schema=schema, wait=True)
        upsert_indexed(pair.remote, name, [points[N // 2 :]], before=points[: N // 2])
    yield Data(local_name, names, points)
    pair.local.delete_collection(local_name)
    for name in names.values():
        try:
            pair.remote.delete_collection(name)
        except Exception:  # noqa: BLE001 - cleanup only
            pass


QUERY = random_vector(np.random.default_rng(202), NAMED_VECTORS["cos"][0])


def operations(flt):
    """The three uses of a filter: (name, call(client, collection), compare)."""
    return [
        ("count", lambda c, n: c.count(n, count_filter=flt, exact=True), compare_count),
        ("scroll", lambda c, n: c.scroll(n, scroll_filter=flt, limit=N + 1, with_payload=False), compare_scroll),
        (
            "query",
            lambda c, n: c.query_points(n, query=QUERY, using="cos", query_filter=flt, limit=10, with_payload=["city"]),
            lambda a, b, ctx: compare_scored(a.points, b.points, ctx),
        ),
    ]


def run(fn, client, name):
    try:
        return fn(client, name), None
    except Exception as e:  # noqa: BLE001
        return None, e


def check_filter(pair, data: Data, key, flt, variant: str) -> list[str]:
    """Compare one filter in every operation; returns the mismatches (empty when all agree)."""
    problems = []
    remote_name = data.remote_names[variant]
    for op, fn, compare in operations(flt):
        cache_key = (key, op)
        if cache_key not in data.cache:
            data.cache[cache_key] = run(fn, pair.local, data.local_name)
        lres, lerr = data.cache[cache_key]
        rres, rerr = run(fn, pair.remote, remote_name)
        try:
            if lerr is not None and rerr is None:
                raise AssertionError(f"local raised {describe_error(lerr)}, the server answered")
            if rerr is not None and lerr is None:
                raise AssertionError(f"the server raised {describe_error(rerr)}")
            if lerr is not None:
                check_remote_error(rerr)
            else:
                compare(lres, rres, op)
        except AssertionError as e:
            problems.append(f"{op}: {str(e)[:700]}")
    return problems


def filter_json(flt: models.Filter) -> str:
    return json.dumps(flt.model_dump(mode="json", exclude_none=True, by_alias=True))


def check_many(pair, data, named_filters, variant):
    if variant == "sealed":
        needs_server()
    failures = []
    for key, flt in named_filters:
        problems = check_filter(pair, data, key, flt, variant)
        if problems:
            failures.append(f"filter {key}: {filter_json(flt)}\n    " + "\n    ".join(problems))
    assert not failures, (
        f"{len(failures)} of {len(named_filters)} filters disagree "
        f"({variant} collection):\n" + "\n".join(failures[:6])
    )


# --------------------------------------------------------------------------- hand-written

F = models.FieldCondition
MV = models.MatchValue


def hand_written(ids) -> dict[str, models.Filter]:
    some_ids = [ids[3], ids[17], ids[40], ids[41], 123456789012]
    lat0, lon0 = sum(GEO_LAT) / 2, sum(GEO_LON) / 2
    return {
        "match_keyword": models.Filter(must=[F(key="city", match=MV(value="paris"))]),
        "match_keyword_in_array": models.Filter(must=[F(key="tags", match=MV(value="red"))]),
        "match_int": models.Filter(must=[F(key="n_int", match=MV(value=3))]),
        "match_int_zero": models.Filter(must=[F(key="maybe", match=MV(value=0))]),
        "match_bool_true": models.Filter(must=[F(key="flag", match=MV(value=True))]),
        "match_bool_false": models.Filter(must=[F(key="flag", match=MV(value=False))]),
        "match_any_keyword": models.Filter(must=[F(key="kw", match=models.MatchAny(any=["red", "blue"]))]),
        "match_any_int": models.Filter(must=[F(key="n_int", match=models.MatchAny(any=[-3, 0, 7, 11]))]),
        "match_except_keyword": models.Filter(must=[F(key="kw", match=models.MatchExcept(**{"except": ["red", "green"]}))]),
        "match_except_int": models.Filter(must=[F(key="n_int", match=models.MatchExcept(**{"except": [1, 2, 3]}))]),
        "match_text": models.Filter(must=[F(key="text", match=models.MatchText(text="fox"))]),
        "match_text_two_tokens": models.Filter(must=[F(key="text", match=models.MatchText(text="quick Brown"))]),
        "match_text_any": models.Filter(must=[F(key="text", match=models.MatchTextAny(text_any="rust python"))]),
        "match_phrase": models.Filter(must=[F(key="text", match=models.MatchPhrase(phrase="lazy dog"))]),
        "range_int": models.Filter(must=[F(key="n_int", range=models.Range(gte=-5, lt=5))]),
        "range_int_float_bounds": models.Filter(must=[F(key="n_int", range=models.Range(gt=-2.5, lte=2.5))]),
        "range_float": models.Filter(must=[F(key="n_float", range=models.Range(gt=-3.0, lte=8.25))]),
        "range_open_upper": models.Filter(must=[F(key="score_f", range=models.Range(gte=0.9))]),
        "datetime_range": models.Filter(
            must=[F(key="ts", range=models.DatetimeRange(gte=BASE_TIME + timedelta(days=30), lt=BASE_TIME + timedelta(days=120)))]
        ),
        "datetime_range_offset_bound": models.Filter(
            must=[F(key="ts", range=models.DatetimeRange(lte=datetime(2024, 6, 1, 12, 0, tzinfo=timezone(timedelta(hours=3)))))]
        ),
        "datetime_range_date_bound": models.Filter(must=[F(key="created", range=models.DatetimeRange(gt=date(2024, 1, 10)))]),
        "values_count_tags": models.Filter(must=[F(key="tags", values_count=models.ValuesCount(gte=2, lt=4))]),
        "values_count_kw": models.Filter(must=[F(key="kw", values_count=models.ValuesCount(lte=1))]),
        "values_count_items": models.Filter(must=[F(key="items", values_count=models.ValuesCount(gt=1))]),
        "is_empty_maybe": models.Filter(must=[models.IsEmptyCondition(is_empty=models.PayloadField(key="maybe"))]),
        "is_empty_tags": models.Filter(must=[models.IsEmptyCondition(is_empty=models.PayloadField(key="tags"))]),
        "is_empty_missing_field": models.Filter(must=[models.IsEmptyCondition(is_empty=models.PayloadField(key="nope"))]),
        "not_is_empty_kw": models.Filter(must_not=[models.IsEmptyCondition(is_empty=models.PayloadField(key="kw"))]),
        "is_null_maybe": models.Filter(must=[models.IsNullCondition(is_null=models.PayloadField(key="maybe"))]),
        "is_null_kw": models.Filter(must=[models.IsNullCondition(is_null=models.PayloadField(key="kw"))]),
        "not_is_null_n_int": models.Filter(must_not=[models.IsNullCondition(is_null=models.PayloadField(key="n_int"))]),
        "has_id": models.Filter(must=[models.HasIdCondition(has_id=some_ids)]),
        "not_has_id": models.Filter(must_not=[models.HasIdCondition(has_id=some_ids)]),
        "has_vector_euc": models.Filter(must=[models.HasVectorCondition(has_vector="euc")]),
        "not_has_vector_man": models.Filter(must_not=[models.HasVectorCondition(has_vector="man")]),
        "geo_bounding_box": models.Filter(
            must=[F(key="loc", geo_bounding_box=models.GeoBoundingBox(
                top_left=models.GeoPoint(lat=lat0 + 5, lon=lon0 - 8), bottom_right=models.GeoPoint(lat=lat0 - 3, lon=lon0 + 6)))]
        ),
        "geo_radius": models.Filter(
            must=[F(key="loc", geo_radius=models.GeoRadius(center=models.GeoPoint(lat=lat0, lon=lon0), radius=600_000.0))]
        ),
        "geo_polygon": models.Filter(must=[F(key="loc", geo_polygon=polygon(lat0, lon0, 6.0, 9.0, hole=False))]),
        "geo_polygon_with_hole": models.Filter(must=[F(key="loc", geo_polygon=polygon(lat0, lon0, 8.0, 14.0, hole=True))]),
        "nested_items": models.Filter(
            must=[models.NestedCondition(nested=models.Nested(key="items", filter=models.Filter(
                must=[F(key="name", match=MV(value="red")), F(key="qty", range=models.Range(gte=5))])))]
        ),
        "nested_items_must_not": models.Filter(
            must=[models.NestedCondition(nested=models.Nested(key="items", filter=models.Filter(
                must_not=[F(key="price", range=models.Range(lt=50))])))]
        ),
        "array_path_qty": models.Filter(must=[F(key="items[].qty", range=models.Range(gte=8))]),
        "array_path_name": models.Filter(must=[F(key="items[].name", match=MV(value="blue"))]),
        "array_path_vs_nested": models.Filter(
            must=[F(key="items[].name", match=MV(value="red")), F(key="items[].qty", range=models.Range(gte=5))]
        ),
        "object_path": models.Filter(must=[F(key="nested.a", range=models.Range(gt=6)), F(key="nested.b.c", match=MV(value="amber"))]),
        "should": models.Filter(should=[F(key="city", match=MV(value="oslo")), F(key="n_int", range=models.Range(gt=15))]),
        "should_and_must": models.Filter(
            must=[F(key="flag", match=MV(value=True))],
            should=[F(key="city", match=MV(value="rome")), F(key="kw", match=MV(value="red"))],
        ),
        "must_not": models.Filter(must_not=[F(key="city", match=MV(value="berlin")), F(key="flag", match=MV(value=True))]),
        "min_should": models.Filter(
            min_should=models.MinShould(
                conditions=[
                    F(key="city", match=models.MatchAny(any=["paris", "rome", "oslo"])),
                    F(key="n_int", range=models.Range(gte=0)),
                    F(key="flag", match=MV(value=True)),
                    models.HasVectorCondition(has_vector="dot"),
                ],
                min_count=3,
            )
        ),
        "nested_filters": models.Filter(
            must=[
                models.Filter(should=[F(key="kw", match=MV(value="red")), F(key="tags", match=MV(value="red"))]),
                models.Filter(must_not=[models.Filter(must=[F(key="n_float", range=models.Range(lt=0))])]),
            ]
        ),
        "empty_filter": models.Filter(),
        "empty_should": models.Filter(should=[]),
        "match_on_missing_field": models.Filter(must=[F(key="nope", match=MV(value="x"))]),
        "type_mismatch": models.Filter(must=[F(key="city", match=MV(value=3)), F(key="n_int", match=MV(value="3"))]),
    }


def polygon(lat0, lon0, dlat, dlon, hole: bool) -> models.GeoPolygon:
    def ring(dlat, dlon):
        pts = [(lat0 - dlat, lon0 - dlon), (lat0 - dlat * 0.8, lon0 + dlon), (lat0 + dlat, lon0 + dlon * 0.7),
               (lat0 + dlat * 0.6, lon0 - dlon * 0.9)]
        pts.append(pts[0])  # closed
        return models.GeoLineString(points=[models.GeoPoint(lat=a, lon=b) for a, b in pts])

    return models.GeoPolygon(exterior=ring(dlat, dlon), interiors=[ring(dlat / 3, dlon / 3)] if hole else None)


@pytest.mark.parametrize("variant", VARIANTS)
def test_condition_kinds(pair, data, variant):
    check_many(pair, data, [(f"hand:{k}", f) for k, f in hand_written(data.ids).items()], variant)


# --------------------------------------------------------------------------- generated


def _as_key(value):
    """Sort key for range bounds: numbers, dates and datetimes (dates as UTC midnight)."""
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc).timestamp()
    return value


class Gen:
    """Random filters over the payload fields of data.py."""

    def __init__(self, seed: int, ids: list):
        self.rng = np.random.default_rng(seed)
        self.ids = ids

    def pick(self, seq):
        return seq[int(self.rng.integers(len(seq)))]

    def bounds(self, lo, hi, integer, only_int=False, draw=None):
        """Range bounds: a lower one, an upper one or both (lower <= upper), each strict or not."""

        def value():
            if draw is not None:
                return draw()
            v = self.rng.uniform(lo, hi)
            if only_int or (integer and self.rng.random() < 0.7):
                return int(round(v))
            return round(float(v), 3)

        a, b = value(), value()
        if _as_key(b) < _as_key(a):
            a, b = b, a
        r = self.rng.random()
        kw = {}
        if r < 0.7:
            kw[self.pick(["gt", "gte"])] = a
        if r > 0.35:
            kw[self.pick(["lt", "lte"])] = b
        return kw

    def moment(self):
        m = BASE_TIME + timedelta(seconds=int(self.rng.integers(-30 * 86400, 400 * 86400)))
        r = self.rng.random()
        if r < 0.2:
            return m.date()
        if r < 0.4:
            return m.astimezone(timezone(timedelta(hours=int(self.rng.integers(-8, 9)))))
        return m

    def geo_point(self, margin=0.0):
        return models.GeoPoint(
            lat=float(self.rng.uniform(GEO_LAT[0] - margin, GEO_LAT[1] + margin)),
            lon=float(self.rng.uniform(GEO_LON[0] - margin, GEO_LON[1] + margin)),
        )

    def field_condition(self):
        kind = int(self.rng.integers(17))
        if kind == 0:
            key = self.pick(["kw", "city", "tags", "nested.b.c", "items[].name"])
            values = CITIES if key == "city" else KEYWORDS
            if self.rng.random() < 0.05:
                values = CITIES if key != "city" else KEYWORDS  # a value the field never holds
            return F(key=key, match=MV(value=self.pick(values)))
        if kind == 1:
            key = self.pick(["n_int", "nested.a", "items[].qty", "maybe"])
            lo, hi = {"n_int": (-8, 8), "nested.a": (0, 9), "items[].qty": (0, 9), "maybe": (0, 2)}[key]
            return F(key=key, match=MV(value=int(self.rng.integers(lo, hi + 1))))
        if kind == 2:
            return F(key="flag", match=MV(value=bool(self.rng.random() < 0.5)))
        if kind == 3:
            key = self.pick(["kw", "city", "tags", "items[].name"])
            pool = CITIES if key == "city" else KEYWORDS
            values = sorted({self.pick(pool) for _ in range(int(self.rng.integers(1, 4)))})
            if self.rng.random() < 0.5:
                return F(key=key, match=models.MatchAny(any=values))
            return F(key=key, match=models.MatchExcept(**{"except": values}))
        if kind == 4:
            key = self.pick(["n_int", "nested.a", "items[].qty"])
            values = sorted({int(v) for v in self.rng.integers(-10, 10, int(self.rng.integers(1, 5)))})
            if self.rng.random() < 0.5:
                return F(key=key, match=models.MatchAny(any=values))
            return F(key=key, match=models.MatchExcept(**{"except": values}))
        if kind == 5:
            words = " ".join(self.pick(WORDS) for _ in range(int(self.rng.integers(1, 3))))
            r = self.rng.random()
            if r < 0.6:
                return F(key="text", match=models.MatchText(text=words))
            if r < 0.8:
                return F(key="text", match=models.MatchTextAny(text_any=words))
            return F(key="text", match=models.MatchPhrase(phrase=words))
        if kind == 6:
            key = self.pick(["n_int", "nested.a", "items[].qty", "rank"])
            lo, hi = {"n_int": (-20, 20), "nested.a": (0, 9), "items[].qty": (0, 9), "rank": (-N, 2 * N)}[key]
            return F(key=key, range=models.Range(**self.bounds(lo, hi, integer=True)))
        if kind == 7:
            key = self.pick(["n_float", "score_f", "items[].price"])
            lo, hi = {"n_float": (-25, 25), "score_f": (0, 1), "items[].price": (0, 100)}[key]
            return F(key=key, range=models.Range(**self.bounds(lo, hi, integer=False)))
        if kind == 8:
            key = self.pick(["ts", "created"])
            return F(key=key, range=models.DatetimeRange(**self.bounds(0, 0, False, draw=self.moment)))
        if kind == 9:
            key = self.pick(["tags", "kw", "n_int", "items", "ts", "nope"])
            return F(key=key, values_count=models.ValuesCount(**self.bounds(0, 4, integer=True, only_int=True)))
        if kind == 10:
            key = self.pick(["maybe", "tags", "kw", "items", "n_int", "nope", "nested.a"])
            if self.rng.random() < 0.5:
                return models.IsEmptyCondition(is_empty=models.PayloadField(key=key))
            return models.IsNullCondition(is_null=models.PayloadField(key=key))
        if kind == 11:
            chosen = [self.ids[int(i)] for i in self.rng.choice(len(self.ids), size=int(self.rng.integers(1, 25)), replace=False)]
            if self.rng.random() < 0.3:
                chosen.append(int(self.rng.integers(10**9, 10**10)))
            return models.HasIdCondition(has_id=chosen)
        if kind == 12:
            return models.HasVectorCondition(has_vector=self.pick(list(NAMED_VECTORS)))
        if kind == 13:
            a, b = self.geo_point(2), self.geo_point(2)
            top_left = models.GeoPoint(lat=max(a.lat, b.lat), lon=min(a.lon, b.lon))
            bottom_right = models.GeoPoint(lat=min(a.lat, b.lat), lon=max(a.lon, b.lon))
            return F(key="loc", geo_bounding_box=models.GeoBoundingBox(top_left=top_left, bottom_right=bottom_right))
        if kind == 14:
            return F(key="loc", geo_radius=models.GeoRadius(center=self.geo_point(), radius=float(self.rng.uniform(50_000, 1_500_000))))
        if kind == 15:
            c = self.geo_point()
            return F(key="loc", geo_polygon=polygon(c.lat, c.lon, float(self.rng.uniform(1, 10)), float(self.rng.uniform(1, 15)),
                                                    hole=bool(self.rng.random() < 0.4)))
        # kind == 16: nested object array
        inner = []
        for _ in range(int(self.rng.integers(1, 3))):
            r = self.rng.random()
            if r < 0.4:
                inner.append(F(key="name", match=MV(value=self.pick(KEYWORDS))))
            elif r < 0.7:
                inner.append(F(key="qty", range=models.Range(**self.bounds(0, 9, integer=True))))
            else:
                inner.append(F(key="price", range=models.Range(**self.bounds(0, 100, integer=False))))
        clause = self.pick(["must", "should", "must_not"])
        return models.NestedCondition(nested=models.Nested(key=self.pick(["items", "items[]"]), filter=models.Filter(**{clause: inner})))

    def condition(self, depth):
        if depth < 2 and self.rng.random() < 0.15:
            return self.filter(depth + 1)
        return self.field_condition()

    def conditions(self, depth):
        count = 1 + int(self.rng.choice(3, p=[0.6, 0.3, 0.1]))  # mostly one: ANDs get selective fast
        return [self.condition(depth) for _ in range(count)]

    def filter(self, depth=0):
        kw = {}
        while not kw:
            if self.rng.random() < 0.6:
                kw["must"] = self.conditions(depth)
            if self.rng.random() < 0.35:
                kw["should"] = self.conditions(depth)
            if self.rng.random() < 0.3:
                kw["must_not"] = self.conditions(depth)
            if self.rng.random() < 0.15:
                conds = self.conditions(depth) + [self.field_condition()]
                kw["min_should"] = models.MinShould(conditions=conds, min_count=int(self.rng.integers(1, len(conds) + 1)))
        return models.Filter(**kw)


def generated(ids) -> list[tuple[str, models.Filter]]:
    gen = Gen(seed=203, ids=ids)
    return [(f"gen:{i}", gen.filter()) for i in range(N_RANDOM)]


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_random_filters(pair, data, chunk, variant):
    filters = generated(data.ids)
    per_chunk = len(filters) // CHUNKS
    check_many(pair, data, filters[chunk * per_chunk : (chunk + 1) * per_chunk], variant)


def test_generated_filters_are_selective(data, pair):
    """The generator is useful only if its filters match some points but not all."""
    counts = []
    for key, flt in generated(data.ids):
        cached = data.cache.get((key, "count"))
        lres = cached[0] if cached else pair.local.count(data.local_name, count_filter=flt)
        if lres is not None:
            counts.append(lres.count)
    counts = np.array(counts)
    assert len(counts) > N_RANDOM * 0.9
    assert ((counts > 0) & (counts < N)).mean() > 0.5, np.bincount(np.minimum(counts // 40, 10))


def test_payload_index_types_reported(pair, data):
    """The server reports its payload indexes in get_collection's payload_schema (local mode
    reports none, so this checks the server against the request)."""
    needs_server()
    expected = {k: (v.type.value if isinstance(v, models.TextIndexParams) else v.value) for k, v in INDEXES.items()}
    for variant in ("indexed", "sealed"):
        schema = pair.remote.get_collection(data.remote_names[variant]).payload_schema
        got = {k: (v.data_type.value if hasattr(v.data_type, "value") else str(v.data_type)) for k, v in schema.items()}
        assert got == expected, variant
    assert pair.remote.get_collection(data.remote_names["unindexed"]).payload_schema == {}
