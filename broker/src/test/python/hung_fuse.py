#!/usr/bin/env python3
"""Mounts a FUSE filesystem that never answers, for tests: any lookup under MOUNTPOINT blocks,
as it would under a hung network or FUSE filesystem, until this process closes its /dev/fuse
descriptor (on end of stdin), which fails the waiting calls with ENOTCONN; then it unmounts.

    hung_fuse.py MOUNTPOINT     prints "mounted" once mounted (or "unavailable: why" and exits 3)
"""
import ctypes
import os
import sys

mountpoint = sys.argv[1]
libc = ctypes.CDLL(None, use_errno=True)
try:
    fd = os.open("/dev/fuse", os.O_RDWR)
except OSError as e:
    print(f"unavailable: /dev/fuse: {e}", flush=True)
    sys.exit(3)
opts = f"fd={fd},rootmode=40000,user_id=0,group_id=0,allow_other".encode()
if libc.mount(b"fdbroker-hung", mountpoint.encode(), b"fuse", 0, opts) != 0:
    print(f"unavailable: mount: {os.strerror(ctypes.get_errno())}", flush=True)
    sys.exit(3)
print("mounted", flush=True)
sys.stdin.read()  # until the test closes our stdin
os.close(fd)  # aborts the connection: blocked calls fail with ENOTCONN
libc.umount2(mountpoint.encode(), 2)  # MNT_DETACH
print("released", flush=True)
