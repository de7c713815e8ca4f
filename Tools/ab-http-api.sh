#!/usr/bin/env bash
# Alternates two http-api binaries on one stack to compare them (BENCHMARKS.md, session 11):
# Redis with AOF as deployed, router and tcp-gateway from <release bin folder>; each round starts
# binary A then B, warms 3 s, measures `rtt-http --devices 32 --callers 32 --seconds 8 --client raw`
# and the http-api's CPU per call (from /proc), then stops it.
# Usage: Tools/ab-http-api.sh <release bin folder> <http-api A> <http-api B> [rounds (3)]
set -euo pipefail
bin=${1:?usage: ab-http-api.sh <release bin folder> <http-api A> <http-api B> [rounds]}
a=${2:?binary A}
b=${3:?binary B}
rounds=${4:-3}
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/iots-ab.XXXXXX)
port() { "$here/deploy/local/free-port.sh"; }
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [ -f "$work/redis.pid" ] && kill "$(cat "$work/redis.pid")" 2>/dev/null || true
    sleep 0.3
    rm -rf "$work"
}
trap cleanup EXIT
rp=$(port); tp=$(port); hp=$(port); ar=$(port); ag=$(port); aa=$(port)
redis-server --port "$rp" --bind 127.0.0.1 --save '' --appendonly yes --appendfsync everysec --dir "$work" \
    --logfile "$work/redis.log" --daemonize yes --pidfile "$work/redis.pid"
for _ in $(seq 1 50); do redis-cli -p "$rp" ping >/dev/null 2>&1 && break; sleep 0.1; done
cat >"$work/config.json" <<JSON
{ "KeepSessionSec": 60,
  "TCPServer": { "Addr": "127.0.0.1", "Port": $tp, "ReqTimeoutSec": 10, "IdleSec": 600 },
  "HTTPServer": { "Addr": "127.0.0.1", "Port": $hp, "MaxSecWaitResponse": 30 },
  "Central": { "AuthKey": "000102030405060708090a0b0c0d0e0f" },
  "Groups": { "Bench": { "Telemetry": true, "TelemetryTokenExpMin": 0 } },
  "Redis": { "URL": "redis://127.0.0.1:$rp", "StreamMaxLength": 1000000 },
  "Admin": { "Addr": "127.0.0.1", "Ports": { "router": $ar, "tcp-gateway": $ag, "http-api": $aa } },
  "Log": { "Level": "warning" } }
JSON
"$bin/router" --config "$work/config.json" >"$work/router.log" 2>&1 &
pids+=($!)
"$bin/tcp-gateway" --config "$work/config.json" >"$work/gateway.log" 2>&1 &
pids+=($!)
sleep 2
bench() { "$bin/iotsocket-bench" rtt-http --url "http://127.0.0.1:$hp" --gateway-port "$tp" --devices 32 --callers 32 --client raw "$@"; }
for round in $(seq 1 "$rounds"); do
    for variant in A B; do
        api=$a
        [ $variant = B ] && api=$b
        "$api" --config "$work/config.json" >"$work/api.log" 2>&1 &
        apid=$!
        for _ in $(seq 1 100); do
            [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$aa/ready")" = 200 ] && break
            sleep 0.1
        done
        bench --seconds 3 >/dev/null 2>&1
        before=$(awk '{print $14 + $15}' "/proc/$apid/stat")
        line=$(bench --seconds 8 2>&1 | grep '^rtt-http:')
        after=$(awk '{print $14 + $15}' "/proc/$apid/stat")
        calls=$(sed -E 's/.* calls=([0-9]+) .*/\1/' <<<"$line")
        ticks=$(getconf CLK_TCK)
        echo "round $round $variant $(grep -oE 'per_second=[0-9]+|p99_ms=[0-9.]+' <<<"$line" | tr '\n' ' ')http_api_cpu_us_per_call=$(( (after - before) * 1000000 / ticks / calls ))"
        kill "$apid"
        wait "$apid" 2>/dev/null || true
    done
done
