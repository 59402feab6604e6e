"""Comparison helpers: the same call on the server (`remote`) and on qdrant-client's local mode
(`local`, the reference), and checks that both answered the same.

Tolerances: scores equal within 1e-4 relative + 1e-5 absolute, vectors within 1e-4 (the server
computes in f32 with its own summation order), payloads exactly (JSON values; a bool is never
equal to an int here, unlike in plain Python).

Ties: ids must come in the same order, except among points whose scores are equal within the
tolerance (RRF fusion produces such ties on purpose): there the order is free, and a tie group cut
by the limit at the end of the list may hold different members on each side.
"""

from __future__ import annotations

import os
import re
import uuid
from typing import Any, Callable

import pytest
from pydantic import BaseModel
from qdrant_client import QdrantClient
from qdrant_client.http import models  # not qdrant_client.models: its QueryResponse is fastembed's
from qdrant_client.http.exceptions import ApiException, UnexpectedResponse

SCORE_REL = 1e-4
SCORE_ABS = 1e-5
VECTOR_TOL = 1e-4

# RVDB_TEST_SELFCHECK=1 turns `remote` into a second local-mode client: the suite then checks
# itself (local vs local) and needs no server. Tests that can only be judged against a real
# HTTP server (status codes, raw REST routes, configuration reported back) skip in that mode.
SELFCHECK = os.environ.get("RVDB_TEST_SELFCHECK", "") not in ("", "0", "false", "no")


def needs_server() -> None:
    """Skip the calling test in self-check mode: it checks what only an HTTP server answers."""
    if SELFCHECK:
        pytest.skip("checks the HTTP server itself; RVDB_TEST_SELFCHECK has no server")


def unique_name(prefix: str) -> str:
    clean = re.sub(r"[^A-Za-z0-9_]+", "_", prefix)[:60].strip("_")
    return f"{clean}_{uuid.uuid4().hex[:8]}"


# --------------------------------------------------------------------------- value comparison


def close(a: float, b: float, rel: float = SCORE_REL, abs_: float = SCORE_ABS) -> bool:
    return abs(a - b) <= abs_ + rel * max(abs(a), abs(b))


def json_equal(a: Any, b: Any, path: str = "") -> None:
    """Deep equality of JSON values that tells bool from int (Python says True == 1)."""
    if isinstance(a, bool) or isinstance(b, bool):
        assert type(a) is type(b) and a == b, f"payload{path}: local {a!r} != remote {b!r}"
        return
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        # an integer stays an integer and a float a float (match conditions tell them apart)
        assert type(a) is type(b) and a == b, f"payload{path}: local {a!r} != remote {b!r}"
        return
    if isinstance(a, dict) and isinstance(b, dict):
        assert set(a) == set(b), (
            f"payload{path}: keys differ: only local {sorted(set(a) - set(b))}, "
            f"only remote {sorted(set(b) - set(a))}"
        )
        for key in a:
            json_equal(a[key], b[key], f"{path}.{key}")
        return
    if isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), f"payload{path}: local {a!r} != remote {b!r}"
        for i, (x, y) in enumerate(zip(a, b)):
            json_equal(x, y, f"{path}[{i}]")
        return
    assert a == b, f"payload{path}: local {a!r} != remote {b!r}"


def vectors_equal(a: Any, b: Any, what: str = "vector") -> None:
    """A vector struct: None, a list of floats, or a dict name -> list of floats."""
    if a is None or b is None:
        assert a is None and b is None, f"{what}: local {short(a)} != remote {short(b)}"
        return
    if isinstance(a, dict) or isinstance(b, dict):
        assert isinstance(a, dict) and isinstance(b, dict), (
            f"{what}: local {short(a)} != remote {short(b)}"
        )
        assert set(a) == set(b), f"{what}: names differ: local {sorted(a)} remote {sorted(b)}"
        for name in a:
            vectors_equal(a[name], b[name], f"{what}[{name!r}]")
        return
    if isinstance(a, models.SparseVector) or isinstance(b, models.SparseVector):
        assert a.indices == b.indices, f"{what}: sparse indices differ"
        a, b = a.values, b.values
    assert len(a) == len(b), f"{what}: length local {len(a)} != remote {len(b)}"
    for i, (x, y) in enumerate(zip(a, b)):
        if isinstance(x, list):
            vectors_equal(x, y, f"{what}[{i}]")
        else:
            assert close(x, y, VECTOR_TOL, VECTOR_TOL), (
                f"{what}[{i}]: local {x!r} != remote {y!r}\n local {short(a)}\nremote {short(b)}"
            )


def short(value: Any, limit: int = 300) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _point_details(lp: Any, rp: Any, ctx: str) -> None:
    where = f"{ctx} id={lp.id!r}"
    try:
        json_equal(lp.payload, rp.payload)
    except AssertionError as e:
        raise AssertionError(
            f"{where}: {e}\n local payload {short(lp.payload)}\nremote payload {short(rp.payload)}"
        ) from None
    vectors_equal(lp.vector, rp.vector, f"{where} vector")
    lov, rov = getattr(lp, "order_value", None), getattr(rp, "order_value", None)
    if lov is not None or rov is not None:
        assert lov is not None and rov is not None and close(lov, rov, 1e-9, 0), (
            f"{where}: order_value local {lov!r} != remote {rov!r}"
        )


def compare_scored(local: list, remote: list, ctx: str = "") -> None:
    """Two lists of ScoredPoint: same ids in the same order (up to score ties), same scores,
    payloads and vectors."""
    lids = [p.id for p in local]
    rids = [p.id for p in remote]
    listing = (
        f"\n local ids/scores {[(p.id, round(p.score, 6)) for p in local]}"
        f"\nremote ids/scores {[(p.id, round(p.score, 6)) for p in remote]}"
    )
    assert len(local) == len(remote), f"{ctx}: {len(local)} points locally, {len(remote)} remotely{listing}"
    for i, (lp, rp) in enumerate(zip(local, remote)):
        assert close(lp.score, rp.score), f"{ctx}: score #{i} local {lp.score} != remote {rp.score}{listing}"
    # group positions into runs of tied scores (by local's scores)
    i = 0
    n = len(local)
    while i < n:
        j = i + 1
        while j < n and close(local[j].score, local[i].score):
            j += 1
        if j - i == 1:
            assert lids[i] == rids[i], f"{ctx}: id #{i} local {lids[i]!r} != remote {rids[i]!r}{listing}"
        elif j < n:
            # an inner tie group: same members, any order
            assert sorted(map(str, lids[i:j])) == sorted(map(str, rids[i:j])), (
                f"{ctx}: tied group #{i}..#{j - 1} differs{listing}"
            )
        # else: a tie group cut by the limit; the scores already matched
        i = j
    by_id = {p.id: p for p in remote}
    for lp in local:
        if lp.id in by_id:
            _point_details(lp, by_id[lp.id], ctx)


def compare_records(local: list, remote: list, ctx: str = "") -> None:
    """Two lists of Record: same ids in the same order, same payloads and vectors."""
    lids = [p.id for p in local]
    rids = [p.id for p in remote]
    assert lids == rids, f"{ctx}: ids differ\n local {lids}\nremote {rids}"
    for lp, rp in zip(local, remote):
        _point_details(lp, rp, ctx)


def compare_scroll(local: tuple, remote: tuple, ctx: str = "") -> None:
    compare_records(local[0], remote[0], ctx + " scroll points")
    assert local[1] == remote[1], (
        f"{ctx}: next_page_offset local {local[1]!r} != remote {remote[1]!r}"
    )


def compare_count(local: models.CountResult, remote: models.CountResult, ctx: str = "") -> None:
    assert local.count == remote.count, f"{ctx}: count local {local.count} != remote {remote.count}"


def compare_groups(local: models.GroupsResult, remote: models.GroupsResult, ctx: str = "") -> None:
    """Groups come ordered by their best hit. Groups whose best hits tie (a point with an array
    value is the best hit of several groups) may come in any order, like tied points."""

    def key(group_id):  # 1 and "1" are different groups
        return (type(group_id).__name__, group_id)

    def top(group):
        return group.hits[0].score if group.hits else float("-inf")

    lg, rg = local.groups, remote.groups
    listing = (
        f"\n local groups {[(g.id, round(top(g), 6)) for g in lg]}"
        f"\nremote groups {[(g.id, round(top(g), 6)) for g in rg]}"
    )
    assert len(lg) == len(rg), f"{ctx}: {len(lg)} groups locally, {len(rg)} remotely{listing}"
    i = 0
    while i < len(lg):
        j = i + 1
        while j < len(lg) and close(top(lg[j]), top(lg[i])):
            j += 1
        for k in range(i, j):
            assert close(top(lg[k]), top(rg[k])), f"{ctx}: best score of group #{k} differs{listing}"
        if j - i == 1:
            assert key(lg[i].id) == key(rg[i].id), f"{ctx}: group #{i} differs{listing}"
        elif j < len(lg):
            assert sorted(map(key, (g.id for g in lg[i:j]))) == sorted(map(key, (g.id for g in rg[i:j]))), (
                f"{ctx}: tied groups #{i}..#{j - 1} differ{listing}"
            )
        i = j
    by_id = {key(g.id): g for g in rg}
    for a in lg:
        b = by_id.get(key(a.id))
        if b is not None:
            compare_scored(a.hits, b.hits, f"{ctx} group {a.id!r}")


def _vector_params(vectors: Any) -> dict:
    if vectors is None:
        return {}
    if isinstance(vectors, models.VectorParams):
        return {"": (vectors.size, vectors.distance)}
    return {name: (p.size, p.distance) for name, p in vectors.items()}


def compare_collection_info(
    local: models.CollectionInfo, remote: models.CollectionInfo, ctx: str = ""
) -> None:
    """Only what local mode fills meaningfully: points_count and the vectors' sizes and
    distances (local mode reports fixed defaults for hnsw/optimizer/wal configs and an empty
    payload_schema, see test_collections for what the server must report there)."""
    assert local.points_count == remote.points_count, (
        f"{ctx}: points_count local {local.points_count} != remote {remote.points_count}"
    )
    lv = _vector_params(local.config.params.vectors)
    rv = _vector_params(remote.config.params.vectors)
    assert lv == rv, f"{ctx}: vectors config local {lv} != remote {rv}"
    assert isinstance(local.config.params.vectors, dict) == isinstance(
        remote.config.params.vectors, dict
    ), f"{ctx}: named vs unnamed vectors config differs"


def compare_auto(local: Any, remote: Any, ctx: str = "") -> None:
    """Pick the comparison from the type of local mode's answer."""
    if isinstance(local, models.QueryResponse):
        compare_scored(local.points, remote.points, ctx)
    elif isinstance(local, models.GroupsResult):
        compare_groups(local, remote, ctx)
    elif isinstance(local, models.CountResult):
        compare_count(local, remote, ctx)
    elif isinstance(local, models.CollectionInfo):
        compare_collection_info(local, remote, ctx)
    elif isinstance(local, tuple) and len(local) == 2 and isinstance(local[0], list):
        compare_scroll(local, remote, ctx)
    elif isinstance(local, list) and local and isinstance(local[0], models.ScoredPoint):
        compare_scored(local, remote, ctx)
    elif isinstance(local, list) and local and isinstance(local[0], models.Record):
        compare_records(local, remote, ctx)
    elif isinstance(local, list) and local and isinstance(local[0], models.QueryResponse):
        assert len(local) == len(remote), f"{ctx}: {len(local)} responses vs {len(remote)}"
        for i, (a, b) in enumerate(zip(local, remote)):
            compare_scored(a.points, b.points, f"{ctx} batch #{i}")
    elif isinstance(local, list):
        assert isinstance(remote, list) and len(remote) == len(local), (
            f"{ctx}: local {short(local)} != remote {short(remote)}"
        )
        for a, b in zip(local, remote):
            compare_auto(a, b, ctx)
    else:
        # only plain values are compared with ==: a model reaching here has no comparison yet
        # (and == on models would demand exact floats, or pass trivially local vs local)
        if isinstance(local, BaseModel) or isinstance(remote, BaseModel):
            raise TypeError(f"{ctx}: no comparison for {type(local).__name__} / {type(remote).__name__}")
        assert local == remote, f"{ctx}: local {short(local)} != remote {short(remote)}"


# --------------------------------------------------------------------------- errors


def describe_error(err: BaseException) -> str:
    if isinstance(err, UnexpectedResponse):
        return f"HTTP {err.status_code}: {err.content[:500]!r}"
    return f"{type(err).__name__}: {err}"


def error_message(err: BaseException) -> str:
    """The server's error text (`status.error` of the envelope), or the exception's text."""
    if isinstance(err, UnexpectedResponse):
        try:
            body = err.structured()
            return str(body["status"]["error"])
        except Exception:
            return err.content.decode("utf-8", "replace")
    return str(err)


def check_remote_error(err: BaseException, statuses: tuple[int, ...] | None = None) -> None:
    """An error is acceptable from the server side when it is an HTTP 4xx (in `statuses` if
    given), or an error the client raised before sending anything (validation), which local
    mode raises the same way. Connection failures, undecodable answers and 5xx are not."""
    if isinstance(err, UnexpectedResponse):
        assert err.status_code is not None and 400 <= err.status_code < 500, (
            f"expected a 4xx error, got {describe_error(err)}"
        )
        if statuses is not None:
            assert err.status_code in statuses, (
                f"expected HTTP {statuses}, got {describe_error(err)}"
            )
        return
    if isinstance(err, ApiException):  # ResponseHandlingException: connection or decoding
        raise AssertionError(f"remote failed outside HTTP: {describe_error(err)}") from err
    if not SELFCHECK and statuses is not None:
        raise AssertionError(
            f"expected HTTP {statuses} from the server, got client-side {describe_error(err)}"
        ) from err
    assert isinstance(err, (ValueError, TypeError, KeyError)), (
        f"unexpected exception type: {describe_error(err)}"
    )


def expect_status(err: BaseException, statuses: tuple[int, ...], contains: str | None = None) -> None:
    """Check an error the server raised: HTTP status in `statuses`, and `contains` in the
    message. In self-check mode (no server) only the message is checked, when local mode's
    message has the same text."""
    if SELFCHECK and not isinstance(err, UnexpectedResponse):
        return
    assert isinstance(err, UnexpectedResponse), f"expected HTTP {statuses}, got {describe_error(err)}"
    assert err.status_code in statuses, f"expected HTTP {statuses}, got {describe_error(err)}"
    body = err.structured()
    assert isinstance(body.get("status"), dict) and body["status"].get("error"), (
        f"error envelope without status.error: {body!r}"
    )
    if contains is not None:
        assert contains in error_message(err), (
            f"{contains!r} not in the error message {error_message(err)!r}"
        )


# --------------------------------------------------------------------------- the pair


class Pair:
    """The server and local mode side by side."""

    def __init__(self, remote: QdrantClient, local: QdrantClient):
        self.remote = remote
        self.local = local

    def _run(self, fn: Callable[[QdrantClient], Any], client: QdrantClient):
        try:
            return fn(client), None
        except Exception as e:  # noqa: BLE001 - every error is compared
            return None, e

    def same(
        self,
        fn: Callable[[QdrantClient], Any],
        compare: Callable[[Any, Any, str], None] | None = None,
        ctx: str = "",
        statuses: tuple[int, ...] | None = None,
    ) -> tuple[Any, Any]:
        """Run fn on both clients. Both must succeed with equal answers, or both must fail
        (the server with a 4xx). Returns (local answer, remote answer)."""
        lres, lerr = self._run(fn, self.local)
        rres, rerr = self._run(fn, self.remote)
        if lerr is not None and rerr is None:
            raise AssertionError(
                f"{ctx}: local mode raised {describe_error(lerr)}, but the server answered "
                f"{short(rres, 600)}"
            ) from lerr
        if rerr is not None and lerr is None:
            raise AssertionError(
                f"{ctx}: the server raised {describe_error(rerr)}, but local mode answered "
                f"{short(lres, 600)}"
            ) from rerr
        if lerr is not None:
            try:
                check_remote_error(rerr, statuses)
            except AssertionError as e:
                raise AssertionError(f"{ctx}: {e} (local: {describe_error(lerr)})") from rerr
            return lerr, rerr
        (compare or compare_auto)(lres, rres, ctx)
        return lres, rres

    def both(self, fn: Callable[[QdrantClient], Any], ctx: str = "") -> tuple[Any, Any]:
        """Run a write on both: both succeed (answers not compared: wait=False answers
        `acknowledged` where local mode says `completed`), or both fail."""
        lres, lerr = self._run(fn, self.local)
        rres, rerr = self._run(fn, self.remote)
        if lerr is not None and rerr is None:
            raise AssertionError(
                f"{ctx}: local mode raised {describe_error(lerr)}, the server accepted it: {short(rres)}"
            ) from lerr
        if rerr is not None and lerr is None:
            raise AssertionError(
                f"{ctx}: the server raised {describe_error(rerr)}, local mode accepted it"
            ) from rerr
        if lerr is not None:
            check_remote_error(rerr)
            return lerr, rerr
        for res in (lres, rres):
            if isinstance(res, models.UpdateResult):
                assert res.status in (
                    models.UpdateStatus.COMPLETED,
                    models.UpdateStatus.ACKNOWLEDGED,
                ), f"{ctx}: update status {res.status}"
        return lres, rres

    def both_fail(
        self,
        fn: Callable[[QdrantClient], Any],
        statuses: tuple[int, ...] | None = None,
        ctx: str = "",
    ) -> tuple[BaseException, BaseException]:
        """fn must raise on both clients; the server's error must be a 4xx (in `statuses` if
        given) or a client-side validation error. Returns (local error, remote error)."""
        lres, lerr = self._run(fn, self.local)
        rres, rerr = self._run(fn, self.remote)
        assert lerr is not None, f"{ctx}: local mode did not fail, it answered {short(lres)}"
        assert rerr is not None, f"{ctx}: the server did not fail, it answered {short(rres)}"
        try:
            check_remote_error(rerr, statuses)
        except AssertionError as e:
            raise AssertionError(f"{ctx}: {e} (local: {describe_error(lerr)})") from rerr
        return lerr, rerr

    # conveniences -----------------------------------------------------------------------

    def create(self, name: str, **kwargs: Any) -> None:
        lres, rres = self.both(lambda c: c.create_collection(name, **kwargs), f"create {name}")
        assert lres is True and rres is True, f"create_collection {name}: {lres!r} {rres!r}"

    def upsert(self, name: str, points: Any, **kwargs: Any) -> None:
        kwargs.setdefault("wait", True)
        self.both(lambda c: c.upsert(name, points=points, **kwargs), f"upsert into {name}")

    def drop(self, name: str) -> None:
        for client in (self.local, self.remote):
            try:
                client.delete_collection(name)
            except Exception:  # noqa: BLE001 - cleanup only
                pass

    def state(self, name: str, ctx: str = "state") -> None:
        """Compare everything a collection holds: all points with payloads and vectors."""
        self.same(
            lambda c: c.scroll(name, limit=100_000, with_payload=True, with_vectors=True),
            ctx=f"{ctx} (whole collection)",
        )
        self.same(lambda c: c.count(name, exact=True), ctx=f"{ctx} (count)")


# --------------------------------------------------------------------------- indexed segments
# Collections that stay small keep every point in the server's appendable segment, where
# searches are exact scans and filters payload scans. The "indexed" variants of the search,
# filter and scroll fixtures put the same points into sealed segments instead, with HNSW graphs
# (and payload indexes where the fixture creates them), so that those paths are compared with
# local mode too: a low `indexing_threshold` (KB of vectors) seals the appendable segment after
# every batch, and each batch is indexed before the next one is written.
#
# HNSW is approximate and local mode exact. The graphs here are dense (m=32: 64 links per node
# on layer 0) and the default beam (ef = ef_construct = 64) is wide for segments of one to three
# hundred points, so the graph search finds the exact top-k in practice (on test_search's
# `named` data ef 32 already did, for 800 of 800 queries) while still being a graph search: the server scans a
# segment exactly instead when the limit or ef reaches its size, so every segment built here
# holds more than INDEXED_EF points. A filtered search on a sealed segment is answered from the
# payload indexes, or by an exact scan when none narrows the filter down, because its estimated
# matches stay under full_scan_threshold (at least 10 KB: 320 points of an 8-dim vector, more
# than these segments hold), as in Qdrant.

INDEXED_EF = 64
INDEXED_HNSW = models.HnswConfigDiff(m=32, ef_construct=INDEXED_EF, full_scan_threshold=10)
INDEXED_WAIT_S = 60.0


def indexed_config(threshold_kb: int, segments: int | None = None) -> dict:
    """create_collection arguments for a collection whose points go into indexed segments."""
    return {
        "hnsw_config": INDEXED_HNSW,
        "optimizers_config": models.OptimizersConfigDiff(
            indexing_threshold=threshold_kb, default_segment_number=segments
        ),
    }


def vector_count(points: list) -> int:
    """How many vectors the points hold (every named vector counts)."""
    return sum(len(p.vector) if isinstance(p.vector, dict) else 1 for p in points)


def wait_indexed(client: QdrantClient, name: str, vectors: int, timeout: float = INDEXED_WAIT_S):
    """Waits until the collection is green with all `vectors` in indexed segments, in more than
    one segment (the server counts its appendable one); fails when that does not happen within
    `timeout` seconds: the data stayed unindexed. Returns the collection info."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        info = client.get_collection(name)
        status = getattr(info.status, "value", info.status)
        if status == "green" and info.indexed_vectors_count == vectors:
            break
        assert time.monotonic() < deadline, (
            f"{name}: not indexed after {timeout}s: status {status}, "
            f"indexed_vectors_count {info.indexed_vectors_count} of {vectors} vectors, "
            f"segments_count {info.segments_count}, points_count {info.points_count}"
        )
        time.sleep(0.02)
    assert info.segments_count >= 2, f"{name}: {info.segments_count} segment(s): nothing was sealed"
    return info


def upsert_indexed(
    client: QdrantClient, name: str, batches: list[list], before: list = ()
) -> models.CollectionInfo:
    """Upserts each batch (each at least the indexing threshold, so it is sealed on its own)
    and waits until it is indexed before the next one. `before`: the points the collection
    already holds, all indexed."""
    done: list = list(before)
    info = None
    for batch in batches:
        client.upsert(name, points=batch, wait=True)
        done += batch
        info = wait_indexed(client, name, vector_count(done))
    return info
