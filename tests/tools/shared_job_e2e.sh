#!/usr/bin/env bash
# A bulk provisioning job shared by two worker processes on one store, one of them
# killed with SIGKILL in the middle of a chunk: `provision --create-job` records 3,000 identities x
# 2 key periods in 6 chunks (lease 2 s); two `provision --job ID --worker` start; worker A is
# killed while it holds a chunk of which some, not all, key sets are committed; worker B takes
# that chunk over once A's lease has expired and finishes the job. Then every (user, period) of
# the population has exactly one key set, every key set opens and validates (check-store), the
# status shows the job done with the takeover and both workers, and the audit chain verifies.
# On PostgreSQL it runs inside tests/support/with_postgres.sh, which gives the database in
# $MCX_TEST_POSTGRES_URL; with `sqlite` the same runs on the embedded store (workers on one host).
#   usage: with_postgres.sh shared_job_e2e.sh MCX_KMS_BINARY SOURCE_DIR
#          shared_job_e2e.sh MCX_KMS_BINARY SOURCE_DIR sqlite
set -u
bin="$(realpath "$1")"
src="$(realpath "$2")"
store="${3:-postgres}"
fail=0
# shellcheck source=../../tools/demo-kms-lib.sh
source "$src/tools/demo-kms-lib.sh"
tmp="$(mktemp -d /tmp/mcx-kms-job-e2e-XXXXXX)"
pids=()
trap 'for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$tmp"' EXIT
dd="$tmp/demo"
if [ "$store" = sqlite ]; then
  require_tools sqlite3
  sql() { sqlite3 "$dd/store.sqlite" "$1"; }
  store_args=()
  schema_version="PRAGMA user_version"
  # The key sets of one chunk (its users are one per line).
  chunk_key_sets() { sql "SELECT count(*) FROM key_sets k, provisioning_chunks c WHERE c.job_id = $job AND c.chunk_no = $1
                          AND instr(char(10) || c.users, char(10) || k.user_uri || char(10)) > 0"; }
else
  require_tools psql
  [ -n "${MCX_TEST_POSTGRES_URL:-}" ] || { echo "FAIL: no \$MCX_TEST_POSTGRES_URL: run me through tests/support/with_postgres.sh"; exit 1; }
  url="$MCX_TEST_POSTGRES_URL"
  sql() { psql -X -q -t -A "$url" -c "$1"; }
  store_args=(--store-url "$url")
  schema_version="SELECT version FROM store_schema"
  chunk_key_sets() { sql "SELECT count(*) FROM key_sets k JOIN provisioning_chunks c ON k.user_uri = ANY(c.users)
                          WHERE c.job_id = $job AND c.chunk_no = $1"; }
fi
users=3000 periods=2 chunk=500
pairs=$((users * periods)) chunk_pairs=$((chunk * periods))

"$bin" init --demo --data-dir "$dd" "${store_args[@]}" >"$tmp/init.log" 2>&1 || { echo "FAIL: init:"; cat "$tmp/init.log"; exit 1; }
for i in $(seq 1 "$users"); do printf 'sip:responder%05d@example.org\n' "$i"; done >"$tmp/users.txt"

"$bin" provision --data-dir "$dd" --users "$tmp/users.txt" --periods "$periods" --create-job --chunk-size "$chunk" \
  --lease-seconds 2 >"$tmp/create.log" 2>&1 || { echo "FAIL: --create-job:"; cat "$tmp/create.log"; exit 1; }
job="$(tail -n 1 "$tmp/create.log")"
[ "$(sql "SELECT count(*) FROM provisioning_chunks WHERE job_id = $job AND state = 'pending'")" = 6 ] \
  && ok "job $job: 6 pending chunks in the store ($store)" || bad "job $job: $(cat "$tmp/create.log")"
[ "$(sql "SELECT count(*) FROM key_sets")" = 0 ] && ok "making a job issues nothing" || bad "key sets before any worker"
[ "$(sql "$schema_version")" = 4 ] && ok "schema version 4" || bad "schema version"

"$bin" provision --data-dir "$dd" --job 9999 --status >"$tmp/unknown.log" 2>&1
rc=$?
[ "$rc" = 1 ] && grep -q "no provisioning job 9999" "$tmp/unknown.log" && ok "an unknown job id is a clear error" \
  || bad "unknown job: rc $rc: $(cat "$tmp/unknown.log")"

# One worker after the other has opened the KMS (see start_job_worker).
worker() {  # NAME
  start_job_worker "$bin" "$dd" "$job" "$tmp/$1.log" --threads 1 --commit-every 50
}
worker a
pid_a=${pids[-1]}
worker b
pid_b=${pids[-1]}

# Wait for A to hold a chunk with part of its key sets committed, then SIGKILL it there.
held=""
committed=0
for _ in $(seq 1 1500); do
  held="$(sql "SELECT chunk_no FROM provisioning_chunks WHERE job_id = $job AND state = 'leased'
               AND lease_owner LIKE '%:$pid_a'")"
  if [ -n "$held" ]; then
    committed="$(chunk_key_sets "$held")"
    if [ "$committed" -ge 50 ] && [ "$committed" -lt "$chunk_pairs" ]; then
      kill -KILL "$pid_a"
      break
    fi
  fi
  kill -0 "$pid_a" 2>/dev/null || break
  sleep 0.02
done
wait "$pid_a" 2>/dev/null
after="$(chunk_key_sets "${held:-0}")"
state="$(sql "SELECT state FROM provisioning_chunks WHERE job_id = $job AND chunk_no = ${held:-0}")"
if [ -n "$held" ] && [ "$state" = leased ] && [ "$after" -lt "$chunk_pairs" ]; then
  ok "worker A killed in the middle of chunk $held ($after of its $chunk_pairs key sets committed)"
else
  bad "could not kill worker A mid-chunk (chunk '${held}', state '$state', $after key sets): the test proves nothing"
fi
"$bin" provision --data-dir "$dd" --job "$job" --status >"$tmp/status-mid.log" 2>&1 \
  && ok "status while running" || bad "status: $(cat "$tmp/status-mid.log")"

# B finishes the whole job, A's chunk included once its lease has expired.
finished=""
for _ in $(seq 1 600); do
  kill -0 "$pid_b" 2>/dev/null || { finished=1; break; }
  sleep 0.1
done
wait "$pid_b"
rc_b=$?
[ -n "$finished" ] && [ "$rc_b" = 0 ] && ok "worker B exits 0 when the job is done" \
  || bad "worker B: finished '$finished' rc $rc_b: $(cat "$tmp/b.log")"
grep -q "took over chunk $held from .*:$pid_a" "$tmp/b.log" && ok "B took over A's chunk $held after its lease expired" \
  || bad "no takeover in B's log: $(cat "$tmp/b.log")"
grep -q "job $job done: $pairs of $pairs pairs have a key set in the store" "$tmp/b.log" \
  && ok "B counts $pairs of $pairs pairs in the store" || bad "B's count: $(tail -n 3 "$tmp/b.log")"

# Exact: every (user, period) of the population once, nothing else, no duplicates.
[ "$(sql "SELECT count(*) FROM key_sets")" = "$pairs" ] && ok "$pairs key sets in the store" \
  || bad "$(sql "SELECT count(*) FROM key_sets") key sets, expected $pairs"
[ "$(sql "SELECT count(*) FROM (SELECT user_uri, key_period_no FROM key_sets GROUP BY 1, 2 HAVING count(*) > 1) d")" = 0 ] \
  && ok "no (user, period) twice" || bad "duplicates"
first="$(sql "SELECT first_period FROM provisioning_jobs WHERE id = $job")"
[ "$(sql "SELECT count(*) FROM key_sets WHERE key_period_no BETWEEN $first AND $first + $periods - 1
          AND user_uri LIKE 'sip:responder%@example.org'")" = "$pairs" ] \
  && [ "$(sql "SELECT count(DISTINCT user_uri) FROM key_sets")" = "$users" ] \
  && ok "each of the $users users has a key set for each of the $periods periods: none missing" || bad "pairs missing"
if [ "$store" = postgres ]; then
  missing="$(sql "SELECT count(*) FROM provisioning_chunks c, unnest(c.users) u(uri), generate_series(0, $periods - 1) p
                  WHERE c.job_id = $job AND NOT EXISTS (SELECT 1 FROM key_sets k WHERE k.user_uri = u.uri
                  AND k.key_period_no = $first + p)")"
  [ "$missing" = 0 ] && ok "no (user, period) of the job's chunks missing" || bad "$missing pairs missing"
fi
[ "$(sql "SELECT count(*) FROM provisioning_chunks WHERE job_id = $job AND state = 'done'")" = 6 ] \
  && ok "all 6 chunks done" || bad "chunks not done"

"$bin" provision --data-dir "$dd" --job "$job" --status >"$tmp/status.log" 2>&1 || bad "status: $(cat "$tmp/status.log")"
grep -q "^state: done" "$tmp/status.log" && grep -q "key sets in the store for this job: $pairs of $pairs" "$tmp/status.log" \
  && grep -q "expired leases taken over: [1-9]" "$tmp/status.log" && grep -q "workers seen: 2" "$tmp/status.log" \
  && grep -q ":$pid_a: .*lost chunk $held to a takeover" "$tmp/status.log" \
  && ok "status: done, $pairs of $pairs, A's chunk taken over, both workers seen" || bad "status: $(cat "$tmp/status.log")"

"$bin" check-store --data-dir "$dd" >"$tmp/check.log" 2>&1 && grep -q "^$pairs of $pairs key sets open and validate" "$tmp/check.log" \
  && ok "check-store: every key set opens and validates" || bad "check-store: $(cat "$tmp/check.log")"
"$bin" audit verify --data-dir "$dd" >"$tmp/audit.log" 2>&1 && ok "the audit chain verifies" \
  || bad "audit verify: $(cat "$tmp/audit.log")"
[ "$fail" = 0 ] && echo "shared_job_e2e ($store): all passed" || echo "shared_job_e2e ($store): FAILED"
exit "$fail"
