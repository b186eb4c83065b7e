#!/usr/bin/env python3
"""Holds listening sockets the way a systemd .socket unit does, and starts brokers on them.

The sockets are made once, here, and outlive every broker started on them: a broker that stops or
is killed leaves them open and listening (in this process), connections made meanwhile wait in the
backlog, and the next broker is handed the very same sockets. That is what fdbroker.socket and
fdbroker-metrics.socket do, and what systemd-socket-activate does not (it execs the service in its
own place, so nothing holds the socket once the service ends).

usage: socket_holder.py --socket PATH [--mode 0666] [--metrics] -- COMMAND...
  --socket PATH  the request socket (AF_UNIX stream, backlog 1024), named "fdbroker"
  --mode MODE    its permissions (octal)
  --metrics      also a TCP socket on 127.0.0.1 (a free port), named "metrics"

It prints "ready METRICS_PORT" (0 without --metrics), then takes commands, one per line, on stdin:
  start   start COMMAND with the sockets as descriptors 3 (and 4), LISTEN_FDS, LISTEN_FDNAMES and
          LISTEN_PID set as systemd sets them, the working directory / and umask 0077 (as the unit
          has it); prints "started PID"
  quit    (or end of input) kills a running command and exits
and prints "exited PID STATUS" whenever a started command ends (STATUS: its exit code, or minus
the signal that ended it). The command's own output goes where this process's stderr goes.
"""
import argparse
import os
import socket
import subprocess
import sys
import threading

FIRST_FD = 3  # SD_LISTEN_FDS_START

out_lock = threading.Lock()


def say(line):
    with out_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def listening_sockets(args):
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    if os.path.exists(args.socket):
        os.unlink(args.socket)
    unix.bind(args.socket)
    os.chmod(args.socket, int(args.mode, 8))
    unix.listen(1024)
    held = [(unix, "fdbroker")]
    port = 0
    if args.metrics:
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        tcp.bind(("127.0.0.1", 0))
        tcp.listen(128)
        port = tcp.getsockname()[1]
        held.append((tcp, "metrics"))
    # Move them to 3, 4, ... (through high numbers first, so that none overwrites another).
    high = [os.dup(s.fileno()) for s, _ in held]
    for i, fd in enumerate(high):
        os.dup2(fd, FIRST_FD + i, inheritable=True)
        os.close(fd)
    targets = range(FIRST_FD, FIRST_FD + len(held))
    for s, _ in held:
        if s.fileno() in targets:
            s.detach()  # its number now holds a copy; closing the object would close that
        else:
            s.close()  # the copy at its target number stays open
    return [name for _, name in held], port


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--socket", required=True)
    parser.add_argument("--mode", default="0666")
    parser.add_argument("--metrics", action="store_true")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    names, port = listening_sockets(args)
    fds = tuple(range(FIRST_FD, FIRST_FD + len(names)))
    say("ready %d" % port)
    running = []
    for line in sys.stdin:
        line = line.strip()
        if line == "start":
            env = dict(os.environ, LISTEN_FDS=str(len(fds)), LISTEN_FDNAMES=":".join(names))
            # LISTEN_PID must be the service's own pid: the shell exports its pid, then execs the
            # command in its place (exec keeps the pid).
            wrapper = ["/bin/sh", "-c", 'export LISTEN_PID=$$; umask 0077; exec "$@"', "sh"] + command
            p = subprocess.Popen(wrapper, pass_fds=fds, env=env, cwd="/", stdin=subprocess.DEVNULL,
                                 stdout=sys.stderr.fileno(), stderr=sys.stderr.fileno())
            running.append(p)
            threading.Thread(target=reap, args=(p,), daemon=True).start()
            say("started %d" % p.pid)
        elif line == "quit":
            break
        elif line:
            say("unknown command %r" % line)
    for p in running:
        if p.poll() is None:
            p.kill()
            p.wait()


def reap(p):
    status = p.wait()
    say("exited %d %d" % (p.pid, status))


if __name__ == "__main__":
    main()
