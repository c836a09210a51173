#!/usr/bin/env python3
"""udpsend.py DST PORT TTL count N | seconds S — a bounded UDP sender for scripts/bench.sh.

Sends 64-byte UDP payloads to DST:PORT with IP TTL TTL from an unconnected
socket (so ICMP errors coming back do not stop it), either exactly N
datagrams or for S seconds (at most 60), as fast as the socket takes them.
Prints "sent N errors E seconds T".
"""
import socket
import sys
import time

dst, port, ttl, mode, amount = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], float(sys.argv[5])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
payload = b"\0" * 64
addr = (dst, port)
sent = errors = 0
t0 = time.monotonic()
if mode == "count":
    n = int(min(amount, 10_000_000))
    for _ in range(n):
        try:
            s.sendto(payload, addr)
            sent += 1
        except OSError:
            errors += 1
else:
    end = t0 + min(amount, 60.0)
    send = s.sendto
    while time.monotonic() < end:
        for _ in range(256):
            try:
                send(payload, addr)
                sent += 1
            except OSError:
                errors += 1
print("sent %d errors %d seconds %.3f" % (sent, errors, time.monotonic() - t0))
