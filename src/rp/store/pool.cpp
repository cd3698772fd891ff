#include "rp/store/pool.h"

namespace enclave::rp::sql {

Result<Pool::Lease> Pool::Acquire(std::chrono::milliseconds wait) {
  std::unique_lock lock(mu_);
  auto deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    while (!idle_.empty()) {
      std::unique_ptr<Connection> c = std::move(idle_.back());
      idle_.pop_back();
      if (c->Healthy()) return Lease(this, std::move(c));
      --open_;  // dropped: the server closed it while it was idle
    }
    if (open_ < max_) break;
    if (freed_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() && open_ >= max_)
      return StoreError(kBusy, "every store connection is in use");
  }
  ++open_;
  lock.unlock();
  // Connecting happens outside the lock: a slow connect must not hold up callers with idle ones.
  auto c = factory_();
  if (!c.ok()) {
    std::lock_guard relock(mu_);
    --open_;
    freed_.notify_one();
    return std::move(c).error();
  }
  return Lease(this, std::move(*c));
}

void Pool::Return(std::unique_ptr<Connection> c) {
  std::lock_guard lock(mu_);
  if (c && c->Healthy()) {
    idle_.push_back(std::move(c));
  } else {
    --open_;
  }
  freed_.notify_one();
}

}  // namespace enclave::rp::sql
