#!/usr/bin/env bash
# The container stack with podman + podman-compose (no Docker engine needed), from binaries built
# on this machine. Used by the Makefile (make images / compose-up / compose-down / test-compose).
#
#   deploy/podman/compose.sh images            release build (nice, .build-release), stage the
#                                              binaries, build both images, check their libraries
#   deploy/podman/compose.sh up [--scale s=n…] start the stack (project $IOTS_PROJECT) and wait
#                                              until every container is healthy (--scale becomes
#                                              IOTS_SCALE_<SERVICE>, read by compose.yaml)
#   deploy/podman/compose.sh wait              wait until every container of the project is healthy
#   deploy/podman/compose.sh status            containers and their health
#   deploy/podman/compose.sh logs [service]    logs of every container (or of one service)
#   deploy/podman/compose.sh down              stop and remove containers, pod and network
#                                              (volumes too with --volumes)
#
# Environment: IOTS_PROJECT (default iotsocket), IOTS_READY_TIMEOUT (seconds, default 180),
# IOTS_COMPOSE_OVERRIDE (extra compose files, ':'-separated), and
# every variable compose.yaml reads (IOTS_PUBLISH_ADDR, IOTS_*_PUBLISH_PORT, IOTS_CENTRAL_AUTHKEY,
# IOTS_WEBHOOK_*_URL, IOTS_LOG_LEVEL…).
#
# podman 4.3 runs no health checks by itself without systemd, and podman-compose then ignores
# `condition: service_healthy`: the services retry Redis on their own, and `wait` runs every
# container's compose health check (`podman healthcheck run`) until all pass.
set -euo pipefail
cd "$(dirname "$0")/../.."
project=${IOTS_PROJECT:-iotsocket}
image=${IOTS_IMAGE:-iotsocket-concentrator:latest}
edge_image=${IOTS_EDGE_IMAGE:-iotsocket-edge:latest}
services=(router tcp-gateway udp-telemetry http-api webhook-dispatcher remote-sync)
compose=(podman-compose --in-pod false --project-name "$project" -f compose.yaml)
# Extra compose files layered on top (local overrides), separated by ':'.
if [ -n "${IOTS_COMPOSE_OVERRIDE:-}" ]; then
    IFS=: read -ra overrides <<<"$IOTS_COMPOSE_OVERRIDE"
    for file in "${overrides[@]}"; do compose+=(-f "$file"); done
fi

log() { printf '[compose %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

# The containers of the project (also replicas podman-compose no longer counts).
containers() {
    podman ps -a --filter "label=io.podman.compose.project=$project" --format '{{.Names}}' | sort
}

images() {
    local start=$SECONDS
    log "release build (nice, --scratch-path .build-release)"
    nice -n 10 swift build -c release --static-swift-stdlib --scratch-path .build-release 2>&1 | grep -E 'error|warning: unre|Compiling|Build' | tail -3
    [ "${PIPESTATUS[0]}" -eq 0 ] || { echo "release build failed" >&2; exit 1; }
    local bin
    bin=$(swift build -c release --static-swift-stdlib --scratch-path .build-release --show-bin-path)
    rm -rf .build-image/bin
    mkdir -p .build-image/bin
    for service in "${services[@]}"; do
        cp "$bin/$service" .build-image/bin/
    done
    strip .build-image/bin/* 2>/dev/null || true
    log "binaries ready in $((SECONDS - start)) s ($(du -sh .build-image/bin | cut -f1))"

    start=$SECONDS
    local build_log=.build-image/build.log
    # --format docker keeps the HEALTHCHECK (the OCI format has none).
    if ! podman build --format docker --network host -f deploy/Dockerfile --target runtime-prebuilt -t "$image" . >"$build_log" 2>&1 \
        || ! podman build --format docker --network host -f deploy/edge/Containerfile -t "$edge_image" deploy/edge >>"$build_log" 2>&1; then
        tail -30 "$build_log" >&2
        echo "image build failed (whole log: $build_log)" >&2
        exit 1
    fi
    log "images $image and $edge_image built in $((SECONDS - start)) s"

    # Every library the binaries load is in the runtime image.
    local missing
    missing=$(podman run --rm --health-cmd none --entrypoint /bin/sh "$image" -c 'ldd /usr/local/bin/* | grep "not found" || true' 2>/dev/null)
    if [ -n "$missing" ]; then
        echo "the runtime image lacks libraries the binaries load:" >&2
        echo "$missing" >&2
        exit 1
    fi
    # The edge's configuration is valid.
    local check
    if ! check=$(podman run --rm --health-cmd none "$edge_image" nginx -t 2>&1); then
        echo "$check" >&2
        echo "the edge's nginx.conf is invalid" >&2
        exit 1
    fi
    log "runtime libraries present; edge configuration valid; image sizes: $(podman image inspect --format '{{.Size}}' "$image" | awk '{printf "%d MB", $1/1e6}'), $(podman image inspect --format '{{.Size}}' "$edge_image" | awk '{printf "%d MB", $1/1e6}')"
}

wait_ready() {
    local timeout=${IOTS_READY_TIMEOUT:-180} start=$SECONDS names name pending
    log "waiting for every container's health check (at most ${timeout} s)"
    while true; do
        mapfile -t names < <(containers)
        pending=()
        for name in "${names[@]}"; do
            if [ "$(podman inspect --format '{{.State.Status}}' "$name" 2>/dev/null)" != running ]; then
                pending+=("$name(not running)")
            elif ! podman healthcheck run "$name" >/dev/null 2>&1; then
                pending+=("$name")
            fi
        done
        if [ ${#names[@]} -gt 0 ] && [ ${#pending[@]} -eq 0 ]; then
            log "all ${#names[@]} containers healthy after $((SECONDS - start)) s"
            return 0
        fi
        if [ $((SECONDS - start)) -ge "$timeout" ]; then
            log "not healthy after ${timeout} s: ${pending[*]}"
            return 1
        fi
        sleep 2
    done
}

status() {
    local name
    for name in $(containers); do
        printf '  %-36s %-10s %s\n' "$name" "$(podman inspect --format '{{.State.Status}}' "$name")" \
            "$(podman healthcheck run "$name" >/dev/null 2>&1 && echo healthy || echo unhealthy)"
    done
}

logs() {
    local name
    for name in $(containers); do
        if [ -n "${1:-}" ] && [ "$(podman inspect --format '{{index .Config.Labels "com.docker.compose.service"}}' "$name")" != "$1" ]; then
            continue
        fi
        echo "----- $name"
        podman logs --tail "${IOTS_LOG_TAIL:-60}" "$name" 2>&1
    done
}

down() {
    local volumes=0
    [ "${1:-}" = "--volumes" ] && volumes=1
    # podman-compose removes only the replicas it counts: remove the project's containers by label.
    local names attempt
    names=$(containers)
    if [ -n "$names" ]; then
        # shellcheck disable=SC2086
        podman stop -t 20 $names >/dev/null 2>&1 || true
    fi
    # Dependants (podman-compose's --requires) go with what they depend on; retry for stragglers.
    for attempt in 1 2 3; do
        names=$(containers)
        [ -z "$names" ] && break
        # shellcheck disable=SC2086
        podman rm -f --depend $names >/dev/null 2>&1 || sleep 1
    done
    if [ -n "$(containers)" ]; then
        echo "could not remove: $(containers | tr '\n' ' ')" >&2
    fi
    podman pod rm -f "pod_$project" >/dev/null 2>&1 || true
    podman network rm -f "${project}_default" >/dev/null 2>&1 || true
    if [ $volumes -eq 1 ]; then
        podman volume rm -f "${project}_redis-data" "${project}_remote-sync-spool" >/dev/null 2>&1 || true
    fi
    log "project $project is down"
}

up() {
    export IOTS_BUILD_TARGET=runtime-prebuilt IOTS_IMAGE="$image" IOTS_EDGE_IMAGE="$edge_image"
    # podman-compose 1.6 honours only the last --scale (and then ignores the file's `scale:`):
    # turn each `--scale service=n` into the IOTS_SCALE_<SERVICE> variable compose.yaml reads.
    local args=() scales=() name variable
    while [ $# -gt 0 ]; do
        case "$1" in
            --scale) scales+=("$2"); shift 2 ;;
            --scale=*) scales+=("${1#--scale=}"); shift ;;
            *) args+=("$1"); shift ;;
        esac
    done
    for name in "${scales[@]}"; do
        variable="IOTS_SCALE_$(echo "${name%%=*}" | tr 'a-z-' 'A-Z_')"
        export "$variable=${name#*=}"
    done
    log "podman-compose up -d ${args[*]} (scale: ${scales[*]:-1 each})"
    local output
    output=$(mktemp)
    # podman-compose is verbose: its output only on failure.
    if ! "${compose[@]}" up -d --no-build "${args[@]}" >"$output" 2>&1; then
        tail -30 "$output" >&2
        rm -f "$output"
        return 1
    fi
    rm -f "$output"
    wait_ready
}

command=${1:-}
shift || true
case "$command" in
    images) images ;;
    up) up "$@" ;;
    wait) wait_ready ;;
    status) status ;;
    logs) logs "$@" ;;
    down) down "$@" ;;
    *) sed -n '2,16p' "$0" >&2; exit 2 ;;
esac
