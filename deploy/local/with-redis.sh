#!/usr/bin/env bash
# Runs a command with a private redis-server on a free port, then stops it whatever happens.
# The command sees IOTS_TEST_REDIS_URL. With --bench, the URL is passed as --redis instead.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bench=0
if [ "${1:-}" = "--bench" ]; then bench=1; shift; fi
port=$("$here/free-port.sh")
dir=$(mktemp -d /tmp/iots-redis.XXXXXX)
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" \
    --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
stop_redis() {
    if [ -f "$dir/redis.pid" ]; then kill "$(cat "$dir/redis.pid")" 2>/dev/null || true; fi
    sleep 0.2
    rm -rf "$dir"
}
trap stop_redis EXIT
for _ in $(seq 1 50); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && break
    sleep 0.1
done
export IOTS_TEST_REDIS_URL="redis://127.0.0.1:$port"
echo "private redis-server on port $port"
if [ $bench -eq 1 ]; then
    "$@" --redis "$IOTS_TEST_REDIS_URL"
else
    "$@"
fi
