// The fleet view (docs/fleet.md): devices' signed report batches in, the server's own refusals and
// logins beside them, and out the documents of the admin API (summary, issues, one issue, export)
// that the dashboard renders unchanged. Issues are one per (cause, source), so "the server refused
// it" and "the device key failed" never mix.
//
// Request-path calls are cheap: ingest is one transaction per batch, and the server's events
// (refusals, logins, re-binds) are buffered in memory and written by Flush, which a worker calls
// every second; Maintain (escalation decay, automatic resolution, retention) every few seconds.
// The admin documents flush first, so that what they show includes every refusal this instance
// has already answered.
// Alerts go to an AlertSink that must not block (the webhook poster queues them).
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/result.h"
#include "rp/reasons.h"
#include "rp/store/store.h"

namespace enclave::rp {

namespace fleet_reason {
// The ingest's and the admin API's reasons (rp/reasons.h's closed set, docs/rp.md, docs/fleet.md);
// schema-invalid, batch-too-large and signature-invalid are also src/fleet's.
inline constexpr const char* kUnknownDevice = reason::kUnknownDevice;  // 403
inline constexpr const char* kQueryInvalid = reason::kQueryInvalid;    // 400
inline constexpr const char* kIssueUnknown = reason::kIssueUnknown;    // 404
}  // namespace fleet_reason

// The status of a fleet reason: schema-invalid 400, signature-invalid 401, unknown-device 403,
// batch-too-large 413, query-invalid 400, issue-unknown 404; 0 for a reason that is not the fleet's.
int FleetHttpStatusOf(std::string_view reason);

struct FleetConfig {
  int64_t window_hours = 1;             // escalation compares this window with the one before
  double escalation_factor = 2.0;       // ... and escalates past this factor
  int64_t escalation_min_devices = 3;   // ... with at least this many affected devices now
  int64_t new_hours = 24;               // an open issue first seen this recently shows as `new`
  int64_t resolve_after_hours = 168;    // quiet this long: resolved automatically
  int64_t retention_days = 90;          // raw reports; aggregates stay
  int64_t max_future_seconds = 86400;   // a report further ahead of the server's clock is refused
  size_t max_buffered_events = 100000;  // server events waiting for Flush; more are dropped
};

using FleetClock = std::function<int64_t()>;  // seconds since the epoch
// {"issue": <the issue document>, "transition": "escalating" | "regressed"}
using AlertSink = std::function<void(const nlohmann::json&)>;

// "0.10.2" < "0.9" is false: runs of digits compare as numbers, the rest as bytes.
bool VersionLess(std::string_view a, std::string_view b);

class Fleet {
 public:
  Fleet(FleetConfig config, Store& store, FleetClock clock, AlertSink alerts);
  ~Fleet();
  Fleet(const Fleet&) = delete;
  Fleet& operator=(const Fleet&) = delete;

  // POST /v1/reports: the signed envelope's bytes -> {"accepted", "duplicates", "expired"}.
  // Errors carry user_info.http_status; every refusal is counted by reason.
  Result<nlohmann::json> Ingest(std::string_view body);

  // The relying party's outcomes (buffered until Flush).
  void NoteRefusal(const std::string& reason, const std::optional<std::string>& credential_id_b64u);
  void NoteLogin(const std::string& credential_id_b64u);
  void NoteRebind(const std::string& new_credential_id_b64u);

  // Query parameters as sent (since, until: RFC 3339 or epoch seconds; format; limit).
  using Query = std::map<std::string, std::string>;
  Result<nlohmann::json> Summary(const Query& query);
  Result<nlohmann::json> Issues();
  Result<nlohmann::json> Issue(const std::string& id, const Query& query);
  Result<nlohmann::json> Resolve(const std::string& id);
  struct Exported {
    std::string content_type, body;
    bool truncated = false;
  };
  Result<Exported> Export(const Query& query);

  // Writes the buffered server events; evaluates the issues they touched.
  Status Flush();
  // Flush, then escalation decay, automatic resolution and (hourly) retention.
  Status Maintain();
  // A thread calling Flush every second and Maintain every `maintain_every` seconds; stopped by
  // the destructor.
  void StartWorker(int maintain_every_seconds = 15);

 private:
  struct Pending {
    int64_t time;
    std::string reason, credential_id;
  };
  Status CountRefusal(const std::string& reason);
  Result<nlohmann::json> IssueJson(const IssueRecord& issue, int64_t now);
  std::string ShownState(const IssueRecord& issue, int64_t now) const;
  Result<bool> Escalating(const std::string& cause, const std::string& source, int64_t now);
  // After new failures of an issue: reopened or regressed if it was resolved, then escalating?
  Status Evaluate(const std::string& cause, const std::string& source,
                  const std::optional<IssueRecord>& before, const std::vector<std::string>& os_versions,
                  const std::vector<std::string>& app_versions);
  Status Transition(const IssueRecord& issue, const std::string& to, const char* alert);
  Result<std::pair<std::string, std::string>> NewestVersions(const std::string& cause,
                                                             const std::string& source);

  FleetConfig config_;
  Store& store_;
  FleetStore& fleet_;
  FleetClock clock_;
  AlertSink alerts_;

  // One Flush at a time (the worker's and a reader's): each evaluates issues from a before-state
  // it read, and two interleaved would transition one issue twice.
  std::mutex flush_mu_;
  std::mutex mu_;
  std::vector<Pending> refusals_, logins_, rebinds_;
  std::map<std::pair<int64_t, std::string>, int64_t> refused_batches_;  // (hour, reason)
  int64_t events_dropped_ = 0;
  int64_t last_retention_ = 0;

  std::mutex worker_mu_;
  std::condition_variable worker_cv_;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace enclave::rp
