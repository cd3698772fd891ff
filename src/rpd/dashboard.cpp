#include "rpd/dashboard.h"

#include <openssl/crypto.h>

#include "rpd/dashboard_assets.h"
#include "rpd/dashboard_html.h"

namespace enclave::rpd::dashboard {
namespace {

Response Html(int status, std::string body, std::string reason = "") {
  Response r;
  r.status = status;
  r.content_type = "text/html; charset=utf-8";
  r.body = std::move(body);
  r.reason = std::move(reason);
  PageHeaders(r);
  return r;
}

Response Redirect(const std::string& location) {
  Response r = Html(303, "");
  r.headers.emplace_back("Location", location);
  return r;
}

bool IsFormMediaType(std::string_view content_type) {
  std::string_view type = content_type.substr(0, content_type.find(';'));
  while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
  std::string lower(type);
  for (char& c : lower) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return lower == "application/x-www-form-urlencoded";
}

// ?window=1d|7d|30d|90d, as the page's links name them: since = now - that many days.
std::optional<int64_t> WindowDays(const std::string& w) {
  if (w == "1d") return 1;
  if (w == "7d") return 7;
  if (w == "30d") return 30;
  if (w == "90d") return 90;
  return std::nullopt;
}

}  // namespace

void PageHeaders(Response& r) {
  r.headers.emplace_back("Content-Security-Policy",
                         "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                         "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
  r.headers.emplace_back("Cache-Control", "no-store");
  // same-origin, not no-referrer: under no-referrer a browser sends "Origin: null" with a form
  // POST, and the forms' Origin check would refuse the server's own pages.
  r.headers.emplace_back("Referrer-Policy", "same-origin");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
}

Dashboard::Dashboard(Options options)
    : options_(std::move(options)),
      login_limit_(options_.login_rate_per_address, options_.login_burst_per_address) {}

int64_t Dashboard::Now() const {
  if (options_.now_ms) return options_.now_ms();
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Handled Dashboard::Handle(Page page, const std::string& param, const Request& req,
                          const std::string& remote) {
  Handled h;
  if (page == Page::kStatic) {
    h.immediate = Static(param);
    return h;
  }
  // Only a cookie of the shape this server hands out is looked up; its hash is what the store keeps.
  std::string session_hash;
  if (auto id = CookieValue(req.cookie, kSessionCookie); id && WellFormedSessionId(*id)) {
    session_hash = SessionHash(*id);
  }
  if (page == Page::kLogin || page == Page::kLogout) {
    if (!SameOrigin(req.origin, req.host, options_.origins)) {
      h.immediate =
          Html(403, LoginPage("This form was not sent from this server's own page."), "origin-mismatch");
      return h;
    }
  }
  switch (page) {
    case Page::kLogin:
      if (int wait = login_limit_.Take(remote); wait > 0) {
        h.immediate = Html(429, LoginPage("Too many sign-in attempts; wait " + std::to_string(wait) + " s."),
                           "rate-limited");
        h.immediate->headers.emplace_back("Retry-After", std::to_string(wait));
        return h;
      }
      h.job = [this, req] { return Login(req); };
      return h;
    case Page::kLogout:
      h.job = [this, session_hash] { return Logout(session_hash); };
      return h;
    case Page::kOverview:
      h.job = [this, req, session_hash] { return Overview(req, session_hash); };
      return h;
    case Page::kIssue:
      h.job = [this, param, session_hash] { return IssueDetail(param, session_hash); };
      return h;
    case Page::kStatic:
      break;
  }
  h.immediate = Html(404, MessagePage("Not found", "No such page."), "not-found");
  return h;
}

Result<bool> Dashboard::SignedIn(const std::string& session_hash) {
  if (session_hash.empty()) return false;
  if (!options_.sessions) return false;
  return options_.sessions->Valid(session_hash, Now());
}

Response Dashboard::ErrorPage(const Error& e) const {
  std::string reason = e.cause.empty() ? "internal" : e.cause;
  int status = options_.status_of ? options_.status_of(reason) : 500;
  // The fleet view names its own status, as it does for the API (its reasons are not the RP's).
  if (auto it = e.user_info.find("http_status"); it != e.user_info.end() && it->is_number_integer()) {
    status = it->get<int>();
  }
  if (status < 400 || status > 599) status = 500;
  // The store's and the API's messages name what was wrong (a bad window, the store down), never
  // secrets; a 500 says no more than that.
  std::string message = status == 500 ? "internal error" : e.description;
  Response r = Html(status, MessagePage("The fleet data could not be read", reason + ": " + message), reason);
  if (status == 503) r.headers.emplace_back("Retry-After", "1");
  return r;
}

Response Dashboard::Login(const Request& req) {
  if (!options_.admin) {
    return Html(401, LoginPage("Sign-in is disabled: this server runs without --admin-token-file."),
                "unauthorized");
  }
  if (!IsFormMediaType(req.content_type)) {
    return Html(415, LoginPage("Send the form as application/x-www-form-urlencoded."),
                "unsupported-media-type");
  }
  auto token = FormField(req.body, "token");
  std::string bearer = "Bearer " + token.value_or("");
  bool accepted = token && !token->empty() && options_.admin->Accepts(bearer);
  OPENSSL_cleanse(bearer.data(), bearer.size());
  if (token) OPENSSL_cleanse(token->data(), token->size());
  if (!accepted) return Html(401, LoginPage("That is not this server's admin token."), "unauthorized");
  if (!options_.sessions) {
    return Html(503, LoginPage("Sessions cannot be kept: the dashboard has no store."), "unavailable");
  }
  std::string id = NewSessionId();
  if (id.empty()) return Html(500, LoginPage("internal error"), "internal");
  int64_t now = Now();
  auto ttl_ms = std::chrono::duration_cast<std::chrono::milliseconds>(options_.session_ttl).count();
  if (auto s = options_.sessions->Create(SessionHash(id), now, now + ttl_ms); !s.ok())
    return ErrorPage(s.error());
  Response r = Redirect("/fleet");
  r.headers.emplace_back("Set-Cookie", SetCookie(id, options_.session_ttl.count(), options_.secure_cookie));
  OPENSSL_cleanse(id.data(), id.size());
  return r;
}

Response Dashboard::Logout(const std::string& session_hash) {
  if (!session_hash.empty() && options_.sessions) {
    if (auto s = options_.sessions->End(session_hash); !s.ok()) return ErrorPage(s.error());
  }
  Response r = Redirect("/fleet");
  r.headers.emplace_back("Set-Cookie", SetCookie("", 0, options_.secure_cookie));
  return r;
}

Response Dashboard::Overview(const Request& req, const std::string& session_hash) {
  auto in = SignedIn(session_hash);
  if (!in.ok()) return ErrorPage(in.error());
  if (!*in) {
    if (session_hash.empty()) return Html(200, LoginPage(""));
    Response r = Html(401, LoginPage("Your session has ended; sign in again."), "unauthorized");
    r.headers.emplace_back("Set-Cookie", SetCookie("", 0, options_.secure_cookie));
    return r;
  }
  if (!options_.fleet)
    return Html(503, MessagePage("No fleet data", "This server has no fleet store."), "unavailable");
  std::string since = QueryParam(req.target, "since").value_or("");
  std::string until = QueryParam(req.target, "until").value_or("");
  if (auto w = QueryParam(req.target, "window")) {
    auto days = WindowDays(*w);
    if (!days) {
      return Html(400, MessagePage("No such window", "The window is one of 1d, 7d, 30d and 90d."),
                  "query-invalid");
    }
    since = std::to_string(Now() / 1000 - *days * 86400);
    until.clear();
  }
  auto summary = options_.fleet->Summary(since, until);
  if (!summary.ok()) return ErrorPage(summary.error());
  auto issues = options_.fleet->Issues();
  if (!issues.ok()) return ErrorPage(issues.error());
  return Html(200, OverviewPage(*summary, *issues));
}

Response Dashboard::IssueDetail(const std::string& id, const std::string& session_hash) {
  auto in = SignedIn(session_hash);
  if (!in.ok()) return ErrorPage(in.error());
  if (!*in) {
    Response r = Html(401, LoginPage(session_hash.empty() ? "" : "Your session has ended; sign in again."),
                      "unauthorized");
    if (!session_hash.empty()) r.headers.emplace_back("Set-Cookie", SetCookie("", 0, options_.secure_cookie));
    return r;
  }
  if (!options_.fleet)
    return Html(503, MessagePage("No fleet data", "This server has no fleet store."), "unavailable");
  auto issue = options_.fleet->Issue(id);
  if (!issue.ok()) return ErrorPage(issue.error());
  return Html(200, IssuePage(*issue));
}

Response Dashboard::Static(const std::string& name) const {
  Response r;
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  if (name == "dashboard.css") {
    r.content_type = "text/css; charset=utf-8";
    r.body = StyleSheet();
    r.headers.emplace_back("Cache-Control", "no-cache");
  } else if (name == "dashboard.js") {
    r.content_type = "text/javascript; charset=utf-8";
    r.body = ChartScript();
    r.headers.emplace_back("Cache-Control", "no-cache");
  } else if (name == "chart.js") {
    if (!options_.chart_js) {
      r.status = 503;
      r.content_type = "text/plain; charset=utf-8";
      r.body = options_.chart_js_error.empty() ? "Chart.js was not loaded" : options_.chart_js_error;
      r.reason = "unavailable";
      return r;
    }
    r.content_type = "text/javascript; charset=utf-8";
    r.body = *options_.chart_js;
    r.headers.emplace_back("Cache-Control", "public, max-age=86400");
  } else {
    r.status = 404;
    r.content_type = "text/plain; charset=utf-8";
    r.body = "no such file";
    r.reason = "not-found";
  }
  return r;
}

}  // namespace enclave::rpd::dashboard
