// The server's own counters, in Prometheus' text format (version 0.0.4), beside the relying
// party's (its Metrics() JSON, flattened into gauges). Route labels are templates, never a user
// or a credential id, so the number of series stays fixed.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

namespace enclave::rpd {

class Metrics {
 public:
  void Request(const std::string& route, int status, const std::string& reason, double seconds);

  std::atomic<int64_t> connections_open{0};
  std::atomic<int64_t> connections_total{0};
  std::atomic<int64_t> connections_evicted{0};
  std::atomic<int64_t> connections_refused{0};
  std::atomic<int64_t> connections_timed_out{0};
  std::atomic<int64_t> jobs_pending{0};
  std::atomic<int64_t> rate_limited_address{0};
  std::atomic<int64_t> rate_limited_user{0};

  // The whole exposition; `rp` is the relying party's Metrics() (numbers, maybe nested).
  std::string Render(const nlohmann::json& rp) const;

 private:
  static constexpr std::array<double, 12> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                      0.05,   0.1,   0.25,   0.5,   1,    5};
  struct Histogram {
    std::array<uint64_t, kBuckets.size()> counts{};
    uint64_t count = 0;
    double sum = 0;
  };
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;  // (route, status)
  std::map<std::string, uint64_t> errors_;                    // reason
  std::map<std::string, Histogram> durations_;                // route
};

}  // namespace enclave::rpd
