#!/usr/bin/env bash
# A KMS on a PostgreSQL store end to end: `mcx-kms init --demo --store-url`, bulk `provision`,
# then two `mcx-kms serve` replicas on the same database. A pre-provisioned key set comes over
# HTTP and passes the device's checks (`mcx-kms verify`); a user with no key set yet asks both
# replicas for its first one and gets the same from each (one row in the database); a revocation
# made by a command beside them is seen by both; the audit chains, in the same database, verify.
# Runs inside tests/support/with_postgres.sh, which gives the database in $MCX_TEST_POSTGRES_URL.
#   usage: with_postgres.sh postgres_e2e.sh MCX_KMS_BINARY SOURCE_DIR
set -u
bin="$(realpath "$1")"
src="$(realpath "$2")"
fail=0
# shellcheck source=../../tools/demo-kms-lib.sh
source "$src/tools/demo-kms-lib.sh"
require_tools curl xmllint psql
[ -n "${MCX_TEST_POSTGRES_URL:-}" ] || { echo "FAIL: no \$MCX_TEST_POSTGRES_URL: run me through tests/support/with_postgres.sh"; exit 1; }
url="$MCX_TEST_POSTGRES_URL"
tmp="$(mktemp -d /tmp/mcx-kms-pg-e2e-XXXXXX)"
pids=()
trap 'for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$tmp"' EXIT
dd="$tmp/demo"
sql() { psql -X -q -t -A "$url" -c "$1"; }

"$bin" init --demo --data-dir "$dd" --store-url "$url" >"$tmp/init.log" 2>&1 || { echo "FAIL: init:"; cat "$tmp/init.log"; exit 1; }
grep -qF "url = '$url'" "$dd/mcx-kms.toml" && ok "init writes [store] url" || bad "init: $(cat "$dd/mcx-kms.toml")"
demo_users 20 >"$tmp/users.txt"
"$bin" provision --data-dir "$dd" --users "$tmp/users.txt" >"$tmp/provision.log" 2>&1 \
  || { echo "FAIL: provision:"; cat "$tmp/provision.log"; exit 1; }
grep -q "PostgreSQL postgresql://" "$tmp/provision.log" && ok "provision names the PostgreSQL store" \
  || bad "provision: $(cat "$tmp/provision.log")"
[ "$(sql "SELECT count(*) FROM key_sets")" = 20 ] && ok "20 key sets in PostgreSQL" \
  || bad "key_sets holds $(sql "SELECT count(*) FROM key_sets")"
[ "$(sql "SELECT version FROM store_schema")" = 4 ] && ok "schema version 4" || bad "schema version"

# Two replicas on the same database, each on an ephemeral loopback port.
start_replica() {  # NAME: sets port_NAME
  start_kms_serve "$bin" "$dd" "$tmp/$1.log" || { echo "FAIL: replica $1 did not start"; exit 1; }
  pids+=("$kms_pid")
  eval "port_$1=$kms_port"
}
start_replica a
start_replica b
ok "two replicas serve the same store on ports $port_a and $port_b"

token_for() { "$bin" token --demo-dir "$dd" --user "$1" 2>/dev/null | tail -n 1; }
post() {  # PORT PATH TOKEN OUT: status on stdout
  curl -s -o "$4" -w '%{http_code}' --max-time 20 -X POST -H "Authorization: Bearer $3" \
    "http://127.0.0.1:$1/keymanagement/identity/v1/$2"
}
xp() { xmllint --xpath "string(//*[local-name()='$2'])" "$1" 2>/dev/null; }
u1=sip:user00001@example.org
t1="$(token_for "$u1")"
[ "$(post "$port_a" init "$t1" "$tmp/init.xml")" = 200 ] || bad "init: $(cat "$tmp/init.xml")"
[ "$(post "$port_a" keyprov "$t1" "$tmp/kp1.xml")" = 200 ] && ok "keyprov of a pre-provisioned user: 200" \
  || bad "keyprov: $(cat "$tmp/kp1.xml")"
xmllint --noout --schema "$src/docs/kms-interface.xsd" "$tmp/kp1.xml" 2>/dev/null && ok "keyprov: valid against the XSD" \
  || bad "keyprov: XSD"
"$bin" verify --init "$tmp/init.xml" --keyprov "$tmp/kp1.xml" >"$tmp/verify.log" 2>&1
grep -q "1 key set(s) valid" "$tmp/verify.log" && ok "the key set from PostgreSQL passes the device's checks" \
  || bad "verify: $(cat "$tmp/verify.log")"
[ "$(post "$port_b" keyprov "$t1" "$tmp/kp1b.xml")" = 200 ] \
  && [ "$(xp "$tmp/kp1.xml" UserDecryptKey)" = "$(xp "$tmp/kp1b.xml" UserDecryptKey)" ] \
  && ok "the other replica hands out the same pre-provisioned key set" || bad "replica b: $(cat "$tmp/kp1b.xml")"

# A first request, to both replicas at once, for a user with no key set yet.
u9=sip:newcomer@example.org
t9="$(token_for "$u9")"
post "$port_a" keyprov "$t9" "$tmp/kp9a.xml" >"$tmp/code9a" &
first_a=$!
post "$port_b" keyprov "$t9" "$tmp/kp9b.xml" >"$tmp/code9b" &
wait "$first_a" $!
ssk_a="$(xp "$tmp/kp9a.xml" UserSigningKeySSK)" ssk_b="$(xp "$tmp/kp9b.xml" UserSigningKeySSK)"
[ "$(cat "$tmp/code9a")" = 200 ] && [ "$(cat "$tmp/code9b")" = 200 ] && [ -n "$ssk_a" ] && [ "$ssk_a" = "$ssk_b" ] \
  && ok "both replicas answer a first request with one and the same key set" \
  || bad "first request: $(cat "$tmp/code9a") $(cat "$tmp/code9b"), SSKs '$ssk_a' '$ssk_b'"
[ "$(sql "SELECT count(*) FROM key_sets WHERE user_uri = '$u9'")" = 1 ] && ok "one row stored for it" \
  || bad "rows for $u9: $(sql "SELECT count(*) FROM key_sets WHERE user_uri = '$u9'")"

# A revocation by a command beside the replicas reaches both (they poll the generation).
"$bin" revoke --data-dir "$dd" --user "$u1" >"$tmp/revoke.log" 2>&1 || bad "revoke: $(cat "$tmp/revoke.log")"
refused=""
for _ in $(seq 1 30); do
  if [ "$(post "$port_a" keyprov "$t1" "$tmp/r.xml")" = 403 ] && [ "$(post "$port_b" keyprov "$t1" "$tmp/r.xml")" = 403 ]; then
    refused=1; break
  fi
  sleep 0.2
done
[ -n "$refused" ] && ok "a revoked user is refused by both replicas" || bad "revocation not seen: $(cat "$tmp/r.xml")"
[ "$(sql "SELECT count(*) FROM revoked_users")" = 1 ] && ok "the revocation is in PostgreSQL" || bad "revoked_users"

"$bin" audit verify --data-dir "$dd" >"$tmp/audit.log" 2>&1 && ok "the audit chains verify" \
  || bad "audit verify: $(cat "$tmp/audit.log")"
[ "$(sql "SELECT count(*) > 0 FROM audit_log WHERE user_uri = '$u9'")" = t ] \
  && ok "the audit chain is in PostgreSQL (with the first request's issuance)" || bad "audit_log in PostgreSQL"
[ ! -e "$dd/store.sqlite" ] && ok "no SQLite file at all" || bad "a store.sqlite was made"
[ "$fail" = 0 ] && echo "postgres_e2e: all passed" || echo "postgres_e2e: FAILED"
exit "$fail"
