#!/usr/bin/env python3
"""fdbroker's benchmark: the Java broker against the C baseline, same client, same run.

Run it through `./run bench` (which builds first); see bench/README.md. Only same-run ratios
count: these machines are shared and noisy, and absolute figures drift by up to 2x.
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
BUILD = BENCH / "target"
LOADGEN = BUILD / "loadgen"
BASELINE = BUILD / "baseline-broker"
# The package's tree as the build stages it: launcher, jar, JVM options, runtime, AOT cache.
PACKAGE_ROOT = ROOT / "packaging" / "target" / "root"
LAUNCHER = PACKAGE_ROOT / "usr" / "bin" / "fdbroker"
JMH_JAR = BENCH / "jmh" / "target" / "benchmarks.jar"
# The nio part's client: bench/java/NioBench.java, compiled by bench/run against client-lib's jar.
CLIENT_JAR = ROOT / "client-lib" / "target" / "fdbroker-client-shaded.jar"
NIOBENCH_CLASSES = BUILD / "niobench"

FILES = 64  # files in the fixture; requests cycle through them
LISTING = 10_000  # entries in the directory the statlist part lists
NIO_SIZES = {"4 KiB": 4096, "1 MiB": 1 << 20}  # the nio part's files, NIO_FILES of each size
NIO_FILES = 8


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# --- the fixture -------------------------------------------------------------------------------

class Fixture:
    """Files to open, and the policies that allow them, under a fresh temporary folder."""

    def __init__(self, uid):
        self.dir = Path(tempfile.mkdtemp(prefix="fdbroker-bench-"))
        os.chmod(self.dir, 0o755)
        # Depth 5 below the allowed root, like a real asset tree.
        leaf = self.dir / "srv" / "assets" / "render" / "v1" / "textures"
        leaf.mkdir(parents=True)
        self.files = []
        for i in range(FILES):
            p = leaf / f"t{i:02d}.bin"
            p.write_bytes(os.urandom(1000))
            self.files.append(str(p))
        self.uid = uid
        self.audit = {}

    def policy(self, name, rules):
        """Writes a policy: the given rules, limits that let one uid drive the broker hard, audit to a
        file and metrics on a free port (both on, as shipped)."""
        audit = self.dir / f"audit-{name}.jsonl"
        self.audit[name] = audit
        port = free_port()
        doc = {
            "limits": {
                "max_connections": 4096,
                "max_connections_per_uid": 4096,
                "requests_per_second_per_uid": 100_000_000,
            },
            "metrics": {"listen": f"127.0.0.1:{port}"},
            "audit": {"output": str(audit)},
            "rules": rules,
        }
        path = self.dir / f"policy-{name}.json"
        path.write_text(json.dumps(doc, indent=1))
        return path, port

    def one_rule(self, name="1-rule"):
        root = str(self.dir / "srv" / "assets")
        return self.policy(name, [{"name": "bench", "users": [self.uid], "allow": [root + "/**"]}])

    def many_rules(self, count):
        """count rules, all applying to the caller, mixing exact paths and globs at several depths,
        many sharing the bench files' prefix; the one that allows the bench files comes last."""
        base = str(self.dir / "srv")
        rules = []
        for i in range(count - 1):
            kind = i % 4
            if kind == 0:
                allow = [f"{base}/assets/render/v{i}/config.json"]
            elif kind == 1:
                allow = [f"{base}/assets/tenant{i}/**"]
            elif kind == 2:
                allow = [f"{base}/assets/render/v1/shard{i}/*.bin", f"/etc/app{i}/conf.d/*.yaml"]
            else:
                allow = [f"/var/lib/app{i}/data/**/*.db"]
            rule = {"name": f"r{i}", "users": [self.uid], "allow": allow}
            if i % 10 == 0:
                rule["deny"] = [f"{base}/assets/tenant{i}/private/**"]
            rules.append(rule)
        rules.append({"name": "bench", "users": [self.uid], "allow": [f"{base}/assets/render/v1/textures/*.bin"]})
        return self.policy(f"{count}-rules", rules)

    def listing(self, count=LISTING):
        """A directory of count entries under the allowed root, made once: mostly 100-byte files, one
        in fifty a directory, one in a hundred a symbolic link (dangling: described, never followed),
        and one in ten a file named *.key, which statlist_policy denies. Returns the directory and
        how many entries a listing must show (all but the denied ones)."""
        d = self.dir / "srv" / "assets" / "listing"
        if not d.exists():
            d.mkdir()
            data = os.urandom(100)
            for i in range(count):
                if i % 50 == 1:
                    (d / f"d{i:05d}").mkdir()
                elif i % 100 == 2:
                    os.symlink(f"missing{i:05d}", d / f"l{i:05d}")
                elif i % 10 == 0:
                    (d / f"s{i:05d}.key").write_bytes(data)
                else:
                    (d / f"f{i:05d}.bin").write_bytes(data)
        denied = sum(1 for i in range(count) if i % 50 != 1 and i % 100 != 2 and i % 10 == 0)
        return str(d), count - denied

    def statlist_policy(self):
        """The one-rule policy, with a deny that hides the listing's *.key entries."""
        root = str(self.dir / "srv" / "assets")
        return self.policy("statlist", [{"name": "bench", "users": [self.uid], "allow": [root + "/**"],
                                         "deny": [root + "/listing/*.key"]}])

    def nio_files(self):
        """NIO_FILES files of each of NIO_SIZES under the allowed root, made once: {label: [paths]}."""
        d = self.dir / "srv" / "assets" / "nio"
        d.mkdir(exist_ok=True)
        out = {}
        for label, size in NIO_SIZES.items():
            out[label] = []
            for i in range(NIO_FILES):
                p = d / f"{size}-{i}.bin"
                if not p.exists():
                    p.write_bytes(os.urandom(size))
                out[label].append(str(p))
        return out

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- brokers -----------------------------------------------------------------------------------

def java_command():
    """The broker as the package runs it: its launcher, with its runtime, JVM options and AOT cache."""
    return [str(LAUNCHER)]


def java_env():
    env = dict(os.environ)
    env.pop("FDBROKER_JAVA_OPTS", None)
    # For experiments only: what is measured and reported is the shipped configuration.
    if os.environ.get("FDBROKER_BENCH_JAVA_OPTS"):
        env["FDBROKER_JAVA_OPTS"] = os.environ["FDBROKER_BENCH_JAVA_OPTS"]
    return env


class Broker:
    def __init__(self, name, argv, sock, env=None):
        self.name = name
        self.sock = sock
        self.log = open(Path(sock).with_suffix(".log"), "w")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        deadline = time.time() + 30
        while True:
            if self.proc.poll() is not None:
                raise SystemExit(f"bench: {name} exited at start; see {self.log.name}")
            try:
                with socket.socket(socket.AF_UNIX) as s:
                    s.connect(sock)
                break
            except OSError:
                if time.time() > deadline:
                    raise SystemExit(f"bench: {name} did not listen on {sock}")
                time.sleep(0.05)

    @property
    def pid(self):
        return self.proc.pid

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def c_broker(workdir):
    sock = str(workdir / "c.sock")
    return Broker("C baseline", [str(BASELINE), sock], sock)


def java_broker(workdir, policy, name="java"):
    path, port = policy
    sock = str(workdir / f"{name}.sock")
    b = Broker(f"Java ({name})", java_command() + ["serve", "--config", str(path), "--socket", sock,
                                                "--socket-mode", "0600"], sock, env=java_env())
    b.metrics_port = port
    return b


# --- measuring ---------------------------------------------------------------------------------

RESULT = re.compile(r"(\w+)=([0-9.]+)")


def cpu_seconds(pid):
    """User and system CPU time the process has used, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load(sock, conns, seconds, warmup, files, batch=1, pid=None, mode="load", entries=None):
    """One loadgen run ("load": open requests back to back on each connection; "stat": the same
    with stat; "list": full paged listings of the one directory in files, each of entries entries
    if given; "connect": a new connection for every request). With the broker's pid, also its CPU
    time per request (microseconds; a list page is a request; the warm-up's requests estimated at
    the measured rate): a diagnostic, not a target."""
    before = cpu_seconds(pid) if pid else None
    extra = ["-b", str(batch)] if mode in ("load", "stat") else []
    if mode == "list" and entries is not None:
        extra = ["-e", str(entries)]
    out = subprocess.run([str(LOADGEN), mode, "-s", sock, "-c", str(conns), "-d", str(seconds),
                          "-w", str(warmup), *extra, *files],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"bench: loadgen {mode} failed against {sock}: {out.stdout}{out.stderr}")
    res = {k: float(v) for k, v in RESULT.findall(out.stdout)}
    if pid:
        requests = res["requests"] * (seconds + warmup) / seconds
        res["broker_cpu_us"] = (cpu_seconds(pid) - before) * 1e6 / max(1.0, requests)
    return res


def proc_status(pid):
    status = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        k, _, v = line.partition(":")
        status[k] = v.strip()
    return status


def rss_mib(pid):
    return int(proc_status(pid)["VmRSS"].split()[0]) / 1024


def threads(pid):
    return int(proc_status(pid)["Threads"])


def jcmd_path():
    """The JDK's jcmd (the package's runtime has none): $JAVA_HOME's, as ./run sets it, else the PATH's."""
    if os.environ.get("JAVA_HOME"):
        jcmd = Path(os.environ["JAVA_HOME"]) / "bin" / "jcmd"
        if jcmd.exists():
            return jcmd
    found = shutil.which("jcmd")
    return Path(found) if found else None


def heap_after_gc_mib(pid):
    """Heap in use after a full collection, from the JDK's jcmd."""
    jcmd = jcmd_path()
    subprocess.run([str(jcmd), str(pid), "GC.run"], capture_output=True, check=True)
    info = subprocess.run([str(jcmd), str(pid), "GC.heap_info"], capture_output=True, text=True, check=True).stdout
    used = 0
    for m in re.finditer(r"used (\d+)K", info):
        used += int(m.group(1))
    return used / 1024


def median(xs):
    return statistics.median(xs)


# --- the parts of the benchmark ----------------------------------------------------------------

def side_by_side(args, fx, c, j, counts):
    """Java vs C, same client, alternating rounds, at each of counts: {conns: summary}."""
    out = {}
    for conns in counts:
        runs = {"C": [], "Java": []}
        for r in range(args.rounds):
            for name, b in (("C", c), ("Java", j)):
                res = load(b.sock, conns, args.seconds, 1, fx.files, pid=b.pid)
                runs[name].append(res)
                log(f"  {conns:>4} conns, round {r + 1}, {name:<4}: {res['ops_per_s']:>9.0f} ops/s, "
                    f"p50 {res['p50_us']:.0f} us, p99 {res['p99_us']:.0f} us, "
                    f"CPU per request: broker {res['broker_cpu_us']:.1f} us, client {res['client_cpu_us']:.1f} us, "
                    f"fewest requests on a connection {res['conn_requests_min']:.0f}")
        out[conns] = summarize(runs)
    return out


def throughput(args, fx, workdir, results):
    """Java vs C, same client, alternating rounds, at each connection count."""
    policy = fx.one_rule()
    c = c_broker(workdir)
    j = java_broker(workdir, policy)
    try:
        log(f"warming the Java broker up for {args.warmup_java} s")
        for conns in (16, 4, 256, 1):
            load(j.sock, conns, args.warmup_java / 4, 0, fx.files)
        results["throughput"].update(side_by_side(args, fx, c, j, args.conns))
        results["audit"] = audit_check(j, fx.audit["1-rule"])
    finally:
        j.stop()
        c.stop()


def scaling(args, fx, workdir, results):
    """The throughput part's measurement at each of --scale-conns (1,024 connections by default
    too); counts the throughput part already measured in this run are taken from it, not run twice."""
    results["scaling"] = {}
    counts = [n for n in args.scale_conns if n not in results["throughput"]]
    if not counts:
        return
    c = c_broker(workdir)
    j = java_broker(workdir, fx.one_rule("scaling"), "java-scaling")
    try:
        warm = [16] + [n for n in counts if n != 16]
        log(f"warming the Java broker up for {args.warmup_java / 4 * len(warm):g} s")
        for conns in warm:
            load(j.sock, conns, args.warmup_java / 4, 0, fx.files)
        results["scaling"].update(side_by_side(args, fx, c, j, counts))
    finally:
        j.stop()
        c.stop()


def summarize(runs):
    out = {}
    for name, rs in runs.items():
        out[name] = {
            "ops_per_s": median([r["ops_per_s"] for r in rs]),
            "p50_us": median([r["p50_us"] for r in rs]),
            "p99_us": median([r["p99_us"] for r in rs]),
            "broker_cpu_us": median([r["broker_cpu_us"] for r in rs]),
            "client_cpu_us": median([r["client_cpu_us"] for r in rs]),
            "conn_requests_min": median([r["conn_requests_min"] for r in rs]),
        }
    # The ratio of each round's pair (run back to back), then the median: robust to drift.
    out["ratio"] = median([j["ops_per_s"] / c["ops_per_s"] for j, c in zip(runs["Java"], runs["C"])])
    out["p99_ratio"] = median([j["p99_us"] / c["p99_us"] for j, c in zip(runs["Java"], runs["C"])])
    out["cpu_ratio"] = median([j["broker_cpu_us"] / c["broker_cpu_us"] for j, c in zip(runs["Java"], runs["C"])])
    return out


def scrape(port):
    """Sums of each metric family on the broker's real /metrics endpoint."""
    import urllib.request
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    sums = {}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name = re.split(r"[{ ]", line, 1)[0]
        sums[name] = sums.get(name, 0.0) + float(line.rsplit(" ", 1)[1])
    return sums


def audit_check(broker, audit_file):
    """Stops the broker and checks that every decision it counted is a line in its audit file."""
    metrics = scrape(broker.metrics_port)
    broker.stop()
    with open(audit_file, "rb") as f:
        lines = sum(1 for _ in f)
    return {"decisions": int(metrics.get("fdbroker_decisions_total", 0)), "audit_lines": lines,
            "audit_dropped": int(metrics.get("fdbroker_audit_dropped_total", 0)),
            "requests": int(metrics.get("fdbroker_requests_total", 0))}


def crowd_run(sock, busy, new, files):
    """One loadgen crowd: new connections at once while busy ones load the broker."""
    out = subprocess.run([str(LOADGEN), "crowd", "-s", sock, "-c", str(busy), "-n", str(new), "-w", "1", *files],
                         capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        raise SystemExit(f"bench: loadgen crowd failed against {sock}: {out.stdout}{out.stderr}")
    return {k: float(v) for k, v in RESULT.findall(out.stdout)}


def crowd(args, fx, workdir, results):
    """New connections under load: --crowd-busy connections busy (loadgen load), then, once each has
    had a reply and a second more, --crowd-new new ones at once, each timed from its own connect() to
    the reply of its one open request. C and Java alternate rounds; the ratio is the median of each
    round's Java/C pair of p99s."""
    c = c_broker(workdir)
    j = java_broker(workdir, fx.one_rule("crowd"), "java-crowd")
    try:
        log(f"warming the Java broker up for {args.warmup_java / 2:g} s")
        load(j.sock, args.crowd_busy, args.warmup_java / 4, 0, fx.files)
        load(j.sock, 4, args.warmup_java / 4, 0, fx.files, mode="connect")
        runs = {"C": [], "Java": []}
        for r in range(args.rounds):
            for name, b in (("C", c), ("Java", j)):
                res = crowd_run(b.sock, args.crowd_busy, args.crowd_new, fx.files)
                runs[name].append(res)
                log(f"  crowd, round {r + 1}, {name:<4}: first reply p50 {res['first_p50_us'] / 1e3:.0f} ms, "
                    f"p99 {res['first_p99_us'] / 1e3:.0f} ms (fastest {res['first_min_us'] / 1e3:.1f} ms); "
                    f"meanwhile {res['busy_ops_per_s']:.0f} ops/s on the busy connections, p99 "
                    f"{res['busy_p99_us'] / 1e3:.0f} ms")
        out = {"busy": args.crowd_busy, "new": args.crowd_new}
        for name, rs in runs.items():
            out[name] = {k: median([x[k] for x in rs])
                         for k in ("first_p50_us", "first_p99_us", "first_max_us", "busy_ops_per_s", "busy_p99_us")}
        out["p99_rounds"] = [jr["first_p99_us"] / cr["first_p99_us"] for jr, cr in zip(runs["Java"], runs["C"])]
        out["p99_ratio"] = median(out["p99_rounds"])
        results["crowd"] = out
    finally:
        j.stop()
        c.stop()


def batches(args, fx, workdir, results):
    """Files/s through 64-path requests vs single-path requests, Java broker, alternating."""
    policy = fx.one_rule()
    j = java_broker(workdir, policy, "java-batch")
    try:
        for conns in (16, 4):
            load(j.sock, conns, 2, 0, fx.files, batch=64)
            load(j.sock, conns, 2, 0, fx.files, batch=1)
        single, batch = [], []
        for r in range(args.rounds):
            s = load(j.sock, 4, args.seconds, 1, fx.files, batch=1)
            b = load(j.sock, 4, args.seconds, 1, fx.files, batch=64)
            single.append(s["files_per_s"])
            batch.append(b["files_per_s"])
            log(f"  batch round {r + 1}: 1 path {s['files_per_s']:.0f} files/s, 64 paths {b['files_per_s']:.0f} files/s")
        results["batch"] = {"single_files_per_s": median(single), "batch_files_per_s": median(batch),
                            "ratio": median([b / s for b, s in zip(batch, single)])}
    finally:
        j.stop()


def policy_scale(args, fx, workdir, results):
    """Throughput and broker CPU per request with 1, 64 and --rules rules (10,000): a broker each,
    16 connections, alternating."""
    sizes = sorted({1, 64, args.rules})
    brokers = {}
    load_seconds = None
    try:
        for n in sizes:
            t0 = time.time()
            brokers[n] = java_broker(workdir, fx.one_rule() if n == 1 else fx.many_rules(n), f"java-{n}-rules")
            if n == args.rules:
                load_seconds = time.time() - t0
        for b in brokers.values():
            for conns in (16, 4):
                load(b.sock, conns, args.warmup_java / 4, 0, fx.files)
        runs = {n: [] for n in sizes}
        for r in range(args.rounds):
            for n, b in brokers.items():
                runs[n].append(load(b.sock, 16, args.seconds, 1, fx.files, pid=b.pid))
            log(f"  policy round {r + 1}: " + ", ".join(
                f"{n} rule{'' if n == 1 else 's'} {runs[n][-1]['ops_per_s']:.0f} ops/s, "
                f"broker CPU {runs[n][-1]['broker_cpu_us']:.1f} us"
                for n in sizes))
        out = {"rules": args.rules, "start_with_many_rules_s": load_seconds, "sizes": {}}
        for n in sizes:
            out["sizes"][n] = {"ops_per_s": median([x["ops_per_s"] for x in runs[n]]),
                               "broker_cpu_us": median([x["broker_cpu_us"] for x in runs[n]]),
                               # each round's pair with the one-rule broker, then the median
                               "of_one_rule": median([x["ops_per_s"] / o["ops_per_s"] for x, o in zip(runs[n], runs[1])])}
        out["ratio"] = out["sizes"][args.rules]["of_one_rule"]
        results["policy"] = out
    finally:
        for b in brokers.values():
            b.stop()


def connections(args, fx, workdir, results):
    """What a new connection costs, connect to first reply: the C baseline, Java with a policy
    that names no unit, and Java with one that does (so each connection's unit is read from its
    cgroup through a pidfd). 4 client threads, each connecting anew for every request;
    alternating rounds."""
    root = str(fx.dir / "srv" / "assets")
    plain = fx.one_rule()
    units = fx.policy("units", [
        {"name": "bench", "users": [fx.uid], "allow": [root + "/**"]},
        {"name": "tenants", "units": ["bench-worker@*.service"], "allow": [root + "/tenants/${instance}/**"]}])
    brokers = [("C", c_broker(workdir)), ("Java", java_broker(workdir, plain, "java-plain")),
               ("Java, units", java_broker(workdir, units, "java-units"))]
    try:
        for name, b in brokers[1:]:
            load(b.sock, 4, args.warmup_java / 4, 0, fx.files, mode="connect")
        runs = {name: [] for name, _ in brokers}
        for r in range(args.rounds):
            for name, b in brokers:
                res = load(b.sock, 4, args.seconds, 1, fx.files, pid=b.pid, mode="connect")
                runs[name].append(res)
                log(f"  new connections, round {r + 1}, {name:<11}: {res['ops_per_s']:>7.0f}/s, p50 {res['p50_us']:.0f} us, "
                    f"p99 {res['p99_us']:.0f} us, broker CPU {res['broker_cpu_us']:.1f} us per connection")
        out = {}
        for name, rs in runs.items():
            out[name] = {k: median([x[k] for x in rs]) for k in ("ops_per_s", "p50_us", "p99_us", "broker_cpu_us")}
        c_runs, j_runs, u_runs = runs["C"], runs["Java"], runs["Java, units"]
        out["java_c"] = median([j["ops_per_s"] / c["ops_per_s"] for j, c in zip(j_runs, c_runs)])
        out["units_java_c"] = median([u["ops_per_s"] / c["ops_per_s"] for u, c in zip(u_runs, c_runs)])
        out["units_plain"] = median([u["ops_per_s"] / j["ops_per_s"] for u, j in zip(u_runs, j_runs)])
        out["units_plain_cpu"] = median([u["broker_cpu_us"] - j["broker_cpu_us"] for u, j in zip(u_runs, j_runs)])
        results["connections"] = out
    finally:
        for _, b in brokers:
            b.stop()


def statlist(args, fx, workdir, results):
    """stat and list against the C baseline's open, same client, alternating rounds at each of
    --statlist-conns: C open, Java open, Java stat (one path per request, the throughput part's
    files), Java list (the whole 10,000-entry directory, page after page, some entries denied)."""
    directory, visible = fx.listing()
    c = c_broker(workdir)
    j = java_broker(workdir, fx.statlist_policy(), "java-statlist")
    kinds = (("C open", c, "load"), ("Java open", j, "load"), ("Java stat", j, "stat"), ("Java list", j, "list"))

    def run(b, mode, conns, seconds, warmup, pid=None):
        files = [directory] if mode == "list" else fx.files
        return load(b.sock, conns, seconds, warmup, files, pid=pid, mode=mode, entries=visible)

    try:
        log(f"warming the Java broker up for {args.warmup_java} s")
        for conns in (1, 16):
            for mode in ("load", "stat", "list"):
                run(j, mode, conns, args.warmup_java / 6, 0)
        for conns in args.statlist_conns:
            runs = {name: [] for name, _, _ in kinds}
            for r in range(args.rounds):
                for name, b, mode in kinds:
                    res = run(b, mode, conns, args.seconds, 1, pid=b.pid)
                    runs[name].append(res)
                    if mode == "list":
                        log(f"  {conns:>3} conns, round {r + 1}, {name:<9}: {res['entries_per_s']:>9.0f} entries/s, "
                            f"{res['listings_per_s']:.2f} listings/s, page p50 {res['page_p50_us']:.0f} us, "
                            f"listing p50 {res['listing_p50_us'] / 1e3:.0f} ms, broker CPU {res['broker_cpu_us']:.0f} us per page")
                    else:
                        log(f"  {conns:>3} conns, round {r + 1}, {name:<9}: {res['ops_per_s']:>9.0f} ops/s, "
                            f"p50 {res['p50_us']:.0f} us, p99 {res['p99_us']:.0f} us, "
                            f"broker CPU {res['broker_cpu_us']:.1f} us per request")
            results["statlist"][conns] = summarize_statlist(runs, visible)
    finally:
        j.stop()
        c.stop()


def summarize_statlist(runs, visible):
    def ratio(a, b, ka="ops_per_s", kb="ops_per_s"):
        return median([x[ka] / y[kb] for x, y in zip(runs[a], runs[b])])

    out = {"entries_per_listing": visible}
    for name in ("C open", "Java open", "Java stat"):
        out[name] = {k: median([x[k] for x in runs[name]]) for k in ("ops_per_s", "p50_us", "p99_us", "broker_cpu_us")}
    lst = runs["Java list"]
    # A page is a request: the broker's CPU per entry is its CPU per page over a page's entries.
    for x in lst:
        if x["listings"] == 0:
            raise SystemExit("bench: no listing completed within a round; try more --seconds")
        x["listings_per_s"] = x["entries_per_s"] / visible
        x["broker_cpu_per_entry_us"] = x["broker_cpu_us"] * x["pages_per_s"] / max(1.0, x["entries_per_s"])
    out["Java list"] = {k: median([x[k] for x in lst]) for k in (
        "entries_per_s", "listings_per_s", "pages_per_s", "page_p50_us", "page_p99_us", "listing_p50_us",
        "listing_p99_us", "broker_cpu_us", "broker_cpu_per_entry_us")}
    out["stat_c"] = ratio("Java stat", "C open")
    out["open_c"] = ratio("Java open", "C open")
    out["stat_open"] = ratio("Java stat", "Java open")
    out["entries_c"] = ratio("Java list", "C open", "entries_per_s")
    out["cpu_stat_c"] = ratio("Java stat", "C open", "broker_cpu_us", "broker_cpu_us")
    out["cpu_open_c"] = ratio("Java open", "C open", "broker_cpu_us", "broker_cpu_us")
    return out


class NioClient:
    """bench/java/NioBench.java in one JVM for the whole part (so it stays warm), a client-lib
    FdBrokerClient of the broker at sock; each run is a line to it and a line back."""

    def __init__(self, sock):
        java = Path(os.environ["JAVA_HOME"]) / "bin" / "java"
        cp = f"{CLIENT_JAR}:{NIOBENCH_CLASSES}"
        self.proc = subprocess.Popen([str(java), "--enable-native-access=ALL-UNNAMED", "-cp", cp, "NioBench", sock],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            raise SystemExit(f"bench: the nio client did not start: {line}")

    def run(self, kind, threads, seconds, warmup, files, pid=None):
        """kind "open" (client.open + readAllBytes) or "nio" (Files.readAllBytes on the file
        system); with the broker's pid, also its CPU time per request, as load() does."""
        before = cpu_seconds(pid) if pid else None
        self.proc.stdin.write(f"run {kind} {threads} {seconds:g} {warmup:g} {' '.join(files)}\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"bench: the nio client failed (exit {self.proc.wait()}); its error is above")
        res = {k: float(v) for k, v in RESULT.findall(line)}
        if pid:
            requests = res["ops"] * (seconds + warmup) / seconds
            res["broker_cpu_us"] = (cpu_seconds(pid) - before) * 1e6 / max(1.0, requests)
        return res

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def nio(args, fx, workdir, results):
    """The java.nio file system's Files.readAllBytes(fs.getPath(p)) against client-lib's own
    client.open(p) + readAllBytes, one client JVM (NioBench), the packaged broker with a one-rule
    policy, files of 4 KiB and 1 MiB; rounds alternate, the two kinds swapping order each round,
    with the C baseline's open (loadgen, the same number of connections) in each round for context."""
    files = fx.nio_files()
    root = str(fx.dir / "srv" / "assets")
    c = c_broker(workdir)
    j = java_broker(workdir, fx.policy("nio", [{"name": "bench", "users": [fx.uid], "allow": [root + "/**"]}]),
                    "java-nio")
    client = None
    try:
        client = NioClient(j.sock)
        each = args.warmup_java / 2 / (2 * len(files) * len(args.nio_threads))
        log(f"warming the broker and the client up for {args.warmup_java / 2:g} s")
        for threads in args.nio_threads:
            for label, paths in files.items():
                for kind in ("open", "nio"):
                    client.run(kind, threads, each, 0, paths)
        for threads in args.nio_threads:
            runs = {"C open": []}
            runs.update({(kind, label): [] for label in files for kind in ("open", "nio")})
            for r in range(args.rounds):
                res = load(c.sock, threads, args.nio_seconds, 0.5, fx.files, pid=c.pid)
                runs["C open"].append(res)
                log(f"  {threads} threads, round {r + 1}, C open (loadgen): {res['ops_per_s']:>9.0f} ops/s")
                for label, paths in files.items():
                    for kind in (("open", "nio") if r % 2 == 0 else ("nio", "open")):
                        res = client.run(kind, threads, args.nio_seconds, 0.5, paths, pid=j.pid)
                        runs[(kind, label)].append(res)
                        log(f"  {threads} threads, round {r + 1}, {label} {kind:<4}: {res['ops_per_s']:>9.0f} ops/s, "
                            f"p50 {res['p50_us']:.0f} us, p99 {res['p99_us']:.0f} us, CPU per read: "
                            f"client {res['client_cpu_us']:.1f} us, broker {res['broker_cpu_us']:.1f} us")
            results["nio"][threads] = summarize_nio(runs, files)
    finally:
        if client:
            client.close()
        j.stop()
        c.stop()


def summarize_nio(runs, files):
    keys = ("ops_per_s", "p50_us", "p99_us", "client_cpu_us", "broker_cpu_us")
    c = runs["C open"]
    out = {"C open": {k: median([x[k] for x in c]) for k in ("ops_per_s", "p50_us", "p99_us", "broker_cpu_us")}}
    for label in files:
        o, n = runs[("open", label)], runs[("nio", label)]
        out[label] = {
            "open": {k: median([x[k] for x in o]) for k in keys},
            "nio": {k: median([x[k] for x in n]) for k in keys},
            # Each round's own pair, then the median, as elsewhere.
            "nio_open": median([x["ops_per_s"] / y["ops_per_s"] for x, y in zip(n, o)]),
            "nio_open_rounds": [x["ops_per_s"] / y["ops_per_s"] for x, y in zip(n, o)],
            "open_c": median([x["ops_per_s"] / y["ops_per_s"] for x, y in zip(o, c)]),
            "nio_c": median([x["ops_per_s"] / y["ops_per_s"] for x, y in zip(n, c)]),
        }
    return out


def memory(args, fx, workdir, results):
    """RSS with 1000 idle connections; heap after they close vs before they opened."""
    policy = fx.one_rule()
    j = java_broker(workdir, policy, "java-memory")
    try:
        load(j.sock, 16, 3, 0, fx.files)  # a little work first, as in life
        time.sleep(3)
        idle_rss = rss_mib(j.pid)
        idle_heap = heap_after_gc_mib(j.pid)
        idle_threads = threads(j.pid)
        hold = subprocess.Popen([str(LOADGEN), "idle", "-s", j.sock, "-c", str(args.idle_conns), "-d", "12"],
                                stdout=subprocess.PIPE, text=True)
        line = hold.stdout.readline()
        if not line.startswith("ready"):
            raise SystemExit(f"bench: idle connections failed: {line}")
        time.sleep(6)  # quiet connections are parked and their threads let go
        held_rss = rss_mib(j.pid)
        held_threads = threads(j.pid)
        hold.wait()
        time.sleep(4)
        after_heap = heap_after_gc_mib(j.pid)
        after_rss = rss_mib(j.pid)
        after_threads = threads(j.pid)
        results["memory"] = {"connections": args.idle_conns, "idle_rss_mib": idle_rss, "held_rss_mib": held_rss,
                             "after_rss_mib": after_rss, "idle_heap_mib": idle_heap, "after_heap_mib": after_heap,
                             "idle_threads": idle_threads, "held_threads": held_threads,
                             "after_threads": after_threads}
        log(f"  memory: idle {idle_rss:.0f} MiB, {args.idle_conns} idle connections {held_rss:.0f} MiB; "
            f"heap after GC {idle_heap:.1f} -> {after_heap:.1f} MiB")
    finally:
        j.stop()


def start(args, fx, workdir, results):
    """Process start to first reply, under the real systemd-socket-activate."""
    policy, _ = fx.one_rule()
    activate = shutil.which("systemd-socket-activate")
    if not activate:
        results["start"] = None
        log("  start: systemd-socket-activate not found; skipped")
        return
    times = {}
    for name, argv in (("Java", java_command() + ["serve", "--config", str(policy)]),
                       ("C", [str(BASELINE)])):
        ms = []
        for _ in range(args.start_runs):
            sock = str(workdir / f"activated-{name}.sock")
            if name == "C":
                # The C baseline does not speak socket activation; it binds itself.
                cmd = argv + [sock]
            else:
                cmd = [activate, "-l", sock, *argv]
            out = subprocess.run([str(LOADGEN), "first", "-s", sock, "--", *cmd],
                                 capture_output=True, text=True, timeout=60, env=java_env())
            m = re.search(r"first_reply_ms=([0-9.]+)", out.stdout)
            if not m:
                raise SystemExit(f"bench: no first reply from {name}: {out.stdout}{out.stderr}")
            ms.append(float(m.group(1)))
            Path(sock).unlink(missing_ok=True)
        times[name] = {"median_ms": median(ms), "runs_ms": ms}
        log(f"  start {name}: median {median(ms):.0f} ms of {ms}")
    results["start"] = times


def jmh(args, fx, workdir, results):
    """The JMH micro-benchmarks: policy matcher (1 vs 10,000 rules) and frame codec."""
    java = Path(os.environ["JAVA_HOME"]) / "bin" / "java"
    out_json = workdir / "jmh.json"
    cmd = [str(java), "--enable-native-access=ALL-UNNAMED", "-jar", str(JMH_JAR),
           "-wi", "3", "-w", "1", "-i", "5", "-r", "1", "-f", "1", "-rf", "json", "-rff", str(out_json)]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"bench: JMH failed: {out.stdout[-2000:]}{out.stderr[-2000:]}")
    scores = {}
    for r in json.loads(out_json.read_text()):
        name = r["benchmark"].rsplit(".", 2)
        params = ",".join(f"{k}={v}" for k, v in sorted(r.get("params", {}).items()))
        key = f"{name[-2]}.{name[-1]}({params})"
        scores[key] = {"ns": r["primaryMetric"]["score"], "error": r["primaryMetric"]["scoreError"]}
        log(f"  {key}: {scores[key]['ns']:.0f} ns/op")
    results["jmh"] = scores


# --- the report --------------------------------------------------------------------------------

TARGETS = {1: 0.6, 4: 0.6, 16: 0.8, 256: 1.0}  # throughput, Java/C, by connections
P99_TARGETS = {16: 2.0, 256: 1.5}  # p99 latency, Java/C, by connections
CPU_TARGET = 1.4  # broker CPU per request, Java/C, at each of CPU_TARGET_CONNS
CPU_TARGET_CONNS = (16, 256)
CROWD_TARGET = 1.0  # the p99 of new connections' first replies under load, Java/C
BATCH_TARGET = 3.0  # files/s, 64-path requests against single-path ones
RULES_TARGET = 0.9  # ops/s, 10,000 rules against one
MEMORY_TARGET_MIB = 64  # RSS with 1,000 idle connections
START_TARGET_MS = 300  # start to first reply under socket activation


def report(results, args):
    lines = []
    ok = []

    def verdict(passed):
        ok.append(passed)
        return "met" if passed else "**missed**"

    lines.append(f"Measured {time.strftime('%Y-%m-%d %H:%M')} on {os.cpu_count()} cores "
                 f"({args.rounds} rounds of {args.seconds:g} s each; medians; ratio = median of the per-round ratios).")
    lines.append("")
    if results["throughput"]:
        lines.append("| connections | C baseline ops/s | Java ops/s | Java/C | target | | C p50/p99 us | Java p50/p99 us "
                     "| CPU us/request, broker C/Java | client, with C/Java |")
        lines.append("|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|")
        for conns, t in sorted(results["throughput"].items()):
            target = TARGETS.get(conns)
            lines.append(f"| {conns} | {t['C']['ops_per_s']:.0f} | {t['Java']['ops_per_s']:.0f} | {t['ratio']:.2f} | "
                         f">= {target} | {verdict(t['ratio'] >= target) if target else ''} | "
                         f"{t['C']['p50_us']:.0f} / {t['C']['p99_us']:.0f} | {t['Java']['p50_us']:.0f} / {t['Java']['p99_us']:.0f} | "
                         f"{t['C']['broker_cpu_us']:.1f} / {t['Java']['broker_cpu_us']:.1f} | "
                         f"{t['C']['client_cpu_us']:.1f} / {t['Java']['client_cpu_us']:.1f} |")
        lines.append("")
        for conns, target in P99_TARGETS.items():
            t = results["throughput"].get(conns)
            if t:
                lines.append(f"- p99 latency at {conns} connections, Java/C: {t['p99_ratio']:.2f} (target <= {target:g}): "
                             f"{verdict(t['p99_ratio'] <= target)}")
        for conns in CPU_TARGET_CONNS:
            t = results["throughput"].get(conns)
            if t:
                lines.append(f"- Broker CPU per request (user + system) at {conns} connections, Java/C: "
                             f"{t['cpu_ratio']:.2f} ({t['Java']['broker_cpu_us']:.1f} vs {t['C']['broker_cpu_us']:.1f} us; "
                             f"target <= {CPU_TARGET:g} at each of {' and '.join(map(str, CPU_TARGET_CONNS))} connections): "
                             f"{verdict(t['cpu_ratio'] <= CPU_TARGET)}")
    sc = results.get("scaling")
    if sc is not None:
        lines.append("")
        lines.append("How the cost grows with connections (a report, no target)"
                     + ("; rows marked * are the throughput part's own, from this run." if
                        any(n in results["throughput"] for n in args.scale_conns) else "."))
        lines.append("")
        lines.append("| connections | C ops/s | Java ops/s | Java/C | C p99 us | Java p99 us | p99 Java/C "
                     "| broker CPU us/request, C / Java | fewest requests on a connection, C / Java |")
        lines.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for conns in sorted(set(args.scale_conns)):
            t = sc.get(conns) or results["throughput"].get(conns)
            if not t:
                continue
            mark = "" if conns in sc else " *"
            lines.append(f"| {conns}{mark} | {t['C']['ops_per_s']:.0f} | {t['Java']['ops_per_s']:.0f} | {t['ratio']:.2f} | "
                         f"{t['C']['p99_us']:.0f} | {t['Java']['p99_us']:.0f} | {t['p99_ratio']:.2f} | "
                         f"{t['C']['broker_cpu_us']:.1f} / {t['Java']['broker_cpu_us']:.1f} | "
                         f"{t['C']['conn_requests_min']:.0f} / {t['Java']['conn_requests_min']:.0f} |")
        lines.append("")
    cr = results.get("crowd")
    if cr:
        lines.append("")
        lines.append(f"New connections under load: {cr['new']} connect at once while {cr['busy']} others are busy; "
                     "each timed from its own connect() to the reply of its one open request (of 64, the p99 is the "
                     "slowest); medians of the rounds.")
        lines.append("")
        lines.append("| broker | first reply p50 ms | p99 ms | max ms | busy connections meanwhile: ops/s, p99 ms |")
        lines.append("|---|---:|---:|---:|---:|")
        for name in ("C", "Java"):
            x = cr[name]
            lines.append(f"| {name} | {x['first_p50_us'] / 1e3:.1f} | {x['first_p99_us'] / 1e3:.1f} | "
                         f"{x['first_max_us'] / 1e3:.1f} | {x['busy_ops_per_s']:.0f}, {x['busy_p99_us'] / 1e3:.1f} |")
        lines.append("")
        rounds = ", ".join(f"{v:.2f}" for v in cr["p99_rounds"])
        lines.append(f"- First reply to each of {cr['new']} new connections while {cr['busy']} are busy, p99, Java/C: "
                     f"{cr['p99_ratio']:.2f} (rounds: {rounds}; target <= {CROWD_TARGET:g}): "
                     f"{verdict(cr['p99_ratio'] <= CROWD_TARGET)}")
    if results.get("statlist"):
        lines.append("")
        lines.append("stat and list, against the C baseline's open (a report, no target): one path per stat request; "
                     "a listing is the whole 10,000-entry directory, page after page.")
        lines.append("")
        lines.append("| connections | C open ops/s | Java open ops/s | Java stat ops/s | stat/C open | open/C open | stat/Java open "
                     "| stat p50/p99 us | broker CPU us/request, C open / Java open / Java stat |")
        lines.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for conns, t in sorted(results["statlist"].items()):
            lines.append(f"| {conns} | {t['C open']['ops_per_s']:.0f} | {t['Java open']['ops_per_s']:.0f} | "
                         f"{t['Java stat']['ops_per_s']:.0f} | {t['stat_c']:.2f} | {t['open_c']:.2f} | {t['stat_open']:.2f} | "
                         f"{t['Java stat']['p50_us']:.0f} / {t['Java stat']['p99_us']:.0f} | "
                         f"{t['C open']['broker_cpu_us']:.1f} / {t['Java open']['broker_cpu_us']:.1f} / "
                         f"{t['Java stat']['broker_cpu_us']:.1f} |")
        lines.append("")
        lines.append("| connections | listings/s | entries/s | entries/s per C open/s | pages/s | page p50/p99 ms "
                     "| listing p50/p99 ms | broker CPU per entry us, per listing ms |")
        lines.append("|---:|---:|---:|---:|---:|---:|---:|---:|")
        for conns, t in sorted(results["statlist"].items()):
            l = t["Java list"]
            lines.append(f"| {conns} | {l['listings_per_s']:.1f} | {l['entries_per_s']:.0f} | {t['entries_c']:.2f} | "
                         f"{l['pages_per_s']:.0f} | {l['page_p50_us'] / 1e3:.1f} / {l['page_p99_us'] / 1e3:.1f} | "
                         f"{l['listing_p50_us'] / 1e3:.0f} / {l['listing_p99_us'] / 1e3:.0f} | "
                         f"{l['broker_cpu_per_entry_us']:.2f}, {l['broker_cpu_per_entry_us'] * t['entries_per_listing'] / 1e3:.1f} |")
        lines.append("")
    if results.get("nio"):
        lines.append("")
        lines.append("The java.nio file system's Files.readAllBytes(fs.getPath(p)) against client-lib's client.open(p) + "
                     f"readAllBytes, one client JVM, the packaged broker (a report, no target); runs of {args.nio_seconds:g} s "
                     "after 0.5 s unmeasured; C open: the C baseline through loadgen (open, fstat, close; no read), "
                     "same rounds, as many connections as threads.")
        lines.append("")
        lines.append("| threads | file | C open ops/s | open ops/s | nio ops/s | nio/open (rounds) | open/C open | nio/C open "
                     "| p50/p99 us, open / nio | client CPU us/read, open / nio | broker CPU us/request, open / nio |")
        lines.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for threads, t in sorted(results["nio"].items()):
            for label in NIO_SIZES:
                x = t[label]
                o, n = x["open"], x["nio"]
                rounds = ", ".join(f"{v:.2f}" for v in x["nio_open_rounds"])
                lines.append(f"| {threads} | {label} | {t['C open']['ops_per_s']:.0f} | {o['ops_per_s']:.0f} | "
                             f"{n['ops_per_s']:.0f} | {x['nio_open']:.2f} ({rounds}) | {x['open_c']:.2f} | {x['nio_c']:.2f} | "
                             f"{o['p50_us']:.0f}/{o['p99_us']:.0f} / {n['p50_us']:.0f}/{n['p99_us']:.0f} | "
                             f"{o['client_cpu_us']:.1f} / {n['client_cpu_us']:.1f} | "
                             f"{o['broker_cpu_us']:.1f} / {n['broker_cpu_us']:.1f} |")
        lines.append("")
    b = results.get("batch")
    if b:
        lines.append(f"- Batches, 64-path requests vs single-path, files/s: {b['batch_files_per_s']:.0f} vs "
                     f"{b['single_files_per_s']:.0f}, ratio {b['ratio']:.2f} (target >= {BATCH_TARGET:g}): "
                     f"{verdict(b['ratio'] >= BATCH_TARGET)}")
    p = results.get("policy")
    if p:
        one = p["sizes"][1]
        lines.append("")
        lines.append("Policy scale: the Java broker alone, 16 connections, a broker per policy, rounds alternating.")
        lines.append("")
        lines.append("| rules | ops/s | of 1 rule | broker CPU us/request |")
        lines.append("|---:|---:|---:|---:|")
        for n, x in sorted(p["sizes"].items()):
            lines.append(f"| {n:,} | {x['ops_per_s']:.0f} | {x['of_one_rule']:.2f} | {x['broker_cpu_us']:.1f} |")
        lines.append("")
        lines.append(f"- {p['rules']:,} rules vs 1 rule, ops/s: {p['sizes'][p['rules']]['ops_per_s']:.0f} vs "
                     f"{one['ops_per_s']:.0f}, ratio {p['ratio']:.2f} (target >= {RULES_TARGET:.2f}): "
                     f"{verdict(p['ratio'] >= RULES_TARGET)}")
    m = results.get("memory")
    if m:
        lines.append(f"- Memory: RSS {m['held_rss_mib']:.0f} MiB with {m['connections']} idle connections "
                     f"(idle before: {m['idle_rss_mib']:.0f} MiB; target <= {MEMORY_TARGET_MIB}): "
                     f"{verdict(m['held_rss_mib'] <= MEMORY_TARGET_MIB)}; "
                     f"threads {m['idle_threads']} -> {m['held_threads']} -> {m['after_threads']}")
        grew = m["after_heap_mib"] - m["idle_heap_mib"]
        lines.append(f"- Heap after a full GC: {m['idle_heap_mib']:.1f} MiB idle, {m['after_heap_mib']:.1f} MiB after "
                     f"the connections closed (target: back to idle, within 1 MiB): {verdict(grew <= 1.0)}")
    jm = results.get("jmh")
    if jm:
        one = jm.get("PolicyMatchBenchmark.allowed(rules=1)")
        many = jm.get("PolicyMatchBenchmark.allowed(rules=10000)")
        if one and many:
            lines.append(f"- JMH, policy matcher, one decision: {one['ns']:.0f} ns with 1 rule, {many['ns']:.0f} ns with "
                         f"10,000 (denied: {jm['PolicyMatchBenchmark.denied(rules=10000)']['ns']:.0f} ns, no match: "
                         f"{jm['PolicyMatchBenchmark.noRuleMatches(rules=10000)']['ns']:.0f} ns)")
        lines.append("- JMH, frame codec, 1 path / 64 paths: decode request "
                     f"{jm['FrameCodecBenchmark.decodeRequest(paths=1)']['ns']:.0f} / "
                     f"{jm['FrameCodecBenchmark.decodeRequest(paths=64)']['ns']:.0f} ns, encode reply "
                     f"{jm['FrameCodecBenchmark.encodeReply(paths=1)']['ns']:.0f} / "
                     f"{jm['FrameCodecBenchmark.encodeReply(paths=64)']['ns']:.0f} ns, cut frame "
                     f"{jm['FrameCodecBenchmark.cutFrame(paths=1)']['ns']:.0f} / "
                     f"{jm['FrameCodecBenchmark.cutFrame(paths=64)']['ns']:.0f} ns")
    n = results.get("connections")
    if n:
        lines.append(f"- New connections (connect, one open, close; 4 threads), per second: C {n['C']['ops_per_s']:.0f}, "
                     f"Java {n['Java']['ops_per_s']:.0f} ({n['java_c']:.2f} of C), Java with units in the policy "
                     f"{n['Java, units']['ops_per_s']:.0f} ({n['units_java_c']:.2f} of C, {n['units_plain']:.2f} of "
                     f"without); connect to reply p50/p99 us: C {n['C']['p50_us']:.0f}/{n['C']['p99_us']:.0f}, Java "
                     f"{n['Java']['p50_us']:.0f}/{n['Java']['p99_us']:.0f}, with units "
                     f"{n['Java, units']['p50_us']:.0f}/{n['Java, units']['p99_us']:.0f}; broker CPU per connection "
                     f"C {n['C']['broker_cpu_us']:.0f}, Java {n['Java']['broker_cpu_us']:.0f}, with units "
                     f"{n['Java, units']['broker_cpu_us']:.0f} us (a report, no target)")
    s = results.get("start")
    if s:
        j = s["Java"]["median_ms"]
        lines.append(f"- Start to first reply under systemd-socket-activate: {j:.0f} ms (median of "
                     f"{len(s['Java']['runs_ms'])}; C baseline {s['C']['median_ms']:.0f} ms; target <= {START_TARGET_MS}): "
                     f"{verdict(j <= START_TARGET_MS)}")
    a = results.get("audit")
    if a:
        lines.append(f"- Audit and metrics on throughout (as shipped): the throughput broker counted {a['decisions']} "
                     f"decisions and wrote {a['audit_lines']} audit lines ({a['audit_dropped']} dropped): "
                     f"{verdict(a['audit_lines'] >= a['decisions'] and a['audit_dropped'] == 0)}")
    text = "\n".join(lines)
    return text, all(ok)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--conns", type=int, nargs="+", default=[1, 4, 16, 256])
    ap.add_argument("--scale-conns", type=int, nargs="+", default=[1, 16, 256, 1024],
                    help="the scaling part's connection counts (those --conns has are not run twice)")
    ap.add_argument("--crowd-busy", type=int, default=256, help="busy connections in the crowd part")
    ap.add_argument("--crowd-new", type=int, default=64, help="new connections at once in the crowd part")
    ap.add_argument("--statlist-conns", type=int, nargs="+", default=[1, 16])
    ap.add_argument("--nio-threads", type=int, nargs="+", default=[1, 4])
    ap.add_argument("--nio-seconds", type=float, default=2.5, help="seconds per run in the nio part")
    ap.add_argument("--warmup-java", type=float, default=20, help="seconds of load before measuring Java")
    ap.add_argument("--rules", type=int, default=10_000)
    ap.add_argument("--idle-conns", type=int, default=1000)
    ap.add_argument("--start-runs", type=int, default=9)
    ap.add_argument("--only", nargs="+", choices=["throughput", "scaling", "crowd", "statlist", "nio", "batch", "policy",
                                                     "connections", "memory", "start", "jmh"])
    ap.add_argument("--out", type=Path, default=BUILD / "results.md")
    ap.add_argument("--strict", action="store_true", help="exit 1 if a target is missed")
    args = ap.parse_args()

    # scaling right after throughput: it takes the counts throughput measured from it.
    parts = args.only or ["throughput", "scaling", "crowd", "statlist", "nio", "batch", "policy", "connections", "memory",
                          "start", "jmh"]
    needed = [LOADGEN, BASELINE, LAUNCHER, JMH_JAR] + ([CLIENT_JAR, NIOBENCH_CLASSES / "NioBench.class"] if "nio" in parts else [])
    for f in needed:
        if not f.exists():
            raise SystemExit(f"bench: {f} is missing; run ./run bench, which builds it")
    # Checked before any part runs: the memory part comes late, and a run that dies there loses the rest.
    if "memory" in parts and jcmd_path() is None:
        raise SystemExit("bench: the memory part needs a JDK's jcmd: set JAVA_HOME (./run bench does)")
    fx = Fixture(os.getuid())
    workdir = fx.dir
    results = {"throughput": {}, "statlist": {}, "nio": {}}
    try:
        for part in parts:
            log(f"== {part}")
            {"throughput": throughput, "scaling": scaling, "crowd": crowd, "statlist": statlist, "nio": nio,
             "batch": batches, "policy": policy_scale, "connections": connections, "memory": memory, "start": start,
             "jmh": jmh}[part](args, fx, workdir, results)
    finally:
        fx.close()
    text, all_met = report(results, args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")
    (args.out.with_suffix(".json")).write_text(json.dumps(results, indent=1, default=str))
    print(text)
    print(f"\n(also in {args.out})")
    if args.strict and not all_met:
        sys.exit(1)


if __name__ == "__main__":
    main()
