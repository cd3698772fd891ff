#include "service/event_batch.h"

namespace enclave::service {

EventBatch::~EventBatch() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (writer_.joinable()) writer_.join();
  std::unique_lock lock(mu_);
  (void)CommitPending(lock);
}

void EventBatch::Add(keychain::Event event) {
  bool first = false;
  {
    std::lock_guard lock(mu_);
    if (!writer_.joinable() && !stopping_) writer_ = std::thread([this] { Loop(); });
    first = pending_.empty();
    pending_.push_back(std::move(event));
  }
  if (first) wake_.notify_all();
}

Status EventBatch::Flush() {
  std::unique_lock lock(mu_);
  return CommitPending(lock);
}

Status EventBatch::FlushThen(const keychain::Event& event) {
  std::unique_lock lock(mu_);
  pending_.push_back(event);
  return CommitPending(lock);
}

Status EventBatch::CommitPending(std::unique_lock<std::mutex>& lock) {
  // commit_mu_ is taken before the group is: groups commit in the order they were taken. mu_ is
  // let go for the commit itself (an fsync), so Add never waits for one; it is taken again only
  // after commit_mu_ is released, keeping the lock order mu_ -> commit_mu_ everywhere.
  std::unique_lock commit(commit_mu_);
  std::vector<keychain::Event> group;
  group.swap(pending_);
  if (group.empty()) return Ok();
  lock.unlock();
  Status committed = keychain_->AppendEvents(group);
  commit.unlock();
  lock.lock();
  return committed;
}

void EventBatch::Loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    wake_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
    if (stopping_) break;
    // Let the group gather; a Flush in between commits it sooner.
    wake_.wait_for(lock, kGroupInterval, [this] { return stopping_; });
    if (stopping_) break;  // the destructor commits what is left
    (void)CommitPending(lock);
  }
}

}  // namespace enclave::service
