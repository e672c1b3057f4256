#!/usr/bin/env bash
# A provisioning job carried out by one worker process and by two, side by side in one run, on a
# PostgreSQL 15 started on loopback for the run (tests/support/with_postgres.sh --durable: fsync
# on, commits asynchronous). Each round provisions the same population into an emptied key_sets
# table, once with one worker (--threads 1) and once with two (--threads 1 each), alternating
# which goes first; the rate is the job's own, from the store (first claim to last chunk done:
# worker start-up excluded), with the wall time beside it. Prints key sets/s for both, the medians
# and their ratio (the target on 2 cores: two workers at least 1.8x one).
#   usage: bench/shared-job-scale.sh BUILD_DIR [IDENTITIES [ROUNDS]]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ -z "${MCX_TEST_POSTGRES_URL:-}" ]; then
  exec bash "$here/../tests/support/with_postgres.sh" --durable bash "$0" "$@"
fi
build="$(realpath "$1")"
identities="${2:-40000}"
rounds="${3:-3}"
bin="$build/tools/mcx-kms"
url="$MCX_TEST_POSTGRES_URL"
work="$(mktemp -d "${TMPDIR:-/tmp}/shared-job-bench-XXXXXX")"
pids=()
trap 'for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$work"' EXIT
# shellcheck source=../tools/demo-kms-lib.sh
source "$here/../tools/demo-kms-lib.sh"
sql() { psql -X -q -t -A "$url" -c "$1"; }

"$bin" init --demo --data-dir "$work/kms" --store-url "$url" >"$work/init.log" 2>&1 || { cat "$work/init.log"; exit 1; }
for i in $(seq 1 "$identities"); do printf 'sip:responder%06d@example.org\n' "$i"; done >"$work/users.txt"
echo "mcx-kms shared job scaling: $identities identities x 1 key period, chunks of 500, $rounds rounds"
echo "CPU: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), $(nproc) cores"
"$bin" --help 2>&1 | grep "^Arithmetic:"
echo "niceness of this run: $(nice) (a niced run shares the cores with whatever else runs: see the load below)"

run() {  # WORKERS: prints "rate_store rate_wall"
  local n="$1" job start end ms
  job="$("$bin" provision --data-dir "$work/kms" --users "$work/users.txt" --create-job --chunk-size 500 \
           --lease-seconds 30 2>&1 | tail -n 1)"
  sql "TRUNCATE key_sets" >/dev/null  # (after --create-job: the first one makes the store)
  start="$(date +%s.%N)"
  pids=()
  for w in $(seq 1 "$n"); do
    start_job_worker "$bin" "$work/kms" "$job" "$work/w$job-$w.log" --threads 1
  done
  for p in "${pids[@]}"; do wait "$p" || { echo "a worker failed:" >&2; cat "$work"/w"$job"-*.log >&2; exit 1; }; done
  pids=()
  end="$(date +%s.%N)"
  [ "$(sql "SELECT count(*) FROM key_sets")" = "$identities" ] || { echo "wrong count" >&2; exit 1; }
  ms="$(sql "SELECT max(done_at_ms) - min(claimed_at_ms) FROM provisioning_chunks WHERE job_id = $job")"
  # Each worker's own time in its loop, for the log.
  echo "  job $job: chunks first claimed to last done in ${ms} ms; workers' loops: $(sed -n 's/.* in \([0-9.]*\) s: .*/\1 s/p' "$work"/w"$job"-*.log | tr '\n' ' ')" >&2
  awk -v k="$identities" -v ms="$ms" -v s="$start" -v e="$end" 'BEGIN { printf "%.0f %.0f\n", k / (ms / 1000), k / (e - s) }'
}

one=() two=()
for r in $(seq 1 "$rounds"); do
  if [ $((r % 2)) = 1 ]; then order="1 2"; else order="2 1"; fi
  for n in $order; do
    read -r rate wall < <(run "$n")
    printf 'round %d, %d worker(s): %6d key sets/s (job, from the store), %6d key sets/s (wall, with start-up); load %s\n' \
      "$r" "$n" "$rate" "$wall" "$(cut -d' ' -f1-3 /proc/loadavg)"
    if [ "$n" = 1 ]; then one+=("$rate"); else two+=("$rate"); fi
  done
done
median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
m1="$(median "${one[@]}")" m2="$(median "${two[@]}")"
awk -v a="$m1" -v b="$m2" 'BEGIN { printf "median: one worker %.0f key sets/s, two workers %.0f key sets/s: %.2fx (target >= 1.8x)\n", a, b, b / a }'
