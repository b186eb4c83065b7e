#!/usr/bin/env python3
"""Compares packaged brokers' start to first reply, runs alternating, under systemd-socket-activate.

    python3 bench/startcmp.py [--runs 9] NAME=TREE[:JVM_OPTIONS] ...

TREE is a staged package tree (packaging/target/root of a built worktree). Without JVM_OPTIONS
the broker is started by that tree's launcher, exactly as shipped; with them (space-separated),
by the tree's java with its jvm.options, its AOT cache and these options added, the way the
launcher would start it if it took options without leaving the cache out (so that a JVM option
can be tried against the shipped configuration). Rounds alternate the order of the variants.

For each variant: the median wall time from the process's start to the first reply (as the
start part of bench.py measures it, with loadgen first), and the median CPU time (user + system)
the broker used until it was stopped right after that reply, which this host's noise disturbs far
less than wall time: the work to the first reply runs on two cores together with the JIT compilers.
Run as bench/run does (JAVA_HOME set, bench/target/ built).
"""
import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402


def command(tree, options, policy):
    lib = tree / "usr/lib/fdbroker"
    if not options:
        return [str(tree / "usr/bin/fdbroker"), "serve", "--config", str(policy)]
    jvm = [line for line in (lib / "jvm.options").read_text().splitlines()
           if line.strip() and not line.lstrip().startswith("#")]
    argv = ["env", "MALLOC_ARENA_MAX=2", "GLIBC_TUNABLES=glibc.pthread.stack_cache_size=1048576",
            str(lib / "runtime/bin/java"), *jvm,
            f"-Dorg.newsclub.net.unix.library.override={lib}/libjunixsocket-native.so"]
    if (lib / "fdbroker.aot").exists():
        argv.append(f"-XX:AOTCache={lib}/fdbroker.aot")
    return argv + options.split() + ["-jar", str(lib / "fdbroker.jar"), "serve", "--config", str(policy)]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("variants", nargs="+", help="NAME=TREE[:JVM_OPTIONS]")
    args = ap.parse_args()
    variants = []
    for spec in args.variants:
        name, _, rest = spec.partition("=")
        tree, _, options = rest.partition(":")
        variants.append((name, Path(tree).resolve(), options))
    activate = shutil.which("systemd-socket-activate")
    if not activate:
        raise SystemExit("startcmp: systemd-socket-activate not found")
    fx = bench.Fixture(os.getuid())
    policy, _ = fx.one_rule()
    wall = {name: [] for name, _, _ in variants}
    cpu = {name: [] for name, _, _ in variants}
    try:
        for r in range(args.runs):
            for name, tree, options in (variants if r % 2 == 0 else list(reversed(variants))):
                sock = str(fx.dir / "activated.sock")
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                # loadgen waits for the broker it started, so the broker's CPU time is counted in
                # loadgen's children, and loadgen's in ours.
                out = subprocess.run([str(bench.LOADGEN), "first", "-s", sock, "--", activate, "-l", sock,
                                      *command(tree, options, policy)],
                                     capture_output=True, text=True, timeout=120, env=bench.java_env())
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                Path(sock).unlink(missing_ok=True)
                m = re.search(r"first_reply_ms=([0-9.]+)", out.stdout)
                if not m:
                    raise SystemExit(f"startcmp: no first reply from {name}: {out.stdout}{out.stderr}")
                wall[name].append(float(m.group(1)))
                cpu[name].append((after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) * 1000)
                time.sleep(0.3)
            bench.log(f"  round {r + 1}: " + ", ".join(f"{n} {wall[n][-1]:.0f} ms ({cpu[n][-1]:.0f} ms CPU)"
                                                      for n, _, _ in variants))
    finally:
        fx.close()
    for name, _, _ in variants:
        w, c = wall[name], cpu[name]
        print(f"{name}: first reply median {statistics.median(w):.0f} ms ({min(w):.0f} to {max(w):.0f}); "
              f"CPU median {statistics.median(c):.0f} ms ({min(c):.0f} to {max(c):.0f}), {len(w)} runs")


if __name__ == "__main__":
    main()
