#!/usr/bin/env bash
# Alternating runs on one data set: DuckDB on one thread (`duck.py`), then
# `match_csv --preset doo-external` on one thread and on every core, and the
# single-purpose kernel when `KERNEL` names its binary. One line per run,
# with the peak resident set of the process (GNU time).
#
#   python3 perf/gen.py 1000000 1000000 d1m      # the data (seed 42)
#   bash perf/compare.sh d1m 3                   # 3 rounds
#   KERNEL=$HOME/kernel-target/release/match_bench bash perf/compare.sh d1m 3
set -euo pipefail
dir=${1:?usage: compare.sh DATA_DIR [ROUNDS]}
rounds=${2:-3}
here=$(cd "$(dirname "$0")/.." && pwd)
cargo build --quiet --release --example match_csv --manifest-path "$here/Cargo.toml"
mc="$here/target/release/examples/match_csv"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Runs "$@"; prints the last line matching $1 of its output, and its peak
# resident set in MB (GNU time reports kilobytes).
peak() {
    local what=$1
    shift
    /usr/bin/time -o "$tmp/rss" -f "%M" "$@" >"$tmp/out" 2>&1
    echo "$(grep -a "$what" "$tmp/out" | tail -1) peak_rss_mb=$(($(tail -1 "$tmp/rss") / 1000))"
}
for r in $(seq "$rounds"); do
    echo "round=$r $(peak 'duckdb threads' python3 "$here/perf/duck.py" "$dir" 1)"
    for t in 1 "$(nproc)"; do
        echo "round=$r match_csv threads=$t $(peak 'timing:' "$mc" --contacts "$dir/contacts.csv" \
            --registrations "$dir/registrations.csv" --preset doo-external \
            --out /dev/null --quiet --threads "$t")"
    done
    if [ -n "${KERNEL:-}" ]; then
        echo "round=$r kernel $("$KERNEL" "$dir" batch)"
    fi
done
