#!/usr/bin/env bash
# The PostgreSQL store next to its yardsticks on one server, alternating:
#
# * per registration: pgbench TPC-B (`-M prepared`) against the crate's
#   plan + apply (`examples/async_host.rs`) at 1, 8 and 32 clients;
# * bulk import: `COPY` of N registrations' rows against the crate's import
#   of the same N registrations into a store of M records
#   (`examples/pg_import.rs`).
#
# Each line prints the figure of both and their ratio (ours / anchor).
#
#   bash perf/pg_compare.sh [ROUNDS]                 # starts a server of its own
#   CONTACT_SYNC_POSTGRES_URL=postgres://... bash perf/pg_compare.sh 3
#
# Settings (environment): EVENTS (registrations per client run, 4000),
# SECONDS_PER_RUN (pgbench, 10), SCALE (pgbench scale, 1), IMPORTS
# ("100000 1000000": the import sizes), STORE (records in the store before an
# import, 1000000), SKIP_IMPORT=1 (per registration only), SKIP_CLIENTS=1.
set -euo pipefail
rounds=${1:-3}
here=$(cd "$(dirname "$0")/.." && pwd)
events=${EVENTS:-4000}
secs=${SECONDS_PER_RUN:-10}
scale=${SCALE:-1}
imports=${IMPORTS:-"100000 1000000"}
store=${STORE:-1000000}
started=""
if [ -z "${CONTACT_SYNC_POSTGRES_URL:-}" ]; then
    read -r started CONTACT_SYNC_POSTGRES_URL < <(bash "$here/.ci/postgres.sh")
    export CONTACT_SYNC_POSTGRES_URL
fi
cleanup() { if [ -n "$started" ]; then bash "$here/.ci/postgres.sh" stop "$started"; fi; }
trap cleanup EXIT
url=$CONTACT_SYNC_POSTGRES_URL
base=${url%/*}
cargo build --quiet --release --features postgres --example async_host --example pg_import \
    --manifest-path "$here/Cargo.toml"
bin="$here/target/release/examples"
psql -q -d "$base/postgres" -c "DROP DATABASE IF EXISTS pgbench_anchor" \
    -c "CREATE DATABASE pgbench_anchor" >/dev/null
pgbench -q -i -s "$scale" "$base/pgbench_anchor" >/dev/null 2>&1
echo "server: $(psql -At -d "$url" -c 'SHOW server_version') fsync=$(psql -At -d "$url" -c 'SHOW fsync')" \
    "synchronous_commit=$(psql -At -d "$url" -c 'SHOW synchronous_commit') cores=$(nproc) pgbench_scale=$scale"
ratio() { python3 -c "import sys; print(f'{float(sys.argv[1]) / float(sys.argv[2]):.2f}')" "$1" "$2"; }
for r in $(seq "$rounds"); do
    if [ -z "${SKIP_CLIENTS:-}" ]; then
        for c in 1 8 32; do
            j=$((c < $(nproc) ? c : $(nproc)))
            tps=$(pgbench -M prepared -n -c "$c" -j "$j" -T "$secs" "$base/pgbench_anchor" 2>/dev/null |
                sed -n 's/^tps = \([0-9.]*\).*/\1/p' | tail -1)
            ours=$("$bin/async_host" "$events" --connections "$c" |
                sed -n 's/.*plan_apply_per_s=\([0-9.]*\).*/\1/p')
            echo "round=$r clients=$c pgbench_tps=$tps plan_apply_per_s=$ours ratio=$(ratio "$ours" "$tps")"
        done
    fi
    if [ -z "${SKIP_IMPORT:-}" ]; then
        for n in $imports; do
            copy=$("$bin/pg_import" --copy-only --store "$store" "$n" | sed -n 's/.*copy_s=\([0-9.]*\).*/\1/p')
            ours=$("$bin/pg_import" --store "$store" "$n" | sed -n 's/.*import_s=\([0-9.]*\).*/\1/p')
            echo "round=$r import=$n store=$store copy_s=$copy import_s=$ours ratio=$(ratio "$ours" "$copy")"
        done
    fi
done
