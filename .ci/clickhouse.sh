#!/usr/bin/env bash
# A throwaway ClickHouse server for the events store's tests.
#
#   eval "$(.ci/clickhouse.sh start)"   # prints export lines: RAMP_TEST_CLICKHOUSE, RAMP_CH_DIR
#   .ci/clickhouse.sh stop              # stops the server in $RAMP_CH_DIR and deletes it
#
# start installs Debian's clickhouse-server package if the server is
# missing, and runs it in the background with the configuration in
# .ci/clickhouse/ (loopback only, one user without a password, short
# old_parts_lifetime), its data in a new temporary directory, its native
# and HTTP ports the first free pair from $RAMP_CH_PORT (default 59000,
# HTTP on the port + 1000). It waits for /ping on the HTTP port and prints
# the lines to eval. Progress goes to stderr; stdout carries only the
# export lines. Tests use the native port (the driver's HTTP interface does
# not work with ClickHouse 18.16, Debian's version).
#
# stop takes the directory from $RAMP_CH_DIR, or as its argument, and stops
# the server by the PID it recorded there. With RAMP_CH_DATA set at start,
# the data lives there instead, and stop leaves it for the next start.
set -euo pipefail

log() { echo "clickhouse.sh: $*" >&2; }

here=$(cd "$(dirname "$0")" && pwd)

# port_free reports whether nothing listens on 127.0.0.1:$1.
port_free() {
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

server_bin() {
  if [[ -x /usr/sbin/clickhouse-server ]]; then echo /usr/sbin/clickhouse-server; return; fi
  command -v clickhouse-server 2>/dev/null || true
}

start() {
  local bin
  bin=$(server_bin)
  if [[ -z $bin ]]; then
    log "installing the clickhouse-server package"
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq clickhouse-server clickhouse-client; } >&2
    bin=$(server_bin)
    [[ -n $bin ]] || { log "no clickhouse-server after installing the package"; exit 1; }
  fi

  local port=${RAMP_CH_PORT:-59000}
  local last=$((port + 100))
  while ! port_free "$port" || ! port_free $((port + 1000)); do
    port=$((port + 1))
    ((port < last)) || { log "no free port from ${RAMP_CH_PORT:-59000} to $last"; exit 1; }
  done
  local http=$((port + 1000))

  local dir data
  dir=$(mktemp -d "${TMPDIR:-/tmp}/ramp-ch.XXXXXX")
  mkdir -p "$dir/data" "$dir/tmp" "$dir/files" "$dir/schemas" "$dir/log"
  # RAMP_CH_DATA keeps the data in a directory of its own across runs (the
  # report benchmark's fixture takes long to make); stop leaves it.
  data=${RAMP_CH_DATA:-$dir/data}
  mkdir -p "$data"
  if [[ $(id -u) == 0 ]] && id clickhouse >/dev/null 2>&1; then chown clickhouse:clickhouse "$data"; fi
  # The server reads users.xml beside its config file.
  cp "$here/clickhouse/config.xml" "$here/clickhouse/users.xml" "$dir/"
  if [[ $(id -u) == 0 ]] && id clickhouse >/dev/null 2>&1; then chown -R clickhouse:clickhouse "$dir"; fi
  trap 'if [[ -f $dir/pid ]]; then kill "$(cat "$dir/pid")" 2>/dev/null || true; fi; rm -rf "$dir"' ERR

  log "starting ClickHouse $(dpkg-query -W -f='${Version}' clickhouse-server 2>/dev/null || echo '(version unknown)') in $dir on 127.0.0.1:$port (HTTP $http)"
  local as=()
  if [[ $(id -u) == 0 ]] && id clickhouse >/dev/null 2>&1; then as=(runuser -u clickhouse --); fi
  (cd "$dir" && exec "${as[@]}" "$bin" --config-file="$dir/config.xml" -- \
    --path="$data/" --tmp_path="$dir/tmp/" --user_files_path="$dir/files/" \
    --format_schema_path="$dir/schemas/" --tcp_port="$port" --http_port="$http" \
    --logger.log="$dir/log/server.log" --logger.errorlog="$dir/log/error.log" \
    >"$dir/log/stdout.log" 2>&1 </dev/null) &
  echo $! >"$dir/pid"

  local i
  for ((i = 0; i < 120; i++)); do
    if [[ $(curl -s --max-time 2 "http://127.0.0.1:$http/ping" 2>/dev/null) == Ok.* ]]; then break; fi
    if ! kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
      log "the server exited:"; cat "$dir/log/stdout.log" "$dir/log/error.log" >&2 2>/dev/null || true; false
    fi
    sleep 0.5
  done
  ((i < 120)) || { log "no answer on /ping after 60 s"; cat "$dir/log/error.log" >&2 2>/dev/null || true; false; }
  trap - ERR

  echo "export RAMP_CH_DIR=$dir"
  echo "export RAMP_TEST_CLICKHOUSE='clickhouse://127.0.0.1:$port'"
  log "ready; stop it with: .ci/clickhouse.sh stop $dir"
}

stop() {
  local dir=${1:-${RAMP_CH_DIR:-}}
  [[ -n $dir ]] || { log "stop: no server directory (set RAMP_CH_DIR or pass it)"; exit 2; }
  [[ -f $dir/pid ]] || { log "stop: $dir holds no server"; exit 1; }
  local pid i
  pid=$(cat "$dir/pid")
  if kill "$pid" 2>/dev/null; then
    for ((i = 0; i < 120; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.5
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "stop: the server did not stop in 60 s; killing it"
      kill -9 "$pid" 2>/dev/null || true
    fi
  fi
  rm -rf "$dir"
  log "stopped and removed $dir"
}

case ${1:-} in
  start) start ;;
  stop) shift; stop "$@" ;;
  *) echo "usage: $0 start | stop [DIR]" >&2; exit 2 ;;
esac
