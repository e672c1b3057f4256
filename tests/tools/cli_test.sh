#!/usr/bin/env bash
# End-to-end checks of the mcx-kms binary: the demo issues and validates, and bad input to
# verify gives a clear error and a non-zero exit.
set -u
bin="$1"
fail=0
check() { # description, expected substring, command...
  local what="$1" expect="$2"; shift 2
  local out; out="$("$@" 2>&1)"; local rc=$?
  if [[ "$out" != *"$expect"* ]]; then
    echo "FAIL: $what: expected '$expect' in:"; echo "$out"; fail=1
  else
    echo "ok: $what"
  fi
  return $rc
}

check "demo issues and validates 20 key sets" "validated 20/20 key sets" "$bin" demo --users 20 --threads 2 \
  || { echo "FAIL: demo exited non-zero"; fail=1; }
check "demo prints the issue rate" "key sets/s" "$bin" demo --users 5
if check "demo refuses zero users" "--users must be at least 1" "$bin" demo --users 0; then
  echo "FAIL: demo --users 0 exited 0"; fail=1
fi
if check "verify refuses a non-URI identity" "is not a URI" "$bin" verify --pub-enc-key 00 --pub-auth-key 00 \
    --user alice --kms-uri kms.example.org --period-no 1 --rsk 00 --ssk 00 --pvt 00; then
  echo "FAIL: verify exited 0 on a bad identity"; fail=1
fi
if check "verify refuses a short public key" "--pub-enc-key must be 257 octets" "$bin" verify --pub-enc-key 0400 \
    --pub-auth-key 00 --user sip:alice@example.org --kms-uri kms.example.org --period-no 1 --rsk 00 --ssk 00 --pvt 00; then
  echo "FAIL: verify exited 0 on a short key"; fail=1
fi
if check "verify needs both answers" "give both --init and --keyprov" "$bin" verify --init /dev/null; then
  echo "FAIL: verify exited 0 with only --init"; fail=1
fi
for mix in "1:x" ":1" "1:" "x:1" "1:2:3" "-1:2" "0:0"; do
  if check "bench http refuses --mix $mix" "--mix must be INIT:KEYPROV" "$bin" bench http http://127.0.0.1:9 --mix "$mix"; then
    echo "FAIL: bench http --mix $mix exited 0"; fail=1
  fi
done
notxml="$(mktemp)"
trap 'rm -f "$notxml"' EXIT
echo "this is not a KmsResponse" > "$notxml"
if check "verify refuses an answer that is not a KmsResponse" "not well-formed XML" "$bin" verify --init "$notxml" \
    --keyprov "$notxml"; then
  echo "FAIL: verify exited 0 on a non-XML answer"; fail=1
fi
exit $fail
