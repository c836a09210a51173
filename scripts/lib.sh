# scripts/lib.sh — shell helpers the scripts share. Source it.

# wait_ready NAME PID LOG: waits up to 30 s for "icmpgw up" (PID, writing to
# LOG) to print its ready line; on failure prints LOG and exits 1.
wait_ready() {
  local name=$1 pid=$2 log=$3
  for _ in $(seq 300); do
    grep -q ready "$log" && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  grep -q ready "$log" && return 0
  echo "$name: icmpgw did not get ready in 30 s:" >&2
  cat "$log" >&2
  exit 1
}

# stop_icmpgw PID: SIGTERM, up to 15 s to exit, then SIGKILL.
stop_icmpgw() {
  local pid=$1
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid"
  for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  wait "$pid" 2>/dev/null
  return 0
}
