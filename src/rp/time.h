#pragma once

#include <chrono>
#include <cstdint>

namespace enclave::rp {

// Wall-clock milliseconds: challenges are compared across nodes, so a steady clock (per machine)
// would not do.
inline int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace enclave::rp
