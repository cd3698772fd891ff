// `enclave report send`: the device's fleet reports leave the queue for the relying party
// (docs/fleet.md). Runs in a client process, never in enclaved: it takes the queue through
// Api::Admin ("reports.take"), has each batch signed by the device identity key (Api::Sign over
// fleet::SignedBytes: "enclave-fleet-batch-v1" 0x00 || batch bytes), posts the envelope to
// <report-server>/v1/reports over libcurl, and settles what the server answered for.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/result.h"
#include "rpclient/http.h"
#include "service/api.h"

namespace enclave::reports {

struct SendOptions {
  // Keep going until the queue is empty: an unreachable server (or a 5xx, 429) is retried with
  // exponential backoff from `first_backoff` up to `max_backoff`, for at most `give_up_after`.
  // Without it one pass is made and the first such failure is the result.
  bool until_empty = false;
  std::chrono::milliseconds first_backoff{1000};
  std::chrono::milliseconds max_backoff{10000};
  std::chrono::seconds give_up_after{15 * 60};
  // Asked between attempts and while waiting; false stops the sender (its daemon is gone).
  std::function<bool()> keep_going;
  rpclient::HttpOptions http;
};

struct SendSummary {
  std::string server;
  int64_t batches = 0;
  int64_t accepted = 0;
  int64_t duplicates = 0;  // already stored by the server (a batch resent after a lost answer)
  int64_t expired = 0;     // older than the server's retention: acknowledged, not stored
  int64_t refused = 0;     // refused for good (schema-invalid): kept in the sent log, not resent
  int64_t attempts = 0;
  int64_t queued = 0;  // left in the queue
  bool enabled = true;
  nlohmann::json ToJson() const;
};

// Errors: the last network or server error when giving up (RelyingParty domain, its reason as
// cause), errSecItemNotFound when the home has no device identity key (nothing was ever
// registered), the server's refusal for 401 signature-invalid / 403 unknown-device (the reports
// stay queued for the next run).
Result<SendSummary> SendQueued(Api& api, const SendOptions& options);

}  // namespace enclave::reports
