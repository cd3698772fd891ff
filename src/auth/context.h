// Authentication contexts (LAContext-like): a client evaluates once and reuses the result for a
// bounded time across several operations, or invalidates it. The store lives in the daemon;
// clients hold only the random context id.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "common/result.h"

namespace enclave::auth {

class AuthContextStore {
 public:
  using Clock = std::chrono::steady_clock;
  using Now = std::function<Clock::time_point()>;

  // The phone platform's LATouchIDAuthenticationMaximumAllowableReuseDuration; longer requests
  // are clamped to it, as there.
  static constexpr int kMaxReuseSeconds = 300;
  // Bounds the memory a client can make the daemon hold; the oldest context goes first.
  static constexpr size_t kMaxContexts = 1024;

  explicit AuthContextStore(Now now = Clock::now);

  // A new context whose authentications may be reused for `reuse_seconds` (0 = never reused).
  // Negative durations are errSecParam.
  Result<std::string> Create(int reuse_seconds);
  // Notes that `methods` ("biometry", "passcode", ...) were satisfied at `when`.
  // Unknown or invalidated ids are LocalAuthentication -10 (invalid context).
  Status Record(const std::string& id, const std::vector<std::string>& methods, Clock::time_point when);
  Status Record(const std::string& id, const std::vector<std::string>& methods) {
    return Record(id, methods, now_());
  }
  // The methods still within the reuse window now (for AuthRequest::already_satisfied).
  Result<std::vector<std::string>> Satisfied(const std::string& id) const;
  // Whether every method in `needed` is still within the reuse window.
  bool Satisfies(const std::string& id, const std::vector<std::string>& needed) const;
  // Later use of the id is LocalAuthentication -10.
  void Invalidate(const std::string& id);

 private:
  struct Context {
    std::chrono::seconds reuse{0};
    Clock::time_point created;
    std::map<std::string, Clock::time_point> satisfied_at;
  };

  Now now_;
  mutable std::mutex mu_;
  std::map<std::string, Context> contexts_;
};

}  // namespace enclave::auth
