"""Compares this tree's packaged broker with another tree's, against the C baseline, in one process.

    python3 bench/compare.py OTHER_TREE [--rounds 6] [--seconds 4] [--conns 1 16 256]

Both trees must be built as packaged (`./run deb` in each: packaging/target/root). Rounds
interleave the two brokers (C, this, other; then C, other, this; ...; an even number of rounds, so
that each runs right after C as often as the other), so that a drift of the
machine falls on both alike. Prints this/C, other/C and this/other (medians of per-round ratios)
per connection count. Run as bench/run does (JAVA_HOME set, bench/target/ built).
"""
import argparse
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("other", type=Path)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--seconds", type=float, default=4)
    ap.add_argument("--conns", type=int, nargs="+", default=[1, 16, 256])
    args = ap.parse_args()
    fx = bench.Fixture(os.getuid())
    root = str(fx.dir / "srv" / "assets")
    brokers = [("C", bench.c_broker(fx.dir))]
    try:
        for name, tree in (("this", bench.ROOT), ("other", args.other.resolve())):
            bench.LAUNCHER = Path(tree) / "packaging/target/root/usr/bin/fdbroker"
            policy = fx.policy(name, [{"name": "bench", "users": [fx.uid], "allow": [root + "/**"]}])
            brokers.append((name, bench.java_broker(fx.dir, policy, name)))
        for _, b in brokers[1:]:
            for conns in (16, 4, 256, 1):
                bench.load(b.sock, conns, 5, 0, fx.files)
        for conns in args.conns:
            runs = {n: [] for n, _ in brokers}
            for r in range(args.rounds):
                order = brokers if r % 2 == 0 else [brokers[0], brokers[2], brokers[1]]
                for n, b in order:
                    x = bench.load(b.sock, conns, args.seconds, 1, fx.files, pid=b.pid)
                    runs[n].append(x)
                    bench.log(f"  {conns} conns, round {r + 1}, {n:<5}: {x['ops_per_s']:.0f} ops/s, "
                              f"broker CPU {x['broker_cpu_us']:.1f} us, p99 {x['p99_us']:.0f} us")

            def ratio(a, b, key):
                return statistics.median([x[key] / y[key] for x, y in zip(runs[a], runs[b])])

            print(f"{conns} conns: this/C {ratio('this', 'C', 'ops_per_s'):.2f}, other/C {ratio('other', 'C', 'ops_per_s'):.2f}, "
                  f"this/other {ratio('this', 'other', 'ops_per_s'):.2f}; broker CPU per request, Java/C: this "
                  f"{ratio('this', 'C', 'broker_cpu_us'):.2f}, other {ratio('other', 'C', 'broker_cpu_us'):.2f}", flush=True)
    finally:
        for _, b in brokers:
            b.stop()
        fx.close()


if __name__ == "__main__":
    main()
