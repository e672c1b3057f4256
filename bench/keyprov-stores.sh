#!/usr/bin/env bash
# keyprov of pre-provisioned key sets served from PostgreSQL against SQLite, on this machine, in
# one run, same wrk settings: two demo KMSs (`init --demo`), one on each store, each with USERS
# users pre-provisioned (`mcx-kms provision`), both served (`serve`, default threads) and driven
# in turn, ROUNDS times: each round measures SQLite, then PostgreSQL, and prints their ratio;
# the median of the rounds ends the run (on a shared virtual machine one run moves by a fifth
# from one minute to the next, so a lone pair says little).
#
# PostgreSQL 15 is started on loopback for the run (tests/support/with_postgres.sh --durable:
# fsync on, commits asynchronous, the durability of the SQLite store's WAL with
# synchronous=NORMAL) and the KMS reaches it over loopback TCP, as it would a database on another
# host. Both servers and the database share this machine's cores with wrk.
#   usage: bench/keyprov-stores.sh [MCX_KMS_BINARY] [DURATION_S] [ROUNDS]
#   USERS=N (default 200), CONNECTIONS=N (default 64), WRK_THREADS=N (default 2)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
if [ -z "${MCX_TEST_POSTGRES_URL:-}" ]; then
  exec bash "$repo/tests/support/with_postgres.sh" --durable bash "$0" "$@"
fi
bin="${1:-$repo/build/tools/mcx-kms}"
duration="${2:-5}"
rounds="${3:-5}"
users="${USERS:-200}"
conns="${CONNECTIONS:-64}"
threads="${WRK_THREADS:-2}"

# shellcheck source=../tools/demo-kms-lib.sh
source "$repo/tools/demo-kms-lib.sh"
require_tools wrk
tmp="$(mktemp -d /tmp/mcx-kms-stores-XXXXXX)"
pids=()
trap 'for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$tmp"' EXIT

demo_users "$users" >"$tmp/users.txt"
declare -A port
for store in sqlite postgresql; do
  where=()
  [ "$store" = postgresql ] && where=(--store-url "$MCX_TEST_POSTGRES_URL")
  "$bin" init --demo --data-dir "$tmp/$store" "${where[@]}" >"$tmp/$store-init.log" 2>&1 \
    || { echo "mcx-kms init ($store) failed:"; cat "$tmp/$store-init.log"; exit 1; }
  "$bin" provision --data-dir "$tmp/$store" --users "$tmp/users.txt" >"$tmp/$store-provision.log" 2>&1 \
    || { echo "mcx-kms provision ($store) failed:"; cat "$tmp/$store-provision.log"; exit 1; }
  start_kms_serve "$bin" "$tmp/$store" "$tmp/$store-serve.log"
  pids+=("$kms_pid")
  kms_pid=""
  port[$store]="$kms_port"
  write_wrk_users "$bin" "$tmp/$store" "$users" "$tmp/$store-users.lua"
  write_wrk_script "$tmp/$store.lua" "$tmp/$store-users.lua" POST '"/keymanagement/identity/v1/keyprov/" .. users[i]'
done
grep -h "^threads:" "$tmp/sqlite-serve.log" || true

declare -A rps
run() {  # store
  local out p99 non2xx
  out="$(wrk -t"$threads" -c"$conns" -d"${duration}s" --latency -s "$tmp/$1.lua" "http://127.0.0.1:${port[$1]}")"
  rps[$1]="$(awk '/^Requests\/sec/ {print $2}' <<<"$out")"
  p99="$(awk '$1 == "99%" {print $2}' <<<"$out")"
  non2xx="$(awk '/Non-2xx/ {print $NF}' <<<"$out")"
  printf '  %-11s %10s keyprov/s   p99 %8s   non-2xx %s\n' "$1" "${rps[$1]}" "$p99" "${non2xx:-0}"
  [ -z "$non2xx" ] || { echo "keyprov-stores: $1 answered errors: see $tmp/$1-serve.log"; exit 1; }
}

echo "wrk -t$threads -c$conns -d${duration}s, keep-alive; $users pre-provisioned users per store, one token each"
ratios=()
for r in $(seq 1 "$rounds"); do
  echo "round $r"
  run sqlite
  run postgresql
  ratios+=("$(awk -v a="${rps[postgresql]}" -v b="${rps[sqlite]}" 'BEGIN { printf "%.2f", a / b }')")
done
median="$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')"
echo "postgresql / sqlite = ${ratios[*]} (rounds); median $median"
