#!/usr/bin/env bash
# make bench: start exlab as its own process on a fresh data directory and load it with
# `exlab bench` over loopback. (The side-by-side run against Postfix and smtp-sink is issue 3.)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin/exlab}
OFFSET=${OFFSET:-20000}
DATA=$(mktemp -d /tmp/exlab-bench.XXXXXX)
LOG="$DATA/exlab.log"
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$DATA"' EXIT

# The embedded default with connection limits raised for load (through the config, not code).
"$BIN" config default | sed -e 's/MaxInboundConnectionPerSource: 20/MaxInboundConnectionPerSource: Unlimited/' > "$DATA/org.yaml"
"$BIN" serve --config "$DATA/org.yaml" --data "$DATA/data" --port-offset "$OFFSET" --admin off --log-level warn 2>"$LOG" &
PID=$!
for _ in $(seq 1 100); do grep -q "listens" "$LOG" 2>/dev/null && break; sleep 0.1; done
grep "listens" "$LOG"

FE=127.0.0.1:$((25 + OFFSET))
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
for point in "1 20 1024" "20 20 1024" "20 1 1024" "100 20 1024" "20 20 102400"; do
  set -- $point
  echo "== frontend path (Default Frontend -> hub -> Pebble, synced): $1 sessions, $2 msgs/connection, $3 bytes"
  cpu0=$(awk '{print $14+$15}' /proc/$PID/stat)
  "$BIN" bench --target "$FE" --sessions "$1" --per-session "$2" --size "$3" --messages $(( $3 > 10000 ? 2000 : 10000 ))
  cpu1=$(awk '{print $14+$15}' /proc/$PID/stat)
  echo "server CPU: $(( (cpu1 - cpu0) * 10 )) ms"
done
