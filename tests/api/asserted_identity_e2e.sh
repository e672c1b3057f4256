#!/usr/bin/env bash
# Keys for network entities (TS 33.180 5.3.1) through a real nginx with mutual TLS: an MCX server
# with a client certificate from the server CA gets its own key set, with no IdMS token (nginx
# passes the certificate's CN in X-3GPP-Asserted-Identity, deploy/nginx/mcx-kms-servers.conf).
# Refused: a certificate for an identity mcx-kms is not configured for; no certificate; the same
# header sent straight to mcx-kms from an address that is not a trusted proxy; the header sent
# by a user through the users' listener (nginx blanks it: the user gets only its own keys).
#   usage: asserted_identity_e2e.sh MCX_KMS_BINARY SOURCE_DIR
set -uo pipefail
bin="$1"
src="$2"
# shellcheck source=../../tools/demo-kms-lib.sh
source "$src/tools/demo-kms-lib.sh"
require_tools nginx curl xmllint openssl
tmp="$(mktemp -d /tmp/mcx-kms-asserted-XXXXXX)"
trap 'stop_started; rm -rf "$tmp"' EXIT

gms="sip:gms.example.org"
start_demo_kms "$bin" "$tmp" --trusted-proxy 127.0.0.1 --server-identity "$gms" || exit 1
ok "mcx-kms on 127.0.0.1:$kms_port trusting the proxy at 127.0.0.1 for $gms"

# The proxy's certificate, a server CA, and client certificates for two servers.
bash "$src/deploy/nginx/make-self-signed-cert.sh" "$tmp/tls" kms.example.org 2 >/dev/null || { echo "FAIL: openssl"; exit 1; }
(
  cd "$tmp/tls" || exit 1
  umask 077
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=mcx servers CA" \
    -addext "basicConstraints=critical,CA:TRUE" -keyout ca.key -out ca.crt 2>/dev/null
  for who in gms rogue; do
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/O=example/CN=sip:$who.example.org" \
      -keyout "$who.key" -out "$who.csr" 2>/dev/null
    openssl x509 -req -in "$who.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -out "$who.crt" 2>/dev/null
  done
) || { echo "FAIL: making certificates"; exit 1; }

users_port="$(free_port)"
servers_port="$(free_port)"
mkdir -p "$tmp/nginx"
{ echo "master_process off;"; nginx_conf_head "$tmp/nginx" 1; } >"$tmp/nginx/nginx.conf"
# The map and the servers' listener as deploy/nginx/mcx-kms-servers.conf has them, on test ports.
sed -n '/^map /,/^}/p' "$src/deploy/nginx/mcx-kms-servers.conf" >>"$tmp/nginx/nginx.conf"
cat >>"$tmp/nginx/nginx.conf" <<CONF
    access_log $tmp/nginx/access.log;
    upstream mcx_kms { server 127.0.0.1:$kms_port; keepalive 8; }
    server {
        listen 127.0.0.1:$users_port ssl;
        ssl_certificate $tmp/tls/kms.crt;
        ssl_certificate_key $tmp/tls/kms.key;
        set \$mcx_asserted_identity "";
        include $src/deploy/nginx/mcx-kms-proxy.conf;
    }
    server {
        listen 127.0.0.1:$servers_port ssl;
        ssl_certificate $tmp/tls/kms.crt;
        ssl_certificate_key $tmp/tls/kms.key;
        ssl_client_certificate $tmp/tls/ca.crt;
        ssl_verify_client on;
        set \$mcx_asserted_identity \$mcx_client_certificate_identity;
        include $src/deploy/nginx/mcx-kms-proxy.conf;
    }
}
CONF
start_nginx "$tmp/nginx" || exit 1

curl_tls=(curl -sS --max-time 20 --cacert "$tmp/tls/kms.crt" --resolve "kms.example.org:$users_port:127.0.0.1"
          --resolve "kms.example.org:$servers_port:127.0.0.1")
as_server() { "${curl_tls[@]}" --cert "$tmp/tls/$1.crt" --key "$tmp/tls/$1.key" "${@:2}"; }
servers="https://kms.example.org:$servers_port/keymanagement/identity/v1"
users="https://kms.example.org:$users_port/keymanagement/identity/v1"
for _ in $(seq 1 100); do
  code="$("${curl_tls[@]}" -o /dev/null -w '%{http_code}' -X POST "$users/init" 2>/dev/null)"
  [ "$code" = "401" ] && break
  sleep 0.1
done
xsd="$src/docs/kms-interface.xsd"
xp() { xmllint --xpath "string(//*[local-name()='$2'])" "$1" 2>/dev/null; }

# A configured server with its certificate: its own key set, no token.
code="$(as_server gms -o "$tmp/init.xml" -w '%{http_code}' -X POST "$servers/init")"
[ "$code" = "200" ] && ok "server certificate: init 200" || { bad "server init: $code"; cat "$tmp/init.xml"; }
code="$(as_server gms -o "$tmp/keyprov.xml" -w '%{http_code}' -X POST "$servers/keyprov")"
[ "$code" = "200" ] && ok "server certificate: keyprov 200 without a token" || { bad "server keyprov: $code"; cat "$tmp/keyprov.xml"; }
[ "$(xp "$tmp/keyprov.xml" UserUri)" = "$gms" ] && ok "the key set is for $gms" || bad "key set for $(xp "$tmp/keyprov.xml" UserUri)"
xmllint --noout --schema "$xsd" "$tmp/keyprov.xml" 2>/dev/null && ok "keyprov valid against the XSD" || bad "keyprov XSD"
"$bin" verify --init "$tmp/init.xml" --keyprov "$tmp/keyprov.xml" >"$tmp/verify.log" 2>&1 \
  && grep -q "1 key set(s) valid" "$tmp/verify.log" && ok "the server's key set passes the device checks" \
  || { bad "verify"; cat "$tmp/verify.log"; }
code="$(as_server gms -o "$tmp/other.xml" -w '%{http_code}' -X POST "$servers/keyprov/sip:alice@example.org")"
[ "$code" = "403" ] && ok "a server gets only its own keys: 403 for another identity" || bad "server asking for alice: $code"

# A valid certificate for an identity that is not configured.
code="$(as_server rogue -o "$tmp/rogue.xml" -w '%{http_code}' -X POST "$servers/keyprov")"
[ "$code" = "403" ] && ok "certificate of an unconfigured identity: 403" || bad "rogue: $code"
xmllint --noout --schema "$xsd" "$tmp/rogue.xml" 2>/dev/null && ok "its KmsError is valid against the XSD" || bad "rogue XSD"
# No certificate at all: nginx refuses before mcx-kms sees anything.
code="$("${curl_tls[@]}" -o /dev/null -w '%{http_code}' -X POST "$servers/keyprov")"
[ "$code" = "400" ] && ok "no client certificate: refused by nginx (400)" || bad "no certificate: $code"

# The header straight to mcx-kms from an address that is not a trusted proxy.
code="$(curl -sS --max-time 5 --interface 127.0.0.2 -o "$tmp/direct.xml" -w '%{http_code}' -X POST \
  -H "X-3GPP-Asserted-Identity: $gms" "http://127.0.0.1:$kms_port/keymanagement/identity/v1/keyprov")"
[ "$code" = "403" ] && ok "asserted identity from 127.0.0.2 (not a trusted proxy): 403" || bad "untrusted address: $code"
grep -q "trusted proxy" "$tmp/direct.xml" && ok "the error names the trusted-proxy rule" || bad "error text: $(cat "$tmp/direct.xml")"

# A user through the users' listener, trying to assert the server's identity: nginx blanks the
# header, and the user's token decides.
token="$("$bin" token --demo-dir "$tmp/demo" --user sip:alice@example.org 2>/dev/null | tail -n 1)"
code="$("${curl_tls[@]}" -o "$tmp/user.xml" -w '%{http_code}' -X POST -H "Authorization: Bearer $token" \
  -H "X-3GPP-Asserted-Identity: $gms" "$users/keyprov")"
[ "$code" = "200" ] && [ "$(xp "$tmp/user.xml" UserUri)" = "sip:alice@example.org" ] \
  && ok "a user's token still works, and an asserted identity from a user is ignored" \
  || bad "user through the proxy: $code $(xp "$tmp/user.xml" UserUri)"
code="$("${curl_tls[@]}" -o /dev/null -w '%{http_code}' -X POST -H "X-3GPP-Asserted-Identity: $gms" "$users/keyprov")"
[ "$code" = "401" ] && ok "no token on the users' listener: 401, whatever the header says" || bad "user without token: $code"
exit $fail
