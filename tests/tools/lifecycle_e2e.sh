#!/usr/bin/env bash
# The KMS lifecycle end to end (docs/lifecycle.md), on a real KMS: SoftHSM2 demo token, SQLite
# store, `mcx-kms serve` over loopback, and the commands run beside it as an operator would.
#   - a rollover is published in the certificate cache within a second, CacheNum moves, init keeps
#     the certificate in force, keyprov after the switch is issued under the new one, and keys of
#     both certificates pass `mcx-kms verify` with their own certificate (and fail with the other)
#   - a revoked user is refused within a second and skipped by bulk provisioning; reinstated, it
#     gets keys for periods that had none, never its revoked ones
#   - an imported certificate is served in the cache and by cert/<KMS URI>; removed, it is gone
#   - a revoked certificate is served as revoked and no key material is issued under it
#   - the audit chain verifies, answers "who got which key sets", and catches an edited record
#   - fail-closed: while the audit log cannot be written, no key material is handed out
# Every answer is validated against docs/kms-interface.xsd. Usage: lifecycle_e2e.sh MCX_KMS_BIN SRC_DIR
set -u
bin="$(realpath "$1")"
src="$(realpath "$2")"
fail=0
# shellcheck source=../../tools/demo-kms-lib.sh
source "$src/tools/demo-kms-lib.sh"
require_tools curl xmllint sqlite3
tmp="$(mktemp -d /tmp/mcx-kms-lifecycle-XXXXXX)"
trap 'stop_started; rm -rf "$tmp"' EXIT
start_demo_kms "$bin" "$tmp" --demo-users 3 || exit 1
dd="$tmp/demo"
base="http://127.0.0.1:$kms_port/keymanagement/identity/v1"
u1=sip:user00001@example.org u2=sip:user00002@example.org u3=sip:user00003@example.org

token_for() { "$bin" token --demo-dir "$dd" --user "$1" 2>/dev/null | tail -n 1; }
t1="$(token_for "$u1")" t2="$(token_for "$u2")" t3="$(token_for "$u3")"
[ -n "$t1" ] && [ -n "$t2" ] && [ -n "$t3" ] || { echo "FAIL: mcx-kms token printed nothing"; exit 1; }
# post PATH TOKEN OUT: the body in OUT, the status on stdout; the body must match the schema.
post() {
  local code
  code="$(curl -s -o "$3" -w '%{http_code}' -X POST -H "Authorization: Bearer $2" "$base/$1")"
  if ! xmllint --noout --schema "$src/docs/kms-interface.xsd" "$3" 2>"$tmp/xsd.err"; then
    bad "$1: the answer does not validate: $(cat "$tmp/xsd.err")"
  fi
  echo "$code"
}
cache_num() { post certcache "$t1" "$tmp/cc.xml" >/dev/null; sed -n 's/.*CacheNum="\([0-9]*\)".*/\1/p' "$tmp/cc.xml"; }
cert_uris() { grep -o '<CertUri>[^<]*</CertUri>' "$1" | sed 's/<[^>]*>//g'; }
# ntp_hex UNIX_SECONDS: the 16 hex digits of keyprov/<user>/<time>.
ntp_hex() { printf '%08X00000000' $(( $1 + 2208988800 )); }
# within_a_second COMMAND...: polls every 0.1 s for up to 1 s.
within_a_second() {
  for _ in $(seq 1 10); do "$@" && return 0; sleep 0.1; done
  "$@"
}

# --- rollover ---
n0="$(cache_num)"
post init "$t1" "$tmp/init.xml" >/dev/null
c1="$(cert_uris "$tmp/init.xml")"
[ -n "$n0" ] && [ -n "$c1" ] || { echo "FAIL: no CacheNum or CertUri before the rollover"; exit 1; }
"$bin" cert rollover --data-dir "$dd" --valid-from "$(date -u -d '+1 day' +%F)" >"$tmp/rollover.log" 2>&1 \
  || bad "cert rollover failed: $(cat "$tmp/rollover.log")"
c2="$(sed -n 's/^new certificate \([^ ]*\) .*/\1/p' "$tmp/rollover.log")"
switch="$(sed -n 's/.* valid \([0-9TZ:-]*\) to .*/\1/p' "$tmp/rollover.log")"
grep -q "rounded up to the next period boundary" "$tmp/rollover.log" && ok "rollover: ValidFrom rounded to a boundary, and said so" \
  || bad "rollover did not say it rounded: $(cat "$tmp/rollover.log")"
cache_moved() { [ "$(cache_num)" = $((n0 + 1)) ]; }
within_a_second cache_moved && ok "rollover: CacheNum $n0 -> $((n0 + 1)) on the running server within a second" \
  || bad "CacheNum is $(cache_num), expected $((n0 + 1))"
[ "$(cert_uris "$tmp/cc.xml" | sort | tr '\n' ' ')" = "$(printf '%s\n%s\n' "$c1" "$c2" | sort | tr '\n' ' ')" ] \
  && ok "certcache holds both certificates, the new one ahead of its ValidFrom" || bad "certcache: $(cert_uris "$tmp/cc.xml")"
post "certcache/$((n0 + 1))" "$t1" "$tmp/cc-current.xml" >/dev/null
grep -q '<KmsCertificate' "$tmp/cc-current.xml" && bad "certcache/<current> still lists certificates" \
  || ok "certcache/<current CacheNum> is empty"
post init "$t1" "$tmp/init2.xml" >/dev/null
[ "$(cert_uris "$tmp/init2.xml")" = "$c1" ] && ok "init answers with the certificate in force now" \
  || bad "init after rollover: $(cert_uris "$tmp/init2.xml")"
after="$(( $(date -u -d "$switch" +%s) + 60 ))"
code="$(post "keyprov/$u1/$(ntp_hex "$after")" "$t1" "$tmp/kp-new.xml")"
[ "$code" = 200 ] && [ "$(cert_uris "$tmp/kp-new.xml")" = "$c2" ] \
  && ok "keyprov after the switch is issued under the new certificate" || bad "keyprov after the switch: $code $(cert_uris "$tmp/kp-new.xml")"
code="$(post "keyprov/$u1" "$t1" "$tmp/kp-old.xml")"
[ "$code" = 200 ] && [ "$(cert_uris "$tmp/kp-old.xml")" = "$c1" ] \
  && ok "keyprov now is issued under the current certificate" || bad "keyprov now: $code"
"$bin" verify --init "$tmp/cc.xml" --certificate "$c2" --keyprov "$tmp/kp-new.xml" >/dev/null 2>&1 \
  && ok "verify: the new certificate's keys check with it" || bad "verify of the new certificate's keys failed"
"$bin" verify --init "$tmp/cc.xml" --certificate "$c1" --keyprov "$tmp/kp-old.xml" >/dev/null 2>&1 \
  && ok "verify: the old certificate's keys check with it" || bad "verify of the old certificate's keys failed"
"$bin" verify --init "$tmp/cc.xml" --certificate "$c1" --keyprov "$tmp/kp-new.xml" >/dev/null 2>&1 \
  && bad "verify accepted new keys against the old certificate" || ok "verify: keys fail against the other certificate"
"$bin" cert list --data-dir "$dd" >"$tmp/list.log" 2>&1
grep -q "CacheNum $((n0 + 1))" "$tmp/list.log" && grep "$c1" "$tmp/list.log" | grep -q "in force now" \
  && grep "$c2" "$tmp/list.log" | grep -q "published" && ok "cert list: roles, states and CacheNum" \
  || bad "cert list: $(cat "$tmp/list.log")"

# --- revocation of a user ---
"$bin" revoke --data-dir "$dd" --user "$u2" >"$tmp/revoke.log" 2>&1 || bad "revoke --user: $(cat "$tmp/revoke.log")"
refused() { [ "$(post "keyprov" "$t2" "$tmp/kp-u2.xml")" = 403 ]; }
within_a_second refused && grep -q "revoked" "$tmp/kp-u2.xml" && ok "a revoked user gets a 403 KmsError within a second" \
  || bad "revoked user: $(cat "$tmp/kp-u2.xml")"
[ "$(post "keyprov" "$t1" "$tmp/kp-u1.xml")" = 200 ] && ok "other users are served" || bad "user 1 refused after revoking user 2"
printf '%s\n%s\n' "$u2" sip:user00004@example.org >"$tmp/bulk.txt"
"$bin" provision --data-dir "$dd" --users "$tmp/bulk.txt" --from "$(date -u -d '+31 days' +%F)" >"$tmp/bulk.log" 2>&1
grep -q "revoked users' pairs skipped 1" "$tmp/bulk.log" && grep -q "issued 1," "$tmp/bulk.log" \
  && ok "bulk provisioning skips the revoked user" || bad "bulk: $(cat "$tmp/bulk.log")"
"$bin" reinstate --data-dir "$dd" --user "$u2" >/dev/null 2>&1 || bad "reinstate failed"
sleep 0.6
[ "$(post "keyprov" "$t2" "$tmp/kp-u2b.xml")" = 403 ] && grep -q "is revoked: it is never served again" "$tmp/kp-u2b.xml" \
  && ok "reinstated: the revoked key set of this period stays revoked" || bad "reinstated, this period: $(cat "$tmp/kp-u2b.xml")"
code="$(post "keyprov/$u2/$(ntp_hex "$after")" "$t2" "$tmp/kp-u2c.xml")"
[ "$code" = 200 ] && ok "reinstated: a period that had no key set gets a fresh one" || bad "reinstated, later period: $code"

# --- an external certificate ---
tr -d '\n' <"$tmp/init.xml" | grep -o '<KmsCertificate .*</KmsCertificate>' \
  | sed -e 's#<KmsCertificate [^>]*>#<KmsCertificate xmlns="urn:3gpp:ns:mcsecKMSInterface:1.0" Id="other.cert" Version="1.1.0" Role="External">#' \
        -e 's#<CertUri>[^<]*</CertUri>#<CertUri>other.example.net.cert</CertUri>#' \
        -e 's#<KmsUri>[^<]*</KmsUri>#<KmsUri>other.example.net</KmsUri>#' \
        -e 's#</KmsCertificate>#<KmsDomainList><KmsDomain>other.example.net</KmsDomain></KmsDomainList></KmsCertificate>#' \
  >"$tmp/external.xml"
n1="$(cache_num)"
"$bin" cert import --data-dir "$dd" "$tmp/external.xml" >"$tmp/import.log" 2>&1 || bad "cert import: $(cat "$tmp/import.log")"
imported() { [ "$(cache_num)" = $((n1 + 1)) ] && grep -q 'Role="External"' "$tmp/cc.xml"; }
within_a_second imported && grep -q "<KmsDomain>other.example.net</KmsDomain>" "$tmp/cc.xml" \
  && ok "an imported certificate is in the cache with its KmsDomainList; CacheNum moved" || bad "import: $(cat "$tmp/cc.xml")"
[ "$(post "cert/other.example.net" "$t1" "$tmp/ext.xml")" = 200 ] && [ "$(cert_uris "$tmp/ext.xml")" = other.example.net.cert ] \
  && ok "cert/<KMS URI> serves the imported certificate" || bad "cert/other.example.net: $(cat "$tmp/ext.xml")"
"$bin" cert remove --data-dir "$dd" other.example.net.cert >/dev/null 2>&1 || bad "cert remove failed"
removed() { [ "$(post "cert/other.example.net" "$t1" "$tmp/ext2.xml")" = 404 ]; }
within_a_second removed && [ "$(cache_num)" = $((n1 + 2)) ] && ok "a removed certificate is gone; CacheNum moved" \
  || bad "after remove: $(cat "$tmp/ext2.xml")"

# --- revocation of a certificate ---
"$bin" cert revoke --data-dir "$dd" "$c2" >/dev/null 2>&1 || bad "cert revoke failed"
revoked_cert() { cache_num >/dev/null; tr -d '\n' <"$tmp/cc.xml" | grep -q "<CertUri>$c2</CertUri>.*<Revoked>true</Revoked>"; }
within_a_second revoked_cert && [ "$(cache_num)" = $((n1 + 3)) ] && ok "a revoked certificate is served with Revoked true; CacheNum moved" \
  || bad "revoked certificate: $(cat "$tmp/cc.xml")"
code="$(post "keyprov/$u1/$(ntp_hex "$after")" "$t1" "$tmp/kp-after-revoke.xml")"
[ "$code" = 200 ] && [ "$(cert_uris "$tmp/kp-after-revoke.xml")" = "$c1" ] \
  && ok "no key material is served under the revoked certificate (the previous one covers the time)" \
  || bad "keyprov under a revoked certificate: $code $(cert_uris "$tmp/kp-after-revoke.xml")"

# --- the audit chain ---
store="$dd/store.sqlite"
"$bin" audit verify --data-dir "$dd" >"$tmp/verify.log" 2>&1 && ok "audit verify: the chain is whole" \
  || bad "audit verify: $(cat "$tmp/verify.log")"
"$bin" audit show --data-dir "$dd" --user "$u2" >"$tmp/show.log" 2>&1
grep -q "user-revoked" "$tmp/show.log" && grep -q "user-reinstated" "$tmp/show.log" && grep -q "key-set" "$tmp/show.log" \
  && ok "audit show --user: who got which key sets, revocation and reinstatement" || bad "audit show: $(cat "$tmp/show.log")"
for kind in certificate-rolled-over certificate-imported certificate-removed certificate-revoked admin-command kms-created unsealed request-refused; do
  "$bin" audit show --data-dir "$dd" | grep -q "$kind" || bad "audit show has no $kind record"
done

# --- fail-closed: while the audit log cannot be written, no key material leaves ---
sqlite3 "$store" "CREATE TRIGGER block_audit BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'audit blocked by the test'); END;"
code="$(post "keyprov/$u3/$(ntp_hex "$after")" "$t3" "$tmp/kp-blocked.xml")"
[ "$code" = 503 ] && ok "fail-closed: a new key set is refused while the audit log cannot be written" \
  || bad "with the audit log blocked: $code"
code="$(post "keyprov" "$t3" "$tmp/kp-blocked2.xml")"
[ "$code" = 503 ] && ok "fail-closed: a stored key set is refused too" || bad "stored key set with the audit log blocked: $code"
sqlite3 "$store" "DROP TRIGGER block_audit;"
code="$(post "keyprov" "$t3" "$tmp/kp-unblocked.xml")"
[ "$code" = 200 ] && ok "served again once the audit log takes writes" || bad "after unblocking: $code"

# Tampering is caught (tests/engine/audit covers every kind; one here, end to end).
sqlite3 "$store" "UPDATE audit_log SET user_uri = 'sip:someone-else@example.org' WHERE seq = 3;"
"$bin" audit verify --data-dir "$dd" >"$tmp/verify2.log" 2>&1 && bad "audit verify passed an edited record" \
  || { grep -qi "edited" "$tmp/verify2.log" && ok "audit verify reports the edited record" || bad "audit verify: $(cat "$tmp/verify2.log")"; }

exit "$fail"
