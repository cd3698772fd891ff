// Where secrets live: SecureBytes allocates from OpenSSL's secure heap, one arena of pages that
// are mlock'd (never swapped), excluded from core dumps, and zeroed when a buffer is freed. A
// process that holds secrets (enclaved) sets the arena up once at start; until then, or when it
// is full, buffers come from the ordinary heap and are still wiped on free.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>

namespace enclave {

// Sets up the arena, the largest of a few sizes whose pages can be locked under
// RLIMIT_MEMLOCK; if none can, the smallest, unlocked (still wiped and left out of dumps).
// Returns whether the arena's pages are locked. Call once, before secrets are made.
bool InitSecureMemory();

// For `enclave status`: {"arena_bytes", "arena_used_bytes", "locked", "vm_locked_kib",
// "memlock_limit_kib", "ordinary_heap_allocations"[, "note"]}.
nlohmann::json SecureMemoryReport();

namespace internal {
void* SecureAllocate(size_t n);
void SecureFree(void* p, size_t n);
}  // namespace internal

// std::allocator for secret bytes: from the arena when there is room, zeroed on free.
template <typename T>
struct SecureAllocator {
  using value_type = T;
  SecureAllocator() noexcept = default;
  template <typename U>
  SecureAllocator(const SecureAllocator<U>&) noexcept {}  // NOLINT(google-explicit-constructor)
  T* allocate(size_t n) { return static_cast<T*>(internal::SecureAllocate(n * sizeof(T))); }
  void deallocate(T* p, size_t n) noexcept { internal::SecureFree(p, n * sizeof(T)); }
  template <typename U>
  bool operator==(const SecureAllocator<U>&) const noexcept {
    return true;
  }
};

}  // namespace enclave
