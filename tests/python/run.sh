#!/usr/bin/env bash
# Run the qdrant-client compatibility suite against the rustvecdb release binary.
#
#   tests/python/run.sh [pytest args...]     e.g. tests/python/run.sh -k filters -x
#
# Expects the binary at target/release/rustvecdb (or the path in RVDB_BIN); this script does not
# build it (the Makefile does, first). RVDB_URL=http://127.0.0.1:6333 uses a running server
# instead; RVDB_TEST_SELFCHECK=1 checks the suite against local mode only (no server).
# Creates the virtual environment <repo>/.venv when it is missing. Exit code: pytest's, where
# "no tests collected" (5) counts as a failure.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT" || exit 1
VENV="$ROOT/.venv"
PY="$VENV/bin/python"

if [ ! -x "$PY" ]; then
    echo "creating $VENV" >&2
    python3 -m venv "$VENV" || { echo "python3 -m venv failed (on Debian: apt-get install python3-venv)" >&2; exit 1; }
fi
"$PY" -m pip install -q --disable-pip-version-check -r tests/python/requirements.txt || {
    echo "pip install -r tests/python/requirements.txt failed" >&2
    exit 1
}

if [ -z "${RVDB_URL:-}" ] && [ -z "${RVDB_TEST_SELFCHECK:-}" ]; then
    BIN="${RVDB_BIN:-target/release/rustvecdb}"
    if [ ! -x "$BIN" ]; then
        echo "rustvecdb binary not found at $BIN: run 'cargo build --release' first (or set RVDB_BIN)" >&2
        exit 1
    fi
fi

"$PY" -m pytest -q tests/python "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
    echo "pytest collected no tests: counted as a failure" >&2
    exit 1
fi
exit "$rc"
