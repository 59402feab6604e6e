"""create_vector_name / delete_vector_name of qdrant-client against the server: a dense and a
sparse space added to a live collection, written and queried, then a space dropped. Local mode
has neither call (NotImplementedError), so the server's answers are compared with a local-mode
collection created directly with the resulting spaces and holding the same vectors."""

from __future__ import annotations

import numpy as np
import pytest
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import UnexpectedResponse

from compat import SELFCHECK, unique_name
from data import random_vector

pytestmark = pytest.mark.skipif(SELFCHECK, reason="local mode has no create_vector_name")


def _sparse(rng: np.random.Generator) -> models.SparseVector:
    idx = sorted({int(i) for i in rng.integers(0, 40, size=int(rng.integers(1, 6)))})
    return models.SparseVector(indices=idx, values=[float(v) for v in rng.normal(size=len(idx))])


def _scroll(client: QdrantClient, name: str) -> dict:
    points, _ = client.scroll(name, limit=1_000, with_vectors=True)
    return {p.id: p.vector for p in points}


def test_vector_spaces_added_and_dropped_match_a_collection_made_with_them(remote: QdrantClient, local: QdrantClient):
    name = unique_name("vnames")
    rng = np.random.default_rng(7)
    remote.create_collection(name, vectors_config={"a": models.VectorParams(size=4, distance=models.Distance.DOT)})
    first = {i: random_vector(rng, 4) for i in range(30)}
    remote.upsert(name, points=[models.PointStruct(id=i, vector={"a": v}) for i, v in first.items()], wait=True)

    r = remote.create_vector_name(
        name, "b", models.DenseVectorNameConfig(dense=models.DenseVectorConfig(size=3, distance=models.Distance.COSINE))
    )
    assert r.status == models.UpdateStatus.COMPLETED
    remote.create_vector_name(
        name, "text", models.SparseVectorNameConfig(sparse=models.SparseVectorConfig(modifier=models.Modifier.IDF))
    )
    info = remote.get_collection(name)
    assert info.config.params.vectors["b"].size == 3
    assert info.config.params.vectors["b"].distance == models.Distance.COSINE
    assert info.config.params.sparse_vectors["text"].modifier == models.Modifier.IDF

    later = {i: (random_vector(rng, 4), random_vector(rng, 3), _sparse(rng)) for i in range(30, 60)}
    remote.upsert(
        name,
        points=[models.PointStruct(id=i, vector={"a": a, "b": b, "text": t}) for i, (a, b, t) in later.items()],
        wait=True,
    )
    with pytest.raises(UnexpectedResponse) as e:
        remote.create_vector_name(
            name, "b", models.DenseVectorNameConfig(dense=models.DenseVectorConfig(size=3, distance=models.Distance.DOT))
        )
    assert e.value.status_code == 400 and b"already exists" in e.value.content

    remote.delete_vector_name(name, "a")
    with pytest.raises(UnexpectedResponse) as e:
        remote.delete_vector_name(name, "a")
    assert e.value.status_code == 400
    assert "a" not in remote.get_collection(name).config.params.vectors

    # the same collection made directly in local mode
    lname = unique_name("vnames_local")
    local.create_collection(
        lname,
        vectors_config={"b": models.VectorParams(size=3, distance=models.Distance.COSINE)},
        sparse_vectors_config={"text": models.SparseVectorParams(modifier=models.Modifier.IDF)},
    )
    local.upsert(lname, points=[models.PointStruct(id=i, vector={}) for i in first])
    local.upsert(lname, points=[models.PointStruct(id=i, vector={"b": b, "text": t}) for i, (_, b, t) in later.items()])
    got, want = _scroll(remote, name), _scroll(local, lname)
    assert got.keys() == want.keys()
    for i in got:
        assert got[i].keys() == want[i].keys(), i
        if "b" in got[i]:
            np.testing.assert_allclose(got[i]["b"], want[i]["b"], rtol=1e-5)
        if "text" in got[i]:
            assert got[i]["text"].indices == want[i]["text"].indices
            np.testing.assert_allclose(got[i]["text"].values, want[i]["text"].values, rtol=1e-6)
    for _ in range(5):
        qd = random_vector(rng, 3)
        qs = _sparse(rng)
        for query, using in ((qd, "b"), (qs, "text")):
            r = remote.query_points(name, query=query, using=using, limit=7)
            l = local.query_points(lname, query=query, using=using, limit=7)
            np.testing.assert_allclose([p.score for p in r.points], [p.score for p in l.points], rtol=1e-4, atol=1e-6)
            assert [p.id for p in r.points] == [p.id for p in l.points]
    remote.delete_collection(name)
    local.delete_collection(lname)
