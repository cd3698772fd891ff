// The database file itself: persistence, permissions, WAL, migrations, damage, indexes, the
// event journal, and lookups among many items.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <fstream>
#include <random>
#include <string>

#include "keychain/keychain.h"
#include "keychain/schema.h"
#include "keychain/test/keychain_test_util.h"

namespace enclave::keychain {
namespace {

using testing::SampleItem;
using KeychainStorage = testing::TempHome;

// Runs SQL on the file directly, as another program (or a past or future enclave) would.
void RawExec(const std::filesystem::path& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* message = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
  std::string text = message ? message : "";
  sqlite3_free(message);
  sqlite3_close(db);
  ASSERT_EQ(rc, SQLITE_OK) << text;
}

std::string RawQuery(const std::filesystem::path& path, const std::string& sql) {
  sqlite3* db = nullptr;
  std::string value;
  if (sqlite3_open(path.c_str(), &db) == SQLITE_OK) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW) {
      value = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    }
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db);
  return value;
}

mode_t ModeOf(const std::filesystem::path& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 0777;
}

TEST_F(KeychainStorage, ItemsAndEventsSurviveReopen) {
  int64_t id = 0;
  {
    auto kc = OpenOrDie();
    ASSERT_TRUE(kc);
    auto added = kc->Add(SampleItem(7));
    ASSERT_TRUE(added.ok());
    id = added->persistent_id;
    Event e;
    e.kind = "biometry-reset";
    e.cause = "biometry-database-reset";
    e.kids = {"kid-7"};
    ASSERT_TRUE(kc->AppendEvent(e).ok());
  }
  auto kc = OpenOrDie();
  ASSERT_TRUE(kc);
  EXPECT_EQ(kc->SchemaVersion(), schema::CurrentVersion());
  ItemQuery q;
  q.application_label = SampleItem(7).application_label;
  auto found = kc->Find(q);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->front().persistent_id, id);
  EXPECT_EQ(found->front().sealed_blob, SampleItem(7).sealed_blob);
  auto events = kc->Events();
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ(events->front().kids, std::vector<std::string>{"kid-7"});
  EXPECT_TRUE(kc->CheckIntegrity().ok());
}

TEST_F(KeychainStorage, FileIsOwnerOnlyAndInWalMode) {
  // A file left readable by others (e.g. created under a lax umask) is tightened too.
  { std::ofstream(db_path()).flush(); }
  ::chmod(db_path().c_str(), 0644);
  auto kc = OpenOrDie();
  ASSERT_TRUE(kc);
  ASSERT_TRUE(kc->Add(SampleItem(1)).ok());
  EXPECT_EQ(ModeOf(db_path()), 0600u);
  std::filesystem::path wal = db_path().string() + "-wal";
  ASSERT_TRUE(std::filesystem::exists(wal));
  EXPECT_EQ(ModeOf(wal), 0600u);
  EXPECT_EQ(RawQuery(db_path(), "PRAGMA journal_mode"), "wal");
}

TEST_F(KeychainStorage, EmptyFileMigratesToCurrent) {
  { std::ofstream(db_path()).flush(); }  // a v0 file: zero bytes
  auto kc = OpenOrDie();
  ASSERT_TRUE(kc);
  EXPECT_EQ(kc->SchemaVersion(), schema::CurrentVersion());
  EXPECT_GE(schema::CurrentVersion(), 1);
  EXPECT_TRUE(kc->Add(SampleItem(1)).ok());
  EXPECT_EQ(RawQuery(db_path(), "PRAGMA user_version"), std::to_string(schema::CurrentVersion()));
}

TEST_F(KeychainStorage, VersionZeroDatabaseMigratesToCurrent) {
  RawExec(db_path(), "CREATE TABLE unrelated (x); PRAGMA user_version = 0;");
  auto kc = OpenOrDie();
  ASSERT_TRUE(kc);
  EXPECT_EQ(kc->SchemaVersion(), schema::CurrentVersion());
  EXPECT_TRUE(kc->Add(SampleItem(1)).ok());
  EXPECT_TRUE(kc->CheckIntegrity().ok());
}

TEST_F(KeychainStorage, FileFromTheFutureIsRefusedAndLeftAlone) {
  RawExec(db_path(), "PRAGMA user_version = 99; CREATE TABLE from_the_future (x);");
  auto kc = Keychain::Open(db_path());
  ASSERT_FALSE(kc.ok());
  EXPECT_EQ(kc.error().domain, "OSStatus");
  EXPECT_EQ(kc.error().code, schema::kErrSecUpgradePending);
  EXPECT_EQ(kc.error().cause, "database-schema-newer");
  EXPECT_NE(kc.error().description.find("99"), std::string::npos) << kc.error().description;
  EXPECT_EQ(RawQuery(db_path(), "PRAGMA user_version"), "99");
  EXPECT_EQ(RawQuery(db_path(), "SELECT count(*) FROM sqlite_schema WHERE name = 'key_items'"), "0");
}

TEST_F(KeychainStorage, NotADatabaseIsRefusedAsCorrupt) {
  {
    std::ofstream out(db_path(), std::ios::binary);
    std::mt19937 rng(42);
    for (int i = 0; i < 16384; ++i) out.put(static_cast<char>(rng()));
  }
  auto kc = Keychain::Open(db_path());
  ASSERT_FALSE(kc.ok());
  EXPECT_EQ(kc.error().code, errsec::kDecode) << kc.error().ToString();
  EXPECT_EQ(kc.error().cause, "database-corrupt");
  EXPECT_TRUE(kc.error().permanently_invalid());
}

TEST_F(KeychainStorage, DamagedPagesAreReportedNotCrashedOn) {
  {
    auto kc = OpenOrDie();
    ASSERT_TRUE(kc);
    std::vector<KeyItem> items;
    for (int i = 0; i < 2000; ++i) items.push_back(SampleItem(i));
    ASSERT_TRUE(kc->AddAll(items).ok());
  }  // closing checkpoints the WAL into the main file
  auto size = std::filesystem::file_size(db_path());
  ASSERT_GT(size, 40u * 4096u);
  {
    // Garbage over pages 3..34, leaving the header page so the file still opens.
    std::fstream file(db_path(), std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(2 * 4096);
    std::mt19937 rng(7);
    for (int i = 0; i < 32 * 4096; ++i) file.put(static_cast<char>(rng()));
  }
  // Page 1 (header and schema) is intact, so the file opens and the damage shows on inspection.
  auto kc = Keychain::Open(db_path());
  ASSERT_TRUE(kc.ok()) << kc.error().ToString();
  Status integrity = (*kc)->CheckIntegrity();
  ASSERT_FALSE(integrity.ok());
  EXPECT_EQ(integrity.error().code, errsec::kDecode);
  EXPECT_EQ(integrity.error().cause, "database-corrupt");
  EXPECT_NE(integrity.error().description.find("database integrity check failed"), std::string::npos);

  // Ordinary calls on the damaged file either work or say what is wrong; none crashes.
  ItemQuery all;
  all.match_all = true;
  auto found = (*kc)->Find(all);
  if (!found.ok()) {
    EXPECT_EQ(found.error().code, errsec::kDecode) << found.error().ToString();
  }
  for (int i = 0; i < 2000; i += 97) {
    ItemQuery q;
    q.label = SampleItem(i).label;
    auto one = (*kc)->Find(q);
    if (!one.ok()) {
      EXPECT_TRUE(one.error().code == errsec::kDecode || one.error().code == errsec::kItemNotFound)
          << one.error().ToString();
    }
  }
  auto added = (*kc)->Add(SampleItem(5000));
  if (!added.ok()) {
    EXPECT_EQ(added.error().code, errsec::kDecode) << added.error().ToString();
  }
}

TEST_F(KeychainStorage, LookupsByAttributeUseTheirIndexes) {
  auto kc = OpenOrDie();
  ASSERT_TRUE(kc);
  ASSERT_TRUE(kc->Add(SampleItem(1)).ok());
  auto plan_for = [&](auto set) {
    ItemQuery q;
    set(q);
    auto plan = kc->ExplainFindForTesting(q);
    EXPECT_TRUE(plan.ok());
    return plan.ok() ? *plan : std::string();
  };
  auto by_app_label = [](ItemQuery& q) { q.application_label = ToBytes("app-label-1"); };
  std::string plan = plan_for(by_app_label);
  EXPECT_NE(plan.find("USING INDEX key_items_by_application_label"), std::string::npos) << plan;
  EXPECT_EQ(plan.find("SCAN"), std::string::npos) << plan;
  EXPECT_EQ(plan.find("TEMP B-TREE"), std::string::npos) << plan;

  std::string by_label = plan_for([](ItemQuery& q) { q.label = "label 1"; });
  EXPECT_NE(by_label.find("USING INDEX key_items_by_label"), std::string::npos) << by_label;
  std::string by_kid = plan_for([](ItemQuery& q) { q.kid = "kid-1"; });
  EXPECT_NE(by_kid.find("USING INDEX key_items_by_kid"), std::string::npos) << by_kid;

  // The check above can fail: without the index the same lookup scans the table.
  ASSERT_TRUE(kc->ExecForTesting("DROP INDEX key_items_by_application_label").ok());
  std::string without = plan_for(by_app_label);
  EXPECT_EQ(without.find("key_items_by_application_label"), std::string::npos) << without;
  EXPECT_NE(without.find("SCAN"), std::string::npos) << without;
}

TEST_F(KeychainStorage, TenThousandKeysAreEachFoundByLabel) {
  constexpr int kKeys = 10000;
  auto kc = OpenOrDie();
  ASSERT_TRUE(kc);
  std::vector<KeyItem> items;
  for (int i = 0; i < kKeys; ++i) items.push_back(SampleItem(i));
  ASSERT_TRUE(kc->AddAll(items).ok());
  // A few more through Add(), which must still see the bulk items as duplicates.
  EXPECT_EQ(kc->Add(SampleItem(1234)).error().code, errsec::kDuplicateItem);
  for (int i = kKeys; i < kKeys + 20; ++i) ASSERT_TRUE(kc->Add(SampleItem(i)).ok());
  EXPECT_EQ(*kc->Count(), kKeys + 20);

  for (int i = 0; i < kKeys + 20; ++i) {
    ItemQuery q;
    q.label = SampleItem(i).label;
    auto found = kc->Find(q);
    ASSERT_TRUE(found.ok()) << i << ": " << found.error().ToString();
    ASSERT_EQ(found->size(), 1u);
    ASSERT_EQ(found->front().kid, SampleItem(i).kid);
  }
}

TEST_F(KeychainStorage, EventJournalRoundTripsInTimeOrder) {
  auto kc = OpenOrDie();
  ASSERT_TRUE(kc);
  auto event = [](int64_t t, std::string kind, std::vector<std::string> kids) {
    Event e;
    e.time_ms = t;
    e.kind = std::move(kind);
    e.cause = "cause-of-" + e.kind;
    e.kids = std::move(kids);
    e.details = {{"note", e.kind}};
    return e;
  };
  ASSERT_TRUE(kc->AppendEvent(event(3000, "passcode-removed", {"a", "b"})).ok());
  ASSERT_TRUE(kc->AppendEvent(event(1000, "biometry-reset", {"c"})).ok());
  ASSERT_TRUE(kc->AppendEvent(event(3000, "keybag-repaired", {})).ok());
  ASSERT_TRUE(kc->AppendEvent(event(0, "enrollment-changed", {"d\"quoted"})).ok());

  auto events = kc->Events();
  ASSERT_TRUE(events.ok()) << events.error().ToString();
  ASSERT_EQ(events->size(), 4u);
  EXPECT_EQ((*events)[0].kind, "biometry-reset");
  EXPECT_EQ((*events)[1].kind, "passcode-removed");  // same time: in the order appended
  EXPECT_EQ((*events)[2].kind, "keybag-repaired");
  EXPECT_EQ((*events)[3].kind, "enrollment-changed");  // time 0 means now
  EXPECT_GT((*events)[3].time_ms, 3000);
  EXPECT_EQ((*events)[1].kids, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE((*events)[2].kids.empty());
  EXPECT_EQ((*events)[3].kids, std::vector<std::string>{"d\"quoted"});
  EXPECT_EQ((*events)[1].cause, "cause-of-passcode-removed");
  EXPECT_EQ((*events)[0].details["note"], "biometry-reset");
  // Stored as JSON text, readable by any tool.
  EXPECT_EQ(RawQuery(db_path(), "SELECT kids FROM events WHERE kind = 'passcode-removed'"), R"(["a","b"])");
}

}  // namespace
}  // namespace enclave::keychain
