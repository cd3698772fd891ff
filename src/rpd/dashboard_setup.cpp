#include "rpd/dashboard_setup.h"

#include <iostream>
#include <nlohmann/json.hpp>

#include "rp/store/session_store.h"
#include "rpd/fleet_source.h"

namespace enclave::rpd {
namespace {

// rp's store under the dashboard's interface (rpd depends on rp, never the other way).
class StoredSessions final : public dashboard::SessionStore {
 public:
  explicit StoredSessions(std::unique_ptr<rp::SessionStore> s) : store_(std::move(s)) {}
  Status Create(const std::string& h, int64_t now, int64_t expires) override {
    return store_->Create(h, now, expires);
  }
  Result<bool> Valid(const std::string& h, int64_t now) override { return store_->Valid(h, now); }
  Status End(const std::string& h) override { return store_->End(h); }

 private:
  std::unique_ptr<rp::SessionStore> store_;
};

}  // namespace

Result<std::shared_ptr<dashboard::Dashboard>> OpenDashboard(const DashboardSetup& setup) {
  ASSIGN_OR_RETURN(auto sessions, rp::OpenSessionStore(setup.db_url));
  dashboard::Options o;
  o.admin = setup.admin;
  o.origins = setup.origins;
  o.secure_cookie = setup.tls;
  o.sessions = std::make_shared<StoredSessions>(std::move(sessions));
  o.fleet = FleetSourceOf(setup.backend);
  std::shared_ptr<Backend> backend = setup.backend;
  o.status_of = [backend](const std::string& reason) { return backend->StatusOf(reason); };
  auto chart = dashboard::LoadChartJs(setup.chart_js_path);
  if (chart.ok()) {
    o.chart_js = *chart;
  } else {
    o.chart_js_error = chart.error().description;
    std::cerr << nlohmann::json{{"event", "chart-js-missing"}, {"message", o.chart_js_error}}.dump()
              << std::endl;
  }
  return std::make_shared<dashboard::Dashboard>(std::move(o));
}

}  // namespace enclave::rpd
