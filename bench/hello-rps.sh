#!/usr/bin/env bash
# Side-by-side throughput of the `hello` guest: `wharf run` against
# `wasmtime serve` (same wasmtime version, pooling allocator on), in one run.
#
#   bench/hello-rps.sh [ROUNDS] [SECONDS] [CONNECTIONS]
#
# Each server is pinned to CPU 0 and the load generator (oha) to CPU 1, so
# both servers get one tokio worker. Rounds interleave the two servers so
# machine noise hits both alike; the medians and their ratio are printed and
# written to bench/results/hello-rps.md together with this command line.
set -euo pipefail

rounds=${1:-5}
seconds=${2:-10}
connections=${3:-16}

root=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
tools=${WHARF_BENCH_TOOLS:-$HOME/.cache/wharf/tools}
wasmtime_version=48.0.8
oha_version=1.16.0

install() { # crate version binary
    if [ ! -x "$tools/bin/$3" ] || ! "$tools/bin/$3" --version | grep -q "$2"; then
        cargo install "$1" --version "$2" --locked --root "$tools"
    fi
}
install wasmtime-cli "$wasmtime_version" wasmtime
install oha "$oha_version" oha

"$root/scripts/setup.sh"
"$root/scripts/build-guests.sh" "$CARGO_TARGET_DIR/guests"
cargo build --release --locked -p wharf --manifest-path "$root/Cargo.toml"
wharf=$CARGO_TARGET_DIR/release/wharf
hello=$CARGO_TARGET_DIR/guests/hello.wasm

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_up() { # port
    for _ in $(seq 200); do
        curl -fs "http://127.0.0.1:$1/" >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    echo "server on port $1 did not come up" >&2
    return 1
}

measure() { # name -> prints requests/s
    local port pid
    port=$(free_port)
    case $1 in
        wharf) WHARF_LOG=warn taskset -c 0 "$wharf" run "$hello" --listen "127.0.0.1:$port" 2>/dev/null & ;;
        wasmtime) taskset -c 0 "$tools/bin/wasmtime" serve -O pooling-allocator=y -S cli=y \
                      --addr "127.0.0.1:$port" "$hello" >/dev/null 2>&1 & ;;
    esac
    pid=$!
    wait_up "$port"
    # Warm up, then measure.
    taskset -c 1 "$tools/bin/oha" -z 2s -c "$connections" --no-tui "http://127.0.0.1:$port/" >/dev/null
    taskset -c 1 "$tools/bin/oha" -z "${seconds}s" -c "$connections" --no-tui --output-format json \
        "http://127.0.0.1:$port/" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(round(d["summary"]["requestsPerSec"]))'
    kill "$pid"; wait "$pid" 2>/dev/null || true
}

declare -a wharf_rps wasmtime_rps
for round in $(seq "$rounds"); do
    wharf_rps+=("$(measure wharf)")
    wasmtime_rps+=("$(measure wasmtime)")
    echo "round $round: wharf ${wharf_rps[-1]} req/s, wasmtime serve ${wasmtime_rps[-1]} req/s" >&2
done

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
wharf_median=$(median "${wharf_rps[@]}")
wasmtime_median=$(median "${wasmtime_rps[@]}")
ratio=$(python3 -c "print(f'{$wharf_median/$wasmtime_median:.2f}')")

mkdir -p "$root/bench/results"
{
    echo "# hello throughput: wharf run vs wasmtime serve"
    echo
    echo "Command: \`bench/hello-rps.sh $rounds $seconds $connections\`"
    echo
    echo "Machine: $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr);" \
         "server on CPU 0, oha $oha_version on CPU 1, $connections connections, keep-alive, ${seconds}s per run after a 2s warm-up."
    echo "Component: guests/hello ($(stat -c %s "$hello") bytes). wasmtime-cli $wasmtime_version with" \
         "\`-O pooling-allocator=y -S cli=y\`."
    echo
    echo "| round | wharf req/s | wasmtime serve req/s |"
    echo "|---|---|---|"
    for i in "${!wharf_rps[@]}"; do echo "| $((i + 1)) | ${wharf_rps[$i]} | ${wasmtime_rps[$i]} |"; done
    echo "| **median** | **$wharf_median** | **$wasmtime_median** |"
    echo
    echo "Ratio of medians, wharf / wasmtime serve: **$ratio**"
} > "$root/bench/results/hello-rps.md"
cat "$root/bench/results/hello-rps.md"
