#!/usr/bin/env bash
# A flood of idle connections past the open-file limit (issue: an unauthenticated client could
# pin a core and flood the log). A real demo KMS serves under `ulimit -n 256`; 400 connections
# are opened and held. The server must say at start that it caps --max-connections below the
# limit, stay near idle (no accept loop spinning on EMFILE), log a bounded number of lines, and
# keep answering /healthz and /metrics during the flood.
#   usage: descriptor_flood_test.sh MCX_KMS_BINARY SOURCE_DIR
set -uo pipefail
bin="$1"
src="$2"
# shellcheck source=../../tools/demo-kms-lib.sh
source "$src/tools/demo-kms-lib.sh"
tmp="$(mktemp -d /tmp/mcx-kms-flood-XXXXXX)"
trap 'kill "$flood_pid" 2>/dev/null; stop_started; rm -rf "$tmp"' EXIT
flood_pid=""

# The KMS runs with soft and hard limits of 256 descriptors.
cat >"$tmp/limited" <<SH
#!/usr/bin/env bash
ulimit -n 256
exec "$bin" "\$@"
SH
chmod +x "$tmp/limited"
start_demo_kms "$tmp/limited" "$tmp" || exit 1
ok "mcx-kms serve on 127.0.0.1:$kms_port under ulimit -n 256"
grep -q "more than the open-file limit (256) allows; serving at most" "$tmp/kms.log" \
  && ok "serve says it caps --max-connections below the descriptor limit" \
  || { bad "no word of the capped connection limit"; cat "$tmp/kms.log"; }

# 400 idle connections, held for 6 s (the client has its own, higher limit).
python3 - "$kms_port" >"$tmp/flood.log" 2>&1 <<'PY' &
import socket, sys, time
port = int(sys.argv[1])
held = []
for _ in range(400):
    try:
        held.append(socket.create_connection(("127.0.0.1", port), timeout=2))
    except OSError:
        pass
print("opened", len(held), flush=True)
time.sleep(6)
PY
flood_pid=$!
sleep 1

cpu_ticks() { awk '{print $14 + $15}' "/proc/$kms_pid/stat"; }
before=$(cpu_ticks)
health_ok=0
for _ in 1 2 3; do
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$kms_port/healthz")
  [ "$code" = "200" ] && health_ok=$((health_ok + 1))
  sleep 0.5
done
metrics_code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$kms_port/metrics")
sleep 1
after=$(cpu_ticks)
hz=$(getconf CLK_TCK)
# About 3 s of wall time: a spinning accept loop would use ~3 s of CPU; allow a quarter of it.
used_ms=$(( (after - before) * 1000 / hz ))
[ "$used_ms" -lt 750 ] && ok "server CPU during the flood: ${used_ms} ms in ~3 s" || bad "server CPU during the flood: ${used_ms} ms in ~3 s (accept loop spinning?)"
[ "$health_ok" -eq 3 ] && ok "/healthz answered 3 of 3 during the flood" || bad "/healthz answered $health_ok of 3 during the flood"
[ "$metrics_code" = "200" ] && ok "/metrics answered during the flood" || bad "/metrics answered $metrics_code during the flood"
lines=$(grep -c "accept failed" "$tmp/kms.log" || true)
[ "$lines" -le 5 ] && ok "accept errors logged $lines time(s)" || bad "accept errors logged $lines times (log flood)"
wait "$flood_pid" 2>/dev/null
flood_pid=""
cat "$tmp/flood.log"
# After the flood the server serves normally.
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$kms_port/healthz")
[ "$code" = "200" ] && ok "/healthz after the flood" || bad "/healthz after the flood: $code"
exit $fail
