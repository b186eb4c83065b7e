#!/usr/bin/env python3
"""Holds descriptors in flight (sent, never received), charged by the kernel to a user.

usage:
  descriptor_hoarder.py broker SOCKET CONNECTIONS PATH [PATHS_PER_REQUEST]
      Connects CONNECTIONS times to the broker, asks on each for PATH (PATHS_PER_REQUEST times in
      one request, 64 by default), never reads a reply, and half-closes each connection (SHUT_WR),
      as a hostile caller would to free its connection slots: every descriptor granted stays in
      flight, charged to the broker's user.
  descriptor_hoarder.py self COUNT
      Sends COUNT descriptors over socketpairs of its own and never receives them: charged to
      this process's user (run it as the broker's user to crowd the broker out).

Prints "holding" once done, then holds everything until its standard input ends.
"""
import json
import os
import socket
import struct
import sys


def broker(path, connections, target, per_request):
    held = []
    request = json.dumps({"op": "open", "paths": [target] * per_request}).encode()
    frame = struct.pack(">I", len(request)) + request
    for _ in range(connections):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
        s.sendall(frame)
        s.shutdown(socket.SHUT_WR)
        held.append(s)
    return held


def self_charged(count):
    held = []
    fd = os.open("/dev/null", os.O_RDONLY)
    while count > 0:
        n = min(250, count)  # SCM_MAX_FD is 253 per message
        a, b = socket.socketpair()
        socket.send_fds(a, [b"x"], [fd] * n)
        held.extend([a, b])
        count -= n
    return held


def main():
    mode = sys.argv[1]
    if mode == "broker":
        per_request = int(sys.argv[5]) if len(sys.argv) > 5 else 64
        held = broker(sys.argv[2], int(sys.argv[3]), sys.argv[4], per_request)
    else:
        held = self_charged(int(sys.argv[2]))
    print("holding", flush=True)
    sys.stdin.read()
    for s in held:
        s.close()


if __name__ == "__main__":
    main()
