#!/usr/bin/env bash
# scripts/bench.sh — icmpgw's benchmarks (issue 4). From anywhere:
#
#   scripts/bench.sh [--micro] [--compare] [--rounds N] [--json FILE] [--prefix P] [GO-TEST-FLAGS...]
#
# --micro: the packet path's `go test -bench` benchmarks: forwarding and Time
#   Exceeded per datagram size, ICMP builders, route lookup in a 10 000-route
#   table, the rate limiter, the checksum. Every one must show 0 allocs/op.
#   Needs no root. GO-TEST-FLAGS (e.g. -count 6 for benchstat) go to go test.
# --compare: icmpgw against the Linux kernel's own forwarding, side by side
#   in the same run (root only). Two topologies with identical namespaces,
#   addresses and MTUs (client gw0 198.51.100.2/24 MTU 1500, server gw0
#   203.0.113.2/24 MTU 1400, router .1 on each side, IPv6 off):
#     (a) kernel:  PREFIXkclient -veth- PREFIXkrouter (ip_forward=1 there only) -veth- PREFIXkserver
#     (b) icmpgw:  PREFIXiclient -TUN- `icmpgw up --prefix PREFIXi --ratelimit off` -TUN- PREFIXiserver
#   Each workload runs on the two alternately (the order flips every round),
#   --rounds times (default 3, at least 3); the table gives median [min-max]
#   and icmpgw/kernel:
#     - 64-byte UDP flood (iperf3 -u -l 64 -b 0): forwarded packets/s counted
#       by the server's UDP layer (InDatagrams + RcvbufErrors: every datagram
#       that reached the socket; gw0's rx_packets counts a coalesced GRO
#       packet once) over 4 s after a 1 s warm-up, offered packets/s (the
#       client's UDP OutDatagrams) and the share dropped on the way;
#     - TCP bulk, 1 and 4 streams (iperf3 -t 5 -O 1), receiver's Mbit/s;
#     - ping RTT median and p99, 500 pings at 5 ms and at 1 ms intervals;
#     - Time Exceeded/s with the limiter off (kernel: icmp_ratemask=0 in its
#       router namespace; icmpgw: --ratelimit off), a 3 s TTL=1 UDP flood,
#       counted by the client's Icmp InTimeExcds;
#     - Time Exceeded drawn by a 1000-datagram TTL=1 flood with Linux limits
#       on (kernel defaults; icmpgw `ctl policy r1 {ratelimit: linux}`), which
#       must match;
#     - virtual hops: the 64-byte UDP flood through a 5-router chain of
#       in-process routers (scripts/bench/chain5.yaml, `icmpgw up --prefix
#       PREFIXc`, same hosts and addresses) against the 1-router lab, and
#       the share of packets/s the 4 extra hops cost;
#     - icmpgw's CPU µs per packet it read (utime+stime from /proc/PID/stat
#       over packets both hosts' gw0 sent it), GC cycles in each measured
#       window (GODEBUG=gctrace=1) and peak RSS (VmHWM).
#   Every load is bounded in count and time; a round takes about a minute.
#   Traffic runs only inside the run's namespaces (ip netns exec), between
#   their own addresses; nothing changes in the root namespace. An EXIT
#   trap stops what the run started and deletes exactly what it created.
# With neither flag: --micro, then --compare when run as root.
# --json FILE writes the comparison's figures (each round's and the
# summaries) as JSON. Missing clients (iperf3, iproute2, iputils-ping,
# python3) are installed with apt-get when run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
repo=$PWD

usage() { echo "usage: $0 [--micro] [--compare] [--rounds N] [--json FILE] [--prefix P] [GO-TEST-FLAGS...]" >&2; exit 2; }
micro=0 compare=0 rounds=3 json= prefix=
gotest=()
while (($#)); do
  case $1 in
    --micro) micro=1; shift ;;
    --compare) compare=1; shift ;;
    --rounds) [[ $# -ge 2 ]] || usage; rounds=$2; shift 2 ;;
    --rounds=*) rounds=${1#*=}; shift ;;
    --json) [[ $# -ge 2 ]] || usage; json=$2; shift 2 ;;
    --json=*) json=${1#*=}; shift ;;
    --prefix) [[ $# -ge 2 ]] || usage; prefix=$2; shift 2 ;;
    --prefix=*) prefix=${1#*=}; shift ;;
    -h|--help) usage ;;
    *) gotest+=("$1"); shift ;;
  esac
done
if ((!micro && !compare)); then
  micro=1
  [[ $(id -u) -eq 0 ]] && compare=1
fi
[[ $rounds =~ ^[0-9]+$ ]] && ((rounds >= 3 && rounds <= 10)) || { echo "$0: --rounds: got $rounds, want 3 to 10" >&2; exit 2; }
[[ -z $json || $json == /* ]] || json=$OLDPWD/$json # relative to where we were called from
if ((micro)); then
  echo "=== go test -bench (packet path; every benchmark must show 0 allocs/op)"
  go test -run '^$' -bench . -benchmem "${gotest[@]}" ./routing/ ./responder/ ./tun/packet/
fi
((compare)) || exit 0

# ===================================================================== compare
if [[ $(id -u) -ne 0 ]]; then
  echo "$0: --compare needs root (it builds network namespaces)" >&2
  exit 1
fi
declare -A tool_package=([ip]=iproute2 [ping]=iputils-ping [iperf3]=iperf3 [python3]=python3 [timeout]=coreutils)
missing=()
for tool in "${!tool_package[@]}"; do
  command -v "$tool" >/dev/null || missing+=("${tool_package[$tool]}")
done
if ((${#missing[@]})); then
  echo "+ apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

prefix=${prefix:-icmpgw-bn$$-}
if [[ ! $prefix =~ ^[a-z0-9][a-z0-9-]{0,19}$ ]]; then
  echo "$0: --prefix: got \"$prefix\", want lowercase letters, digits and -, at most 20 characters" >&2
  exit 2
fi
KC=${prefix}kclient KR=${prefix}krouter KS=${prefix}kserver # kernel topology
iprefix=${prefix}i
IC=${iprefix}client IS=${iprefix}server # icmpgw's default lab with our prefix
cprefix=${prefix}c
CC=${cprefix}client CS=${cprefix}server # the 5-router chain
SRV_ADDR=203.0.113.2
tmp=$(mktemp -d /tmp/icmpgw-bench.XXXXXX)
bin=$tmp/icmpgw
results=$tmp/results.tsv # metric topo round value
: >"$results"
created_ns=()   # kernel-side namespaces this run made, deleted by name
bg_pids=()      # iperf3 servers
icmpgw_pid=
chain_pid=
started_up=0
started_chain=0
t0=$SECONDS
log() { printf '[bench +%3ds] %s\n' "$((SECONDS - t0))" "$*"; }

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  local p n
  for p in "${bg_pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${bg_pids[@]}"; do wait "$p" 2>/dev/null; done
  [[ -z $icmpgw_pid ]] || stop_icmpgw "$icmpgw_pid"
  [[ -z $chain_pid ]] || stop_icmpgw "$chain_pid"
  if ((started_up)); then
    "$bin" down --prefix "$iprefix" >/dev/null 2>&1 || echo "bench: icmpgw down --prefix $iprefix failed" >&2
  fi
  if ((started_chain)); then
    "$bin" down --prefix "$cprefix" --scenario "$repo/scripts/bench/chain5.yaml" >/dev/null 2>&1 ||
      echo "bench: icmpgw down --prefix $cprefix failed" >&2
  fi
  for n in "${created_ns[@]}"; do ip netns del "$n" 2>/dev/null; done
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for n in "$KC" "$KR" "$KS" "$IC" "$IS" "$CC" "$CS"; do
  if ip netns list | awk '{print $1}' | grep -qxF "$n"; then
    echo "bench: namespace $n exists; pick another --prefix" >&2
    exit 1
  fi
done

# ------------------------------------------------------------ (a) kernel
log "kernel topology: $KC -- $KR -- $KS"
for n in "$KC" "$KR" "$KS"; do
  created_ns+=("$n")
  ip netns add "$n"
  ip netns exec "$n" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip -n "$n" link set lo up
done
# Veths are made straight in the namespaces: no device ever appears in the root namespace.
ip link add kc0 netns "$KC" type veth peer name r0 netns "$KR"
ip link add ks0 netns "$KS" type veth peer name r1 netns "$KR"
ip -n "$KC" link set kc0 name gw0
ip -n "$KS" link set ks0 name gw0
ip -n "$KC" addr add 198.51.100.2/24 dev gw0
ip -n "$KC" link set gw0 mtu 1500 up
ip -n "$KS" addr add 203.0.113.2/24 dev gw0
ip -n "$KS" link set gw0 mtu 1400 up
ip -n "$KR" addr add 198.51.100.1/24 dev r0
ip -n "$KR" link set r0 mtu 1500 up
ip -n "$KR" addr add 203.0.113.1/24 dev r1
ip -n "$KR" link set r1 mtu 1400 up
ip -n "$KC" route add default via 198.51.100.1
ip -n "$KS" route add default via 203.0.113.1
ip netns exec "$KR" sysctl -qw net.ipv4.ip_forward=1
KERNEL_RATEMASK=$(ip netns exec "$KR" sysctl -n net.ipv4.icmp_ratemask) # Linux default 6168
kernel_limits() { # on|off: the router namespace's ICMP rate limits (per namespace)
  if [[ $1 == on ]]; then ip netns exec "$KR" sysctl -qw net.ipv4.icmp_ratemask="$KERNEL_RATEMASK"
  else ip netns exec "$KR" sysctl -qw net.ipv4.icmp_ratemask=0; fi
}
kernel_limits off

# ------------------------------------------------------------ (b) icmpgw
log "building icmpgw into $tmp"
go build -o "$bin" ./cmd/icmpgw
log "icmpgw up --prefix $iprefix --ratelimit off"
GODEBUG=gctrace=1 "$bin" up --prefix "$iprefix" --ratelimit off >"$tmp/up.log" 2>&1 &
icmpgw_pid=$!
started_up=1
wait_ready bench "$icmpgw_pid" "$tmp/up.log"
log "icmpgw up --prefix $cprefix --scenario scripts/bench/chain5.yaml --ratelimit off"
"$bin" up --prefix "$cprefix" --scenario "$repo/scripts/bench/chain5.yaml" --ratelimit off >"$tmp/chain.log" 2>&1 &
chain_pid=$!
started_chain=1
wait_ready bench "$chain_pid" "$tmp/chain.log"
ctl() { timeout 10 "$bin" ctl --prefix "$iprefix" "$@" >/dev/null; }
# The same IPv6 setting as the kernel side (icmpgw already disables it on gw0).
for n in "$IC" "$IS" "$CC" "$CS"; do
  ip netns exec "$n" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done

# ------------------------------------------------------------ helpers
cli() { case $1 in kernel) echo "$KC" ;; icmpgw) echo "$IC" ;; chain) echo "$CC" ;; esac; }
srv() { case $1 in kernel) echo "$KS" ;; icmpgw) echo "$IS" ;; chain) echo "$CS" ;; esac; }
ifstat() { ip netns exec "$1" cat "/sys/class/net/gw0/statistics/$2"; } # NS FIELD
snmp() { # NS PROTO FIELD: a counter of the namespace's /proc/net/snmp
  ip netns exec "$1" awk -v p="$2:" -v f="$3" '$1 == p { if (!h) { for (i = 2; i <= NF; i++) col[$i] = i; h = 1 } else print $col[f] }' /proc/net/snmp
}
hz=$(getconf CLK_TCK)
cpu_ticks() { [[ -n $icmpgw_pid ]] && awk '{print $14 + $15}' "/proc/$icmpgw_pid/stat" 2>/dev/null || echo 0; }
utime_ticks() { [[ -n $icmpgw_pid ]] && awk '{print $14}' "/proc/$icmpgw_pid/stat" 2>/dev/null || echo 0; }
gc_count() { grep -c '^gc [0-9]' "$tmp/up.log" || true; }
sys_busy() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; } # all cores, ticks
icmpgw_pkts() { echo $(($(ifstat "$IC" tx_packets) + $(ifstat "$IS" tx_packets))); } # what icmpgw read
udp_in() { echo $(($(snmp "$1" Udp InDatagrams) + $(snmp "$1" Udp RcvbufErrors))); } # NS: datagrams that reached a socket
rec() { echo "$1	$2	$3	$4" >>"$results"; } # METRIC TOPO ROUND VALUE
div() { awk -v a="$1" -v b="$2" -v m="${3:-1}" 'BEGIN { if (b == 0) print "nan"; else printf "%.4f\n", a * m / b }'; }

# Window bookkeeping around one measured load on TOPO: icmpgw's CPU and GC
# cycles, all cores' busy time.
win_start() { w_cpu=$(cpu_ticks); w_ut=$(utime_ticks); w_gc=$(gc_count); w_sys=$(sys_busy); w_pk=$(icmpgw_pkts); w_t=$(date +%s.%N); }
win_end() { # TOPO ROUND NAME PACKETS: record CPU figures per PACKETS
  local topo=$1 r=$2 name=$3 pk=$4 cpu gc sys
  sys=$(($(sys_busy) - w_sys))
  rec "${name}_sys_us_per_pkt" "$topo" "$r" "$(div "$sys" "$pk" $((1000000 / hz)))"
  if [[ $topo == icmpgw ]]; then
    cpu=$(($(cpu_ticks) - w_cpu))
    gc=$(($(gc_count) - w_gc))
    rec "${name}_cpu_us_per_pkt" icmpgw "$r" "$(div "$cpu" "$(($(icmpgw_pkts) - w_pk))" $((1000000 / hz)))"
    rec "${name}_gc" icmpgw "$r" "$gc"
    rec "${name}_user_pct" icmpgw "$r" "$(div $(($(utime_ticks) - w_ut)) "$cpu" 100)"
  fi
}

# iperf3 servers, one per server namespace, bounded in time.
for topo in kernel icmpgw chain; do
  ip netns exec "$(srv $topo)" timeout 900 iperf3 -s -B "$SRV_ADDR" -p 5201 >"$tmp/iperf3-server-$topo.log" 2>&1 &
  bg_pids+=($!)
done
sleep 0.5
for topo in kernel icmpgw chain; do # resolve neighbours, check the path
  if ! ip netns exec "$(cli $topo)" ping -c 3 -i 0.2 -W 2 -q "$SRV_ADDR" >/dev/null; then
    echo "bench: $topo: no ping reply from $SRV_ADDR through the router" >&2
    exit 1
  fi
done
log "both topologies ready (icmpgw pid $icmpgw_pid)"

# ------------------------------------------------------------ workloads
# Each takes TOPO ROUND and records its figures.
w_udp64() {
  local topo=$1 r=$2 c s rx0 rx1 out0 out1 qd0 qd1 secs=4
  c=$(cli "$topo") s=$(srv "$topo")
  timeout 20 ip netns exec "$c" iperf3 -c "$SRV_ADDR" -p 5201 -u -l 64 -b 0 -t $((secs + 2)) >"$tmp/udp-$topo-$r.log" 2>&1 &
  local p=$!
  sleep 1 # warm-up
  rx0=$(udp_in "$s") out0=$(snmp "$c" Udp OutDatagrams) qd0=$(ifstat "$c" tx_dropped)
  win_start
  sleep "$secs"
  rx1=$(udp_in "$s") out1=$(snmp "$c" Udp OutDatagrams) qd1=$(ifstat "$c" tx_dropped)
  win_end "$topo" "$r" udp64 $((rx1 - rx0))
  wait "$p" || echo "bench: $topo round $r: iperf3 -u exited $?: $(tail -n 3 "$tmp/udp-$topo-$r.log")" >&2
  rec udp64_pps "$topo" "$r" "$(div $((rx1 - rx0)) $secs)"
  rec udp64_offered_pps "$topo" "$r" "$(div $((out1 - out0)) $secs)"
  # The counters are read a few ms apart: a loss-free path can come out a
  # hair below 0, shown as 0.
  local lost=$((out1 - out0 - (rx1 - rx0)))
  rec udp64_drop_pct "$topo" "$r" "$(div $((lost > 0 ? lost : 0)) $((out1 - out0)) 100)"
  rec udp64_cli_txdrop_pct "$topo" "$r" "$(div $((qd1 - qd0)) $((out1 - out0)) 100)"
}
w_tcp() { # TOPO ROUND STREAMS
  local topo=$1 r=$2 n=$3 c out bps
  c=$(cli "$topo")
  win_start
  out=$(timeout 30 ip netns exec "$c" iperf3 -c "$SRV_ADDR" -p 5201 -t 5 -O 1 -P "$n" -J 2>&1) || true
  bps=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"])' <<<"$out" 2>/dev/null) || bps=nan
  [[ $bps == nan ]] && echo "bench: $topo round $r: iperf3 -P $n failed: $(head -c 300 <<<"$out")" >&2
  rec "tcp${n}_mbps" "$topo" "$r" "$(awk -v b="$bps" 'BEGIN { printf "%.1f\n", b / 1e6 }')"
  # packets through the router in both directions
  win_end "$topo" "$r" "tcp$n" $(($(ifstat "$(srv "$topo")" rx_packets) + $(ifstat "$c" rx_packets) - w_rxs))
}
w_ping() { # TOPO ROUND INTERVAL(s) NAME
  local topo=$1 r=$2 iv=$3 name=$4 times
  times=$(timeout 30 ip netns exec "$(cli "$topo")" ping -n -c 500 -i "$iv" -W 1 -w 20 "$SRV_ADDR" 2>/dev/null |
    sed -n 's/.* time=\([0-9.]*\) ms.*/\1/p' | sort -g) || true
  local n
  n=$(grep -c . <<<"$times" || true)
  rec "${name}_loss" "$topo" "$r" $((500 - n))
  ((n > 0)) || return 0
  rec "${name}_med_ms" "$topo" "$r" "$(awk -v n="$n" 'NR == int((n + 1) / 2) {print; exit}' <<<"$times")"
  rec "${name}_p99_ms" "$topo" "$r" "$(awk -v n="$n" 'BEGIN { k = int(n * 0.99 + 0.999) } NR == k {print; exit}' <<<"$times")"
}
w_hops() { # TOPO (icmpgw or chain) ROUND: the UDP flood's packets/s, 1 router or 5
  local topo=$1 r=$2 c s rx0 rx1 secs=4
  c=$(cli "$topo") s=$(srv "$topo")
  timeout 20 ip netns exec "$c" iperf3 -c "$SRV_ADDR" -p 5201 -u -l 64 -b 0 -t $((secs + 2)) >"$tmp/hops-$topo-$r.log" 2>&1 &
  local p=$!
  sleep 1 # warm-up
  rx0=$(udp_in "$s")
  sleep "$secs"
  rx1=$(udp_in "$s")
  wait "$p" || echo "bench: $topo round $r: iperf3 -u exited $?: $(tail -n 3 "$tmp/hops-$topo-$r.log")" >&2
  rec hops_pps "$([[ $topo == chain ]] && echo chain5 || echo router1)" "$r" "$(div $((rx1 - rx0)) $secs)"
}
w_te() { # Time Exceeded/s with the limiter off: 3 s TTL=1 flood
  local topo=$1 r=$2 c te0 te1 out sent secs
  c=$(cli "$topo")
  te0=$(snmp "$c" Icmp InTimeExcds)
  win_start
  out=$(timeout 10 ip netns exec "$c" python3 "$repo/scripts/bench/udpsend.py" "$SRV_ADDR" 33434 1 seconds 3)
  sleep 0.3 # the last errors arrive
  te1=$(snmp "$c" Icmp InTimeExcds)
  read -r _ sent _ _ _ secs <<<"$out"
  win_end "$topo" "$r" te $((te1 - te0))
  rec te_pps "$topo" "$r" "$(div $((te1 - te0)) "$secs")"
  rec te_offered_pps "$topo" "$r" "$(div "$sent" "$secs")"
}
w_te_limited() { # Time Exceeded drawn by 1000 TTL=1 datagrams with Linux-like limits
  local topo=$1 r=$2 c te0 te1
  c=$(cli "$topo")
  if [[ $topo == kernel ]]; then kernel_limits on; else ctl policy r1 '{ratelimit: linux}'; fi
  te0=$(snmp "$c" Icmp InTimeExcds)
  timeout 10 ip netns exec "$c" python3 "$repo/scripts/bench/udpsend.py" "$SRV_ADDR" 33434 1 count 1000 >/dev/null
  sleep 0.5
  te1=$(snmp "$c" Icmp InTimeExcds)
  if [[ $topo == kernel ]]; then kernel_limits off; else ctl policy r1 '{ratelimit: off}'; fi
  rec te_limited_count "$topo" "$r" $((te1 - te0))
}

workloads=(
  "udp64:w_udp64"
  "tcp1:w_tcp_1"
  "tcp4:w_tcp_4"
  "ping5ms:w_ping_5"
  "ping1ms:w_ping_1"
  "te:w_te"
  "te_limited:w_te_limited"
)
w_tcp_1() { w_tcp "$1" "$2" 1; }
w_tcp_4() { w_tcp "$1" "$2" 4; }
w_ping_5() { w_ping "$1" "$2" 0.005 ping5ms; }
w_ping_1() { w_ping "$1" "$2" 0.001 ping1ms; }

# A failed measurement records nothing (or nan) and the run goes on.
set +e
for ((r = 1; r <= rounds; r++)); do
  if ((r % 2)); then order=(kernel icmpgw); else order=(icmpgw kernel); fi
  log "round $r/$rounds (${order[*]} alternately)"
  for w in "${workloads[@]}"; do
    for topo in "${order[@]}"; do
      kill -0 "$icmpgw_pid" 2>/dev/null || { echo "bench: icmpgw (pid $icmpgw_pid) exited:" >&2; tail -n 20 "$tmp/up.log" >&2; exit 1; }
      w_rxs=$(($(ifstat "$(srv "$topo")" rx_packets) + $(ifstat "$(cli "$topo")" rx_packets)))
      "${w#*:}" "$topo" "$r"
      sleep 0.3
    done
  done
  # Virtual hops: the same flood through one icmpgw router and through five,
  # twice each, A B B A, so that a drift of the machine's speed cancels.
  if ((r % 2)); then order=(icmpgw chain chain icmpgw); else order=(chain icmpgw icmpgw chain); fi
  for topo in "${order[@]}"; do
    w_hops "$topo" "$r"
    sleep 0.3
  done
  log "round $r: $(awk -v r="$r" '$3 == r && ($1 == "udp64_pps" || $1 == "tcp1_mbps" || $1 == "ping5ms_med_ms") {printf "%s %s=%s  ", $1, $2, $4}' "$results")"
done
hwm=$(awk '$1 == "VmHWM:" {print $2}' "/proc/$icmpgw_pid/status")
rec icmpgw_vmhwm_mib icmpgw 0 "$(div "$hwm" 1024)"
hwm=$(awk '$1 == "VmHWM:" {print $2}' "/proc/$chain_pid/status")
rec chain_vmhwm_mib icmpgw 0 "$(div "$hwm" 1024)"
rec icmpgw_gc_total icmpgw 0 "$(gc_count)"
log "done in $((SECONDS - t0)) s; tearing down"

meta=(
  "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  "commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$repo" diff --quiet 2>/dev/null || echo -dirty)"
  "cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo) x $(nproc)"
  "kernel=$(uname -r)"
  "go=$(go env GOVERSION)"
  "iperf3=$(iperf3 --version | awk 'NR == 1 {print $2}')"
  "rounds=$rounds"
  "seconds=$((SECONDS - t0))"
)
python3 "$repo/scripts/bench/summary.py" "$results" "${json:--}" "${meta[@]}"
