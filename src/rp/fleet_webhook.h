// The fleet view's alert rule (docs/fleet.md, "Issue states"): each alert is POSTed as JSON to the
// configured webhook by a thread of its own, with a timeout and a few retries, so that a slow or
// absent receiver never holds up an ingest or a page. Alerts past a bounded queue are dropped and
// counted.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

namespace enclave::rp {

struct WebhookOptions {
  std::string url;  // http:// or https://
  long timeout_ms = 5000;
  int attempts = 3;  // one alert, at most this many POSTs (a 2xx ends them)
  size_t max_queued = 1000;
};

class Webhook {
 public:
  explicit Webhook(WebhookOptions options);
  ~Webhook();
  Webhook(const Webhook&) = delete;
  Webhook& operator=(const Webhook&) = delete;

  // Queues the alert; never blocks on the network.
  void Post(const nlohmann::json& alert);
  // {"sent", "failed", "dropped"} for /metrics.
  nlohmann::json Counters() const;

 private:
  void Run();
  bool Send(const std::string& body);

  WebhookOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  bool stopping_ = false;
  int64_t sent_ = 0, failed_ = 0, dropped_ = 0;
  std::thread thread_;
};

}  // namespace enclave::rp
