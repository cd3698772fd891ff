#include "rp/store/schema.h"

#include <algorithm>
#include <string>
#include <vector>

#include "rp/store/fleet_distinct.h"

namespace enclave::rp::sql {
namespace {

// Placeholders: {BLOB} (BLOB / BYTEA), {SERIAL} (the events' id column), {PARTITION_BY_TIME}
// (PostgreSQL's declarative partitioning; nothing on SQLite).
constexpr const char* kMigrations[] = {
    // 1: users, challenges (and the tombstones that tell a reused challenge from an unknown one),
    // credentials, events.
    R"(
CREATE TABLE users (
  name TEXT PRIMARY KEY,
  handle {BLOB} NOT NULL UNIQUE,
  created_ms BIGINT NOT NULL);
CREATE TABLE challenges (
  challenge {BLOB} PRIMARY KEY,
  kind TEXT NOT NULL,
  user_name TEXT NOT NULL,
  user_handle {BLOB} NOT NULL,
  uv_required BIGINT NOT NULL,
  issued_ms BIGINT NOT NULL,
  expires_ms BIGINT NOT NULL);
CREATE INDEX challenges_expiry ON challenges (expires_ms);
CREATE TABLE spent_challenges (
  challenge {BLOB} PRIMARY KEY,
  spent_ms BIGINT NOT NULL);
CREATE INDEX spent_challenges_time ON spent_challenges (spent_ms);
CREATE TABLE credentials (
  id {BLOB} PRIMARY KEY,
  user_name TEXT NOT NULL REFERENCES users (name),
  public_key {BLOB} NOT NULL,
  sign_count BIGINT NOT NULL,
  backup_eligible BIGINT NOT NULL,
  backup_state BIGINT NOT NULL,
  state TEXT NOT NULL,
  cause TEXT NOT NULL,
  device_key {BLOB} NOT NULL,
  aaguid {BLOB} NOT NULL,
  attestation TEXT NOT NULL,
  transports TEXT NOT NULL,
  replaces {BLOB} NOT NULL,
  replaced_by {BLOB} NOT NULL,
  created_ms BIGINT NOT NULL,
  updated_ms BIGINT NOT NULL,
  last_used_ms BIGINT NOT NULL);
CREATE INDEX credentials_user ON credentials (user_name);
CREATE TABLE events (
  id {SERIAL},
  time_ms BIGINT NOT NULL,
  user_name TEXT NOT NULL,
  credential_id {BLOB} NOT NULL,
  kind TEXT NOT NULL,
  detail TEXT NOT NULL);
CREATE INDEX events_user ON events (user_name);
)",
    // 2: the fleet view (docs/fleet.md): raw device reports (PostgreSQL: partitioned by day, the
    // partitions created as reports arrive), the hourly per-device aggregates that stay after
    // the reports are dropped, issues, re-binds and counters; credentials looked up by device key.
    R"(
CREATE INDEX credentials_device_key ON credentials (device_key);
CREATE TABLE fleet_reports (
  id TEXT NOT NULL,
  time BIGINT NOT NULL,
  received BIGINT NOT NULL,
  device TEXT NOT NULL,
  kind TEXT NOT NULL,
  credential_id TEXT,
  kid_hash TEXT,
  operation TEXT,
  domain TEXT,
  code BIGINT,
  cause TEXT,
  permanence TEXT,
  remedy TEXT,
  found_by TEXT,
  token TEXT,
  prompted BIGINT,
  enclave_version TEXT NOT NULL,
  os_id TEXT NOT NULL,
  os_version TEXT NOT NULL,
  kernel TEXT NOT NULL,
  app_id TEXT,
  app_version TEXT,
  replaced_credential_id TEXT,
  keys TEXT,
  PRIMARY KEY (time, id)){PARTITION_BY_TIME};
CREATE INDEX fleet_reports_device ON fleet_reports (device);
CREATE TABLE fleet_activity (
  hour BIGINT NOT NULL,
  device TEXT NOT NULL,
  os_version TEXT NOT NULL,
  app_version TEXT NOT NULL,
  enclave_version TEXT NOT NULL,
  PRIMARY KEY (hour, device));
CREATE TABLE fleet_affected (
  hour BIGINT NOT NULL,
  cause TEXT NOT NULL,
  source TEXT NOT NULL,
  device TEXT NOT NULL,
  os_version TEXT NOT NULL,
  app_version TEXT NOT NULL,
  enclave_version TEXT NOT NULL,
  token TEXT NOT NULL,
  events BIGINT NOT NULL,
  doctor_events BIGINT NOT NULL,
  PRIMARY KEY (hour, cause, source, device));
CREATE INDEX fleet_affected_issue ON fleet_affected (cause, source, device, hour);
CREATE TABLE fleet_issue_devices (
  cause TEXT NOT NULL,
  source TEXT NOT NULL,
  device TEXT NOT NULL,
  first_time BIGINT NOT NULL,
  last_time BIGINT NOT NULL,
  PRIMARY KEY (cause, source, device));
CREATE TABLE fleet_issue_credentials (
  cause TEXT NOT NULL,
  source TEXT NOT NULL,
  credential_id TEXT NOT NULL,
  device TEXT NOT NULL,
  first_time BIGINT NOT NULL,
  PRIMARY KEY (cause, source, credential_id));
CREATE TABLE fleet_rebinds (
  device TEXT NOT NULL,
  replaced_credential_id TEXT NOT NULL,
  time BIGINT NOT NULL,
  PRIMARY KEY (device, replaced_credential_id));
CREATE TABLE fleet_issues (
  cause TEXT NOT NULL,
  source TEXT NOT NULL,
  state TEXT NOT NULL,
  first_seen BIGINT NOT NULL,
  last_seen BIGINT NOT NULL,
  state_since BIGINT NOT NULL,
  resolved_os_max TEXT NOT NULL,
  resolved_app_max TEXT NOT NULL,
  PRIMARY KEY (cause, source));
CREATE TABLE fleet_counts (
  hour BIGINT NOT NULL,
  name TEXT NOT NULL,
  count BIGINT NOT NULL,
  PRIMARY KEY (hour, name));
)",
    // 3: the fleet dashboard's sessions (rp/store/session_store.h): the SHA-256 of each session id
    // with its expiry, so that every node accepts a session and a logout ends it at all of them.
    R"(
CREATE TABLE dashboard_sessions (
  id_hash TEXT PRIMARY KEY,
  created_ms BIGINT NOT NULL,
  expires_ms BIGINT NOT NULL);
CREATE INDEX dashboard_sessions_expiry ON dashboard_sessions (expires_ms);
)",
    // 4: counts that a summary reads without a pass over devices (rp/store/fleet_distinct.h):
    // distinct devices per stream, hour and gap; events per issue and hour; the versions an issue
    // was seen on; each issue device's first re-bind. Filled here from the tables of version 2,
    // kept by every ingest after.
    R"(
CREATE INDEX fleet_activity_device ON fleet_activity (device);
CREATE INDEX fleet_affected_device ON fleet_affected (device);
ALTER TABLE fleet_issue_devices ADD COLUMN rebound_at BIGINT;
UPDATE fleet_issue_devices SET rebound_at = (SELECT MIN(r.time) FROM fleet_rebinds r
  WHERE r.device = fleet_issue_devices.device AND r.time >= fleet_issue_devices.first_time);
CREATE INDEX fleet_issue_devices_rebound ON fleet_issue_devices (cause, source, rebound_at);
CREATE INDEX fleet_issue_devices_device ON fleet_issue_devices (device);
CREATE TABLE fleet_distinct (
  stream TEXT NOT NULL,
  k1 TEXT NOT NULL,
  k2 TEXT NOT NULL,
  hour BIGINT NOT NULL,
  prev BIGINT NOT NULL,
  n BIGINT NOT NULL,
  PRIMARY KEY (stream, k1, k2, hour, prev));
CREATE TABLE fleet_issue_hours (
  hour BIGINT NOT NULL,
  cause TEXT NOT NULL,
  source TEXT NOT NULL,
  events BIGINT NOT NULL,
  PRIMARY KEY (hour, cause, source));
CREATE TABLE fleet_issue_versions (
  cause TEXT NOT NULL,
  source TEXT NOT NULL,
  dimension TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (cause, source, dimension, value));
INSERT INTO fleet_issue_hours (hour, cause, source, events)
  SELECT hour, cause, source, SUM(events) FROM fleet_affected GROUP BY hour, cause, source;
INSERT INTO fleet_issue_versions (cause, source, dimension, value)
  SELECT DISTINCT cause, source, 'os_version', os_version FROM fleet_affected WHERE os_version <> ''
  UNION SELECT DISTINCT cause, source, 'app_version', app_version FROM fleet_affected WHERE app_version <> ''
  UNION SELECT DISTINCT cause, source, 'enclave_version', enclave_version FROM fleet_affected
    WHERE enclave_version <> '';
{DISTINCT_BACKFILL}
)",
    // 5: fleet_distinct keyed by hour before k2, so that a window's rows per dimension are one
    // range of the key (with k2 before hour, a breakdown read every hour of every value: 65 ms of
    // a summary's 70 at 3 million reports). Analyzed at once: until autovacuum comes to the new
    // table, the planner would guess its size.
    R"(
CREATE TABLE fleet_distinct_by_hour (
  stream TEXT NOT NULL,
  k1 TEXT NOT NULL,
  k2 TEXT NOT NULL,
  hour BIGINT NOT NULL,
  prev BIGINT NOT NULL,
  n BIGINT NOT NULL,
  PRIMARY KEY (stream, k1, hour, k2, prev));
INSERT INTO fleet_distinct_by_hour (stream, k1, k2, hour, prev, n)
  SELECT stream, k1, k2, hour, prev, n FROM fleet_distinct WHERE n <> 0;
DROP TABLE fleet_distinct;
ALTER TABLE fleet_distinct_by_hour RENAME TO fleet_distinct;
ANALYZE fleet_distinct;
)",
};
static_assert(std::size(kMigrations) == kSchemaVersion);

std::string ForDialect(std::string sql, Dialect d) {
  auto replace = [&](const std::string& from, const std::string& to) {
    for (size_t at; (at = sql.find(from)) != std::string::npos;) sql.replace(at, from.size(), to);
  };
  replace("{BLOB}", d == Dialect::kPostgres ? "BYTEA" : "BLOB");
  replace("{SERIAL}",
          d == Dialect::kPostgres ? "BIGSERIAL PRIMARY KEY" : "INTEGER PRIMARY KEY AUTOINCREMENT");
  replace("{PARTITION_BY_TIME}", d == Dialect::kPostgres ? " PARTITION BY RANGE (time)" : "");
  replace("{DISTINCT_BACKFILL}", DistinctBackfill());
  return sql;
}

}  // namespace

// fleet_distinct's rows from the memberships fleet_activity and fleet_affected hold: per stream
// key, each (device, hour) with the device's previous hour in that key (LAG), counted. The same
// streams as LoadMemberships (fleet_distinct.cpp) reads for one device.
std::string DistinctBackfill() {
  // One statement per stream: k1 and k2 are expressions over the rows of `from`, `keys` the
  // columns among them that a device's hours are kept apart by.
  auto insert = [](const std::string& stream, const std::string& k1, const std::string& k2,
                   const std::string& keys, const std::string& from) {
    return "INSERT INTO fleet_distinct (stream, k1, k2, hour, prev, n) SELECT '" + stream +
           "', k1, k2, hour, prev, COUNT(*) FROM (SELECT " + k1 + " AS k1, " + k2 +
           " AS k2, hour, COALESCE(LAG(hour) OVER (PARTITION BY " + keys +
           "device ORDER BY hour), -1) AS prev FROM " + from + ") s GROUP BY k1, k2, hour, prev;\n";
  };
  auto affected = [](const std::string& column) {
    return "(SELECT DISTINCT hour, device" + (column.empty() ? "" : ", " + column) +
           " FROM fleet_affected WHERE source = 'device' AND device <> '') a";
  };
  std::string sql = insert(kStreamActive, "''", "''", "", "fleet_activity");
  sql += insert(kStreamAffected, "''", "''", "", affected(""));
  std::vector<std::string> by(std::begin(kVersionDimensions), std::end(kVersionDimensions));
  for (const std::string& d : by) sql += insert(kStreamActive, "'" + d + "'", d, d + ", ", "fleet_activity");
  by.push_back("token");
  for (const std::string& d : by) sql += insert(kStreamAffected, "'" + d + "'", d, d + ", ", affected(d));
  sql += insert(kStreamIssue, "cause", "source", "cause, source, ", "fleet_affected WHERE device <> ''");
  sql += insert(kStreamDoctor, "cause", "source", "cause, source, ",
                "fleet_affected WHERE device <> '' AND doctor_events > 0");
  return sql;
}

Status Migrate(Connection& c, int64_t target) {
  ASSIGN_OR_RETURN(auto tx, Transaction::Begin(c, /*write=*/true));
  if (c.dialect() == Dialect::kPostgres) {
    // Any constant works as long as every node uses the same one.
    RETURN_IF_ERROR(c.Exec("SELECT pg_advisory_xact_lock(7308895159218320000)"));
    // A connection's statements are cut at 10 s (postgres_connection.cpp), which is right for a
    // request and not for a migration over millions of rows (migration 4's backfill).
    RETURN_IF_ERROR(c.Exec("SET LOCAL statement_timeout = 0"));
  }
  RETURN_IF_ERROR(c.Script("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)"));
  ASSIGN_OR_RETURN(auto rows, c.Exec("SELECT COALESCE(MAX(version), 0) FROM schema_version"));
  int64_t have = rows.rows.empty() ? 0 : Int(rows.rows[0], 0);
  if (have > kSchemaVersion) {
    return StoreError(kSchemaNewer, "the store's schema is version " + std::to_string(have) +
                                        ", newer than this build knows (" + std::to_string(kSchemaVersion) +
                                        "); run a newer enclave-rpd");
  }
  for (int64_t v = have + 1; v <= std::min(target, kSchemaVersion); ++v) {
    RETURN_IF_ERROR(c.Script(ForDialect(kMigrations[v - 1], c.dialect())));
    RETURN_IF_ERROR(c.Exec("INSERT INTO schema_version (version) VALUES ($1)", {v}));
  }
  return tx.Commit();
}

}  // namespace enclave::rp::sql
