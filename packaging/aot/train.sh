#!/bin/sh
# Builds the broker's AOT cache (JDK 25, JEP 483/514) for the package: runs the packaged broker,
# as its launcher runs it, through a short training run (start, ping, opens granted and denied, a
# metrics scrape, stop), and the JVM writes what it loaded and linked to the cache at exit.
# Started from the cache, the broker answers its first request in about half the time.
#
#   train.sh ROOT FDCAT_JAR JAVA
#     ROOT: the staged package tree (ROOT/usr/bin/fdbroker, ROOT/usr/lib/fdbroker/...)
#     FDCAT_JAR, JAVA: the client that makes the requests, and the java that runs it
set -eu
root=$1
fdcat=$2
java=$3
lib="$root/usr/lib/fdbroker"
cache="$lib/fdbroker.aot"
work=$(mktemp -d)
trap 'kill "$broker" 2>/dev/null || true; rm -rf "$work"' EXIT

mkdir "$work/files"
echo "training" > "$work/files/allowed.txt"
echo "secret" > "$work/files/denied.txt"
cat > "$work/policy.yaml" <<POLICY
metrics: {listen: "unix:$work/metrics.sock"}
audit: {output: $work/audit.jsonl}
rules:
  - name: training
    users: [$(id -u)]
    allow: ["$work/files/*.txt"]
    deny: ["$work/files/denied.txt"]
POLICY

rm -f "$cache"
# Classes only, no method profiles (JEP 515's training data, a diagnostic switch): replayed at
# start, the profiles had the JIT compile the training run's hot methods while the broker was
# still starting, on a machine of two cores about a sixth of the CPU time to the first reply
# (bench/README.md, issue 13), for a warm-up the broker does not need.
FDBROKER_JAVA_OPTS="-XX:AOTCacheOutput=$cache -XX:+UnlockDiagnosticVMOptions -XX:-AOTRecordTraining" \
  "$root/usr/bin/fdbroker" serve --config "$work/policy.yaml" --socket "$work/b.sock" \
  >"$work/broker.log" 2>&1 &
broker=$!
i=0
while [ ! -S "$work/b.sock" ]; do
  i=$((i + 1))
  if [ "$i" -gt 300 ] || ! kill -0 "$broker" 2>/dev/null; then
    echo "train.sh: the broker did not start:" >&2
    cat "$work/broker.log" >&2
    exit 1
  fi
  sleep 0.1
done
for _ in 1 2 3; do
  "$java" -jar "$fdcat" --socket "$work/b.sock" "$work/files/allowed.txt" >/dev/null
  "$java" -jar "$fdcat" --socket "$work/b.sock" "$work/files/denied.txt" "$work/files/missing.txt" \
    >/dev/null 2>&1 || true
done
kill -TERM "$broker"
wait "$broker" || { echo "train.sh: the training broker failed:" >&2; cat "$work/broker.log" >&2; exit 1; }
if [ ! -s "$cache" ]; then
  echo "train.sh: no AOT cache was written:" >&2
  cat "$work/broker.log" >&2
  exit 1
fi
echo "train.sh: AOT cache $cache ($(wc -c <"$cache") bytes)"
