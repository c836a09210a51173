#!/usr/bin/env bash
# scripts/cleanup.sh PREFIX — delete the network namespaces whose names start
# with PREFIX: labs left behind by a killed icmpgw or an interrupted test. It
# lists what it deletes and touches nothing else. It refuses a PREFIX that
# belongs to a running icmpgw (its lock in /run/icmpgw is held).
# "icmpgw down --prefix PREFIX" does the same for one lab, knowing its hosts.
set -euo pipefail
if [[ $# -ne 1 || -z $1 ]]; then
  echo "usage: $0 PREFIX   (e.g. $0 icmpgw-  deletes icmpgw-client, icmpgw-server, ...)" >&2
  exit 2
fi
prefix=$1
lock=/run/icmpgw/${prefix}lock
if [[ -e $lock ]] && ! flock -n "$lock" true; then
  echo "$0: a running icmpgw (pid $(cat "$lock")) holds prefix $prefix; stop it instead" >&2
  exit 1
fi
found=0
while read -r ns _; do
  if [[ $ns == "$prefix"* ]]; then
    echo "+ ip netns del $ns"
    ip netns del "$ns"
    found=1
  fi
done < <(ip netns list)
((found)) || echo "no namespace starts with $prefix"
