#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the store's tests.
#
#   eval "$(.ci/postgres.sh start)"   # prints export lines: RAMP_TEST_DSN, RAMP_PG_DIR
#   .ci/postgres.sh stop              # stops the cluster in $RAMP_PG_DIR and deletes it
#
# start installs Debian's server package if no initdb is found, creates a
# cluster in a new temporary directory (owned by the postgres user when run as
# root, since the server refuses to run as root), starts it on 127.0.0.1 on the
# first free port from $RAMP_PG_PORT (default 55432), creates the role and
# database ramp_test, and prints the lines to eval. Progress goes to stderr;
# stdout carries only the export lines. The cluster trades durability for
# speed (fsync off): it is for tests only.
#
# stop takes the directory from $RAMP_PG_DIR, or as its argument.
set -euo pipefail

log() { echo "postgres.sh: $*" >&2; }

# bindir prints the newest installed server's bin directory, or nothing.
bindir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  if [[ -n $d && -x $d/initdb ]]; then echo "$d"; fi
}

# as_owner runs a command as the cluster's owner: postgres when we are root.
as_owner() {
  if [[ $(id -u) == 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# port_free reports whether nothing listens on 127.0.0.1:$1.
port_free() {
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start() {
  local bin
  bin=$(bindir)
  if [[ -z $bin ]]; then
    log "installing the postgresql server package"
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq postgresql; } >&2
    bin=$(bindir)
    [[ -n $bin ]] || { log "no initdb under /usr/lib/postgresql after installing postgresql"; exit 1; }
  fi

  local port=${RAMP_PG_PORT:-55432}
  local last=$((port + 100))
  while ! port_free "$port"; do
    port=$((port + 1))
    ((port < last)) || { log "no free port from ${RAMP_PG_PORT:-55432} to $last"; exit 1; }
  done

  local dir password
  dir=$(mktemp -d "${TMPDIR:-/tmp}/ramp-pg.XXXXXX")
  # On failure from here on, remove what was made.
  trap 'as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$dir"' ERR
  if [[ $(id -u) == 0 ]]; then chown postgres:postgres "$dir"; fi
  chmod 700 "$dir"
  password=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')

  log "creating a cluster in $dir with PostgreSQL $("$bin/postgres" --version | awk '{print $3}')"
  # Connections over the socket (only the owner can reach it, in $dir) are
  # trusted; TCP needs the password.
  as_owner "$bin/initdb" -D "$dir/data" -U postgres -E UTF8 --locale=C \
    --auth-local=trust --auth-host=scram-sha-256 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; false; }

  log "starting it on 127.0.0.1:$port"
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start -o \
    "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c deadlock_timeout=100ms" >&2 \
    || { cat "$dir/server.log" >&2; false; }

  as_owner "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U postgres -d postgres >&2 <<SQL
CREATE ROLE ramp_test LOGIN PASSWORD '$password';
CREATE DATABASE ramp_test OWNER ramp_test;
SQL
  trap - ERR

  echo "export RAMP_PG_DIR=$dir"
  echo "export RAMP_TEST_DSN='postgres://ramp_test:$password@127.0.0.1:$port/ramp_test?sslmode=disable'"
  log "ready; stop it with: .ci/postgres.sh stop $dir"
}

stop() {
  local dir=${1:-${RAMP_PG_DIR:-}}
  [[ -n $dir ]] || { log "stop: no cluster directory (set RAMP_PG_DIR or pass it)"; exit 2; }
  [[ -d $dir/data ]] || { log "stop: $dir holds no cluster"; exit 1; }
  local bin
  bin=$(bindir)
  [[ -n $bin ]] || { log "stop: no PostgreSQL installed"; exit 1; }
  if [[ -f $dir/data/postmaster.pid ]]; then
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >&2
  fi
  rm -rf "$dir"
  log "stopped and removed $dir"
}

case ${1:-} in
  start) start ;;
  stop) shift; stop "$@" ;;
  *) echo "usage: $0 start | stop [DIR]" >&2; exit 2 ;;
esac
