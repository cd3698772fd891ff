#include "rpd/api.h"

#include <cstdio>
#include <ctime>

#include "common/json_depth.h"
#include "rpd/demo_page.h"
#include "rpd/router.h"

namespace enclave::rpd {
namespace {

using nlohmann::json;

Response JsonOk(const json& body) {
  Response r;
  r.body = body.dump();
  return r;
}

// The address a rate limit is kept for: the TCP peer, or behind a trusted proxy the last hop it
// appended to X-Forwarded-For (earlier entries are the client's own claims).
std::string ClientAddress(const Request& req, bool trust_forwarded_for) {
  if (!trust_forwarded_for || req.forwarded_for.empty()) return req.remote_address;
  std::string_view v = req.forwarded_for;
  v = v.substr(v.rfind(',') == std::string_view::npos ? 0 : v.rfind(',') + 1);
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  return v.empty() ? req.remote_address : std::string(v);
}

}  // namespace

Api::Api(ApiOptions options, std::shared_ptr<Backend> backend)
    : options_(std::move(options)),
      backend_(std::move(backend)),
      per_address_(options_.rate_per_address, options_.burst_per_address),
      per_user_(options_.rate_per_user, options_.burst_per_user) {}

Response Api::Error(int status, std::string reason, std::string message, int retry_after) {
  Response r;
  r.status = status;
  r.body = json{{"error", {{"reason", reason}, {"message", std::move(message)}}}}.dump();
  r.reason = std::move(reason);
  if (status == 429 || status == 503) {
    r.headers.emplace_back("Retry-After", std::to_string(retry_after > 0 ? retry_after : 1));
  }
  if (status == 401) r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"enclave-rpd\"");
  return r;
}

Response Api::FromError(const enclave::Error& e) const {
  std::string reason = e.cause.empty() ? "internal" : e.cause;
  int status = backend_->StatusOf(reason);
  // The fleet view names its own status (its signature-invalid is 401, the relying party's 400).
  if (auto it = e.user_info.find("http_status"); it != e.user_info.end() && it->is_number_integer()) {
    status = it->get<int>();
  }
  if (status < 400 || status > 599) status = 500;
  int retry_after = 0;
  if (auto it = e.user_info.find("retry_after_seconds"); it != e.user_info.end() && it->is_number()) {
    retry_after = it->get<int>();
  }
  return Error(status, reason, e.description.empty() ? reason : e.description, retry_after);
}

Response Api::Call(const std::function<Result<json>()>& f) const {
  // The relying party returns errors as values; anything thrown (a bug, bad_alloc) must still
  // end as an answer rather than take the worker thread down.
  try {
    auto r = f();
    if (!r.ok()) return FromError(r.error());
    return JsonOk(*r);
  } catch (const std::exception& e) {
    return Error(500, "internal", "internal error");
  }
}

Prepared Api::Prepare(const Request& req) {
  Prepared p;
  auto route = MatchRoute(req.target);
  if (!route) {
    p.immediate = Error(404, "not-found", "no such endpoint");
    return p;
  }
  p.route = route->pattern;
  if (req.method != route->method) {
    p.immediate = Error(405, "method-not-allowed", std::string("use ") + route->method);
    p.immediate->headers.emplace_back("Allow", route->method);
    return p;
  }
  switch (route->id) {
    case RouteId::kDemo: {
      Response r;
      r.content_type = "text/html; charset=utf-8";
      r.body = DemoPage();
      r.headers.emplace_back("Content-Security-Policy",
                             "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                             "connect-src 'self'");
      p.immediate = std::move(r);
      return p;
    }
    case RouteId::kMetrics:
      // On a worker like the rest: the relying party's Metrics() may take a lock its database
      // calls hold, and an I/O thread must never wait on the database.
      p.job = [this] {
        Response r;
        r.content_type = "text/plain; version=0.0.4; charset=utf-8";
        json rp;
        try {
          rp = backend_->Metrics();
        } catch (const std::exception&) {
        }
        r.body = metrics_.Render(rp);
        return r;
      };
      return p;
    case RouteId::kFleetOverview:
    case RouteId::kFleetLogin:
    case RouteId::kFleetLogout:
    case RouteId::kFleetIssue:
    case RouteId::kFleetStatic:
      return PrepareDashboard(*route, req, std::move(p));
    case RouteId::kHealth:
      p.job = [this] {
        auto s = backend_->Healthy();
        if (!s.ok()) {
          Response r = FromError(s.error());
          if (r.status < 500) r = Error(503, "unavailable", s.error().description);
          return r;
        }
        return JsonOk(json{{"status", "ok"}});
      };
      return p;
    default:
      break;
  }
  if (route->id == RouteId::kReports) {
    // The envelope is parsed by the fleet view on a worker: it may be megabytes, and it is
    // verified as the exact bytes the device signed.
    if (!IsJsonMediaType(req.content_type)) {
      p.immediate = Error(415, "unsupported-media-type", "send Content-Type: application/json");
      return p;
    }
    Backend* b = backend_.get();
    p.job = [this, b, body = req.body] {
      Response r = Call([&] { return b->IngestReports(body); });
      if (r.status == 200) r.status = 202;
      return r;
    };
    return p;
  }
  const bool fleet_admin = route->id == RouteId::kFleetSummary || route->id == RouteId::kFleetIssues ||
                           route->id == RouteId::kFleetIssueDoc || route->id == RouteId::kFleetResolve ||
                           route->id == RouteId::kFleetExport;
  bool admin = route->id == RouteId::kUserCredentials || route->id == RouteId::kDeleteCredential ||
               route->id == RouteId::kApproveCredential || fleet_admin;
  if (admin && (!options_.admin || !options_.admin->Accepts(req.authorization))) {
    p.immediate =
        Error(401, "unauthorized",
              options_.admin ? "an admin bearer token is required" : "admin endpoints are disabled");
    return p;
  }
  // Bodies: POST routes take a JSON object; the admin POST (approve) may come without one.
  json body = json::object();
  if (fleet_admin) return PrepareFleetAdmin(*route, req, std::move(p));
  if (req.method == "POST" && !(route->id == RouteId::kApproveCredential && req.body.empty())) {
    if (!IsJsonMediaType(req.content_type)) {
      p.immediate = Error(415, "unsupported-media-type", "send Content-Type: application/json");
      return p;
    }
    if (!JsonDepthWithin(req.body, options_.max_json_depth)) {
      p.immediate = Error(400, "malformed",
                          "JSON nested deeper than " + std::to_string(options_.max_json_depth) + " levels");
      return p;
    }
    body = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
    if (body.is_discarded() || !body.is_object()) {
      p.immediate = Error(400, "malformed", "the body is not a JSON object");
      return p;
    }
  }
  if (route->id == RouteId::kRegistrationOptions || route->id == RouteId::kAuthenticationOptions) {
    if (int wait = per_address_.Take(ClientAddress(req, options_.trust_forwarded_for)); wait > 0) {
      ++metrics_.rate_limited_address;
      p.immediate = Error(429, "rate-limited", "too many requests from this address", wait);
      return p;
    }
    auto user = body.find("user");
    if (user != body.end() && user->is_string()) {
      // Keyed on at most 256 bytes: the relying party refuses longer user ids anyway, and the
      // limiter's memory stays bounded by its key count.
      if (int wait = per_user_.Take(user->get<std::string>().substr(0, 256)); wait > 0) {
        ++metrics_.rate_limited_user;
        p.immediate = Error(429, "rate-limited", "too many requests for this user", wait);
        return p;
      }
    }
  }
  Backend* b = backend_.get();
  std::string param = route->param;
  switch (route->id) {
    case RouteId::kRegistrationOptions:
      p.job = [this, b, body] { return Call([&] { return b->RegistrationOptions(body); }); };
      break;
    case RouteId::kRegistration:
      p.job = [this, b, body] { return Call([&] { return b->FinishRegistration(body); }); };
      break;
    case RouteId::kAuthenticationOptions:
      p.job = [this, b, body] { return Call([&] { return b->AuthenticationOptions(body); }); };
      break;
    case RouteId::kAuthentication:
      p.job = [this, b, body] { return Call([&] { return b->FinishAuthentication(body); }); };
      break;
    case RouteId::kReportDead:
      p.job = [this, b, body] { return Call([&] { return b->ReportDead(body); }); };
      break;
    case RouteId::kUserCredentials:
      p.job = [this, b, param] { return Call([&] { return b->UserCredentials(param); }); };
      break;
    case RouteId::kApproveCredential:
      p.job = [this, b, param] { return Call([&] { return b->ApproveStepUp(param); }); };
      break;
    case RouteId::kDeleteCredential:
      p.job = [this, b, param] {
        return Call([&]() -> Result<json> {
          auto s = b->DeleteCredential(param);
          if (!s.ok()) return std::move(s).error();
          return json{{"credential_id", param}, {"status", "deleted"}};
        });
      };
      break;
    default:
      p.immediate = Error(500, "internal", "unrouted endpoint");
  }
  return p;
}

Prepared Api::PrepareDashboard(const Route& route, const Request& req, Prepared p) {
  using dashboard::Page;
  if (!options_.dashboard) {
    p.immediate = Error(404, "not-found", "no such endpoint");
    return p;
  }
  Page page = route.id == RouteId::kFleetLogin    ? Page::kLogin
              : route.id == RouteId::kFleetLogout ? Page::kLogout
              : route.id == RouteId::kFleetIssue  ? Page::kIssue
              : route.id == RouteId::kFleetStatic ? Page::kStatic
                                                  : Page::kOverview;
  auto handled =
      options_.dashboard->Handle(page, route.param, req, ClientAddress(req, options_.trust_forwarded_for));
  p.immediate = std::move(handled.immediate);
  p.job = std::move(handled.job);
  return p;
}

Prepared Api::PrepareFleetAdmin(const Route& route, const Request& req, Prepared p) {
  auto query = ParseQuery(req.target);
  if (!query) {
    p.immediate = Error(400, "query-invalid", "the query string does not decode (or repeats a name)");
    return p;
  }
  Backend* b = backend_.get();
  const std::string param = route.param;
  switch (route.id) {
    case RouteId::kFleetSummary:
      p.job = [this, b, q = *query] { return Call([&] { return b->FleetSummary(q); }); };
      break;
    case RouteId::kFleetIssues:
      p.job = [this, b] { return Call([&] { return b->FleetIssues(); }); };
      break;
    case RouteId::kFleetIssueDoc:
      p.job = [this, b, param, q = *query] { return Call([&] { return b->FleetIssue(param, q); }); };
      break;
    case RouteId::kFleetResolve:
      p.job = [this, b, param] { return Call([&] { return b->FleetResolve(param); }); };
      break;
    default:  // kFleetExport
      p.job = [this, b, q = *query] {
        try {
          auto e = b->FleetExport(q);
          if (!e.ok()) return FromError(e.error());
          Response r;
          r.content_type = e->content_type;
          r.body = std::move(e->body);
          // More than the limit: the caller narrows the window or pages by `since`.
          r.headers.emplace_back("X-Export-Truncated", e->truncated ? "true" : "false");
          r.headers.emplace_back("Cache-Control", "no-store");
          return r;
        } catch (const std::exception&) {
          return Error(500, "internal", "internal error");
        }
      };
  }
  return p;
}

void Api::Finish(const std::string& method, const std::string& route, const Response& response,
                 double seconds, const std::string& remote) {
  metrics_.Request(route, response.status, response.reason, seconds);
  if (!options_.log_requests) return;
  // One line per request: what was asked (method and route template, never the user, the id or
  // the body), how it ended and how long it took. Secrets and signatures are never in these.
  json line = {{"time", static_cast<int64_t>(std::time(nullptr))},
               {"remote", remote},
               {"method", method},
               {"route", route},
               {"status", response.status},
               {"ms", static_cast<double>(static_cast<int64_t>(seconds * 1e5)) / 100}};
  if (!response.reason.empty()) line["reason"] = response.reason;
  std::string text = line.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  std::fwrite(text.data(), 1, text.size(), stderr);
}

}  // namespace enclave::rpd
