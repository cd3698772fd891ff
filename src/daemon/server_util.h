// Small helpers that the server's two files share (server.cpp: listening, admission and
// lifecycle; connection.cpp: what a connection is served).
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdint>

namespace enclave::daemon::internal {

inline int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

inline double MillisecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

// Makes an eventfd readable.
inline void Wake(int fd) {
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(fd, &one, sizeof one);
}

}  // namespace enclave::daemon::internal
