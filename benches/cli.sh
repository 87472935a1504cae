#!/usr/bin/env bash
# Command-line overhead: `dagflow run` against `make -j N` on the same graph.
#
# The graph is the sleepy workload of WORKLOADS.md without the sleep: 10
# layers of 100 tasks, each depending on up to 2 tasks of the layer before,
# every task running `true` (no shell in either tool). dagflow runs it with
# its SQLite journal on. Both tools get the same parallelism N.
#
# Usage: benches/cli.sh [RUNS]        (default 10 runs of each, medians)
# Environment: N (parallelism, default nproc), DAGFLOW (a prebuilt binary),
#              CARGO_TARGET_DIR (where cargo builds), DAGFLOW_RUN_ARGS
#              (extra arguments for `dagflow run`), HYPERFINE=1 (time with
#              hyperfine instead of the alternating loop).
# The default loop alternates the two tools run by run, so load that drifts
# during the measurement (a shared machine) hits both alike; hyperfine runs
# all of one tool, then all of the other.
# Target: dagflow's median <= 1.3 x make's median.
set -euo pipefail

RUNS=${1:-10}
N=${N:-$(nproc)}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/dagflow-cli-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

if ! command -v make >/dev/null 2>&1; then
    echo "make is missing; installing it from the distribution's packages" >&2
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq make >/dev/null
fi

echo "building dagflow-bench and dagflow (release)..." >&2
(cd "$ROOT" && cargo build --release -q -p dagflow-bench)
BENCH="$TARGET_DIR/release/dagflow-bench"
if [ -z "${DAGFLOW:-}" ]; then
    (cd "$ROOT" && cargo build --release -q -p dagflow-cli)
    DAGFLOW="$TARGET_DIR/release/dagflow"
fi

"$BENCH" --emit yaml sleepy-10x100 --command true >"$WORK/workflow.yml"
"$BENCH" --emit make sleepy-10x100 --command true >"$WORK/Makefile"
JOURNAL="$WORK/journal.db"

# Output is discarded in both (make -s, dagflow --quiet, stderr to /dev/null)
# so terminal speed does not count; the check runs below show any error.
run_make() { make -s -j "$N" -f "$WORK/Makefile" all >/dev/null 2>&1; }
run_dagflow() {
    # shellcheck disable=SC2086 # DAGFLOW_RUN_ARGS is a list of words
    "$DAGFLOW" run "$WORK/workflow.yml" --quiet --concurrency "$N" --journal "$JOURNAL" ${DAGFLOW_RUN_ARGS:-} >/dev/null 2>&1
}

# Fail early, with the tool's own message, if either cannot run the graph.
make -s -j "$N" -f "$WORK/Makefile" all >/dev/null
# shellcheck disable=SC2086
"$DAGFLOW" run "$WORK/workflow.yml" --quiet --concurrency "$N" --journal "$JOURNAL" ${DAGFLOW_RUN_ARGS:-} >/dev/null 2>"$WORK/check.err" ||
    { cat "$WORK/check.err" >&2; exit 1; }

now_ns() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

if [ "${HYPERFINE:-0}" = 1 ] && command -v hyperfine >/dev/null 2>&1; then
    export -f run_make run_dagflow
    export WORK N DAGFLOW JOURNAL DAGFLOW_RUN_ARGS
    hyperfine --warmup 2 --runs "$RUNS" --shell bash --export-json "$WORK/hyperfine.json" \
        -n "make -j $N" run_make -n "dagflow run (SQLite journal)" run_dagflow >&2
    # Medians in seconds, in command order.
    MEDIANS=$(grep -o '"median": *[0-9.e+-]*' "$WORK/hyperfine.json" | awk -F': *' '{print $2 * 1000}')
    MAKE_MS=$(echo "$MEDIANS" | sed -n 1p)
    DAGFLOW_MS=$(echo "$MEDIANS" | sed -n 2p)
else
    : >"$WORK/make.ns"
    : >"$WORK/dagflow.ns"
    for _ in $(seq "$RUNS"); do
        t0=$(now_ns); run_make; t1=$(now_ns); echo $((t1 - t0)) >>"$WORK/make.ns"
        t0=$(now_ns); run_dagflow; t1=$(now_ns); echo $((t1 - t0)) >>"$WORK/dagflow.ns"
    done
    MAKE_MS=$(median <"$WORK/make.ns" | awk '{print $1/1e6}')
    DAGFLOW_MS=$(median <"$WORK/dagflow.ns" | awk '{print $1/1e6}')
fi

# The journal must hold every timed run (plus the check run): proof it was on.
RECORDED=$("$DAGFLOW" runs --journal "$JOURNAL" --limit 100000 | grep -c succeeded || true)

RATIO=$(awk -v d="$DAGFLOW_MS" -v m="$MAKE_MS" 'BEGIN {printf "%.2f", d/m}')
MET=$(awk -v r="$RATIO" 'BEGIN {print (r <= 1.3) ? "yes" : "no"}')
printf 'tasks=1000 N=%s runs=%s\n' "$N" "$RUNS"
printf 'make -j %s:                    %8.1f ms (median)\n' "$N" "$MAKE_MS"
printf 'dagflow run (SQLite journal):  %8.1f ms (median)\n' "$DAGFLOW_MS"
printf 'journal: %s succeeded runs recorded in %s\n' "$RECORDED" "$(basename "$JOURNAL")"
printf 'ratio dagflow/make: %s x (target <= 1.3 x: %s)\n' "$RATIO" "$MET"
