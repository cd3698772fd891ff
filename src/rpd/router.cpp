#include "rpd/router.h"

#include <algorithm>
#include <array>
#include <vector>

namespace enclave::rpd {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Splits "/a/b/c" into {"a","b","c"}; an empty segment (a doubled or trailing slash) is kept, so
// "/healthz/" does not quietly mean "/healthz".
std::vector<std::string_view> Segments(std::string_view path) {
  std::vector<std::string_view> out;
  if (path.empty() || path.front() != '/') return out;
  path.remove_prefix(1);
  while (true) {
    size_t slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

struct Fixed {
  const char* path;
  RouteId id;
  const char* method;
};

constexpr std::array<Fixed, 15> kFixed = {{
    {"/v1/registration/options", RouteId::kRegistrationOptions, "POST"},
    {"/v1/registration", RouteId::kRegistration, "POST"},
    {"/v1/authentication/options", RouteId::kAuthenticationOptions, "POST"},
    {"/v1/authentication", RouteId::kAuthentication, "POST"},
    {"/v1/reports/dead", RouteId::kReportDead, "POST"},
    {"/healthz", RouteId::kHealth, "GET"},
    {"/metrics", RouteId::kMetrics, "GET"},
    {"/demo", RouteId::kDemo, "GET"},
    {"/fleet", RouteId::kFleetOverview, "GET"},
    {"/fleet/login", RouteId::kFleetLogin, "POST"},
    {"/fleet/logout", RouteId::kFleetLogout, "POST"},
    {"/v1/reports", RouteId::kReports, "POST"},
    {"/v1/fleet/summary", RouteId::kFleetSummary, "GET"},
    {"/v1/fleet/issues", RouteId::kFleetIssues, "GET"},
    {"/v1/fleet/export", RouteId::kFleetExport, "GET"},
}};

}  // namespace

std::optional<std::string> PercentDecode(std::string_view segment) {
  std::string out;
  out.reserve(segment.size());
  for (size_t i = 0; i < segment.size(); ++i) {
    if (segment[i] != '%') {
      out.push_back(segment[i]);
      continue;
    }
    if (i + 2 >= segment.size()) return std::nullopt;
    int hi = HexValue(segment[i + 1]), lo = HexValue(segment[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

std::optional<Route> MatchRoute(std::string_view target) {
  std::string_view path = target.substr(0, target.find('?'));
  for (const auto& f : kFixed) {
    if (path == f.path) return Route{f.id, f.method, f.path, {}};
  }
  auto seg = Segments(path);
  // A parameter must be non-empty and, decoded, neither hold a '/' (it would name another
  // resource) nor a NUL (the stores' strings end there).
  auto param = [](std::string_view s) -> std::optional<std::string> {
    if (s.empty()) return std::nullopt;
    auto d = PercentDecode(s);
    if (!d || d->find('/') != std::string::npos || d->find('\0') != std::string::npos) return std::nullopt;
    return d;
  };
  if (seg.size() == 4 && seg[0] == "v1" && seg[1] == "users" && seg[3] == "credentials") {
    if (auto p = param(seg[2]))
      return Route{RouteId::kUserCredentials, "GET", "/v1/users/:user/credentials", *p};
  }
  if (seg.size() == 3 && seg[0] == "v1" && seg[1] == "credentials") {
    if (auto p = param(seg[2])) return Route{RouteId::kDeleteCredential, "DELETE", "/v1/credentials/:id", *p};
  }
  if (seg.size() == 4 && seg[0] == "v1" && seg[1] == "credentials" && seg[3] == "approve") {
    if (auto p = param(seg[2]))
      return Route{RouteId::kApproveCredential, "POST", "/v1/credentials/:id/approve", *p};
  }
  if (seg.size() == 3 && seg[0] == "fleet" && seg[1] == "issues") {
    if (auto p = param(seg[2])) return Route{RouteId::kFleetIssue, "GET", "/fleet/issues/:id", *p};
  }
  if (seg.size() == 4 && seg[0] == "v1" && seg[1] == "fleet" && seg[2] == "issues") {
    if (auto p = param(seg[3])) return Route{RouteId::kFleetIssueDoc, "GET", "/v1/fleet/issues/:id", *p};
  }
  if (seg.size() == 5 && seg[0] == "v1" && seg[1] == "fleet" && seg[2] == "issues" && seg[4] == "resolve") {
    if (auto p = param(seg[3]))
      return Route{RouteId::kFleetResolve, "POST", "/v1/fleet/issues/:id/resolve", *p};
  }
  if (seg.size() == 3 && seg[0] == "fleet" && seg[1] == "static") {
    if (auto p = param(seg[2])) return Route{RouteId::kFleetStatic, "GET", "/fleet/static/:file", *p};
  }
  return std::nullopt;
}

std::optional<std::map<std::string, std::string>> ParseQuery(std::string_view target) {
  std::map<std::string, std::string> out;
  const size_t q = target.find('?');
  if (q == std::string_view::npos) return out;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    std::string_view pair = rest.substr(0, rest.find('&'));
    rest.remove_prefix(std::min(rest.size(), pair.size() + 1));
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    std::string name_text(pair.substr(0, eq)),
        value_text(eq == std::string_view::npos ? "" : pair.substr(eq + 1));
    for (auto* t : {&name_text, &value_text}) {
      for (char& c : *t) {
        if (c == '+') c = ' ';
      }
    }
    auto name = PercentDecode(name_text), value = PercentDecode(value_text);
    if (!name || !value || name->empty() || out.count(*name) || out.size() >= 16) return std::nullopt;
    out.emplace(std::move(*name), std::move(*value));
  }
  return out;
}

bool IsJsonMediaType(std::string_view content_type) {
  std::string_view type = content_type.substr(0, content_type.find(';'));
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
  while (!type.empty() && (type.front() == ' ' || type.front() == '\t')) type.remove_prefix(1);
  constexpr std::string_view kJson = "application/json";
  if (type.size() != kJson.size()) return false;
  for (size_t i = 0; i < type.size(); ++i) {
    char c = type[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kJson[i]) return false;
  }
  return true;
}

}  // namespace enclave::rpd
