# rustvecdb — common commands. `make test` is what CI runs (.ci/run).
.PHONY: run build test test-python bench fmt lint doc clean

run:            ## serve on http://127.0.0.1:6333, in memory (set STORAGE_PATH to persist)
	cargo run --release

build:
	cargo build --release

test:           ## every test: unit tests per crate, HTTP tests against the real binary, then qdrant-client's
	cargo test --release --workspace
	tests/python/run.sh

test-python:    ## only the qdrant-client compatibility suite (needs target/release/rustvecdb)
	tests/python/run.sh

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
