#include "daemon/enclaves.h"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "daemon/report_launcher.h"

namespace enclave::daemon {

Result<std::unique_ptr<EnclaveSet>> EnclaveSet::OpenHome(const std::filesystem::path& home, bool debug) {
  std::unique_ptr<EnclaveSet> set(new EnclaveSet(false, home, debug));
  service::EnclaveOptions options;
  options.home = home;
  options.debug = debug;
  options.follow_session_lock = true;
  // Only a per-user daemon starts the report sender: it runs as that user, with that home. (A
  // system daemon's child would be the daemon's own user; there a user timer runs the sender.)
  auto launcher = std::make_shared<ReportLauncher>(home);
  options.on_reports_queued = [launcher] { launcher->Kick(); };
  ASSIGN_OR_RETURN(auto enclave, service::Enclave::Open(options));
  set->enclaves_[::geteuid()] = std::move(enclave);
  return set;
}

std::unique_ptr<EnclaveSet> EnclaveSet::System(const std::filesystem::path& state_dir, bool debug) {
  return std::unique_ptr<EnclaveSet>(new EnclaveSet(true, state_dir, debug));
}

Result<service::Enclave*> EnclaveSet::For(uid_t uid) {
  std::lock_guard lock(mu_);
  if (auto it = enclaves_.find(uid); it != enclaves_.end()) return it->second.get();
  if (!system_) {
    return OSStatusError(errsec::kMissingEntitlement, "enclaved serves only uid " +
                                                          std::to_string(::geteuid()) + "; uid " +
                                                          std::to_string(uid) + " is refused")
        .WithCause("missing-entitlement");
  }
  const std::filesystem::path users = root_ / "users";
  std::error_code ec;
  std::filesystem::create_directories(users, ec);
  ::chmod(users.c_str(), 0700);
  service::EnclaveOptions options;
  options.home = users / std::to_string(uid);
  options.debug = debug_;
  // fprintd verifies the calling user, not the daemon's.
  if (const passwd* pw = ::getpwuid(uid); pw != nullptr && pw->pw_name != nullptr) {
    options.fprintd_user = pw->pw_name;
  }
  ASSIGN_OR_RETURN(auto enclave, service::Enclave::Open(options));
  service::Enclave* raw = enclave.get();
  enclaves_[uid] = std::move(enclave);
  return raw;
}

}  // namespace enclave::daemon
