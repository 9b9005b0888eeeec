# Entry points; README.md explains them. Each target installs what it needs.
CARGO_TARGET_DIR ?= $(CURDIR)/target
export CARGO_TARGET_DIR

.PHONY: setup guests build run test lint

setup:
	scripts/setup.sh

guests: setup
	scripts/build-guests.sh $(CARGO_TARGET_DIR)/guests

build: setup
	cargo build --release --locked -p wharf

# Serve the hello guest on http://127.0.0.1:8080.
run: guests build
	$(CARGO_TARGET_DIR)/release/wharf run $(CARGO_TARGET_DIR)/guests/hello.wasm

lint: setup
	cargo fmt --all -- --check
	python3 scripts/vendor-wit.py --check
	cargo clippy --workspace --all-targets --locked -- -D warnings

# The whole suite: lints, doc tests, then unit and end-to-end tests.
test: lint
	cargo test --workspace --doc --locked
	cargo nextest run --workspace --locked --no-fail-fast
