#!/usr/bin/env bash
# Builds every guest in guests/ into OUT/<name>.wasm (default: target/guests/).
#
#   scripts/build-guests.sh [OUT]
#
# The guests are their own cargo workspace; guests/.cargo/config.toml picks the
# wasm target. Intermediate files go beside OUT, in guests-build/.
#
# `hello` is also built for wasm32-wasip1 as hello-wasip1.wasm: a core module,
# not a component, which wharf adapts when it is deployed or run.
#
# Each guests/zig-*/main.zig is built with Zig (the `ziglang` package from
# PyPI, which scripts/setup.sh installs) into a wasm32-wasi core module.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-${CARGO_TARGET_DIR:-$root/target}/guests}
mkdir -p "$out"
out=$(cd "$out" && pwd)
build_dir=$(dirname "$out")/guests-build

cd "$root/guests"
cargo build --release --locked --target-dir "$build_dir"
cargo build --release --locked --target-dir "$build_dir" --target wasm32-wasip1 -p hello

rm -f "$out"/*.wasm
release=$build_dir/wasm32-wasip2/release
for manifest in */Cargo.toml; do
    name=$(dirname "$manifest")
    # The SDK is a library the guests use, not a guest.
    [ "$name" = sdk ] && continue
    artifact=$release/${name//-/_}.wasm
    if [ ! -f "$artifact" ]; then
        echo "build-guests: $name did not produce $artifact" >&2
        exit 1
    fi
    cp "$artifact" "$out/$name.wasm"
done
cp "$build_dir/wasm32-wasip1/release/hello.wasm" "$out/hello-wasip1.wasm"

if ! python3 -m ziglang version >/dev/null 2>&1; then
    echo "build-guests: Zig is missing; run scripts/setup.sh" >&2
    exit 1
fi
for source in "$root"/guests/zig-*/main.zig; do
    name=$(basename "$(dirname "$source")")
    mkdir -p "$build_dir/zig/$name"
    (cd "$build_dir/zig/$name" && python3 -m ziglang build-exe "$source" \
        -target wasm32-wasi -O ReleaseSmall \
        --cache-dir "$build_dir/zig/cache" --global-cache-dir "$build_dir/zig/global-cache" \
        -femit-bin="$out/$name.wasm")
done
echo "build-guests: wrote $(ls "$out" | wc -l) guests to $out" >&2
