"""Deterministic test data: ids, vectors and payloads, all from numpy's default_rng.

Everything here is a pure function of its seed, so the same points go to the server and to
local mode, and a failure reproduces run after run.

Vectors are drawn as float32 and handed over as Python floats holding those float32 values, so
the server (which stores f32) and local mode (numpy float32) store exactly the same numbers.
Random float vectors also keep exact score ties away, so "same ids in the same order" is a
meaningful check.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import numpy as np
from qdrant_client import models

# name -> (size, distance) of the named vectors of the main data set: every distance, each
# with its own size so that mixing them up fails loudly
NAMED_VECTORS = {
    "cos": (8, models.Distance.COSINE),
    "euc": (6, models.Distance.EUCLID),
    "dot": (5, models.Distance.DOT),
    "man": (4, models.Distance.MANHATTAN),
}
PLAIN_SIZE = 8  # the single unnamed vector of the "plain" data set, Cosine

KEYWORDS = ["red", "green", "blue", "black", "white", "amber"]
CITIES = ["berlin", "paris", "rome", "madrid", "oslo", "lisbon", "vienna", "prague"]
WORDS = [
    "alpha", "beta", "gamma", "delta", "vector", "search", "engine", "rust",
    "python", "fast", "slow", "quick", "brown", "fox", "lazy", "dog",
]  # fmt: skip

# ids that are easy to get wrong: beyond 2**53 (lost by a float), beyond i64, u64::MAX
SPECIAL_INT_IDS = [0, 2**53 + 1, 2**63 + 7, 2**64 - 1]

BASE_TIME = datetime(2024, 1, 1, tzinfo=timezone.utc)

# geo points are drawn in this box (lat, lon)
GEO_LAT = (40.0, 60.0)
GEO_LON = (-10.0, 30.0)


def f32(values) -> list[float]:
    """A list of Python floats holding float32 values exactly."""
    return [float(x) for x in np.asarray(values, dtype=np.float32)]


def random_vector(rng: np.random.Generator, size: int) -> list[float]:
    return f32(rng.normal(size=size))


def make_uuid(rng: np.random.Generator) -> str:
    return str(uuid.UUID(bytes=rng.bytes(16), version=4))


def make_ids(rng: np.random.Generator, n: int, uuid_share: float = 0.25) -> list:
    """n distinct ids, ints and UUID strings mixed, in random order."""
    ints = [int(x) for x in rng.choice(np.arange(1, 20 * n), size=n, replace=False)]
    ids: list = []
    for i in range(n):
        if i < len(SPECIAL_INT_IDS):
            ids.append(SPECIAL_INT_IDS[i])
        elif rng.random() < uuid_share:
            ids.append(make_uuid(rng))
        else:
            ids.append(ints[i])
    order = rng.permutation(n)
    return [ids[i] for i in order]


def _datetime_string(rng: np.random.Generator, moment: datetime) -> str:
    """The same instant in one of the formats Qdrant (and local mode) parse."""
    style = int(rng.integers(6))
    if style == 0:
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    if style == 1:
        offset = timezone(timedelta(hours=int(rng.integers(-5, 6))))
        return moment.astimezone(offset).isoformat()  # "+02:00"
    if style == 2:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if style == 3:
        return moment.strftime("%Y-%m-%dT%H:%M:%S")  # naive means UTC
    if style == 4:
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    return moment.strftime("%Y-%m-%d")


def random_moment(rng: np.random.Generator) -> datetime:
    return BASE_TIME + timedelta(seconds=int(rng.integers(0, 365 * 24 * 3600)))


def random_text(rng: np.random.Generator) -> str:
    words = [WORDS[int(i)] for i in rng.integers(0, len(WORDS), size=int(rng.integers(2, 8)))]
    if rng.random() < 0.3:
        words[0] = words[0].capitalize()
    text = " ".join(words)
    if rng.random() < 0.3:
        text = text.replace(" ", ", ", 1) + "."
    return text


def make_payload(rng: np.random.Generator, i: int, n: int, uniq: dict) -> dict:
    """A payload with every kind of value, missing fields, nulls, arrays and nested objects.

    `uniq` holds per-point unique values (rank, score_f, created) so that order_by has no ties.
    """
    p: dict = {}

    r = rng.random()
    if r < 0.55:
        p["kw"] = KEYWORDS[int(rng.integers(len(KEYWORDS)))]
    elif r < 0.8:
        p["kw"] = [KEYWORDS[int(k)] for k in rng.integers(0, len(KEYWORDS), int(rng.integers(0, 4)))]
    elif r < 0.9:
        p["kw"] = None
    # else: missing

    if rng.random() < 0.95:
        p["city"] = CITIES[int(rng.integers(len(CITIES)))]

    r = rng.random()
    if r < 0.7:
        p["n_int"] = int(rng.integers(-20, 21))
    elif r < 0.82:
        p["n_int"] = [int(x) for x in rng.integers(-20, 21, int(rng.integers(1, 4)))]
    elif r < 0.88:
        p["n_int"] = None

    r = rng.random()
    if r < 0.8:
        p["n_float"] = float(rng.normal() * 10)
    elif r < 0.88:
        p["n_float"] = [float(x) for x in rng.normal(size=2) * 10]

    if rng.random() < 0.85:
        p["flag"] = bool(rng.random() < 0.5)

    r = rng.random()
    if r < 0.8:
        p["ts"] = _datetime_string(rng, random_moment(rng))
    elif r < 0.88:
        p["ts"] = [_datetime_string(rng, random_moment(rng)) for _ in range(2)]

    if rng.random() < 0.85:
        p["loc"] = {
            "lat": float(rng.uniform(*GEO_LAT)),
            "lon": float(rng.uniform(*GEO_LON)),
        }

    if rng.random() < 0.85:
        p["text"] = random_text(rng)

    r = rng.random()
    if r < 0.6:
        p["tags"] = [KEYWORDS[int(k)] for k in rng.integers(0, len(KEYWORDS), int(rng.integers(1, 5)))]
    elif r < 0.75:
        p["tags"] = []

    if rng.random() < 0.8:
        p["nested"] = {
            "a": int(rng.integers(0, 10)),
            "b": {"c": KEYWORDS[int(rng.integers(len(KEYWORDS)))]},
        }

    r = rng.random()
    if r < 0.7:
        p["items"] = [
            {
                "name": KEYWORDS[int(rng.integers(len(KEYWORDS)))],
                "qty": int(rng.integers(0, 10)),
                "price": float(np.round(rng.uniform(0, 100), 2)),
            }
            for _ in range(int(rng.integers(0, 4)))
        ]

    r = rng.random()
    if r < 0.3:
        p["maybe"] = None
    elif r < 0.4:
        p["maybe"] = []
    elif r < 0.45:
        p["maybe"] = [1, None]
    elif r < 0.75:
        p["maybe"] = int(rng.integers(0, 3))
    # else: missing

    # unique values for order_by (some points lack them)
    if i % 11 != 5:
        p["rank"] = uniq["rank"][i]
        p["score_f"] = uniq["score_f"][i]
        p["created"] = uniq["created"][i]
    return p


def make_points(
    seed: int,
    n: int,
    named: bool = True,
    vector_share: float = 0.9,
) -> list[models.PointStruct]:
    """n points with mixed ids and rich payloads.

    named=True: the four NAMED_VECTORS, each present with probability vector_share (so some
    points lack some vectors); named=False: one unnamed Cosine vector of PLAIN_SIZE.
    """
    rng = np.random.default_rng(seed)
    ids = make_ids(rng, n)
    uniq = {
        "rank": [int(x) for x in rng.permutation(n) * 3 - n],
        "score_f": [float(x) for x in rng.random(n)],
        "created": [
            (BASE_TIME + timedelta(minutes=int(m))).strftime("%Y-%m-%dT%H:%M:%SZ")
            for m in rng.choice(np.arange(0, 100 * n), size=n, replace=False)
        ],
    }
    points = []
    for i, point_id in enumerate(ids):
        if named:
            vector = {
                name: random_vector(rng, size)
                for name, (size, _) in NAMED_VECTORS.items()
                if rng.random() < vector_share
            }
        else:
            vector = random_vector(rng, PLAIN_SIZE)
        points.append(
            models.PointStruct(id=point_id, vector=vector, payload=make_payload(rng, i, n, uniq))
        )
    return points


def named_vectors_config() -> dict[str, models.VectorParams]:
    return {
        name: models.VectorParams(size=size, distance=distance)
        for name, (size, distance) in NAMED_VECTORS.items()
    }


def plain_vectors_config() -> models.VectorParams:
    return models.VectorParams(size=PLAIN_SIZE, distance=models.Distance.COSINE)
