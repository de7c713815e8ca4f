#!/usr/bin/env bash
# Runs a command with a private redis-server on a free port, then stops it whatever happens.
# The command sees IOTS_TEST_REDIS_URL. With --bench, the URL is passed as --redis instead.
# Everything the command writes to its temporary folder (TMPDIR: the tests' configuration
# files, service logs, certificates, Redis data) goes to a private folder under /tmp, removed
# when the command succeeds and kept, with its path printed, when it fails.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bench=0
if [ "${1:-}" = "--bench" ]; then bench=1; shift; fi
port=$("$here/free-port.sh")
dir=$(mktemp -d /tmp/iots-test-run.XXXXXX)
mkdir "$dir/redis" "$dir/tmp"
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir/redis" \
    --daemonize yes --pidfile "$dir/redis/redis.pid" --logfile "$dir/redis/redis.log"
finish() {
    local status=$?
    if [ -f "$dir/redis/redis.pid" ]; then kill "$(cat "$dir/redis/redis.pid")" 2>/dev/null || true; fi
    sleep 0.2
    if [ $status -eq 0 ]; then
        rm -rf "$dir"
    else
        echo "with-redis.sh: the command failed (status $status); its temporary files and service logs are kept in $dir" >&2
    fi
    exit $status
}
trap finish EXIT
for _ in $(seq 1 50); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && break
    sleep 0.1
done
export IOTS_TEST_REDIS_URL="redis://127.0.0.1:$port"
export TMPDIR="$dir/tmp"
echo "private redis-server on port $port, temporary files in $TMPDIR"
if [ $bench -eq 1 ]; then
    "$@" --redis "$IOTS_TEST_REDIS_URL"
else
    "$@"
fi
