# rustvecdb — common commands. `make test` is what CI runs (.ci/run).
.PHONY: run build test test-python test-browser openapi bench fmt lint doc clean

run:            ## serve on http://127.0.0.1:6333, in memory (set STORAGE_PATH to persist)
	cargo run --release

build:
	cargo build --release

test:           ## every test: unit tests per crate, HTTP tests against the real binary, qdrant-client's, then the dashboard in headless Chromium
	cargo test --release --workspace
	tests/python/run.sh
	tests/browser/run.sh

test-python:    ## only the qdrant-client compatibility suite (needs target/release/rustvecdb)
	tests/python/run.sh

test-browser:   ## only the dashboard's end-to-end test in headless Chromium (needs target/release/rustvecdb)
	tests/browser/run.sh

openapi:        ## regenerate docs/openapi.json from the code (tests/openapi.rs fails when it is stale)
	cargo run --release --quiet -- openapi > docs/openapi.json.tmp
	mv docs/openapi.json.tmp docs/openapi.json

bench:          ## exact-search scan rate vs. this machine's memory bandwidth, then kernel timings
	cargo run --release -- bench exact
	cargo run --release -p rvdb-vector --example kernels

fmt:
	cargo fmt --all

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

doc:
	RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps

clean:
	cargo clean
