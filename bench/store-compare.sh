#!/usr/bin/env bash
# The SQLite and PostgreSQL stores side by side (bench/store_compare.cc), against a PostgreSQL 15
# started on loopback for the run with the durability of the SQLite store (fsync on, commits
# asynchronous: tests/support/with_postgres.sh --durable).
#   usage: bench/store-compare.sh BUILD_DIR [KEY_SETS [ROUNDS]]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="$1"
shift
exec bash "$here/../tests/support/with_postgres.sh" --durable "$build/bench/store_compare" "$@"
