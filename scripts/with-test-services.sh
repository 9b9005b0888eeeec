#!/usr/bin/env bash
# Runs a command with a real S3-compatible server (Garage), a real Postgres
# and a real Prometheus started on loopback for it, then stops them all:
#
#   scripts/with-test-services.sh cargo nextest run -p wharf-store
#
# The command sees them through these variables:
#   WHARF_TEST_S3_ENDPOINT, WHARF_TEST_S3_REGION, WHARF_TEST_S3_BUCKET,
#   WHARF_TEST_S3_ACCESS_KEY_ID, WHARF_TEST_S3_SECRET_ACCESS_KEY,
#   WHARF_TEST_POSTGRES_URL (a superuser URL; tests create their own databases),
#   WHARF_TEST_PROMETHEUS_URL, WHARF_TEST_PROMETHEUS_TARGETS (a folder: each
#   JSON file a test writes there is a scrape target, scraped every second).
#
# Garage comes from scripts/setup.sh (~/.cache/wharf/tools/bin), Postgres and
# Prometheus from Debian's packages. Everything lives in one temporary
# directory.
set -euo pipefail

tools=${WHARF_TOOLS:-$HOME/.cache/wharf/tools}
garage=$tools/bin/garage
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$garage" ] || { echo "with-test-services: $garage is missing; run scripts/setup.sh" >&2; exit 1; }
[ -n "$pg_bin" ] || { echo "with-test-services: Postgres is missing; run scripts/setup.sh" >&2; exit 1; }
prometheus=$(command -v prometheus || true)
[ -n "$prometheus" ] || { echo "with-test-services: Prometheus is missing; run scripts/setup.sh --tests" >&2; exit 1; }

dir=$(mktemp -d /tmp/wharf-services.XXXXXX)
chmod 755 "$dir"
garage_pid=
pg_started=
prometheus_pid=

as_postgres() {
    if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi
}

stop() {
    status=$?
    if [ -n "$garage_pid" ]; then kill "$garage_pid" 2>/dev/null || true; wait "$garage_pid" 2>/dev/null || true; fi
    if [ -n "$prometheus_pid" ]; then kill "$prometheus_pid" 2>/dev/null || true; wait "$prometheus_pid" 2>/dev/null || true; fi
    if [ -n "$pg_started" ]; then as_postgres "$pg_bin/pg_ctl -D $dir/pg/data -m immediate stop" >/dev/null 2>&1 || true; fi
    rm -rf "$dir"
    exit $status
}
trap stop EXIT INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# --- Garage, single node ---------------------------------------------------
rpc_port=$(free_port); s3_port=$(free_port); admin_port=$(free_port)
mkdir -p "$dir/garage"
cat >"$dir/garage/garage.toml" <<TOML
metadata_dir = "$dir/garage/meta"
data_dir = "$dir/garage/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:$rpc_port"
rpc_public_addr = "127.0.0.1:$rpc_port"
rpc_secret = "$(python3 -c 'import secrets; print(secrets.token_hex(32))')"

[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:$s3_port"
root_domain = ".s3.garage.localhost"

[admin]
api_bind_addr = "127.0.0.1:$admin_port"
TOML
g() { "$garage" -c "$dir/garage/garage.toml" "$@"; }
# Started directly, not through `g`: the pid must be garage's own, not a
# subshell's, or stopping would leave garage running.
"$garage" -c "$dir/garage/garage.toml" server >"$dir/garage/log" 2>&1 &
garage_pid=$!
node_id=
for _ in $(seq 100); do
    node_id=$(g node id -q 2>/dev/null | cut -d@ -f1) && [ -n "$node_id" ] && break
    sleep 0.1
done
[ -n "$node_id" ] || { cat "$dir/garage/log" >&2; echo "with-test-services: Garage did not start" >&2; exit 1; }
# `node id` reads the key from disk, so it can answer before the server
# listens; the first call over RPC waits until it does.
assigned=
for _ in $(seq 100); do
    g layout assign -z dc1 -c 1G "$node_id" >/dev/null 2>&1 && assigned=1 && break
    sleep 0.1
done
[ -n "$assigned" ] || { cat "$dir/garage/log" >&2; echo "with-test-services: Garage did not answer over RPC" >&2; exit 1; }
g layout apply --version 1 >/dev/null
g bucket create wasm >/dev/null
g key create wharf-test >/dev/null
key_info=$(g key info wharf-test --show-secret)
access_key=$(awk '/Key ID:/ {print $NF}' <<<"$key_info")
secret_key=$(awk '/Secret key:/ {print $NF}' <<<"$key_info")
g bucket allow --read --write --owner wasm --key wharf-test >/dev/null

# --- Postgres, throwaway cluster -------------------------------------------
pg_port=$(free_port)
mkdir -p "$dir/pg"
chown postgres "$dir/pg" 2>/dev/null || true
as_postgres "$pg_bin/initdb -D $dir/pg/data -A trust -U wharf" >"$dir/pg/initdb.log" 2>&1 \
    || { cat "$dir/pg/initdb.log" >&2; exit 1; }
as_postgres "$pg_bin/pg_ctl -D $dir/pg/data -w -o \"-p $pg_port -k $dir/pg -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off\" -l $dir/pg/log start" >/dev/null \
    || { cat "$dir/pg/log" >&2; exit 1; }
pg_started=1

# --- Prometheus, scraping whatever the tests list ---------------------------
prom_port=$(free_port)
mkdir -p "$dir/prometheus/targets" "$dir/prometheus/data"
cat >"$dir/prometheus/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: wharf
    file_sd_configs:
      - files: ["$dir/prometheus/targets/*.json"]
        refresh_interval: 1s
YAML
"$prometheus" --config.file="$dir/prometheus/prometheus.yml" \
    --storage.tsdb.path="$dir/prometheus/data" \
    --web.listen-address="127.0.0.1:$prom_port" >"$dir/prometheus/log" 2>&1 &
prometheus_pid=$!
for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$prom_port/-/ready" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -fs "http://127.0.0.1:$prom_port/-/ready" >/dev/null \
    || { cat "$dir/prometheus/log" >&2; echo "with-test-services: Prometheus did not start" >&2; exit 1; }

export WHARF_TEST_S3_ENDPOINT=http://127.0.0.1:$s3_port
export WHARF_TEST_S3_REGION=garage
export WHARF_TEST_S3_BUCKET=wasm
export WHARF_TEST_S3_ACCESS_KEY_ID=$access_key
export WHARF_TEST_S3_SECRET_ACCESS_KEY=$secret_key
export WHARF_TEST_POSTGRES_URL=postgres://wharf@127.0.0.1:$pg_port/postgres
export WHARF_TEST_PROMETHEUS_URL=http://127.0.0.1:$prom_port
export WHARF_TEST_PROMETHEUS_TARGETS=$dir/prometheus/targets
echo "with-test-services: Garage on $WHARF_TEST_S3_ENDPOINT, Postgres on 127.0.0.1:$pg_port," \
    "Prometheus on $WHARF_TEST_PROMETHEUS_URL" >&2

"$@"
