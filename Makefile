# The two commands of the README's Quick start, and a few conveniences.
#   make run    install what is missing, build Release, start the service
#   make dev-postgres, make run-replicas
#               a local PostgreSQL, then 2 vouch-server + 2 vouch-signer replicas on it
#   make test   install what is missing, build, run every test with ctest (the packaging test
#               too, so it builds the Debian packages first: make packages)
SHELL := /bin/bash
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: deps configure build build-release packages install test test-sanitize test-tsan run demo bench bench-quick bench-micro bench-deps fuzz clean fixtures dev-postgres dev-postgres-stop run-replicas

deps:
	@scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

test: build packages
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

build-release: deps
	@cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DVOUCH_BUILD_TESTS=OFF -DCMAKE_INSTALL_PREFIX=/usr $(CMAKE_FLAGS) >/dev/null
	@cmake --build build-release -j $(JOBS)

# The Debian packages vouch, vouch-server, vouch-signer and vouch-verifier (CPack, from the
# Release build) in build-release/packages/; tests/packaging checks them in a Debian 12 root.
packages: build-release
	@rm -rf build-release/packages
	@cd build-release && cpack -G DEB >/dev/null
	@ls build-release/packages/*.deb

# Installs the binaries, systemd units and configuration examples from a source build:
# PREFIX (default /usr/local; configuration in <PREFIX>/etc/vouch, or /etc/vouch for /usr),
# DESTDIR for staging.
PREFIX ?= /usr/local
install: deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD_DIR) -j $(JOBS) --target vouch vouch-server vouch-signer vouch-verifier
	@cmake --install $(BUILD_DIR) --strip

run: build-release
	@scripts/run.sh build-release

demo: build-release
	@scripts/demo.sh build-release

# vouch on PostgreSQL in two commands (README "Run vouch on PostgreSQL"): a local PostgreSQL in
# .vouch-pg/ (not the system's cluster), then 2 vouch-server + 2 vouch-signer on loopback
# against it (foreground; Ctrl-C stops them). dev-postgres-stop stops the database.
dev-postgres: deps
	@scripts/dev-postgres.sh start

dev-postgres-stop:
	@scripts/dev-postgres.sh stop

run-replicas: build-release
	@scripts/run-replicas.sh build-release

# The side-by-side suite against the real Notary (bench/suite.py): one table of medians,
# ratios and goals, also written to bench/results/. bench-quick (or BENCH_QUICK=1): a few
# minutes, for development; bench-micro: the single-component benchmarks (scripts/bench.sh).
BENCH_FLAGS ?=
BENCH_QUICK ?=
bench: bench-deps build-release
	@python3 bench/suite.py --build-dir build-release $(if $(filter 1,$(BENCH_QUICK)),--quick) $(BENCH_FLAGS)

bench-quick: bench-deps build-release
	@python3 bench/suite.py --build-dir build-release --quick $(BENCH_FLAGS)

bench-micro: build-release
	@scripts/bench.sh build-release

bench-deps:
	@scripts/install-deps.sh --bench

# The same tests under AddressSanitizer and UndefinedBehaviorSanitizer.
test-sanitize: deps
	@cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DVOUCH_SANITIZE=ON -DVOUCH_BUILD_BENCH=OFF $(CMAKE_FLAGS) >/dev/null
	@cmake --build build-asan -j $(JOBS)
	@cd build-asan && ctest --output-on-failure -j $(JOBS)

# The tests of the concurrent components (the HTTP server, vouch-server, vouch-signer,
# vouch-verifier and the integration tests that start them) under ThreadSanitizer:
# scripts/test-tsan.sh lists them; tests/tsan.supp holds the suppressions for the
# uninstrumented Debian libraries.
TSAN_TARGETS ?= common_test net_http_server_test net_signals_test server_repository_test \
  server_repository_root_cache_test server_repository_cache_race_test \
  server_repository_signer_stall_test server_api_work_queue_test server_gun_locks_test \
  server_meta_store_conformance_test server_rocksdb_store_test server_token_auth_test \
  server_audit_log_test \
  server_account_store_conformance_test server_accounts_service_test \
  server_token_service_test server_api_token_service_test \
  signer_key_store_test verifier_service_test verifier_trust_cache_test server_http_test \
  server_remote_signer_test signer_grpc_test signer_process_test verifier_process_test \
  vouch-server vouch-signer vouch-verifier vouch
test-tsan: deps
	@cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DVOUCH_TSAN=ON -DVOUCH_BUILD_BENCH=OFF $(CMAKE_FLAGS) >/dev/null
	@cmake --build build-tsan -j $(JOBS) --target $(TSAN_TARGETS)
	@scripts/test-tsan.sh build-tsan

# Builds the libFuzzer targets (clang) and runs each for FUZZ_SECONDS, seeded from
# tests/fuzz/corpus/<target> when it exists, else from the Notary metadata vectors.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= fuzz_json fuzz_metadata fuzz_key_file fuzz_multipart fuzz_token fuzz_token_service fuzz_admission fuzz_image_ref fuzz_policy
fuzz:
	@scripts/install-deps.sh --fuzz
	@CXX=clang++-14 cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVOUCH_FUZZ=ON -DVOUCH_BUILD_BENCH=OFF -DVOUCH_WERROR=OFF >/dev/null
	@cmake --build build-fuzz -j $(JOBS) --target $(FUZZ_TARGETS)
	@for f in $(FUZZ_TARGETS); do \
	  seeds=tests/fuzz/corpus/$$f; [ -d $$seeds ] || seeds=tests/data/notary/ecdsa/server/current; \
	  mkdir -p build-fuzz/corpus/$$f; \
	  build-fuzz/tests/fuzz/$$f -max_total_time=$(FUZZ_SECONDS) -max_len=65536 build-fuzz/corpus/$$f $$seeds || exit 1; \
	done

# Regenerates tests/data/notary from the real notary CLI and notary-server.
fixtures: deps
	@scripts/make-notary-fixtures.sh

clean:
	rm -rf $(BUILD_DIR) build-release build-asan build-tsan build-fuzz
