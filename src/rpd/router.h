// Routing and the small parsers that read request bytes before the relying party sees them: the
// target's path (percent-decoding), the media type and the JSON nesting depth. Fuzzed
// (fuzz/route_fuzzer.cpp).
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace enclave::rpd {

enum class RouteId {
  kRegistrationOptions,    // POST /v1/registration/options
  kRegistration,           // POST /v1/registration
  kAuthenticationOptions,  // POST /v1/authentication/options
  kAuthentication,         // POST /v1/authentication
  kUserCredentials,        // GET /v1/users/{user}/credentials (admin)
  kDeleteCredential,       // DELETE /v1/credentials/{id} (admin)
  kApproveCredential,      // POST /v1/credentials/{id}/approve (admin)
  kReportDead,             // POST /v1/reports/dead
  kHealth,                 // GET /healthz
  kMetrics,                // GET /metrics
  kDemo,                   // GET /demo
  kFleetOverview,          // GET /fleet (the dashboard, rpd/dashboard.h)
  kFleetLogin,             // POST /fleet/login
  kFleetLogout,            // POST /fleet/logout
  kFleetIssue,             // GET /fleet/issues/{id}
  kFleetStatic,            // GET /fleet/static/{file}
  kReports,                // POST /v1/reports (a device's signed batch, docs/fleet.md)
  kFleetSummary,           // GET /v1/fleet/summary (admin)
  kFleetIssues,            // GET /v1/fleet/issues (admin)
  kFleetIssueDoc,          // GET /v1/fleet/issues/{id} (admin)
  kFleetResolve,           // POST /v1/fleet/issues/{id}/resolve (admin)
  kFleetExport,            // GET /v1/fleet/export (admin)
};

struct Route {
  RouteId id;
  const char* method;   // the one method the route answers
  const char* pattern;  // the route template, for logs and metrics (never the user or id itself)
  std::string param;    // {user} or {id}, percent-decoded
};

// Finds the route of a path (the query is ignored). nullopt: no such path (404). A path that
// exists under another method comes back with its own `method`, and the caller answers 405.
// A segment that does not percent-decode, or decodes to a '/' or a NUL, matches nothing.
std::optional<Route> MatchRoute(std::string_view target);

// The query of a target as name -> value, each percent-decoded ('+' is a space); nullopt for a
// broken escape, an empty or repeated name, or more than 16 parameters.
std::optional<std::map<std::string, std::string>> ParseQuery(std::string_view target);

// %XX decoding of one path segment; nullopt on a broken escape.
std::optional<std::string> PercentDecode(std::string_view segment);

// Whether a Content-Type names application/json (parameters such as charset allowed).
bool IsJsonMediaType(std::string_view content_type);

}  // namespace enclave::rpd
