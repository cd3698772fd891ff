#include "common/secure_memory.h"

#include <openssl/crypto.h>
#include <sys/resource.h>

#include <atomic>
#include <fstream>
#include <iterator>
#include <new>
#include <string>

namespace enclave {
namespace {

std::atomic<bool> g_locked{false};
std::atomic<size_t> g_arena_bytes{0};
std::atomic<uint64_t> g_ordinary{0};

int64_t VmLockedKib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmLck:", 0) == 0) return std::stoll(line.substr(6));
  }
  return -1;
}

}  // namespace

bool InitSecureMemory() {
  if (CRYPTO_secure_malloc_initialized()) return g_locked;
  // Powers of two, as OpenSSL's arena needs; a few class keys, passcode material and the keys in
  // use fit in the smallest many times over.
  constexpr size_t kSizes[] = {size_t{1} << 18, size_t{1} << 16, size_t{1} << 14};
  constexpr size_t kMinAllocation = 16;
  for (size_t size : kSizes) {
    const int r = CRYPTO_secure_malloc_init(size, kMinAllocation);
    if (r == 1) {
      g_locked = true;
      g_arena_bytes = size;
      return true;
    }
    // 2: usable but its pages could not be locked. Try a smaller arena unless this is the last.
    if (r == 2 && size == kSizes[std::size(kSizes) - 1]) {
      g_arena_bytes = size;
      return false;
    }
    if (r == 2) CRYPTO_secure_malloc_done();
  }
  return false;
}

nlohmann::json SecureMemoryReport() {
  rlimit limit{};
  ::getrlimit(RLIMIT_MEMLOCK, &limit);
  const bool initialized = CRYPTO_secure_malloc_initialized() != 0;
  nlohmann::json j = {
      {"arena_bytes", initialized ? g_arena_bytes.load() : 0},
      {"arena_used_bytes", initialized ? CRYPTO_secure_used() : 0},
      {"locked", initialized && g_locked},
      {"vm_locked_kib", VmLockedKib()},
      {"memlock_limit_kib",
       limit.rlim_cur == RLIM_INFINITY ? nlohmann::json("unlimited") : nlohmann::json(limit.rlim_cur / 1024)},
      {"ordinary_heap_allocations", g_ordinary.load()},
  };
  if (!initialized) {
    j["note"] = "no secure arena in this process: secrets are wiped on free but may be swapped";
  } else if (!g_locked) {
    j["note"] = "RLIMIT_MEMLOCK is too small to lock even the smallest secret arena (" +
                std::to_string(g_arena_bytes.load() / 1024) +
                " KiB): secrets may be swapped to disk; raise the limit (LimitMEMLOCK=, ulimit -l)";
  }
  return j;
}

namespace internal {

void* SecureAllocate(size_t n) {
  if (n == 0) n = 1;
  void* p = CRYPTO_secure_malloc_initialized() ? OPENSSL_secure_malloc(n) : nullptr;
  if (p == nullptr) {
    // No arena, or a full one: the ordinary heap, still zeroed on free.
    if (CRYPTO_secure_malloc_initialized()) ++g_ordinary;
    p = OPENSSL_malloc(n);
  }
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

void SecureFree(void* p, size_t n) {
  if (p == nullptr) return;
  if (CRYPTO_secure_allocated(p)) {
    OPENSSL_secure_clear_free(p, n);
  } else {
    OPENSSL_clear_free(p, n);
  }
}

}  // namespace internal
}  // namespace enclave
