#include "rp/store/fleet_sql_read.h"

#include <nlohmann/json.hpp>
#include <set>

#include "rp/store/fleet_distinct.h"

namespace enclave::rp::sql {
namespace {

constexpr char kIssueColumns[] =
    "cause, source, state, first_seen, last_seen, state_since, resolved_os_max, resolved_app_max";

IssueRecord ToIssue(const Row& r) {
  return IssueRecord{Text(r, 0), Text(r, 1), Text(r, 2), Int(r, 3),
                     Int(r, 4),  Int(r, 5),  Text(r, 6), Text(r, 7)};
}

// Column names come from this closed list only, never from a caller's text.
Result<std::string> Dimension(const std::string& d, bool allow_token) {
  if (d == "os_version" || d == "app_version" || d == "enclave_version" || (allow_token && d == "token"))
    return d;
  return StoreError(kFailed, "no such fleet dimension");
}

Result<int64_t> One(Pool& pool, const std::string& sql, const std::vector<Value>& params) {
  ASSIGN_OR_RETURN(auto c, pool.Acquire());
  ASSIGN_OR_RETURN(auto rows, c->Exec(sql, params));
  return rows.rows.empty() ? 0 : Int(rows.rows[0], 0);
}

Result<std::map<std::string, int64_t>> Pairs(Pool& pool, const std::string& sql,
                                             const std::vector<Value>& params) {
  ASSIGN_OR_RETURN(auto c, pool.Acquire());
  ASSIGN_OR_RETURN(auto rows, c->Exec(sql, params));
  std::map<std::string, int64_t> out;
  for (const auto& r : rows.rows) out[Text(r, 0)] = Int(r, 1);
  return out;
}

// Distinct devices per value of one dimension in a window; values without any left out.
Result<std::map<std::string, int64_t>> DistinctBy(Pool& pool, const char* stream, const std::string& dim,
                                                  int64_t a, int64_t b) {
  ASSIGN_OR_RETURN(auto c, pool.Acquire());
  ASSIGN_OR_RETURN(auto rows,
                   c->Exec("SELECT k2, CAST(SUM(n) AS BIGINT) FROM fleet_distinct WHERE stream = $1 "
                           "AND k1 = $2 AND hour >= $3 AND hour <= $4 AND prev < $3 GROUP BY k2 "
                           "HAVING SUM(n) > 0",
                           {std::string(stream), dim, a, b}));
  std::map<std::string, int64_t> out;
  for (const auto& r : rows.rows) out[Text(r, 0)] = Int(r, 1);
  return out;
}

std::optional<std::string> OptText(const Row& r, size_t i) {
  return IsNull(r, i) ? std::nullopt : std::optional<std::string>(Text(r, i));
}

}  // namespace

Result<std::optional<IssueRecord>> FleetReader::ReadIssueOn(Connection& c, const std::string& cause,
                                                            const std::string& source) {
  ASSIGN_OR_RETURN(auto rows, c.Exec(std::string("SELECT ") + kIssueColumns +
                                         " FROM fleet_issues WHERE cause = $1 AND source = $2",
                                     {cause, source}));
  if (rows.rows.empty()) return std::optional<IssueRecord>();
  return std::optional<IssueRecord>(ToIssue(rows.rows[0]));
}

Result<std::vector<IssueRecord>> FleetReader::ReadIssues() {
  ASSIGN_OR_RETURN(auto c, pool_.Acquire());
  ASSIGN_OR_RETURN(auto rows, c->Exec(std::string("SELECT ") + kIssueColumns +
                                      " FROM fleet_issues ORDER BY last_seen DESC, cause, source"));
  std::vector<IssueRecord> out;
  for (const auto& r : rows.rows) out.push_back(ToIssue(r));
  return out;
}

Result<std::optional<IssueRecord>> FleetReader::ReadIssue(const std::string& cause,
                                                          const std::string& source) {
  ASSIGN_OR_RETURN(auto c, pool_.Acquire());
  return ReadIssueOn(*c, cause, source);
}

// Every count of distinct devices below reads fleet_distinct (rp/store/fleet_distinct.h): rows per
// hour and gap of a window, never a pass over its devices.

Result<int64_t> FleetReader::ReadActive(int64_t a, int64_t b) {
  ASSIGN_OR_RETURN(auto c, pool_.Acquire());
  return CountDistinct(*c, kStreamActive, "", "", a, b);
}

Result<std::map<std::string, int64_t>> FleetReader::ReadActiveBy(const std::string& dim, int64_t a,
                                                                 int64_t b) {
  ASSIGN_OR_RETURN(std::string d, Dimension(dim, false));
  return DistinctBy(pool_, kStreamActive, d, a, b);
}

Result<std::map<int64_t, int64_t>> FleetReader::ReadActiveSeries(int64_t a, int64_t b) {
  ASSIGN_OR_RETURN(auto c, pool_.Acquire());
  return DevicesPerHour(*c, kStreamActive, "", "", a, b);
}

Result<int64_t> FleetReader::ReadAffected(int64_t a, int64_t b) {
  ASSIGN_OR_RETURN(auto c, pool_.Acquire());
  return CountDistinct(*c, kStreamAffected, "", "", a, b);
}

Result<std::map<std::string, int64_t>> FleetReader::ReadAffectedBy(const std::string& dim, int64_t a,
                                                                   int64_t b) {
  ASSIGN_OR_RETURN(std::string d, Dimension(dim, true));
  return DistinctBy(pool_, kStreamAffected, d, a, b);
}

Result<std::vector<CauseTotals>> FleetReader::ReadCauses(int64_t a, int64_t b) {
  ASSIGN_OR_RETURN(auto c, pool_.Acquire());
  // Every issue with an event in the window, also those of server refusals without a device.
  ASSIGN_OR_RETURN(auto events, c->Exec("SELECT cause, source, CAST(SUM(events) AS BIGINT) FROM "
                                        "fleet_issue_hours WHERE hour >= $1 AND hour <= $2 GROUP BY cause, "
                                        "source ORDER BY cause, source",
                                        {a, b}));
  // One range of fleet_distinct's key per issue and stream (a read over every issue's rows would
  // visit all their hours, the window's or not).
  std::vector<CauseTotals> out;
  for (const auto& r : events.rows) {
    const std::string cause = Text(r, 0), source = Text(r, 1);
    ASSIGN_OR_RETURN(int64_t devices, CountDistinct(*c, kStreamIssue, cause, source, a, b));
    ASSIGN_OR_RETURN(int64_t doctor, CountDistinct(*c, kStreamDoctor, cause, source, a, b));
    out.push_back(CauseTotals{cause, source, devices, Int(r, 2), doctor});
  }
  return out;
}

Result<std::vector<SeriesPoint>> FleetReader::ReadAffectedSeries(int64_t a, int64_t b,
                                                                 const std::optional<std::string>& cause,
                                                                 const std::optional<std::string>& source) {
  ASSIGN_OR_RETURN(auto c, pool_.Acquire());
  std::string filter = " AND hour >= $1 AND hour <= $2";
  std::vector<Value> params{a, b};
  if (cause && source) {
    filter += " AND cause = $3 AND source = $4";
    params.insert(params.end(), {*cause, *source});
  }
  // The points are the hours with events (a server refusal without a device is a point of 0).
  ASSIGN_OR_RETURN(auto hours,
                   c->Exec("SELECT hour, cause, source FROM fleet_issue_hours WHERE 1 = 1" + filter, params));
  std::map<std::tuple<int64_t, std::string, std::string>, int64_t> points;
  std::set<std::pair<std::string, std::string>> issues;
  for (const auto& r : hours.rows) {
    points[{Int(r, 0), Text(r, 1), Text(r, 2)}] = 0;
    issues.insert({Text(r, 1), Text(r, 2)});
  }
  for (const auto& [k1, k2] : issues) {
    ASSIGN_OR_RETURN(auto devices, DevicesPerHour(*c, kStreamIssue, k1, k2, a, b));
    for (const auto& [hour, n] : devices) {
      auto it = points.find({hour, k1, k2});
      if (it != points.end()) it->second = n;
    }
  }
  std::vector<SeriesPoint> out;
  for (const auto& [k, n] : points)
    out.push_back(SeriesPoint{std::get<0>(k), std::get<1>(k), std::get<2>(k), n});
  return out;
}

Result<int64_t> FleetReader::ReadIssueAffected(const std::string& cause, const std::string& source, int64_t a,
                                               int64_t b) {
  ASSIGN_OR_RETURN(auto c, pool_.Acquire());
  return CountDistinct(*c, kStreamIssue, cause, source, a, b);
}

Result<int64_t> FleetReader::ReadIssueRebound(const std::string& cause, const std::string& source, int64_t a,
                                              int64_t b, int64_t until) {
  // Only the issue's re-bound devices are visited (fleet_issue_devices_rebound), each checked for
  // a failure in the window.
  return One(
      pool_,
      "SELECT COUNT(*) FROM fleet_issue_devices d WHERE d.cause = $1 AND d.source = $2 AND d.rebound_at "
      "IS NOT NULL AND d.rebound_at <= $5 AND EXISTS (SELECT 1 FROM fleet_affected f WHERE f.cause = "
      "d.cause AND f.source = d.source AND f.device = d.device AND f.hour >= $3 AND f.hour <= $4)",
      {cause, source, a, b, until});
}

Result<IssueRebinds> FleetReader::ReadIssueRebindTimes(const std::string& cause, const std::string& source) {
  IssueRebinds out;
  ASSIGN_OR_RETURN(out.devices, One(pool_,
                                    "SELECT COUNT(*) FROM fleet_issue_devices WHERE cause = $1 AND "
                                    "source = $2",
                                    {cause, source}));
  ASSIGN_OR_RETURN(auto c, pool_.Acquire());
  ASSIGN_OR_RETURN(auto rows,
                   c->Exec("SELECT rebound_at - first_time FROM fleet_issue_devices WHERE cause = $1 "
                           "AND source = $2 AND rebound_at IS NOT NULL ORDER BY 1",
                           {cause, source}));
  for (const auto& r : rows.rows) out.seconds.push_back(Int(r, 0));
  return out;
}

Result<std::vector<std::string>> FleetReader::ReadIssueVersions(const std::string& cause,
                                                                const std::string& source,
                                                                const std::string& dim) {
  ASSIGN_OR_RETURN(std::string d, Dimension(dim, false));
  ASSIGN_OR_RETURN(auto c, pool_.Acquire());
  ASSIGN_OR_RETURN(auto rows,
                   c->Exec("SELECT value FROM fleet_issue_versions WHERE cause = $1 AND source = $2 "
                           "AND dimension = $3 ORDER BY 1",
                           {cause, source, d}));
  std::vector<std::string> out;
  for (const auto& r : rows.rows) out.push_back(Text(r, 0));
  return out;
}

Result<std::vector<std::string>> FleetReader::ReadIssueCredentials(const std::string& cause,
                                                                   const std::string& source, int64_t limit) {
  ASSIGN_OR_RETURN(auto c, pool_.Acquire());
  ASSIGN_OR_RETURN(auto rows,
                   c->Exec("SELECT credential_id FROM fleet_issue_credentials WHERE cause = $1 AND source = "
                           "$2 ORDER BY first_time, credential_id LIMIT $3",
                           {cause, source, limit}));
  std::vector<std::string> out;
  for (const auto& r : rows.rows) out.push_back(Text(r, 0));
  return out;
}

Result<std::map<std::string, int64_t>> FleetReader::ReadCounters(int64_t a, int64_t b) {
  return Pairs(pool_,
               "SELECT name, CAST(SUM(count) AS BIGINT) FROM fleet_counts WHERE hour >= $1 AND hour <= $2 "
               "GROUP BY name",
               {a, b});
}

Result<std::vector<FleetStore::StoredReport>> FleetReader::ReadReports(int64_t since, int64_t until,
                                                                       int64_t limit) {
  ASSIGN_OR_RETURN(auto c, pool_.Acquire());
  ASSIGN_OR_RETURN(
      auto rows,
      c->Exec(
          "SELECT id, time, received, device, kind, credential_id, kid_hash, operation, domain, code, cause, "
          "permanence, remedy, found_by, token, prompted, enclave_version, os_id, os_version, kernel, "
          "app_id, "
          "app_version, replaced_credential_id, keys FROM fleet_reports WHERE time >= $1 AND time < $2 ORDER "
          "BY "
          "time, id LIMIT $3",
          {since, until, limit}));
  std::vector<FleetStore::StoredReport> out;
  for (const auto& r : rows.rows) {
    FleetStore::StoredReport s;
    fleet::Report& p = s.report;
    p.id = Text(r, 0);
    p.time = Int(r, 1);
    s.received = Int(r, 2);
    s.device = Text(r, 3);
    p.kind = Text(r, 4);
    p.credential_id = OptText(r, 5);
    p.kid_hash = OptText(r, 6);
    p.operation = OptText(r, 7);
    p.domain = OptText(r, 8);
    if (!IsNull(r, 9)) p.code = Int(r, 9);
    p.cause = OptText(r, 10);
    p.permanence = OptText(r, 11);
    p.remedy = OptText(r, 12);
    p.found_by = OptText(r, 13);
    p.token = OptText(r, 14);
    if (!IsNull(r, 15)) p.prompted = Int(r, 15) != 0;
    p.enclave_version = Text(r, 16);
    p.os_id = Text(r, 17);
    p.os_version = Text(r, 18);
    p.kernel = Text(r, 19);
    p.app_id = OptText(r, 20);
    p.app_version = OptText(r, 21);
    p.replaced_credential_id = OptText(r, 22);
    if (!IsNull(r, 23)) {
      auto keys = nlohmann::json::parse(Text(r, 23), nullptr, false);
      if (keys.is_object()) p.keys = keys.get<std::map<std::string, int64_t>>();
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace enclave::rp::sql
