#!/usr/bin/env python3
"""A protocol v1 client in plain Python, for the integration tests.

It proves that Python's standard library (socket.recv_fds) is a working fdbroker client, and it
is the unprivileged worker in tests that drop to another uid. For each request it prints what
came back, and for each received descriptor what a worker can and cannot do with it.

usage: probe.py SOCKET REQUESTS_JSON [--direct PATH]... [--pipeline] [--first-read-delay SECONDS]
  REQUESTS_JSON  a JSON list of request objects, sent one after another on one connection,
                 or @FILE to read that list from FILE
  --direct PATH  also try to open PATH directly (without the broker) and report the errno
  --pipeline     send every request at once (from a second thread) while reading replies
  --first-read-delay  wait this long before reading the first reply, so that replies pile up
Prints one JSON object on stdout.
"""
import base64
import errno
import json
import os
import socket
import stat
import struct
import sys
import threading
import time


def recv_frame(sock):
    """Reads one frame; returns (payload bytes, [fds]). Descriptors come with the frame's first bytes."""
    fds = []
    buf = b""
    need = 4
    header_done = False
    while True:
        while len(buf) < need:
            data, got, flags, _ = socket.recv_fds(sock, need - len(buf), 64)
            if flags & socket.MSG_CTRUNC:
                raise RuntimeError("control data truncated")
            fds.extend(got)
            if not data:
                raise EOFError("broker closed the connection")
            buf += data
        if header_done:
            return buf[4:], fds
        need = 4 + struct.unpack(">I", buf[:4])[0]
        header_done = True


def describe_fd(fd):
    st = os.fstat(fd)
    info = {"ino": st.st_ino, "dev": st.st_dev, "mode": st.st_mode, "size": st.st_size,
            "regular": stat.S_ISREG(st.st_mode)}
    chunks = []
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    info["content_b64"] = base64.b64encode(b"".join(chunks)).decode()
    try:
        os.write(fd, b"x")
        info["write_error"] = None
    except OSError as e:
        info["write_error"] = errno.errorcode.get(e.errno, str(e.errno))
    os.close(fd)
    return info


def main():
    socket_path, requests = sys.argv[1], sys.argv[2]
    if requests.startswith("@"):
        with open(requests[1:]) as f:
            requests = f.read()
    requests = json.loads(requests)
    direct = [sys.argv[i + 1] for i, a in enumerate(sys.argv) if a == "--direct"]
    out = {"uid": os.getuid(), "gid": os.getgid(), "replies": [], "direct": {}}
    for path in direct:
        try:
            os.close(os.open(path, os.O_RDONLY))
            out["direct"][path] = "OK"
        except OSError as e:
            out["direct"][path] = errno.errorcode.get(e.errno, str(e.errno))
    pipeline = "--pipeline" in sys.argv
    delay = float(sys.argv[sys.argv.index("--first-read-delay") + 1]) if "--first-read-delay" in sys.argv else 0.0
    frames = [struct.pack(">I", len(b)) + b for b in (json.dumps(r).encode() for r in requests)]
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(socket_path)
    if pipeline:
        sender = threading.Thread(target=lambda: sock.sendall(b"".join(frames)))
        sender.start()
    for i, frame in enumerate(frames):
        if not pipeline:
            sock.sendall(frame)
        if i == 0:
            time.sleep(delay)
        payload, fds = recv_frame(sock)
        out["replies"].append({"reply": json.loads(payload), "fds": [describe_fd(fd) for fd in fds]})
    if pipeline:
        sender.join()
    sock.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
