"""A worker as a sandboxed Python program would be written: everything through the broker.

Usage: worker.py SOCKET DATA_DIR MANIFEST_JSON_PATH
Runs rounds back to back, printing "round N ok" after each, until a line on stdin says stop (so the
test can restart the broker while it runs); then prints one JSON report line.
"""
import hashlib
import json
import mmap
import sys
import threading

import fdbroker

sock, data, manifest_path = sys.argv[1], sys.argv[2], sys.argv[3]
stop = threading.Event()
threading.Thread(target=lambda: (sys.stdin.readline(), stop.set()), daemon=True).start()
report = {"rounds": 0, "errors": [], "direct": None}
client = fdbroker.Client(sock, timeout=30)
with client.open(manifest_path) as f:          # even the manifest comes from the broker
    manifest = json.load(f)

try:
    open(data + "/" + manifest["files"][0], "rb")
    report["direct"] = "opened"
except OSError as e:
    report["direct"] = type(e).__name__


def walk(path):
    for entry in client.list(path):
        if entry.is_dir():
            yield from walk(entry.path)
        elif entry.is_file():
            yield entry


r = -1
while not stop.is_set():
    r += 1
    try:
        seen = {}
        for entry in walk(data):
            rel = entry.path[len(data) + 1:]
            with client.open(entry.path) as f:
                seen[rel] = hashlib.sha256(f.read()).hexdigest()
            if client.stat(entry.path).size != entry.size:
                report["errors"].append("stat and list disagree on " + rel)
        if seen != manifest["sha256"]:
            report["errors"].append("round %d read %s" % (r, sorted(seen)))
        big = data + "/" + manifest["mmap"]
        fd = client.open_fd(big)
        try:
            with mmap.mmap(fd, 0, prot=mmap.PROT_READ) as m:
                if hashlib.sha256(m[:]).hexdigest() != manifest["sha256"][manifest["mmap"]]:
                    report["errors"].append("mmap read other bytes")
        finally:
            import os
            os.close(fd)
        try:
            client.open(data + "/" + manifest["denied"])
            report["errors"].append("a denied file was granted")
        except PermissionError:
            pass
        report["rounds"] += 1
        print("round %d ok" % r, flush=True)
    except Exception as e:  # reported, not raised: the test shows what went wrong
        report["errors"].append("round %d: %r" % (r, e))
        print("round %d failed" % r, flush=True)
print(json.dumps(report), flush=True)
