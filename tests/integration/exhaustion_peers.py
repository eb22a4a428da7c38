#!/usr/bin/env python3
"""Peers that take a server's connections and never finish anything (tests/integration/
exhaustion.sh). Bounded: they stop after --seconds, whatever happens.

  exhaustion_peers.py stalled HOST PORT COUNT --seconds S
      COUNT TCP connections that send nothing; those the server closes are opened again,
      once a second (held, not a flood).
  exhaustion_peers.py trickle HOST PORT COUNT --seconds S --ca CA --cert CERT --key KEY
      COUNT mutual-TLS connections with a valid node certificate that send a HELLO one byte
      per --interval seconds; prints how many the server cut (it must cut every one).
"""
import argparse
import select
import socket
import ssl
import sys
import time


def stalled(args):
    conns = []
    deadline = time.monotonic() + args.seconds
    closed = 0
    next_fill = 0.0
    while time.monotonic() < deadline:
        if time.monotonic() >= next_fill:
            for _ in range(args.count - len(conns)):
                try:
                    conns.append(socket.create_connection((args.host, args.port), timeout=5))
                except OSError:
                    break
            next_fill = time.monotonic() + 1.0
        readable, _, _ = select.select(conns, [], [], 0.2) if conns else ([], [], [])
        for s in readable:  # closed (or an alert): the server let go of it
            conns.remove(s)
            s.close()
            closed += 1
    print(f"stalled: {args.count} held, {closed} closed by the server (and opened again)")


def trickle(args):
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=args.ca)
    ctx.check_hostname = False
    ctx.load_cert_chain(args.cert, args.key)
    hello = bytes([1, 0, 0, 0, 0, 0, 0, 64])  # a HELLO frame header announcing 64 bytes
    deadline = time.monotonic() + args.seconds
    cut = started = 0
    while time.monotonic() < deadline:
        conns = []
        for _ in range(args.count):
            try:
                raw = socket.create_connection((args.host, args.port), timeout=5)
                conns.append([ctx.wrap_socket(raw), 0])
                started += 1
            except OSError:
                pass
        while conns and time.monotonic() < deadline:
            for c in list(conns):
                try:
                    c[0].send(hello[c[1] % len(hello):c[1] % len(hello) + 1])
                    c[1] += 1
                except OSError:
                    conns.remove(c)
                    cut += 1
            time.sleep(args.interval)
    print(f"trickle: {started} started, {cut} cut by the server")
    if started and cut == 0:
        sys.exit("trickle: the server never cut a trickling HELLO")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["stalled", "trickle"])
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("count", type=int)
    p.add_argument("--seconds", type=float, required=True)
    p.add_argument("--interval", type=float, default=1.0)
    p.add_argument("--ca")
    p.add_argument("--cert")
    p.add_argument("--key")
    args = p.parse_args()
    (stalled if args.mode == "stalled" else trickle)(args)


if __name__ == "__main__":
    main()
