"""Snapshots through qdrant-client's own calls (create, list, recover, delete, full snapshots)
and the multipart upload route. Local mode has no snapshots, so these run against the server
only (skipped in self-check mode)."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from qdrant_client import QdrantClient, models

from compat import SELFCHECK, unique_name
from data import random_vector

pytestmark = pytest.mark.skipif(SELFCHECK, reason="snapshots need a server")


def _fill(client: QdrantClient, name: str, n: int = 60) -> dict:
    client.create_collection(name, vectors_config=models.VectorParams(size=4, distance=models.Distance.DOT))
    rng = np.random.default_rng(11)
    client.upsert(
        name,
        points=[models.PointStruct(id=i, vector=random_vector(rng, 4), payload={"i": i}) for i in range(n)],
        wait=True,
    )
    return _all(client, name)


def _all(client: QdrantClient, name: str) -> dict:
    points, _ = client.scroll(name, limit=10_000, with_payload=True, with_vectors=True)
    return {p.id: (p.vector, p.payload) for p in points}


def test_create_list_download_recover_delete(remote, http, tmp_path):
    name = unique_name("snap")
    want = _fill(remote, name)
    d = remote.create_snapshot(name, wait=True)
    assert d.name.endswith(".snapshot") and d.size > 0 and d.checksum
    assert [s.name for s in remote.list_snapshots(name)] == [d.name]

    resp = http.get(f"/collections/{name}/snapshots/{d.name}")
    assert resp.status_code == 200
    assert hashlib.sha256(resp.content).hexdigest() == d.checksum
    path = tmp_path / d.name
    path.write_bytes(resp.content)

    # change the collection, then recover the snapshot over it
    remote.upsert(name, points=[models.PointStruct(id=999, vector=[1, 1, 1, 1])], wait=True)
    assert remote.recover_snapshot(name, location=path.as_uri(), checksum=d.checksum, wait=True)
    assert _all(remote, name) == want

    # into a new name, uploaded as multipart
    other = unique_name("snap-up")
    r = http.post(
        f"/collections/{other}/snapshots/upload",
        params={"priority": "snapshot"},
        files={"snapshot": (d.name, resp.content, "application/octet-stream")},
    )
    assert r.status_code == 200, r.text
    assert _all(remote, other) == want

    assert remote.delete_snapshot(name, d.name, wait=True)
    assert remote.list_snapshots(name) == []
    remote.delete_collection(name)
    remote.delete_collection(other)


def test_a_wrong_checksum_leaves_the_collection_alone(remote, http, tmp_path):
    name = unique_name("snap-sum")
    want = _fill(remote, name, 10)
    d = remote.create_snapshot(name, wait=True)
    path = tmp_path / d.name
    path.write_bytes(http.get(f"/collections/{name}/snapshots/{d.name}").content)
    remote.upsert(name, points=[models.PointStruct(id=500, vector=[1, 0, 0, 0])], wait=True)
    r = http.put(
        f"/collections/{name}/snapshots/recover",
        json={"location": path.as_uri(), "checksum": "0" * 64},
    )
    assert r.status_code == 400 and "checksum" in r.json()["status"]["error"]
    got = _all(remote, name)
    assert len(got) == len(want) + 1
    remote.delete_collection(name)


def test_full_snapshots(remote):
    name = unique_name("snap-full")
    _fill(remote, name, 5)
    d = remote.create_full_snapshot(wait=True)
    assert d.name.startswith("full-snapshot") and d.checksum
    assert d.name in [s.name for s in remote.list_full_snapshots()]
    assert remote.delete_full_snapshot(d.name, wait=True)
    assert d.name not in [s.name for s in remote.list_full_snapshots()]
    remote.delete_collection(name)
