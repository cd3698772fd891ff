// The writing half of the fleet store: ingest (raw reports and every aggregate in one
// transaction), the server's own events, issue transitions, partitions and retention.
#include "rp/store/fleet_sql.h"

#include <algorithm>
#include <mutex>
#include <set>

#include "rp/store/fleet_distinct.h"
#include "rp/store/fleet_sql_read.h"

namespace enclave::rp::sql {
namespace {

constexpr int64_t kDay = 86400;

Value Opt(const std::optional<std::string>& s) { return s ? Value(*s) : Value(std::monostate{}); }
Value Opt(const std::optional<int64_t>& n) { return n ? Value(*n) : Value(std::monostate{}); }
Value Opt(const std::optional<bool>& b) { return b ? Value(int64_t{*b}) : Value(std::monostate{}); }
std::string Least(Dialect d) { return d == Dialect::kPostgres ? "LEAST" : "MIN"; }
std::string Greatest(Dialect d) { return d == Dialect::kPostgres ? "GREATEST" : "MAX"; }

constexpr char kReportColumns[] =
    "id, time, received, device, kind, credential_id, kid_hash, operation, domain, code, cause, permanence, "
    "remedy, found_by, token, prompted, enclave_version, os_id, os_version, kernel, app_id, app_version, "
    "replaced_credential_id, keys";
constexpr size_t kReportColumnCount = 24;

Row ReportRow(const fleet::Report& r, const std::string& device, int64_t received) {
  Value keys = std::monostate{};
  if (r.keys) keys = nlohmann::json(*r.keys).dump();
  return {r.id,
          r.time,
          received,
          device,
          r.kind,
          Opt(r.credential_id),
          Opt(r.kid_hash),
          Opt(r.operation),
          Opt(r.domain),
          Opt(r.code),
          Opt(r.cause),
          Opt(r.permanence),
          Opt(r.remedy),
          Opt(r.found_by),
          Opt(r.token),
          Opt(r.prompted),
          r.enclave_version,
          r.os_id,
          r.os_version,
          r.kernel,
          Opt(r.app_id),
          Opt(r.app_version),
          Opt(r.replaced_credential_id),
          keys};
}

class SqlFleetStore final : public FleetStore, public FleetReader {
 public:
  explicit SqlFleetStore(Pool& pool) : FleetReader(pool), pool_(pool) {}

  Result<bool> DeviceKnown(ByteView device_key) override {
    ASSIGN_OR_RETURN(auto c, pool_.Acquire());
    ASSIGN_OR_RETURN(auto rows, c->Exec("SELECT 1 FROM credentials WHERE device_key = $1 LIMIT 1",
                                        {Bytes(device_key.begin(), device_key.end())}));
    return !rows.rows.empty();
  }

  Result<FleetIngestOutcome> Ingest(const FleetIngest& batch) override {
    FleetIngestOutcome out;
    ASSIGN_OR_RETURN(auto c, pool_.Acquire());
    if (c->dialect() == Dialect::kPostgres) {
      std::set<int64_t> days;
      for (const auto& r : batch.reports) days.insert(r.time / kDay);
      RETURN_IF_ERROR(EnsurePartitions(*c, days));
    }
    ASSIGN_OR_RETURN(auto tx, Transaction::Begin(*c, /*write=*/true));
    std::vector<Row> rows;
    rows.reserve(batch.reports.size());
    for (const auto& r : batch.reports) rows.push_back(ReportRow(r, batch.device, batch.received));
    ASSIGN_OR_RETURN(auto inserted,
                     InsertRows(*c, std::string("INSERT INTO fleet_reports (") + kReportColumns + ")",
                                kReportColumnCount, rows, "ON CONFLICT (time, id) DO NOTHING RETURNING id"));
    std::set<std::string> fresh;
    for (const auto& row : inserted) fresh.insert(Text(row, 0));
    std::vector<const fleet::Report*> accepted;
    for (const auto& r : batch.reports) {
      if (fresh.count(r.id)) {
        out.accepted.push_back(r.id);
        accepted.push_back(&r);
      } else {
        out.duplicates.push_back(r.id);
      }
    }
    RETURN_IF_ERROR(Aggregate(*c, batch, accepted, out));
    // A batch whose every report was stored before is a resend: its dropped count was counted.
    if (batch.dropped > 0 && (!accepted.empty() || batch.reports.empty())) {
      RETURN_IF_ERROR(AddCounter(*c, batch.received / 3600, "dropped", batch.dropped));
    }
    RETURN_IF_ERROR(tx.Commit());
    return out;
  }

  Status CountRefusedBatch(int64_t time, const std::string& reason) override {
    ASSIGN_OR_RETURN(auto c, pool_.Acquire());
    return AddCounter(*c, time / 3600, "refused:" + reason, 1);
  }

  Status RecordServerActivity(const FleetServerActivity& a) override {
    ASSIGN_OR_RETURN(auto c, pool_.Acquire());
    ASSIGN_OR_RETURN(auto tx, Transaction::Begin(*c, /*write=*/true));
    const Dialect d = c->dialect();
    // Every device whose memberships change; of those, the ones whose issue devices or re-binds
    // change (a login changes neither).
    std::set<std::string> touched, rebind_side;
    for (const auto& e : a.refusals) rebind_side.insert(e.device);
    for (const auto& r : a.rebinds) rebind_side.insert(r.device);
    rebind_side.erase("");
    touched = rebind_side;
    for (const auto& [time, device] : a.logins) touched.insert(device);
    touched.erase("");
    ASSIGN_OR_RETURN(auto before, Before(*c, touched));
    std::map<std::pair<int64_t, std::string>, bool> activity;
    for (const auto& [time, device] : a.logins) activity[{time / 3600, device}] = true;
    std::vector<Row> act;
    for (const auto& [key, unused] : activity) act.push_back({key.first, key.second, "", "", ""});
    // A login says nothing of versions: it keeps those a report of the same hour set.
    RETURN_IF_ERROR(
        InsertRows(*c, "INSERT INTO fleet_activity (hour, device, os_version, app_version, enclave_version)",
                   5, act, "ON CONFLICT (hour, device) DO NOTHING"));
    std::map<std::tuple<int64_t, std::string, std::string>, int64_t> affected;
    std::map<std::pair<std::string, std::string>, std::pair<int64_t, int64_t>> devices, issues;
    std::map<std::pair<std::string, std::string>, std::pair<std::string, int64_t>> credentials;
    for (const auto& e : a.refusals) {
      affected[{e.time / 3600, e.cause, e.device}] += 1;
      auto span = [&](auto& m, const auto& key) {
        auto [it, added] = m.try_emplace(key, e.time, e.time);
        it->second.first = std::min(it->second.first, e.time);
        it->second.second = std::max(it->second.second, e.time);
      };
      span(issues, std::pair{e.cause, std::string()});
      if (!e.device.empty()) span(devices, std::pair{e.cause, e.device});
      if (!e.credential_id.empty()) credentials.try_emplace({e.cause, e.credential_id}, e.device, e.time);
    }
    std::vector<Row> aff;
    for (const auto& [k, n] : affected) {
      aff.push_back({std::get<0>(k), std::get<1>(k), std::string(kSourceServer), std::get<2>(k), "", "", "",
                     "", n, int64_t{0}});
    }
    RETURN_IF_ERROR(UpsertAffected(*c, aff));
    std::vector<Row> dev, iss, cred;
    for (const auto& [k, t] : devices)
      dev.push_back({k.first, std::string(kSourceServer), k.second, t.first, t.second});
    for (const auto& [k, t] : issues) iss.push_back({k.first, std::string(kSourceServer), t.first, t.second});
    for (const auto& [k, v] : credentials) {
      cred.push_back({k.first, std::string(kSourceServer), k.second, v.first, v.second});
    }
    RETURN_IF_ERROR(UpsertIssueDevices(*c, dev));
    RETURN_IF_ERROR(UpsertIssueCredentials(*c, cred));
    RETURN_IF_ERROR(UpsertIssues(*c, iss, a.refusals.empty() ? 0 : a.refusals.back().time));
    std::map<std::pair<std::string, std::string>, int64_t> rebinds;
    for (const auto& r : a.rebinds) {
      auto [it, added] = rebinds.try_emplace({r.device, r.replaced_credential_id}, r.time);
      it->second = std::min(it->second, r.time);
    }
    std::vector<Row> reb;
    for (const auto& [k, time] : rebinds) reb.push_back({k.first, k.second, time});
    RETURN_IF_ERROR(InsertRows(*c, "INSERT INTO fleet_rebinds (device, replaced_credential_id, time)", 3, reb,
                               "ON CONFLICT (device, replaced_credential_id) DO UPDATE SET time = " +
                                   Least(d) + "(fleet_rebinds.time, excluded.time)"));
    RETURN_IF_ERROR(After(*c, before, rebind_side));
    return tx.Commit();
  }

  Result<bool> TransitionIssue(const std::string& cause, const std::string& source, const std::string& from,
                               const std::string& to, int64_t now, const std::string& os_max,
                               const std::string& app_max) override {
    ASSIGN_OR_RETURN(auto c, pool_.Acquire());
    ASSIGN_OR_RETURN(auto rows,
                     c->Exec("UPDATE fleet_issues SET state = $4, state_since = $5, resolved_os_max = $6, "
                             "resolved_app_max = $7 WHERE cause = $1 AND source = $2 AND state = $3",
                             {cause, source, from, to, now, os_max, app_max}));
    return rows.changed == 1;
  }

  Result<int64_t> DropReportsBefore(int64_t before) override {
    ASSIGN_OR_RETURN(auto c, pool_.Acquire());
    if (c->dialect() == Dialect::kPostgres) {
      // Whole days first: dropping a partition costs nothing next to deleting its rows.
      ASSIGN_OR_RETURN(auto parts,
                       c->Exec("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = "
                               "i.inhrelid JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = "
                               "'fleet_reports'"));
      for (const auto& row : parts.rows) {
        const std::string name = Text(row, 0);
        if (name.rfind("fleet_reports_d", 0) != 0) continue;
        const int64_t day = std::stoll(name.substr(15));
        if ((day + 1) * kDay <= before) {
          RETURN_IF_ERROR(c->Exec("DROP TABLE IF EXISTS " + name));
          std::lock_guard lock(partitions_mu_);
          partitions_.erase(day);
        }
      }
    }
    ASSIGN_OR_RETURN(auto rows, c->Exec("DELETE FROM fleet_reports WHERE time < $1", {before}));
    return rows.changed;
  }

  // The reading half (fleet_sql_read.cpp).
  Result<std::vector<IssueRecord>> Issues() override { return FleetReader::ReadIssues(); }
  Result<std::optional<IssueRecord>> Issue(const std::string& cause, const std::string& source) override {
    return FleetReader::ReadIssue(cause, source);
  }
  Result<int64_t> ActiveDevices(int64_t a, int64_t b) override { return FleetReader::ReadActive(a, b); }
  Result<std::map<std::string, int64_t>> ActiveBy(const std::string& dim, int64_t a, int64_t b) override {
    return FleetReader::ReadActiveBy(dim, a, b);
  }
  Result<std::map<int64_t, int64_t>> ActiveSeries(int64_t a, int64_t b) override {
    return FleetReader::ReadActiveSeries(a, b);
  }
  Result<int64_t> AffectedDevices(int64_t a, int64_t b) override { return FleetReader::ReadAffected(a, b); }
  Result<std::map<std::string, int64_t>> AffectedBy(const std::string& dim, int64_t a, int64_t b) override {
    return FleetReader::ReadAffectedBy(dim, a, b);
  }
  Result<std::vector<CauseTotals>> Causes(int64_t a, int64_t b) override {
    return FleetReader::ReadCauses(a, b);
  }
  Result<std::vector<SeriesPoint>> AffectedSeries(int64_t a, int64_t b,
                                                  const std::optional<std::string>& cause,
                                                  const std::optional<std::string>& source) override {
    return FleetReader::ReadAffectedSeries(a, b, cause, source);
  }
  Result<int64_t> IssueAffected(const std::string& cause, const std::string& source, int64_t a,
                                int64_t b) override {
    return FleetReader::ReadIssueAffected(cause, source, a, b);
  }
  Result<int64_t> IssueRebound(const std::string& cause, const std::string& source, int64_t a, int64_t b,
                               int64_t until) override {
    return FleetReader::ReadIssueRebound(cause, source, a, b, until);
  }
  Result<IssueRebinds> IssueRebindTimes(const std::string& cause, const std::string& source) override {
    return FleetReader::ReadIssueRebindTimes(cause, source);
  }
  Result<std::vector<std::string>> IssueVersions(const std::string& cause, const std::string& source,
                                                 const std::string& dim) override {
    return FleetReader::ReadIssueVersions(cause, source, dim);
  }
  Result<std::vector<std::string>> IssueCredentials(const std::string& cause, const std::string& source,
                                                    int64_t limit) override {
    return FleetReader::ReadIssueCredentials(cause, source, limit);
  }
  Result<std::map<std::string, int64_t>> Counters(int64_t a, int64_t b) override {
    return FleetReader::ReadCounters(a, b);
  }
  Result<std::vector<StoredReport>> Reports(int64_t since, int64_t until, int64_t limit) override {
    return FleetReader::ReadReports(since, until, limit);
  }

 private:
  // One partition per UTC day, created by whichever node first needs it, under an advisory lock so
  // that two nodes never race on the catalog.
  Status EnsurePartitions(Connection& c, const std::set<int64_t>& days) {
    std::vector<int64_t> missing;
    {
      std::lock_guard lock(partitions_mu_);
      for (int64_t d : days) {
        if (!partitions_.count(d)) missing.push_back(d);
      }
    }
    if (missing.empty()) return Ok();
    ASSIGN_OR_RETURN(auto tx, Transaction::Begin(c, /*write=*/true));
    RETURN_IF_ERROR(c.Exec("SELECT pg_advisory_xact_lock(7308895159218320001)"));
    for (int64_t d : missing) {
      RETURN_IF_ERROR(c.Exec("CREATE TABLE IF NOT EXISTS fleet_reports_d" + std::to_string(d) +
                             " PARTITION OF fleet_reports FOR VALUES FROM (" + std::to_string(d * kDay) +
                             ") TO (" + std::to_string((d + 1) * kDay) + ")"));
    }
    RETURN_IF_ERROR(tx.Commit());
    std::lock_guard lock(partitions_mu_);
    partitions_.insert(missing.begin(), missing.end());
    return Ok();
  }

  static Status AddCounter(Connection& c, int64_t hour, const std::string& name, int64_t by) {
    RETURN_IF_ERROR(
        c.Exec("INSERT INTO fleet_counts (hour, name, count) VALUES ($1, $2, $3) ON CONFLICT (hour, "
               "name) DO UPDATE SET count = fleet_counts.count + excluded.count",
               {hour, name, by}));
    return Ok();
  }

  static Status UpsertAffected(Connection& c, const std::vector<Row>& rows) {
    RETURN_IF_ERROR(
        InsertRows(c,
                   "INSERT INTO fleet_affected (hour, cause, source, device, os_version, app_version, "
                   "enclave_version, token, events, doctor_events)",
                   10, rows,
                   "ON CONFLICT (hour, cause, source, device) DO UPDATE SET events = "
                   "fleet_affected.events + excluded.events, doctor_events = fleet_affected.doctor_events "
                   "+ excluded.doctor_events, os_version = CASE WHEN excluded.os_version = '' THEN "
                   "fleet_affected.os_version ELSE excluded.os_version END, app_version = CASE WHEN "
                   "excluded.os_version = '' THEN fleet_affected.app_version ELSE excluded.app_version "
                   "END, enclave_version = CASE WHEN excluded.os_version = '' THEN "
                   "fleet_affected.enclave_version ELSE excluded.enclave_version END, token = CASE WHEN "
                   "excluded.token = '' THEN fleet_affected.token ELSE excluded.token END"));
    std::map<std::tuple<int64_t, std::string, std::string>, int64_t> events;
    std::set<std::tuple<std::string, std::string, std::string, std::string>> versions;
    for (const Row& r : rows) {
      const std::string cause = std::get<std::string>(r[1]), source = std::get<std::string>(r[2]);
      events[{std::get<int64_t>(r[0]), cause, source}] += std::get<int64_t>(r[8]);
      for (size_t i = 0; i < 3; ++i) {
        const std::string& v = std::get<std::string>(r[4 + i]);
        if (!v.empty()) versions.insert({cause, source, kVersionDimensions[i], v});
      }
    }
    std::vector<Row> ev, ver;
    for (const auto& [k, n] : events) ev.push_back({std::get<0>(k), std::get<1>(k), std::get<2>(k), n});
    for (const auto& [cause, source, dim, v] : versions) ver.push_back({cause, source, dim, v});
    RETURN_IF_ERROR(InsertRows(c, "INSERT INTO fleet_issue_hours (hour, cause, source, events)", 4, ev,
                               "ON CONFLICT (hour, cause, source) DO UPDATE SET events = "
                               "fleet_issue_hours.events + excluded.events"));
    RETURN_IF_ERROR(InsertRows(c, "INSERT INTO fleet_issue_versions (cause, source, dimension, value)", 4,
                               ver, "ON CONFLICT (cause, source, dimension, value) DO NOTHING"));
    return Ok();
  }

  static Status UpsertIssueDevices(Connection& c, const std::vector<Row>& rows) {
    const Dialect d = c.dialect();
    RETURN_IF_ERROR(InsertRows(
        c, "INSERT INTO fleet_issue_devices (cause, source, device, first_time, last_time)", 5, rows,
        "ON CONFLICT (cause, source, device) DO UPDATE SET first_time = " + Least(d) +
            "(fleet_issue_devices.first_time, excluded.first_time), last_time = " + Greatest(d) +
            "(fleet_issue_devices.last_time, excluded.last_time)"));
    return Ok();
  }

  static Status UpsertIssueCredentials(Connection& c, const std::vector<Row>& rows) {
    RETURN_IF_ERROR(InsertRows(
        c, "INSERT INTO fleet_issue_credentials (cause, source, credential_id, device, first_time)", 5, rows,
        "ON CONFLICT (cause, source, credential_id) DO NOTHING"));
    return Ok();
  }

  static Status UpsertIssues(Connection& c, const std::vector<Row>& rows, int64_t now) {
    const Dialect d = c.dialect();
    std::vector<Row> full;
    for (const Row& r : rows) full.push_back({r[0], r[1], std::string(kIssueOpen), r[2], r[3], now, "", ""});
    RETURN_IF_ERROR(
        InsertRows(c,
                   "INSERT INTO fleet_issues (cause, source, state, first_seen, last_seen, state_since, "
                   "resolved_os_max, resolved_app_max)",
                   8, full,
                   "ON CONFLICT (cause, source) DO UPDATE SET first_seen = " + Least(d) +
                       "(fleet_issues.first_seen, excluded.first_seen), last_seen = " + Greatest(d) +
                       "(fleet_issues.last_seen, excluded.last_seen)"));
    return Ok();
  }

  Status Aggregate(Connection& c, const FleetIngest& batch, const std::vector<const fleet::Report*>& accepted,
                   FleetIngestOutcome& out) {
    const std::string& device = batch.device;
    if (accepted.empty()) return Ok();
    ASSIGN_OR_RETURN(auto before, Before(c, {device}));
    std::map<int64_t, const fleet::Report*> activity;  // hour -> the latest report of that hour
    std::map<std::pair<int64_t, std::string>, std::pair<const fleet::Report*, std::pair<int64_t, int64_t>>>
        affected;
    std::map<std::string, std::pair<int64_t, int64_t>> spans;  // cause -> first, last
    std::map<std::string, int64_t> credentials;                // cause \0 credential -> first
    std::map<std::string, int64_t> rebinds;
    for (const fleet::Report* r : accepted) {
      const int64_t hour = r->time / 3600;
      auto& latest = activity[hour];
      if (!latest || latest->time <= r->time) latest = r;
      if (r->kind == "reenroll" && r->replaced_credential_id) {
        auto [it, added] = rebinds.try_emplace(*r->replaced_credential_id, r->time);
        it->second = std::min(it->second, r->time);
      }
      if (r->kind != "failure") continue;
      auto& a = affected[{hour, *r->cause}];
      if (!a.first || a.first->time <= r->time) a.first = r;
      a.second.first += 1;
      a.second.second += r->found_by == "doctor" ? 1 : 0;
      auto [span, added] = spans.try_emplace(*r->cause, r->time, r->time);
      span->second.first = std::min(span->second.first, r->time);
      span->second.second = std::max(span->second.second, r->time);
      auto& touched = out.touched[{*r->cause, kSourceDevice}];
      touched.os_versions.push_back(r->os_version);
      if (r->app_version) touched.app_versions.push_back(*r->app_version);
      if (r->credential_id) {
        auto [it, fresh] = credentials.try_emplace(*r->cause + '\0' + *r->credential_id, r->time);
        it->second = std::min(it->second, r->time);
      }
    }
    std::vector<Row> act, aff, dev, iss, cred, reb;
    for (const auto& [hour, r] : activity) {
      act.push_back({hour, device, r->os_version, r->app_version.value_or(""), r->enclave_version});
    }
    RETURN_IF_ERROR(InsertRows(
        c, "INSERT INTO fleet_activity (hour, device, os_version, app_version, enclave_version)", 5, act,
        "ON CONFLICT (hour, device) DO UPDATE SET os_version = excluded.os_version, "
        "app_version = excluded.app_version, enclave_version = excluded.enclave_version"));
    for (const auto& [key, v] : affected) {
      const fleet::Report* r = v.first;
      aff.push_back({key.first, key.second, std::string(kSourceDevice), device, r->os_version,
                     r->app_version.value_or(""), r->enclave_version, r->token.value_or(""), v.second.first,
                     v.second.second});
    }
    RETURN_IF_ERROR(UpsertAffected(c, aff));
    for (const auto& [cause, span] : spans) {
      dev.push_back({cause, std::string(kSourceDevice), device, span.first, span.second});
      iss.push_back({cause, std::string(kSourceDevice), span.first, span.second});
    }
    RETURN_IF_ERROR(UpsertIssueDevices(c, dev));
    for (const auto& [key, first] : credentials) {
      const size_t nul = key.find('\0');
      cred.push_back({key.substr(0, nul), std::string(kSourceDevice), key.substr(nul + 1), device, first});
    }
    RETURN_IF_ERROR(UpsertIssueCredentials(c, cred));
    for (const auto& [cause, span] : spans) {
      ASSIGN_OR_RETURN(auto issue_before, ReadIssueOn(c, cause, kSourceDevice));
      out.touched[{cause, kSourceDevice}].before = std::move(issue_before);
    }
    RETURN_IF_ERROR(UpsertIssues(c, iss, batch.received));
    for (const auto& [replaced, time] : rebinds) reb.push_back({device, replaced, time});
    RETURN_IF_ERROR(InsertRows(c, "INSERT INTO fleet_rebinds (device, replaced_credential_id, time)", 3, reb,
                               "ON CONFLICT (device, replaced_credential_id) DO UPDATE SET time = " +
                                   Least(c.dialect()) + "(fleet_rebinds.time, excluded.time)"));
    if (spans.empty() && rebinds.empty()) return After(c, before, {});
    return After(c, before, {device});
  }

  // The touched devices, locked, with their memberships before this transaction's writes.
  static Result<std::map<std::string, Memberships>> Before(Connection& c,
                                                           const std::set<std::string>& devices) {
    RETURN_IF_ERROR(LockDevices(c, devices));
    std::map<std::string, Memberships> out;
    for (const std::string& d : devices) {
      ASSIGN_OR_RETURN(out[d], LoadMemberships(c, d));
    }
    return out;
  }

  // After the writes: the distinct counts' change, and for the devices given a failure or a
  // re-bind, their first re-bind after their first failure of every issue (which either side of
  // that pair may have moved).
  static Status After(Connection& c, const std::map<std::string, Memberships>& before,
                      const std::set<std::string>& rebind_side) {
    DistinctDeltas deltas;
    for (const auto& [device, old] : before) {
      ASSIGN_OR_RETURN(auto now, LoadMemberships(c, device));
      AddDistinctDeltas(old, now, deltas);
    }
    for (const std::string& device : rebind_side) {
      RETURN_IF_ERROR(
          c.Exec("UPDATE fleet_issue_devices SET rebound_at = (SELECT MIN(r.time) FROM "
                 "fleet_rebinds r WHERE r.device = fleet_issue_devices.device AND r.time >= "
                 "fleet_issue_devices.first_time) WHERE device = $1",
                 {device}));
    }
    return ApplyDistinctDeltas(c, deltas);
  }

  Pool& pool_;
  std::mutex partitions_mu_;
  std::set<int64_t> partitions_;  // days known to have a partition
};

}  // namespace

size_t RowsPerStatement(Dialect d, size_t columns) {
  return d == Dialect::kPostgres ? std::max<size_t>(1, 30000 / columns) : std::max<size_t>(1, 600 / columns);
}

Result<std::vector<Row>> InsertRows(Connection& c, const std::string& head, size_t columns,
                                    const std::vector<Row>& rows, const std::string& tail) {
  std::vector<Row> out;
  const size_t per = RowsPerStatement(c.dialect(), columns);
  for (size_t start = 0; start < rows.size(); start += per) {
    const size_t end = std::min(rows.size(), start + per);
    std::string sql = head + " VALUES ";
    std::vector<Value> params;
    params.reserve((end - start) * columns);
    for (size_t i = start; i < end; ++i) {
      sql += i == start ? "(" : ", (";
      for (size_t k = 0; k < columns; ++k) {
        params.push_back(rows[i][k]);
        sql += (k ? ", $" : "$") + std::to_string(params.size());
      }
      sql += ")";
    }
    sql += " " + tail;
    ASSIGN_OR_RETURN(auto result, c.Exec(sql, params));
    for (auto& row : result.rows) out.push_back(std::move(row));
  }
  return out;
}

std::unique_ptr<FleetStore> MakeFleetStore(Pool& pool) { return std::make_unique<SqlFleetStore>(pool); }

}  // namespace enclave::rp::sql
