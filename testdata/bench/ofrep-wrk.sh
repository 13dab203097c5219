#!/usr/bin/env bash
# OFREP over loopback, measured against a trivial net/http handler in the
# same run (docs/BENCHMARKS.md). The server under test is pinned to CPU 0 and
# wrk to CPU 1; 64 connections; one wrk thread.
#
#   testdata/bench/ofrep-wrk.sh [DURATION]      # default 10s per measurement
#
# Needs wrk and taskset (Debian: apt-get install wrk util-linux). Prints a
# Markdown table of requests/s, p50, p99 and the ratio to the ceiling.
set -euo pipefail
cd "$(dirname "$0")/../.."
duration=${1:-10s}
for tool in wrk taskset go; do
  command -v "$tool" >/dev/null || { echo "ofrep-wrk.sh: $tool is required" >&2; exit 1; }
done

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/ramp" ./cmd/ramp
go build -o "$work/baseline" ./cmd/ofrep-baseline
export RAMP_DB="$work/bench.db" RAMP_ACTOR=bench
"$work/ramp" apply -f testdata/bench/fifty-flags.yaml -o table >/dev/null 2>&1
key=$("$work/ramp" keys create --role sdk --name bench -o table 2>/dev/null)
export RAMP_KEY=$key

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 never opened" >&2; exit 1; }

base_port=$(free_port)
taskset -c 0 "$work/baseline" --addr "127.0.0.1:$base_port" 2>/dev/null &
pids+=($!)
ramp_port=$(free_port)
taskset -c 0 "$work/ramp" serve --addr "127.0.0.1:$ramp_port" --rate-limit 0 2>"$work/serve.log" &
pids+=($!)
wait_up "$base_port"
wait_up "$ramp_port"

# measure NAME SCRIPT URL: one wrk run, printing "rps p50 p99".
measure() {
  local out rps p50 p99
  out=$(taskset -c 1 wrk -t1 -c64 -d"$duration" --latency -s "$2" "$3")
  if grep -q "Non-2xx" <<<"$out"; then
    echo "ofrep-wrk.sh: $1 got non-2xx answers:" >&2
    echo "$out" >&2
    exit 1
  fi
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  echo "$rps $p50 $p99"
}

# Warm up both servers.
taskset -c 1 wrk -t1 -c64 -d2s -s testdata/bench/single.lua "http://127.0.0.1:$ramp_port/ofrep/v1/evaluate/flags/bench-flag-01" >/dev/null
taskset -c 1 wrk -t1 -c64 -d2s -s testdata/bench/single.lua "http://127.0.0.1:$base_port/" >/dev/null

read -r b_rps b_p50 b_p99 < <(measure baseline testdata/bench/single.lua "http://127.0.0.1:$base_port/")
read -r s_rps s_p50 s_p99 < <(measure single testdata/bench/single.lua "http://127.0.0.1:$ramp_port/ofrep/v1/evaluate/flags/bench-flag-01")
read -r k_rps k_p50 k_p99 < <(measure bulk testdata/bench/bulk.lua "http://127.0.0.1:$ramp_port/ofrep/v1/evaluate/flags")

ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }
echo "| endpoint | requests/s | p50 | p99 | ratio to the trivial handler |"
echo "| --- | --- | --- | --- | --- |"
echo "| trivial net/http handler (60-byte body) | $b_rps | $b_p50 | $b_p99 | 1.00 |"
echo "| OFREP single flag (bench-flag-01: region + semver + 3-way split) | $s_rps | $s_p50 | $s_p99 | $(ratio "$s_rps" "$b_rps") |"
echo "| OFREP bulk, 50 flags | $k_rps | $k_p50 | $k_p99 | $(ratio "$k_rps" "$b_rps") |"
echo
echo "wrk -t1 -c64 -d$duration, server on CPU 0, wrk on CPU 1, $(nproc) CPUs, $(go version | awk '{print $3}')"
