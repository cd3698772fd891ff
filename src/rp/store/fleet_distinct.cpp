#include "rp/store/fleet_distinct.h"

#include <vector>

#include "rp/store/fleet_sql.h"
#include "rp/store/fleet_store.h"

namespace enclave::rp::sql {
namespace {

// (hour, prev) of every hour of one stream.
void Gaps(const std::set<int64_t>& hours, const StreamKey& key, int64_t sign, DistinctDeltas& out) {
  int64_t prev = -1;
  for (int64_t h : hours) {
    out[{std::get<0>(key), std::get<1>(key), std::get<2>(key), h, prev}] += sign;
    prev = h;
  }
}

}  // namespace

Status LockDevices(Connection& c, const std::set<std::string>& devices) {
  if (c.dialect() != Dialect::kPostgres) return Ok();
  for (const std::string& d : devices) {
    // Two keys: a class constant apart from the migration's and partitions' locks, and the
    // device's hash (collisions only serialize two devices).
    RETURN_IF_ERROR(c.Exec("SELECT pg_advisory_xact_lock(7308895, hashtext($1))", {d}));
  }
  return Ok();
}

Result<Memberships> LoadMemberships(Connection& c, const std::string& device) {
  Memberships m;
  ASSIGN_OR_RETURN(auto act,
                   c.Exec("SELECT hour, os_version, app_version, enclave_version FROM fleet_activity WHERE "
                          "device = $1",
                          {device}));
  for (const Row& r : act.rows) {
    const int64_t hour = Int(r, 0);
    m[{kStreamActive, "", ""}].insert(hour);
    for (size_t i = 0; i < 3; ++i) m[{kStreamActive, kVersionDimensions[i], Text(r, i + 1)}].insert(hour);
  }
  ASSIGN_OR_RETURN(auto aff, c.Exec("SELECT hour, cause, source, os_version, app_version, enclave_version, "
                                    "token, doctor_events FROM fleet_affected WHERE device = $1",
                                    {device}));
  for (const Row& r : aff.rows) {
    const int64_t hour = Int(r, 0);
    const std::string cause = Text(r, 1), source = Text(r, 2);
    m[{kStreamIssue, cause, source}].insert(hour);
    if (Int(r, 7) > 0) m[{kStreamDoctor, cause, source}].insert(hour);
    if (source != kSourceDevice) continue;
    m[{kStreamAffected, "", ""}].insert(hour);
    for (size_t i = 0; i < 3; ++i) m[{kStreamAffected, kVersionDimensions[i], Text(r, i + 3)}].insert(hour);
    m[{kStreamAffected, "token", Text(r, 6)}].insert(hour);
  }
  return m;
}

void AddDistinctDeltas(const Memberships& before, const Memberships& after, DistinctDeltas& deltas) {
  // Rows of one key that neither side changes cancel to 0, which ApplyDistinctDeltas skips.
  for (const auto& [key, hours] : before) {
    auto now = after.find(key);
    if (now != after.end() && now->second == hours) continue;
    Gaps(hours, key, -1, deltas);
    if (now != after.end()) Gaps(now->second, key, +1, deltas);
  }
  for (const auto& [key, hours] : after) {
    if (!before.count(key)) Gaps(hours, key, +1, deltas);
  }
}

Status ApplyDistinctDeltas(Connection& c, const DistinctDeltas& deltas) {
  std::vector<Row> rows;
  for (const auto& [k, n] : deltas) {
    if (n == 0) continue;
    rows.push_back({std::get<0>(k), std::get<1>(k), std::get<2>(k), std::get<3>(k), std::get<4>(k), n});
  }
  RETURN_IF_ERROR(InsertRows(c, "INSERT INTO fleet_distinct (stream, k1, k2, hour, prev, n)", 6, rows,
                             "ON CONFLICT (stream, k1, k2, hour, prev) DO UPDATE SET n = fleet_distinct.n + "
                             "excluded.n"));
  return Ok();
}

Result<int64_t> CountDistinct(Connection& c, const std::string& stream, const std::string& k1,
                              const std::string& k2, int64_t from_hour, int64_t to_hour) {
  ASSIGN_OR_RETURN(auto rows, c.Exec("SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM fleet_distinct WHERE "
                                     "stream = $1 AND k1 = $2 AND k2 = $3 AND hour >= $4 AND hour <= $5 AND "
                                     "prev < $4",
                                     {stream, k1, k2, from_hour, to_hour}));
  return rows.rows.empty() ? 0 : Int(rows.rows[0], 0);
}

Result<std::map<int64_t, int64_t>> DevicesPerHour(Connection& c, const std::string& stream,
                                                  const std::string& k1, const std::string& k2,
                                                  int64_t from_hour, int64_t to_hour) {
  ASSIGN_OR_RETURN(auto rows,
                   c.Exec("SELECT hour, CAST(SUM(n) AS BIGINT) FROM fleet_distinct WHERE stream = $1 "
                          "AND k1 = $2 AND k2 = $3 AND hour >= $4 AND hour <= $5 GROUP BY hour "
                          "HAVING SUM(n) > 0",
                          {stream, k1, k2, from_hour, to_hour}));
  std::map<int64_t, int64_t> out;
  for (const Row& r : rows.rows) out[Int(r, 0)] = Int(r, 1);
  return out;
}

}  // namespace enclave::rp::sql
