#include "auth/context.h"

#include <gtest/gtest.h>

namespace enclave::auth {
namespace {

using namespace std::chrono_literals;

class ContextTest : public ::testing::Test {
 protected:
  AuthContextStore::Clock::time_point now_ = AuthContextStore::Clock::time_point(1000s);
  AuthContextStore store_{[this] { return now_; }};
};

TEST_F(ContextTest, ReusedWithinTheWindow) {
  auto id = store_.Create(10);
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->size(), 32u);
  EXPECT_FALSE(store_.Satisfies(*id, {"biometry"}));
  ASSERT_TRUE(store_.Record(*id, {"biometry"}).ok());
  now_ += 10s;
  EXPECT_TRUE(store_.Satisfies(*id, {"biometry"}));
  EXPECT_FALSE(store_.Satisfies(*id, {"biometry", "passcode"}));
  auto satisfied = store_.Satisfied(*id);
  ASSERT_TRUE(satisfied.ok());
  EXPECT_EQ(*satisfied, std::vector<std::string>{"biometry"});
}

TEST_F(ContextTest, ExpiresAfterTheWindow) {
  auto id = store_.Create(10);
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(store_.Record(*id, {"passcode"}).ok());
  now_ += 11s;
  EXPECT_FALSE(store_.Satisfies(*id, {"passcode"}));
  EXPECT_TRUE(store_.Satisfied(*id)->empty());
  // A fresh authentication renews it.
  ASSERT_TRUE(store_.Record(*id, {"passcode"}).ok());
  EXPECT_TRUE(store_.Satisfies(*id, {"passcode"}));
}

TEST_F(ContextTest, ZeroDurationNeverReuses) {
  auto id = store_.Create(0);
  ASSERT_TRUE(store_.Record(*id, {"biometry"}).ok());
  EXPECT_FALSE(store_.Satisfies(*id, {"biometry"}));
}

TEST_F(ContextTest, DurationIsClampedToThePlatformMaximum) {
  auto id = store_.Create(100000);
  ASSERT_TRUE(store_.Record(*id, {"biometry"}).ok());
  now_ += 300s;
  EXPECT_TRUE(store_.Satisfies(*id, {"biometry"}));
  now_ += 1s;
  EXPECT_FALSE(store_.Satisfies(*id, {"biometry"}));
}

TEST_F(ContextTest, ClockGoingBackwardsDoesNotExtendTrust) {
  auto id = store_.Create(60);
  ASSERT_TRUE(store_.Record(*id, {"biometry"}, now_ + 30s).ok());
  EXPECT_FALSE(store_.Satisfies(*id, {"biometry"}));
}

TEST_F(ContextTest, InvalidatedAndUnknownContextsAreInvalid) {
  auto id = store_.Create(60);
  ASSERT_TRUE(store_.Record(*id, {"biometry"}).ok());
  store_.Invalidate(*id);
  EXPECT_FALSE(store_.Satisfies(*id, {"biometry"}));
  auto s = store_.Satisfied(*id);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().domain, domain::kLocalAuthentication);
  EXPECT_EQ(s.error().code, laerror::kInvalidContext);
  EXPECT_FALSE(store_.Record(*id, {"biometry"}).ok());
  EXPECT_FALSE(store_.Record("nonexistent", {"biometry"}).ok());
}

TEST_F(ContextTest, NegativeDurationIsParamError) {
  auto id = store_.Create(-1);
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.error().code, errsec::kParam);
}

TEST_F(ContextTest, IdsAreDistinctAndTheStoreIsBounded) {
  auto first = store_.Create(60);
  ASSERT_TRUE(first.ok());
  std::string last;
  for (size_t i = 0; i < AuthContextStore::kMaxContexts; ++i) {
    now_ += 1s;
    auto id = store_.Create(60);
    ASSERT_TRUE(id.ok());
    EXPECT_NE(*id, last);
    last = *id;
  }
  EXPECT_FALSE(store_.Satisfied(*first).ok()) << "the oldest context should have been evicted";
  EXPECT_TRUE(store_.Satisfied(last).ok());
}

}  // namespace
}  // namespace enclave::auth
