#!/usr/bin/env python3
"""Reports the inotify events on one file, for tests that must see whether anyone opened it.

    inotify_watch.py PATH   prints "ready" once the watch is in place; then, once an IN_ATTRIB
                            event arrives (the test's marker: it changes PATH's mode), prints the
                            events seen up to and including it, one name a line, and exits
                            (exit 3 if nothing arrives within 30 s)

Events are queued in the order they happen, so everything done to PATH before the marker is listed.
An O_PATH open makes no event; an open that reaches the file (a device's or a FIFO's driver) makes
OPEN, and its close CLOSE_NOWRITE.
"""
import ctypes
import os
import select
import struct
import sys

NAMES = {0x1: "ACCESS", 0x4: "ATTRIB", 0x10: "CLOSE_NOWRITE", 0x20: "OPEN"}
IN_ATTRIB = 0x4
EVENT = struct.Struct("iIII")  # wd, mask, cookie, len (then len bytes of name)

libc = ctypes.CDLL(None, use_errno=True)
fd = libc.inotify_init1(os.O_CLOEXEC)
if fd < 0 or libc.inotify_add_watch(fd, sys.argv[1].encode(), sum(NAMES)) < 0:
    print(f"inotify: {os.strerror(ctypes.get_errno())}", flush=True)
    sys.exit(2)
print("ready", flush=True)
seen = []
while True:
    if not select.select([fd], [], [], 30)[0]:
        print("timed out after: " + " ".join(seen), flush=True)
        sys.exit(3)
    buf = os.read(fd, 4096)
    offset = 0
    while offset < len(buf):
        _, mask, _, length = EVENT.unpack_from(buf, offset)
        offset += EVENT.size + length
        seen += [name for bit, name in NAMES.items() if mask & bit]
        if mask & IN_ATTRIB:
            print("\n".join(seen), flush=True)
            sys.exit(0)
