// The flusher commits a batch after its delay, sooner when hurried, never while idle, and never
// again once stopped; work added while a commit runs is committed by the next one.
#include "common/flusher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

namespace enclave {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// An owner as RequestLog and EventBatch are: a buffer under its own lock, emptied by a commit.
class Owner {
 public:
  explicit Owner(milliseconds delay) : flusher_(delay, [this] { Commit(); }) {}
  ~Owner() { flusher_.Stop(); }

  void Add(int v) {
    bool first = false;
    {
      std::lock_guard lock(mu_);
      first = pending_.empty();
      pending_.push_back(v);
    }
    if (first) flusher_.Wake();
  }
  void Commit() {
    std::lock_guard lock(mu_);
    committed_.insert(committed_.end(), pending_.begin(), pending_.end());
    pending_.clear();
    commits_ += 1;
  }
  size_t Committed() {
    std::lock_guard lock(mu_);
    return committed_.size();
  }
  int commits() const { return commits_.load(); }
  Flusher& flusher() { return flusher_; }

  // Waits up to `limit` for `n` committed values.
  bool WaitFor(size_t n, milliseconds limit) {
    const auto until = Clock::now() + limit;
    while (Committed() < n) {
      if (Clock::now() > until) return false;
      std::this_thread::sleep_for(milliseconds(1));
    }
    return true;
  }

 private:
  std::mutex mu_;
  std::vector<int> pending_;
  std::vector<int> committed_;
  std::atomic<int> commits_{0};
  Flusher flusher_;
};

TEST(FlusherTest, CommitsABatchAfterItsDelay) {
  Owner owner(milliseconds(50));
  const auto start = Clock::now();
  for (int i = 0; i < 10; ++i) owner.Add(i);
  ASSERT_TRUE(owner.WaitFor(10, milliseconds(5000)));
  EXPECT_GE(Clock::now() - start, milliseconds(50));
}

TEST(FlusherTest, HurryCommitsWithoutWaitingOutTheDelay) {
  Owner owner(milliseconds(60000));
  owner.Add(1);
  owner.flusher().Hurry();
  EXPECT_TRUE(owner.WaitFor(1, milliseconds(5000)));
}

TEST(FlusherTest, IdleOwnerIsNeverCommitted) {
  Owner owner(milliseconds(1));
  std::this_thread::sleep_for(milliseconds(20));
  EXPECT_EQ(owner.commits(), 0);
}

TEST(FlusherTest, WorkAfterACommitIsCommittedByTheNext) {
  Owner owner(milliseconds(5));
  for (int round = 1; round <= 20; ++round) {
    owner.Add(round);
    ASSERT_TRUE(owner.WaitFor(static_cast<size_t>(round), milliseconds(5000))) << round;
  }
}

TEST(FlusherTest, StoppedFlusherCommitsNothingMore) {
  Owner owner(milliseconds(5));
  owner.flusher().Stop();
  owner.Add(1);
  std::this_thread::sleep_for(milliseconds(30));
  EXPECT_EQ(owner.Committed(), 0u);
  owner.flusher().Stop();  // idempotent
}

TEST(FlusherTest, ManyWritersLoseNothing) {
  Owner owner(milliseconds(2));
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&owner, t] {
      for (int i = 0; i < 500; ++i) owner.Add(t * 1000 + i);
    });
  }
  for (auto& w : writers) w.join();
  EXPECT_TRUE(owner.WaitFor(2000, milliseconds(10000)));
}

}  // namespace
}  // namespace enclave
