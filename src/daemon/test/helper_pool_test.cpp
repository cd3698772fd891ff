// The helpers that share a connection's run of signatures: every index exactly once, from many
// callers at once, and never a helper touching a run its caller has finished.
#include "daemon/helper_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>
#include <vector>

namespace enclave::daemon {
namespace {

TEST(HelperPool, EveryIndexRunsOnceWhateverTheNumberOfHelpers) {
  for (unsigned helpers : {0u, 1u, 3u}) {
    HelperPool pool(helpers);
    for (size_t n : {size_t{0}, size_t{1}, size_t{2}, size_t{17}, size_t{64}}) {
      std::vector<std::atomic<int>> runs(n);
      pool.ForEachShared(n, [&](size_t i) { runs[i].fetch_add(1); });
      for (size_t i = 0; i < n; ++i)
        EXPECT_EQ(runs[i].load(), 1) << helpers << " helpers, index " << i << " of " << n;
    }
  }
}

TEST(HelperPool, HelpersDoShareTheWork) {
  HelperPool pool(1);
  std::set<std::thread::id> seen;
  std::mutex mu;
  // A run long enough, with work slow enough, that the helper wakes before the caller is done.
  for (int attempt = 0; attempt < 20 && seen.size() < 2; ++attempt) {
    pool.ForEachShared(64, [&](size_t) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
      std::lock_guard lock(mu);
      seen.insert(std::this_thread::get_id());
    });
  }
  EXPECT_EQ(seen.size(), 2u);
}

TEST(HelperPool, ManyCallersAtOnceWithFewerHelpers) {
  HelperPool pool(1);
  std::atomic<long> total{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 4; ++c) {
    callers.emplace_back([&] {
      for (int round = 0; round < 200; ++round) {
        std::vector<int> local(16, 0);  // on this caller's stack: a late helper would touch freed memory
        pool.ForEachShared(local.size(), [&](size_t i) { local[i] += 1; });
        for (int v : local) total += v;
      }
    });
  }
  for (auto& t : callers) t.join();
  EXPECT_EQ(total.load(), 4L * 200 * 16);
}

}  // namespace
}  // namespace enclave::daemon
