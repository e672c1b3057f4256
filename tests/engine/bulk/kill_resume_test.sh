#!/usr/bin/env bash
# A provision run killed with SIGKILL in the middle leaves only whole committed key sets, and the
# same command run again completes it: exact count, no duplicates, every row opens and validates.
set -euo pipefail
bin="$(realpath "$1")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"

"$bin" init --demo >/dev/null
users=20000  # long enough that the kill lands mid-run on a fast machine
for i in $(seq 1 "$users"); do echo "sip:responder$i@example.org"; done > users.txt
db=mcx-kms-data/store.sqlite
count() { sqlite3 "$db" "SELECT count(*) FROM key_sets"; }

# Small transactions so that the kill lands between commits many times over.
"$bin" provision --users users.txt --periods 2 --threads 2 --commit-every 64 > first.log 2>&1 &
pid=$!
# Wait until some, but not all, key sets are committed, then kill -9.
for _ in $(seq 1 600); do
  n=$(count 2>/dev/null || echo 0)
  if [ "$n" -ge 500 ]; then break; fi
  sleep 0.05
done
kill -9 "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
partial=$(count)
echo "killed with $partial of $((users * 2)) key sets committed"
if [ "$partial" -ge $((users * 2)) ]; then
  echo "FAIL: the run finished before it could be killed; the test proves nothing"; exit 1
fi
if [ "$partial" -lt 1 ]; then
  echo "FAIL: nothing was committed before the kill"; exit 1
fi

"$bin" provision --users users.txt --periods 2 --threads 2 > second.log 2>&1
cat second.log
grep -q "already present $partial," second.log || { echo "FAIL: the rerun did not find the $partial committed key sets"; exit 1; }
total=$(count)
[ "$total" -eq $((users * 2)) ] || { echo "FAIL: $total key sets after the rerun, expected $((users * 2))"; exit 1; }
dups=$(sqlite3 "$db" "SELECT count(*) FROM (SELECT user_uri, key_period_no FROM key_sets GROUP BY 1, 2 HAVING count(*) > 1)")
[ "$dups" -eq 0 ] || { echo "FAIL: $dups duplicated pairs"; exit 1; }

# Every row opens under the store's data key and passes both client checks.
"$bin" check-store > check.log 2>&1 || { cat check.log; echo "FAIL: check-store"; exit 1; }
cat check.log
grep -q "$total of $total key sets open and validate" check.log || { echo "FAIL: not every row validated"; exit 1; }
echo "ok: killed run resumed exactly"
