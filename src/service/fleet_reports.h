// Fleet reports on the device (docs/fleet.md, "What is sent and what is never sent"): the service
// observes a key's permanent failures (on use and in doctor) and queues one report per key and
// cause for the relying party the key is registered with, when the user turned reports on
// (config report-failures on, report-server URL). It also queues re-enrollments and a daily
// heartbeat (the fleet's denominator). Nothing here talks to the network: a sender in a client
// process (`enclave report send`) takes the queue through Api::Admin, has the batch signed by the
// device identity key and posts it; the daemon starts that sender when something was queued.
//
// The failure path stays cheap: a failed operation only notes the report in memory; a worker
// thread writes the queue (an fsync) after the reply, off the request path.
#pragma once

#include <condition_variable>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/result.h"
#include "fleet/report.h"
#include "keychain/keychain.h"
#include "reports/outbox.h"
#include "reports/registry.h"

namespace enclave::service {

class EnclaveImpl;

class FleetReporter {
 public:
  static constexpr int64_t kHeartbeatSeconds = 24 * 3600;

  // `dir`: <home>/reports. `on_queued`: called (from the worker, no lock held) after reports
  // were written, so that a sender is started; may be empty.
  FleetReporter(EnclaveImpl& enclave, std::filesystem::path dir, std::function<void()> on_queued);
  // Writes what is pending, then stops the worker.
  ~FleetReporter();
  FleetReporter(const FleetReporter&) = delete;
  FleetReporter& operator=(const FleetReporter&) = delete;

  // A key failed permanently (`operation`: sign, decrypt, ecdh, doctor): noted for the queue when
  // reports are on and the key is registered with the report server, once per key and cause.
  void NoteFailure(const keychain::KeyItem& item, std::string_view operation, const Error& error,
                   bool found_by_doctor);
  // A configuration key changed (report-*, app-*): a heartbeat follows soon when reports are on.
  void ConfigChanged();

  // Admin commands "reports.register" / "reports.show" / "reports.take" / "reports.settle".
  Result<nlohmann::json> Admin(const std::string& command, const nlohmann::json& args);

 private:
  struct Settings {
    bool enabled = false;  // report-failures on and a report-server set
    std::string server;    // the report-server URL
    std::string origin;    // its origin, which registrations are matched by
    std::optional<std::string> app_id, app_version;
  };
  Settings Current();
  fleet::Report Base(const Settings& s, const std::string& kind);
  Result<nlohmann::json> Register(const nlohmann::json& args);
  Result<nlohmann::json> Take(const nlohmann::json& args);
  Result<nlohmann::json> Settle(const nlohmann::json& args);
  nlohmann::json Show();
  // Queues a heartbeat now when reports are on, a key is registered with the server, and the last
  // one is older than kHeartbeatSeconds (or `force` after a configuration change).
  bool QueueHeartbeatIfDue(bool force);
  void StartWorker();  // once; the daemon opens its enclave after forking, so threads start here
  void Loop();
  // Writes the pending reports (worker, or the destructor).
  void CommitPending();

  EnclaveImpl& enclave_;
  const std::filesystem::path dir_;
  const std::function<void()> on_queued_;
  std::unique_ptr<reports::Registry> registry_;
  std::unique_ptr<reports::Outbox> outbox_;

  std::mutex mu_;  // guards everything below
  std::condition_variable wake_;
  std::vector<std::pair<fleet::Report, std::string>> pending_;  // report, "<origin> <kid> <cause>"
  std::set<std::string> pending_keys_;
  bool heartbeat_forced_ = false;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace enclave::service
