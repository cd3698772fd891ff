#include "daemon/helper_pool.h"

#include <atomic>

namespace enclave::daemon {

// One ForEachShared call. A helper joins only while the caller has not closed it, and the caller
// waits for the helpers inside: `work`, which lives on the caller's stack, is never used after.
struct HelperPool::Run {
  std::atomic<size_t> next{0};
  size_t n = 0;
  const std::function<void(size_t)>* work = nullptr;
  std::mutex mu;
  std::condition_variable left;
  int inside = 0;
  bool closed = false;

  void Take() {
    for (size_t i = next.fetch_add(1); i < n; i = next.fetch_add(1)) (*work)(i);
  }
};

HelperPool::HelperPool(unsigned threads) {
  threads_.reserve(threads);
  for (unsigned i = 0; i < threads; ++i) threads_.emplace_back([this] { Loop(); });
}

HelperPool::~HelperPool() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& t : threads_) t.join();
}

unsigned HelperPool::ForThisMachine() {
  const unsigned n = std::thread::hardware_concurrency();
  return n > 1 ? n - 1 : 0;
}

void HelperPool::ForEachShared(size_t n, const std::function<void(size_t)>& work) {
  if (n == 0) return;
  if (threads_.empty() || n == 1) {
    for (size_t i = 0; i < n; ++i) work(i);
    return;
  }
  auto run = std::make_shared<Run>();
  run->n = n;
  run->work = &work;
  {
    std::lock_guard lock(mu_);
    // Offers nobody has taken yet are stale by now (their callers did the work); one per idle
    // helper is enough.
    while (offers_.size() >= threads_.size()) offers_.pop_front();
    for (size_t i = 0; i + 1 < n && i < threads_.size(); ++i) offers_.push_back(run);
  }
  wake_.notify_all();
  run->Take();
  std::unique_lock lock(run->mu);
  run->closed = true;
  run->left.wait(lock, [&] { return run->inside == 0; });
}

void HelperPool::Loop() {
  std::unique_lock lock(mu_);
  while (true) {
    wake_.wait(lock, [&] { return stopping_ || !offers_.empty(); });
    if (stopping_) return;
    std::shared_ptr<Run> run = std::move(offers_.front());
    offers_.pop_front();
    lock.unlock();
    bool joined = false;
    {
      std::lock_guard inner(run->mu);
      if (!run->closed) {
        ++run->inside;
        joined = true;
      }
    }
    if (joined) {
      run->Take();
      std::lock_guard inner(run->mu);
      --run->inside;
      run->left.notify_all();
    }
    lock.lock();
  }
}

}  // namespace enclave::daemon
