"""Collections: create, get, list, exists, update, delete, aliases, the server's version."""

from __future__ import annotations

import importlib.metadata

import numpy as np
import pytest
from qdrant_client import models
from qdrant_client.common.version_check import get_server_version, is_compatible

from compat import SELFCHECK, expect_status, unique_name
from data import make_points, named_vectors_config, plain_vectors_config, random_vector

CLIENT_VERSION = importlib.metadata.version("qdrant-client")


def names_in(response, wanted: set[str]) -> set[str]:
    return {c.name for c in response.collections} & wanted


def test_server_version_is_compatible_with_the_client(pair, server_url):
    """GET / answers a title and a version the client accepts (its compatibility check warns
    otherwise); qdrant-client 1.20 wants a 1.19..1.21 server."""
    info = pair.remote.info()
    assert info.title
    assert is_compatible(CLIENT_VERSION, info.version), (CLIENT_VERSION, info.version)
    if server_url is not None:
        version = get_server_version(server_url, {}, None, 10)
        assert version is not None and is_compatible(CLIENT_VERSION, version), version


def test_create_single_unnamed_vector(pair, coll):
    pair.create(coll, vectors_config=models.VectorParams(size=4, distance=models.Distance.COSINE))
    pair.same(lambda c: c.get_collection(coll), ctx="get_collection")
    pair.same(lambda c: c.collection_exists(coll), ctx="collection_exists")
    lres, rres = pair.same(lambda c: names_in(c.get_collections(), {coll}), ctx="get_collections")
    assert lres == {coll}
    rng = np.random.default_rng(1)
    points = [models.PointStruct(id=i, vector=random_vector(rng, 4)) for i in range(1, 21)]
    pair.upsert(coll, points)
    pair.same(lambda c: c.get_collection(coll), ctx="get_collection after upsert")


def test_create_named_vectors_every_distance(pair, coll):
    config = {
        "c": models.VectorParams(size=3, distance=models.Distance.COSINE),
        "e": models.VectorParams(size=5, distance=models.Distance.EUCLID),
        "d": models.VectorParams(size=7, distance=models.Distance.DOT),
        "m": models.VectorParams(size=2, distance=models.Distance.MANHATTAN),
    }
    pair.create(coll, vectors_config=config)
    lres, _ = pair.same(lambda c: c.get_collection(coll), ctx="get_collection")
    assert set(lres.config.params.vectors) == {"c", "e", "d", "m"}
    rng = np.random.default_rng(2)
    points = [
        models.PointStruct(
            id=i,
            vector={name: random_vector(rng, p.size) for name, p in config.items() if (i + len(name)) % 3},
            payload={"i": i},
        )
        for i in range(40)
    ]
    pair.upsert(coll, points)
    pair.same(lambda c: c.get_collection(coll), ctx="get_collection after upsert")
    pair.state(coll)


@pytest.mark.parametrize(
    "quantization",
    [
        models.ScalarQuantization(
            scalar=models.ScalarQuantizationConfig(type=models.ScalarType.INT8, quantile=0.99)
        ),
        models.ProductQuantization(
            product=models.ProductQuantizationConfig(compression=models.CompressionRatio.X16)
        ),
        models.BinaryQuantization(binary=models.BinaryQuantizationConfig()),
    ],
    ids=["scalar", "product", "binary"],
)
def test_create_with_index_and_storage_configs_reported_back(pair, coll, quantization):
    """hnsw_config, optimizers_config, quantization_config and on_disk are accepted by both, and
    the server reports them back in get_collection. Local mode ignores them and always reports
    fixed defaults, so the reported values are checked against the request (the spec), not
    against local mode."""
    pair.create(
        coll,
        vectors_config={
            "a": models.VectorParams(size=8, distance=models.Distance.COSINE, on_disk=True),
            "b": models.VectorParams(
                size=4,
                distance=models.Distance.EUCLID,
                hnsw_config=models.HnswConfigDiff(m=8, ef_construct=50),
            ),
        },
        hnsw_config=models.HnswConfigDiff(m=32, ef_construct=200, full_scan_threshold=5000),
        optimizers_config=models.OptimizersConfigDiff(indexing_threshold=5000, default_segment_number=2),
        quantization_config=quantization,
        on_disk_payload=True,
    )
    pair.same(lambda c: c.get_collection(coll), ctx="get_collection")
    if SELFCHECK:
        return
    info = pair.remote.get_collection(coll)
    config = info.config
    assert config.hnsw_config.m == 32
    assert config.hnsw_config.ef_construct == 200
    assert config.hnsw_config.full_scan_threshold == 5000
    assert config.optimizer_config.indexing_threshold == 5000
    assert config.optimizer_config.default_segment_number == 2
    assert config.params.on_disk_payload is True
    vectors = config.params.vectors
    assert vectors["a"].on_disk is True
    assert vectors["b"].hnsw_config is not None and vectors["b"].hnsw_config.m == 8
    assert vectors["b"].hnsw_config.ef_construct == 50
    q = config.quantization_config
    assert type(q) is type(quantization), q
    if isinstance(q, models.ScalarQuantization):
        assert q.scalar.type == models.ScalarType.INT8
        assert q.scalar.quantile == pytest.approx(0.99)
    elif isinstance(q, models.ProductQuantization):
        assert q.product.compression == models.CompressionRatio.X16


def test_update_collection_optimizers_and_hnsw(pair, coll):
    """PATCH /collections/{name}. Local mode accepts the call but has nothing to change (and
    answers False, as it only reports metadata/sparse changes), so only success is compared;
    the server must answer True and report the new values."""
    pair.create(coll, vectors_config=plain_vectors_config())
    lres, rres = pair.both(
        lambda c: c.update_collection(
            coll,
            optimizers_config=models.OptimizersConfigDiff(indexing_threshold=12345),
            hnsw_config=models.HnswConfigDiff(m=24),
        ),
        "update_collection",
    )
    pair.same(lambda c: c.get_collection(coll), ctx="get_collection after update")
    if not SELFCHECK:
        assert rres is True
        config = pair.remote.get_collection(coll).config
        assert config.optimizer_config.indexing_threshold == 12345
        assert config.hnsw_config.m == 24
    missing = unique_name("missing")
    err = pair.both_fail(
        lambda c: c.update_collection(
            missing, optimizers_config=models.OptimizersConfigDiff(indexing_threshold=1000)
        ),
        ctx="update a missing collection",
    )
    expect_status(err[1], (404,))


def test_update_collection_metadata(pair, coll):
    pair.create(coll, vectors_config=plain_vectors_config(), metadata={"owner": "tests", "n": 1})
    pair.same(lambda c: c.update_collection(coll, metadata={"n": 2, "extra": [1, 2]}), ctx="update metadata")
    lres, rres = pair.same(lambda c: c.get_collection(coll), ctx="get_collection")
    assert lres.config.metadata == rres.config.metadata == {"owner": "tests", "n": 2, "extra": [1, 2]}


def test_delete_collection(pair, coll):
    pair.create(coll, vectors_config=plain_vectors_config())
    pair.upsert(coll, make_points(seed=4, n=10, named=False))
    lres, _ = pair.same(lambda c: c.delete_collection(coll), ctx="delete_collection")
    assert lres is True
    pair.same(lambda c: c.collection_exists(coll), ctx="exists after delete")
    pair.same(lambda c: names_in(c.get_collections(), {coll}), ctx="get_collections after delete")
    err = pair.both_fail(lambda c: c.get_collection(coll), ctx="get_collection after delete")
    expect_status(err[1], (404,))
    # deleting a missing collection is not an error: both answer False
    lres, _ = pair.same(lambda c: c.delete_collection(coll), ctx="delete a missing collection")
    assert lres is False
    # and the name can be used again
    pair.create(coll, vectors_config=models.VectorParams(size=3, distance=models.Distance.DOT))
    pair.same(lambda c: c.get_collection(coll), ctx="get_collection after re-create")


def test_create_existing_collection_fails(pair, coll):
    pair.create(coll, vectors_config=plain_vectors_config())
    err = pair.both_fail(
        lambda c: c.create_collection(coll, vectors_config=plain_vectors_config()),
        ctx="create twice",
    )
    expect_status(err[1], (409,))
    pair.same(lambda c: c.get_collection(coll), ctx="the first one is intact")


def test_collection_exists_and_listing(pair):
    a, b = unique_name("list_a"), unique_name("list_b")
    try:
        pair.same(lambda c: c.collection_exists(a), ctx="exists before")
        pair.create(a, vectors_config=plain_vectors_config())
        pair.create(b, vectors_config=named_vectors_config())
        lres, _ = pair.same(lambda c: names_in(c.get_collections(), {a, b}), ctx="get_collections")
        assert lres == {a, b}
        pair.same(lambda c: (c.collection_exists(a), c.collection_exists(b)), ctx="exists")
    finally:
        pair.drop(a)
        pair.drop(b)


def alias_op_create(collection: str, alias: str):
    return models.CreateAliasOperation(
        create_alias=models.CreateAlias(collection_name=collection, alias_name=alias)
    )


def test_aliases(pair, coll):
    """create / rename / delete aliases, list them, and use an alias in reads and writes."""
    other = unique_name("alias_other")
    alias, renamed, alias2 = unique_name("al"), unique_name("al_renamed"), unique_name("al2")
    ours = {alias, renamed, alias2}

    def aliases(c):
        return sorted(
            (a.alias_name, a.collection_name) for a in c.get_aliases().aliases if a.alias_name in ours
        )

    def coll_aliases(c, name):
        return sorted(
            (a.alias_name, a.collection_name) for a in c.get_collection_aliases(name).aliases
        )

    try:
        pair.create(coll, vectors_config=plain_vectors_config())
        pair.create(other, vectors_config=plain_vectors_config())
        pair.upsert(coll, make_points(seed=5, n=30, named=False))

        lres, _ = pair.same(
            lambda c: c.update_collection_aliases([alias_op_create(coll, alias), alias_op_create(other, alias2)]),
            ctx="create aliases",
        )
        assert lres is True
        lres, _ = pair.same(aliases, ctx="get_aliases")
        assert lres == sorted([(alias, coll), (alias2, other)])
        pair.same(lambda c: coll_aliases(c, coll), ctx="get_collection_aliases")
        pair.same(lambda c: coll_aliases(c, other), ctx="get_collection_aliases other")

        # reads and writes through the alias
        pair.same(lambda c: c.collection_exists(alias), ctx="exists(alias)")
        pair.same(lambda c: c.get_collection(alias), ctx="get_collection(alias)")
        query = random_vector(np.random.default_rng(6), 8)
        pair.same(lambda c: c.query_points(alias, query=query, limit=5), ctx="query via alias")
        extra = make_points(seed=7, n=5, named=False)
        for i, p in enumerate(extra):
            p.id = 10_000 + i
        pair.upsert(alias, extra)
        pair.same(lambda c: c.retrieve(coll, ids=[10_000, 10_004]), ctx="upserted via alias")
        pair.same(lambda c: c.count(alias), ctx="count via alias")
        pair.state(coll, "after writes via alias")

        # an alias can't point at a missing collection, nor take a collection's name
        pair.both_fail(
            lambda c: c.update_collection_aliases([alias_op_create(unique_name("nope"), unique_name("x"))]),
            ctx="alias of a missing collection",
        )

        # rename
        lres, _ = pair.same(
            lambda c: c.update_collection_aliases(
                [
                    models.RenameAliasOperation(
                        rename_alias=models.RenameAlias(old_alias_name=alias, new_alias_name=renamed)
                    )
                ]
            ),
            ctx="rename alias",
        )
        assert lres is True
        pair.same(aliases, ctx="get_aliases after rename")
        err = pair.both_fail(lambda c: c.get_collection(alias), ctx="old alias after rename")
        expect_status(err[1], (404,))
        pair.same(lambda c: c.query_points(renamed, query=query, limit=5), ctx="query via renamed alias")

        # delete
        pair.same(
            lambda c: c.update_collection_aliases(
                [models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=renamed))]
            ),
            ctx="delete alias",
        )
        lres, _ = pair.same(aliases, ctx="get_aliases after delete")
        assert lres == [(alias2, other)]
        pair.same(lambda c: coll_aliases(c, coll), ctx="get_collection_aliases after delete")

        # deleting a collection drops its aliases
        pair.same(lambda c: c.delete_collection(other), ctx="delete aliased collection")
        lres, _ = pair.same(aliases, ctx="get_aliases after collection delete")
        assert lres == []
    finally:
        pair.drop(other)
