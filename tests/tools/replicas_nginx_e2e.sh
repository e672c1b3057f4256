#!/usr/bin/env bash
# Failover behind nginx: two `mcx-kms serve` replicas on one PostgreSQL store and one SoftHSM2
# token, behind a real nginx whose upstream holds both, with the shipped locations
# (deploy/nginx/mcx-kms-proxy.conf: proxy_next_upstream ... non_idempotent). The users are
# pre-provisioned, then `mcx-kms bench http --fail-on-errors` loads keyprov through nginx while
# one replica is killed with SIGKILL a few seconds in. No request may fail (nginx sends the
# request that failed on the dead replica to the other one), every sampled key set must pass the
# device's checks, nginx must have retried at least one request, and the audit chains must still
# verify. Plain HTTP in front of nginx: TLS at the proxy is tested by tests/api/nginx_e2e.sh.
# Runs inside tests/support/with_postgres.sh, which gives the database in $MCX_TEST_POSTGRES_URL.
#   usage: with_postgres.sh replicas_nginx_e2e.sh MCX_KMS_BINARY SOURCE_DIR
set -u
bin="$(realpath "$1")"
src="$(realpath "$2")"
fail=0
# shellcheck source=../../tools/demo-kms-lib.sh
source "$src/tools/demo-kms-lib.sh"
require_tools nginx curl python3
[ -n "${MCX_TEST_POSTGRES_URL:-}" ] || { echo "FAIL: no \$MCX_TEST_POSTGRES_URL: run me through tests/support/with_postgres.sh"; exit 1; }
url="$MCX_TEST_POSTGRES_URL"
tmp="$(mktemp -d /tmp/mcx-kms-replicas-e2e-XXXXXX)"
pids=()
cleanup() {
  [ -n "${bench_pid:-}" ] && kill -TERM "$bench_pid" 2>/dev/null
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
dd="$tmp/demo"
users=50

"$bin" init --demo --data-dir "$dd" --store-url "$url" >"$tmp/init.log" 2>&1 || { echo "FAIL: init:"; cat "$tmp/init.log"; exit 1; }
demo_users "$users" >"$tmp/users.txt"
"$bin" provision --data-dir "$dd" --users "$tmp/users.txt" >"$tmp/provision.log" 2>&1 \
  || { echo "FAIL: provision:"; cat "$tmp/provision.log"; exit 1; }
ok "$users users pre-provisioned in PostgreSQL"

# Two replicas on the same store and token, each on an ephemeral loopback port. Few threads each:
# the point is failover, not throughput.
start_replica() {  # NAME: sets port_NAME and pid_NAME
  start_kms_serve "$bin" "$dd" "$tmp/$1.log" --io-threads 1 --worker-threads 2 \
    || { echo "FAIL: replica $1 did not start"; exit 1; }
  pids+=("$kms_pid")
  eval "port_$1=$kms_port pid_$1=$kms_pid"
}
start_replica a
start_replica b
for r in a b; do
  eval "p=\$port_$r"
  [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$p/readyz")" = 200 ] \
    && ok "replica $r ready on 127.0.0.1:$p" || bad "replica $r: /readyz not 200"
done

# nginx, one process (no master: no privilege drop for its temp directories in $tmp), with an
# upstream of both replicas as in deploy/nginx/mcx-kms-replicas.conf and the shipped locations.
nginx_port="$(free_port)"
mkdir -p "$tmp/nginx"
{ echo "master_process off;"; nginx_conf_head "$tmp/nginx" 1; } >"$tmp/nginx/nginx.conf"
cat >>"$tmp/nginx/nginx.conf" <<CONF
    log_format upstreams '\$status "\$upstream_addr" "\$upstream_status"';
    access_log $tmp/nginx/access.log upstreams;
    upstream mcx_kms {
        server 127.0.0.1:$port_a max_fails=1 fail_timeout=30s;
        server 127.0.0.1:$port_b max_fails=1 fail_timeout=30s;
        keepalive 16;
    }
    server {
        listen 127.0.0.1:$nginx_port;
        set \$mcx_asserted_identity "";
        include $src/deploy/nginx/mcx-kms-proxy.conf;
    }
}
CONF
start_nginx "$tmp/nginx" || exit 1
pids+=("$nginx_pid")
base="http://127.0.0.1:$nginx_port/keymanagement/identity/v1"
up=""
for _ in $(seq 1 100); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X POST "$base/init")" = 401 ] && { up=1; break; }
  sleep 0.1
done
[ -n "$up" ] || { echo "FAIL: nginx did not answer on $nginx_port:"; cat "$tmp/nginx/error.log"; exit 1; }
ok "nginx on 127.0.0.1:$nginx_port, upstream of both replicas"

# Keyprov through nginx for about 7 s (1 s warm-up, 6 s measured); replica a dies 3 s in.
start=$(date +%s)
"$bin" bench http "$base" --data-dir "$dd" --user-count "$users" --connections 4 --timeout-ms 5000 \
  --warmup 1 --duration 6 --samples 50 --fail-on-errors --json "$tmp/bench.json" \
  >"$tmp/bench.txt" 2>"$tmp/bench.err" &
bench_pid=$!
sleep 3
kill -KILL "$pid_a"
wait "$pid_a" 2>/dev/null
rc=$?
[ "$rc" = 137 ] && ok "replica a killed with SIGKILL mid-run" || bad "replica a: exit status $rc, want 137 (SIGKILL)"
sleep 0.5  # (an answer replica a sent before it died is logged by now)
before_kill=$(wc -l <"$tmp/nginx/access.log")
wait "$bench_pid"
rc=$?
bench_pid=""
elapsed=$(( $(date +%s) - start ))
cat "$tmp/bench.txt"
[ "$rc" = 0 ] && ok "bench http --fail-on-errors: exit 0 (no failed request, no invalid key set)" \
  || { bad "bench http exited with $rc"; cat "$tmp/bench.err"; }
python3 - "$tmp/bench.json" <<'PY' || fail=1
import json, sys
s = json.load(open(sys.argv[1]))["serving"][0]
e = s["errors"]
checks = [
    ('s["requests"] > 100', s["requests"] > 100),
    ('s["ok"] == s["requests"]', s["ok"] == s["requests"]),
    ('no connection, timeout or HTTP error', e["connection"] == 0 and e["timeouts"] == 0 and not e["http"]),
    ('s["ok_keyprov"] > 0', s["ok_keyprov"] > 0),
    ('sampled key sets checked, all valid',
     s["validation"]["checked"] and s["validation"]["answers"] > 0 and s["validation"]["invalid"] == 0),
]
for text, good in checks:
    print(("ok: " if good else "FAIL: ") + "bench: " + text)
if not all(g for _, g in checks):
    print(json.dumps({k: s[k] for k in ("requests", "ok", "errors", "validation")}, indent=1))
    sys.exit(1)
PY
[ "$elapsed" -le 15 ] && ok "bench ran in ${elapsed}s" || bad "bench took ${elapsed}s"

# nginx's view: both replicas served, at least one request failed on a and was retried on b,
# and no client got anything but 200.
log="$tmp/nginx/access.log"
grep -q "\"127.0.0.1:$port_a\"" "$log" && grep -q "\"127.0.0.1:$port_b\"" "$log" \
  && ok "both replicas served before the kill" || bad "upstreams in the access log: $(sort "$log" | uniq -c | head)"
retried=$(grep -c "\"127.0.0.1:$port_a, 127.0.0.1:$port_b\"" "$log")
[ "$retried" -ge 1 ] && ok "nginx retried $retried request(s) on replica b after replica a failed" \
  || bad "no retried request in the access log: $(sort "$log" | uniq -c | head)"
non200=$(grep -vc '^200 ' "$log")
[ "$non200" = 1 ] && ok "every request through nginx answered 200 (but the first unauthenticated probe)" \
  || bad "$non200 non-200 answers: $(grep -v '^200 ' "$log" | sort | uniq -c | head)"
after_a=$(tail -n +"$((before_kill + 1))" "$log" | grep -c "\"127.0.0.1:$port_a\"")
[ "$after_a" = 0 ] && ok "after the kill, no request was answered by replica a" \
  || bad "$after_a request(s) answered by replica a after it was killed"

"$bin" audit verify --data-dir "$dd" >"$tmp/audit.log" 2>&1 && ok "the audit chains verify after the kill" \
  || bad "audit verify: $(cat "$tmp/audit.log")"

if [ "$fail" != 0 ]; then
  echo "--- nginx error log"; cat "$tmp/nginx/error.log"
  echo "--- replica b log"; tail -n 20 "$tmp/b.log"
fi
[ "$fail" = 0 ] && echo "replicas_nginx_e2e: all passed" || echo "replicas_nginx_e2e: FAILED"
exit "$fail"
