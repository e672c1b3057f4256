#!/usr/bin/env bash
# Runs a command beside a PostgreSQL 15 server of its own: initdb in a temporary directory, the
# server on an ephemeral loopback port (trust authentication, loopback only), one database
# mcx_test; the command gets its URL in $MCX_TEST_POSTGRES_URL (loopback TCP) and in
# $MCX_TEST_POSTGRES_SOCKET_URL (the Unix-domain socket, in the temporary directory). The server
# is stopped and the directory removed afterwards, whatever the command did; the command's exit
# status is returned.
#
# PostgreSQL refuses to run as root: when this script is root (as in CI), initdb and the server
# run as the `postgres` system user the Debian package creates; otherwise as the caller.
# The test server does not fsync (its data is thrown away); --durable keeps fsync on and makes
# commits asynchronous (synchronous_commit=off), the durability of the SQLite store's WAL with
# synchronous=NORMAL, for benchmarks that compare the two.
#   usage: with_postgres.sh [--durable] COMMAND [ARGS...]
set -uo pipefail
pgbin=/usr/lib/postgresql/15/bin
durable=0
if [ "${1:-}" = "--durable" ]; then durable=1; shift; fi
[ $# -gt 0 ] || { echo "usage: with_postgres.sh [--durable] COMMAND [ARGS...]" >&2; exit 2; }
[ -x "$pgbin/initdb" ] || { echo "with_postgres.sh: no $pgbin/initdb: install postgresql-15 (tools/install-deps.sh)" >&2; exit 1; }

as_pg=()
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || { echo "with_postgres.sh: running as root and there is no user postgres" >&2; exit 1; }
  as_pg=(runuser -u postgres --)
fi
tmp="$(mktemp -d /tmp/mcx-pg-XXXXXX)"
chmod 0700 "$tmp"
[ ${#as_pg[@]} -eq 0 ] || chown postgres: "$tmp"
started=0
cleanup() {
  [ "$started" = 1 ] && "${as_pg[@]}" "$pgbin/pg_ctl" -D "$tmp/data" -m immediate -w stop >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT

# free_port, as the end-to-end tests pick theirs.
# shellcheck source=../../tools/demo-kms-lib.sh
source "$(dirname "$(realpath "$0")")/../../tools/demo-kms-lib.sh"

"${as_pg[@]}" "$pgbin/initdb" -D "$tmp/data" -U mcx -A trust -E UTF8 --locale=C --no-sync >"$tmp/initdb.log" 2>&1 \
  || { echo "with_postgres.sh: initdb failed:" >&2; cat "$tmp/initdb.log" >&2; exit 1; }
if [ "$durable" = 1 ]; then
  settings="-c synchronous_commit=off"
else
  settings="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
fi
# A port taken between free_port and the server's bind makes pg_ctl fail: try another.
for _ in 1 2 3; do
  port="$(free_port)"
  if "${as_pg[@]}" "$pgbin/pg_ctl" -D "$tmp/data" -l "$tmp/server.log" -w -t 60 \
       -o "-c listen_addresses=127.0.0.1 -p $port -k $tmp -c max_connections=200 $settings" start >/dev/null 2>&1; then
    started=1
    break
  fi
done
[ "$started" = 1 ] || { echo "with_postgres.sh: the server did not start:" >&2; cat "$tmp/server.log" >&2; exit 1; }
"$pgbin/createdb" -h 127.0.0.1 -p "$port" -U mcx mcx_test || exit 1

export MCX_TEST_POSTGRES_URL="postgresql://mcx@127.0.0.1:$port/mcx_test"
# The same server through its Unix-domain socket (libpq takes the directory, percent-encoded, as host).
export MCX_TEST_POSTGRES_SOCKET_URL="postgresql://mcx@${tmp//\//%2F}:$port/mcx_test"
"$@"
rc=$?
exit "$rc"
