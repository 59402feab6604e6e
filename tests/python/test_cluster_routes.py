"""The shard snapshot, shard key, optimization and cluster-telemetry calls of qdrant-client
against the server (a single node without Qdrant's cluster mode: one shard, 0, per collection),
and the global quotas over plain HTTP (the client has no call for them). Local mode has none of
these, so they run against the server only (skipped in self-check mode). The answers are
parsed by the client's own models, which checks their shape."""

from __future__ import annotations

import hashlib
import time

import numpy as np
import pytest
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import UnexpectedResponse

from compat import SELFCHECK, unique_name
from data import random_vector

pytestmark = pytest.mark.skipif(SELFCHECK, reason="these routes need a server")


def _fill(client: QdrantClient, name: str, n: int, threshold: int | None = None) -> dict:
    client.create_collection(
        name,
        vectors_config=models.VectorParams(size=8, distance=models.Distance.COSINE),
        optimizers_config=None if threshold is None else models.OptimizersConfigDiff(indexing_threshold=threshold),
    )
    rng = np.random.default_rng(5)
    client.upsert(
        name,
        points=[models.PointStruct(id=i, vector=random_vector(rng, 8), payload={"i": i}) for i in range(n)],
        wait=True,
    )
    return _all(client, name)


def _all(client: QdrantClient, name: str) -> dict:
    points, _ = client.scroll(name, limit=10_000, with_payload=True, with_vectors=True)
    return {p.id: (p.vector, p.payload) for p in points}


def test_shard_snapshots_of_shard_zero(remote, http, tmp_path):
    name = unique_name("shard-snap")
    want = _fill(remote, name, 40)
    d = remote.create_shard_snapshot(name, 0, wait=True)
    assert d.name.startswith(f"{name}-shard-0-") and d.size > 0 and d.checksum
    assert [s.name for s in remote.list_shard_snapshots(name, 0)] == [d.name]
    # kept apart from the collection's snapshots
    assert remote.list_snapshots(name) == []

    resp = http.get(f"/collections/{name}/shards/0/snapshots/{d.name}")
    assert resp.status_code == 200
    assert hashlib.sha256(resp.content).hexdigest() == d.checksum
    path = tmp_path / d.name
    path.write_bytes(resp.content)

    remote.upsert(name, points=[models.PointStruct(id=999, vector=[1.0] * 8)], wait=True)
    assert remote.recover_shard_snapshot(
        name, 0, location=path.as_uri(), checksum=d.checksum, priority=models.SnapshotPriority.SNAPSHOT, wait=True
    )
    assert _all(remote, name) == want

    # a fresh snapshot streamed, then uploaded
    streamed = http.get(f"/collections/{name}/shards/0/snapshot")
    assert streamed.status_code == 200 and len(streamed.content) > 0
    remote.delete(name, points_selector=models.PointIdsList(points=[1, 2]), wait=True)
    r = http.post(
        f"/collections/{name}/shards/0/snapshots/upload",
        params={"priority": "replica", "wait": "true"},
        files={"snapshot": ("s.snapshot", streamed.content, "application/octet-stream")},
    )
    assert r.status_code == 200, r.text
    assert _all(remote, name) == want

    assert remote.delete_shard_snapshot(name, 0, d.name, wait=True)
    assert remote.list_shard_snapshots(name, 0) == []
    remote.delete_collection(name)


def test_other_shards_are_not_found(remote):
    name = unique_name("shard-404")
    _fill(remote, name, 3)
    for call in (
        lambda: remote.list_shard_snapshots(name, 1),
        lambda: remote.create_shard_snapshot(name, 1),
        lambda: remote.delete_shard_snapshot(name, 3, "x.snapshot"),
        lambda: remote.recover_shard_snapshot(name, 2, location="file:///nowhere.snapshot"),
    ):
        with pytest.raises(UnexpectedResponse) as e:
            call()
        assert e.value.status_code == 404
        assert "shard" in str(e.value)
    remote.delete_collection(name)


def test_shard_keys_and_cluster_telemetry_without_cluster_mode(remote):
    name = unique_name("shard-keys")
    _fill(remote, name, 3)
    assert remote.list_shard_keys(name).shard_keys is None
    with pytest.raises(UnexpectedResponse) as e:
        remote.cluster_telemetry(details_level=2)
    assert e.value.status_code == 400
    assert "Distributed mode disabled: could not get telemetry from cluster" in str(e.value)
    remote.delete_collection(name)


def test_optimizations_parse_and_report_completed_indexing(remote):
    name = unique_name("optim")
    _fill(remote, name, 400, threshold=1)
    for _ in range(400):
        if remote.get_collection(name).status == models.CollectionStatus.GREEN:
            break
        time.sleep(0.05)
    o = remote.get_optimizations(name, with_=["queued", "idle_segments"], completed_limit=5)
    assert o.running == []
    assert o.queued == [] and o.summary.queued_optimizations == 0
    assert o.completed and len(o.completed) <= 5
    assert any(c.optimizer == "indexing" for c in o.completed)
    assert all(c.progress.finished_at is not None for c in o.completed)
    assert sum(s.points_count for s in o.idle_segments) == 400
    plain = remote.get_optimizations(name)
    assert plain.queued is None and plain.completed is None and plain.idle_segments is None
    remote.delete_collection(name)


def test_quotas_round_trip(http):
    got = http.get("/quotas").json()["result"]
    assert got["config"] == {"enabled": False}
    assert "resident_memory_percent" in got["usage"] and "peers" not in got
    models.QuotaStatus.model_validate(got)
    r = http.put("/quotas", params={"wait": "true"}, json={"enabled": False, "max_resident_memory_percent": 95})
    assert r.status_code == 200 and r.json()["result"] is True
    assert http.get("/quotas").json()["result"]["config"] == {"enabled": False, "max_resident_memory_percent": 95}
    r = http.put("/quotas", json={"enabled": True, "max_disk_usage_percent": 0})
    assert r.status_code in (400, 422)
    assert http.put("/quotas", json={}).status_code == 200
