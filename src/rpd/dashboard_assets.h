// The dashboard's static files, all served by enclave-rpd itself (no CDN: it works offline and
// the page loads nothing from elsewhere): its style sheet, the small script that draws the charts
// from the pages' JSON, and Chart.js read from Debian's libjs-chart.js.
#pragma once

#include <memory>
#include <string>

#include "common/result.h"

namespace enclave::rpd::dashboard {

// Debian's libjs-chart.js 3.9.1 ships the UMD build here (chart.min.js; chart.js is the same unminified).
inline constexpr char kDefaultChartJsPath[] = "/usr/share/javascript/chart.js/chart.min.js";

const std::string& StyleSheet();
const std::string& ChartScript();

// Chart.js's text, read once from `path`. A missing or unreadable file is an error naming the
// path and the package, which the server reports at start and answers on /fleet/static/chart.js.
Result<std::shared_ptr<const std::string>> LoadChartJs(const std::string& path);

}  // namespace enclave::rpd::dashboard
