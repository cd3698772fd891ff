// Threads that lend a hand to a connection with many independent requests buffered (a client
// pipelining signatures): one connection's thread and the helpers each take the next request
// until none is left. A connection never waits for a helper to become free; it only waits for
// requests a helper has already taken, so a busy pool costs nothing but the offer.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace enclave::daemon {

class HelperPool {
 public:
  // `threads` helpers (0: every ForEachShared runs on its caller alone).
  explicit HelperPool(unsigned threads);
  ~HelperPool();
  HelperPool(const HelperPool&) = delete;
  HelperPool& operator=(const HelperPool&) = delete;

  // The number of helpers that suits this machine: one fewer than its processors.
  static unsigned ForThisMachine();
  unsigned size() const { return static_cast<unsigned>(threads_.size()); }

  // Runs work(0) .. work(n - 1), each once, on the calling thread and on any helper that is idle;
  // returns when all are done. `work` must be safe to run for different indexes at once.
  void ForEachShared(size_t n, const std::function<void(size_t)>& work);

 private:
  struct Run;
  void Loop();

  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::shared_ptr<Run>> offers_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace enclave::daemon
