#!/usr/bin/env bash
# Installs the Debian packages the build, the tests and `make run` need, when they are missing.
# As root it runs apt-get; otherwise it names what is missing and fails.
set -euo pipefail
packages=(libhiredis-dev libssl-dev libnghttp2-dev redis-server redis-tools openssl curl python3 python3-pip)
missing=()
for package in "${packages[@]}"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
install_python_modules() {
    # The OpenAPI document is validated by an independent implementation in the tests, and
    # schemathesis fuzzes the running API against it.
    python3 -c 'import openapi_spec_validator, schemathesis' 2>/dev/null && return 0
    python3 -m pip install -q openapi-spec-validator 'schemathesis==4.32.5' 2>/dev/null \
        || python3 -m pip install -q --break-system-packages openapi-spec-validator 'schemathesis==4.32.5'
}
if [ ${#missing[@]} -eq 0 ]; then
    install_python_modules
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "missing Debian packages: ${missing[*]}" >&2
    echo "install them with: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
install_python_modules
