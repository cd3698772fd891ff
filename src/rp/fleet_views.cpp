// The fleet view's documents (docs/fleet.md, "Admin API"): the summary, the issues, one issue, the
// export. The dashboard renders exactly these, so every number on its pages is one of these.
#include <algorithm>
#include <cmath>

#include "fleet/report.h"
#include "rp/fleet.h"

namespace enclave::rp {
namespace {

using nlohmann::json;

constexpr int64_t kDefaultSpan = 7 * 86400;
constexpr int64_t kMaxSpan = 400 * 86400;
constexpr int64_t kDefaultExportLimit = 10000;
constexpr int64_t kMaxExportLimit = 100000;
constexpr int64_t kMaxCredentialIds = 1000;

Error QueryInvalid(std::string message) {
  return OSStatusError(errsec::kParam, std::move(message))
      .WithCause(fleet_reason::kQueryInvalid)
      .WithInfo("http_status", 400);
}

// RFC 3339 (as the reports write it) or epoch seconds.
Result<int64_t> ParseInstant(const std::string& name, const std::string& text) {
  if (!text.empty() && text.size() <= 12 &&
      std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    const int64_t t = std::stoll(text);
    if (t >= 946684800 && t <= 253402300799) return t;
  } else if (auto t = fleet::ParseTime(text); t.ok()) {
    return *t;
  }
  return QueryInvalid(name +
                      " must be RFC 3339 UTC (YYYY-MM-DDTHH:MM:SSZ) or epoch seconds from the year 2000");
}

struct Window {
  int64_t since, until, from_hour, to_hour;
};

Result<Window> WindowOf(const Fleet::Query& q, int64_t now) {
  for (const auto& [key, value] : q) {
    if (key != "since" && key != "until" && key != "format" && key != "limit") {
      return QueryInvalid("unknown query parameter (since, until, format, limit)");
    }
  }
  Window w{};
  w.until = now + 1;
  if (auto it = q.find("until"); it != q.end()) {
    ASSIGN_OR_RETURN(w.until, ParseInstant("until", it->second));
  }
  w.since = w.until - kDefaultSpan;
  if (auto it = q.find("since"); it != q.end()) {
    ASSIGN_OR_RETURN(w.since, ParseInstant("since", it->second));
  }
  if (w.since >= w.until) return QueryInvalid("since must be before until");
  if (w.until - w.since > kMaxSpan) return QueryInvalid("the window is longer than 400 days");
  w.from_hour = w.since / 3600;
  w.to_hour = (w.until - 1) / 3600;
  return w;
}

double Fraction(int64_t part, int64_t whole) { return whole > 0 ? double(part) / double(whole) : 0.0; }

std::string IssueId(const std::string& source, const std::string& cause) { return source + "." + cause; }

Result<std::pair<std::string, std::string>> SplitIssueId(const std::string& id) {
  const size_t dot = id.find('.');
  if (dot != std::string::npos) {
    std::string source = id.substr(0, dot), cause = id.substr(dot + 1);
    if ((source == kSourceDevice || source == kSourceServer) && !cause.empty() && cause.size() <= 64) {
      return std::pair{cause, source};
    }
  }
  return OSStatusError(errsec::kItemNotFound, "no such issue (ids are device.<cause> or server.<cause>)")
      .WithCause(fleet_reason::kIssueUnknown)
      .WithInfo("http_status", 404);
}

// Nearest rank: the smallest value with at least p of the values at or below it.
int64_t Percentile(const std::vector<int64_t>& sorted, double p) {
  const size_t rank = static_cast<size_t>(std::ceil(p * double(sorted.size())));
  return sorted[std::min(sorted.size() - 1, rank == 0 ? 0 : rank - 1)];
}

// A spreadsheet must not read a field as a formula.
std::string CsvField(const std::string& v, bool text) {
  std::string s = v;
  if (text && !s.empty() && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@')) s = "'" + s;
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::string Fleet::ShownState(const IssueRecord& issue, int64_t now) const {
  if (issue.state != kIssueOpen) return issue.state;
  return issue.first_seen >= now - config_.new_hours * 3600 ? "new" : "ongoing";
}

Result<json> Fleet::IssueJson(const IssueRecord& issue, int64_t now) {
  ASSIGN_OR_RETURN(auto rebinds, fleet_.IssueRebindTimes(issue.cause, issue.source));
  const std::vector<int64_t>& ttr = rebinds.seconds;
  json time_to_rebind = {{"count", ttr.size()}, {"median", nullptr}, {"p90", nullptr}};
  if (!ttr.empty()) {
    time_to_rebind["median"] = Percentile(ttr, 0.5);
    time_to_rebind["p90"] = Percentile(ttr, 0.9);
  }
  json versions = json::object();
  for (const char* dim : {"os_version", "app_version", "enclave_version"}) {
    ASSIGN_OR_RETURN(auto values, fleet_.IssueVersions(issue.cause, issue.source, dim));
    std::sort(values.begin(), values.end(), [](const auto& a, const auto& b) { return VersionLess(a, b); });
    versions[dim] = values;
  }
  return json{{"id", IssueId(issue.source, issue.cause)},
              {"cause", issue.cause},
              {"source", issue.source},
              {"state", ShownState(issue, now)},
              {"first_seen", fleet::FormatTime(issue.first_seen)},
              {"last_seen", fleet::FormatTime(issue.last_seen)},
              {"state_since", fleet::FormatTime(issue.state_since)},
              {"devices_affected", rebinds.devices},
              {"devices_rebound", ttr.size()},
              {"time_to_rebind_seconds", time_to_rebind},
              {"versions", versions}};
}

Result<json> Fleet::Summary(const Query& q) {
  RETURN_IF_ERROR(Flush());
  const int64_t now = clock_();
  ASSIGN_OR_RETURN(Window w, WindowOf(q, now));
  ASSIGN_OR_RETURN(int64_t active, fleet_.ActiveDevices(w.from_hour, w.to_hour));
  ASSIGN_OR_RETURN(int64_t affected, fleet_.AffectedDevices(w.from_hour, w.to_hour));
  ASSIGN_OR_RETURN(auto causes, fleet_.Causes(w.from_hour, w.to_hour));
  ASSIGN_OR_RETURN(auto issues, fleet_.Issues());
  std::map<std::pair<std::string, std::string>, const IssueRecord*> by_key;
  for (const auto& i : issues) by_key[{i.cause, i.source}] = &i;

  json by_cause = json::array();
  for (const CauseTotals& c : causes) {
    ASSIGN_OR_RETURN(int64_t rebound,
                     fleet_.IssueRebound(c.cause, c.source, w.from_hour, w.to_hour, w.until));
    auto it = by_key.find({c.cause, c.source});
    by_cause.push_back({{"issue_id", IssueId(c.source, c.cause)},
                        {"cause", c.cause},
                        {"source", c.source},
                        {"state", it == by_key.end() ? "new" : ShownState(*it->second, now)},
                        {"affected_devices", c.affected_devices},
                        {"fraction", Fraction(c.affected_devices, active)},
                        {"events", c.events},
                        {"found_by_doctor", c.found_by_doctor},
                        {"rebound_devices", rebound}});
  }
  json by_version = json::array();
  for (const char* dim : {"os_version", "app_version", "enclave_version", "token"}) {
    std::map<std::string, int64_t> actives;
    if (std::string_view(dim) != "token") {
      ASSIGN_OR_RETURN(actives, fleet_.ActiveBy(dim, w.from_hour, w.to_hour));
    }
    ASSIGN_OR_RETURN(auto affecteds, fleet_.AffectedBy(dim, w.from_hour, w.to_hour));
    std::vector<std::string> values;
    for (const auto& [v, n] : actives) values.push_back(v);
    for (const auto& [v, n] : affecteds) {
      if (!actives.count(v)) values.push_back(v);
    }
    std::sort(values.begin(), values.end(), [](const auto& a, const auto& b) { return VersionLess(a, b); });
    for (const std::string& v : values) {
      // Heartbeats do not say which token a device's keys are on: the token rows' denominator is
      // every active device.
      const int64_t denominator = std::string_view(dim) == "token" ? active : actives[v];
      const int64_t part = affecteds.count(v) ? affecteds[v] : 0;
      by_version.push_back({{"dimension", dim},
                            {"value", v},
                            {"active_devices", denominator},
                            {"affected_devices", part},
                            {"fraction", Fraction(part, denominator)}});
    }
  }
  ASSIGN_OR_RETURN(auto active_series, fleet_.ActiveSeries(w.from_hour, w.to_hour));
  ASSIGN_OR_RETURN(auto points, fleet_.AffectedSeries(w.from_hour, w.to_hour, std::nullopt, std::nullopt));
  json series = json::array();
  for (const SeriesPoint& p : points) {
    const int64_t denominator = active_series.count(p.hour) ? active_series[p.hour] : 0;
    series.push_back({{"hour", fleet::FormatTime(p.hour * 3600)},
                      {"cause", p.cause},
                      {"source", p.source},
                      {"affected_devices", p.devices},
                      {"active_devices", denominator},
                      {"fraction", Fraction(p.devices, denominator)}});
  }
  ASSIGN_OR_RETURN(auto counters, fleet_.Counters(w.from_hour, w.to_hour));
  json refused = json::object();
  int64_t dropped = 0;
  for (const auto& [name, n] : counters) {
    if (name.rfind("refused:", 0) == 0) refused[name.substr(8)] = n;
    if (name == "dropped") dropped = n;
  }
  return json{{"since", fleet::FormatTime(w.since)},
              {"until", fleet::FormatTime(w.until)},
              {"active_devices", active},
              {"affected_devices", affected},
              {"affected_fraction", Fraction(affected, active)},
              {"by_cause", by_cause},
              {"by_version", by_version},
              {"series", series},
              {"refused_batches", refused},
              {"dropped_reports", dropped}};
}

Result<json> Fleet::Issues() {
  RETURN_IF_ERROR(Flush());
  const int64_t now = clock_();
  ASSIGN_OR_RETURN(auto issues, fleet_.Issues());
  json out = json::array();
  for (const auto& i : issues) {
    ASSIGN_OR_RETURN(json doc, IssueJson(i, now));
    out.push_back(std::move(doc));
  }
  return json{{"issues", out}};
}

Result<json> Fleet::Issue(const std::string& id, const Query& q) {
  RETURN_IF_ERROR(Flush());
  const int64_t now = clock_();
  ASSIGN_OR_RETURN(auto key, SplitIssueId(id));
  ASSIGN_OR_RETURN(Window w, WindowOf(q, now));
  ASSIGN_OR_RETURN(auto issue, fleet_.Issue(key.first, key.second));
  if (!issue) return SplitIssueId("").error();
  ASSIGN_OR_RETURN(json doc, IssueJson(*issue, now));
  ASSIGN_OR_RETURN(auto active_series, fleet_.ActiveSeries(w.from_hour, w.to_hour));
  ASSIGN_OR_RETURN(auto points, fleet_.AffectedSeries(w.from_hour, w.to_hour, key.first, key.second));
  json series = json::array();
  for (const SeriesPoint& p : points) {
    const int64_t denominator = active_series.count(p.hour) ? active_series[p.hour] : 0;
    series.push_back({{"hour", fleet::FormatTime(p.hour * 3600)},
                      {"affected_devices", p.devices},
                      {"active_devices", denominator},
                      {"fraction", Fraction(p.devices, denominator)}});
  }
  doc["since"] = fleet::FormatTime(w.since);
  doc["until"] = fleet::FormatTime(w.until);
  doc["series"] = series;
  ASSIGN_OR_RETURN(auto credentials, fleet_.IssueCredentials(key.first, key.second, kMaxCredentialIds));
  doc["credential_ids"] = credentials;
  return doc;
}

Result<json> Fleet::Resolve(const std::string& id) {
  ASSIGN_OR_RETURN(auto key, SplitIssueId(id));
  // Two tries: a concurrent transition (another node, a new failure) may move it meanwhile.
  for (int attempt = 0; attempt < 2; ++attempt) {
    ASSIGN_OR_RETURN(auto issue, fleet_.Issue(key.first, key.second));
    if (!issue) return SplitIssueId("").error();
    if (issue->state == kIssueResolved) break;
    RETURN_IF_ERROR(Transition(*issue, kIssueResolved, nullptr));
  }
  return Issue(id, {});
}

Result<Fleet::Exported> Fleet::Export(const Query& q) {
  RETURN_IF_ERROR(Flush());
  const int64_t now = clock_();
  ASSIGN_OR_RETURN(Window w, WindowOf(q, now));
  std::string format = "json";
  if (auto it = q.find("format"); it != q.end()) format = it->second;
  if (format != "json" && format != "csv") return QueryInvalid("format must be json or csv");
  int64_t limit = kDefaultExportLimit;
  if (auto it = q.find("limit"); it != q.end()) {
    const std::string& v = it->second;
    if (v.empty() || v.size() > 7 ||
        !std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; }) || std::stoll(v) < 1 ||
        std::stoll(v) > kMaxExportLimit) {
      return QueryInvalid("limit must be 1.." + std::to_string(kMaxExportLimit));
    }
    limit = std::stoll(v);
  }
  ASSIGN_OR_RETURN(auto rows, fleet_.Reports(w.since, w.until, limit + 1));
  Exported out;
  out.truncated = static_cast<int64_t>(rows.size()) > limit;
  if (out.truncated) rows.resize(static_cast<size_t>(limit));
  // The device appears as the SHA-256 of its key (the store never holds it in another form).
  if (format == "json") {
    json arr = json::array();
    for (const auto& r : rows) {
      json j = fleet::ReportToJson(r.report);
      j["device"] = r.device;
      j["received"] = fleet::FormatTime(r.received);
      arr.push_back(std::move(j));
    }
    out.content_type = "application/json";
    out.body = arr.dump();
    return out;
  }
  static const std::vector<std::string> kColumns = {"id",
                                                    "time",
                                                    "received",
                                                    "device",
                                                    "kind",
                                                    "credential_id",
                                                    "kid_hash",
                                                    "operation",
                                                    "domain",
                                                    "code",
                                                    "cause",
                                                    "permanence",
                                                    "remedy",
                                                    "found_by",
                                                    "token",
                                                    "prompted",
                                                    "enclave_version",
                                                    "os_id",
                                                    "os_version",
                                                    "kernel",
                                                    "app_id",
                                                    "app_version",
                                                    "replaced_credential_id",
                                                    "keys"};
  std::string body;
  for (size_t i = 0; i < kColumns.size(); ++i) body += (i ? "," : "") + kColumns[i];
  body += "\r\n";
  for (const auto& r : rows) {
    json j = fleet::ReportToJson(r.report);
    j["device"] = r.device;
    j["received"] = fleet::FormatTime(r.received);
    for (size_t i = 0; i < kColumns.size(); ++i) {
      if (i) body += ",";
      auto it = j.find(kColumns[i]);
      if (it == j.end()) continue;
      if (it->is_string()) {
        body += CsvField(it->get<std::string>(), true);
      } else {
        body += CsvField(it->dump(), !it->is_number());
      }
    }
    body += "\r\n";
  }
  out.content_type = "text/csv; charset=utf-8";
  out.body = std::move(body);
  return out;
}

}  // namespace enclave::rp
