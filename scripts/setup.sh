#!/usr/bin/env bash
# Installs what building and testing wharf needs on a fresh machine, and
# skips whatever is already present so repeat runs are quick.
#
#   scripts/setup.sh           toolchain parts for building and running
#   scripts/setup.sh --tests   also the services the tests run against:
#                              Garage (S3), Postgres and Prometheus
set -euo pipefail

tools=${WHARF_TOOLS:-$HOME/.cache/wharf/tools}

installed_targets=$(rustup target list --installed)
for target in wasm32-wasip1 wasm32-wasip2; do
    if ! grep -qx "$target" <<<"$installed_targets"; then
        rustup target add "$target"
    fi
done

installed_components=$(rustup component list --installed)
for component in rustfmt clippy; do
    if ! grep -q "^$component" <<<"$installed_components"; then
        rustup component add "$component"
    fi
done

# Zig, for the Zig guests.
if ! python3 -m ziglang version >/dev/null 2>&1; then
    python3 -m pip install --quiet ziglang==0.17.0
fi

# componentize-py, for the Python guest.
scripts_dir=$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
if [ "$("$scripts_dir/componentize-py" --version 2>/dev/null)" != "componentize-py 0.25.1" ]; then
    python3 -m pip install --quiet componentize-py==0.25.1
fi

# wasm-tools and wit-bindgen, for the Zig guests: C bindings for the
# world, then embedding and adapting into components.
if [ ! -x "$tools/bin/wasm-tools" ]; then
    echo "setup: building wasm-tools 1.263.0 into $tools (about three minutes)" >&2
    cargo install wasm-tools --version 1.263.0 --locked --root "$tools"
fi
if [ ! -x "$tools/bin/wit-bindgen" ]; then
    echo "setup: building wit-bindgen-cli 0.61.0 into $tools" >&2
    cargo install wit-bindgen-cli --version 0.61.0 --locked --root "$tools"
fi

[ "${1:-}" = "--tests" ] || exit 0

if ! command -v cargo-nextest >/dev/null; then
    cargo install cargo-nextest --version 0.9.143 --locked
fi

# Garage: a real S3-compatible store for the store and end-to-end tests.
if [ ! -x "$tools/bin/garage" ]; then
    echo "setup: building Garage 2.5.0 into $tools (several minutes)" >&2
    cargo install garage --version 2.5.0 --locked --root "$tools"
fi

# cargo-component, for the test that builds an example with `cargo component build`.
if [ ! -x "$tools/bin/cargo-component" ]; then
    echo "setup: building cargo-component 0.21.1 into $tools (about five minutes)" >&2
    cargo install cargo-component --version 0.21.1 --locked --root "$tools"
fi

# From Debian's packages: Postgres for the registry and end-to-end tests,
# Prometheus to scrape wharf's metrics in the observability tests, h2load
# (nghttp2-client) and openssl for the TLS tests, haproxy in front of the
# cluster test, and podman, binutils and the CA certificates for the
# container image.
packages=()
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || ! id postgres >/dev/null 2>&1; then
    packages+=(postgresql)
fi
command -v prometheus >/dev/null || packages+=(prometheus)
command -v h2load >/dev/null || packages+=(nghttp2-client)
command -v openssl >/dev/null || packages+=(openssl)
command -v curl >/dev/null || packages+=(curl)
command -v haproxy >/dev/null || packages+=(haproxy)
command -v podman >/dev/null || packages+=(podman)
command -v objcopy >/dev/null || packages+=(binutils)
[ -r /etc/ssl/certs/ca-certificates.crt ] || packages+=(ca-certificates)
if [ ${#packages[@]} -gt 0 ]; then
    sudo=
    [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${packages[@]}"
fi
