#!/usr/bin/env bash
# scripts/bench.sh — the packet path's benchmarks: forwarding and Time
# Exceeded per datagram size, ICMP builders, route lookup in a 10 000-route
# table, the rate limiter, the checksum. Every one must show 0 allocs/op.
# Needs no root. Pass -count N for benchstat-ready repeats.
set -euo pipefail
cd "$(dirname "$0")/.."
go test -run '^$' -bench . -benchmem "$@" ./routing/ ./responder/ ./tun/packet/
