// The enclaves a daemon serves. Per-user mode: the one enclave of the daemon's home, for its own
// uid only. System mode: one enclave per calling uid, each in its own folder
// (<state>/users/<uid>/: keychain, keybag, passcode, lock state, configuration), opened on the
// uid's first request. A uid only ever reaches its own enclave; nothing here answers about
// another uid's.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>

#include "common/result.h"
#include "service/enclave.h"

namespace enclave::daemon {

class EnclaveSet {
 public:
  using ForEach = std::function<void(service::Enclave&)>;

  // Per-user mode: `home` for the daemon's own uid.
  static Result<std::unique_ptr<EnclaveSet>> OpenHome(const std::filesystem::path& home, bool debug);
  // System mode: enclaves under `state_dir`/users/<uid>, opened lazily.
  static std::unique_ptr<EnclaveSet> System(const std::filesystem::path& state_dir, bool debug);

  // The enclave serving `uid`: errSecMissingEntitlement in per-user mode for another uid; in
  // system mode the uid's own enclave (created on first use) or the error opening it.
  Result<service::Enclave*> For(uid_t uid);
  bool system() const { return system_; }

 private:
  EnclaveSet(bool system, std::filesystem::path root, bool debug)
      : system_(system), root_(std::move(root)), debug_(debug) {}
  const bool system_;
  const std::filesystem::path root_;
  const bool debug_;
  std::mutex mu_;
  std::map<uid_t, std::unique_ptr<service::Enclave>> enclaves_;
};

}  // namespace enclave::daemon
