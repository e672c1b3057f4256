#!/usr/bin/env bash
# End to end behind the proxy: a real nginx terminates TLS (self-signed certificate made by
# deploy/nginx/make-self-signed-cert.sh) and forwards to `mcx-kms serve` (a demo KMS: SoftHSM2 token, SQLite store) over loopback
# with deploy/nginx/mcx-kms-proxy.conf. curl asks for init and keyprov over HTTPS, xmllint
# validates the answers against docs/kms-interface.xsd and extracts the keys, and `mcx-kms
# verify` checks the key set as a device would (RSK pairing check, SSK check). Then `mcx-kms bench
# http https://...` loads the KMS through nginx's TLS: trusting the certificate with --ca-file (no
# errors, key material valid), without it (TLS errors naming the certificate problem, on time),
# with a host name the certificate does not carry, and with --insecure.
# Everything runs in a temporary directory and is stopped on exit.
#   usage: nginx_e2e.sh MCX_KMS_BINARY SOURCE_DIR
set -uo pipefail
bin="$1"
src="$2"

# shellcheck source=../../tools/demo-kms-lib.sh
source "$src/tools/demo-kms-lib.sh"
require_tools nginx curl xmllint openssl
tmp="$(mktemp -d /tmp/mcx-kms-nginx-e2e-XXXXXX)"
trap 'stop_started; rm -rf "$tmp"' EXIT


# mcx-kms on an ephemeral loopback port.
start_demo_kms "$bin" "$tmp" --demo-users 20 || exit 1
ok "mcx-kms listening on 127.0.0.1:$kms_port"

# nginx in the foreground, with its own prefix, pid and logs, on a loopback TLS port.
bash "$src/deploy/nginx/make-self-signed-cert.sh" "$tmp/tls" kms.example.org 2 >/dev/null || { echo "FAIL: openssl"; exit 1; }
tls_port="$(free_port)"
mkdir -p "$tmp/nginx"
# One process (no master): no privilege drop, so the 0600 key in this private directory is readable.
{ echo "master_process off;"; nginx_conf_head "$tmp/nginx" 1; } >"$tmp/nginx/nginx.conf"
cat >>"$tmp/nginx/nginx.conf" <<CONF
    access_log $tmp/nginx/access.log;
    upstream mcx_kms {
        server 127.0.0.1:$kms_port;
        keepalive 16;
    }
    server {
        listen 127.0.0.1:$tls_port ssl;
        server_name kms.example.org;
        ssl_certificate $tmp/tls/kms.crt;
        ssl_certificate_key $tmp/tls/kms.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        set \$mcx_asserted_identity "";
        include $src/deploy/nginx/mcx-kms-proxy.conf;
    }
}
CONF
start_nginx "$tmp/nginx" || exit 1

base="https://kms.example.org:$tls_port/keymanagement/identity/v1"
curl_tls=(curl -sS --max-time 20 --cacert "$tmp/tls/kms.crt" --resolve "kms.example.org:$tls_port:127.0.0.1")
up=""
for _ in $(seq 1 100); do
  code="$("${curl_tls[@]}" -o /dev/null -w '%{http_code}' -X POST "$base/init" 2>/dev/null)"
  [ "$code" = "401" ] && { up=1; break; }
  sleep 0.1
done
[ -n "$up" ] || { echo "FAIL: nginx did not answer on $tls_port:"; cat "$tmp/nginx/error.log"; exit 1; }
ok "nginx terminates TLS on 127.0.0.1:$tls_port (certificate verified by curl)"

user="sip:alice@example.org"
token="$("$bin" token --demo-dir "$tmp/demo" --user "$user" 2>/dev/null | tail -n 1)"
[ -n "$token" ] || { echo "FAIL: mcx-kms token printed nothing"; exit 1; }
auth=(-H "Authorization: Bearer $token")
xsd="$src/docs/kms-interface.xsd"
xp() { xmllint --xpath "string(//*[local-name()='$2'])" "$1" 2>/dev/null; }

code="$("${curl_tls[@]}" -o "$tmp/init.xml" -w '%{http_code}' -X POST "${auth[@]}" "$base/init")"
[ "$code" = "200" ] && ok "init: 200" || bad "init: status $code"
xmllint --noout --schema "$xsd" "$tmp/init.xml" 2>"$tmp/xmllint.log" && ok "init: valid against the XSD" \
  || { bad "init: XSD"; cat "$tmp/xmllint.log"; }
[[ "$(xp "$tmp/init.xml" ClientReqUrl)" == https://kms.example.org:$tls_port/keymanagement/identity/v1/init ]] \
  && ok "init: ClientReqUrl is the HTTPS URL the client used" || bad "init: ClientReqUrl $(xp "$tmp/init.xml" ClientReqUrl)"

# keyprov with the user percent-encoded and a time (now, as NTP seconds) in lower case.
ntp_now=$(( $(date +%s) + 2208988800 ))
period_now=$(( ntp_now / 2592000 ))
code="$("${curl_tls[@]}" -o "$tmp/keyprov.xml" -w '%{http_code}' -X POST "${auth[@]}" \
  "$base/keyprov/sip%3Aalice%40example.org/$(printf '%08x00000000' "$ntp_now")")"
[ "$code" = "200" ] && ok "keyprov: 200" || { bad "keyprov: status $code"; cat "$tmp/keyprov.xml"; }
xmllint --noout --schema "$xsd" "$tmp/keyprov.xml" 2>"$tmp/xmllint.log" && ok "keyprov: valid against the XSD" \
  || { bad "keyprov: XSD"; cat "$tmp/xmllint.log"; }

"$bin" verify --init "$tmp/init.xml" --keyprov "$tmp/keyprov.xml" >"$tmp/verify.log" 2>&1
if grep -q "1 key set(s) valid (UID, RSK pairing check" "$tmp/verify.log"; then
  ok "keyprov: the key set passes the device's RSK and SSK checks"
else
  bad "keyprov: device check"; cat "$tmp/verify.log"
fi
[ "$(xp "$tmp/keyprov.xml" KeyPeriodNo)" = "$period_now" ] && ok "keyprov: the period of the requested time" \
  || bad "keyprov: KeyPeriodNo $(xp "$tmp/keyprov.xml" KeyPeriodNo)"

# Errors come through the proxy unchanged.
headers="$("${curl_tls[@]}" -D - -o "$tmp/err.xml" -X POST "$base/keyprov")"
grep -q "^HTTP/1.1 401" <<<"$headers" && grep -qi "^WWW-Authenticate: Bearer" <<<"$headers" \
  && ok "no token: 401 with WWW-Authenticate through the proxy" || bad "no token: $headers"
code="$("${curl_tls[@]}" -o "$tmp/err.xml" -w '%{http_code}' -X POST "${auth[@]}" "$base/keyprov/sip:bob@example.org")"
[ "$code" = "403" ] && ok "another user's keys: 403" || bad "another user's keys: status $code"
xmllint --noout --schema "$xsd" "$tmp/err.xml" 2>/dev/null && ok "errors: valid against the XSD" || bad "error XSD"
code="$("${curl_tls[@]}" -o /dev/null -w '%{http_code}' "https://kms.example.org:$tls_port/metrics")"
[ "$code" = "404" ] && ok "operational routes are not exposed through the proxy" || bad "/metrics via proxy: $code"
body="<KmsRequest xmlns=\"urn:3gpp:ns:mcsecKMSInterface:1.0\"><UserUri>$user</UserUri></KmsRequest>"
code="$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 -X POST "${auth[@]}" -H "Expect: 100-continue" \
  --data-binary "$body" "http://127.0.0.1:$kms_port/keymanagement/identity/v1/keyprov")"
[ "$code" = "200" ] && ok "Expect: 100-continue with a KmsRequest body, straight to mcx-kms" || bad "Expect: $code"
code="$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$kms_port/readyz")"
[ "$code" = "200" ] && ok "readyz on the loopback listener" || bad "readyz: $code"

# bench http over TLS through nginx. Each run: warm-up + duration + timeout bounds it.
bench_tls() {  # NAME URL [flags...]: runs bench http, report in $tmp/NAME.json, seconds in $elapsed;
  # the exit status must be $want_rc (0 unless set for the call)
  local name="$1" url="$2"
  shift 2
  local start rc
  start=$(date +%s)
  "$bin" bench http "$url" --data-dir "$tmp/demo" --user-count 20 --connections 4 --timeout-ms 2000 \
    --json "$tmp/$name.json" "$@" >"$tmp/$name.txt" 2>"$tmp/$name.err"
  rc=$?
  elapsed=$(( $(date +%s) - start ))
  [ "$rc" = "${want_rc:-0}" ] || { bad "bench $name exited with $rc, want ${want_rc:-0}"; cat "$tmp/$name.err"; }
}
# NAME EXPR...: each EXPR, Python over s (the serving run of NAME's JSON report) and e (its
# errors), must hold; each is printed.
check_report() {
  local name="$1"
  shift
  python3 - "$tmp/$name.json" "$name" "$@" <<'PY' || fail=1
import json, sys
s = json.load(open(sys.argv[1]))["serving"][0]
e = s["errors"]
good = True
for expr in sys.argv[3:]:
    ok = bool(eval(expr))
    good = good and ok
    print(("ok: " if ok else "FAIL: ") + "bench %s: %s" % (sys.argv[2], expr))
if not good:
    print(json.dumps({k: s[k] for k in ("label", "target", "requests", "ok", "errors", "validation")}, indent=1))
sys.exit(0 if good else 1)
PY
}
tls_url="https://127.0.0.1:$tls_port/keymanagement/identity/v1"

bench_tls trusted "$tls_url" --ca-file "$tmp/tls/kms.crt" --warmup 0.5 --duration 2 --fail-on-errors
cat "$tmp/trusted.txt"
check_report trusted 's["target"].startswith("https://127.0.0.1:")' 's["requests"] > 0' 's["ok"] == s["requests"]' \
  'e["tls"] == 0 and e["connection"] == 0 and e["timeouts"] == 0 and not e["http"]' \
  's["ok_init"] > 0 and s["ok_keyprov"] > 0' \
  's["validation"]["checked"] and s["validation"]["answers"] == 20 and s["validation"]["invalid"] == 0'
[ "$elapsed" -le 8 ] && ok "bench trusted: ran in ${elapsed}s" || bad "bench trusted: took ${elapsed}s"

# The system's store does not hold the self-signed certificate: every connection fails its handshake.
# With --fail-on-errors the run still completes and reports, and exits 4 for a script to gate on.
want_rc=4 bench_tls untrusted "$tls_url" --warmup 0 --duration 1 --fail-on-errors
grep -q "fail-on-errors: .* requests failed" "$tmp/untrusted.err" && ok "bench untrusted: --fail-on-errors says why" \
  || bad "bench untrusted: no --fail-on-errors message"
grep "TLS" "$tmp/untrusted.txt"
check_report untrusted 's["requests"] > 0' 's["ok"] == 0' 'e["tls"] == s["requests"]' \
  '"certificate verify failed: self-signed certificate" in e["tls_reason"]' '"--ca-file" in e["tls_reason"]' \
  'not s["validation"]["checked"] and "certificate verify failed" in s["validation"]["note"]'
[ "$elapsed" -le 6 ] && ok "bench untrusted: ended on time (${elapsed}s)" || bad "bench untrusted: took ${elapsed}s"

# Trusted, but reached by a name the certificate (kms.example.org, 127.0.0.1) does not carry.
bench_tls wrong-name "https://localhost:$tls_port/keymanagement/identity/v1" --ca-file "$tmp/tls/kms.crt" \
  --warmup 0 --duration 1
check_report wrong-name 's["ok"] == 0' 'e["tls"] == s["requests"] > 0' \
  '"certificate verify failed: hostname mismatch (the certificate does not name localhost)" in e["tls_reason"]'

bench_tls insecure "$tls_url" --insecure --warmup 0 --duration 1
check_report insecure 's["requests"] > 0' 's["ok"] == s["requests"]' 'e["tls"] == 0' \
  '"NOT verified" in s["label"]' 's["validation"]["checked"] and s["validation"]["invalid"] == 0'
grep -q "WARNING: --insecure" "$tmp/insecure.err" && ok "bench insecure: warns that the certificate is not verified" \
  || bad "bench insecure: no warning"
if grep -q "UserDecryptKey\|UserSigningKeySSK\|Bearer\|eyJ" "$tmp"/{trusted,untrusted,wrong-name,insecure}.{json,txt,err}; then
  bad "a bench report or log holds key material or a token"
else
  ok "no key material or token in the bench reports"
fi

# SIGTERM: a graceful stop.
kill -TERM "$kms_pid"
wait "$kms_pid"
rc=$?
kms_pid=""
[ "$rc" = "0" ] && grep -q "^mcx-kms: stopped" "$tmp/kms.log" && ok "SIGTERM stops mcx-kms cleanly (exit 0)" \
  || bad "SIGTERM: exit $rc"

if [ $fail -ne 0 ]; then
  echo "--- mcx-kms log"; cat "$tmp/kms.log"; echo "--- nginx error log"; cat "$tmp/nginx/error.log"
fi
exit $fail
