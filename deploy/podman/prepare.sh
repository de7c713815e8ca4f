#!/bin/sh
# Makes a Debian 12 machine able to build and run this project's containers without a Docker
# engine: podman (with runc) + podman-compose + docker-compose (only to check compose.yaml), and
# local stand-ins for the base images when no image registry is reachable:
# debian:bookworm-slim from a debootstrapped Debian 12 and redis:7 built on it.
# As root, unattended, idempotent: a second run changes nothing. About 1–2 minutes the first time.
#
#   deploy/podman/prepare.sh                 set up (skips what is already there)
#   IOTS_PULL_BASE_IMAGES=1 deploy/podman/prepare.sh   pull the real base images instead
#
# Why these settings: crun refuses hybrid (v1/v2) cgroups, so runc; cgroupfs because no systemd
# session manages containers here; `default_ulimits = []` because the file limit cannot be raised
# without CAP_SYS_RESOURCE (containers keep the host's limits).
set -e
export DEBIAN_FRONTEND=noninteractive
if [ "$(id -u)" -ne 0 ]; then
    echo "deploy/podman/prepare.sh: run as root (it installs packages and writes /etc/containers)" >&2
    exit 1
fi
need=""
for p in podman runc netavark aardvark-dns iptables debootstrap uidmap slirp4netns docker-compose curl; do
    dpkg -s "$p" >/dev/null 2>&1 || need="$need $p"
done
if [ -n "$need" ]; then
    echo "installing:$need"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends $need >/dev/null
fi
if ! command -v podman-compose >/dev/null 2>&1; then
    python3 -m pip --version >/dev/null 2>&1 || apt-get install -y -qq --no-install-recommends python3-pip >/dev/null
    echo "installing: podman-compose (pip)"
    python3 -m pip install -q 'podman-compose>=1.6,<2' 2>/dev/null \
        || python3 -m pip install -q --break-system-packages 'podman-compose>=1.6,<2'
fi
mkdir -p /etc/containers
conf='[containers]
default_ulimits = []
[engine]
cgroup_manager = "cgroupfs"
runtime = "runc"
[network]
network_backend = "netavark"'
if [ "$(cat /etc/containers/containers.conf 2>/dev/null)" != "$conf" ]; then
    printf '%s\n' "$conf" >/etc/containers/containers.conf
fi
# Short names (FROM debian:bookworm-slim) resolve to docker.io without asking.
if [ ! -f /etc/containers/registries.conf.d/50-iots-docker-io.conf ]; then
    mkdir -p /etc/containers/registries.conf.d
    printf 'unqualified-search-registries = ["docker.io"]\nshort-name-mode = "permissive"\n' \
        >/etc/containers/registries.conf.d/50-iots-docker-io.conf
fi

pull() { [ "${IOTS_PULL_BASE_IMAGES:-0}" = 1 ] && podman pull -q "$1" >/dev/null 2>&1; }
W=${CONTAINERS_WORK_DIR:-/tmp/iots-containers}
mkdir -p "$W"
if ! podman image exists docker.io/library/debian:bookworm-slim && ! pull docker.io/library/debian:bookworm-slim; then
    echo "making docker.io/library/debian:bookworm-slim locally (debootstrap)"
    [ -f "$W/rootfs/etc/debian_version" ] || debootstrap --variant=minbase bookworm "$W/rootfs" >"$W/debootstrap.log" 2>&1
    tar -C "$W/rootfs" -c . | podman import - docker.io/library/debian:bookworm-slim >/dev/null
fi
podman image exists docker.io/library/debian:bookworm || podman tag docker.io/library/debian:bookworm-slim docker.io/library/debian:bookworm
if ! podman image exists docker.io/library/redis:7 && ! pull docker.io/library/redis:7; then
    echo "making docker.io/library/redis:7 locally (Debian's redis-server)"
    mkdir -p "$W/redis"
    cat >"$W/redis/Containerfile" <<'EOC'
FROM docker.io/library/debian:bookworm-slim
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends redis-server redis-tools >/dev/null \
 && rm -rf /var/lib/apt/lists/* && mkdir -p /data
WORKDIR /data
EXPOSE 6379
CMD ["redis-server", "--bind", "0.0.0.0", "--protected-mode", "no"]
EOC
    podman build --network host -q -t docker.io/library/redis:7 "$W/redis" >/dev/null
fi
echo "podman $(podman version --format '{{.Client.Version}}'), $(podman-compose version 2>/dev/null | grep -i 'podman-compose' | head -1), $(docker-compose version --short 2>/dev/null | sed 's/^/docker-compose /')"
