#!/usr/bin/env python3
"""The seed's REST walk-through against a running rustvecdb server, checked step by step.

    cargo run --release                 # in one terminal (serves http://127.0.0.1:6333)
    python3 examples/api_client.py      # in another

Python 3 (tested with 3.11) and the standard library only (urllib.request + json): nothing to install.
The server's base URL comes from RVDB_URL (default http://localhost:6333).

It creates two collections, `movies` (Cosine, the seed's recommendation example) and
`products` (Euclidean, the seed's batch-insert example), exercises every route, and deletes both
at the end, so it can be run again. Collections of those names left over by an interrupted run
are deleted first. Every call is checked: the script exits with status 1 and says which step
failed as soon as a request fails or a result is not what the walk-through expects.
"""

import json
import os
import sys
import urllib.error
import urllib.request
import uuid

BASE_URL = os.environ.get("RVDB_URL", "http://localhost:6333").rstrip("/")

MOVIES = [
    {
        "id": "550e8400-e29b-41d4-a716-446655440000",
        "vector": [0.1, 0.2, 0.3, 0.4],
        "payload": {"title": "The Matrix", "genre": "sci-fi", "year": 1999},
    },
    {
        "id": "550e8400-e29b-41d4-a716-446655440001",
        "vector": [0.15, 0.25, 0.35, 0.45],
        "payload": {"title": "Inception", "genre": "sci-fi", "year": 2010},
    },
    {
        "id": "550e8400-e29b-41d4-a716-446655440002",
        "vector": [0.8, 0.1, 0.2, 0.3],
        "payload": {"title": "The Notebook", "genre": "romance", "year": 2004},
    },
]
MATRIX_ID = MOVIES[0]["id"]
NOTEBOOK_ID = MOVIES[2]["id"]


class WalkthroughError(Exception):
    """A request failed or returned something the walk-through does not expect."""


def call(method, path, body=None, expect_status=200):
    """Sends one request and returns the decoded JSON envelope.

    Raises WalkthroughError unless the HTTP status is `expect_status`.
    """
    url = BASE_URL + path
    data = None if body is None else json.dumps(body).encode("utf-8")
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as e:  # a 4xx/5xx answer: still a JSON envelope
        status, raw = e.code, e.read()
    except urllib.error.URLError as e:
        raise WalkthroughError(
            f"{method} {url}: cannot reach the server ({e.reason}); "
            "is it running? Start it with `cargo run --release` or set RVDB_URL"
        ) from None
    try:
        envelope = json.loads(raw) if raw else None
    except json.JSONDecodeError:
        raise WalkthroughError(
            f"{method} {path}: HTTP {status}, body is not JSON: {raw[:200]!r}"
        ) from None
    if status != expect_status:
        error = None
        if isinstance(envelope, dict) and isinstance(envelope.get("status"), dict):
            error = envelope["status"].get("error")
        raise WalkthroughError(
            f"{method} {path}: expected HTTP {expect_status}, got {status}: {error or raw[:200]!r}"
        )
    return envelope


def result(envelope, what):
    """The `result` of a successful envelope `{"result": …, "status": "ok", "time": …}`."""
    if not isinstance(envelope, dict) or envelope.get("status") != "ok" or "result" not in envelope:
        raise WalkthroughError(f"{what}: not a success envelope: {envelope!r}")
    return envelope["result"]


def check(condition, message):
    if not condition:
        raise WalkthroughError(message)


def show(label, value):
    print(f"{label}: {json.dumps(value, indent=2)}")


def is_uuid(text):
    try:
        uuid.UUID(str(text))
        return True
    except ValueError:
        return False


def titles(hits):
    return [h["payload"]["title"] for h in hits]


def walkthrough():
    # 0. Health check
    health = result(call("GET", "/health"), "health")
    check(health.get("status") == "ok", f"health: unexpected answer {health!r}")
    print(f"0. Server is up: {health['title']} {health['version']} at {BASE_URL}")

    # Leftovers of an interrupted run
    existing = {c["name"] for c in result(call("GET", "/collections"), "list")["collections"]}
    for name in ("movies", "products"):
        if name in existing:
            print(f"   (deleting collection `{name}` left over by an earlier run)")
            call("DELETE", f"/collections/{name}")

    # 1. Create collections (the seed body: name + distance; the first point fixes the dimension)
    for name, distance in (("movies", "Cosine"), ("products", "Euclidean")):
        created = result(
            call("PUT", f"/collections/{name}", {"name": name, "distance": distance}),
            f"create {name}",
        )
        check(created is True, f"create {name}: expected true, got {created!r}")
    names = [c["name"] for c in result(call("GET", "/collections"), "list")["collections"]]
    check({"movies", "products"} <= set(names), f"list collections: got {names}")
    print(f"1. Created collections; the server now has {names}")

    # 2. Add movie embeddings, one PUT per point, with the seed's UUIDs
    for movie in MOVIES:
        r = result(
            call(
                "PUT",
                f"/collections/movies/points/{movie['id']}",
                {"vector": movie["vector"], "payload": movie["payload"]},
            ),
            f"put {movie['payload']['title']}",
        )
        check(r["status"] == "completed", f"put {movie['id']}: {r!r}")
        check(r["ids"] == [movie["id"]], f"put {movie['id']}: ids {r['ids']!r}")
    print(f"2. Inserted {len(MOVIES)} movies with PUT /collections/movies/points/{{id}}")

    # 3. Batch insert: a JSON array of points; points without an id get a UUIDv4
    batch = [
        {"vector": [0.1, 0.2, 0.3, 0.4], "payload": {"name": "Item 1", "category": "electronics"}},
        {"vector": [0.5, 0.6, 0.7, 0.8], "payload": {"name": "Item 2", "category": "books"}},
    ]
    r = result(call("POST", "/collections/products/points", batch), "batch insert")
    check(r["status"] == "completed", f"batch insert: {r!r}")
    check(
        len(r["ids"]) == 2 and all(is_uuid(i) for i in r["ids"]),
        f"batch insert: expected two server-assigned UUIDs, got {r['ids']!r}",
    )
    print(f"3. Batch-inserted 2 products; the server assigned ids {r['ids']}")

    # 4. Search for similar movies
    hits = result(
        call(
            "POST",
            "/collections/movies/points/search",
            {"vector": [0.1, 0.2, 0.3, 0.4], "limit": 3},  # The Matrix embedding
        ),
        "search",
    )
    show("4. Similar movies", hits)
    check(len(hits) == 3, f"search: expected 3 hits, got {len(hits)}")
    check(
        hits[0]["id"] == MATRIX_ID and hits[0]["payload"]["title"] == "The Matrix",
        f"search: The Matrix should be the top hit for its own vector, got {titles(hits)}",
    )
    check(abs(hits[0]["score"] - 1.0) < 1e-5, f"search: top score {hits[0]['score']} != 1")
    check(
        titles(hits) == ["The Matrix", "Inception", "The Notebook"],
        f"search: unexpected order {titles(hits)}",
    )
    check(
        all(a["score"] >= b["score"] for a, b in zip(hits, hits[1:])),
        "search: cosine scores should decrease",
    )

    # 5. Search with genre filter (the seed's equality filter)
    filtered = result(
        call(
            "POST",
            "/collections/movies/points/search",
            {"vector": [0.1, 0.2, 0.3, 0.4], "limit": 3, "filter": {"genre": "sci-fi"}},
        ),
        "filtered search",
    )
    show("5. Sci-fi movies", filtered)
    check(
        filtered and all(h["payload"]["genre"] == "sci-fi" for h in filtered),
        f"filtered search: expected only sci-fi movies, got {filtered!r}",
    )
    check(
        titles(filtered) == ["The Matrix", "Inception"],
        f"filtered search: expected The Matrix then Inception, got {titles(filtered)}",
    )

    # 5b. The same question in Qdrant's filter DSL, plus a range
    dsl = result(
        call(
            "POST",
            "/collections/movies/points/search",
            {
                "vector": [0.1, 0.2, 0.3, 0.4],
                "limit": 3,
                "filter": {
                    "must": [
                        {"key": "genre", "match": {"value": "sci-fi"}},
                        {"key": "year", "range": {"gte": 2000}},
                    ]
                },
            },
        ),
        "DSL search",
    )
    check(titles(dsl) == ["Inception"], f"DSL search: expected [Inception], got {titles(dsl)}")
    print(f"   Qdrant DSL filter (sci-fi, year >= 2000): {titles(dsl)}")

    # 6. Statistics
    stats = result(call("GET", "/stats"), "stats")
    show("6. Storage stats", stats)
    per_collection = {c["name"]: c for c in stats["collections"]}
    check(
        per_collection.get("movies", {}).get("points_count") == 3,
        f"stats: movies should hold 3 points, got {per_collection.get('movies')!r}",
    )
    check(
        per_collection.get("products", {}).get("points_count") == 2,
        f"stats: products should hold 2 points, got {per_collection.get('products')!r}",
    )
    info = result(call("GET", "/collections/movies"), "collection info")
    check(info["points_count"] == 3, f"collection info: {info!r}")
    check(
        info["config"]["params"]["vectors"] == {"size": 4, "distance": "Cosine"},
        f"collection info: vectors {info['config']['params']['vectors']!r}",
    )
    print(f"   GET /collections/movies: {info['points_count']} points, vectors {info['config']['params']['vectors']}")

    # 7. Get, list and delete a point
    point = result(call("GET", f"/collections/movies/points/{MATRIX_ID}"), "get point")
    check(point["id"] == MATRIX_ID, f"get point: id {point['id']!r}")
    check(point["payload"]["title"] == "The Matrix", f"get point: payload {point['payload']!r}")
    norm = sum(x * x for x in point["vector"]) ** 0.5
    check(abs(norm - 1.0) < 1e-5, f"get point: a cosine vector is stored normalised, norm {norm}")
    print(f"7. GET point {MATRIX_ID}: {point['payload']} (vector stored normalised: {point['vector']})")

    listed = result(call("GET", "/collections/movies/points"), "list points")
    check(listed["total"] == 3 and len(listed["points"]) == 3, f"list points: {listed!r}")
    print(f"   GET /collections/movies/points: {[p['payload']['title'] for p in listed['points']]}")

    deleted = result(call("DELETE", f"/collections/movies/points/{NOTEBOOK_ID}"), "delete point")
    check(deleted["status"] == "completed", f"delete point: {deleted!r}")
    missing = call("GET", f"/collections/movies/points/{NOTEBOOK_ID}", expect_status=404)
    print(f"   Deleted The Notebook; GET it now answers 404: {missing['status']['error']}")
    listed = result(call("GET", "/collections/movies/points"), "list points")
    check(listed["total"] == 2, f"after delete: expected 2 points, got {listed['total']}")
    hits = result(
        call("POST", "/collections/movies/points/search", {"vector": [0.8, 0.1, 0.2, 0.3], "limit": 3}),
        "search after delete",
    )
    check(
        "The Notebook" not in titles(hits),
        f"search after delete: a deleted point came back: {titles(hits)}",
    )

    # 8. Clean up so the walk-through can run again
    for name in ("movies", "products"):
        gone = result(call("DELETE", f"/collections/{name}"), f"delete {name}")
        check(gone is True, f"delete {name}: expected true, got {gone!r}")
    call("GET", "/collections/movies", expect_status=404)
    print("8. Deleted collections `movies` and `products`")


def main():
    try:
        walkthrough()
    except WalkthroughError as e:
        print(f"\nFAILED: {e}", file=sys.stderr)
        return 1
    print("\nAll steps passed.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
