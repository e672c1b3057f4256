#!/usr/bin/env bash
# End-to-end checks of the mcx-kms binary: the demo issues and validates; bad input to verify and
# to bench http's --user-pattern gives a clear error and a non-zero exit; every command that works
# on a KMS takes --data-dir, and token's is the KMS's own test IdMS key (a demo KMS on loopback).
set -u
bin="$(realpath "$1")"  # absolute: some checks run from another directory
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
# shellcheck source=../../tools/demo-kms-lib.sh
source "$(dirname "$0")/../../tools/demo-kms-lib.sh"
tmp="$(mktemp -d /tmp/mcx-kms-cli-XXXXXX)"
trap 'stop_started; rm -rf "$tmp"' EXIT
notxml="$tmp/not.xml"
echo "this is not a KmsResponse" > "$notxml"
if check "verify refuses an answer that is not a KmsResponse" "not well-formed XML" "$bin" verify --init "$notxml" \
    --keyprov "$notxml"; then
  echo "FAIL: verify exited 0 on a non-XML answer"; fail=1
fi

# --user-pattern is checked when the command line is parsed, before any connection.
if check "bench http refuses a --user-pattern that is not one integer placeholder" \
    "--user-pattern: 'sip:%s@example.org' has a placeholder that is not %d or %u" \
    "$bin" bench http http://127.0.0.1:9 --user-pattern 'sip:%s@example.org'; then
  echo "FAIL: bench http exited 0 on --user-pattern %s"; fail=1
fi
if check "bench http refuses a --user-pattern without a placeholder" "has no placeholder" \
    "$bin" bench http http://127.0.0.1:9 --user-pattern 'sip:alice@example.org'; then
  echo "FAIL: bench http exited 0 on a --user-pattern without a placeholder"; fail=1
fi

# Every command that works on a KMS takes --data-dir.
for cmd in init provision serve token check-store demo "hsm info" "bench local" "bench http"; do
  # shellcheck disable=SC2086  # the two-word commands split on purpose
  check "$cmd takes --data-dir" "--data-dir" "$bin" $cmd --help
done

# token --data-dir: the test IdMS key of a KMS made by `init --demo`, which that KMS trusts; a
# directory without one gets an error, not a key made up for it.
mkdir -p "$tmp/cwd" "$tmp/empty"
if check "token --data-dir without a test key says so" "no test IdMS key in --data-dir" \
    "$bin" token --data-dir "$tmp/empty" --user sip:user00001@example.org; then
  echo "FAIL: token --data-dir on an empty directory exited 0"; fail=1
fi
[ -e "$tmp/empty/idms-test-key.pem" ] && { echo "FAIL: token made up a key in --data-dir"; fail=1; }
if check "token refuses --data-dir with --demo-dir" "excludes" \
    "$bin" token --data-dir "$tmp/empty" --demo-dir "$tmp/empty" --user sip:user00001@example.org; then
  echo "FAIL: token took both --data-dir and --demo-dir"; fail=1
fi
keyprov_status() { # token -> the HTTP status of keyprov for user 1 with it
  curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $1" \
    "http://127.0.0.1:$kms_port/keymanagement/identity/v1/keyprov/sip:user00001@example.org"
}
if start_demo_kms "$bin" "$tmp" --demo-users 1; then
  user=sip:user00001@example.org
  # serve prints a command that mints a token, never a token (a credential in a log file).
  if grep -q "eyJ" "$tmp/kms.log"; then
    echo "FAIL: serve's log holds an access token:"; cat "$tmp/kms.log"; fail=1
  else
    echo "ok: serve's log holds no access token"
  fi
  try_it="$(grep -A1 '^try it' "$tmp/kms.log" | sed -n 's/^  curl /curl /p')"
  if [ -n "$try_it" ] && bash -c "$try_it" 2>/dev/null | grep -q "<UserDecryptKey"; then
    echo "ok: serve's try-it command mints a token and gets a key set"
  else
    echo "FAIL: serve's try-it command ('$try_it') gets no key set"; fail=1
  fi
  by_flag="$(cd "$tmp/cwd" && "$bin" token --data-dir "$tmp/demo" --user "$user" 2>/dev/null | tail -n 1)"
  by_env="$(cd "$tmp/cwd" && MCX_KMS_DATA_DIR="$tmp/demo" "$bin" token --user "$user" 2>/dev/null | tail -n 1)"
  by_demo_dir="$("$bin" token --demo-dir "$tmp/demo" --user "$user" 2>/dev/null | tail -n 1)"
  other="$("$bin" token --demo-dir "$tmp/other" --user "$user" 2>/dev/null | tail -n 1)"
  for t in by_flag by_env by_demo_dir; do
    code="$(keyprov_status "${!t}")"
    [ "$code" = 200 ] && echo "ok: token ($t) is trusted by the KMS in the data directory" \
      || { echo "FAIL: token ($t): keyprov answered $code"; fail=1; }
  done
  code="$(keyprov_status "$other")"
  [ "$code" = 401 ] && echo "ok: a token from another test key is refused" \
    || { echo "FAIL: a token from another test key: keyprov answered $code"; fail=1; }
  [ -e "$tmp/cwd/mcx-kms-demo" ] && { echo "FAIL: token made a demo directory, not the data directory's key"; fail=1; }
  # --user-pattern, expanded by bench http: user 1 is the one provisioned user, in a %u form.
  if "$bin" bench http "http://127.0.0.1:$kms_port" --data-dir "$tmp/demo" --user-count 1 \
      --user-pattern 'sip:user%05u@example.org' --connections 1 --warmup 0.2 --duration 0.5 --mix 0:1 \
      --fail-on-errors >"$tmp/bench.txt" 2>&1; then
    echo "ok: bench http with --user-pattern sip:user%05u@example.org"
  else
    echo "FAIL: bench http with --user-pattern sip:user%05u@example.org:"; cat "$tmp/bench.txt"; fail=1
  fi
else
  fail=1
fi
exit $fail
