# Shell functions shared by the scripts that run `mcx-kms serve` or provisioning workers
# (tests/api/*_e2e.sh, bench/http-vs-nginx.sh, bench/shared-job-scale.sh, tests/tools/*.sh). Source it; it sets no
# options of its own.
#
#   start_demo_kms BIN TMP [--demo-users N] [serve options...]
#                                               creates a demo KMS in TMP/demo (`init --demo`),
#                                               pre-provisions N users, serves it on an ephemeral
#                                               loopback port, logs to TMP/kms.log; sets kms_pid
#                                               and kms_port
#   start_kms_serve BIN DATA_DIR LOG [serve options...]
#                                               runs `mcx-kms serve --data-dir DATA_DIR` on an
#                                               ephemeral loopback port in the background, logging
#                                               to LOG, and waits for its "listening on" line;
#                                               sets kms_pid and kms_port. If it does not start,
#                                               prints LOG, stops it and returns 1
#   start_job_worker BIN DATA_DIR JOB LOG [provision options...]
#                                               starts `provision --job JOB --worker` in the
#                                               background (PID appended to the caller's pids) and
#                                               returns once it has opened the KMS
#   stop_started                                stops what start_demo_kms/start_nginx started
#   start_nginx TMP/nginx                       runs nginx in the foreground with the
#                                               configuration TMP/nginx/nginx.conf; sets nginx_pid
#   nginx_conf_head DIR WORKERS                 prints the start of an nginx.conf that keeps its
#                                               pid, logs and temp files in DIR, up to an open
#                                               http { block (the caller adds servers and the })
#   free_port                                   prints a loopback TCP port nobody listens on
#   demo_users N                                prints the URIs of N demo users, one a line:
#                                               sip:user00001@example.org ...
#   write_wrk_users BIN DEMO_DIR N FILE         writes a Lua table of N demo users
#                                               (sip:user00001@example.org ...) and a bearer token
#                                               each from the demo KMS's test IdMS, for wrk
#   write_wrk_script FILE USERS_LUA METHOD PATH_EXPR
#                                               writes a wrk script: each request for a random
#                                               user of USERS_LUA with its token; PATH_EXPR is a
#                                               Lua expression of the path (i: the user's index)
#   require_tools TOOL...                       exits 1, saying what to run, when a tool is missing
#   ok TEXT / bad TEXT                          print a check's outcome; bad sets fail=1

kms_pid=""
kms_port=""
nginx_pid=""
fail=${fail:-0}  # (kept when the sourcing script already counted a failure)

ok() { echo "ok: $1"; }
bad() { echo "FAIL: $1"; fail=1; }

require_tools() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "$(basename "$0"): $tool is missing: run tools/install-deps.sh"; exit 1; }
  done
}

start_demo_kms() {
  local bin="$1" tmp="$2"
  shift 2
  # A real KMS: a SoftHSM2 demo token, the SQLite store and the test IdMS key, all in $tmp/demo.
  # --demo-users N pre-provisions sip:user00001@example.org ... for the current key period.
  local users=0 args=()
  while [ $# -gt 0 ]; do
    case "$1" in
      --demo-users) users="$2"; shift 2 ;;
      *) args+=("$1"); shift ;;
    esac
  done
  "$bin" init --demo --data-dir "$tmp/demo" >"$tmp/init.log" 2>&1 || { echo "mcx-kms init failed:"; cat "$tmp/init.log"; return 1; }
  if [ "$users" -gt 0 ]; then
    demo_users "$users" >"$tmp/users.txt"
    "$bin" provision --data-dir "$tmp/demo" --users "$tmp/users.txt" >"$tmp/provision.log" 2>&1 \
      || { echo "mcx-kms provision failed:"; cat "$tmp/provision.log"; return 1; }
  fi
  start_kms_serve "$bin" "$tmp/demo" "$tmp/kms.log" "${args[@]}"
}

# Starts `mcx-kms provision --job JOB --worker` in the background (its PID appended to the
# caller's pids array) and returns once it has opened the KMS, or died, or 6 s passed. Workers
# are started one after the other so: each process opening SoftHSM2's file token (the demo HSM)
# opens its token file for writing, and a process loading the token at that instant was seen to
# find none ("no initialised token").
#   start_job_worker BIN DATA_DIR JOB LOG [provision options]
start_job_worker() {
  local bin="$1" data_dir="$2" job="$3" log="$4"
  shift 4
  "$bin" provision --data-dir "$data_dir" --job "$job" --worker "$@" >"$log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 300); do
    grep -q "^worker .* on job $job" "$log" 2>/dev/null && return 0
    kill -0 "${pids[-1]}" 2>/dev/null || return 0
    sleep 0.02
  done
}

start_kms_serve() {
  local bin="$1" data_dir="$2" log="$3"
  shift 3
  "$bin" serve --data-dir "$data_dir" --listen 127.0.0.1:0 "$@" >"$log" 2>&1 &
  kms_pid=$!
  kms_port=""
  for _ in $(seq 1 600); do
    # (the log may not exist yet: the shell creates it when the background job starts)
    kms_port="$(sed -n 's/^mcx-kms: listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$log" 2>/dev/null || true)"
    [ -n "$kms_port" ] && return 0
    kill -0 "$kms_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "mcx-kms serve did not start ($log):"
  cat "$log"
  kill -TERM "$kms_pid" 2>/dev/null && wait "$kms_pid" 2>/dev/null
  kms_pid=""
  return 1
}

start_nginx() {
  local dir="$1"
  nginx -t -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" >"$dir/test.log" 2>&1 \
    || { echo "nginx -t failed:"; cat "$dir/test.log"; return 1; }
  nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" &
  nginx_pid=$!
}

stop_started() {
  if [ -n "$nginx_pid" ]; then kill "$nginx_pid" 2>/dev/null; wait "$nginx_pid" 2>/dev/null; fi
  if [ -n "$kms_pid" ]; then kill -TERM "$kms_pid" 2>/dev/null; wait "$kms_pid" 2>/dev/null; fi
  return 0
}

nginx_conf_head() {
  local d="$1" workers="$2"
  cat <<CONF
daemon off;
worker_processes $workers;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 1024; }
http {
    client_body_temp_path $d/client_body;
    proxy_temp_path $d/proxy;
    fastcgi_temp_path $d/fastcgi;
    uwsgi_temp_path $d/uwsgi;
    scgi_temp_path $d/scgi;
CONF
}

demo_users() {
  local i
  for i in $(seq 1 "$1"); do printf 'sip:user%05d@example.org\n' "$i"; done
}

write_wrk_users() {
  local bin="$1" demo="$2" n="$3" out="$4" i=0 u t
  {
    echo "users = {}"
    echo "tokens = {}"
    for u in $(demo_users "$n"); do
      i=$((i + 1))
      t="$("$bin" token --demo-dir "$demo" --user "$u" 2>/dev/null | tail -n 1)"
      echo "users[$i] = \"$u\"; tokens[$i] = \"$t\""
    done
  } >"$out"
}

write_wrk_script() {
  cat >"$1" <<LUA
dofile("$2")
request = function()
  local i = math.random(#users)
  return wrk.format("$3", $4, {["Authorization"] = "Bearer " .. tokens[i]})
end
LUA
}

free_port() {
  local p
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 12000))  # below the kernel's ephemeral range (32768-60999)
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  echo 0
}
