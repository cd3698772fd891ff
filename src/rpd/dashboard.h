// GET /fleet and its pages (docs/fleet.md, "Dashboard"): sign-in with the admin token, a session
// cookie, the overview and a page per issue, and the static files they load. The pages are
// rendered from the admin API's documents (FleetSource), so a page shows exactly what
// GET /v1/fleet/summary and /v1/fleet/issues answer at that moment.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "rpd/admin_token.h"
#include "rpd/dashboard_session.h"
#include "rpd/http_types.h"
#include "rpd/rate_limit.h"

namespace enclave::rpd::dashboard {

// The admin API's documents, as its routes return them (docs/fleet.md, "Admin API").
class FleetSource {
 public:
  virtual ~FleetSource() = default;
  // `since`/`until` as the query gave them (RFC 3339 or epoch seconds; empty: the API's default).
  virtual Result<nlohmann::json> Summary(const std::string& since, const std::string& until) = 0;
  virtual Result<nlohmann::json> Issues() = 0;
  virtual Result<nlohmann::json> Issue(const std::string& id) = 0;
};

struct Options {
  std::optional<AdminToken> admin;  // none: nobody can sign in
  // Origins a login or logout form may be posted from besides the server's own host (--origin).
  std::vector<std::string> origins;
  bool secure_cookie = false;  // served over TLS: the cookie is Secure
  std::chrono::seconds session_ttl{std::chrono::hours(12)};
  std::shared_ptr<FleetSource> fleet;
  std::shared_ptr<SessionStore> sessions;
  // Chart.js's text (LoadChartJs), or why it could not be read.
  std::shared_ptr<const std::string> chart_js;
  std::string chart_js_error;
  // Sign-in attempts per remote address: a token is long and random, but a guessing loop should
  // still meet a wall (0: off).
  double login_rate_per_address = 1, login_burst_per_address = 10;
  // The HTTP status of an error reason of the FleetSource (the relying party's StatusOf).
  std::function<int(const std::string&)> status_of;
  std::function<int64_t()> now_ms;  // the wall clock unless a test sets it
};

// Which dashboard resource a request names (the router decides the path, this the response).
enum class Page { kOverview, kLogin, kLogout, kIssue, kStatic };

struct Handled {
  std::optional<Response> immediate;  // answered on the I/O thread (static files, refusals)
  std::function<Response()> job;      // else: on a worker (it reads the database)
};

class Dashboard {
 public:
  explicit Dashboard(Options options);

  // `param` is the issue id or the static file's name; `remote` the address rate limits key on.
  Handled Handle(Page page, const std::string& param, const Request& request, const std::string& remote);

 private:
  Response Overview(const Request& request, const std::string& session_hash);
  Response IssueDetail(const std::string& id, const std::string& session_hash);
  Response Login(const Request& request);
  Response Logout(const std::string& session_hash);
  Response Static(const std::string& name) const;
  // The session the request's cookie names, if it is valid now; a store failure is an error.
  Result<bool> SignedIn(const std::string& session_hash);
  Response ErrorPage(const Error& e) const;
  int64_t Now() const;

  Options options_;
  RateLimiter login_limit_;
};

// The headers every dashboard page carries: a strict Content-Security-Policy (scripts, styles and
// images from this server only, no inline script, forms posted only here, no framing), no caching
// of pages that show fleet data, the referrer only to this server, no MIME sniffing.
void PageHeaders(Response& r);

}  // namespace enclave::rpd::dashboard
