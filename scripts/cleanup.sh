#!/usr/bin/env bash
# scripts/cleanup.sh [PREFIX] — delete the network namespaces of labs left
# behind by a killed icmpgw or an interrupted test: every namespace whose
# name starts with PREFIX (default "icmpgw-"). It lists what it deletes and
# touches nothing else. "icmpgw down --prefix P" does the same for one
# default lab.
set -euo pipefail
prefix=${1:-icmpgw-}
found=0
for ns in $(ip netns list | awk '{print $1}'); do
  if [[ $ns == "$prefix"* ]]; then
    echo "+ ip netns del $ns"
    ip netns del "$ns"
    found=1
  fi
done
((found)) || echo "no namespace starts with $prefix"
