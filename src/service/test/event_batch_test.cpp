// The group commit of per-use journal entries: a group reaches the journal on its own within
// kGroupInterval, at once on Flush, ahead of an entry written through, and when the batch ends.
#include "service/event_batch.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace enclave::service {
namespace {

using std::chrono::milliseconds;

keychain::Event Use(const std::string& kid) {
  keychain::Event e;
  e.kind = "ssh-sign";
  e.cause = "none";
  e.kids = {kid};
  return e;
}

std::vector<std::string> Kinds(const keychain::Keychain& kc) {
  std::vector<std::string> out;
  auto events = kc.Events();
  if (!events.ok()) return out;
  for (const auto& e : *events) out.push_back(e.kind + ":" + (e.kids.empty() ? "" : e.kids[0]));
  return out;
}

class EventBatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto kc = keychain::Keychain::OpenInMemory();
    ASSERT_TRUE(kc.ok()) << kc.error().ToString();
    keychain_ = std::move(kc).value();
  }
  std::unique_ptr<keychain::Keychain> keychain_;
};

TEST_F(EventBatchTest, GroupIsCommittedWithoutAFlush) {
  EventBatch batch(keychain_.get());
  batch.Add(Use("a"));
  batch.Add(Use("b"));
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (Kinds(*keychain_).size() < 2 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  EXPECT_EQ(Kinds(*keychain_), (std::vector<std::string>{"ssh-sign:a", "ssh-sign:b"}));
}

TEST_F(EventBatchTest, EntryWrittenThroughFollowsThePendingGroup) {
  EventBatch batch(keychain_.get());
  batch.Add(Use("a"));
  keychain::Event other;
  other.kind = "key-deleted";
  other.cause = "none";
  other.kids = {"a"};
  ASSERT_TRUE(batch.FlushThen(other).ok());
  EXPECT_EQ(Kinds(*keychain_), (std::vector<std::string>{"ssh-sign:a", "key-deleted:a"}));
}

TEST_F(EventBatchTest, FlushAndTheEndCommitWhatIsPending) {
  {
    EventBatch batch(keychain_.get());
    batch.Add(Use("a"));
    ASSERT_TRUE(batch.Flush().ok());
    EXPECT_EQ(Kinds(*keychain_).size(), 1u);
    batch.Add(Use("b"));
  }
  EXPECT_EQ(Kinds(*keychain_), (std::vector<std::string>{"ssh-sign:a", "ssh-sign:b"}));
}

TEST_F(EventBatchTest, ConcurrentUsesAreAllCommittedInOrderPerThread) {
  {
    EventBatch batch(keychain_.get());
    std::vector<std::thread> users;
    for (int t = 0; t < 4; ++t) {
      users.emplace_back([&batch, t] {
        for (int i = 0; i < 50; ++i) {
          batch.Add(Use(std::to_string(t) + "-" + std::to_string(i)));
          if (i % 10 == 0) std::this_thread::sleep_for(milliseconds(3));
        }
      });
    }
    for (auto& u : users) u.join();
  }
  const auto kinds = Kinds(*keychain_);
  ASSERT_EQ(kinds.size(), 200u);
  for (int t = 0; t < 4; ++t) {
    int next = 0;
    for (const auto& k : kinds) {
      if (k.rfind("ssh-sign:" + std::to_string(t) + "-", 0) == 0) {
        EXPECT_EQ(k, "ssh-sign:" + std::to_string(t) + "-" + std::to_string(next));
        ++next;
      }
    }
    EXPECT_EQ(next, 50);
  }
}

}  // namespace
}  // namespace enclave::service
