#!/usr/bin/env bash
# HTTP speed of `mcx-kms serve` against nginx on this machine, in one run, same wrk settings.
#
#   1. nginx (2 workers) returning a fixed response of the size of a keyprov answer: the ceiling.
#   2. keyprov of pre-provisioned key sets (`mcx-kms provision` into the demo KMS's SQLite store),
#      keep-alive, each request with a valid bearer token for one of USERS users (verified by
#      mcx-kms, from its token cache after the first request per user).
#   3. init (the KMS certificate).
#   4. keyprov that derives on demand: random key periods within the certificate, past the next
#      one, so nearly every request derives.
#   5. the machine's pure derivation rate: bench/rsk_rate's key sets per second (batches of 256),
#      one process per core at once, summed: what on-demand keyprov is measured against.
# Prints requests/s and latency percentiles per case, the keyprov/nginx ratio and the on-demand /
# derivation ratio.
#   usage: bench/http-vs-nginx.sh [MCX_KMS_BINARY] [DURATION_S] [CONNECTIONS]
#   DERIVE_CONNS=N: connections for case 4 (default CONNECTIONS). A reconnect storm brings many
#   connections at once, and on-demand requests waiting together derive in one batch.
#   ROUNDS=N: cases 1 and 2 N times, alternating, with each round's ratio and their median (on a
#   shared virtual machine one pair of runs moves by a fifth from one minute to the next).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
bin="${1:-$repo/build/tools/mcx-kms}"
duration="${2:-10}"
conns="${3:-64}"
users="${USERS:-200}"
threads="${WRK_THREADS:-2}"
derive_conns="${DERIVE_CONNS:-$conns}"
rounds="${ROUNDS:-1}"
for tool in nginx wrk curl; do
  command -v "$tool" >/dev/null || { echo "http-vs-nginx: $tool is missing: run tools/install-deps.sh"; exit 1; }
done

# shellcheck source=../tools/demo-kms-lib.sh
source "$repo/tools/demo-kms-lib.sh"
tmp="$(mktemp -d /tmp/mcx-kms-bench-XXXXXX)"
trap 'stop_started; rm -rf "$tmp"' EXIT
# --max-periods-ahead 1000: derive.lua below asks for periods over the whole certificate, which
# a KMS at its default (the current period and the next two) refuses.
start_demo_kms "$bin" "$tmp" --demo-users "$users" --io-threads 2 --max-periods-ahead 1000

# A Lua table of users and their tokens for wrk, and the wrk scripts (demo-kms-lib.sh).
write_wrk_users "$bin" "$tmp/demo" "$users" "$tmp/users.lua"
wrk_script() { write_wrk_script "$tmp/$1" "$tmp/users.lua" "$2" "$3"; }
kp='"/keymanagement/identity/v1/keyprov/" .. users[i]'
wrk_script keyprov.lua POST "$kp"
wrk_script fixed.lua GET "$kp"
wrk_script init.lua POST '"/keymanagement/identity/v1/init"'
# Random periods from the one after next to 19 years on, within the demo certificate's 20 years:
# each (user, period) is new. Past 2036 (NTP era 1) the 32-bit seconds wrap, as the KMS reads them.
ntp_now=$(( $(date +%s) + 2208988800 ))
ntp_from=$(( ntp_now + 2 * 2592000 ))
ntp_to=$(( ntp_now + 19 * 365 * 86400 ))
wrk_script derive.lua POST "$kp"' .. "/" .. string.format("%08X00000000", math.random('"$ntp_from"', '"$ntp_to"') % 4294967296)'

# nginx returning a fixed body as large as a keyprov answer.
tok1="$(sed -n 's/.*tokens\[1\] = "\(.*\)"$/\1/p' "$tmp/users.lua")"
curl -s -X POST -H "Authorization: Bearer $tok1" -o "$tmp/sample.xml" \
  "http://127.0.0.1:$kms_port/keymanagement/identity/v1/keyprov/sip:user00001@example.org"
size="$(stat -c %s "$tmp/sample.xml")"
mkdir -p "$tmp/nginx/www"
head -c "$size" /dev/zero | tr '\0' 'x' >"$tmp/nginx/www/fixed.xml"
# nginx's workers drop root: let them reach the file.
chmod 711 "$tmp" "$tmp/nginx"
chmod 755 "$tmp/nginx/www"
chmod 644 "$tmp/nginx/www/fixed.xml"
nginx_port="$(free_port)"
nginx_conf_head "$tmp/nginx" 2 >"$tmp/nginx/nginx.conf"
cat >>"$tmp/nginx/nginx.conf" <<CONF
    access_log off;
    keepalive_requests 10000000;
    server {
        listen 127.0.0.1:$nginx_port;
        location / { root $tmp/nginx/www; try_files /fixed.xml =404; default_type application/xml; }
    }
}
CONF
start_nginx "$tmp/nginx"
sleep 0.5

run() {  # name url script var [connections]
  local out
  out="$(wrk -t"$threads" -c"${5:-$conns}" -d"${duration}s" --latency -s "$3" "$2")"
  local rps p50 p99 non2xx
  rps="$(awk '/^Requests\/sec/ {print $2}' <<<"$out")"
  p50="$(awk '$1 == "50%" {print $2}' <<<"$out")"
  p99="$(awk '$1 == "99%" {print $2}' <<<"$out")"
  non2xx="$(awk '/Non-2xx/ {print $NF}' <<<"$out")"
  printf '%-34s %10s req/s   p50 %8s   p99 %8s   non-2xx %s\n' "$1" "$rps" "$p50" "$p99" "${non2xx:-0}"
  eval "rps_$4=$rps"
}

echo "wrk -t$threads -c$conns -d${duration}s, keep-alive; $users users, one token each; response $size octets"
ratios=()
for r in $(seq 1 "$rounds"); do
  [ "$rounds" -gt 1 ] && echo "round $r"
  run "nginx fixed response" "http://127.0.0.1:$nginx_port" "$tmp/fixed.lua" nginx
  run "mcx-kms keyprov (pre-provisioned)" "http://127.0.0.1:$kms_port" "$tmp/keyprov.lua" keyprov
  ratios+=("$(awk -v a="$rps_keyprov" -v b="$rps_nginx" 'BEGIN { printf "%.2f", a / b }')")
done
run "mcx-kms init" "http://127.0.0.1:$kms_port" "$tmp/init.lua" init
run "mcx-kms keyprov (derive on demand, $derive_conns conn.)" "http://127.0.0.1:$kms_port" "$tmp/derive.lua" derive \
  "$derive_conns"
if [ "$rounds" -gt 1 ]; then
  median="$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')"
  echo "keyprov / nginx = ${ratios[*]} (rounds); median $median"
else
  echo "keyprov / nginx = ${ratios[0]}"
fi
curl -s "http://127.0.0.1:$kms_port/metrics" | grep -E '^mcx_kms_(key_sets_issued_total|hsm_errors_total)'
rsk_rate="$(dirname "$bin")/../bench/rsk_rate"
if [ -x "$rsk_rate" ]; then
  cores="$(nproc)"
  rate_pids=()
  for c in $(seq 0 $((cores - 1))); do
    taskset -c "$c" "$rsk_rate" 2 >"$tmp/rate.$c" &
    rate_pids+=($!)
  done
  wait "${rate_pids[@]}"  # not the KMS, which runs in the background too
  derivation="$(cat "$tmp"/rate.* | sed -n 's/.* keyset_per_s=\([0-9.]*\).*/\1/p' | awk '{ s += $1 } END { printf "%.0f", s }')"
  path="$(sed -n 's/.* math_path=\([^ ]*\).*/\1/p' "$tmp/rate.0")"
  printf '%-34s %10s key sets/s (%s processes, %s path)\n' "pure derivation (rsk_rate)" "$derivation" "$cores" "$path"
  awk -v a="$rps_derive" -v b="$derivation" 'BEGIN { printf "on demand / derivation = %.2f\n", a / b }'
else
  echo "(no $rsk_rate: build the rsk_rate target to compare on-demand keyprov with the derivation rate)"
fi
