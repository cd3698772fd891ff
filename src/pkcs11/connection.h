// The module's one connection to enclaved, shared by every session of the process. Reconnects
// (starting the daemon as the CLI does) when the daemon went away or restarted, and after a
// fork(): a child never writes to its parent's socket.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <mutex>

#include "client/client.h"
#include "common/result.h"

namespace enclave::pkcs11 {

class Connection {
 public:
  // Runs `request` on a connected client. When the daemon is gone (cause daemon-unavailable),
  // connects again once and retries: a restarted daemon is a new daemon session anyway.
  template <typename T>
  Result<T> Call(const std::function<Result<T>(client::Client&)>& request) {
    for (int attempt = 0;; ++attempt) {
      auto c = Acquire();
      if (!c.ok()) return std::move(c).error();
      Result<T> r = request(**c);
      if (r.ok() || attempt > 0 || r.error().effective_cause() != "daemon-unavailable") return r;
      Drop(*c);
    }
  }

  // Closes the connection (C_Finalize); the next call connects again.
  void Close();

  // pthread_atfork handlers: the connection lock is never inherited in a held state.
  void LockForFork() { mu_.lock(); }
  void UnlockAfterFork() { mu_.unlock(); }

 private:
  Result<std::shared_ptr<client::Client>> Acquire();
  void Drop(const std::shared_ptr<client::Client>& c);

  std::mutex mu_;
  std::shared_ptr<client::Client> client_;
  pid_t pid_ = 0;
};

// The enclaved that an autostart runs: $ENCLAVED, else the one installed beside this module
// (../bin in the build tree, the configured bindir when installed), else the client's search.
std::filesystem::path DaemonForModule();

}  // namespace enclave::pkcs11
