// The dashboard's sessions on both stores: kept by hash until they expire, ended by logout at any
// node on the same database, expired rows forgotten by the next sign-in.
#include "rp/store/session_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "rp/store/store.h"
#include "throwaway_postgres.h"

namespace enclave::rp {
namespace {

using testing::ThrowawayPostgres;

ThrowawayPostgres* Server() {
  static std::unique_ptr<ThrowawayPostgres> pg = ThrowawayPostgres::Start();
  return pg.get();
}

class SessionStoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "sqlite") {
      dir_ = std::filesystem::temp_directory_path() / ("rp-sessions-" + std::to_string(getpid()));
      std::filesystem::create_directories(dir_);
      url_ = "sqlite:" + (dir_ / "rp.sqlite").string();
    } else {
      if (!Server()) GTEST_SKIP() << "no PostgreSQL server to start";
      url_ = Server()->NewDatabase();
      ASSERT_FALSE(url_.empty());
    }
    // The relying party's store opens first, as in enclave-rpd; both migrate the same schema.
    auto store = OpenStore(url_);
    ASSERT_TRUE(store.ok()) << store.error().description;
    store_ = std::move(*store);
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  std::unique_ptr<SessionStore> Open() {
    auto s = OpenSessionStore(url_);
    EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().description);
    return s.ok() ? std::move(*s) : nullptr;
  }
  std::filesystem::path dir_;
  std::string url_;
  std::unique_ptr<Store> store_;
};

TEST_P(SessionStoreTest, ValidUntilExpiryOrLogoutAtAnyNode) {
  auto a = Open(), b = Open();
  ASSERT_TRUE(a && b);
  const std::string h1(64, 'a'), h2(64, 'b');
  ASSERT_TRUE(a->Create(h1, 1000, 5000).ok());
  ASSERT_TRUE(a->Create(h2, 1000, 9000).ok());
  EXPECT_TRUE(*b->Valid(h1, 4999)) << "a session opened at one node is valid at another";
  EXPECT_FALSE(*b->Valid(h1, 5000)) << "expired";
  EXPECT_FALSE(*b->Valid(std::string(64, 'c'), 1000)) << "never opened";
  ASSERT_TRUE(b->End(h2).ok());
  EXPECT_FALSE(*a->Valid(h2, 1000)) << "a logout at one node ends it at all";
  EXPECT_TRUE(b->End(h2).ok()) << "ending an ended session is no error";
  // A later sign-in forgets the expired row; the duplicate id of a live session is refused.
  ASSERT_TRUE(a->Create(std::string(64, 'd'), 6000, 9000).ok());
  EXPECT_FALSE(*a->Valid(h1, 0));
  EXPECT_FALSE(a->Create(std::string(64, 'd'), 6000, 9000).ok());
}

TEST_P(SessionStoreTest, OpeningTwiceMigratesOnce) {
  auto a = Open();
  auto b = Open();
  ASSERT_TRUE(a && b);
  EXPECT_FALSE(OpenSessionStore("mysql://x").ok());
  EXPECT_FALSE(OpenSessionStore("sqlite:").ok());
}

INSTANTIATE_TEST_SUITE_P(Stores, SessionStoreTest, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& p) { return p.param; });

}  // namespace
}  // namespace enclave::rp
