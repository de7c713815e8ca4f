#!/usr/bin/env bash
# Installs the Debian packages the build, the tests and `make run` need, when they are missing.
# As root it runs apt-get; otherwise it names what is missing and fails.
set -euo pipefail
packages=(libhiredis-dev libssl-dev libnghttp2-dev redis-server redis-tools openssl curl python3)
missing=()
for package in "${packages[@]}"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "missing Debian packages: ${missing[*]}" >&2
    echo "install them with: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
