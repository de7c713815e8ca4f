#!/usr/bin/env bash
# The standard benchmark suite (`make bench`): starts a private stack from release binaries
# (redis + router + two gateways (plain, TLS) + udp-telemetry + http-api + webhook-dispatcher),
# runs every iotsocket-bench measurement against it, and stops everything it started.
# Results: one JSON line per run in .run/bench/results.jsonl, a summary on stdout.
# Usage: Tools/run-benchmarks.sh <release bin folder> [--quick]
set -euo pipefail
bin=${1:?usage: run-benchmarks.sh <release bin folder> [--quick]}
quick=0
[ "${2:-}" = "--quick" ] && quick=1
here=$(cd "$(dirname "$0")/.." && pwd)
out="$here/.run/bench"
mkdir -p "$out"
results="$out/results.jsonl"
: >"$results"
: >"$out/stderr.log"
work=$(mktemp -d /tmp/iots-bench.XXXXXX)
port() { "$here/deploy/local/free-port.sh"; }
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    # Services drain on SIGTERM (gateways close their sessions first): give them 10 s.
    for _ in $(seq 1 100); do
        alive=0
        for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && [ "$(ps -o stat= -p "$pid")" != Z ] && alive=1; done
        [ $alive -eq 0 ] && break
        sleep 0.1
    done
    for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
seconds=10
[ $quick -eq 1 ] && seconds=3

redis_port=$(port); tcp_port=$(port); tls_port=$(port); udp_port=$(port); http_port=$(port)
# Redis persists as in every deployment shipped here (compose.yaml, deploy/k8s, make run): AOF,
# fsync every second. It costs Redis CPU on every write; BENCH_REDIS_AOF=no runs the whole suite
# without persistence, and a few rows near the end repeat without it to compare.
redis_aof=${BENCH_REDIS_AOF:-yes}
case $redis_aof in yes | no) ;; *) echo "BENCH_REDIS_AOF must be yes or no, not '$redis_aof'" >&2; exit 2 ;; esac
redis-server --port "$redis_port" --bind 127.0.0.1 --unixsocket "$work/redis.sock" --unixsocketperm 700 \
    --save '' --appendonly "$redis_aof" --appendfsync everysec --dir "$work" --logfile "$work/redis.log" &
pids+=($!)
aof_now=$redis_aof  # what the rows measured now run against (each results line says)
for _ in $(seq 1 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
redis="redis://127.0.0.1:$redis_port"
# The TLS gateway's key: ECDSA P-256 (what README recommends); BENCH_TLS_KEY=rsa for RSA-2048.
if [ "${BENCH_TLS_KEY:-ec}" = rsa ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 2 -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
else
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=localhost -days 2 \
        -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
fi
declare -A admin
for service in router tcp-gateway tcp-gateway-tls udp-telemetry http-api webhook-dispatcher; do admin[$service]=$(port); done
cat >"$work/config.json" <<JSON
{
  "KeepSessionSec": 60,
  "TCPServer": { "Addr": "127.0.0.1", "Port": $tcp_port, "ReqTimeoutSec": 10, "IdleSec": 600 },
  "HTTPServer": { "Addr": "127.0.0.1", "Port": $http_port, "MaxSecWaitResponse": 30 },
  "UDPServer": { "Addr": "127.0.0.1", "Port": $udp_port, "DatagramMaxSize": 4096 },
  "Central": { "AuthKey": "000102030405060708090a0b0c0d0e0f" },
  "Groups": { "Bench": { "Telemetry": true, "TelemetryTokenExpMin": 0 }, "Plain": { "Telemetry": false } },
  "Redis": { "URL": "$redis", "KeyPrefix": "iots:", "StreamMaxLength": 1000000 },
  "Admin": { "Addr": "127.0.0.1", "Ports": { "router": ${admin[router]}, "tcp-gateway": ${admin[tcp-gateway]},
    "udp-telemetry": ${admin[udp-telemetry]}, "http-api": ${admin[http-api]}, "webhook-dispatcher": ${admin[webhook-dispatcher]} } },
  "Log": { "Level": "warning" }
}
JSON
start() { # service, then extra environment assignments
    local name=$1; shift
    env "$@" "$bin/$name" --config "$work/config.json" >"$work/$name.log" 2>&1 &
    pids+=($!)
    eval "pid_${name//-/_}=$!"
}
# The TLS gateway reads the certificate through its own configuration.
python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
config = json.load(open(f"{work}/config.json"))
config["TCPServer"]["SSLCrtFilename"] = f"{work}/cert.pem"
config["TCPServer"]["SSLKeyFilename"] = f"{work}/key.pem"
json.dump(config, open(f"{work}/config-tls.json", "w"))
PY
start router
start tcp-gateway IOTS_INSTANCE_ID=gw-plain
start udp-telemetry
start http-api
env IOTS_INSTANCE_ID=gw-tls IOTS_TCP_PORT="$tls_port" IOTS_ADMIN_PORT="${admin[tcp-gateway-tls]}" \
    "$bin/tcp-gateway" --config "$work/config-tls.json" >"$work/tcp-gateway-tls.log" 2>&1 &
pids+=($!)
pid_tcp_gateway_tls=$!
wait_ready() {
    for _ in $(seq 1 300); do curl -fsS "http://127.0.0.1:$1/ready" >/dev/null 2>&1 && return 0; sleep 0.1; done
    echo "a service did not become ready (admin port $1); logs kept in $out/failed-logs" >&2
    mkdir -p "$out/failed-logs" && cp "$work"/*.log "$out/failed-logs/" 2>/dev/null
    return 1
}
for service in router tcp-gateway tcp-gateway-tls udp-telemetry http-api; do wait_ready "${admin[$service]}"; done

# Entries of a stream its consumer group has not read or not acknowledged yet.
backlog() {
    redis-cli -p "$redis_port" XINFO GROUPS "$1" 2>/dev/null | awk '/^lag$/ {getline; lag=$1} /^pending$/ {getline; pending=$1} END {print lag + pending}'
}
# The sessions runs end with tens of thousands of closes for the router to handle: the next
# measurement starts once it has.
settle() {
    for _ in $(seq 1 120); do [ "$(backlog iots:router)" = "0" ] && break; sleep 0.5; done
}
run() { # title, then the iotsocket-bench arguments
    local title=$1; shift
    echo "== $title"
    local started=$SECONDS
    "$bin/iotsocket-bench" "$@" 2>>"$out/stderr.log" | tee -a "$out/last.txt" | grep '^{' | sed "s|^{|{\"title\":\"$title\",\"redis_aof\":\"$aof_now\",|" >>"$results" || echo "   (failed: see $out/stderr.log)"
    tail -2 "$out/last.txt" | head -1
    echo "   ($((SECONDS - started)) s)"
}
sessions=19000; tls_sessions=3000; nio_sessions=15000
[ $quick -eq 1 ] && { sessions=2000; tls_sessions=500; nio_sessions=2000; }
# What the box's loopback TCP does with nothing of ours in the way (a client and a peer on raw
# sockets and epoll(7)): the ceiling the login and round-trip figures are read against. Measured
# first, on a quiet box.
ceiling_logins=15000
[ $quick -eq 1 ] && ceiling_logins=3000
run "box ceiling: login-shaped TCP exchanges, no concentrator" loopback-ceiling --shape login --count $ceiling_logins
run "box ceiling: one TCP hop, ping-pong on one connection" loopback-ceiling --shape echo --connections 1 --seconds $seconds
run "redis module: pipelined XADD, 4 batches in flight" redis-xadd --redis "$redis" --count 2000000 --window 4
run "redis module: pipelined XADD, 1 batch in flight" redis-xadd --redis "$redis" --count 1000000 --window 1
run "sessions held by one gateway (plain, raw-socket client)" sessions --port "$tcp_port" --sessions $sessions --hold 5 --client raw --gateway-pid "$pid_tcp_gateway" --redis "$redis"
settle
# The row above logs in devices of a group with telemetry, so each login also has the router
# issue a token and the gateway write it (ToT 0x5); this one is the login alone.
run "logins, plain, raw-socket client, group without telemetry tokens" sessions --port "$tcp_port" --sessions $sessions --hold 1 --client raw --group Plain --redis "$redis"
settle
run "logins, plain, NIO client" sessions --port "$tcp_port" --sessions $nio_sessions --hold 1 --redis "$redis"
settle
run "logins over TLS (${BENCH_TLS_KEY:-ec} key)" sessions --port "$tls_port" --sessions $tls_sessions --hold 1 --tls --gateway-pid "$pid_tcp_gateway_tls" --redis "$redis"
settle
# Round trips from raw-socket clients (the central, the devices and the HTTP callers on one
# thread with epoll(7)): they take less of the 2 shared cores than NIO clients, which stand in
# for peers that would be on other machines. One row each with the NIO client, to compare.
run "central TCP → device RTT, closed loop C=32" rtt-tcp --port "$tcp_port" --devices 32 --concurrency 32 --seconds $seconds --client raw --redis "$redis"
run "central TCP → device RTT, closed loop C=32, NIO client" rtt-tcp --port "$tcp_port" --devices 32 --concurrency 32 --seconds $seconds --redis "$redis"
run "central TCP → device RTT, closed loop C=256" rtt-tcp --port "$tcp_port" --devices 64 --concurrency 256 --seconds $seconds --client raw --redis "$redis"
run "central TCP → device RTT at 5000 req/s" rtt-tcp --port "$tcp_port" --devices 32 --rate 5000 --seconds $seconds --client raw --redis "$redis"
run "HTTP API → device RTT, 32 callers" rtt-http --url "http://127.0.0.1:$http_port" --gateway-port "$tcp_port" --devices 32 --callers 32 --seconds $seconds --client raw
run "HTTP API → device RTT, 32 callers, NIO client" rtt-http --url "http://127.0.0.1:$http_port" --gateway-port "$tcp_port" --devices 32 --callers 32 --seconds $seconds
run "HTTP API → device RTT at 1000 req/s" rtt-http --url "http://127.0.0.1:$http_port" --gateway-port "$tcp_port" --devices 32 --callers 256 --rate 1000 --seconds $seconds --client raw
run "telemetry end to end (UDP → central TCP) at 50000/s" telemetry --port "$tcp_port" --udp-port "$udp_port" --devices 100 --rate 50000 --seconds $seconds --redis "$redis"
run "telemetry end to end at 100000/s" telemetry --port "$tcp_port" --udp-port "$udp_port" --devices 100 --rate 100000 --seconds $seconds --redis "$redis"
# Ingest at fixed rates: flat out, the sender (whose kernel work for loopback UDP costs more
# than the service's) takes the cores from the receiver, which measures the sender. First with
# the router (which consumes the stream) paused, so sender, udp-telemetry and Redis have the 2
# cores; it resumes and catches up afterwards. Then with it running.
udp_metrics="http://127.0.0.1:${admin[udp-telemetry]}/metrics"
kill -STOP "$pid_router"
run "UDP ingest at 200000/s (router paused)" udp-ingest --redis "$redis" --port "$udp_port" --metrics "$udp_metrics" --devices 1000 --batch 256 --rate 200000 --seconds $seconds
run "UDP ingest at 250000/s (router paused)" udp-ingest --redis "$redis" --port "$udp_port" --metrics "$udp_metrics" --devices 1000 --batch 256 --rate 250000 --seconds $seconds
kill -CONT "$pid_router"
sleep 3
run "UDP ingest at 200000/s (router consuming)" udp-ingest --redis "$redis" --port "$udp_port" --metrics "$udp_metrics" --devices 1000 --batch 256 --rate 200000 --seconds $seconds
run "UDP ingest at 50000/s" udp-ingest --redis "$redis" --port "$udp_port" --metrics "$udp_metrics" --devices 1000 --rate 50000 --seconds $seconds
# The router is still working through the telemetry the ingest runs queued: let it finish, so
# the dispatcher is measured on a quiet box like every other figure.
for _ in $(seq 1 120); do [ "$(backlog iots:telemetry)" = "0" ] && break; sleep 0.5; done
echo "   (telemetry backlog before the webhook runs: $(backlog iots:telemetry))"
webhook_jobs=200000
[ $quick -eq 1 ] && webhook_jobs=20000
run "telemetry webhooks delivered by one dispatcher" webhook-deliveries --redis "$redis" --count $webhook_jobs --devices 1000 --dispatcher "$bin/webhook-dispatcher"
# Queued all at once, queue-to-send measures the backlog; at a fixed rate it measures the dispatcher.
run "telemetry webhooks at 10000/s (queue-to-send)" webhook-deliveries --redis "$redis" --count $((webhook_jobs / 2)) --rate 10000 --devices 1000 --dispatcher "$bin/webhook-dispatcher"
# Five gateways holding sessions together (each up to its 20 000-file limit): the plain one and
# four more, seven client workers.
ports=$tcp_port; gateway_pids=$pid_tcp_gateway
for index in 2 3 4 5; do
    extra_port=$(port)
    env IOTS_INSTANCE_ID="gw-extra-$index" IOTS_TCP_PORT="$extra_port" IOTS_ADMIN_PORT="$(port)" \
        "$bin/tcp-gateway" --config "$work/config.json" >"$work/tcp-gateway-$index.log" 2>&1 &
    pids+=($!)
    ports="$ports,$extra_port"; gateway_pids="$gateway_pids,$!"
done
sleep 2
five_sessions=95000
[ $quick -eq 1 ] && five_sessions=10000
run "sessions held by five gateways together" sessions --port "$ports" --sessions $five_sessions --workers 7 --hold 5 --gateway-pid "$gateway_pids" --redis "$redis"
settle
# What persistence costs: the busiest rows again with Redis' AOF switched off (CONFIG SET takes
# effect at once), then on again as deployed for the rows after.
aof_rewrite_done() { # waits (at most a minute) for the rewrite that switching the AOF on starts
    local info
    for _ in $(seq 1 600); do
        info=$(redis-cli -p "$redis_port" INFO persistence)
        grep -Eq '^aof_rewrite(_in_progress|_scheduled):1' <<<"$info" || return 0
        sleep 0.1
    done
}
if [ "$redis_aof" = yes ]; then
    redis-cli -p "$redis_port" CONFIG SET appendonly no >/dev/null
    aof_now=no
    run "logins, plain, raw-socket client, no telemetry tokens, Redis without AOF" sessions --port "$tcp_port" --sessions $sessions --hold 1 --client raw --group Plain --redis "$redis"
    settle
    run "central TCP → device RTT, closed loop C=256, Redis without AOF" rtt-tcp --port "$tcp_port" --devices 64 --concurrency 256 --seconds $seconds --client raw --redis "$redis"
    run "HTTP API → device RTT, 32 callers, Redis without AOF" rtt-http --url "http://127.0.0.1:$http_port" --gateway-port "$tcp_port" --devices 32 --callers 32 --seconds $seconds --client raw
    kill -STOP "$pid_router"
    run "UDP ingest at 200000/s (router paused), Redis without AOF" udp-ingest --redis "$redis" --port "$udp_port" --metrics "$udp_metrics" --devices 1000 --batch 256 --rate 200000 --seconds $seconds
    kill -CONT "$pid_router"
    for _ in $(seq 1 120); do [ "$(backlog iots:telemetry)" = "0" ] && break; sleep 0.5; done
    redis-cli -p "$redis_port" CONFIG SET appendonly yes >/dev/null
    aof_rewrite_done
    aof_now=yes
fi
# The round trips again with router, gateway and http-api reaching Redis over its Unix socket
# (Redis.URL unix://…, for a Redis on the same host) instead of loopback TCP.
for name in router tcp-gateway http-api; do var="pid_${name//-/_}"; kill "${!var}"; done
for name in router tcp-gateway http-api; do var="pid_${name//-/_}"; wait "${!var}" || true; done
unix_redis="unix://$work/redis.sock"
start router IOTS_REDIS_URL="$unix_redis"
start tcp-gateway IOTS_INSTANCE_ID=gw-plain IOTS_REDIS_URL="$unix_redis"
start http-api IOTS_REDIS_URL="$unix_redis"
for service in router tcp-gateway http-api; do wait_ready "${admin[$service]}"; done
run "central TCP → device RTT, closed loop C=256, Redis over its Unix socket" rtt-tcp --port "$tcp_port" --devices 64 --concurrency 256 --seconds $seconds --client raw --redis "$redis"
run "HTTP API → device RTT, 32 callers, Redis over its Unix socket" rtt-http --url "http://127.0.0.1:$http_port" --gateway-port "$tcp_port" --devices 32 --callers 32 --seconds $seconds --client raw
echo
echo "Redis AOF (appendfsync everysec): $redis_aof"
echo "results: $results"
python3 - "$results" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    keys = [k for k in ("established", "per_second", "logins_per_second", "gateway_bytes_per_session", "accepted_per_second", "received_per_second",
                        "deliveries_per_second", "p50_ms", "p99_ms", "loss", "errors", "client_cpu_us_per_op", "peer_cpu_us_per_op") if k in r]
    print(f"{r['title']:<52} " + "  ".join(f"{k}={r[k]}" for k in keys))
PY
