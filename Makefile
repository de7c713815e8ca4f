# The two commands: `make run` starts the whole stack, `make test` passes everything.
# Both install the Debian packages they need when run as root (see deploy/local/install-packages.sh).

SHELL := /bin/bash
CONFIG ?= deploy/config/local.json
BUILD ?= debug
SWIFT_FLAGS ?=

.PHONY: all build packages test test-unit run start stop bench clean help

all: build

help:
	@echo "make run     build and start redis + the six services in the foreground (Ctrl-C stops all)"
	@echo "make start   the same, in the background; 'make stop' stops it"
	@echo "make test    install what is missing, build, start a private redis, run every test, stop it"
	@echo "make bench   release build and the benchmark suite (see BENCHMARKS.md)"
	@echo "variables:   CONFIG=$(CONFIG) BUILD=$(BUILD)"

packages:
	@deploy/local/install-packages.sh

build: packages
	swift build -c $(BUILD) $(SWIFT_FLAGS)

test: packages
	swift build --build-tests $(SWIFT_FLAGS)
	deploy/local/with-redis.sh swift test --skip-build $(SWIFT_FLAGS)

run: build
	deploy/local/run-stack.sh --foreground --config $(CONFIG) --bin "$$(swift build -c $(BUILD) --show-bin-path)"

start: build
	deploy/local/run-stack.sh --config $(CONFIG) --bin "$$(swift build -c $(BUILD) --show-bin-path)"

stop:
	@deploy/local/stop-stack.sh

bench: packages
	swift build -c release $(SWIFT_FLAGS)
	deploy/local/with-redis.sh --bench "$$(swift build -c release --show-bin-path)/iotsocket-bench" redis-xadd

clean:
	rm -rf .build .run
