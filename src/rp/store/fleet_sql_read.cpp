#include "rp/store/fleet_sql_read.h"

#include <nlohmann/json.hpp>

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

Result<int64_t> FleetReader::ReadActive(int64_t a, int64_t b) {
  return One(pool_, "SELECT COUNT(DISTINCT device) FROM fleet_activity WHERE hour >= $1 AND hour <= $2",
             {a, b});
}

Result<std::map<std::string, int64_t>> FleetReader::ReadActiveBy(const std::string& dim, int64_t a,
                                                                 int64_t b) {
  ASSIGN_OR_RETURN(std::string d, Dimension(dim, false));
  return Pairs(pool_,
               "SELECT " + d +
                   ", COUNT(DISTINCT device) FROM fleet_activity WHERE hour >= $1 AND hour <= $2 GROUP BY " +
                   d,
               {a, b});
}

Result<std::map<int64_t, int64_t>> FleetReader::ReadActiveSeries(int64_t a, int64_t b) {
  ASSIGN_OR_RETURN(auto c, pool_.Acquire());
  ASSIGN_OR_RETURN(auto rows,
                   c->Exec("SELECT hour, COUNT(DISTINCT device) FROM fleet_activity WHERE hour >= $1 AND "
                           "hour <= $2 GROUP BY hour",
                           {a, b}));
  std::map<int64_t, int64_t> out;
  for (const auto& r : rows.rows) out[Int(r, 0)] = Int(r, 1);
  return out;
}

Result<int64_t> FleetReader::ReadAffected(int64_t a, int64_t b) {
  return One(pool_,
             "SELECT COUNT(DISTINCT device) FROM fleet_affected WHERE hour >= $1 AND hour <= $2 AND source = "
             "'device' "
             "AND device <> ''",
             {a, b});
}

Result<std::map<std::string, int64_t>> FleetReader::ReadAffectedBy(const std::string& dim, int64_t a,
                                                                   int64_t b) {
  ASSIGN_OR_RETURN(std::string d, Dimension(dim, true));
  return Pairs(
      pool_,
      "SELECT " + d +
          ", COUNT(DISTINCT device) FROM fleet_affected WHERE hour >= $1 AND hour <= $2 AND source = "
          "'device' AND device <> '' GROUP BY " +
          d,
      {a, b});
}

Result<std::vector<CauseTotals>> FleetReader::ReadCauses(int64_t a, int64_t b) {
  ASSIGN_OR_RETURN(auto c, pool_.Acquire());
  ASSIGN_OR_RETURN(
      auto rows,
      c->Exec("SELECT cause, source, COUNT(DISTINCT CASE WHEN device <> '' THEN device END), "
              "CAST(SUM(events) AS BIGINT), COUNT(DISTINCT CASE WHEN doctor_events > 0 AND device <> '' "
              "THEN device END) FROM fleet_affected WHERE hour >= $1 AND hour <= $2 GROUP BY cause, "
              "source ORDER BY cause, source",
              {a, b}));
  std::vector<CauseTotals> out;
  for (const auto& r : rows.rows)
    out.push_back(CauseTotals{Text(r, 0), Text(r, 1), Int(r, 2), Int(r, 3), Int(r, 4)});
  return out;
}

Result<std::vector<SeriesPoint>> FleetReader::ReadAffectedSeries(int64_t a, int64_t b,
                                                                 const std::optional<std::string>& cause,
                                                                 const std::optional<std::string>& source) {
  ASSIGN_OR_RETURN(auto c, pool_.Acquire());
  std::string sql =
      "SELECT hour, cause, source, COUNT(DISTINCT CASE WHEN device <> '' THEN device END) FROM "
      "fleet_affected "
      "WHERE hour >= $1 AND hour <= $2";
  std::vector<Value> params = {a, b};
  if (cause && source) {
    sql += " AND cause = $3 AND source = $4";
    params.push_back(*cause);
    params.push_back(*source);
  }
  ASSIGN_OR_RETURN(auto rows,
                   c->Exec(sql + " GROUP BY hour, cause, source ORDER BY hour, cause, source", params));
  std::vector<SeriesPoint> out;
  for (const auto& r : rows.rows) out.push_back(SeriesPoint{Int(r, 0), Text(r, 1), Text(r, 2), Int(r, 3)});
  return out;
}

Result<int64_t> FleetReader::ReadIssueAffected(const std::string& cause, const std::string& source, int64_t a,
                                               int64_t b) {
  return One(
      pool_,
      "SELECT COUNT(DISTINCT device) FROM fleet_affected WHERE cause = $1 AND source = $2 AND hour >= $3 AND "
      "hour <= $4 AND device <> ''",
      {cause, source, a, b});
}

Result<int64_t> FleetReader::ReadIssueRebound(const std::string& cause, const std::string& source, int64_t a,
                                              int64_t b, int64_t until) {
  return One(
      pool_,
      "SELECT COUNT(*) FROM fleet_issue_devices d WHERE d.cause = $1 AND d.source = $2 AND EXISTS (SELECT 1 "
      "FROM fleet_rebinds r WHERE r.device = d.device AND r.time >= d.first_time AND r.time <= $5) AND "
      "EXISTS "
      "(SELECT 1 FROM fleet_affected f WHERE f.cause = d.cause AND f.source = d.source AND f.device = "
      "d.device "
      "AND f.hour >= $3 AND f.hour <= $4)",
      {cause, source, a, b, until});
}

Result<std::vector<AffectedDevice>> FleetReader::ReadIssueDevices(const std::string& cause,
                                                                  const std::string& source) {
  ASSIGN_OR_RETURN(auto c, pool_.Acquire());
  ASSIGN_OR_RETURN(
      auto rows,
      c->Exec("SELECT d.device, d.first_time, (SELECT MIN(r.time) FROM fleet_rebinds r WHERE r.device = "
              "d.device AND r.time >= d.first_time) FROM fleet_issue_devices d WHERE d.cause = $1 AND "
              "d.source = $2 ORDER BY d.first_time, d.device",
              {cause, source}));
  std::vector<AffectedDevice> out;
  for (const auto& r : rows.rows) {
    AffectedDevice d{Text(r, 0), Int(r, 1), std::nullopt};
    if (!IsNull(r, 2)) d.rebound_at = Int(r, 2);
    out.push_back(std::move(d));
  }
  return out;
}

Result<std::vector<std::string>> FleetReader::ReadIssueVersions(const std::string& cause,
                                                                const std::string& source,
                                                                const std::string& dim) {
  ASSIGN_OR_RETURN(std::string d, Dimension(dim, false));
  ASSIGN_OR_RETURN(auto c, pool_.Acquire());
  ASSIGN_OR_RETURN(auto rows, c->Exec("SELECT DISTINCT " + d +
                                          " FROM fleet_affected WHERE cause = $1 AND source = $2 "
                                          "AND " +
                                          d + " <> '' ORDER BY 1",
                                      {cause, source}));
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
