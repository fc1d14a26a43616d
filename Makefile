# The two commands of the README's Quick start, and a few conveniences.
#   make run    install what is missing, build Release, start the service
#   make test   install what is missing, build, run every test with ctest
SHELL := /bin/bash
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: deps configure build build-release test run bench clean fixtures

deps:
	@scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

build-release: deps
	@cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DVOUCH_BUILD_TESTS=OFF $(CMAKE_FLAGS) >/dev/null
	@cmake --build build-release -j $(JOBS)

run: build-release
	@scripts/run.sh build-release

bench: build-release
	@scripts/bench.sh build-release

# Regenerates tests/data/notary from the real notary CLI and notary-server.
fixtures: deps
	@scripts/make-notary-fixtures.sh

clean:
	rm -rf $(BUILD_DIR) build-release
