#!/usr/bin/env bash
# Installs what building and testing wharf needs on a fresh machine, and
# skips whatever is already present so repeat runs are quick.
set -euo pipefail

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

if ! command -v cargo-nextest >/dev/null; then
    cargo install cargo-nextest --version 0.9.143 --locked
fi
