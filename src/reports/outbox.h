// The device's queue of fleet reports (<home>/reports/queue.json) and the log of what was sent
// (<home>/reports/sent.json), both written atomically with an fsync (common/durable_io). Only
// reports that validate against the wire schema (src/fleet) enter, so the queue can never hold
// a label, a path or free text, and `enclave report show` prints exactly these documents.
//
// Bounded: beyond `max_queued` the oldest reports are dropped, and the count of dropped reports
// travels with the next batch (Batch.dropped) so that the server can count what a device lost.
// A write that fails (a full disk) loses reports, never an operation: the caller goes on.
#pragma once

#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/result.h"
#include "fleet/report.h"

namespace enclave::reports {

struct OutboxLimits {
  size_t max_queued = 10000;
  size_t max_sent_log = 1000;
};

// What became of a report the sender handed to the server.
inline constexpr char kAccepted[] = "accepted";
inline constexpr char kDuplicate[] = "duplicate";  // the server had it already (a retried batch)
inline constexpr char kRefused[] = "refused";      // the server refused it for good (schema-invalid)
inline constexpr char kExpired[] = "expired";      // older than the server keeps: acknowledged, not stored

class Outbox {
 public:
  static std::unique_ptr<Outbox> Open(const std::filesystem::path& dir, OutboxLimits limits = {});

  // Appends valid reports (an invalid one is refused with its schema error and nothing is
  // added); the oldest beyond the bound are dropped and counted. Persisted before it returns.
  Status Append(const std::vector<fleet::Report>& reports);

  struct Pending {
    std::vector<fleet::Report> reports;  // oldest first
    int64_t dropped = 0;                 // dropped since the last batch the server took
  };
  // Up to `max` of the oldest queued reports; they stay queued until Settle.
  Pending Peek(size_t max) const;
  // The server answered for `ids`: they leave the queue for the sent log with `result`
  // (kAccepted, kDuplicate, kExpired, kRefused + reason). `dropped_reported`: the Batch.dropped the server
  // took, subtracted from the pending count.
  Status Settle(const std::vector<std::string>& ids, const std::string& result, const std::string& reason,
                int64_t dropped_reported, int64_t now);

  size_t queued() const;
  // {"queued":[report...], "sent":[{"report","sent_at","result"[,"reason"]}...], "dropped_pending",
  //  "dropped_total", "limits":{"queue","sent_log"}}: reports as the wire schema writes them.
  nlohmann::json Show() const;

 private:
  struct Sent {
    fleet::Report report;
    int64_t sent_at = 0;
    std::string result, reason;
  };
  Status SaveQueue() const;  // with mu_ held
  Status SaveSent() const;

  std::filesystem::path dir_;
  OutboxLimits limits_;
  mutable std::mutex mu_;
  std::deque<fleet::Report> queue_;
  std::deque<Sent> sent_;
  int64_t dropped_pending_ = 0;
  int64_t dropped_total_ = 0;
};

}  // namespace enclave::reports
