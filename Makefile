# The front door. `make demo` and `make test` work on a fresh Debian 12 machine.
BUILD_DIR ?= build
ASAN_DIR ?= build-asan
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo
# `make install PREFIX=/usr DESTDIR=/tmp/root` installs under /tmp/root/usr.
PREFIX ?= /usr/local
DESTDIR ?=
# Progress, warnings and errors only: no "Entering directory" lines from the generated makefiles.
MAKEFLAGS += --no-print-directory

.PHONY: all setup build test test-sanitize demo bench format tidy clean install deb

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

# The same suite built with AddressSanitizer and UndefinedBehaviorSanitizer.
test-sanitize: setup
	@cmake -S . -B $(ASAN_DIR) -DCMAKE_BUILD_TYPE=Debug -DENCLAVE_SANITIZE=ON -DENCLAVE_BENCH=OFF >/dev/null
	@cmake --build $(ASAN_DIR) -j$(JOBS)
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  scripts/with-swtpm ctest --test-dir $(ASAN_DIR) --output-on-failure -j$(JOBS) -E 'Benchmark'

# The field report's flow, end to end, on the embedded default (the software enclave).
demo: build
	@scripts/demo $(BUILD_DIR)/bin

bench: build
	@scripts/with-swtpm scripts/bench $(BUILD_DIR)

format:
	@git ls-files '*.cpp' '*.h' | xargs clang-format -i

tidy: build
	@git ls-files 'src/*.cpp' | xargs clang-tidy -p $(BUILD_DIR) --quiet

clean:
	@rm -rf $(BUILD_DIR) $(ASAN_DIR)
