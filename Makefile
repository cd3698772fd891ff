# The front door. `make demo` and `make test` work on a fresh Debian 12 machine.
BUILD_DIR ?= build
ASAN_DIR ?= build-asan
FUZZ_DIR ?= build-fuzz
TSAN_DIR ?= build-tsan
# Seconds per fuzz target: long for `make fuzz`, CI passes FUZZ_SECONDS=20.
FUZZ_SECONDS ?= 300
SOAK_ITERATIONS ?= 1000
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo
# `make install PREFIX=/usr DESTDIR=/tmp/root` installs under /tmp/root/usr.
PREFIX ?= /usr/local
DESTDIR ?=
# Progress, warnings and errors only: no "Entering directory" lines from the generated makefiles.
MAKEFLAGS += --no-print-directory

.PHONY: all setup build test test-sanitize test-tsan fuzz soak demo bench bench-compare format tidy clean install deb

all: build

setup:
	@bash scripts/setup

build: setup
	@cmake -S . -B $(BUILD_DIR) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD_DIR) -j$(JOBS)

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

# The same suite built with AddressSanitizer and UndefinedBehaviorSanitizer. The C library's tests and
# the real PKCS#11 clients (pkcs11-tool, openssl)
# load an instrumented library into uninstrumented hosts (python3, cc programs, the clients), which
# ASan refuses to start; they run in `make test`, as do the packaging tests (install.*: they check
# files, not memory) and the daemon kill loop's full 100 rounds (25 here).
test-sanitize: setup
	@cmake -S . -B $(ASAN_DIR) -DCMAKE_BUILD_TYPE=Debug -DENCLAVE_SANITIZE=ON -DENCLAVE_BENCH=OFF >/dev/null
	@cmake --build $(ASAN_DIR) -j$(JOBS)
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ENCLAVE_E2E_KILL_ROUNDS=25 \
	  scripts/with-swtpm ctest --test-dir $(ASAN_DIR) --output-on-failure -j$(JOBS) -E 'Benchmark|^capi[.]|^e2e[.]Pkcs11Clients$$|^install[.]'

# The daemon, service and client suites under ThreadSanitizer; a separate build of only those
# tests (and enclaved, which the daemon and client tests start). The single-threaded fault sweep
# (DurabilityTest) runs in make test and test-sanitize instead.
TSAN_TESTS = daemon_test service_test client_test
test-tsan: setup
	@cmake -S . -B $(TSAN_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DENCLAVE_TSAN=ON -DENCLAVE_BENCH=OFF >/dev/null
	@cmake --build $(TSAN_DIR) --target $(TSAN_TESTS) enclaved -j$(JOBS)
	@TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$(CURDIR)/tests/tsan.supp" \
	  GTEST_FILTER='-DurabilityTest.*' \
	  scripts/with-swtpm scripts/run-tests $(TSAN_DIR)/tests $(TSAN_TESTS)

# libFuzzer targets for every parser of outside bytes (clang, ASan, UBSan), FUZZ_SECONDS each.
fuzz: setup
	@CC=clang CXX=clang++ cmake -S . -B $(FUZZ_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DENCLAVE_FUZZ=ON \
	  -DENCLAVE_WERROR=OFF -DENCLAVE_BENCH=OFF >/dev/null
	@cmake --build $(FUZZ_DIR) --target fuzzers -j$(JOBS)
	@scripts/fuzz $(FUZZ_DIR)/fuzz $(FUZZ_SECONDS)

# SIGKILL of the real daemon at random points under concurrent clients (scripts/soak).
soak: build
	@scripts/soak $(BUILD_DIR)/bin --iterations $(SOAK_ITERATIONS)

# The field report's flow, end to end, on the embedded default (the software enclave).
demo: build
	@scripts/demo $(BUILD_DIR)/bin

bench: build
	@scripts/with-swtpm scripts/bench $(BUILD_DIR)

# enclave next to raw OpenSSL, SoftHSM2, OpenSSH's ssh-agent and swtpm, in one run:
# build/bench-compare/results.json, results.md and chart.png.
bench-compare: build
	@scripts/bench-compare $(BUILD_DIR)

format:
	@git ls-files '*.cpp' '*.h' | xargs clang-format -i

tidy: build
	@git ls-files 'src/*.cpp' | xargs clang-tidy -p $(BUILD_DIR) --quiet

clean:
	@rm -rf $(BUILD_DIR) $(ASAN_DIR) $(FUZZ_DIR) $(TSAN_DIR)
