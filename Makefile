# The front door. `make demo` and `make test` work on a fresh Debian 12 machine.
BUILD_DIR ?= build
ASAN_DIR ?= build-asan
FUZZ_DIR ?= build-fuzz
TSAN_DIR ?= build-tsan
# Seconds per fuzz target: long for `make fuzz`; CI passes FUZZ_SECONDS=10 (.ci/run).
FUZZ_SECONDS ?= 300
SOAK_ITERATIONS ?= 1000
JOBS ?= $(shell nproc)
# DEBUG_INFO=lines builds with line tables only (CI does: a third less compile time); full is -g.
DEBUG_INFO ?= full
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo
CMAKE_FLAGS += -DENCLAVE_DEBUG_INFO=$(DEBUG_INFO)
# `make install PREFIX=/usr DESTDIR=/tmp/root` installs under /tmp/root/usr.
PREFIX ?= /usr/local
DESTDIR ?=
# Progress, warnings and errors only: no "Entering directory" lines from the generated makefiles.
MAKEFLAGS += --no-print-directory

.PHONY: all setup build build-bench build-sanitize build-tsan build-fuzz test test-repeat test-sanitize test-tsan fuzz soak demo demo-rp demo-fleet bench bench-compare bench-rp bench-fleet \
        format tidy clean install deb

all: build

setup:
	@bash scripts/setup

# Benchmarks are built only for the bench targets (BENCH=ON): the test and demo runs never need them.
BENCH ?= OFF
build: setup
	@cmake -S . -B $(BUILD_DIR) $(CMAKE_FLAGS) -DENCLAVE_BENCH=$(BENCH) >/dev/null
	@cmake --build $(BUILD_DIR) -j$(JOBS)

build-bench: setup
	@$(MAKE) build BENCH=ON

# The prefix is configured (not only given to --install) because the installed client and the
# systemd unit name the installed daemon, and GNUInstallDirs picks the library dir from it.
install: setup
	@cmake -S . -B $(BUILD_DIR) $(CMAKE_FLAGS) -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	@cmake --build $(BUILD_DIR) -j$(JOBS)
	@DESTDIR=$(DESTDIR) cmake --install $(BUILD_DIR)

# A Debian package of the same files under /usr, in $(BUILD_DIR)/package; Depends come from
# dpkg-shlibdeps.
deb: setup
	@cmake -S . -B $(BUILD_DIR) $(CMAKE_FLAGS) -DCMAKE_INSTALL_PREFIX=/usr >/dev/null
	@cmake --build $(BUILD_DIR) -j$(JOBS)
	@cd $(BUILD_DIR) && cpack -G DEB --config CPackConfig.cmake

# The whole ctest suite, with a fresh swtpm on loopback for the tpm2 token's tests.
test: build
	@scripts/with-swtpm ctest --test-dir $(BUILD_DIR) --output-on-failure -j$(JOBS)

# The end-to-end suite N times (default 20), each test's failures counted (scripts/test-repeat);
# TESTS is a ctest regex (TESTS=. for everything).
N ?= 20
TESTS ?= ^e2e[.]
test-repeat: build
	@scripts/test-repeat --build-dir $(BUILD_DIR) --runs $(N) --tests '$(TESTS)' --jobs $(JOBS)

# The same suite built with AddressSanitizer and UndefinedBehaviorSanitizer. The C library's tests and
# the real PKCS#11 clients (pkcs11-tool, openssl)
# load an instrumented library into uninstrumented hosts (python3, cc programs, the clients), which
# ASan refuses to start; they run in `make test`, as do the packaging tests (install.*: they check
# files, not memory) and the daemon kill loop's full 100 rounds (25 here).
# The browser tests are left out too: their time goes to Chromium, and the server code they reach
# runs instrumented in the other rpd and fleet tests and in the dashboard's fuzz target.
# So is the python-fido2 check of `enclave webauthn create/get`: its instrumented time (110 s, 8 s
# uninstrumented) goes to starting the CLI, and the same registrations and assertions run
# instrumented in WebAuthnRpFlows and TpmAttestation.
BROWSER_TESTS = ^e2e[.](RpdBrowser|FleetDashboard|FleetDashboardPostgres|WebAuthnFido2Device)$$
# The startup races run 4 rounds each here and the forwarded ssh logins 20 of their 100 (a process
# start costs a third of a second instrumented, a login 0.8 s; the races and the hundred logins in
# a row are `make test`'s, this run looks for memory errors on their paths).
build-sanitize: setup
	@cmake -S . -B $(ASAN_DIR) -DCMAKE_BUILD_TYPE=Debug -DENCLAVE_SANITIZE=ON -DENCLAVE_BENCH=OFF \
	  -DENCLAVE_DEBUG_INFO=$(DEBUG_INFO) >/dev/null
	@cmake --build $(ASAN_DIR) -j$(JOBS)

test-sanitize: build-sanitize
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ENCLAVE_E2E_KILL_ROUNDS=25 ENCLAVE_E2E_RACE_ROUNDS=4 ENCLAVE_E2E_LOGIN_ROUNDS=20 \
	  scripts/with-swtpm ctest --test-dir $(ASAN_DIR) --output-on-failure -j$(JOBS) -E 'Benchmark|^capi[.]|^e2e[.]Pkcs11Clients$$|^install[.]|$(BROWSER_TESTS)'

# The daemon, service and client suites under ThreadSanitizer; a separate build of only those
# tests (and enclaved, which the daemon and client tests start). The single-threaded fault sweep
# (DurabilityTest) runs in make test and test-sanitize instead.
TSAN_TESTS = daemon_test service_test client_test
build-tsan: setup
	@cmake -S . -B $(TSAN_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DENCLAVE_TSAN=ON -DENCLAVE_BENCH=OFF \
	  -DENCLAVE_DEBUG_INFO=$(DEBUG_INFO) >/dev/null
	@cmake --build $(TSAN_DIR) --target $(TSAN_TESTS) enclaved -j$(JOBS)

test-tsan: build-tsan
	@TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$(CURDIR)/tests/tsan.supp" \
	  GTEST_FILTER='-DurabilityTest.*' \
	  scripts/with-swtpm scripts/run-tests $(TSAN_DIR)/tests $(TSAN_TESTS)

# libFuzzer targets for every parser of outside bytes (clang, ASan, UBSan), FUZZ_SECONDS each.
build-fuzz: setup
	@CC=clang CXX=clang++ cmake -S . -B $(FUZZ_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DENCLAVE_FUZZ=ON \
	  -DENCLAVE_WERROR=OFF -DENCLAVE_BENCH=OFF -DENCLAVE_DEBUG_INFO=$(DEBUG_INFO) >/dev/null
	@cmake --build $(FUZZ_DIR) --target fuzzers -j$(JOBS)

fuzz: build-fuzz
	@scripts/fuzz $(FUZZ_DIR)/fuzz $(FUZZ_SECONDS)

# SIGKILL of the real daemon at random points under concurrent clients (scripts/soak).
soak: build
	@scripts/soak $(BUILD_DIR)/bin --iterations $(SOAK_ITERATIONS)

# The field report's flow, end to end, on the embedded default (the software enclave).
demo: build
	@scripts/demo $(BUILD_DIR)/bin

# The relying party's flow on SQLite (scripts/demo-rp): enclave-rpd, then register and sign in.
demo-rp: build
	@scripts/demo-rp $(BUILD_DIR)/bin

# The field report at fleet scale (scripts/demo-fleet): 10,000 simulated devices and three real
# enclave homes through enclave-rpd on SQLite; prints the summary, writes build/demo-fleet/dashboard.png.
demo-fleet: build
	@scripts/demo-fleet $(BUILD_DIR)/bin

bench: build-bench
	@scripts/with-swtpm scripts/bench $(BUILD_DIR)

# enclave next to raw OpenSSL, SoftHSM2, OpenSSH's ssh-agent and swtpm, in one run:
# build/bench-compare/results.json, results.md and chart.png.
bench-compare: build-bench
	@scripts/bench-compare $(BUILD_DIR)

# enclave-rpd under simulated devices on SQLite and on a throwaway PostgreSQL (scripts/bench-rp).
bench-rp: build-bench
	@scripts/bench-rp $(BUILD_DIR)

# The fleet view's ingest and reads on a throwaway PostgreSQL beside pgbench, at 10,000,000 stored
# reports, and two nodes behind haproxy (scripts/bench-fleet): build/bench-fleet/results.md.
bench-fleet: build
	@scripts/bench-fleet $(BUILD_DIR)

format:
	@git ls-files '*.cpp' '*.h' | xargs clang-format -i

tidy: build
	@git ls-files 'src/*.cpp' | xargs clang-tidy -p $(BUILD_DIR) --quiet

clean:
	@rm -rf $(BUILD_DIR) $(ASAN_DIR) $(FUZZ_DIR) $(TSAN_DIR)
