#!/usr/bin/env bash
# Installs the Debian 12 packages mcx-kms needs to build, test and run. Idempotent: packages that
# are already installed are skipped, and `apt-get update` runs once, only when something is missing.
set -euo pipefail

packages=(
  cmake ninja-build g++ make pkg-config   # Ninja: schedules every target's files at once (tools/build.sh)
  libssl-dev            # OpenSSL 3: SHA-256, AES-GCM, generic BIGNUM/EC reference arithmetic
  libgmp-dev            # fast variable-time inversions (blinded) for the fast kernels
  libtbb-dev            # oneTBB: the bulk pipeline
  libboost1.81-dev      # Beast 345 (1.81, chosen over the default 1.74 -dev packages)
  libboost-url1.81-dev  # Boost.URL: the KMS URL of bench http, percent-decoding of request paths
  libfmt-dev            # {fmt}: the figures in reports and on the command line
  libcli11-dev          # the command line
  libtomlplusplus-dev   # the KMS configuration file
  libsqlite3-dev sqlite3  # the embedded store (and its shell, for tests and operators)
  postgresql-15 libpq-dev  # the PostgreSQL store (libpq) and the server its tests start on loopback
  softhsm2 opensc p11-kit libp11-kit-dev   # the test token, pkcs11-tool, pkcs11.h
  libgtest-dev libgmock-dev libbenchmark-dev valgrind
  libxml2-utils curl
  libxml2-dev           # parses KmsRequest bodies (api/)
  nlohmann-json3-dev    # parses access-token (JWT) claims and JWKS files (api/)
  libcjose-dev libjansson-dev  # JOSE for access tokens (api/); cjose's pkg-config file needs jansson's
  nginx wrk             # the proxy end-to-end tests (TLS, replicas with failover) and the HTTP benchmark
  python3               # the end-to-end tests read bench http's JSON reports
  chromium              # headless: the capacity report's HTML test (tests/bench/html_report_test.sh)
  clang-14 libclang-rt-14-dev llvm-14   # tools/test.sh: the ASan/UBSan build, libFuzzer, llvm-symbolizer
  libasan8 libubsan1 libtsan2           # g++ 12's sanitizer runtimes (the TSan build)
)

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: run as root (apt-get needs it), or install these yourself: ${packages[*]}" >&2
  exit 1
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
