// enclave-rpd: the relying party's HTTP server (docs/rp.md). Serves in the foreground until
// SIGTERM or SIGINT; exits 1 with the reason on stderr when it cannot start (bad flags, the
// database cannot be opened or has a newer schema, the address is taken).
#include <signal.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/version.h"
#include "rpd/api.h"
#include "rpd/dashboard_setup.h"
#include "rpd/rp_backend.h"
#include "rpd/server.h"

namespace {

using enclave::rpd::ApiOptions;
using enclave::rpd::ServerOptions;

// HOST:PORT, [V6]:PORT or :PORT (all of IPv4's addresses).
bool ParseListen(const std::string& s, ServerOptions& o) {
  size_t colon = s.rfind(':');
  if (colon == std::string::npos) return false;
  std::string host = s.substr(0, colon), port = s.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (port.empty() || port.find_first_not_of("0123456789") != std::string::npos || port.size() > 5)
    return false;
  unsigned long n = std::stoul(port);
  if (n > 65535) return false;
  o.host = host.empty() ? "0.0.0.0" : host;
  o.port = static_cast<uint16_t>(n);
  return true;
}

// A thousand idle keep-alive connections need a thousand descriptors: the soft limit is raised
// to the hard one (systemd's default soft limit is 1024).
void RaiseDescriptorLimit() {
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
  }
}

// The scheme of the store URL alone: a PostgreSQL URL may carry a password.
std::string DbKind(const std::string& url) { return url.substr(0, url.find(':')); }

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"enclave-rpd: a WebAuthn relying party (registration, authentication, re-binding) over HTTP"};
  std::string listen, db, admin_token_file;
  enclave::rp::Config rp;
  ServerOptions server;
  ApiOptions api;
  int challenge_ttl = 300;
  int64_t request_timeout_ms = 15000, handler_timeout_ms = 3000;
  bool quiet = false, allow_no_uv = false, version = false;
  app.add_option("--listen", listen, "HOST:PORT to listen on (:PORT for every IPv4 address; port 0: any)");
  app.add_option("--db", db, "the store: sqlite:PATH or postgresql://... (a libpq connection URL)");
  app.add_option("--rp-id", rp.rp_id, "the relying party id (a registrable domain, or localhost)");
  app.add_option("--rp-name", rp.rp_name, "the relying party's display name")->capture_default_str();
  app.add_option("--origin", rp.origins, "an origin assertions may come from (repeat for several)");
  app.add_option("--admin-token-file", admin_token_file,
                 "file holding the admin bearer token (only its SHA-256 is kept); without it the admin "
                 "endpoints refuse every call");
  app.add_option("--tls-cert", server.tls_cert, "PEM certificate chain: serve HTTPS (with --tls-key)");
  app.add_option("--tls-key", server.tls_key, "PEM private key of --tls-cert");
  app.add_option("--challenge-ttl", challenge_ttl, "seconds a challenge stays redeemable")
      ->capture_default_str();
  app.add_flag("--allow-no-user-verification", allow_no_uv,
               "accept assertions without the UV flag (default: user verification required)");
  app.add_option("--max-credentials-per-user", rp.max_credentials_per_user)->capture_default_str();
  app.add_option("--max-user-id-bytes", rp.max_user_id_bytes)->capture_default_str();
  app.add_option("--public-key-cache", rp.public_key_cache_entries, "parsed public keys kept in memory")
      ->capture_default_str();
  app.add_option("--rate-per-address", api.rate_per_address,
                 "option requests per second per remote address (0: no limit)")
      ->capture_default_str();
  app.add_option("--burst-per-address", api.burst_per_address)->capture_default_str();
  app.add_option("--rate-per-user", api.rate_per_user, "option requests per second per user (0: no limit)")
      ->capture_default_str();
  app.add_option("--burst-per-user", api.burst_per_user)->capture_default_str();
  app.add_flag("--trust-forwarded-for", api.trust_forwarded_for,
               "rate-limit by X-Forwarded-For's last hop (only behind a proxy that sets it)");
  app.add_option("--max-json-depth", api.max_json_depth)->capture_default_str();
  app.add_option("--threads", server.io_threads, "I/O threads")->capture_default_str();
  app.add_option("--workers", server.workers,
                 "threads that run the relying party (they wait on the database)")
      ->capture_default_str();
  app.add_option("--header-limit", server.header_limit, "bytes of request header (more: 431)")
      ->capture_default_str();
  app.add_option("--body-limit", server.body_limit, "bytes of request body (more: 413)")
      ->capture_default_str();
  app.add_option(
         "--request-timeout-ms", request_timeout_ms,
         "a connection must deliver a whole request within this long (idle and slow senders are closed)")
      ->capture_default_str();
  app.add_option("--handler-timeout-ms", handler_timeout_ms,
                 "the relying party's answer is awaited this long, then 503 + Retry-After")
      ->capture_default_str();
  app.add_option("--max-connections", server.max_connections,
                 "connections held; past it the oldest waiting one is closed")
      ->capture_default_str();
  app.add_option("--max-pending", server.max_pending, "relying-party calls queued; past it 503")
      ->capture_default_str();
  enclave::rpd::FleetOptions fleet;
  std::string fleet_webhook;
  app.add_option("--report-retention", fleet.config.retention_days,
                 "days raw fleet reports are kept (aggregates stay)")
      ->capture_default_str();
  app.add_option("--fleet-webhook", fleet_webhook,
                 "URL an issue's escalating or regressed transition is POSTed to as JSON");
  app.add_option("--fleet-window-hours", fleet.config.window_hours,
                 "an issue escalates when its affected fraction in this window ...")
      ->capture_default_str();
  app.add_option("--fleet-escalation-factor", fleet.config.escalation_factor,
                 "... is more than this factor times the previous window's ...")
      ->capture_default_str();
  app.add_option("--fleet-escalation-min-devices", fleet.config.escalation_min_devices,
                 "... with at least this many affected devices")
      ->capture_default_str();
  app.add_option("--fleet-resolve-after-hours", fleet.config.resolve_after_hours,
                 "an issue without failures this long is resolved")
      ->capture_default_str();
  app.add_option("--reports-body-limit", server.reports_body_limit,
                 "bytes of a POST /v1/reports body (more: 413 batch-too-large)")
      ->capture_default_str();
  enclave::rpd::DashboardSetup dashboard;
  app.add_option("--chart-js", dashboard.chart_js_path,
                 "Chart.js for the /fleet dashboard's charts (Debian's libjs-chart.js)")
      ->capture_default_str();
  app.add_flag("--quiet", quiet, "no per-request log lines");
  app.add_flag("--version", version, "print the version and exit");
  CLI11_PARSE(app, argc, argv);

  if (version) {
    std::cout << enclave::VersionLine("enclave-rpd") << "\n";
    return 0;
  }
  auto fail = [](const std::string& why) {
    std::cerr << "enclave-rpd: " << why << "\n";
    return 1;
  };
  if (listen.empty() || db.empty() || rp.rp_id.empty() || rp.origins.empty()) {
    return fail("--listen, --db, --rp-id and at least one --origin are required (see --help)");
  }
  if (!ParseListen(listen, server)) return fail("--listen wants HOST:PORT, got " + listen);
  if (challenge_ttl <= 0 || server.io_threads < 1 || server.workers < 1 || request_timeout_ms <= 0 ||
      handler_timeout_ms <= 0 || api.max_json_depth < 2) {
    return fail("--challenge-ttl, --threads, --workers, the timeouts and --max-json-depth must be positive");
  }
  rp.challenge_ttl = std::chrono::seconds(challenge_ttl);
  rp.require_user_verification = !allow_no_uv;
  server.request_timeout = std::chrono::milliseconds(request_timeout_ms);
  server.handler_timeout = std::chrono::milliseconds(handler_timeout_ms);
  api.log_requests = !quiet;
  if (!admin_token_file.empty()) {
    auto token = enclave::rpd::AdminToken::FromFile(admin_token_file);
    if (!token.ok()) return fail(token.error().description);
    api.admin = *token;
  }

  signal(SIGPIPE, SIG_IGN);
  RaiseDescriptorLimit();
  if (fleet.config.retention_days < 1 || fleet.config.window_hours < 1 ||
      fleet.config.escalation_factor <= 1 || fleet.config.escalation_min_devices < 1 ||
      fleet.config.resolve_after_hours < 1 || server.reports_body_limit < 1024) {
    return fail("--report-retention, the --fleet-* windows and counts must be positive, the factor above 1");
  }
  if (!fleet_webhook.empty()) {
    if (fleet_webhook.rfind("http://", 0) != 0 && fleet_webhook.rfind("https://", 0) != 0) {
      return fail("--fleet-webhook must be an http:// or https:// URL");
    }
    fleet.webhook = enclave::rp::WebhookOptions{fleet_webhook};
  }
  auto backend = enclave::rpd::OpenRelyingParty(rp, db, fleet);
  if (!backend.ok())
    return fail("cannot open the relying party on " + DbKind(db) + ": " + backend.error().description);
  dashboard.db_url = db;
  dashboard.admin = api.admin;
  dashboard.origins = rp.origins;
  dashboard.tls = !server.tls_cert.empty();
  dashboard.backend = *backend;
  auto pages = enclave::rpd::OpenDashboard(dashboard);
  if (!pages.ok())
    return fail("cannot open the dashboard's sessions on " + DbKind(db) + ": " + pages.error().description);
  api.dashboard = *pages;
  auto shared_api = std::make_shared<enclave::rpd::Api>(api, *backend);
  auto srv = enclave::rpd::Server::Create(server, shared_api);
  if (!srv.ok()) return fail(srv.error().description);
  nlohmann::json ready = {{"event", "listening"},
                          {"host", server.host},
                          {"port", (*srv)->port()},
                          {"db", DbKind(db)},
                          {"tls", !server.tls_cert.empty()},
                          {"rp_id", rp.rp_id}};
  std::cerr << ready.dump() << std::endl;
  (*srv)->Run();
  std::cerr << nlohmann::json{{"event", "stopped"}}.dump() << std::endl;
  return 0;
}
