// The module's one connection to enclaved, shared by every session of the process. Reconnects
// (starting the daemon as the CLI does) when the daemon went away or restarted, and after a
// fork(): a child never writes to its parent's socket.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <mutex>
#include <new>

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

  // In a forked child (pthread_atfork): the thread that may have held the lock is not there, and
  // the connection may be forking the daemon itself while holding it, so the child gets a fresh,
  // unlocked mutex instead of waiting in the parent's prepare handler.
  void RenewLockAfterFork() { new (&mu_) std::mutex(); }

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
