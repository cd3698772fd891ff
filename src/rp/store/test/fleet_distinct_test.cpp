// The distinct-device counts kept at ingest (fleet_distinct.h) against the counts a query over every
// device row gives: random devices, hours, versions and issues, batches out of time order, reports
// that change a device-hour's versions, server refusals, logins and re-binds; then random windows.
// The same inputs go to a SQLite and (when one can be started) a PostgreSQL store; the oracle is
// SQL over the SQLite file's per-device tables. Migration 4's backfill must give the same counts, and
// migration 5 must keep them in a store that version 4 left populated.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <random>

#include "rp/store/schema.h"
#include "rp/store/sqlite_connection.h"
#include "rp/store/store.h"
#include "throwaway_postgres.h"

namespace enclave::rp {
namespace {

constexpr int64_t kHour0 = 1767225600 / 3600;  // 2026-01-01T00Z

testing::ThrowawayPostgres* Postgres() {
  static std::unique_ptr<testing::ThrowawayPostgres> pg = testing::ThrowawayPostgres::Start();
  return pg.get();
}

int64_t Scalar(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sql;
  int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
  sqlite3_finalize(st);
  return v;
}

std::map<std::string, int64_t> Pairs(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sql;
  std::map<std::string, int64_t> out;
  while (sqlite3_step(st) == SQLITE_ROW) {
    out[reinterpret_cast<const char*>(sqlite3_column_text(st, 0))] = sqlite3_column_int64(st, 1);
  }
  sqlite3_finalize(st);
  return out;
}

struct Inputs {
  std::vector<FleetIngest> batches;
  std::vector<FleetServerActivity> server;
};

Inputs RandomInputs(uint32_t seed) {
  std::mt19937 rng(seed);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint32_t>(n)); };
  const char* os[] = {"22.04", "24.04", "24.10"};
  const char* app[] = {"2.3.0", "2.4.0", ""};
  const char* causes[] = {"biometry-changed", "token-key-missing"};
  Inputs in;
  int id = 0;
  for (int b = 0; b < 60; ++b) {
    FleetIngest batch;
    batch.device = "dev" + std::to_string(pick(12));
    batch.received = (kHour0 + 300) * 3600;
    const int n = 1 + pick(8);
    for (int i = 0; i < n; ++i) {
      fleet::Report r;
      r.id = "r" + std::to_string(seed) + "-" + std::to_string(id++);
      r.time = (kHour0 + pick(200)) * 3600 + pick(3600);
      r.kind = pick(3) == 0 ? "failure" : "heartbeat";
      r.enclave_version = pick(2) ? "1.2.0" : "1.3.0";
      r.os_id = "ubuntu";
      r.os_version = os[pick(3)];
      r.kernel = "6.8.0";
      if (const char* a = app[pick(3)]; *a) r.app_version = a;
      if (r.kind == "failure") {
        r.cause = causes[pick(2)];
        r.token = pick(2) ? "soft" : "tpm2";
        if (pick(2)) r.found_by = "doctor";
        r.credential_id = "cred-" + batch.device;
      } else if (pick(6) == 0) {
        r.kind = "reenroll";
        r.replaced_credential_id = "cred-" + batch.device + "-" + std::to_string(pick(3));
      }
      batch.reports.push_back(r);
    }
    // A resend now and then: the duplicates must change nothing.
    if (b > 0 && pick(8) == 0) in.batches.push_back(in.batches[static_cast<size_t>(pick(b))]);
    in.batches.push_back(std::move(batch));
    if (pick(4) == 0) {
      FleetServerActivity a;
      for (int k = 0; k < 3; ++k) {
        a.logins.push_back({(kHour0 + pick(200)) * 3600, "dev" + std::to_string(pick(14))});
      }
      const int64_t t = (kHour0 + pick(200)) * 3600;
      a.refusals.push_back({t, "challenge-expired", pick(2) ? "" : "dev" + std::to_string(pick(12)), ""});
      a.rebinds.push_back({t + 60, "dev" + std::to_string(pick(12)), "cred-x"});
      in.server.push_back(std::move(a));
    }
  }
  return in;
}

void Feed(FleetStore& f, const Inputs& in) {
  size_t s = 0;
  for (size_t i = 0; i < in.batches.size(); ++i) {
    ASSERT_TRUE(f.Ingest(in.batches[i]).ok());
    if (i % 5 == 4 && s < in.server.size()) {
      ASSERT_TRUE(f.RecordServerActivity(in.server[s++]).ok());
    }
  }
  for (; s < in.server.size(); ++s) {
    ASSERT_TRUE(f.RecordServerActivity(in.server[s]).ok());
  }
}

// Every read of the store against SQL over the per-device rows, over random windows.
void ExpectCountsMatch(FleetStore& f, sqlite3* db, uint32_t seed, const std::string& what) {
  std::mt19937 rng(seed);
  for (int w = 0; w < 25; ++w) {
    const int64_t a = kHour0 + rng() % 200, b = a + rng() % 80;
    const std::string in = " hour >= " + std::to_string(a) + " AND hour <= " + std::to_string(b);
    SCOPED_TRACE(what + " window " + std::to_string(a - kHour0) + ".." + std::to_string(b - kHour0));
    EXPECT_EQ(*f.ActiveDevices(a, b),
              Scalar(db, "SELECT COUNT(DISTINCT device) FROM fleet_activity WHERE" + in));
    EXPECT_EQ(*f.AffectedDevices(a, b),
              Scalar(db,
                     "SELECT COUNT(DISTINCT device) FROM fleet_affected WHERE source = 'device' AND "
                     "device <> '' AND" +
                         in));
    for (const char* dim : {"os_version", "app_version", "enclave_version"}) {
      EXPECT_EQ(*f.ActiveBy(dim, a, b),
                Pairs(db, std::string("SELECT ") + dim +
                              ", COUNT(DISTINCT device) FROM fleet_activity WHERE" + in + " GROUP BY 1"))
          << dim;
    }
    for (const char* dim : {"os_version", "token"}) {
      EXPECT_EQ(
          *f.AffectedBy(dim, a, b),
          Pairs(db, std::string("SELECT ") + dim + ", COUNT(DISTINCT device) FROM fleet_affected WHERE " +
                        "source = 'device' AND device <> '' AND" + in + " GROUP BY 1"))
          << dim;
    }
    std::map<std::string, int64_t> series;
    auto active_series = f.ActiveSeries(a, b);
    ASSERT_TRUE(active_series.ok());
    for (const auto& [h, n] : *active_series) series[std::to_string(h)] = n;
    EXPECT_EQ(series,
              Pairs(db, "SELECT CAST(hour AS TEXT), COUNT(DISTINCT device) FROM fleet_activity WHERE" + in +
                            " GROUP BY hour"));
    std::map<std::string, int64_t> causes, doctor, events, points;
    auto totals = f.Causes(a, b);
    ASSERT_TRUE(totals.ok());
    for (const CauseTotals& c : *totals) {
      causes[c.cause + "/" + c.source] = c.affected_devices;
      doctor[c.cause + "/" + c.source] = c.found_by_doctor;
      events[c.cause + "/" + c.source] = c.events;
      EXPECT_EQ(*f.IssueAffected(c.cause, c.source, a, b), c.affected_devices);
    }
    const std::string by = " FROM fleet_affected WHERE" + in + " GROUP BY cause, source";
    EXPECT_EQ(causes, Pairs(db,
                            "SELECT cause || '/' || source, COUNT(DISTINCT CASE WHEN device <> '' THEN "
                            "device END)" +
                                by));
    EXPECT_EQ(doctor, Pairs(db,
                            "SELECT cause || '/' || source, COUNT(DISTINCT CASE WHEN device <> '' AND "
                            "doctor_events > 0 THEN device END)" +
                                by));
    EXPECT_EQ(events, Pairs(db, "SELECT cause || '/' || source, SUM(events)" + by));
    auto affected_series = f.AffectedSeries(a, b, std::nullopt, std::nullopt);
    ASSERT_TRUE(affected_series.ok());
    for (const SeriesPoint& p : *affected_series) {
      points[std::to_string(p.hour) + "/" + p.cause + "/" + p.source] = p.devices;
    }
    EXPECT_EQ(points, Pairs(db,
                            "SELECT hour || '/' || cause || '/' || source, COUNT(DISTINCT CASE WHEN device "
                            "<> '' THEN device END) FROM fleet_affected WHERE" +
                                in + " GROUP BY hour, cause, source"));
  }
}

TEST(FleetDistinct, CountsKeptAtIngestEqualCountsOverEveryDevice) {
  const auto dir = std::filesystem::temp_directory_path() / ("rp-distinct-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const std::string file = (dir / "rp.sqlite").string();
  for (uint32_t seed : {1u, 2u, 3u}) {
    std::filesystem::remove(file);
    const Inputs in = RandomInputs(seed);
    auto lite = OpenStore("sqlite:" + file);
    ASSERT_TRUE(lite.ok()) << lite.error().description;
    Feed((*lite)->Fleet(), in);
    std::unique_ptr<Store> pg;
    if (Postgres()) {
      auto p = OpenStore(Postgres()->NewDatabase());
      ASSERT_TRUE(p.ok()) << p.error().description;
      pg = std::move(*p);
      Feed(pg->Fleet(), in);
    }
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
    ExpectCountsMatch((*lite)->Fleet(), db, seed, "sqlite");
    if (pg) ExpectCountsMatch(pg->Fleet(), db, seed, "postgres");
    // Issue devices, re-binds and versions against their per-device rows.
    for (const char* cause : {"biometry-changed", "token-key-missing"}) {
      auto r = (*lite)->Fleet().IssueRebindTimes(cause, "device");
      ASSERT_TRUE(r.ok());
      const std::string where = std::string(" WHERE cause = '") + cause + "' AND source = 'device'";
      EXPECT_EQ(r->devices, Scalar(db, "SELECT COUNT(*) FROM fleet_issue_devices" + where));
      EXPECT_EQ(
          static_cast<int64_t>(r->seconds.size()),
          Scalar(db, "SELECT COUNT(*) FROM fleet_issue_devices d" + where +
                         " AND EXISTS (SELECT 1 FROM fleet_rebinds r WHERE r.device = d.device AND r.time >= "
                         "d.first_time)"));
      EXPECT_TRUE(std::is_sorted(r->seconds.begin(), r->seconds.end()));
      if (pg) {
        auto q = pg->Fleet().IssueRebindTimes(cause, "device");
        ASSERT_TRUE(q.ok());
        EXPECT_EQ(q->devices, r->devices);
        EXPECT_EQ(q->seconds, r->seconds);
        EXPECT_EQ(*pg->Fleet().IssueVersions(cause, "device", "os_version"),
                  *(*lite)->Fleet().IssueVersions(cause, "device", "os_version"));
      }
    }
    // The backfill of migration 4 from the per-device tables gives the same rows.
    const int64_t kept = Scalar(db, "SELECT COUNT(*) FROM fleet_distinct WHERE n <> 0");
    ASSERT_EQ(sqlite3_exec(db, "DELETE FROM fleet_distinct", nullptr, nullptr, nullptr), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, sql::DistinctBackfill().c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
    EXPECT_EQ(Scalar(db, "SELECT COUNT(*) FROM fleet_distinct WHERE n <> 0"), kept);
    ExpectCountsMatch((*lite)->Fleet(), db, seed + 100, "sqlite after backfill");
    sqlite3_close(db);
  }
  std::filesystem::remove_all(dir);
}

// A store as a version-4 release left it (migrations 1 to 4, then ingest's rows, among them
// fleet_distinct rows whose count went back to zero), opened by this build: migration 5 rebuilds
// fleet_distinct under its new key, keeps every counted row, and the counts still equal the
// oracle's, before and after more ingest.
TEST(FleetDistinct, MigrationFiveKeepsTheCountsOfAPopulatedVersionFourStore) {
  const auto dir = std::filesystem::temp_directory_path() / ("rp-distinct-v4-" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string current = (dir / "current.sqlite").string(), old = (dir / "v4.sqlite").string();
  const uint32_t seed = 7;
  {
    // The rows: ingest into a store of this build (its tables other than fleet_distinct are
    // version 4's; fleet_distinct has the same columns under another key).
    auto store = OpenStore("sqlite:" + current);
    ASSERT_TRUE(store.ok()) << store.error().description;
    Feed((*store)->Fleet(), RandomInputs(seed));
  }
  {
    auto c = sql::OpenSqlite(old);
    ASSERT_TRUE(c.ok()) << c.error().description;
    ASSERT_TRUE(sql::Migrate(**c, 4).ok());
    auto tables = (*c)->Exec(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN "
        "('schema_version', 'sqlite_sequence') ORDER BY name");
    ASSERT_TRUE(tables.ok());
    ASSERT_TRUE((*c)->Script("ATTACH DATABASE '" + current + "' AS cur").ok());
    for (const sql::Row& row : tables->rows) {
      const std::string t = sql::Text(row, 0);
      ASSERT_TRUE((*c)->Script("INSERT INTO main." + t + " SELECT * FROM cur." + t).ok()) << t;
    }
    ASSERT_TRUE((*c)->Script("DETACH DATABASE cur").ok());
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(old.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(Scalar(db, "SELECT MAX(version) FROM schema_version"), 4);
  const int64_t counted = Scalar(db, "SELECT COUNT(*) FROM fleet_distinct WHERE n <> 0");
  ASSERT_GT(counted, 100);
  // Reports that change a device-hour's versions move its count from one key to another.
  ASSERT_GT(Scalar(db, "SELECT COUNT(*) FROM fleet_distinct WHERE n = 0"), 0);

  auto store = OpenStore("sqlite:" + old);  // as enclave-rpd starts: migrates to 5
  ASSERT_TRUE(store.ok()) << store.error().description;
  EXPECT_EQ(Scalar(db, "SELECT MAX(version) FROM schema_version"), sql::kSchemaVersion);
  EXPECT_EQ(Scalar(db, "SELECT COUNT(*) FROM fleet_distinct WHERE n <> 0"), counted);
  EXPECT_EQ(Scalar(db, "SELECT COUNT(*) FROM fleet_distinct WHERE n = 0"), 0);
  EXPECT_EQ(Scalar(db,
                   "SELECT COUNT(*) FROM sqlite_master WHERE name = 'fleet_distinct' AND "
                   "sql LIKE '%PRIMARY KEY (stream, k1, hour, k2, prev)%'"),
            1);
  ExpectCountsMatch((*store)->Fleet(), db, seed, "migrated to 5");
  Feed((*store)->Fleet(), RandomInputs(seed + 1));
  ExpectCountsMatch((*store)->Fleet(), db, seed + 1, "migrated to 5, then more ingest");
  sqlite3_close(db);
  (*store).reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace enclave::rp
