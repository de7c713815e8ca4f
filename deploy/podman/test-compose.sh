#!/usr/bin/env bash
# `make test-compose`: the container stack, scaled, tested from the outside, always torn down.
#   1. podman + podman-compose + docker-compose present (deploy/podman/prepare.sh, as root)
#   2. `docker-compose config` accepts compose.yaml (what Docker users run)
#   3. release build on the host, both images built, their libraries checked
#   4. podman-compose up with 3 gateways, 2 routers, 2 of udp-telemetry, http-api and
#      webhook-dispatcher, on free ports of 127.0.0.1, with a fresh central key and the telemetry
#      webhook pointing at this machine; wait until every container is healthy
#   5. Tests/EndToEndTests/ComposeStackTests.swift through the edge's published ports
#   6. down (trap: also on failure or Ctrl-C), volumes removed; logs shown on failure
# Exit status: non-zero when any step fails. Timings are printed per step.
#   SWIFT_TEST_FLAGS   extra flags for `swift test` (default none)
#   IOTS_KEEP_STACK=1  leave the stack running afterwards (then: make compose-down)
set -euo pipefail
cd "$(dirname "$0")/../.."
here=deploy/podman
export IOTS_PROJECT=${IOTS_PROJECT:-iotsocket-test}
export IOTS_READY_TIMEOUT=${IOTS_READY_TIMEOUT:-90}
started=$SECONDS
step_start=$SECONDS
timings=()
step() {
    local now=$SECONDS
    [ -n "${current:-}" ] && timings+=("$(printf '%-32s %4d s' "$current" $((now - step_start)))")
    current=$1
    step_start=$now
    printf '\n== %s\n' "$1"
}
report() {
    local status=$?
    trap - EXIT
    if [ $status -ne 0 ] && [ "${stack_up:-0}" -eq 1 ]; then
        printf '\n== logs (last lines of each container)\n'
        IOTS_LOG_TAIL=40 "$here/compose.sh" logs || true
        "$here/compose.sh" status || true
    fi
    if [ "${stack_up:-0}" -eq 1 ] && [ "${IOTS_KEEP_STACK:-0}" != 1 ]; then
        step "down"
        "$here/compose.sh" down --volumes || true
    elif [ "${stack_up:-0}" -eq 1 ]; then
        echo "the stack stays up (IOTS_KEEP_STACK=1): IOTS_PROJECT=$IOTS_PROJECT deploy/podman/compose.sh down --volumes"
    fi
    step "timings"
    printf '  %s\n' "${timings[@]}"
    printf '  %-32s %4d s\n' "total" $((SECONDS - started))
    if [ $status -eq 0 ]; then echo "compose test: PASSED"; else echo "compose test: FAILED (status $status)" >&2; fi
    exit $status
}
trap report EXIT
trap 'exit 130' INT TERM

step "prepare (podman)"
if [ "$(id -u)" -eq 0 ]; then
    "$here/prepare.sh"
else
    for tool in podman podman-compose docker-compose; do
        command -v "$tool" >/dev/null || { echo "$tool is missing: run deploy/podman/prepare.sh as root" >&2; exit 1; }
    done
fi

step "docker-compose config, k8s YAML"
docker-compose -f compose.yaml config -q
echo "compose.yaml is valid for docker-compose $(docker-compose version --short)"
make --no-print-directory k8s-check

step "release build + images"
"$here/compose.sh" images

step "test build"
# The debug build of the tests (make test has done it already: then this is a no-op).
nice -n 10 swift build --build-tests ${SWIFT_FLAGS:-} 2>&1 | tail -1

step "stack up (scaled) + ready"
free_port() { deploy/local/free-port.sh; }
export IOTS_PUBLISH_ADDR=127.0.0.1
IOTS_TCP_PUBLISH_PORT=$(free_port)
IOTS_UDP_PUBLISH_PORT=$(free_port)
IOTS_HTTP_PUBLISH_PORT=$(free_port)
sink_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("0.0.0.0", 0)); print(s.getsockname()[1]); s.close()')
IOTS_CENTRAL_AUTHKEY=$(openssl rand -hex 16)
# How containers reach this machine: podman's host.containers.internal (Docker Desktop and
# Docker ≥ 20.10 with host-gateway: host.docker.internal).
IOTS_WEBHOOK_TELEMETRY_URL="http://${IOTS_COMPOSE_HOST_ALIAS:-host.containers.internal}:$sink_port/telemetry"
export IOTS_TCP_PUBLISH_PORT IOTS_UDP_PUBLISH_PORT IOTS_HTTP_PUBLISH_PORT IOTS_CENTRAL_AUTHKEY IOTS_WEBHOOK_TELEMETRY_URL
"$here/compose.sh" down --volumes >/dev/null   # leftovers of an interrupted run
stack_up=1
"$here/compose.sh" up --scale tcp-gateway=3 --scale router=2 --scale webhook-dispatcher=2 \
    --scale http-api=2 --scale udp-telemetry=2
"$here/compose.sh" status
echo "edge: tcp 127.0.0.1:$IOTS_TCP_PUBLISH_PORT udp 127.0.0.1:$IOTS_UDP_PUBLISH_PORT http 127.0.0.1:$IOTS_HTTP_PUBLISH_PORT; sink :$sink_port"

step "smoke test (ComposeStackTests)"
test_log=$(mktemp /tmp/iots-compose-test.XXXXXX)
IOTS_COMPOSE_EDGE=127.0.0.1 \
IOTS_COMPOSE_TCP_PORT=$IOTS_TCP_PUBLISH_PORT \
IOTS_COMPOSE_UDP_PORT=$IOTS_UDP_PUBLISH_PORT \
IOTS_COMPOSE_HTTP_PORT=$IOTS_HTTP_PUBLISH_PORT \
IOTS_COMPOSE_CENTRAL_KEY=$IOTS_CENTRAL_AUTHKEY \
IOTS_COMPOSE_SINK_PORT=$sink_port \
    swift test --skip-build ${SWIFT_FLAGS:-} --filter ComposeStackTests >"$test_log" 2>&1 && test_status=0 || test_status=$?
grep -E '✔|✘|error:|Expectation failed' "$test_log" | grep -v -E '^\[|^Test Suite' || true
# Passed only if the suite really ran (not skipped) and passed.
if [ "$test_status" -ne 0 ] || ! grep -q 'Suite "compose stack: scaled containers behind the edge" passed' "$test_log"; then
    echo "the compose smoke test failed or did not run; the end of its output (all of it: $test_log):" >&2
    tail -60 "$test_log" >&2
    exit 1
fi
rm -f "$test_log"
