// The overview and issue pages. Each number is written as
//   <td data-api="summary.by_cause.0.fraction" data-value="0.003">0.300 %</td>
// naming where in which API document it comes from and its exact value there, so a test (or a
// curious operator) can check every number on a page against the API.
#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "rpd/dashboard_html.h"

namespace enclave::rpd::dashboard {
namespace {

using nlohmann::json;

enum class Format { kCount, kPercent, kDuration, kTime };

std::string Formatted(const json& v, Format f) {
  switch (f) {
    case Format::kCount:
      return Count(v);
    case Format::kPercent:
      return Percent(v);
    case Format::kDuration:
      return Duration(v);
    case Format::kTime:
      return Time(v);
  }
  return "—";
}

// One element holding one number of an API document.
std::string Number(const char* tag, const std::string& path, const json& v, Format f,
                   const std::string& extra = "") {
  std::string out = std::string("<") + tag + " data-api=\"" + Escape(path) + "\" data-value=\"" +
                    Escape(Raw(v)) + "\"" + extra + ">";
  if (f == Format::kTime && (v.is_string() || v.is_number())) {
    out += "<time datetime=\"" + Escape(Time(v)) + "\">" + Escape(ShortTime(v)) + "</time>";
  } else {
    out += Escape(Formatted(v, f));
  }
  return out + "</" + tag + ">";
}

std::string Td(const std::string& path, const json& v, Format f) {
  return Number("td", path, v, f, f == Format::kTime ? "" : " class=\"num\"");
}

std::string Text(const json& v) { return v.is_string() ? v.get<std::string>() : Raw(v); }

// A device only seen logging in has no reported version: the API's empty value.
std::string VersionLabel(const json& v) {
  std::string s = Text(v);
  return s.empty() ? "(not reported)" : s;
}

std::string StateBadge(const json& state) {
  static const std::set<std::string> kStates = {"new", "ongoing", "escalating", "regressed", "resolved"};
  std::string s = Text(state);
  std::string cls = kStates.count(s) ? " state-" + s : "";
  return "<span class=\"state" + cls + "\">" + Escape(s.empty() ? "—" : s) + "</span>";
}

std::string IssueLink(const json& id, const json& cause) {
  std::string label = Escape(Text(cause).empty() ? "(no cause)" : Text(cause));
  if (!(id.is_string() || id.is_number_integer())) return label;
  return "<a href=\"/fleet/issues/" + Escape(PathSegment(Raw(id))) + "\">" + label + "</a>";
}

const json& Array(const json& doc, std::string_view key) {
  static const json kEmpty = json::array();
  const json& v = Field(doc, key);
  return v.is_array() ? v : kEmpty;
}

// A chart for dashboard.js: {"type","labels","datasets":[{"label","data"}],"y":"fraction"}, in a
// JSON script element beside its canvas.
std::string Chart(const std::string& id, const std::string& description, const json& spec) {
  return "<div class=\"chart\"><canvas id=\"" + id + "\" role=\"img\" aria-label=\"" + Escape(description) +
         "\"></canvas></div><script type=\"application/json\" data-chart-for=\"" + id + "\">" +
         ScriptJson(spec) + "</script>";
}

// Every hour from the first to the last one a series names, as RFC 3339 text: the API leaves out
// hours in which nothing failed, and a chart that skipped them would draw a day's gap as one step.
// At most 400 days of hours (the API's longest window); past that, the hours the API gave.
std::vector<std::string> HourAxis(const std::vector<std::string>& given) {
  std::optional<int64_t> lo, hi;
  for (const auto& h : given) {
    auto t = EpochOf(json(h));
    if (!t) return given;
    lo = lo ? std::min(*lo, *t) : *t;
    hi = hi ? std::max(*hi, *t) : *t;
  }
  if (!lo || (*hi - *lo) / 3600 > 400 * 24) return given;
  std::vector<std::string> out;
  for (int64_t t = *lo - *lo % 3600; t <= *hi; t += 3600) out.push_back(Time(json(t)));
  return out;
}

// The series by (cause, source) as one line each over every hour; an hour the API gave no row for
// is 0 affected devices (the API leaves those out).
json SeriesChart(const json& series) {
  std::vector<std::string> given;
  std::map<std::pair<std::string, std::string>, std::map<std::string, json>> lines;
  for (const json& row : series) {
    std::string hour = Time(Field(row, "hour"));
    given.push_back(hour);
    lines[{Text(Field(row, "cause")), Text(Field(row, "source"))}][hour] = Field(row, "fraction");
  }
  std::sort(given.begin(), given.end());
  given.erase(std::unique(given.begin(), given.end()), given.end());
  std::vector<std::string> hours = HourAxis(given);
  json datasets = json::array();
  for (const auto& [key, values] : lines) {
    json data = json::array();
    for (const auto& h : hours) data.push_back(values.count(h) ? values.at(h) : json(0));
    datasets.push_back({{"label", key.first + " (" + key.second + ")"}, {"data", data}});
  }
  return {{"type", "line"}, {"labels", hours}, {"datasets", datasets}, {"y", "fraction"}};
}

std::string Totals(const json& s) {
  std::string out =
      "<section aria-labelledby=\"totals-h\"><h2 id=\"totals-h\">Devices in this window</h2><dl "
      "class=\"totals\">";
  out += "<div><dt>Active devices</dt>" +
         Number("dd", "summary.active_devices", Field(s, "active_devices"), Format::kCount,
                " id=\"active-devices\"") +
         "</div>";
  out += "<div><dt>Affected devices</dt>" +
         Number("dd", "summary.affected_devices", Field(s, "affected_devices"), Format::kCount,
                " id=\"affected-devices\"") +
         "</div>";
  out += "<div><dt>Affected fraction</dt>" +
         Number("dd", "summary.affected_fraction", Field(s, "affected_fraction"), Format::kPercent,
                " id=\"affected-fraction\"") +
         "</div>";
  out += "<div><dt>Reports dropped by devices</dt>" +
         Number("dd", "summary.dropped_reports", Field(s, "dropped_reports"), Format::kCount,
                " id=\"dropped-reports\"") +
         "</div>";
  out += "<div><dt>Refused batches</dt><dd id=\"refused-batches\">";
  const json& refused = Field(s, "refused_batches");
  if (!refused.is_object() || refused.empty()) {
    out += "none";
  } else {
    out += "<ul class=\"plain\">";
    for (const auto& [reason, n] : refused.items()) {
      out += "<li>" + Escape(reason) + ": " +
             Number("span", "summary.refused_batches." + reason, n, Format::kCount) + "</li>";
    }
    out += "</ul>";
  }
  out += "</dd></div></dl></section>";
  return out;
}

std::string ByCause(const json& s) {
  const json& rows = Array(s, "by_cause");
  std::string out =
      "<section aria-labelledby=\"causes-h\"><h2 id=\"causes-h\">Causes in this window</h2>"
      "<p class=\"note\">Fractions are of the active devices above. <q>Source</q> tells a device's dead key "
      "(device) from the server's own refusal (server).</p><div class=\"scroll\" tabindex=\"0\" "
      "role=\"region\" "
      "aria-labelledby=\"causes-h\"><table id=\"by-cause\"><thead><tr><th scope=\"col\">Cause</th>"
      "<th scope=\"col\">Source</th><th scope=\"col\">State</th><th scope=\"col\">Affected devices</th>"
      "<th scope=\"col\">Fraction</th><th scope=\"col\">Events</th><th scope=\"col\">Found by doctor</th>"
      "<th scope=\"col\">Re-bound devices</th></tr></thead><tbody>";
  if (rows.empty()) out += "<tr><td colspan=\"8\">No failures in this window.</td></tr>";
  for (size_t i = 0; i < rows.size(); ++i) {
    const json& r = rows[i];
    std::string p = "summary.by_cause." + std::to_string(i) + ".";
    out += "<tr><th scope=\"row\">" + IssueLink(Field(r, "issue_id"), Field(r, "cause")) + "</th><td>" +
           Escape(Text(Field(r, "source"))) + "</td><td>" + StateBadge(Field(r, "state")) + "</td>" +
           Td(p + "affected_devices", Field(r, "affected_devices"), Format::kCount) +
           Td(p + "fraction", Field(r, "fraction"), Format::kPercent) +
           Td(p + "events", Field(r, "events"), Format::kCount) +
           Td(p + "found_by_doctor", Field(r, "found_by_doctor"), Format::kCount) +
           Td(p + "rebound_devices", Field(r, "rebound_devices"), Format::kCount) + "</tr>";
  }
  return out + "</tbody></table></div></section>";
}

std::string Versions(const json& versions) {
  std::string out;
  for (const char* dim : {"os_version", "app_version", "enclave_version"}) {
    const json& list = Field(versions, dim);
    if (!list.is_array() || list.empty()) continue;
    std::string joined;
    for (const json& v : list) joined += (joined.empty() ? "" : ", ") + Escape(Text(v));
    out += std::string(out.empty() ? "" : "; ") + dim + ": " + joined;
  }
  return out.empty() ? "—" : out;
}

std::string IssueTable(const json& issues) {
  const json& rows = Array(issues, "issues");
  std::string out =
      "<section aria-labelledby=\"issues-h\" id=\"issues\"><h2 id=\"issues-h\">Issues</h2>"
      "<div class=\"scroll\" tabindex=\"0\" role=\"region\" aria-labelledby=\"issues-h\"><table "
      "id=\"issue-table\">"
      "<thead><tr><th scope=\"col\">Cause</th><th scope=\"col\">Source</th><th scope=\"col\">State</th>"
      "<th scope=\"col\">Devices affected</th><th scope=\"col\">Devices re-bound</th>"
      "<th scope=\"col\">Time to re-bind, median</th><th scope=\"col\">p90</th><th "
      "scope=\"col\">Re-binds</th>"
      "<th scope=\"col\">First seen</th><th scope=\"col\">Last seen</th><th scope=\"col\">Versions</th></tr>"
      "</thead><tbody>";
  if (rows.empty()) out += "<tr><td colspan=\"11\">No issues.</td></tr>";
  for (size_t i = 0; i < rows.size(); ++i) {
    const json& r = rows[i];
    const json& ttr = Field(r, "time_to_rebind_seconds");
    std::string p = "issues.issues." + std::to_string(i) + ".";
    out += "<tr><th scope=\"row\">" + IssueLink(Field(r, "id"), Field(r, "cause")) + "</th><td>" +
           Escape(Text(Field(r, "source"))) + "</td><td>" + StateBadge(Field(r, "state")) + "</td>" +
           Td(p + "devices_affected", Field(r, "devices_affected"), Format::kCount) +
           Td(p + "devices_rebound", Field(r, "devices_rebound"), Format::kCount) +
           Td(p + "time_to_rebind_seconds.median", Field(ttr, "median"), Format::kDuration) +
           Td(p + "time_to_rebind_seconds.p90", Field(ttr, "p90"), Format::kDuration) +
           Td(p + "time_to_rebind_seconds.count", Field(ttr, "count"), Format::kCount) +
           Td(p + "first_seen", Field(r, "first_seen"), Format::kTime) +
           Td(p + "last_seen", Field(r, "last_seen"), Format::kTime) + "<td>" +
           Versions(Field(r, "versions")) + "</td></tr>";
  }
  return out + "</tbody></table></div></section>";
}

std::string ByVersion(const json& s) {
  const json& rows = Array(s, "by_version");
  std::string out =
      "<section aria-labelledby=\"versions-h\" id=\"versions\"><h2 id=\"versions-h\">By version</h2>";
  // The OS versions as bars: the field report's question ("on which OS version?") at a glance.
  json labels = json::array(), data = json::array();
  for (const json& r : rows) {
    if (Text(Field(r, "dimension")) != "os_version") continue;
    labels.push_back(VersionLabel(Field(r, "value")));
    data.push_back(Field(r, "fraction"));
  }
  if (!labels.empty()) {
    out += Chart("version-chart", "Affected fraction by OS version",
                 {{"type", "bar"},
                  {"labels", labels},
                  {"datasets", json::array({{{"label", "affected fraction by OS version"}, {"data", data}}})},
                  {"y", "fraction"}});
  }
  const std::vector<std::pair<std::string, std::string>> kDimensions = {
      {"os_version", "OS version"},
      {"app_version", "App version"},
      {"enclave_version", "enclave version"},
      {"token", "Token"}};
  bool any = false;
  for (const auto& [dim, title] : kDimensions) {
    std::string body;
    for (size_t i = 0; i < rows.size(); ++i) {
      const json& r = rows[i];
      if (Text(Field(r, "dimension")) != dim) continue;
      std::string p = "summary.by_version." + std::to_string(i) + ".";
      body += "<tr><th scope=\"row\">" + Escape(VersionLabel(Field(r, "value"))) + "</th>" +
              Td(p + "active_devices", Field(r, "active_devices"), Format::kCount) +
              Td(p + "affected_devices", Field(r, "affected_devices"), Format::kCount) +
              Td(p + "fraction", Field(r, "fraction"), Format::kPercent) + "</tr>";
    }
    if (body.empty()) continue;
    any = true;
    out += "<div class=\"scroll\" tabindex=\"0\" role=\"region\" aria-label=\"" + title +
           "\"><table class=\"versions\" data-dimension=\"" + dim + "\"><caption>" + title +
           "</caption><thead><tr><th scope=\"col\">" + title +
           "</th><th scope=\"col\">Active devices</th><th scope=\"col\">Affected devices</th>"
           "<th scope=\"col\">Fraction</th></tr></thead><tbody>" +
           body + "</tbody></table></div>";
  }
  if (!any) out += "<p>No devices in this window.</p>";
  return out + "</section>";
}

std::string WindowLinks(const json& s) {
  return "<p class=\"window\">From " +
         Number("span", "summary.since", Field(s, "since"), Format::kTime, " id=\"since\"") + " to " +
         Number("span", "summary.until", Field(s, "until"), Format::kTime, " id=\"until\"") +
         ".</p><nav aria-label=\"Window\" class=\"windows\"><ul><li><a href=\"/fleet?window=1d\">Last 24 "
         "hours</a></li>"
         "<li><a href=\"/fleet?window=7d\">Last 7 days</a></li><li><a href=\"/fleet?window=30d\">Last 30 "
         "days</a></li>"
         "<li><a href=\"/fleet?window=90d\">Last 90 days</a></li></ul></nav>";
}

}  // namespace

std::string OverviewPage(const json& summary, const json& issues) {
  std::string body = "<h1>Fleet overview</h1>" + WindowLinks(summary) + Totals(summary);
  body +=
      "<section aria-labelledby=\"series-h\"><h2 id=\"series-h\">Affected devices over time, by cause</h2>"
      "<p class=\"note\">Each hour: the devices affected by a cause, as a fraction of the devices active in "
      "that hour.</p>";
  const json& series = Array(summary, "series");
  body += Chart("series-chart", "Affected-device fraction per hour by cause", SeriesChart(series));
  if (series.empty()) body += "<p>No failures in this window.</p>";
  body += "</section>" + ByCause(summary) + IssueTable(issues) + ByVersion(summary);
  return Frame({"Overview", true}, body);
}

std::string IssuePage(const json& issue) {
  std::string cause = Text(Field(issue, "cause")), source = Text(Field(issue, "source"));
  const json& ttr = Field(issue, "time_to_rebind_seconds");
  std::string body = "<p><a href=\"/fleet\">Back to the overview</a></p><h1>" + Escape(cause) +
                     " <span class=\"source\">(" + Escape(source) + ")</span></h1><p>" +
                     StateBadge(Field(issue, "state")) + "</p><dl class=\"totals\">";
  auto item = [&](const char* label, const std::string& path, const json& v, Format f) {
    body += std::string("<div><dt>") + label + "</dt>" + Number("dd", "issue." + path, v, f) + "</div>";
  };
  item("Devices affected", "devices_affected", Field(issue, "devices_affected"), Format::kCount);
  item("Devices re-bound", "devices_rebound", Field(issue, "devices_rebound"), Format::kCount);
  item("Time to re-bind, median", "time_to_rebind_seconds.median", Field(ttr, "median"), Format::kDuration);
  item("Time to re-bind, p90", "time_to_rebind_seconds.p90", Field(ttr, "p90"), Format::kDuration);
  item("Re-binds measured", "time_to_rebind_seconds.count", Field(ttr, "count"), Format::kCount);
  item("First seen", "first_seen", Field(issue, "first_seen"), Format::kTime);
  item("Last seen", "last_seen", Field(issue, "last_seen"), Format::kTime);
  body += "</dl>";

  const json& series = Array(issue, "series");
  json rows_for_chart = json::array();
  std::string rows;
  for (size_t i = 0; i < series.size(); ++i) {
    const json& r = series[i];
    rows_for_chart.push_back({{"hour", Field(r, "hour")},
                              {"cause", cause},
                              {"source", source},
                              {"fraction", Field(r, "fraction")}});
    std::string p = "issue.series." + std::to_string(i) + ".";
    rows += "<tr>" + Td(p + "hour", Field(r, "hour"), Format::kTime) +
            Td(p + "affected_devices", Field(r, "affected_devices"), Format::kCount) +
            Td(p + "active_devices", Field(r, "active_devices"), Format::kCount) +
            Td(p + "fraction", Field(r, "fraction"), Format::kPercent) + "</tr>";
  }
  body += "<section aria-labelledby=\"series-h\"><h2 id=\"series-h\">Hourly series</h2>" +
          Chart("issue-chart", "Affected-device fraction per hour", SeriesChart(rows_for_chart)) +
          "<div class=\"scroll\" tabindex=\"0\" role=\"region\" aria-labelledby=\"series-h\"><table "
          "id=\"series\">"
          "<thead><tr><th scope=\"col\">Hour</th><th scope=\"col\">Affected devices</th>"
          "<th scope=\"col\">Active devices</th><th scope=\"col\">Fraction</th></tr></thead><tbody>" +
          (rows.empty() ? "<tr><td colspan=\"4\">No hours with this issue.</td></tr>" : rows) +
          "</tbody></table></div></section>";

  body +=
      "<section aria-labelledby=\"versions-h\"><h2 id=\"versions-h\">Versions affected</h2><dl "
      "class=\"lists\">";
  const json& versions = Field(issue, "versions");
  for (const char* dim : {"os_version", "app_version", "enclave_version"}) {
    body += std::string("<div><dt>") + dim + "</dt><dd>";
    const json& list = Field(versions, dim);
    std::string joined;
    if (list.is_array()) {
      for (const json& v : list) joined += (joined.empty() ? "" : ", ") + Escape(Text(v));
    }
    body += (joined.empty() ? "—" : joined) + "</dd></div>";
  }
  body += "</dl></section>";

  const json& ids = Array(issue, "credential_ids");
  // Thousands of ids would bury the page; the export has them all.
  constexpr size_t kShown = 200;
  body += "<section aria-labelledby=\"creds-h\"><h2 id=\"creds-h\">Affected credentials</h2><p>" +
          Number("span", "issue.credential_ids.length", json(ids.size()), Format::kCount,
                 " id=\"credential-count\"") +
          " credential ids" +
          (ids.size() > kShown ? ", the first " + std::to_string(kShown) + " shown" : "") +
          ".</p><ul class=\"ids\">";
  for (size_t i = 0; i < ids.size() && i < kShown; ++i)
    body += "<li><code>" + Escape(Text(ids[i])) + "</code></li>";
  body += "</ul></section>";
  return Frame({cause.empty() ? "Issue" : cause, true}, body);
}

}  // namespace enclave::rpd::dashboard
