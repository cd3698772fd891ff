// The dashboard enclave-rpd serves: its sessions on the relying party's database, its pages from
// the backend's fleet documents, Chart.js from Debian's libjs-chart.js.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "rpd/admin_token.h"
#include "rpd/backend.h"
#include "rpd/dashboard.h"
#include "rpd/dashboard_assets.h"

namespace enclave::rpd {

struct DashboardSetup {
  std::string db_url;
  std::optional<AdminToken> admin;
  std::vector<std::string> origins;  // --origin: accepted as a form's Origin too
  bool tls = false;
  std::string chart_js_path = dashboard::kDefaultChartJsPath;
  std::shared_ptr<Backend> backend;
};

// Fails only when the sessions' store cannot be opened. A missing Chart.js is not fatal: it is
// logged (one JSON line on stderr naming the path and the package) and answered on its route.
Result<std::shared_ptr<dashboard::Dashboard>> OpenDashboard(const DashboardSetup& setup);

}  // namespace enclave::rpd
