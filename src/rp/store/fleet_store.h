// The fleet view's durable state (docs/fleet.md): raw device reports (kept for the retention
// period; on PostgreSQL in one partition per day), and the aggregates that stay: devices active per
// hour, devices affected per hour and (cause, source), each affected device's first failure per
// issue, re-binds, the issues and their states, and counters (refused batches, dropped reports).
// Distinct-device counts over any window come from the per-device hourly rows, so every rate has
// an exact denominator. Every method is one unit of work, committed when it returns.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"
#include "fleet/report.h"

namespace enclave::rp {

inline constexpr char kSourceDevice[] = "device";
inline constexpr char kSourceServer[] = "server";

// Stored issue states; the API shows `open` as `new` (first seen within a day) or `ongoing`.
inline constexpr char kIssueOpen[] = "open";
inline constexpr char kIssueEscalating[] = "escalating";
inline constexpr char kIssueRegressed[] = "regressed";
inline constexpr char kIssueResolved[] = "resolved";

struct IssueRecord {
  std::string cause, source, state;
  int64_t first_seen = 0, last_seen = 0, state_since = 0;
  std::string resolved_os_max, resolved_app_max;  // the newest versions seen when it was resolved
};

// One accepted batch of one device: everything below is written in one transaction.
struct FleetIngest {
  std::string device;  // fleet::DeviceKeyHash of the envelope's device key
  int64_t received = 0;
  int64_t dropped = 0;
  std::vector<fleet::Report> reports;
};

struct FleetIngestOutcome {
  std::vector<std::string> accepted;    // report ids stored now
  std::vector<std::string> duplicates;  // already stored before
  // The issues the accepted failure reports touch: (cause, source) -> their os and app versions.
  struct Touched {
    std::vector<std::string> os_versions, app_versions;
    std::optional<IssueRecord> before;  // the issue as it was before this batch (none: new)
  };
  std::map<std::pair<std::string, std::string>, Touched> touched;
};

// What the server itself saw: its refusals (attributed to a device when the credential is known),
// successful logins (activity) and registrations that re-bound a dead credential.
struct ServerEvent {
  int64_t time = 0;           // seconds
  std::string cause;          // the relying party's reason
  std::string device;         // empty: the credential was not known or had no device key
  std::string credential_id;  // base64url; empty when none was named or it was not known
};
struct FleetServerActivity {
  std::vector<ServerEvent> refusals;
  std::vector<std::pair<int64_t, std::string>> logins;  // (time, device)
  struct Rebind {
    int64_t time = 0;
    std::string device, replaced_credential_id;
  };
  std::vector<Rebind> rebinds;
};

struct CauseTotals {
  std::string cause, source;
  int64_t affected_devices = 0, events = 0, found_by_doctor = 0;
};
struct SeriesPoint {
  int64_t hour = 0;  // hours since the epoch
  std::string cause, source;
  int64_t devices = 0;
};
// An issue's affected devices, and for those re-bound since their first failure the seconds from
// that failure to the first re-bind, ascending.
struct IssueRebinds {
  int64_t devices = 0;
  std::vector<int64_t> seconds;
};

class FleetStore {
 public:
  virtual ~FleetStore() = default;

  // Whether any credential (in any state) was registered with this device key.
  virtual Result<bool> DeviceKnown(ByteView device_key) = 0;
  // Stores the reports not stored before (by id and time), updates every aggregate from those
  // alone, adds `dropped`, creates the issues first seen here; one transaction.
  virtual Result<FleetIngestOutcome> Ingest(const FleetIngest& batch) = 0;
  virtual Status CountRefusedBatch(int64_t time, const std::string& reason) = 0;
  virtual Status RecordServerActivity(const FleetServerActivity& activity) = 0;

  virtual Result<std::vector<IssueRecord>> Issues() = 0;
  virtual Result<std::optional<IssueRecord>> Issue(const std::string& cause, const std::string& source) = 0;
  // Moves the issue from `from` to `to` only if it is still in `from` (so of several nodes one
  // makes each transition, and one alert goes out). Resolving records the newest versions seen.
  virtual Result<bool> TransitionIssue(const std::string& cause, const std::string& source,
                                       const std::string& from, const std::string& to, int64_t now,
                                       const std::string& os_max, const std::string& app_max) = 0;

  // Hours are [from_hour, to_hour], both included.
  virtual Result<int64_t> ActiveDevices(int64_t from_hour, int64_t to_hour) = 0;
  // Distinct devices active per value of `dimension` (os_version | app_version | enclave_version).
  virtual Result<std::map<std::string, int64_t>> ActiveBy(const std::string& dimension, int64_t from_hour,
                                                          int64_t to_hour) = 0;
  virtual Result<std::map<int64_t, int64_t>> ActiveSeries(int64_t from_hour, int64_t to_hour) = 0;
  // Devices with a device-source failure in the window (any cause).
  virtual Result<int64_t> AffectedDevices(int64_t from_hour, int64_t to_hour) = 0;
  // Per value of os_version | app_version | enclave_version | token, device-source failures.
  virtual Result<std::map<std::string, int64_t>> AffectedBy(const std::string& dimension, int64_t from_hour,
                                                            int64_t to_hour) = 0;
  virtual Result<std::vector<CauseTotals>> Causes(int64_t from_hour, int64_t to_hour) = 0;
  // Affected devices per hour and (cause, source); only that issue's when cause is set.
  virtual Result<std::vector<SeriesPoint>> AffectedSeries(int64_t from_hour, int64_t to_hour,
                                                          const std::optional<std::string>& cause,
                                                          const std::optional<std::string>& source) = 0;
  virtual Result<int64_t> IssueAffected(const std::string& cause, const std::string& source,
                                        int64_t from_hour, int64_t to_hour) = 0;
  // Devices affected by the issue in the window that were re-bound after their first failure and
  // no later than `until`.
  virtual Result<int64_t> IssueRebound(const std::string& cause, const std::string& source, int64_t from_hour,
                                       int64_t to_hour, int64_t until) = 0;
  virtual Result<IssueRebinds> IssueRebindTimes(const std::string& cause, const std::string& source) = 0;
  // Distinct values of os_version | app_version | enclave_version among the issue's failures.
  virtual Result<std::vector<std::string>> IssueVersions(const std::string& cause, const std::string& source,
                                                         const std::string& dimension) = 0;
  virtual Result<std::vector<std::string>> IssueCredentials(const std::string& cause,
                                                            const std::string& source, int64_t limit) = 0;
  // Named counters summed over the window: "refused:<reason>", "dropped".
  virtual Result<std::map<std::string, int64_t>> Counters(int64_t from_hour, int64_t to_hour) = 0;

  struct StoredReport {
    fleet::Report report;
    std::string device;
    int64_t received = 0;
  };
  // Raw reports with since <= time < until, oldest first, at most `limit`.
  virtual Result<std::vector<StoredReport>> Reports(int64_t since, int64_t until, int64_t limit) = 0;
  // Deletes raw reports older than `before` (PostgreSQL: drops the day partitions wholly before it
  // first); aggregates stay. Returns the number of reports deleted by row (not by partition).
  virtual Result<int64_t> DropReportsBefore(int64_t before) = 0;
};

}  // namespace enclave::rp
