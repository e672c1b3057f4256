#!/usr/bin/env bash
# A reconnect storm against `mcx-kms serve`, measured the way it comes: every device presents an
# access token the KMS has not seen, so each keyprov costs one ES256 verification first. Beside
# it, the same load with 1,000 users whose tokens the KMS has cached, and the machine's ES256
# verification ceiling (OpenSSL, per core).
#
#   1. a demo KMS (SoftHSM2, SQLite) with USERS users pre-provisioned for the current period;
#   2. ROUNDS rounds of: `bench http --mix 0:1 --user-count USERS` (each token new: the run asks
#      fewer requests than there are users), then `--user-count 1000` (cached), each with
#      `--server-pid`, so the report gives keyprov per second of the server's own CPU time: the
#      load generator shares this machine's cores, a server in the field has them to itself.
# Prints, per run, keyprov/s, the server's CPU cores, keyprov per server core, and for the storm
# runs the ratio to the ES256 ceiling of a core.
#   usage: bench/token-storm.sh [MCX_KMS_BINARY] [USERS] [ROUNDS] [DURATION_S]
#   BASELINE=OTHER_MCX_KMS_BINARY: also serve the same KMS with that binary, alternating with
#   the first each round (side by side in one run); the load generator is always the first's.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
bin="${1:-$repo/build/tools/mcx-kms}"
users="${2:-200000}"
rounds="${3:-2}"
duration="${4:-5}"
conns="${CONNECTIONS:-32}"
# shellcheck source=../tools/demo-kms-lib.sh
source "$repo/tools/demo-kms-lib.sh"
require_tools python3
tmp="$(mktemp -d /tmp/mcx-kms-storm-XXXXXX)"
trap 'stop_started; rm -rf "$tmp"' EXIT

echo "token-storm: a demo KMS with $users users pre-provisioned (takes a while for 200,000)"
"$bin" init --demo --data-dir "$tmp/demo" >"$tmp/init.log" 2>&1 || { cat "$tmp/init.log"; exit 1; }
demo_users "$users" >"$tmp/users.txt"
"$bin" provision --data-dir "$tmp/demo" --users "$tmp/users.txt" >"$tmp/provision.log" 2>&1 \
  || { cat "$tmp/provision.log"; exit 1; }
tail -n 1 "$tmp/provision.log"
grep -m1 "model name" /proc/cpuinfo | sed 's/.*: /cpu: /'
"$bin" demo --help | grep "^Arithmetic"

binaries=("$bin")
[ -n "${BASELINE:-}" ] && binaries+=("$BASELINE")

one_run() {  # $1 the binary that serves, $2 user count, $3 label
  start_kms_serve "$1" "$tmp/demo" "$tmp/kms.log" --io-threads 2
  "$bin" bench http "http://127.0.0.1:$kms_port" --data-dir "$tmp/demo" --mix 0:1 --user-count "$2" \
    --connections "$conns" --duration "$duration" --warmup 1 --server-pid "$kms_pid" --json "$tmp/r.json" \
    >"$tmp/r.txt" 2>"$tmp/r.err" || { cat "$tmp/r.err"; exit 1; }
  kill -TERM "$kms_pid" && wait "$kms_pid" || true
  kms_pid=""
  python3 - "$tmp/r.json" "$3" "$tmp/runs.jsonl" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
s = r["serving"][0]
t = r.get("token_verify_ceiling", {})
cores = s["server_cpu_seconds"] / s["measured_seconds"]
new = s["users"] >= s["requests"]
line = "%-34s %9.0f keyprov/s  server %.2f cores  %8.0f per server core" % (
    sys.argv[2], s["keyprov_per_second"], cores, s["keyprov_per_server_core"])
if new and t:
    line += "  = %.2fx ES256 ceiling/core (%.0f/s); raw rate %.2fx ceiling x %d cores" % (
        s["keyprov_per_server_core"] / t["es256_per_core"], t["es256_per_core"],
        s["keyprov_per_second"] / (t["es256_per_core"] * t["cores"]), t["cores"])
if s["requests"] != s["ok"]:
    line += "  ERRORS %d" % (s["requests"] - s["ok"])
print(line, flush=True)
with open(sys.argv[3], "a") as out:
    out.write(json.dumps({"label": sys.argv[2], "new": new, "per_server_core": s["keyprov_per_server_core"],
                          "rate": s["keyprov_per_second"], "es256_per_core": t.get("es256_per_core", 0)}) + "\n")
PY
}

for r in $(seq 1 "$rounds"); do
  for b in "${binaries[@]}"; do
    name="$(realpath "$b")"
    case "$name" in */build/tools/mcx-kms) name="${name%/build/tools/mcx-kms}"; name="${name##*/}" ;; *) name="${name##*/}" ;; esac
    one_run "$b" "$users" "round $r $name storm ($users users)"
    one_run "$b" 1000 "round $r $name cached (1000 users)"
  done
done

# The ceiling is measured again before every run (0.3 s of OpenSSL verifications) and moves with
# the machine's noise: the summary takes its median over all runs.
python3 - "$tmp/runs.jsonl" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
ceiling = statistics.median(r["es256_per_core"] for r in runs if r["es256_per_core"] > 0)
print("ES256 verification ceiling, median of %d measurements: %.0f per core" % (len(runs), ceiling))
for r in runs:
    if r["new"]:
        print("  %-34s %6.0f per server core = %.2fx the ceiling" % (r["label"], r["per_server_core"], r["per_server_core"] / ceiling))
PY
