#!/usr/bin/env bash
# scripts/soak.sh — a bounded soak of icmpgw. As root, from anywhere:
#
#   scripts/soak.sh [--duration 60s] [--prefix icmpgw-soak-]
#
# Builds icmpgw into a temporary directory, brings up the topology of
# scenarios/library/soak.yaml (client -- r1 -- r2 -- r3 -- server, a second
# path r1 -- r3, 1% loss between r2 and r3) with metrics on a free loopback
# port, and for --duration sends mixed traffic through it while changing
# links, routes and ICMP policies every second with `icmpgw ctl`: ping
# floods (through, TTL-expiring at each hop, to unreachable, prohibited,
# blackholed and unrouted prefixes), UDP to closed ports (the server's
# kernel answers with Port Unreachable, which crosses the routers), TCP
# bulk flows, SYNs to closed ports, traffic from the server to the client,
# and malformed datagrams written straight into the client's TUN device.
# Every load is bounded in count and time, and runs only inside the lab's
# namespaces with `ip netns exec`.
#
# Then it checks: icmpgw still runs; a ping and a traceroute through
# r1 -- r2 -- r3 get the right answers; for each router,
# icmpgw_packets_received_total equals the sum of icmpgw_packets_total over
# outcomes (and of the interfaces' rx counters); VmRSS at the end is at most
# 1.5x what it was 5 s into the load + 16 MiB (flat, once warm); SIGTERM makes
# icmpgw exit 0 and its namespaces are gone. It prints a summary and exits 1 if any check failed. An EXIT trap
# stops what it started and deletes the lab (`icmpgw down --prefix P`).
# Without root it skips (exit 0), unless CI=true (exit 1).
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
repo=$PWD

duration=60
prefix=icmpgw-soak-
usage() { echo "usage: $0 [--duration 60s|2m|90] [--prefix icmpgw-soak-]" >&2; exit 2; }
while (($#)); do
  case $1 in
    --duration) [[ $# -ge 2 ]] || usage; d=$2; shift 2 ;;
    --duration=*) d=${1#*=}; shift ;;
    --prefix) [[ $# -ge 2 ]] || usage; prefix=$2; shift 2 ;;
    --prefix=*) prefix=${1#*=}; shift ;;
    -h|--help) usage ;;
    *) echo "$0: unknown argument $1" >&2; usage ;;
  esac
  if [[ -n ${d:-} ]]; then
    if [[ $d =~ ^([0-9]+)s?$ ]]; then duration=${BASH_REMATCH[1]}
    elif [[ $d =~ ^([0-9]+)m$ ]]; then duration=$((BASH_REMATCH[1] * 60))
    elif [[ $d =~ ^([0-9]+)m([0-9]+)s$ ]]; then duration=$((BASH_REMATCH[1] * 60 + BASH_REMATCH[2]))
    else echo "$0: --duration: got $d, want seconds such as 60s, 2m or 1m30s" >&2; exit 2
    fi
    d=
  fi
done
if ((duration < 5 || duration > 86400)); then
  echo "$0: --duration: got ${duration}s, want 5s to 24h" >&2
  exit 2
fi
if [[ ! $prefix =~ ^[a-z0-9][a-z0-9-]{0,20}$ ]]; then
  echo "$0: --prefix: got \"$prefix\", want lowercase letters, digits and -, at most 21 characters" >&2
  exit 2
fi
if [[ $(id -u) -ne 0 ]]; then
  if [[ ${CI:-} == true ]]; then
    echo "$0: needs root (CI=true: not skipping)" >&2
    exit 1
  fi
  echo "$0: needs root; skipped"
  exit 0
fi
for tool in go ip ping traceroute timeout; do
  command -v "$tool" >/dev/null || { echo "$0: $tool not found (scripts/test.sh installs the clients)" >&2; exit 1; }
done
have_python=0
command -v python3 >/dev/null && python3 -c 'import socket; socket.AF_PACKET' 2>/dev/null && have_python=1
have_hping=0
command -v hping3 >/dev/null && have_hping=1

scenario=$repo/scenarios/library/soak.yaml
C=${prefix}client
S=${prefix}server
tmp=$(mktemp -d /tmp/icmpgw-soak.XXXXXX)
bin=$tmp/icmpgw
icmpgw_pid=
started_up=0
bg_pids=()

failures=0
checks=()
check() { # check NAME OK(0|1) OBSERVED
  local res=pass
  if [[ $2 != 1 ]]; then res=FAIL; failures=$((failures + 1)); fi
  checks+=("$(printf '%-5s %-44s %s' "$res" "$1" "$3")")
  echo "  check: $res  $1: $3"
}
log() { printf '[soak +%3ds] %s\n' "$((SECONDS - t0))" "$*"; }
t0=$SECONDS

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  local p
  for p in "${bg_pids[@]}"; do
    kill -- "$p" 2>/dev/null
  done
  for p in "${bg_pids[@]}"; do
    wait "$p" 2>/dev/null
  done
  [[ -z $icmpgw_pid ]] || stop_icmpgw "$icmpgw_pid"
  if ((started_up)); then
    "$bin" down --prefix "$prefix" --scenario "$scenario" >/dev/null 2>&1 ||
      echo "soak: icmpgw down --prefix $prefix failed" >&2
  fi
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- build, up
log "building icmpgw into $tmp"
if ! go build -o "$bin" ./cmd/icmpgw; then
  echo "soak: go build failed" >&2
  exit 1
fi
"$bin" scenario check "$scenario" >/dev/null || exit 1
for ns in "$C" "$S"; do
  if ip netns list | awk '{print $1}' | grep -qxF "$ns"; then
    echo "soak: namespace $ns exists; pick another --prefix (or icmpgw down --prefix $prefix)" >&2
    exit 1
  fi
done

log "icmpgw up --scenario soak --prefix $prefix --metrics 127.0.0.1:0 (duration ${duration}s)"
"$bin" up --scenario "$scenario" --prefix "$prefix" --metrics 127.0.0.1:0 >"$tmp/up.log" 2>&1 &
icmpgw_pid=$!
started_up=1
wait_ready soak "$icmpgw_pid" "$tmp/up.log"
metrics_url=$(grep -o 'http://127\.0\.0\.1:[0-9]*/metrics' "$tmp/up.log" | head -n 1)
if [[ -z $metrics_url ]]; then
  echo "soak: icmpgw printed no metrics address:" >&2
  cat "$tmp/up.log" >&2
  exit 1
fi
log "ready: pid $icmpgw_pid, metrics $metrics_url"

proc_field() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$icmpgw_pid/status" 2>/dev/null; }
fd_count() { ls "/proc/$icmpgw_pid/fd" 2>/dev/null | wc -l; }
rss0=$(proc_field VmRSS)
threads0=$(proc_field Threads)
fds0=$(fd_count)
rss_max=$rss0
rss_warm= # the first sample under load, 5 s in
warm_at=
threads_max=$threads0
log "start: VmRSS ${rss0} kB, threads $threads0, fds $fds0"

scrape() { curl -sf --max-time 5 "$metrics_url"; }
ctl() { timeout 10 "$bin" ctl --prefix "$prefix" "$@"; }
cx() { ip netns exec "$C" "$@"; }
sx() { ip netns exec "$S" "$@"; }

# ------------------------------------------------------------------ traffic
# Each generator repeats a bounded batch until the deadline; each batch is
# bounded by its own count and a timeout, and the whole loop by a timeout.
deadline=$((SECONDS + duration))
gen() { # gen NAME cx|sx COMMAND...: repeat COMMAND in the client|server until the deadline, in the background
  local name=$1 ns
  shift
  case $1 in
    cx) ns=$C ;;
    sx) ns=$S ;;
    *) echo "soak: gen $name: want cx or sx" >&2; exit 1 ;;
  esac
  shift
  (
    n=0
    while ((SECONDS < deadline)); do
      timeout 15 ip netns exec "$ns" "$@" >>"$tmp/gen-$name.out" 2>&1
      n=$((n + 1))
      sleep 0.1
    done
    echo "$n" >"$tmp/gen-$name.batches"
  ) &
  bg_pids+=($!)
}

# The server's listener for TCP bulk flows: counts the bytes it receives.
if ((have_python)); then
  sx timeout $((duration + 20)) python3 -c '
import socket, threading, sys
total = [0]
lock = threading.Lock()
def serve(c):
    n = 0
    c.settimeout(10)
    try:
        while True:
            b = c.recv(65536)
            if not b:
                break
            n += len(b)
    except OSError:
        pass
    c.close()
    with lock:
        total[0] += n
        open(sys.argv[1], "w").write("%d\n" % total[0])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("203.0.113.10", 9))
s.listen(64)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
' "$tmp/tcp-bytes" >"$tmp/listener.out" 2>&1 &
  bg_pids+=($!)
fi

# ICMP: floods through, expiring at each hop, and to prefixes that draw
# every kind of unreachable (and silence, for the blackhole).
gen echo-through cx ping -q -f -c 3000 -w 10 203.0.113.10
gen ttl1 cx ping -q -f -t 1 -c 1000 -w 5 203.0.113.10
gen ttl2 cx ping -q -f -t 2 -c 1000 -w 5 203.0.113.10
gen ttl3 cx ping -q -f -t 3 -c 1000 -w 5 203.0.113.10
gen unreach-net cx ping -q -f -c 1000 -w 5 198.19.0.1
gen unreach-host cx ping -q -f -c 1000 -w 5 198.18.3.1
gen prohibit cx ping -q -f -c 1000 -w 5 198.18.4.1
gen blackhole cx ping -q -f -c 500 -w 3 198.18.2.1
gen echo-router cx ping -q -f -c 1000 -w 5 198.51.100.6
gen big-frag cx ping -q -c 50 -i 0.05 -s 3000 -w 5 203.0.113.10
gen server-to-client sx ping -q -f -c 1000 -w 5 198.18.0.10
# UDP: to closed ports on the server (its kernel's Port Unreachable comes
# back through the routers), to a router, and to unreachable prefixes.
udp_batch='for i in $(seq 500); do
  echo x >/dev/udp/203.0.113.10/$((33434 + i % 64))
  echo x >/dev/udp/198.51.100.2/$((33434 + i % 64))
  echo x >/dev/udp/198.19.0.1/53
  echo x >/dev/udp/198.18.4.1/53
done 2>/dev/null'
gen udp cx bash -c "$udp_batch"
gen udp-from-server sx bash -c 'for i in $(seq 500); do echo x >/dev/udp/198.18.0.10/$((40000 + i % 64)); done 2>/dev/null'
if ((have_hping)); then
  gen hping-udp cx hping3 -q --udp -p 33434 -i u200 -c 3000 203.0.113.10
fi
# TCP: bulk flows to the listener, SYNs to a closed port (the server's
# kernel resets them) and to a router (icmpgw resets them).
if ((have_python)); then
  gen tcp-bulk cx timeout 3 bash -c 'head -c 200000000 /dev/zero >/dev/tcp/203.0.113.10/9'
fi
gen tcp-closed cx bash -c 'for i in $(seq 200); do timeout 1 bash -c "exec 3<>/dev/tcp/203.0.113.10/80" 2>/dev/null; timeout 1 bash -c "exec 3<>/dev/tcp/198.51.100.2/80" 2>/dev/null; done'
# Malformed datagrams (and awkward sound ones), written straight into the
# client's TUN device with a packet socket: bad checksum, version, header
# and total lengths, bad options, truncation, source routes, r1's own
# source, a directed broadcast, TTL 0, fragments to the router, broken ICMP
# and UDP to the router, protocol 253, an ICMP error to the router, and
# seeded random bytes under a sound header. Addresses are the lab's only.
if ((have_python)); then
  gen malformed cx python3 -c '
import random, socket, struct, sys
rnd = random.Random(int(sys.argv[1]))
def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
def ip(src, dst, proto, payload, ttl=64, opts=b"", ident=0, frag=0, ver=4, ihl=None, tot=None, bad=False):
    hl = 20 + len(opts)
    h = struct.pack("!BBHHHBBH4s4s", (ver << 4) | (ihl if ihl is not None else hl // 4), 0,
                    tot if tot is not None else hl + len(payload), ident, frag, ttl, proto, 0,
                    socket.inet_aton(src), socket.inet_aton(dst)) + opts
    c = csum(h) ^ (0x5555 if bad else 0)
    return h[:10] + struct.pack("!H", c) + h[12:] + payload
def udp(sport, dport, data=b"x", ck=0):
    return struct.pack("!HHHH", sport, dport, 8 + len(data), ck) + data
def icmp(t, code, rest=b"\0\0\0\0", bad=False):
    m = struct.pack("!BBH", t, code, 0) + rest
    c = csum(m) ^ (0x1111 if bad else 0)
    return m[:2] + struct.pack("!H", c) + m[4:]
C, R1, SRV = "198.18.0.10", "198.18.0.1", "203.0.113.10"
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
s.bind(("gw0", 0x0800))
sent = 0
for rnd_i in range(200):
    pkts = [
        ip(C, SRV, 17, udp(1000, 33434), bad=True),                  # bad header checksum
        ip(C, SRV, 17, udp(1000, 33434), ver=6),                     # version 6
        ip(C, SRV, 17, udp(1000, 33434), ihl=4),                     # header length 16
        ip(C, SRV, 17, udp(1000, 33434), tot=1000),                  # total length past the end
        ip(C, SRV, 17, udp(1000, 33434))[:12],                       # truncated header
        ip(C, SRV, 17, udp(1000, 33434), opts=b"\x07\x01\x00\x00"),  # bad option length: Parameter Problem
        ip(C, SRV, 17, udp(1000, 33434), opts=b"\x83\x07\x04" + socket.inet_aton(SRV) + b"\x00"),  # LSRR
        ip(R1, SRV, 17, udp(1000, 33434)),                           # the router s own address as source
        ip(C, "198.18.0.255", 17, udp(1000, 33434)),                 # directed broadcast
        ip(C, SRV, 17, udp(1000, 33434), ttl=0),                     # TTL 0
        ip(C, R1, 17, udp(1000, 33434, b"y" * 64), ident=rnd_i, frag=0x2000),   # first fragment to r1, never completed
        ip(C, R1, 17, b"z" * 64, ident=rnd_i, frag=0x2000 | 8190),   # fragment past 64 KiB
        ip(C, SRV, 17, b"z" * 64, ident=rnd_i, frag=100),            # a later fragment through
        ip(C, R1, 1, icmp(8, 0, b"\0\1\0\1abcd", bad=True)),         # Echo Request, bad checksum
        ip(C, R1, 1, b"\x08\x00"),                                   # truncated ICMP
        ip(C, R1, 17, udp(1000, 33434, b"q", ck=0x1234)),            # UDP, bad checksum
        ip(C, R1, 6, b"\0" * 10),                                    # truncated TCP
        ip(C, R1, 253, b"p" * 8),                                    # protocol 253
        ip(C, R1, 1, icmp(3, 3, b"\0\0\0\0" + ip(R1, C, 17, udp(33434, 1000))[:28])),  # an ICMP error to r1
        ip(C, SRV, 1, icmp(11, 0, b"\0\0\0\0" + ip(SRV, C, 1, icmp(8, 0))[:28])),      # an ICMP error through
    ]
    n = rnd.randrange(0, 80)
    junk = bytes(rnd.randrange(256) for _ in range(n))
    pkts.append(ip(C, rnd.choice([SRV, R1, "198.51.100.2", "198.19.0.1"]), rnd.randrange(256), junk,
                   ttl=rnd.randrange(4), ihl=rnd.choice([None, 5, 6, 15]), tot=rnd.choice([None, rnd.randrange(65536)]),
                   bad=rnd.random() < 0.3))
    pkts.append(junk[:rnd.randrange(0, 40)])
    for p in pkts:
        if p:
            s.send(p)
            sent += 1
print("sent", sent)
' "$RANDOM"
fi

# ------------------------------------------------------------------- churn
# One change a second, cycling; each cycle ends where it began.
churn=(
  "link r2:eth1 down"
  "link r2:eth1 up"
  "route r1 replace default via 198.51.100.10"
  "route r2 add 198.19.0.0/16 via 198.51.100.6"
  "policy r3 {silent: true}"
  "route r1 replace default via 198.51.100.2"
  "route r2 delete 198.19.0.0/16"
  "policy r3 {}"
  "link r1:eth2 delay 2ms loss 1"
  "policy r1 {ratelimit: off}"
  "link r1:eth2 delay 0s loss 0"
  "policy r1 {}"
  "route r3 replace 198.18.0.0/16 via 198.51.100.9"
  "route r3 replace 198.18.0.0/16 via 198.51.100.5"
  "change {flap: {link: r1:eth1, period: 200ms, count: 2}}"
)
ctl_ok=0
ctl_fail=0
i=0
while ((SECONDS < deadline)); do
  words=${churn[i % ${#churn[@]}]}
  read -r cmd args <<<"$words"
  case $cmd in
    policy) read -r router settings <<<"$args"; out=$(ctl policy "$router" "$settings" 2>&1) ;;
    change) out=$(ctl change "$args" 2>&1) ;;
    *) read -ra a <<<"$words"; out=$(ctl "${a[@]}" 2>&1) ;;
  esac
  if [[ $? -eq 0 ]]; then
    ctl_ok=$((ctl_ok + 1))
  else
    ctl_fail=$((ctl_fail + 1))
    log "ctl $words failed: $out"
  fi
  i=$((i + 1))
  if ((i % 5 == 0)); then
    r=$(proc_field VmRSS)
    th=$(proc_field Threads)
    [[ -n $r ]] || { log "icmpgw (pid $icmpgw_pid) is gone"; break; }
    ((r > rss_max)) && rss_max=$r
    [[ -n $rss_warm ]] || { rss_warm=$r; warm_at=$SECONDS; }
    ((th > threads_max)) && threads_max=$th
    log "VmRSS ${r} kB, threads $th, fds $(fd_count), ctl changes $ctl_ok applied"
  fi
  sleep 1
done
log "traffic and churn stop; waiting for the generators"
for p in "${bg_pids[@]}"; do wait "$p" 2>/dev/null; done
bg_pids=()

# Back to the file's state, whatever the cycle's position.
sleep 1.5 # a flap in progress ends
restore_fail=0
for words in "link r2:eth1 up" "link r1:eth1 up" "link r1:eth2 delay 0s loss 0" \
  "route r1 replace default via 198.51.100.2" "route r3 replace 198.18.0.0/16 via 198.51.100.5"; do
  read -ra a <<<"$words"
  ctl "${a[@]}" >/dev/null 2>&1 || { restore_fail=1; log "restore: ctl $words failed"; }
done
for r in r1 r2 r3; do ctl policy "$r" '{}' >/dev/null 2>&1 || { restore_fail=1; log "restore: ctl policy $r {} failed"; }; done
if ctl routes r2 | grep -q '^198\.19\.0\.0/16'; then ctl route r2 delete 198.19.0.0/16 >/dev/null 2>&1 || restore_fail=1; fi

# ------------------------------------------------------------------ checks
echo
log "checks"
alive=0
kill -0 "$icmpgw_pid" 2>/dev/null && alive=1
check "icmpgw still running after the churn" "$alive" "pid $icmpgw_pid $( ((alive)) && echo alive || echo gone)"
check "churn: every ctl change applied" "$((ctl_fail == 0 && restore_fail == 0))" "$ctl_ok applied, $ctl_fail refused or failed, restore $( ((restore_fail)) && echo failed || echo ok)"
sleep 7 # the routers' per-destination ICMP buckets refill (burst 6, 1/s)

ping_out=$(cx ping -c 10 -i 0.2 -W 2 203.0.113.10 2>&1)
ping_rx=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' <<<"$ping_out")
check "ping client -> server after churn" "$((${ping_rx:-0} >= 8))" "${ping_rx:-0}/10 replies (1% loss on r2--r3)"
tr_out=$(cx traceroute -n -q 3 -w 1 203.0.113.10 2>&1)
tr_ok=1
# -q 3: a probe lost to the 1% loss shows as "*" before the address.
for hop in '^ 1  (\* )*198\.18\.0\.1 ' '^ 2  (\* )*198\.51\.100\.2 ' '^ 3  (\* )*198\.51\.100\.6 ' '^ 4  (\* )*203\.0\.113\.10 '; do
  grep -qE "$hop" <<<"$tr_out" || tr_ok=0
done
check "traceroute shows r1 r2 r3 server" "$tr_ok" "$(grep -E '^ [0-9]+ ' <<<"$tr_out" | awk '{for (f = 2; f <= NF && $f == "*"; f++) {}; printf "%s%s", sep, (f <= NF ? $f : "*"); sep = " "}')"
((tr_ok)) || echo "$tr_out" | sed 's/^/    /'
unr_out=$(cx ping -c 1 -W 2 198.18.3.1 2>&1)
check "ping to unreachable host prefix" "$(grep -q 'From 198.18.0.1 .*Destination Host Unreachable' <<<"$unr_out" && echo 1 || echo 0)" \
  "$(grep -m1 -o 'From .*' <<<"$unr_out" || echo 'no answer')"

# Counters balance: received == sum over outcomes == sum of interface rx.
# The lab is idle once two scrapes a second apart agree; a host's kernel
# may still retransmit a TCP segment the 1% loss took, for a few seconds.
balance() { # balance METRICS: one line per router: NAME RECEIVED SUM_OUTCOMES SUM_RX
  awk '
    function label(s, k,   r) { r = s; sub(".*" k "=\"", "", r); sub("\".*", "", r); return r }
    /^icmpgw_packets_received_total\{/ { rt = label($1, "router"); recv[rt] = $2; seen[rt] = 1 }
    /^icmpgw_packets_total\{/ { rt = label($1, "router"); sum[rt] += $2 }
    /^icmpgw_interface_packets_total\{/ && /direction="rx"/ { rt = label($1, "router"); rx[rt] += $2 }
    END { for (r in seen) printf "%s %.0f %.0f %.0f\n", r, recv[r], sum[r], rx[r] }' <<<"$1" | sort
}
sleep 1
m2=$(scrape)
for _ in 1 2 3 4 5; do
  m1=$m2
  sleep 1
  m2=$(scrape)
  [[ -n $m1 && $(balance "$m1") == "$(balance "$m2")" ]] && break
done
if [[ -z $m1 || -z $m2 ]]; then
  check "metrics scrape" 0 "no answer from $metrics_url"
else
  while read -r r recv sum rx; do
    check "counters $r: received == sum(outcomes)" "$((recv == sum))" "received $recv, outcomes $sum"
    check "counters $r: received == sum(iface rx)" "$((recv == rx))" "received $recv, rx $rx"
  done < <(balance "$m2")
  # Idle lab: two scrapes a second apart agree.
  same=0
  [[ $(balance "$m1") == "$(balance "$m2")" ]] && same=1
  check "counters still when the lab is idle" "$same" "$(balance "$m1" | tr '\n' ' ')-> $(balance "$m2" | tr '\n' ' ')"
fi

rss1=$(proc_field VmRSS)
threads1=$(proc_field Threads)
fds1=$(fd_count)
# Flat, not fixed: the Go heap and its GC headroom grow to a working size in
# the first seconds of load; after that, RSS must not keep climbing.
base=${rss_warm:-$rss0}
limit=$((base + base / 2 + 16 * 1024))
check "VmRSS end <= 1.5 x (5 s into the load) + 16 MiB" "$((${rss1:-999999999} <= limit))" "start ${rss0} kB, 5 s in ${base} kB, max ${rss_max} kB, end ${rss1:-?} kB, limit ${limit} kB"
if [[ -n $rss_warm && -n $rss1 ]] && ((SECONDS > warm_at)); then
  echo "  VmRSS under load: ${rss_warm} kB after 5 s, ${rss1} kB at the end: $(((rss1 - rss_warm) * 60 / (SECONDS - warm_at))) kB/min"
fi
check "threads" 1 "start $threads0, max $threads_max, end ${threads1:-?}"
check "open fds end <= start + 16" "$((${fds1:-999} <= fds0 + 16))" "start $fds0, end ${fds1:-?}"

# Stop: SIGTERM, exit 0, namespaces gone.
kill -TERM "$icmpgw_pid" 2>/dev/null
stopped=0
for _ in $(seq 200); do
  kill -0 "$icmpgw_pid" 2>/dev/null || { stopped=1; break; }
  sleep 0.1
done
rc=timeout
if ((stopped)); then
  wait "$icmpgw_pid"
  rc=$?
  icmpgw_pid=
fi
check "SIGTERM: icmpgw exits 0 within 20 s" "$([[ $rc == 0 ]] && echo 1 || echo 0)" "exit $rc"
left=$(ip netns list | awk '{print $1}' | grep -xF -e "$C" -e "$S" | tr '\n' ' ')
check "namespaces gone after exit" "$([[ -z $left ]] && echo 1 || echo 0)" "${left:-none left}"

# ----------------------------------------------------------------- summary
echo
echo "=== soak summary: ${duration}s, prefix $prefix ==="
printf '%-18s %8s %12s %10s\n' GENERATOR BATCHES SENT RECEIVED
for f in "$tmp"/gen-*.batches; do
  [[ -e $f ]] || continue
  name=${f##*/gen-}
  name=${name%.batches}
  out=$tmp/gen-$name.out
  tx=$(sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p' "$out" 2>/dev/null | awk '{s += $1} END {print s + 0}')
  rxp=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$out" 2>/dev/null | awk '{s += $1} END {print s + 0}')
  if [[ $name == malformed ]]; then tx=$(awk '/^sent/ {s += $2} END {print s + 0}' "$out"); rxp=-; fi
  if [[ $name == hping-udp ]]; then tx=$(sed -n 's/^\([0-9]*\) packets tr.*/\1/p' "$out" | awk '{s += $1} END {print s + 0}'); fi
  [[ $name == udp* || $name == tcp-* ]] && { tx=-; rxp=-; }
  printf '%-18s %8s %12s %10s\n' "$name" "$(cat "$f")" "$tx" "$rxp"
done
((have_python)) && echo "tcp bytes received by the server: $(cat "$tmp/tcp-bytes" 2>/dev/null || echo 0)"
((have_python)) || echo "python3 not found: skipped malformed datagrams and TCP bulk flows"
((have_hping)) || echo "hping3 not found: UDP from bash /dev/udp only"
echo "ctl changes applied: $ctl_ok"
if [[ -n ${m2:-} ]]; then
  echo "outcomes (nonzero):"
  awk '/^icmpgw_packets_total\{/ && $2 != "0" {
         r = $1; sub(/.*router="/, "", r); sub(/".*/, "", r)
         o = $1; sub(/.*outcome="/, "", o); sub(/".*/, "", o)
         printf "  %s %-22s %s\n", r, o, $2 }' <<<"$m2" | sort
  echo "icmp sent / suppressed:"
  awk '/^icmpgw_icmp_(sent|suppressed)_total\{/ && $2 != "0" { printf "  %s %s\n", $1, $2 }' <<<"$m2" | sed 's/icmpgw_icmp_//' | sort
  echo "links:"
  awk '/^icmpgw_link_packets_total\{/ && $2 != "0" { l = $1; sub(/icmpgw_link_packets_total/, "", l); printf "  %s %s\n", l, $2 }' <<<"$m2" | sort
fi
echo
echo "CHECKS"
printf '%s\n' "${checks[@]}"
echo "$(( ${#checks[@]} - failures )) passed, $failures failed"
if ((failures)); then
  echo "icmpgw's output (last 30 lines):"
  tail -n 30 "$tmp/up.log"
  exit 1
fi
exit 0
