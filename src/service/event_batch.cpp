#include "service/event_batch.h"

namespace enclave::service {

EventBatch::EventBatch(keychain::Keychain* keychain)
    : keychain_(keychain), writer_(kGroupInterval, [this] { (void)Flush(); }) {}

EventBatch::~EventBatch() {
  writer_.Stop();
  std::unique_lock lock(mu_);
  (void)CommitPending(lock);
}

void EventBatch::Add(keychain::Event event) {
  bool first = false;
  {
    std::lock_guard lock(mu_);
    first = pending_.empty();
    pending_.push_back(std::move(event));
  }
  if (first) writer_.Wake();
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

}  // namespace enclave::service
