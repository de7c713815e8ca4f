#!/usr/bin/env bash
# Starts redis-server and the six services on this machine (no containers), waits until each
# reports ready on its admin endpoint and prints the endpoints. With --foreground it stays
# attached and stops everything on Ctrl-C; otherwise `make stop` (deploy/local/stop-stack.sh) does.
set -euo pipefail
foreground=0
config=deploy/config/local.json
bin=.build/debug
while [ $# -gt 0 ]; do
    case "$1" in
        --foreground) foreground=1 ;;
        --config) config=$2; shift ;;
        --bin) bin=$2; shift ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
state=.run
services=(router tcp-gateway udp-telemetry http-api webhook-dispatcher remote-sync)
if [ -f "$state/pids" ] && xargs -r kill -0 <"$state/pids" 2>/dev/null; then
    echo "a stack is already running (make stop first)" >&2
    exit 1
fi
mkdir -p "$state/logs" "$state/redis"
: >"$state/pids"

# Redis from the configuration's Redis.URL (a private port by default).
read -r redis_host redis_port < <(python3 - "$config" <<'PY'
import json, sys, urllib.parse
url = json.load(open(sys.argv[1])).get("Redis", {}).get("URL", "redis://127.0.0.1:6379")
parsed = urllib.parse.urlparse(url)
print(parsed.hostname or "127.0.0.1", parsed.port or 6379)
PY
)
if ! redis-cli -h "$redis_host" -p "$redis_port" ping >/dev/null 2>&1; then
    redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$PWD/$state/redis" --appendonly yes \
        --appendfsync everysec --daemonize yes --pidfile "$PWD/$state/redis/redis.pid" --logfile "$PWD/$state/logs/redis.log"
    for _ in $(seq 1 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
    cat "$state/redis/redis.pid" >>"$state/pids"
fi

stop_all() {
    deploy/local/stop-stack.sh
}
[ $foreground -eq 1 ] && trap stop_all EXIT INT TERM

for service in "${services[@]}"; do
    "$bin/$service" --config "$config" >>"$state/logs/$service.log" 2>&1 &
    echo $! >>"$state/pids"
done

admin_port() {
    python3 - "$config" "$1" <<'PY'
import json, sys
defaults = {"router": 9101, "tcp-gateway": 9102, "udp-telemetry": 9103, "http-api": 9104,
            "webhook-dispatcher": 9105, "remote-sync": 9106}
admin = json.load(open(sys.argv[1])).get("Admin", {})
print(admin.get("Ports", {}).get(sys.argv[2], defaults[sys.argv[2]]))
PY
}
failed=0
for service in "${services[@]}"; do
    port=$(admin_port "$service")
    ready=0
    for _ in $(seq 1 100); do
        if curl -fsS "http://127.0.0.1:$port/ready" >/dev/null 2>&1; then ready=1; break; fi
        sleep 0.1
    done
    if [ $ready -eq 1 ]; then
        printf '  %-19s ready   admin http://127.0.0.1:%s/{health,ready,metrics}\n' "$service" "$port"
    else
        printf '  %-19s NOT READY (see %s/logs/%s.log)\n' "$service" "$state" "$service"
        failed=1
    fi
done
python3 - "$config" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
tcp, udp, http = c.get("TCPServer", {}), c.get("UDPServer", {}), c.get("HTTPServer", {})
print(f"devices and central:  tcp://{tcp.get('Addr', '0.0.0.0')}:{tcp.get('Port', 50505)}  "
      f"telemetry udp://{udp.get('Addr', '0.0.0.0')}:{udp.get('Port', 50505)}")
print(f"central web API:      http://{http.get('Addr', '0.0.0.0')}:{http.get('Port', 8080)}")
print(f"redis:                {c.get('Redis', {}).get('URL', 'redis://127.0.0.1:6379')}")
PY
echo "logs: $state/logs/"
if [ $failed -eq 1 ] && [ $foreground -eq 0 ]; then
    echo "some services are not ready; stopping" >&2
    stop_all
    exit 1
fi
if [ $foreground -eq 1 ]; then
    echo "press Ctrl-C to stop"
    wait
else
    echo "running in the background: make stop"
fi
