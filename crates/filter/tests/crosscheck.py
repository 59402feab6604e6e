#!/usr/bin/env python3
"""Generates cross-check fixtures for rvdb-filter from Qdrant's Python client in local mode.

Run with the Python that has qdrant-client installed (1.20):

    /tmp/qv/bin/python crates/filter/tests/crosscheck.py [--seed N] [--cases N] [--out DIR]

It writes, under DIR (default: tests/fixtures next to this script):

* crosscheck.jsonl: random payloads and filters, one case a line:
  {"payload": {...}, "filter": {...}, "id": 3 | "uuid", "vectors": ["", ...], "expected": bool}
  where `expected` is `qdrant_client.local.payload_filters.check_filter`'s answer for a point
  with that id, payload and those named vectors.
* datetimes.jsonl: {"s": "...", "micros": int | null}, local mode's datetime parse of `s`
  (microseconds since the epoch, UTC).
* payload_ops.jsonl: include / exclude selectors, set_payload (with and without a key) and
  delete_payload on random payloads: {"op": ..., "payload": ..., ..., "expected": ...}.

`crates/filter/tests/crosscheck.rs` replays the three files against the Rust implementation.
"""

import argparse
import copy
import datetime as dt
import json
import os
import random
import uuid

from qdrant_client.http import models
from qdrant_client.local import datetime_utils
from qdrant_client.local.json_path_parser import parse_json_path
from qdrant_client.local.payload_filters import check_filter
from qdrant_client.local.payload_value_extractor import exclude_payload, include_payload
from qdrant_client.local.payload_value_setter import (
    delete_value_by_key,
    merge_payload,
    set_value_by_key,
)

R = random.Random()

WORDS = ["red", "Green", "blue", "sky", "the", "quick", "brown", "fox", "été", "ÉTÉ", "x1", "42"]
KEYWORDS = ["red", "green", "blue", "Red", "re", "", "red green", "abc-def", "été"]
UUIDS = [str(uuid.UUID(int=((i + 1) * 0x9E3779B97F4A7C15F39CC0605CEDC834) % 2**128)) for i in range(4)]
VECTOR_NAMES = ["", "image", "text"]

DT_BOUNDS = [
    "2021-01-01T00:00:00Z",
    "2021-01-01T12:00:00+02:00",
    "2021-06-15T08:30:00Z",
    "2021-01-01",
    "2022-03-04T05:06:07.123456Z",
    "2020-12-31T23:59:59-01:00",
    "2021-06-15T10:30:00",
]


# the case being generated: conditions aim at its point now and then (its id, its vectors, its
# geo points as box edges or polygon vertices), so that boundaries and nested ids are decisive
CASE = {"id": 0, "vectors": [], "payload": {}}


def pick(xs):
    return R.choice(xs)


def chance(p):
    return R.random() < p


# ---------------------------------------------------------------- datetimes


def dt_string():
    """A datetime-ish string: mostly valid in some accepted format, sometimes broken."""
    odd = chance(0.25)  # odd years, months and days, some invalid
    y = pick(["2021", "2020", "1999", "0001", "9999", "0000", "202"] if odd else ["2021", "2020"])
    m = pick(["01", "1", "06", "12", "13", "00", "02", "6"] if odd else ["01", "06", "12", "2"])
    d = pick(["01", "1", "15", "28", "29", "30", "31", "32", " 5", "0"] if odd else ["01", "15", "28", "9"])
    s = f"{y}-{m}-{d}"
    if chance(0.85):
        s += pick(["T", "t", " ", "  ", "\t", "_", "T"] if odd else ["T", " "])
        h = pick(["00", "0", "12", "23", "24", "7", "09"] if odd else ["00", "12", "23", "7"])
        s += h
        if chance(0.9):
            s += ":" + pick(["00", "30", "59", "60", "5", "05"] if odd else ["00", "30", "59"])
            if chance(0.8):
                s += ":" + pick(["00", "59", "60", "61", "7", "30"] if odd else ["00", "59", "30"])
                if chance(0.5):
                    s += "." + "".join(pick("0123456789") for _ in range(R.randint(0, 10)))
        if chance(0.7):
            s += pick(["", "", " "]) + pick([
                "Z", "z", "+00:00", "+01:00", "-05:30", "+0100", "-0930", "+01", "-11",
                "+23:59", "+24:00", "+01:00:30", "+01:00:30.5", "+010030", "+01:0030",
                " UTC", " utc", "UTC", "+1", "+01:5",
            ] if odd else ["Z", "+01:00", "-05:30", "+0100", "+01", "z", " UTC"])
    if chance(0.1):
        s = pick([" ", "  ", "\n"]) + s
    if chance(0.05):
        s = s + pick([" ", "x", "Z"])
    if chance(0.03) and s:
        i = R.randrange(len(s))
        s = s[:i] + s[i + 1:]
    return s


def dt_micros(s):
    t = datetime_utils.parse(s)
    if t is None:
        return None
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    return (t - epoch) // dt.timedelta(microseconds=1)


# ---------------------------------------------------------------- payloads


def geo_value():
    r = R.random()
    if r < 0.7:
        # grid points often, so that boundaries are hit
        lon = pick([R.uniform(-10, 10), R.randint(-3, 3), R.randint(-3, 3), float(R.randint(-3, 3)), 0.5])
        lat = pick([R.uniform(-10, 10), R.randint(-3, 3), R.randint(-3, 3), float(R.randint(-3, 3)), 0.5])
        p = {"lon": lon, "lat": lat}
        if chance(0.1):
            p["alt"] = 3
        return p
    return pick([
        {"lon": True, "lat": 1},
        {"lon": 1},
        {"lon": "1", "lat": 2},
        [1, 2],
        "1,2",
        None,
        {"lat": 1.5, "lon": 2.5},
    ])


def scalar():
    return pick([
        lambda: R.randint(-5, 5),
        lambda: float(R.randint(-5, 5)),
        lambda: R.uniform(-5, 5),
        lambda: pick([True, False]),
        lambda: pick(KEYWORDS),
        lambda: None,
        lambda: pick(UUIDS),
        lambda: R.randint(-(2**62), 2**62),
    ])()


def maybe_array(gen, p=0.35):
    if chance(p):
        return [gen() for _ in range(R.randint(0, 3))]
    return gen()


def text_value():
    n = R.randint(0, 5)
    sep = pick([" ", ", ", "_", "-", "  ", ". ", "_"])
    return sep.join(pick(WORDS) for _ in range(n))


def nested_obj():
    o = {}
    if chance(0.8):
        o["x"] = maybe_array(lambda: R.randint(0, 3), 0.2)
    if chance(0.7):
        o["y"] = pick(KEYWORDS[:4] + [None])
    if chance(0.3):
        o["z"] = [R.randint(0, 3) for _ in range(R.randint(0, 2))]
    if chance(0.2):
        o["w"] = [{"x": R.randint(0, 3)} for _ in range(R.randint(0, 2))]
    return o


FIELD_GENS = {
    "i": lambda: maybe_array(lambda: pick([R.randint(-5, 5), R.randint(-5, 5), scalar()])),
    "f": lambda: maybe_array(lambda: pick([R.uniform(-5, 5), float(R.randint(-3, 3)), R.randint(-3, 3), True])),
    "s": lambda: maybe_array(lambda: pick(KEYWORDS + [None, 1])),
    "t": lambda: maybe_array(lambda: pick([text_value(), text_value(), 3, None]), 0.2),
    "d": lambda: maybe_array(lambda: pick([dt_string(), pick(DT_BOUNDS), 5]), 0.3),
    "g": lambda: maybe_array(geo_value, 0.3),
    "n": lambda: pick([
        [nested_obj() for _ in range(R.randint(0, 3))],
        [nested_obj() for _ in range(R.randint(1, 3))] + [3, None, [nested_obj()]],
        nested_obj(),
        None,
        5,
    ]),
    "o": lambda: pick([
        {"a": scalar(), "b": maybe_array(lambda: R.randint(0, 3), 0.7)},
        {"a": maybe_array(scalar)},
        {"b": [[1, 2], [3]]},
        5,
        [{"a": 1}, {"a": 2, "b": [1]}],
    ]),
    "e": lambda: pick([[], None, [None], [1, None], [[]], [None, None], 0, "", {}]),
    "u": lambda: maybe_array(lambda: pick(UUIDS + [UUIDS[0].upper(), "not-a-uuid"])),
    "b": lambda: maybe_array(lambda: pick([True, False, 1, 0, "true"]), 0.2),
}

KEYS = {
    "i": ["i"],
    "f": ["f"],
    "s": ["s"],
    "t": ["t"],
    "d": ["d"],
    "g": ["g"],
    "n": ["n[].x", "n[].y", "n[0].x", "n[].z", "n.x", "n[].w[].x"],
    "o": ["o.a", "o.b", "o.b[]", "o.b[0]", "o[].a", "o"],
    "e": ["e", "e[]"],
    "u": ["u"],
    "b": ["b"],
}


def payload():
    fields = R.sample(sorted(FIELD_GENS), R.randint(2, 6))
    return {f: FIELD_GENS[f]() for f in fields}


# ---------------------------------------------------------------- filters


def any_key():
    field = pick(sorted(KEYS))
    return pick(KEYS[field] + ["missing"] if chance(0.05) else KEYS[field]), field


def match_cond(field):
    r = R.random()
    if field in ("t",) and r < 0.8:
        kind = pick(["text", "text_any", "phrase"])
        return {kind: pick([" ", ", "]).join(pick(WORDS) for _ in range(R.randint(0, 3)))}
    if r < 0.3:
        v = pick([R.randint(-5, 5), pick(KEYWORDS), pick([True, False]), pick(UUIDS), R.randint(0, 3)])
        return {"value": v}
    if r < 0.55:
        kind = pick(["any", "except"])
        if chance(0.5):
            return {kind: R.sample(KEYWORDS + UUIDS[:1], R.randint(0, 3))}
        return {kind: R.sample(range(-5, 6), R.randint(0, 3))}
    if r < 0.7:
        kind = pick(["text", "text_any", "phrase"])
        return {kind: " ".join(pick(WORDS + KEYWORDS) for _ in range(R.randint(0, 2)))}
    return {pick(["prefix", "substring"]): pick(["", "r", "re", "Re", "e", "green", "-", "ét"])}


def bounds(gen):
    out = {}
    for b in R.sample(["lt", "lte", "gt", "gte"], R.randint(0, 2)):
        out[b] = gen()
    return out


def geo_point():
    return {"lon": round(R.uniform(-12, 12), 1), "lat": round(R.uniform(-12, 12), 1)}


def ring(cx, cy, rx, ry, n=None):
    n = n or R.randint(3, 6)
    pts = []
    for k in range(n):
        a = 2 * 3.141592653589793 * k / n
        pts.append({"lon": round(cx + rx * pick([1, 0.5]) * _cos(a), 1),
                    "lat": round(cy + ry * _sin(a), 1)})
    return {"points": pts + [dict(pts[0])]}


def _cos(a):
    import math

    return math.cos(a)


def _sin(a):
    import math

    return math.sin(a)


def square(x0, y0, x1, y1):
    pts = [{"lon": x0, "lat": y0}, {"lon": x1, "lat": y0}, {"lon": x1, "lat": y1}, {"lon": x0, "lat": y1}]
    return {"points": pts + [dict(pts[0])]}


def case_geo_point():
    """A valid geo point of the case's payload, if it has one."""
    g = CASE["payload"].get("g")
    pts = [x for x in (g if isinstance(g, list) else [g])
           if isinstance(x, dict) and all(type(x.get(c)) in (int, float) for c in ("lon", "lat"))]
    return {"lon": float(pts[0]["lon"]), "lat": float(pts[0]["lat"])} if pts else None


def geo_on_boundary(kind, q):
    """A geo condition with `q` on (or just inside) its boundary."""
    lon, lat = q["lon"], q["lat"]
    d = pick([1, 2, 0.5])
    if kind == "geo_bounding_box":
        tl = {"lon": lon - d, "lat": lat + d}
        br = {"lon": lon + d, "lat": lat - d}
        edge = pick(["top", "bottom", "left", "right", "inside"])
        if edge == "top":
            tl["lat"] = lat
        elif edge == "bottom":
            br["lat"] = lat
        elif edge == "left":
            tl["lon"] = lon
        elif edge == "right":
            br["lon"] = lon
        return {"top_left": tl, "bottom_right": br}
    if kind == "geo_radius":
        return {"center": dict(q), "radius": pick([0, 0.0, 1e-9, 10])}
    # q as a vertex, on an edge, or on a hole's edge
    where = pick(["vertex", "edge", "hole", "hole-vertex"])
    if where == "vertex":
        return {"exterior": square(lon, lat, lon + d, lat + d)}
    if where == "edge":
        return {"exterior": square(lon - d, lat - d, lon + d, lat + d) if chance(0.3) else square(lon, lat - d, lon + d, lat + d)}
    hole = square(lon, lat - d / 2, lon + d / 2, lat + d / 2) if where == "hole" else square(lon, lat, lon + d / 2, lat + d / 2)
    return {"exterior": square(lon - 2 * d, lat - 2 * d, lon + 2 * d, lat + 2 * d), "interiors": [hole]}


def field_condition(depth, field=None):
    if field is None:
        key, field = any_key()
    else:
        key = pick(KEYS[field])
    r = R.random()
    if field == "g" and r < 0.75:
        kind = pick(["geo_bounding_box", "geo_radius", "geo_polygon"])
        q = case_geo_point()
        if q is not None and chance(0.5):
            return {"key": key, kind: geo_on_boundary(kind, q)}
        if kind == "geo_bounding_box":
            a, b = geo_point(), geo_point()
            if chance(0.6):  # integer edges, to hit the open boundaries
                a = {"lon": R.randint(-3, 3), "lat": R.randint(0, 3)}
                b = {"lon": R.randint(-3, 3), "lat": R.randint(-3, 0)}
            return {"key": key, kind: {"top_left": a, "bottom_right": b}}
        if kind == "geo_radius":
            center = geo_point() if chance(0.5) else {"lon": R.randint(-3, 3), "lat": R.randint(-3, 3)}
            return {"key": key, kind: {"center": center, "radius": pick([0, 1000.0, 111195.08, 300000, 800000, 1500000.5])}}
        if chance(0.7):
            x0, y0 = R.randint(-3, 0), R.randint(-3, 0)
            x1, y1 = R.randint(1, 3), R.randint(1, 3)
            poly = {"exterior": square(x0, y0, x1, y1)}
            if chance(0.5):
                poly["interiors"] = [square(x0 + 1, y0 + 1, R.randint(x0 + 2, x1 + 2), R.randint(y0 + 2, y1 + 2))]
        else:
            poly = {"exterior": ring(R.uniform(-5, 5), R.uniform(-5, 5), R.uniform(2, 8), R.uniform(2, 8))}
        return {"key": key, kind: poly}
    if field == "d" and r < 0.7:
        return {"key": key, "range": bounds(lambda: pick(DT_BOUNDS))}
    if field == "t" and r < 0.7:
        return {"key": key, "match": match_cond(field)}
    if r < 0.35:
        return {"key": key, "match": match_cond(field)}
    if r < 0.6:
        return {"key": key, "range": bounds(lambda: pick([R.randint(-5, 5), round(R.uniform(-5, 5), 2), 0.5, 2**62]))}
    if r < 0.7:
        return {"key": key, "values_count": bounds(lambda: R.randint(0, 4))}
    if r < 0.8:
        return {"key": key, pick(["is_empty", "is_null"]): pick([True, False])}
    if r < 0.85:
        return {"key": key, "range": bounds(lambda: pick(DT_BOUNDS))}
    return {pick(["is_empty", "is_null"]): {"key": key}}


def point_id():
    return pick([R.randint(0, 20), R.randint(0, 20), pick(UUIDS)])


def some_ids(n):
    ids = [point_id() for _ in range(n)]
    if chance(0.5):
        ids.append(CASE["id"])
    return ids


def vector_name():
    if CASE["vectors"] and chance(0.5):
        return pick(CASE["vectors"])
    return pick(VECTOR_NAMES + ["missing"])


def condition(depth, nested=False):
    r = R.random()
    if nested and r < 0.6:
        key = pick(["x", "y", "z", "w[].x", "x[]"])
        c = R.random()
        if c < 0.4:
            return {"key": key, "match": {"value": pick([R.randint(0, 3), pick(KEYWORDS[:4])])}}
        if c < 0.6:
            return {"key": key, "range": bounds(lambda: R.randint(0, 3))}
        if c < 0.75:
            return {"key": key, "values_count": bounds(lambda: R.randint(0, 3))}
        if c < 0.85:
            return {pick(["is_empty", "is_null"]): {"key": key}}
        return {"has_id": some_ids(1)} if chance(0.5) else {"has_vector": vector_name()}
    if r < 0.6 or depth >= 2:
        return field_condition(depth)
    if r < 0.67:
        return {"has_id": some_ids(R.randint(0, 3))}
    if r < 0.72:
        return {"has_vector": vector_name()}
    if r < 0.76:
        total = R.randint(1, 4)
        return {"slice": {"total": total, "index": R.randrange(total)}}
    if r < 0.86:
        return {"nested": {"key": pick(["n", "n[]", "o", "n[].w", "o.b", "e"]), "filter": filter_(depth + 1, nested=True)}}
    if r < 0.88:
        return {}
    return filter_(depth + 1, nested)


def clause(depth, nested):
    n = R.randint(1, 3) if depth == 0 else R.randint(0, 2)
    items = [condition(depth, nested) for _ in range(n)]
    if n == 1 and chance(0.3):
        return items[0]  # a single condition where an array is expected
    return items


def filter_(depth=0, nested=False):
    f = {}
    for name in R.sample(["must", "should", "must_not", "min_should"], R.randint(1, 3 - depth)):
        if name == "min_should":
            conds = [condition(depth, nested) for _ in range(R.randint(1, 3 if depth == 0 else 2))]
            f[name] = {"conditions": conds, "min_count": R.randint(1, len(conds) + 1)}
        else:
            f[name] = clause(depth, nested)
    return f


# ---------------------------------------------------------------- payload operations

PATHS = ["a", "a.b", "a[]", "a[0]", "a[].b", "a[1].b", "a.b.c", "l", "l[]", "l[].x", "l[0]",
         "l[0].x", "l[][0]", "l[].x.y", '"a.b"', "x", "x.y", "l[5]", "a.c"]


def op_payload():
    def small():
        return pick([1, "s", None, True, [1, 2], {"x": 1}, {"y": [1, {"x": 2}]}, [], {}])

    p = {}
    for k in R.sample(["a", "l", "x", "a.b", "z"], R.randint(1, 4)):
        if k == "a":
            p[k] = pick([{"b": small(), "c": small()}, [{"b": small()}, {"b": small(), "c": 1}], small()])
        elif k == "l":
            p[k] = pick([[{"x": small()}, {"x": small(), "y": 2}, small()], [[1, 2], [3]], small()])
        else:
            p[k] = small()
    return p


def payload_op():
    p = op_payload()
    op = pick(["include", "exclude", "set", "set", "delete"])
    if op in ("include", "exclude"):
        keys = R.sample(PATHS, R.randint(0, 3))
        f = include_payload if op == "include" else exclude_payload
        return {"op": op, "payload": p, "keys": keys, "expected": f(copy.deepcopy(p), keys)}
    if op == "delete":
        keys = R.sample(PATHS, R.randint(1, 3))
        out = copy.deepcopy(p)
        for k in keys:
            delete_value_by_key(out, parse_json_path(k))
        return {"op": op, "payload": p, "keys": keys, "expected": out}
    value = {k: pick([1, None, {"q": 1}, [1], "v"]) for k in R.sample(["b", "c", "x", "q"], R.randint(0, 3))}
    key = pick(PATHS + [None, None])
    if key is None:
        out = merge_payload(dict(copy.deepcopy(p)), copy.deepcopy(value))
    else:
        out = copy.deepcopy(p)
        set_value_by_key(payload=out, value=copy.deepcopy(value), keys=parse_json_path(key))
    return {"op": op, "payload": p, "key": key, "value": value, "expected": out}


# ---------------------------------------------------------------- main


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--cases", type=int, default=2000)
    ap.add_argument("--datetimes", type=int, default=1500)
    ap.add_argument("--ops", type=int, default=600)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures"))
    args = ap.parse_args()
    R.seed(args.seed)
    os.makedirs(args.out, exist_ok=True)

    # as many passing as failing points: a failing `must` says less than a passing one
    stats = {True: 0, False: 0}
    with open(os.path.join(args.out, "crosscheck.jsonl"), "w") as out:
        while sum(stats.values()) < args.cases:
            p = payload()
            pid = point_id()
            vectors = sorted(R.sample(VECTOR_NAMES, R.randint(0, 2)))
            CASE.update(id=pid, vectors=vectors, payload=p)
            # half the cases test one condition alone, on a field the payload has, so that the
            # condition's outcome decides the case
            if chance(0.5):
                # the subtle ones more often
                field = pick(sorted(KEYS) + ["g", "g", "d", "t", "t", "n"])
                p.setdefault(field, FIELD_GENS[field]())
                if field == "n" and chance(0.4):
                    f = {"must": [{"nested": {"key": pick(["n", "n[]"]), "filter": filter_(1, nested=True)}}]}
                elif chance(0.8):
                    f = {"must": [field_condition(1, field)]}
                else:
                    f = {"must": [condition(1)]}
            else:
                f = filter_()
            model = models.Filter.model_validate(f)
            expected = check_filter(model, p, pid, {v: True for v in vectors})
            if stats[expected] >= args.cases // 2:
                continue
            stats[expected] += 1
            out.write(json.dumps({"payload": p, "filter": f, "id": pid, "vectors": vectors,
                                  "expected": expected}, ensure_ascii=False, separators=(",", ":")) + "\n")

    with open(os.path.join(args.out, "datetimes.jsonl"), "w") as out:
        seen = set()
        for _ in range(args.datetimes):
            s = dt_string()
            if s in seen:
                continue
            seen.add(s)
            out.write(json.dumps({"s": s, "micros": dt_micros(s)}, ensure_ascii=False) + "\n")

    with open(os.path.join(args.out, "payload_ops.jsonl"), "w") as out:
        for _ in range(args.ops):
            out.write(json.dumps(payload_op(), ensure_ascii=False, separators=(",", ":")) + "\n")

    print("filter cases (passing, failing):", stats[True], stats[False])


if __name__ == "__main__":
    main()
