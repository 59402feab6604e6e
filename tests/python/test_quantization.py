"""Quantization through qdrant-client. Local mode accepts `quantization_config` but keeps no
codes (every search is exact), so the server is checked against local mode's exact answers:
with the default rescoring, recall@10 of searches on the codes (scalar, product, binary with
its encodings and query encodings, turbo) against local mode's exact results, every returned score exact; with
`rescore=False` the scores are the codes' estimates; `ignore=True` walks the originals; the
client's `Disabled` and per-vector configs are taken; an unknown turbo bit size is refused with
a 400."""

from __future__ import annotations

import time

import numpy as np
import pytest
from qdrant_client import QdrantClient, models

from compat import SELFCHECK, indexed_config, unique_name

pytestmark = pytest.mark.skipif(SELFCHECK, reason="local mode keeps no quantization codes")

KINDS = {
    "scalar": models.ScalarQuantization(
        scalar=models.ScalarQuantizationConfig(type=models.ScalarType.INT8, always_ram=True)
    ),
    "product": models.ProductQuantization(
        product=models.ProductQuantizationConfig(compression=models.CompressionRatio.X8)
    ),
    "binary": models.BinaryQuantization(binary=models.BinaryQuantizationConfig()),
    "binary-scalar8bits": models.BinaryQuantization(
        binary=models.BinaryQuantizationConfig(
            query_encoding=models.BinaryQuantizationQueryEncoding.SCALAR8BITS
        )
    ),
    "binary-two-bits-scalar4bits": models.BinaryQuantization(
        binary=models.BinaryQuantizationConfig(
            encoding=models.BinaryQuantizationEncoding.TWO_BITS,
            query_encoding=models.BinaryQuantizationQueryEncoding.SCALAR4BITS,
        )
    ),
    "turbo": models.TurboQuantization(turbo=models.TurboQuantQuantizationConfig()),
    "turbo-bits2": models.TurboQuantization(
        turbo=models.TurboQuantQuantizationConfig(bits=models.TurboQuantBitSize.BITS2)
    ),
}


def _data(rng: np.random.Generator, n: int, dim: int, centres: np.ndarray) -> np.ndarray:
    """Many small clusters with a falling spectrum (embedding-like: sign codes work on it)."""
    scale = 1.0 / np.sqrt(1.0 + np.arange(dim) / 32.0)
    pick = centres[rng.integers(0, len(centres), n)]
    return (pick + 0.5 * rng.normal(size=(n, dim)) * scale).astype(np.float32)


def _wait_green(client: QdrantClient, name: str) -> models.CollectionInfo:
    deadline = time.time() + 60
    while True:
        info = client.get_collection(name)
        if info.status == models.CollectionStatus.GREEN:
            return info
        assert time.time() < deadline, info
        time.sleep(0.05)


@pytest.mark.parametrize("kind", list(KINDS))
def test_searches_on_codes_rescore_to_local_modes_exact_answers(
    remote: QdrantClient, local: QdrantClient, kind: str
):
    dim = 128 if kind.startswith("binary") or kind == "turbo-bits2" else 32
    rng = np.random.default_rng(5)
    scale = 1.0 / np.sqrt(1.0 + np.arange(dim) / 32.0)
    centres = rng.normal(size=(150, dim)) * scale
    vectors = _data(rng, 1500, dim, centres)
    name = unique_name(f"quant_{kind}")
    for client in (remote, local):
        client.create_collection(
            name,
            vectors_config=models.VectorParams(size=dim, distance=models.Distance.COSINE),
            quantization_config=KINDS[kind],
            **indexed_config(threshold_kb=max(1, 300 * dim * 4 // 1024)),
        )
        client.upsert(
            name,
            points=[models.PointStruct(id=i, vector=v.tolist()) for i, v in enumerate(vectors)],
            wait=True,
        )
    info = _wait_green(remote, name)
    assert type(info.config.quantization_config) is type(KINDS[kind])

    found = 0
    queries = _data(rng, 20, dim, centres)
    for q in queries:
        exact = local.query_points(name, query=q.tolist(), limit=10).points
        scores = {p.id: p.score for p in local.query_points(name, query=q.tolist(), limit=1500).points}
        got = remote.query_points(
            name,
            query=q.tolist(),
            limit=10,
            search_params=models.SearchParams(
                hnsw_ef=64, quantization=models.QuantizationSearchParams(rescore=True, oversampling=4.0)
            ),
        ).points
        found += len({p.id for p in exact} & {p.id for p in got})
        for p in got:
            assert p.score == pytest.approx(scores[p.id], abs=1e-4), p
        ignored = remote.query_points(
            name,
            query=q.tolist(),
            limit=10,
            search_params=models.SearchParams(hnsw_ef=128, quantization=models.QuantizationSearchParams(ignore=True)),
        ).points
        assert len(ignored) == 10
        for p in ignored:
            assert p.score == pytest.approx(scores[p.id], abs=1e-4), p
        if kind in ("scalar", "product", "turbo"):
            estimated = remote.query_points(
                name,
                query=q.tolist(),
                limit=10,
                search_params=models.SearchParams(quantization=models.QuantizationSearchParams(rescore=False)),
            ).points
            for p in estimated:
                assert p.score == pytest.approx(scores[p.id], abs=0.1), p
    assert found / (10 * len(queries)) >= 0.9, found


def test_disabled_and_per_vector_configs_and_bad_turbo_bits_refused(remote: QdrantClient, http):
    name = unique_name("quant_cfg")
    remote.create_collection(
        name,
        vectors_config={
            "a": models.VectorParams(size=4, distance=models.Distance.DOT, quantization_config=KINDS["product"]),
            "b": models.VectorParams(size=4, distance=models.Distance.DOT),
        },
        quantization_config=KINDS["scalar"],
    )
    config = remote.get_collection(name).config
    assert isinstance(config.quantization_config, models.ScalarQuantization)
    assert isinstance(config.params.vectors["a"].quantization_config, models.ProductQuantization)
    assert remote.update_collection(
        name,
        vectors_config={"a": models.VectorParamsDiff(quantization_config=models.Disabled.DISABLED)},
        quantization_config=models.Disabled.DISABLED,
    )
    config = remote.get_collection(name).config
    assert config.quantization_config is None
    assert config.params.vectors["a"].quantization_config is None
    # (the client's models would refuse it before sending)
    r = http.put(
        f"/collections/{unique_name('quant_turbo')}",
        json={"vectors": {"size": 4, "distance": "Dot"}, "quantization_config": {"turbo": {"bits": "bits3"}}},
    )
    assert r.status_code == 400 and "bits3" in r.text, r.text
