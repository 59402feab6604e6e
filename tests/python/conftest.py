"""Fixtures of the qdrant-client compatibility suite.

The suite runs every call twice: on rustvecdb through the official `qdrant-client` over REST
(`remote`) and on qdrant-client's in-process local mode (`local`, `QdrantClient(":memory:")`),
which is the reference, and compares the answers (see compat.py).

Which server `remote` talks to:
- by default the release binary `target/release/rustvecdb` (or the path in RVDB_BIN), started
  once per session, in memory, on an ephemeral port (PORT=0) and stopped at the end;
- RVDB_URL=http://host:port: an already running server (handy for debugging it);
- RVDB_TEST_SELFCHECK=1: no server at all, `remote` is a second local-mode client. This checks
  the suite itself (every comparison must hold local vs local); tests that only a real HTTP
  server can answer (status codes, raw REST routes, configuration reported back) skip.

Helpers live in compat.py (comparisons, `Pair.same`, `Pair.both_fail`) and data.py
(deterministic data); test modules import them directly.
"""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from qdrant_client import QdrantClient

sys.path.insert(0, str(Path(__file__).parent))

from compat import SELFCHECK, Pair, unique_name  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
LISTEN_LINE = re.compile(r"rustvecdb listening on (http://\S+)")
STARTUP_TIMEOUT_S = 20


def _start_server(log_path: Path):
    binary = Path(os.environ.get("RVDB_BIN") or REPO / "target" / "release" / "rustvecdb")
    if not binary.is_file():
        pytest.exit(
            f"rustvecdb binary not found at {binary}: build it first (cargo build --release), "
            "set RVDB_BIN, point RVDB_URL at a running server, or set RVDB_TEST_SELFCHECK=1",
            returncode=3,
        )
    env = dict(os.environ)
    env.update({"PORT": "0", "HOST": "127.0.0.1", "RUST_LOG": "warn"})
    env.pop("STORAGE_PATH", None)  # in memory
    log = open(log_path, "wb")
    proc = subprocess.Popen(
        [str(binary)],
        cwd=str(REPO),
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=log,
    )
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    line = b""
    while not line.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        if remaining <= 0 or proc.poll() is not None:
            break
        ready, _, _ = select.select([proc.stdout], [], [], min(remaining, 0.5))
        if ready:
            chunk = os.read(proc.stdout.fileno(), 1)
            if not chunk:
                break
            line += chunk
    match = LISTEN_LINE.search(line.decode("utf-8", "replace"))
    if match is None:
        proc.kill()
        proc.wait()
        log.close()
        stderr_tail = log_path.read_text(errors="replace")[-3000:]
        pytest.exit(
            f"{binary} did not print 'rustvecdb listening on http://…' within "
            f"{STARTUP_TIMEOUT_S}s (exit code {proc.returncode}); first stdout line: {line!r}\n"
            f"stderr:\n{stderr_tail}",
            returncode=3,
        )

    # keep draining stdout, so that a chatty server never blocks on a full pipe
    def drain() -> None:
        try:
            while os.read(proc.stdout.fileno(), 65536):
                pass
        except OSError:
            pass

    threading.Thread(target=drain, daemon=True).start()
    return proc, log, match.group(1)


@pytest.fixture(scope="session")
def server_url(tmp_path_factory):
    """URL of the server under test (None in self-check mode)."""
    if SELFCHECK:
        yield None
        return
    if os.environ.get("RVDB_URL"):
        yield os.environ["RVDB_URL"].rstrip("/")
        return
    log_path = tmp_path_factory.mktemp("server") / "rustvecdb.stderr.log"
    proc, log, url = _start_server(log_path)
    try:
        yield url
    finally:
        crashed = proc.poll()
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        if crashed is not None:
            tail = log_path.read_text(errors="replace")[-3000:]
            print(f"\nrustvecdb exited on its own with code {crashed}; stderr:\n{tail}", file=sys.stderr)


@pytest.fixture(scope="session")
def remote(server_url):
    """qdrant-client talking REST to the server (a second local client in self-check mode)."""
    if server_url is None:
        client = QdrantClient(":memory:")
    else:
        client = QdrantClient(url=server_url, prefer_grpc=False, timeout=30)
    yield client
    client.close()


@pytest.fixture(scope="session")
def local():
    """qdrant-client's local mode: the reference."""
    client = QdrantClient(":memory:")
    yield client
    client.close()


@pytest.fixture(scope="session")
def pair(remote, local) -> Pair:
    return Pair(remote, local)


@pytest.fixture
def coll(pair, request):
    """A fresh, uniquely named collection name (not created), dropped on both sides after."""
    name = unique_name(request.node.name)
    yield name
    pair.drop(name)


@pytest.fixture
def http(server_url):
    """A raw httpx client on the server, for routes qdrant-client no longer calls."""
    import httpx

    if server_url is None:
        pytest.skip("raw REST calls need a server; RVDB_TEST_SELFCHECK has none")
    with httpx.Client(base_url=server_url, timeout=30) as client:
        yield client
