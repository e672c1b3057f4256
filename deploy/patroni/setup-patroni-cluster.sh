#!/usr/bin/env bash
# A Patroni-managed PostgreSQL 15 pair for the mcx-kms store: a primary and a synchronous
# streaming standby, with etcd as Patroni's DCS, the KMS's database and user, and the multi-host
# store URL (target_session_attrs=read-write) to put in mcx-kms.toml. Not run by CI.
#
#   up      starts, on this machine, one etcd and two Patroni members (db1, db2) whose state lives
#           in --dir; creates the KMS's role and database; waits for a leader and a synchronous
#           standby; prints the store URL. Run again, it starts what is not running and changes
#           nothing else (the passwords, once made, are kept).
#   status  patronictl list
#   url     prints the store URL and the pgpass file that holds the KMS's password
#   down    stops both members (each stops its PostgreSQL) and etcd; --purge then deletes --dir
#   config  prints the Patroni configuration of one member on a real host (--name, --address,
#           --etcd-hosts, ...), for /etc/patroni/config.yml and Debian's patroni.service
#
# Run as root, it installs the Debian 12 packages it needs (patroni, etcd-server, etcd-client,
# postgresql-15) with apt-get, and runs etcd, Patroni and PostgreSQL as --os-user (default
# postgres: PostgreSQL refuses to run as root). Run as another user, it runs everything as that
# user and only says which packages are missing.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
template="$here/patroni-member.yml.in"
pgbin=/usr/lib/postgresql/15/bin

usage() {
  cat <<'EOF'
usage: setup-patroni-cluster.sh [options] up|status|url|down|config

Both members on one machine (up, status, url, down):
  --dir DIR            where etcd, the members' data, logs, pid files and passwords live
                       (default: /var/lib/mcx-patroni as root, else ~/mcx-patroni)
  --address ADDR       the address every process listens on (default 127.0.0.1)
  --pg-ports P1,P2     PostgreSQL ports of db1 and db2 (default 15433,15434)
  --api-ports A1,A2    Patroni REST API ports of db1 and db2 (default 18008,18009)
  --etcd-ports C,P     etcd client and peer ports (default 12379,12380)
  --database NAME      the KMS's database (default mcx)
  --db-user NAME       the KMS's PostgreSQL user, its owner (default mcx)
  --scope NAME         the Patroni cluster name (default mcx-kms)
  --strict             synchronous_mode_strict: with the standby gone, commits wait for it
                       (default: the primary carries on alone until the standby is back)
  --os-user USER       run as root: the user etcd, Patroni and PostgreSQL run as (default postgres)
  --purge              down: delete --dir afterwards (the databases with it)

One member on a real host (config; prints YAML on stdout):
  --name NAME --address ADDR --etcd-hosts H1:2379,H2:2379,H3:2379
  [--pg-port 5432] [--api-port 8008] [--member-network CIDR] [--kms-network CIDR]
  [--data-dir /var/lib/postgresql/15/mcx-kms] [--socket-dir /var/run/postgresql]
  [--database mcx] [--db-user mcx] [--scope mcx-kms] [--strict]
  Passwords go in the environment of patroni.service (/etc/patroni_env.conf, 0600):
  PATRONI_SUPERUSER_PASSWORD, PATRONI_REPLICATION_PASSWORD, PATRONI_REWIND_PASSWORD.
EOF
}

die() { echo "setup-patroni-cluster: $*" >&2; exit 1; }
say() { echo "setup-patroni-cluster: $*"; }

# --- options
command=""
dir=""
address=127.0.0.1
address_given=""
pg_ports=15433,15434
api_ports=18008,18009
etcd_ports=12379,12380
database=mcx
db_user=mcx
scope=mcx-kms
strict=false
os_user=""
purge=""
name=""
etcd_hosts=""
pg_port=5432
api_port=8008
member_network=""
kms_network=""
data_dir=/var/lib/postgresql/15/mcx-kms
socket_dir=/var/run/postgresql
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --dir) dir="$2"; shift 2 ;;
    --address) address="$2"; address_given=1; shift 2 ;;
    --pg-ports) pg_ports="$2"; shift 2 ;;
    --api-ports) api_ports="$2"; shift 2 ;;
    --etcd-ports) etcd_ports="$2"; shift 2 ;;
    --database) database="$2"; shift 2 ;;
    --db-user) db_user="$2"; shift 2 ;;
    --scope) scope="$2"; shift 2 ;;
    --strict) strict=true; shift ;;
    --os-user) os_user="$2"; shift 2 ;;
    --purge) purge=1; shift ;;
    --name) name="$2"; shift 2 ;;
    --etcd-hosts) etcd_hosts="$2"; shift 2 ;;
    --pg-port) pg_port="$2"; shift 2 ;;
    --api-port) api_port="$2"; shift 2 ;;
    --member-network) member_network="$2"; shift 2 ;;
    --kms-network) kms_network="$2"; shift 2 ;;
    --data-dir) data_dir="$2"; shift 2 ;;
    --socket-dir) socket_dir="$2"; shift 2 ;;
    up|status|url|down|config) [ -z "$command" ] || die "one command only (got $command and $1)"; command="$1"; shift ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
[ -n "$command" ] || { usage >&2; exit 2; }
for v in "$database" "$db_user" "$scope" "$name"; do
  [[ "$v" =~ ^[A-Za-z0-9_-]*$ ]] || die "'$v': names may hold letters, digits, _ and - only"
done

# render NAME ADDRESS LISTEN PG_PORT API_PORT DATA_DIR PATRONI_PGPASS SOCKET_DIR MEMBER_NET KMS_NET ETCD_HOSTS
render() {
  [ -r "$template" ] || die "no template at $template"
  sed -e "s|@NAME@|$1|g" -e "s|@ADDRESS@|$2|g" -e "s|@LISTEN@|$3|g" -e "s|@PG_PORT@|$4|g" \
      -e "s|@API_PORT@|$5|g" -e "s|@DATA_DIR@|$6|g" -e "s|@PATRONI_PGPASS@|$7|g" \
      -e "s|@SOCKET_DIR@|$8|g" -e "s|@MEMBER_NETWORK@|$9|g" -e "s|@KMS_NETWORK@|${10}|g" \
      -e "s|@ETCD_HOSTS@|${11}|g" -e "s|@SCOPE@|$scope|g" -e "s|@DATABASE@|$database|g" \
      -e "s|@DB_USER@|$db_user|g" -e "s|@STRICT@|$strict|g" "$template"
}

if [ "$command" = config ]; then
  if [ -z "$name" ] || [ -z "$address_given" ] || [ -z "$etcd_hosts" ]; then
    die "config needs --name, --address (this host's address on the members' network) and --etcd-hosts"
  fi
  [ -n "$member_network" ] || member_network="$address/32"
  [ -n "$kms_network" ] || kms_network="$member_network"
  render "$name" "$address" "$address" "$pg_port" "$api_port" "$data_dir" \
    /var/lib/postgresql/15-mcx-kms.pgpass "$socket_dir" "$member_network" "$kms_network" "$etcd_hosts"
  exit 0
fi

# --- both members on this machine
IFS=, read -r pg1 pg2 <<<"$pg_ports"
IFS=, read -r api1 api2 <<<"$api_ports"
IFS=, read -r etcd_client etcd_peer <<<"$etcd_ports"
for p in "$pg1" "$pg2" "$api1" "$api2" "$etcd_client" "$etcd_peer"; do
  [[ "$p" =~ ^[0-9]+$ ]] || die "ports are 'N,N' pairs (--pg-ports, --api-ports, --etcd-ports)"
done
if [ -z "$dir" ]; then
  if [ "$(id -u)" = 0 ]; then dir=/var/lib/mcx-patroni; else dir="$HOME/mcx-patroni"; fi
fi
dir="$(realpath -m "$dir")"
run_as=()
if [ "$(id -u)" = 0 ]; then
  os_user="${os_user:-postgres}"
  [ "$os_user" != root ] || die "PostgreSQL refuses to run as root: give --os-user another user"
  run_as=(runuser -u "$os_user" --)
elif [ -n "$os_user" ] && [ "$os_user" != "$(id -un)" ]; then
  die "--os-user needs root; run as $os_user instead"
fi
url="postgresql://$db_user@$address:$pg1,$address:$pg2/$database?target_session_attrs=read-write&connect_timeout=2"
secrets="$dir/secrets.env"
kms_pgpass="$dir/kms.pgpass"
ctl=("${run_as[@]}" patronictl -c "$dir/db1.yml")

alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

install_packages() {
  local missing=() p
  for p in patroni etcd-server etcd-client postgresql-15 postgresql-client-15; do
    dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -gt 0 ] || return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing ${missing[*]} (apt-get install -y)"
    # (on a host with systemd, these packages start their default services: etcd on 2379 and a
    # PostgreSQL cluster 15/main on 5432; this set-up uses ports of its own and does not need them)
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null
  else
    die "missing Debian packages: ${missing[*]} (as root: apt-get install ${missing[*]})"
  fi
}

# A random password without characters that need quoting in pgpass, SQL or shell.
new_password() { head -c 24 /dev/urandom | base64 | tr -d '/+='; }

make_secrets() {
  [ -s "$secrets" ] && return 0
  ( umask 077
  {
    echo "PATRONI_SUPERUSER_PASSWORD=$(new_password)"
    echo "PATRONI_REPLICATION_PASSWORD=$(new_password)"
    echo "PATRONI_REWIND_PASSWORD=$(new_password)"
    echo "MCX_KMS_DB_PASSWORD=$(new_password)"
  } >"$secrets" )
  say "passwords made in $secrets (0600)"
}
secret() { sed -n "s/^$1=//p" "$secrets"; }

start_etcd() {
  if alive "$dir/etcd.pid"; then say "etcd already running (pid $(cat "$dir/etcd.pid"))"; return; fi
  say "starting etcd on $address:$etcd_client (log $dir/etcd.log)"
  # The flags that name the cluster count only on the first start; later starts read the data dir.
  "${run_as[@]}" setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$dir/etcd.pid" \
    etcd --name mcx-etcd --data-dir "$dir/etcd" \
    --listen-client-urls "http://$address:$etcd_client" --advertise-client-urls "http://$address:$etcd_client" \
    --listen-peer-urls "http://$address:$etcd_peer" --initial-advertise-peer-urls "http://$address:$etcd_peer" \
    --initial-cluster "mcx-etcd=http://$address:$etcd_peer" --initial-cluster-token "$scope" \
    </dev/null >>"$dir/etcd.log" 2>&1 &
  for _ in $(seq 1 100); do
    ETCDCTL_API=3 etcdctl --endpoints "http://$address:$etcd_client" endpoint health >/dev/null 2>&1 && return
    sleep 0.2
  done
  die "etcd did not come up: see $dir/etcd.log"
}

start_member() {  # NAME PG_PORT API_PORT
  local n="$1"
  render "$n" "$address" "$address" "$2" "$3" "$dir/$n" "$dir/$n.pgpass" "$dir/run" \
    "$address/32" "$address/32" "$address:$etcd_client" >"$dir/$n.yml"
  [ ${#run_as[@]} -eq 0 ] || chown "$os_user:" "$dir/$n.yml"
  if alive "$dir/$n.pid"; then say "$n already running (pid $(cat "$dir/$n.pid"))"; return; fi
  say "starting Patroni member $n: PostgreSQL on $address:$2, REST API on $address:$3 (log $dir/$n.log)"
  "${run_as[@]}" setsid bash -c 'echo $$ >"$1"; set -a; . "$2"; set +a; unset MCX_KMS_DB_PASSWORD; exec patroni "$3"' \
    _ "$dir/$n.pid" "$secrets" "$dir/$n.yml" </dev/null >>"$dir/$n.log" 2>&1 &
}

members_json() { "${ctl[@]}" list -f json 2>/dev/null || echo '[]'; }
leader() { members_json | /usr/bin/python3 -c 'import json,sys; print(next((m["Member"] for m in json.load(sys.stdin) if m["Role"]=="Leader" and m["State"]=="running"), ""))'; }
sync_standby() { members_json | /usr/bin/python3 -c 'import json,sys; print(next((m["Member"] for m in json.load(sys.stdin) if m["Role"]=="Sync Standby" and m["State"] in ("streaming","running")), ""))'; }
wait_for() {  # WHAT SECONDS FUNCTION: waits until FUNCTION prints something
  local out=""
  for _ in $(seq 1 "$(($2 * 2))"); do
    out="$($3)"
    [ -n "$out" ] && { echo "$out"; return 0; }
    sleep 0.5
  done
  die "no $1 after $2 s: see $dir/db1.log, $dir/db2.log, '$0 status'"
}

create_kms_database() {  # LEADER_PORT
  local pw
  pw="$(secret MCX_KMS_DB_PASSWORD)"
  local -a psql_su=("$pgbin/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir/run" -p "$1" -U postgres -d postgres)
  # The password goes on stdin, never in a process's arguments. Idempotent: the role and database
  # are made when missing, and the role's password set to the one in $secrets.
  PGPASSWORD="$(secret PATRONI_SUPERUSER_PASSWORD)" "${psql_su[@]}" <<SQL || die "could not create the role $db_user and the database $database"
SELECT format('CREATE ROLE %I LOGIN', '$db_user') WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$db_user')
\gexec
ALTER ROLE "$db_user" PASSWORD '$pw';
SELECT format('CREATE DATABASE %I OWNER %I ENCODING ''UTF8''', '$database', '$db_user')
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '$database')
\gexec
SQL
  ( umask 077
    printf '%s:%s:%s:%s:%s\n' "$address" "$pg1" "$database" "$db_user" "$pw" "$address" "$pg2" "$database" "$db_user" "$pw" \
      >"$kms_pgpass" )
}

print_url() {
  echo "store URL (mcx-kms.toml [store] url, or mcx-kms init --store-url):"
  echo "  $url"
  echo "the KMS's password, for libpq: PGPASSFILE=$kms_pgpass (or copy its lines into ~/.pgpass, 0600)"
}

case "$command" in
  up)
    install_packages
    mkdir -p "$dir/run"
    chmod 0700 "$dir"
    make_secrets
    [ ${#run_as[@]} -eq 0 ] || chown -R "$os_user:" "$dir"
    start_etcd
    start_member db1 "$pg1" "$api1"
    l="$(wait_for leader 120 leader)"
    say "leader: $l"
    start_member db2 "$pg2" "$api2"
    case "$l" in db1) lport="$pg1" ;; *) lport="$pg2" ;; esac
    create_kms_database "$lport"
    s="$(wait_for "synchronous standby" 180 sync_standby)"
    say "synchronous standby: $s"
    "${ctl[@]}" list
    print_url
    ;;
  status)
    "${ctl[@]}" list
    ;;
  url)
    print_url
    ;;
  down)
    # The standby first, then the primary: stopping the primary first would promote the standby.
    order="db2 db1"
    [ "$(leader 2>/dev/null)" = db2 ] && order="db1 db2"
    for p in $order etcd; do
      f="$dir/$p.pid"
      if alive "$f"; then
        pid="$(cat "$f")"
        say "stopping $p (pid $pid)"
        kill -TERM "$pid"
        for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        kill -0 "$pid" 2>/dev/null && die "$p (pid $pid) did not stop in 60 s"
      fi
      rm -f "$f"
      # A PostgreSQL left behind by a Patroni that was killed outright.
      if [ "$p" != etcd ] && [ -s "$dir/$p/postmaster.pid" ] && kill -0 "$(head -1 "$dir/$p/postmaster.pid")" 2>/dev/null; then
        say "stopping the PostgreSQL of $p, orphaned"
        "${run_as[@]}" "$pgbin/pg_ctl" -D "$dir/$p" -m fast -w stop >/dev/null
      fi
    done
    if [ -n "$purge" ]; then rm -rf "$dir"; say "removed $dir"; fi
    ;;
esac
