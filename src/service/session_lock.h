// Follows the desktop session's lock state from logind (the session's LockedHint on the system
// bus): when the screen locks, the keybag locks, dropping the when-unlocked class keys. Unlocking
// the screen does not unlock the keybag when a passcode is set (the passcode is needed for that);
// without a passcode it does.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

namespace enclave::service {

class SessionLockWatcher {
 public:
  // `session` is a logind session id; empty: $XDG_SESSION_ID, else the session of this process.
  // `on_change(locked)` runs on the watcher's thread.
  SessionLockWatcher(std::string session, std::function<void(bool locked)> on_change);
  ~SessionLockWatcher();
  SessionLockWatcher(const SessionLockWatcher&) = delete;
  SessionLockWatcher& operator=(const SessionLockWatcher&) = delete;

  // {"source":"logind","session":…,"available":bool,"locked_hint":bool|null}
  nlohmann::json Describe() const;

 private:
  void Run();

  std::string session_;
  std::function<void(bool)> on_change_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool available_ = false;
  int locked_ = -1;  // unknown
  std::string resolved_path_;
  std::thread thread_;
};

}  // namespace enclave::service
