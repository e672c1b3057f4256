#!/usr/bin/env bash
# `mcx-kms bench http` against a real `mcx-kms serve` (a demo KMS: SoftHSM2 token, SQLite store,
# 40 users pre-provisioned) over loopback, on 2 load threads: the run ends, its JSON counts match
# the server's /metrics, the sampled key material is valid, and no token appears in any report.
#   usage: bench_http_test.sh MCX_KMS_BINARY SOURCE_DIR
set -uo pipefail
bin="$1"
src="$2"
# shellcheck source=../../tools/demo-kms-lib.sh
source "$src/tools/demo-kms-lib.sh"
tmp="$(mktemp -d /tmp/mcx-kms-bench-http-XXXXXX)"
trap 'stop_started; rm -rf "$tmp"' EXIT

start_demo_kms "$bin" "$tmp" --demo-users 40 || exit 1
ok "mcx-kms serve on 127.0.0.1:$kms_port"

start=$(date +%s)
"$bin" bench http "http://127.0.0.1:$kms_port" --data-dir "$tmp/demo" --user-count 40 --connections 4 --threads 2 \
  --warmup 0.5 --duration 2 --mix 1:4 --server-pid "$kms_pid" --json "$tmp/report.json" --html "$tmp/report.html" >"$tmp/bench.txt" 2>"$tmp/bench.err" \
  || { bad "bench http exited with $?"; cat "$tmp/bench.err"; }
elapsed=$(( $(date +%s) - start ))
cat "$tmp/bench.txt"
[ "$elapsed" -le 20 ] && ok "ran in ${elapsed}s" || bad "took ${elapsed}s"

metrics="$(curl -s "http://127.0.0.1:$kms_port/metrics")"
echo "$metrics" >"$tmp/metrics.txt"
python3 - "$tmp/report.json" "$tmp/metrics.txt" <<'PY' || fail=1
import json, re, sys
r = json.load(open(sys.argv[1]))
metrics = open(sys.argv[2]).read()
s = r["serving"][0]
def served(route, status):
    m = re.search(r'mcx_kms_http_requests_total\{route="%s",status="%s"\} (\d+)' % (route, status), metrics)
    return int(m.group(1)) if m else 0
# Every 200 the client saw, warm-up included (the timeline), plus the one init that fetched the
# certificate before the load, is one the server counted.
client_200 = sum(t["ok"] for t in s["timeline"]) + 1
server_200 = served("init", 200) + served("keyprov", 200)
checks = [
    ("requests answered ok", s["ok"] > 0),
    ("2 load threads", s["threads"] == 2),
    ("no errors", s["requests"] == s["ok"]),
    ("init and keyprov both sent", s["ok_init"] > 0 and s["ok_keyprov"] > 0),
    ("key material checked and valid",
     s["validation"]["checked"] and s["validation"]["answers"] == 20 and s["validation"]["invalid"] == 0),
    ("latency percentiles ordered", 0 < s["latency"]["p50_us"] <= s["latency"]["p99_us"] <= s["latency"]["max_us"]),
    # --server-pid: the server's CPU in the window, more than nothing and at most its 2+2 threads' worth.
    ("server CPU sampled (%.2f cores)" % (s["server_cpu_seconds"] / s["measured_seconds"]),
     0 < s["server_cpu_seconds"] <= 4 * s["measured_seconds"] and s["keyprov_per_server_core"] > 0),
    ("projection present", r["projections"]["reconnecting_devices"]["as the KMS has them"] > 0),
    ("client 200s (%d) = server /metrics 200s (%d)" % (client_200, server_200), client_200 == server_200),
]
for name, good in checks:
    print(("ok: " if good else "FAIL: ") + name)
sys.exit(0 if all(g for _, g in checks) else 1)
PY
# Every key set served is marked delivered in the store, off the request path (within 200 ms).
# (Not all 40: with the 1:4 mix, request k goes to user k mod 40 and is an init when k mod 5 is
# 0, so some users only ever ask for the certificate.)
sleep 0.5
metric() { curl -s "http://127.0.0.1:$kms_port/metrics" | sed -n "s/^$1 //p"; }
marked="$(metric mcx_kms_key_sets_marked_delivered_total)"
dropped="$(metric mcx_kms_delivery_marks_dropped_total)"
[ -n "$marked" ] && [ "$marked" -ge 1 ] && [ "$marked" -le 40 ] && [ "$dropped" = "0" ] \
  && ok "$marked key sets marked delivered, none dropped" || bad "marked delivered '$marked', dropped '$dropped'"
kill -TERM "$kms_pid" && wait "$kms_pid"
kms_pid=""
"$bin" check-store --data-dir "$tmp/demo" --pairings 1 >"$tmp/check.txt" 2>&1 || bad "check-store exited with $?"
grep -q "states: $((40 - marked)) issued, $marked delivered to a client, 0 revoked" "$tmp/check.txt" \
  && ok "check-store counts the same $marked delivered" || { bad "check-store states"; cat "$tmp/check.txt"; }

if grep -q "UserDecryptKey\|UserSigningKeySSK\|Bearer" "$tmp/report.json" "$tmp/report.html" "$tmp/bench.txt"; then
  bad "a report holds key material or a token"
else
  ok "no key material or token in the reports"
fi
exit $fail
