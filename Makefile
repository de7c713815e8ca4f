# The two commands: `make run` starts the whole stack, `make test` passes everything.
# Both install the Debian packages they need when run as root (see deploy/local/install-packages.sh).

SHELL := /bin/bash
CONFIG ?= deploy/config/local.json
BUILD ?= debug
SWIFT_FLAGS ?=

.PHONY: all build packages test test-swift test-compose run start stop bench clean help \
        podman images compose-config compose-up compose-down compose-status compose-logs k8s-check

# `make test` ends with the container test (make test COMPOSE_TEST=0 skips it).
COMPOSE_TEST ?= 1
# The scale of `make compose-up` (and of the container test).
COMPOSE_SCALE ?= --scale tcp-gateway=3 --scale router=2 --scale webhook-dispatcher=2 --scale http-api=2 --scale udp-telemetry=2

all: build

help:
	@echo "make run     build and start redis + the six services in the foreground (Ctrl-C stops all)"
	@echo "make start   the same, in the background; 'make stop' stops it"
	@echo "make test    install what is missing, build, start a private redis, run every test, stop it,"
	@echo "             then the container test (make test-compose; COMPOSE_TEST=0 skips it)"
	@echo "make test-compose   podman: release build, images, scaled stack behind the edge, smoke test, down"
	@echo "make compose-up     podman: images + the scaled stack on ports 50505/tcp+udp, 8080 ('make compose-down')"
	@echo "make images         podman: the service image and the edge image from host-built binaries"
	@echo "make bench   release build and the benchmark suite, Redis with AOF as deployed (see BENCHMARKS.md;"
	@echo "             BENCH_REDIS_AOF=no: without persistence)"
	@echo "variables:   CONFIG=$(CONFIG) BUILD=$(BUILD)"

packages:
	@deploy/local/install-packages.sh

build: packages
	swift build -c $(BUILD) $(SWIFT_FLAGS)

test: test-swift
ifeq ($(COMPOSE_TEST),1)
	deploy/podman/test-compose.sh
endif

test-swift: packages
	swift build --build-tests $(SWIFT_FLAGS)
	deploy/local/with-redis.sh swift test --skip-build $(SWIFT_FLAGS)

# ---- containers (podman + podman-compose here; compose.yaml also serves Docker) --------------
podman:
	@if [ "$$(id -u)" -eq 0 ]; then deploy/podman/prepare.sh; \
	 else command -v podman-compose >/dev/null || { echo "run deploy/podman/prepare.sh as root first" >&2; exit 1; }; fi

test-compose: packages
	deploy/podman/test-compose.sh

images: packages podman
	deploy/podman/compose.sh images

compose-config:
	docker-compose -f compose.yaml config -q && echo "compose.yaml: valid"

compose-up: images
	IOTS_PROJECT=iotsocket deploy/podman/compose.sh up $(COMPOSE_SCALE)
	@echo "devices and central: tcp://127.0.0.1:50505, telemetry udp://127.0.0.1:50505, API http://127.0.0.1:8080"

compose-down:
	IOTS_PROJECT=iotsocket deploy/podman/compose.sh down

compose-status:
	@IOTS_PROJECT=iotsocket deploy/podman/compose.sh status

compose-logs:
	@IOTS_PROJECT=iotsocket deploy/podman/compose.sh logs $(SERVICE)

k8s-check:
	@python3 -c 'import glob, yaml; [print(f, ", ".join(d["kind"] + "/" + d["metadata"]["name"] for d in yaml.safe_load_all(open(f)) if d)) for f in sorted(glob.glob("deploy/k8s/*.yaml"))]'

run: build
	deploy/local/run-stack.sh --foreground --config $(CONFIG) --bin "$$(swift build -c $(BUILD) --show-bin-path)"

start: build
	deploy/local/run-stack.sh --config $(CONFIG) --bin "$$(swift build -c $(BUILD) --show-bin-path)"

stop:
	@deploy/local/stop-stack.sh

bench: packages
	swift build -c release $(SWIFT_FLAGS)
	Tools/run-benchmarks.sh "$$(swift build -c release --show-bin-path)"

clean:
	rm -rf .build .build-release .build-image .run
