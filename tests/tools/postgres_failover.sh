#!/usr/bin/env bash
# Failover of a PostgreSQL store: a primary with a synchronous streaming standby, both on loopback,
# and a KMS whose [store] url names both hosts (libpq's target_session_attrs=read-write picks the
# one that takes writes). Key sets issued on demand through the KMS are acknowledged; the primary
# is then stopped hard (immediate shutdown, as a crash) and the standby promoted. The running KMS
# reconnects by itself, answers every acknowledged key set unchanged (none lost: a commit is
# acknowledged only once the standby has it), issues new ones on the new primary, says ready
# again, and its audit chain, replicated with the key sets, still verifies.
#   usage: postgres_failover.sh MCX_KMS_BINARY SOURCE_DIR
set -u
bin="$(realpath "$1")"
src="$(realpath "$2")"
fail=0
# shellcheck source=../../tools/demo-kms-lib.sh
source "$src/tools/demo-kms-lib.sh"
require_tools curl xmllint psql
pgbin=/usr/lib/postgresql/15/bin
[ -x "$pgbin/initdb" ] || { echo "FAIL: no $pgbin/initdb: install postgresql-15 (tools/install-deps.sh)"; exit 1; }
as_pg=()
if [ "$(id -u)" = 0 ]; then as_pg=(runuser -u postgres --); fi  # PostgreSQL refuses to run as root

tmp="$(mktemp -d /tmp/mcx-pg-failover-XXXXXX)"
chmod 0711 "$tmp"  # the postgres user passes through to its own directory
pg="$tmp/pg"
mkdir -p "$pg" && chmod 0700 "$pg"
[ ${#as_pg[@]} -eq 0 ] || chown postgres: "$pg"
serve_pid=""
cleanup() {
  [ -n "$serve_pid" ] && kill -TERM "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
  for d in primary standby; do
    [ -d "$pg/$d" ] && "${as_pg[@]}" "$pgbin/pg_ctl" -D "$pg/$d" -m immediate -w stop >/dev/null 2>&1
  done
  rm -rf "$tmp"
}
trap cleanup EXIT

start_pg() {  # DIR PORT [EXTRA SETTINGS]: the test server does not fsync (its data is thrown away)
  "${as_pg[@]}" "$pgbin/pg_ctl" -D "$pg/$1" -l "$pg/$1.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $2 -k $pg -c fsync=off -c full_page_writes=off $3" start >/dev/null 2>&1 \
    || { echo "FAIL: PostgreSQL $1 did not start:"; cat "$pg/$1.log"; exit 1; }
}
p1="$(free_port)"
p2="$(free_port)"
while [ "$p2" = "$p1" ]; do p2="$(free_port)"; done
"${as_pg[@]}" "$pgbin/initdb" -D "$pg/primary" -U mcx -A trust -E UTF8 --locale=C --no-sync >"$pg/initdb.log" 2>&1 \
  || { echo "FAIL: initdb:"; cat "$pg/initdb.log"; exit 1; }
start_pg primary "$p1" "-c wal_level=replica -c max_wal_senders=4 -c synchronous_commit=on"
"$pgbin/createdb" -h 127.0.0.1 -p "$p1" -U mcx mcx_test || { echo "FAIL: createdb"; exit 1; }
"${as_pg[@]}" "$pgbin/pg_basebackup" -h 127.0.0.1 -p "$p1" -U mcx -D "$pg/standby" -R -X stream --checkpoint=fast >"$pg/basebackup.log" 2>&1 \
  || { echo "FAIL: pg_basebackup:"; cat "$pg/basebackup.log"; exit 1; }
start_pg standby "$p2" "-c synchronous_commit=on"
sql() { psql -X -q -t -A "postgresql://mcx@127.0.0.1:$1/mcx_test" -c "$2" 2>/dev/null; }
# From now on a commit is acknowledged only once the standby has flushed it (synchronous
# replication; set only now, or createdb and the base backup would wait for a standby to be).
sql "$p1" "ALTER SYSTEM SET synchronous_standby_names = '*'" >/dev/null
sql "$p1" "SELECT pg_reload_conf()" >/dev/null
for _ in $(seq 1 100); do
  [ "$(sql "$p1" "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'")" = 1 ] && break
  sleep 0.1
done
[ "$(sql "$p1" "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'")" = 1 ] \
  && ok "a primary and its synchronous standby on ports $p1 and $p2" || { bad "the standby is not streaming"; exit 1; }

url="postgresql://mcx@127.0.0.1:$p1,127.0.0.1:$p2/mcx_test?target_session_attrs=read-write&connect_timeout=2"
dd="$tmp/kms"
"$bin" init --demo --data-dir "$dd" --store-url "$url" >"$tmp/init.log" 2>&1 || { echo "FAIL: init:"; cat "$tmp/init.log"; exit 1; }
start_kms_serve "$bin" "$dd" "$tmp/serve.log" || { echo "FAIL: serve did not start"; exit 1; }
serve_pid="$kms_pid"
port="$kms_port"

token_for() { "$bin" token --demo-dir "$dd" --user "$1" 2>/dev/null | tail -n 1; }
post() {  # PATH TOKEN OUT: status on stdout
  curl -s -o "$3" -w '%{http_code}' --max-time 20 -X POST -H "Authorization: Bearer $2" \
    "http://127.0.0.1:$port/keymanagement/identity/v1/$1"
}
xp() { xmllint --xpath "string(//*[local-name()='$2'])" "$1" 2>/dev/null; }

# Key sets issued on demand (no provisioning run): each answered 200 was committed and acknowledged.
users=()
for i in $(seq 1 12); do users+=("sip:failover$i@example.org"); done
declare -A token ssk
acknowledged=0
for u in "${users[@]}"; do
  token[$u]="$(token_for "$u")"
  if [ "$(post keyprov "${token[$u]}" "$tmp/kp.xml")" = 200 ]; then
    ssk[$u]="$(xp "$tmp/kp.xml" UserSigningKeySSK)"
    acknowledged=$((acknowledged + 1))
  fi
done
[ "$acknowledged" = 12 ] && ok "12 key sets issued on demand before the failover" || bad "only $acknowledged of 12 issued"

# The primary crashes; the standby is promoted.
"${as_pg[@]}" "$pgbin/pg_ctl" -D "$pg/primary" -m immediate -w stop >/dev/null 2>&1
"${as_pg[@]}" "$pgbin/pg_ctl" -D "$pg/standby" -w promote >/dev/null 2>&1 && ok "the primary stopped hard, the standby promoted" \
  || bad "promotion failed: $(tail -5 "$pg/standby.log")"

# The KMS reconnects by itself (a request during the switch may be refused, 503: a proxy retries it).
code=""
for _ in $(seq 1 60); do
  code="$(post keyprov "${token[${users[0]}]}" "$tmp/kp.xml")"
  [ "$code" = 200 ] && break
  sleep 0.25
done
[ "$code" = 200 ] && ok "the KMS answers again after the failover, without a restart" || bad "after failover: HTTP $code: $(cat "$tmp/kp.xml")"
same=0
for u in "${users[@]}"; do
  [ "$(post keyprov "${token[$u]}" "$tmp/kp.xml")" = 200 ] && [ -n "${ssk[$u]:-}" ] \
    && [ "$(xp "$tmp/kp.xml" UserSigningKeySSK)" = "${ssk[$u]}" ] && same=$((same + 1))
done
[ "$same" = 12 ] && ok "every acknowledged key set survived, unchanged (same SSK)" || bad "only $same of 12 key sets unchanged"
[ "$(sql "$p2" "SELECT count(*) FROM key_sets WHERE user_uri LIKE 'sip:failover%'")" = 12 ] \
  && ok "12 rows on the new primary, none twice" || bad "rows: $(sql "$p2" "SELECT count(*) FROM key_sets")"
tn="$(token_for sip:after@example.org)"
[ "$(post keyprov "$tn" "$tmp/kpn.xml")" = 200 ] && ok "a new key set is issued on the new primary" \
  || bad "new key set: $(cat "$tmp/kpn.xml")"
ready=""
for _ in $(seq 1 40); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")" = 200 ] && { ready=1; break; }
  sleep 0.25
done
[ -n "$ready" ] && ok "/readyz says ready again" || bad "/readyz stays not ready"
"$bin" audit verify --data-dir "$dd" >"$tmp/audit.log" 2>&1 && ok "the audit chain verifies on the new primary" \
  || bad "audit verify: $(cat "$tmp/audit.log")"
[ "$fail" = 0 ] && echo "postgres_failover: all passed" || echo "postgres_failover: FAILED"
exit "$fail"
