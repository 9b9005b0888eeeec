# Entry points; README.md explains them. Each target installs what it needs.
CARGO_TARGET_DIR ?= $(CURDIR)/target
export CARGO_TARGET_DIR
# The SDK's own tests run natively, on the machine's target.
HOST_TARGET := $(shell rustc -vV | sed -n 's/^host: //p')

.PHONY: setup setup-tests guests build run image test lint

setup:
	scripts/setup.sh

setup-tests:
	scripts/setup.sh --tests

guests: setup
	scripts/build-guests.sh $(CARGO_TARGET_DIR)/guests

build: setup
	cargo build --release --locked -p wharf

# Serve apps on http://<app>.localhost:8080 with the admin API on
# 127.0.0.1:8081, keeping state in the default data directory (SQLite and
# local blobs). README.md shows how to deploy to it.
run: guests build
	$(CARGO_TARGET_DIR)/release/wharf serve

# The container image, localhost/wharf:latest, built with podman from
# deploy/container/Containerfile on an empty base.
image: setup
	scripts/build-image.sh

lint: setup
	cargo fmt --all -- --check
	python3 scripts/vendor-wit.py --check
	cargo clippy --workspace --all-targets --locked -- -D warnings
	cd guests && cargo fmt --all -- --check
	cd guests && cargo clippy --workspace --locked -- -D warnings

# The whole suite: lints, doc tests, the container image the image test
# runs, then unit and end-to-end tests, with a real Garage, Postgres and
# Prometheus started for them.
test: setup-tests lint
	cargo test --workspace --doc --locked
	cd guests && cargo test --locked -p wharf-sdk --target $(HOST_TARGET)
	scripts/build-image.sh localhost/wharf:test
	scripts/with-test-services.sh cargo nextest run --workspace --locked --no-fail-fast
	python3 bench/run.py --smoke
