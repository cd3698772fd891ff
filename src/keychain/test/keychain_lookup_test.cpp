// Remembered lookups: a single-item lookup may be answered without SQLite, but never differently
// from a read of the database, whoever committed to it last.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <string>

#include "keychain/keychain.h"
#include "keychain/test/keychain_test_util.h"

namespace enclave::keychain {
namespace {

using testing::SampleItem;
using KeychainLookup = testing::TempHome;

// Another program's connection: plain SQLite, no enclave code.
void OtherConnection(const std::filesystem::path& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* message = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
  const std::string text = message ? message : "";
  sqlite3_free(message);
  sqlite3_close(db);
  ASSERT_EQ(rc, SQLITE_OK) << text;
}

ItemQuery ByApplicationLabel(int n) {
  ItemQuery q;
  q.application_label = ToBytes("app-label-" + std::to_string(n));
  return q;
}

std::string AccessibleOf(const Keychain& kc, int n) {
  auto found = kc.Find(ByApplicationLabel(n));
  if (!found.ok()) return "error " + std::to_string(found.error().code);
  return found->front().accessible;
}

TEST_F(KeychainLookup, EveryCommitOfAnotherConnectionIsSeenByTheNextLookup) {
  auto kc = OpenOrDie();
  ASSERT_TRUE(kc);
  ASSERT_TRUE(kc->Add(SampleItem(1)).ok());
  ASSERT_EQ(AccessibleOf(*kc, 1), "aku");
  ASSERT_EQ(AccessibleOf(*kc, 1), "aku");  // remembered
  // Commits in quick succession, of the same size, as a WAL restart would reuse: each is seen.
  for (int i = 0; i < 50; ++i) {
    const std::string value = i % 2 == 0 ? "dku" : "aku";
    OtherConnection(db_path(), "UPDATE key_items SET accessible = '" + value + "'");
    ASSERT_EQ(AccessibleOf(*kc, 1), value) << "after commit " << i;
  }
  OtherConnection(db_path(), "PRAGMA wal_checkpoint(TRUNCATE)");
  OtherConnection(db_path(), "UPDATE key_items SET accessible = 'ck'");
  EXPECT_EQ(AccessibleOf(*kc, 1), "ck") << "after a checkpoint restarted the WAL";
  OtherConnection(db_path(), "DELETE FROM key_items");
  EXPECT_EQ(AccessibleOf(*kc, 1), "error -25300");
}

TEST_F(KeychainLookup, ARememberedMissIsForgottenWhenTheItemArrives) {
  auto kc = OpenOrDie();
  ASSERT_TRUE(kc);
  ASSERT_TRUE(kc->Add(SampleItem(1)).ok());
  EXPECT_EQ(AccessibleOf(*kc, 2), "error -25300");
  EXPECT_EQ(AccessibleOf(*kc, 2), "error -25300");
  auto other = Keychain::Open(db_path());
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE((*other)->Add(SampleItem(2)).ok());
  EXPECT_EQ(AccessibleOf(*kc, 2), "aku");
}

TEST_F(KeychainLookup, OwnWritesAreSeenOnDiskAndInMemory) {
  auto on_disk = OpenOrDie();
  ASSERT_TRUE(on_disk);
  auto in_memory = Keychain::OpenInMemory();
  ASSERT_TRUE(in_memory.ok());
  for (Keychain* kc : {on_disk.get(), in_memory->get()}) {
    ASSERT_TRUE(kc->Add(SampleItem(1)).ok());
    auto first = kc->Find(ByApplicationLabel(1));
    ASSERT_TRUE(first.ok());
    EXPECT_EQ(first->front().label, "label 1");
    ItemUpdate update;
    update.label = "renamed";
    ASSERT_TRUE(kc->Update(ByApplicationLabel(1), update).ok());
    auto renamed = kc->Find(ByApplicationLabel(1));
    ASSERT_TRUE(renamed.ok());
    EXPECT_EQ(renamed->front().label, "renamed");
    auto replaced = kc->Replace(renamed->front().persistent_id, SampleItem(1));
    ASSERT_TRUE(replaced.ok());
    auto after_replace = kc->Find(ByApplicationLabel(1));
    ASSERT_TRUE(after_replace.ok());
    EXPECT_EQ(after_replace->front().persistent_id, replaced->persistent_id);
    ASSERT_TRUE(kc->Delete(ByApplicationLabel(1)).ok());
    EXPECT_FALSE(kc->Find(ByApplicationLabel(1)).ok());
  }
}

TEST_F(KeychainLookup, ListsAreAlwaysRead) {
  auto kc = OpenOrDie();
  ASSERT_TRUE(kc);
  ASSERT_TRUE(kc->Add(SampleItem(1)).ok());
  ItemQuery all;
  all.match_all = true;
  ASSERT_EQ(kc->Find(all)->size(), 1u);
  auto other = Keychain::Open(db_path());
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE((*other)->Add(SampleItem(2)).ok());
  EXPECT_EQ(kc->Find(all)->size(), 2u);
}

}  // namespace
}  // namespace enclave::keychain
