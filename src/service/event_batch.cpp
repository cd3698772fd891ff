#include "service/event_batch.h"

namespace enclave::service {

EventBatch::~EventBatch() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (writer_.joinable()) writer_.join();
  std::lock_guard lock(mu_);
  (void)CommitLocked();
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
  std::lock_guard lock(mu_);
  return CommitLocked();
}

Status EventBatch::FlushThen(const keychain::Event& event) {
  std::lock_guard lock(mu_);
  pending_.push_back(event);
  return CommitLocked();
}

Status EventBatch::CommitLocked() {
  std::lock_guard commit(commit_mu_);
  if (pending_.empty()) return Ok();
  std::vector<keychain::Event> group;
  group.swap(pending_);
  return keychain_->AppendEvents(group);
}

void EventBatch::Loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    wake_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
    if (stopping_) break;
    // Let the group gather; a Flush in between commits it sooner.
    wake_.wait_for(lock, kGroupInterval, [this] { return stopping_; });
    if (stopping_) break;  // the destructor commits what is left
    std::unique_lock commit(commit_mu_);
    std::vector<keychain::Event> group;
    group.swap(pending_);
    lock.unlock();
    if (!group.empty()) (void)keychain_->AppendEvents(group);
    commit.unlock();
    lock.lock();
  }
}

}  // namespace enclave::service
