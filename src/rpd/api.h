// The API in front of the relying party: routing, method and media-type checks, admin
// authentication, rate limits, the JSON depth limit and the error body, all without sockets.
// The server calls Prepare on an I/O thread (cheap: a bounded parse), runs the job it may return
// on a worker thread (the relying party's call), and Finish once the answer is written.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "rpd/admin_token.h"
#include "rpd/backend.h"
#include "rpd/dashboard.h"
#include "rpd/http_types.h"
#include "rpd/metrics.h"
#include "rpd/rate_limit.h"
#include "rpd/router.h"

namespace enclave::rpd {

struct ApiOptions {
  size_t max_json_depth = 32;
  double rate_per_address = 50, burst_per_address = 100;
  double rate_per_user = 10, burst_per_user = 20;
  // Rate-limit by the last X-Forwarded-For hop instead of the TCP peer (behind a proxy that sets it).
  bool trust_forwarded_for = false;
  std::optional<AdminToken> admin;  // none: every admin call is refused
  bool log_requests = true;
  // The fleet dashboard's pages (/fleet...); none: they answer 404.
  std::shared_ptr<dashboard::Dashboard> dashboard;
};

struct Prepared {
  std::string route = "unmatched";    // the route template, for logs and metrics
  std::optional<Response> immediate;  // answered without the relying party
  std::function<Response()> job;      // else: run on a worker thread
};

class Api {
 public:
  Api(ApiOptions options, std::shared_ptr<Backend> backend);

  Prepared Prepare(const Request& request);
  // Metrics and the one log line of a request. `seconds` from its header's arrival to its answer.
  void Finish(const std::string& method, const std::string& route, const Response& response, double seconds,
              const std::string& remote);

  Metrics& metrics() { return metrics_; }

  // {"error":{"reason","message"}} with the status; 429 and 503 carry Retry-After.
  static Response Error(int status, std::string reason, std::string message, int retry_after = 0);

 private:
  Response Call(const std::function<Result<nlohmann::json>()>& f) const;
  Response FromError(const enclave::Error& e) const;
  Prepared PrepareDashboard(const Route& route, const Request& request, Prepared p);
  // GET /v1/fleet/... and POST /v1/fleet/issues/{id}/resolve (the admin token already checked).
  Prepared PrepareFleetAdmin(const Route& route, const Request& request, Prepared p);

  ApiOptions options_;
  std::shared_ptr<Backend> backend_;
  RateLimiter per_address_;
  RateLimiter per_user_;
  Metrics metrics_;
};

}  // namespace enclave::rpd
