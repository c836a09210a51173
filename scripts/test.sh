#!/usr/bin/env bash
# scripts/test.sh — icmpgw's whole test suite, the command README.md and
# .ci/run use. Run it as root on Debian from the repository's top:
#
#   sudo scripts/test.sh
#
# It installs the clients the integration tests drive when they are missing
# (iproute2, iputils-ping, iputils-tracepath, traceroute, tshark, tcpdump,
# mtr-tiny, bash), checks formatting, vet and staticcheck, runs every test
# with the race detector, then each fuzz target for FUZZTIME (default 30s).
# Unit tests need no root; integration tests build their own namespaces
# (prefix icmpgw-t*) and delete them by name. With CI=true no test skips for
# lack of root or tools: it fails.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v go >/dev/null; then
  echo "test.sh: go not found; install Go 1.26 or newer (https://go.dev/doc/install)" >&2
  exit 1
fi

declare -A tool_package=(
  [ip]=iproute2 [ping]=iputils-ping [tracepath]=iputils-tracepath
  [traceroute]=traceroute [tshark]=tshark [tcpdump]=tcpdump [mtr]=mtr-tiny [bash]=bash
)
missing=()
for tool in "${!tool_package[@]}"; do
  command -v "$tool" >/dev/null || missing+=("${tool_package[$tool]}")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "test.sh: missing ${missing[*]}; run as root to install them" >&2
  else
    echo "+ apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

set -x
unformatted=$(gofmt -l .)
if [[ -n $unformatted ]]; then
  echo "gofmt would change: $unformatted" >&2
  exit 1
fi
go vet ./...
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
go test -race -count=1 -timeout 15m ./...
# Allocation counts hold only without -race (it makes sync.Pool drop items).
go test -count=1 -run 'Allocs$' ./routing/ ./tun/...
scripts/soak.sh --duration "${SOAK_DURATION:-60s}"  # bounded soak: traffic and churn through 3 routers, then checks

# Every parser's fuzz target, for a bounded time each (FUZZTIME, default
# 30s); a crasher fails the run and is left in testdata/fuzz to commit.
# Minimizing each new input may take 3 s at most (Go's default is 60 s,
# which can spend a 30 s run on minimizing alone). The inputs a run finds
# stay in $(go env GOCACHE)/fuzz; copy them into PKG/testdata/fuzz/TARGET
# to keep them as seeds.
for target in ./tun/packet:FuzzValidate ./responder:FuzzAppendError ./routing:FuzzProcess ./scenarios:FuzzParse; do
  go test -run '^$' -fuzz "^${target#*:}\$" -fuzztime "${FUZZTIME:-30s}" -fuzzminimizetime 3s "${target%%:*}"
done
