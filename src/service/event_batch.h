// Journal entries written once per use of a key (each ssh signature) are committed in groups: a
// synchronous SQLite commit per signature (an fsync) would cost more than the signature itself.
// A group is committed by a background thread at most kGroupInterval after its first entry, when
// the journal is read (Flush), and when the batch ends with the enclave. What a SIGKILL or a power
// loss can take is therefore the last kGroupInterval of per-use entries, never a key or a
// setting, and never an entry of any other kind (those are written through, after the pending
// group so that the journal keeps its order).
#pragma once

#include <chrono>
#include <mutex>
#include <vector>

#include "common/flusher.h"
#include "keychain/keychain.h"

namespace enclave::service {

class EventBatch {
 public:
  static constexpr auto kGroupInterval = std::chrono::milliseconds(100);

  explicit EventBatch(keychain::Keychain* keychain);
  ~EventBatch();
  EventBatch(const EventBatch&) = delete;
  EventBatch& operator=(const EventBatch&) = delete;

  // Queues `event` for the next group.
  void Add(keychain::Event event);
  // Commits every queued event now, then `event` (when given) on its own.
  Status Flush();
  Status FlushThen(const keychain::Event& event);

 private:
  // Commits what is pending, with mu_ held through `lock` on entry and on return.
  Status CommitPending(std::unique_lock<std::mutex>& lock);

  keychain::Keychain* keychain_;
  std::mutex mu_;         // guards pending_; never held across a commit
  std::mutex commit_mu_;  // held for each commit (see CommitPending)
  std::vector<keychain::Event> pending_;
  Flusher writer_;  // commits a group kGroupInterval after its first entry; last, so it stops first
};

}  // namespace enclave::service
