// Both stores through the same tests: migrations, single-use challenges across two "nodes" on one
// database and under concurrent redemption, registrations decided under the user's lock, the
// counter rule, transitions; PostgreSQL stopped and started under a store that must reconnect.
#include "rp/store/store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

#include "throwaway_postgres.h"

namespace enclave::rp {
namespace {

using testing::ThrowawayPostgres;

ThrowawayPostgres* Server() {
  static std::unique_ptr<ThrowawayPostgres> pg = ThrowawayPostgres::Start();
  return pg.get();
}

class StoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "sqlite") {
      dir_ = std::filesystem::temp_directory_path() /
             ("rp-store-" + std::to_string(getpid()) + "-" + std::to_string(counter_++));
      std::filesystem::create_directories(dir_);
      url_ = "sqlite:" + (dir_ / "rp.sqlite").string();
    } else {
      if (!Server()) GTEST_SKIP() << "no PostgreSQL server to start";
      url_ = Server()->NewDatabase();
      ASSERT_FALSE(url_.empty());
    }
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  std::unique_ptr<Store> Open() {
    auto s = OpenStore(url_);
    EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().description);
    return s.ok() ? std::move(*s) : nullptr;
  }
  static ChallengeRecord Challenge(uint8_t fill) {
    return ChallengeRecord{
        Bytes(32, fill), CeremonyKind::kAuthentication, "alice", Bytes(32, 1), true, 1000, 2000};
  }
  static CredentialRecord Credential(uint8_t id, const std::string& user) {
    CredentialRecord c;
    c.id = Bytes(16, id);
    c.user = user;
    c.public_key = {1, 2, 3};
    c.aaguid = Bytes(16, 0);
    c.attestation = "none";
    c.transports = "[]";
    c.created_ms = c.updated_ms = 5;
    return c;
  }

  static inline int counter_ = 0;
  std::filesystem::path dir_;
  std::string url_;
};

TEST_P(StoreTest, MigratesOnceAndRefusesANewerSchema) {
  { ASSERT_TRUE(Open()); }
  { ASSERT_TRUE(Open()); }  // a second start finds the schema current
  if (GetParam() == "sqlite") {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir_ / "rp.sqlite").c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "INSERT INTO schema_version VALUES (99)", nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  } else {
    ASSERT_TRUE(Server()->Psql(url_.substr(url_.rfind('/') + 1), "insert into schema_version values (99)"));
  }
  auto s = OpenStore(url_);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().cause, "store-schema-newer");
  EXPECT_NE(s.error().description.find("99"), std::string::npos);
}

TEST_P(StoreTest, AChallengeIsRedeemedOnceAtAnyNode) {
  auto a = Open(), b = Open();
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->PutChallenge(Challenge(7)).ok());
  auto r = b->RedeemChallenge(Bytes(32, 7), 1500);
  ASSERT_TRUE(r.ok()) << r.error().description;
  ASSERT_EQ(r->outcome, Redeemed::kOk);
  EXPECT_EQ(r->challenge->user, "alice");
  EXPECT_EQ(r->challenge->user_handle, Bytes(32, 1));
  EXPECT_EQ(r->challenge->expires_ms, 2000);
  EXPECT_EQ(a->RedeemChallenge(Bytes(32, 7), 1600)->outcome, Redeemed::kReused);
  EXPECT_EQ(a->RedeemChallenge(Bytes(32, 8), 1600)->outcome, Redeemed::kUnknown);
  // purged tombstones make an old challenge unknown, not redeemable
  ASSERT_TRUE(a->Purge(0, 1601).ok());
  EXPECT_EQ(b->RedeemChallenge(Bytes(32, 7), 1700)->outcome, Redeemed::kUnknown);
}

TEST_P(StoreTest, ConcurrentRedemptionsGiveExactlyOneSuccess) {
  auto a = Open(), b = Open();
  ASSERT_TRUE(a && b);
  for (uint8_t round = 0; round < 5; ++round) {
    ASSERT_TRUE(a->PutChallenge(Challenge(round)).ok());
    std::atomic<int> ok{0}, reused{0}, failed{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 12; ++i) {
      threads.emplace_back([&, i] {
        auto r = (i % 2 ? a : b)->RedeemChallenge(Bytes(32, round), 1500);
        if (!r.ok()) {
          ++failed;
        } else {
          ++(r->outcome == Redeemed::kOk ? ok : reused);
        }
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(ok.load(), 1);
    EXPECT_EQ(ok + reused + failed, 12);
  }
}

TEST_P(StoreTest, RegistrationsOfOneUserAreDecidedOneAfterTheOther) {
  auto a = Open(), b = Open();
  ASSERT_TRUE(a && b);
  std::vector<std::thread> threads;
  std::atomic<int> done{0};
  for (uint8_t i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      auto r = (i % 2 ? a : b)
                   ->Register("bob", Bytes(32, 2), 5, [&](const std::vector<CredentialRecord>& existing) {
                     RegistrationPlan p{Credential(i + 1, "bob"), std::nullopt, {}};
                     p.credential.state =
                         existing.empty() ? CredentialState::kActive : CredentialState::kNeedsStepUp;
                     return Result<RegistrationPlan>(p);
                   });
      if (r.ok()) ++done;
    });
  }
  for (auto& t : threads) t.join();
  auto list = a->UserCredentials("bob");
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(static_cast<int>(list->size()), done.load());
  int active = 0;
  for (const auto& c : *list) active += c.state == CredentialState::kActive;
  EXPECT_EQ(active, 1);
  // an id registered already is refused, and replacing marks the old one
  auto again = a->Register("carol", Bytes(32, 3), 5, [&](const std::vector<CredentialRecord>&) {
    return Result<RegistrationPlan>(RegistrationPlan{Credential(1, "carol"), std::nullopt, {}});
  });
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().cause, "credential-exists");
  auto replaced = a->Register("bob", Bytes(32, 2), 6, [&](const std::vector<CredentialRecord>& existing) {
    Bytes active_id;
    for (const auto& c : existing) {
      if (c.state == CredentialState::kActive) active_id = c.id;
    }
    RegistrationPlan p{Credential(100, "bob"), active_id, {}};
    p.events.push_back(Event{"bob", p.credential.id, "rebound", "{}", 6});
    return Result<RegistrationPlan>(p);
  });
  ASSERT_TRUE(replaced.ok()) << replaced.error().description;
  Bytes active_id;
  for (const auto& c : *list) {
    if (c.state == CredentialState::kActive) active_id = c.id;
  }
  auto old = b->GetCredential(active_id);
  ASSERT_TRUE(old.ok() && *old);
  EXPECT_EQ((*old)->state, CredentialState::kReplaced);
  EXPECT_EQ((*old)->replaced_by, Bytes(16, 100));
  auto events = b->Events("bob");
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ(events->front().kind, "rebound");
}

TEST_P(StoreTest, TheCounterRuleAndStateTransitions) {
  auto s = Open();
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->UserHandle("dave", Bytes(32, 4), 1).ok());
  EXPECT_EQ(*s->UserHandle("dave", Bytes(32, 9), 2), Bytes(32, 4));  // the first handle stays
  ASSERT_TRUE(s->Register("dave", Bytes(32, 4), 5, [&](const std::vector<CredentialRecord>&) {
                 return Result<RegistrationPlan>(RegistrationPlan{Credential(9, "dave"), std::nullopt, {}});
               }).ok());
  Bytes id(16, 9);
  EXPECT_TRUE(*s->RecordUse(id, 0, false, 10));  // 0 stays allowed
  EXPECT_TRUE(*s->RecordUse(id, 5, false, 11));
  EXPECT_FALSE(*s->RecordUse(id, 5, false, 12));
  EXPECT_FALSE(*s->RecordUse(id, 0, false, 12));
  EXPECT_TRUE(*s->RecordUse(id, 6, true, 13));
  auto c = s->GetCredential(id);
  EXPECT_EQ((*c)->sign_count, 6);
  EXPECT_TRUE((*c)->backup_state);
  EXPECT_EQ((*c)->last_used_ms, 13);
  Event e{"dave", id, "dead", "{}", 20};
  auto t = s->Transition(id, {CredentialState::kActive}, CredentialState::kDead, "biometry-changed", e);
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(t->changed);
  EXPECT_EQ(t->record->cause, "biometry-changed");
  t = s->Transition(id, {CredentialState::kActive}, CredentialState::kDead, "again", e);
  EXPECT_FALSE(t->changed);
  EXPECT_EQ(t->record->state, CredentialState::kDead);
  EXPECT_FALSE(*s->RecordUse(id, 7, false, 21));  // not active any more
  EXPECT_FALSE(
      s->Transition(Bytes(16, 1), {CredentialState::kActive}, CredentialState::kDead, "", e)->record);
}

TEST_P(StoreTest, AStoppedDatabaseFailsFastAndIsReconnected) {
  if (GetParam() != "postgresql") GTEST_SKIP() << "PostgreSQL only";
  auto s = Open();
  ASSERT_TRUE(s && s->Ping().ok());
  ASSERT_TRUE(Server()->Stop());
  auto t0 = std::chrono::steady_clock::now();
  auto down = s->Ping();
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.error().cause, "store-unavailable");
  EXPECT_EQ(down.error().user_info.value("retry_after_seconds", 0), 1);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  ASSERT_TRUE(Server()->Restart());
  EXPECT_TRUE(s->Ping().ok());
  EXPECT_TRUE(s->PutChallenge(Challenge(42)).ok());
}

INSTANTIATE_TEST_SUITE_P(Both, StoreTest, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& p) { return p.param; });

}  // namespace
}  // namespace enclave::rp
