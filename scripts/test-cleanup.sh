#!/usr/bin/env bash
# scripts/test-cleanup.sh — checks, as root, that scripts/cleanup.sh and
# scripts/kernel-lab.sh never delete a running lab's namespaces. It runs a
# real "icmpgw up --prefix zcPID-x-", then "cleanup.sh zcPID-" must delete a
# stray zcPID-stray and leave the lab alone (it still forwards), and the
# exact prefix must be refused; after the lab stops, cleanup.sh removes what
# a SIGKILLed lab left. kernel-lab.sh is checked only if the default lab's
# names are free: down and up must refuse while "icmpgw up" runs, and work
# after. It deletes only the namespaces it made.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
[[ $(id -u) == 0 ]] || { echo "test-cleanup.sh: run it as root" >&2; exit 1; }
bin=$(mktemp -d)
p=zc$$- lab=zc$$-x- pid="" klab=0
finish() {
  [[ -z $pid ]] || stop_icmpgw "$pid"
  ((klab == 0)) || scripts/kernel-lab.sh down || true
  for ns in $(ip netns list | awk '{print $1}'); do
    [[ $ns == "$p"* ]] && ip netns del "$ns"
  done
  [[ -z $bin ]] || "$bin/icmpgw" down --prefix "$lab" >/dev/null 2>&1 || true
  rm -rf "$bin"
}
trap finish EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
go build -o "$bin/icmpgw" ./cmd/icmpgw
start() { # start PREFIX: icmpgw up --prefix PREFIX, in the background, until ready
  "$bin/icmpgw" up ${1:+--prefix "$1"} >"$bin/log" 2>&1 &
  pid=$!
  wait_ready test-cleanup "$pid" "$bin/log"
}
has() { ip netns list | awk '{print $1}' | grep -xF -- "$1" >/dev/null; }

start "$lab"
ip netns add "${p}stray"
out=$(scripts/cleanup.sh "$p")
echo "$out"
has "${p}stray" && fail "cleanup.sh $p left ${p}stray"
if ! has "${lab}client" || ! has "${lab}server"; then fail "cleanup.sh $p deleted the running lab's namespaces"; fi
grep -qF "skipping ${lab}client: lab $lab is running (pid $pid)" <<<"$out" || fail "no skip message"
ip netns exec "${lab}client" ping -c1 -W2 203.0.113.2 >/dev/null || fail "the lab stopped forwarding"
scripts/cleanup.sh "$lab" 2>/dev/null && fail "cleanup.sh $lab: want a refusal"
kill -KILL "$pid"; wait "$pid" 2>/dev/null || true; pid=""
scripts/cleanup.sh "$p"
has "${lab}client" && fail "cleanup.sh $p left a killed lab's ${lab}client"
echo "cleanup.sh: ok"

if [[ -e /run/icmpgw/icmpgw-lock ]] || has icmpgw-client || has icmpgw-server || has icmpgw-kref-rtr; then
  echo "kernel-lab.sh: skipped (the default lab's names are in use)"
  exit 0
fi
start ""
scripts/kernel-lab.sh down 2>/dev/null && fail "kernel-lab.sh down: want a refusal while icmpgw up runs"
scripts/kernel-lab.sh up 2>/dev/null && fail "kernel-lab.sh up: want a refusal while icmpgw up runs"
ip netns exec icmpgw-client ping -c1 -W2 203.0.113.2 >/dev/null || fail "kernel-lab.sh hurt the running lab"
stop_icmpgw "$pid"; pid=""
klab=1
scripts/kernel-lab.sh up
ip netns exec icmpgw-client ping -c1 -W2 203.0.113.2 >/dev/null || fail "the kernel lab does not forward"
scripts/kernel-lab.sh down; klab=0
if has icmpgw-client || has icmpgw-kref-rtr; then fail "kernel-lab.sh down left namespaces"; fi
echo "kernel-lab.sh: ok"
