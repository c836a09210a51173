#!/usr/bin/env bash
# scripts/cleanup.sh PREFIX — delete the network namespaces whose names start
# with PREFIX: labs left behind by a killed icmpgw or an interrupted test. It
# lists what it deletes and touches nothing else. It refuses a PREFIX that
# belongs to a running icmpgw (its lock in /run/icmpgw is held), and it never
# deletes a namespace of any running lab: it skips, and says so, each name
# that starts with the prefix of a held lock (cleanup.sh trg- leaves a running
# trg-x- lab alone, cleanup.sh icmpgw- the test suite's icmpgw-t... labs) or
# that a running lab lists in its state file (/run/icmpgw/PREFIXstate).
# "icmpgw down --prefix PREFIX" does the same for one lab, knowing its hosts.
set -euo pipefail
if [[ $# -ne 1 || -z $1 ]]; then
  echo "usage: $0 PREFIX   (e.g. $0 icmpgw-  deletes icmpgw-client, icmpgw-server, ...;" >&2
  echo "       namespaces of a running lab, e.g. icmpgw-t...-client of a running test, are skipped)" >&2
  exit 2
fi
prefix=$1
dir=/run/icmpgw

# held LOCK: true if a running icmpgw holds LOCK (its flock, LOCK_EX, is
# taken: ours, shared and non-blocking, fails). A lock file that is gone is
# not held; one that is there but cannot be opened counts as held.
held() {
  local rc=none
  { rc=0; flock -n -s 9 || rc=$?; } 2>/dev/null 9<"$1" || true
  if [[ $rc == none ]]; then [[ -e $1 ]]; return; fi
  [[ $rc != 0 ]]
}

# holder L: the pid of the icmpgw running lab L, from its lock file, its state
# file or fuser; empty if none of them tells.
holder() {
  local pid=""
  pid=$(tr -dc 0-9 <"$dir/${1}lock" 2>/dev/null) || true
  [[ -n $pid ]] || pid=$(sed -n 's/.*"pid":\([0-9]*\).*/\1/p' "$dir/${1}state" 2>/dev/null) || true
  [[ -n $pid ]] || pid=$(fuser "$dir/${1}lock" 2>/dev/null | tr -s ' ' | sed 's/^ //') || true
  echo "$pid"
}

# listed L NS: true if lab L's state file lists namespace NS.
listed() {
  local names
  names=$(sed -n 's/.*"namespaces":\[\([^]]*\)\].*/\1/p' "$dir/${1}state" 2>/dev/null) || return 1
  [[ -n $names ]] && tr ',' '\n' <<<"$names" | tr -d '" ' | grep -xF -- "$2" >/dev/null
}

# owner NS: prints the prefix of the running lab NS belongs to (its name
# starts with the lab's prefix, or the lab's state file lists it) and
# returns true; returns false if no running lab claims NS.
owner() {
  local lock l
  for lock in "$dir"/*lock; do
    [[ -e $lock ]] || continue
    l=$(basename "$lock")
    l=${l%lock}
    [[ -n $l ]] || continue
    if [[ $1 == "$l"* ]] || listed "$l" "$1"; then
      if held "$lock"; then echo "$l"; return 0; fi
    fi
  done
  return 1
}

if held "$dir/${prefix}lock"; then
  pid=$(holder "$prefix")
  echo "$0: a running icmpgw (pid ${pid:-unknown}) holds prefix $prefix; stop it instead" >&2
  exit 1
fi
# List first, then look at the locks, one namespace at a time just before
# deleting it: a lab that starts meanwhile holds its lock before it creates
# any namespace, so it is either seen or has nothing in this list.
mapfile -t names < <(ip netns list | awk '{print $1}')
found=0 skipped=0
for ns in "${names[@]}"; do
  [[ $ns == "$prefix"* ]] || continue
  found=1
  if lab=$(owner "$ns"); then
    pid=$(holder "$lab")
    echo "skipping $ns: lab $lab is running${pid:+ (pid $pid)}"
    skipped=$((skipped + 1))
    continue
  fi
  echo "+ ip netns del $ns"
  ip netns del "$ns"
done
((found)) || echo "no namespace starts with $prefix"
((skipped == 0)) || echo "skipped $skipped namespace(s) of running labs; stop those labs to remove them"
