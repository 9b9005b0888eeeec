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
# PyPI) for wasm32-wasi and adapted into a component with wasm-tools; see
# build_zig_command and build_zig_http below. Each guests/python-*/app.py
# is built with componentize-py (PyPI).
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

# The Zig guests need Zig, wasm-tools and wit-bindgen; scripts/setup.sh
# installs all three.
tools=${WHARF_TOOLS:-$HOME/.cache/wharf/tools}
export PATH="$tools/bin:$PATH"
if ! python3 -m ziglang version >/dev/null 2>&1; then
    echo "build-guests: Zig is missing; run scripts/setup.sh" >&2
    exit 1
fi
for tool in wasm-tools wit-bindgen; do
    if ! command -v "$tool" >/dev/null; then
        echo "build-guests: $tool is missing; run scripts/setup.sh" >&2
        exit 1
    fi
done
# The preview1 adapters ship in the adapter-provider crate that the host
# depends on, so they match the host's wasmtime.
adapters=$(cd "$root" && cargo metadata --format-version 1 --locked | python3 -c '
import json, os, sys
packages = json.load(sys.stdin)["packages"]
provider = next(p for p in packages if p["name"] == "wasi-preview1-component-adapter-provider")
print(os.path.join(os.path.dirname(provider["manifest_path"]), "artefacts"))')

zig_build() {
    python3 -m ziglang build-exe -target wasm32-wasi -O ReleaseSmall \
        --cache-dir "$build_dir/zig/cache" --global-cache-dir "$build_dir/zig/global-cache" "$@"
}

# zig-cgi: a plain command (a core module), adapted with the command
# adapter into a wasi:cli/run component. The core module itself is kept
# too, as <name>-core.wasm, since wharf also takes core modules as they are.
build_zig_command() {
    local name=$1 work=$build_dir/zig/$1
    mkdir -p "$work"
    (cd "$work" && zig_build "$root/guests/$name/main.zig" -femit-bin="$work/core.wasm")
    cp "$work/core.wasm" "$out/$name-core.wasm"
    wasm-tools component new "$work/core.wasm" \
        --adapt wasi_snapshot_preview1="$adapters/wasi_snapshot_preview1.command.wasm" \
        -o "$out/$name.wasm"
}

# zig-http: C bindings for the wharf:app world from wit-bindgen, compiled
# with the Zig handler as a reactor, then adapted with the reactor adapter.
# The bindings object carries the world's type information into the module.
build_zig_http() {
    local name=$1 work=$build_dir/zig/$1
    rm -rf "$work" && mkdir -p "$work"
    wit-bindgen c "$root/wit" --world wharf:app/app --out-dir "$work/bindings" >/dev/null
    python3 -m ziglang translate-c "$work/bindings/app.h" -target wasm32-wasi -lc >"$work/bindings/app.zig"
    (cd "$work" && zig_build -fno-entry -mexec-model=reactor -rdynamic -lc \
        --dep app -Mmain="$root/guests/$name/main.zig" \
        -cflags -I "$work/bindings" -- "$work/bindings/app.c" "$work/bindings/app_component_type.o" \
        -Mapp="$work/bindings/app.zig" -femit-bin="$work/core.wasm")
    wasm-tools component new "$work/core.wasm" \
        --adapt wasi_snapshot_preview1="$adapters/wasi_snapshot_preview1.reactor.wasm" \
        -o "$out/$name.wasm"
}

# python-*: a wasi:http handler in Python, built with componentize-py
# against the standard wasi:http/proxy world, as app authors build one.
componentize_py=$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')/componentize-py
if [ ! -x "$componentize_py" ]; then
    echo "build-guests: componentize-py is missing; run scripts/setup.sh" >&2
    exit 1
fi
build_python_http() {
    # From a copy, since componentize-py writes __pycache__ beside the app.
    local name=$1 work=$build_dir/python/$1
    rm -rf "$work" && mkdir -p "$work"
    cp "$root/guests/$name"/*.py "$work/"
    "$componentize_py" -d "$root/wit" -w wasi:http/proxy@0.2.12 \
        componentize -p "$work" app -o "$out/$name.wasm" >/dev/null
}
for dir in "$root"/guests/python-*/; do
    build_python_http "$(basename "$dir")"
done

for dir in "$root"/guests/zig-*/; do
    name=$(basename "$dir")
    case $name in
        zig-cgi) build_zig_command "$name" ;;
        zig-http) build_zig_http "$name" ;;
        *)
            echo "build-guests: say in this script how to build $name" >&2
            exit 1
            ;;
    esac
done
echo "build-guests: wrote $(ls "$out" | wc -l) guests to $out" >&2
