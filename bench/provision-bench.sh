#!/usr/bin/env bash
# Bulk provisioning efficiency and scaling on a demo KMS (SoftHSM2 token, SQLite store), in one
# run: pure derivation against the whole pipeline, and 2 threads against 1.
#   bash bench/provision-bench.sh [IDENTITIES] [ROUNDS]
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
build="${BUILD_DIR:-$repo/build}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$build/tools/mcx-kms" init --demo --data-dir "$work/kms" >/dev/null
"$build/bench/provision_bench" "$work/kms" "${1:-20000}" "${2:-3}"
