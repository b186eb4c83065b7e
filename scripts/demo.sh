#!/usr/bin/env bash
# The demo behind `./run demo` (which builds first): starts the broker on a socket under
# target/demo with config/demo-policy.yaml, then fetches files through it with fdcat.
# Needs no root and no systemd. JAVA_HOME must point at JDK 25+ (./run sees to that).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
java="${JAVA_HOME:?set JAVA_HOME to a JDK 25+}/bin/java"
broker_jar="$root/broker/target/fdbroker.jar"
fdcat_jar="$root/client-lib/target/fdcat.jar"
policy="$root/config/demo-policy.yaml"
dir="$root/target/demo"
sock="$dir/fdbroker.sock"

mkdir -p "$dir"
chmod 700 "$dir"
rm -f "$dir/broker.log"

"$java" -jar "$broker_jar" serve --config "$policy" --socket "$sock" --socket-mode 0600 2>"$dir/broker.log" &
broker=$!
trap 'kill "$broker" 2>/dev/null; wait "$broker" 2>/dev/null || true' EXIT

for _ in $(seq 200); do
  [ -S "$sock" ] && break
  if ! kill -0 "$broker" 2>/dev/null; then
    echo "demo: the broker did not start:" >&2
    cat "$dir/broker.log" >&2
    exit 1
  fi
  sleep 0.05
done
[ -S "$sock" ] || { echo "demo: no socket at $sock after 10 s" >&2; cat "$dir/broker.log" >&2; exit 1; }

fdcat() { "$java" -jar "$fdcat_jar" --socket "$sock" "$@"; }
step() { printf '\n\033[1m== %s\033[0m\n$ %s\n' "$1" "$2"; }

echo "fdbroker demo: broker pid $broker on $sock, policy config/demo-policy.yaml"
cat "$dir/broker.log"

step "What the policy says (no broker needed)" \
  "fdbroker explain --config config/demo-policy.yaml --uid $(id -u) /usr/lib/os-release /etc/shadow"
"$java" -jar "$broker_jar" explain --config "$policy" --uid "$(id -u)" --gid "$(id -g)" /usr/lib/os-release /etc/shadow || true

step "An allowed file, read through the descriptor the broker passed" "fdcat /usr/lib/os-release"
fdcat /usr/lib/os-release

step "A denied path: refused before the broker touches the filesystem" "fdcat /etc/shadow"
fdcat /etc/shadow && { echo "demo: /etc/shadow should have been denied" >&2; exit 1; } || true

step "An allowed path that is a symlink: refused, links are never followed" "fdcat /etc/os-release"
fdcat /etc/os-release && { echo "demo: /etc/os-release should have been refused" >&2; exit 1; } || true

printf '\nDemo done. The broker stops now.\n'
