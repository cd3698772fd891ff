#include "common/flusher.h"

#include <utility>

namespace enclave {

Flusher::Flusher(std::chrono::milliseconds delay, std::function<void()> commit)
    : delay_(delay), commit_(std::move(commit)) {}

Flusher::~Flusher() { Stop(); }

void Flusher::Wake() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || pending_) return;
    pending_ = true;
    if (!thread_.joinable()) thread_ = std::thread([this] { Loop(); });
  }
  wake_.notify_all();
}

void Flusher::Hurry() {
  {
    std::lock_guard lock(mu_);
    // Nothing pending here means a commit is under way, and it takes the owner's whole buffer.
    if (stopping_ || !pending_) return;
    hurry_ = true;
  }
  wake_.notify_all();
}

void Flusher::Stop() {
  std::thread thread;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    // Taken out under the lock: Wake() never touches thread_ once stopping_ is set.
    thread = std::move(thread_);
  }
  wake_.notify_all();
  if (thread.joinable()) thread.join();
}

void Flusher::Loop() {
  // An idle owner's flusher sleeps until there is something to commit: no timer wakes it.
  std::unique_lock lock(mu_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || pending_; });
    if (stopping_) return;
    wake_.wait_for(lock, delay_, [this] { return stopping_ || hurry_; });
    if (stopping_) return;  // the owner commits what is left
    // Cleared before the commit: work added from here on either makes it into this commit or
    // wakes the next one.
    pending_ = false;
    hurry_ = false;
    lock.unlock();
    commit_();
    lock.lock();
  }
}

}  // namespace enclave
