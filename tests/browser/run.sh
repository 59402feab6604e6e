#!/usr/bin/env bash
# The dashboard end to end in headless Chromium: tests/browser/dashboard.test.mjs drives
# Debian's chromium through playwright-core against a fresh in-memory rustvecdb.
#
#   tests/browser/run.sh
#
# Builds nothing: expects the release binary at ${CARGO_TARGET_DIR:-target}/release/rustvecdb
# (or the path in RVDB_BIN). Chromium is CHROMIUM, else `chromium` on PATH; when it is missing,
# with CI=true it is installed with apt-get (and the run fails loudly if that fails), otherwise
# the test is skipped with a message. The screenshots go to target/browser-artifacts/.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

BIN="${RVDB_BIN:-${CARGO_TARGET_DIR:-target}/release/rustvecdb}"
if [ ! -x "$BIN" ]; then
    echo "tests/browser: rustvecdb binary not found at $BIN: run 'cargo build --release' first (or set RVDB_BIN)" >&2
    exit 1
fi

CHROMIUM="${CHROMIUM:-$(command -v chromium || true)}"
if [ -z "$CHROMIUM" ]; then
    if [ "${CI:-}" = "true" ]; then
        echo "tests/browser: chromium is missing; installing it with apt-get (CI=true)" >&2
        export DEBIAN_FRONTEND=noninteractive
        SUDO=""
        if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
        $SUDO apt-get update -q >&2
        $SUDO apt-get install -y -q chromium >&2
        CHROMIUM="$(command -v chromium || true)"
        if [ -z "$CHROMIUM" ]; then
            echo "tests/browser: FAILED: chromium is still missing after apt-get install" >&2
            exit 1
        fi
    else
        echo "tests/browser: SKIPPED: chromium is not installed (apt-get install chromium, or set CHROMIUM=/path/to/chromium); in CI (CI=true) it is installed and the test runs" >&2
        exit 0
    fi
fi

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "tests/browser: FAILED: node and npm are needed (node >= 20)" >&2
    exit 1
fi

(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)

export RVDB_BIN="$BIN" CHROMIUM
export ARTIFACTS="${ARTIFACTS:-$ROOT/target/browser-artifacts}"
mkdir -p "$ARTIFACTS"
exec node tests/browser/dashboard.test.mjs
