// What the device remembers about its keys for fleet reports (<home>/reports/registry.json):
// which keys are registered with which relying party (by the server's origin) under which
// credential id, which (key, cause) pairs were already reported to each server, and when the
// last heartbeat was queued. It holds no label, user or path: only key ids, credential ids and
// server origins, and it is never sent.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/result.h"

namespace enclave::reports {

struct Registration {
  std::string kid;
  std::string credential_id;      // base64url, as the server knows the credential
  std::set<std::string> origins;  // servers it was registered with (OriginOfUrl)
  int64_t registered_at = 0;      // seconds since the epoch
};

class Registry {
 public:
  // Loads registry.json from `dir` (missing or damaged: empty; a damaged file is replaced on the
  // next change, so a report may be sent twice but never a wrong one).
  static std::unique_ptr<Registry> Load(const std::filesystem::path& dir);

  // Records (or extends with another origin) a registration. Persisted before it returns.
  Status Register(const Registration& registration);
  // The registration of `kid`, when it is registered with `origin`.
  std::optional<Registration> Find(const std::string& kid, const std::string& origin) const;
  std::optional<Registration> FindByCredential(const std::string& credential_id,
                                               const std::string& origin) const;
  // Every registration with `origin`.
  std::vector<Registration> RegisteredWith(const std::string& origin) const;

  // Whether (origin, kid, cause) was reported before; Remember marks it (persisted).
  bool Reported(const std::string& origin, const std::string& kid, const std::string& cause) const;
  Status Remember(const std::string& origin, const std::string& kid, const std::string& cause);

  // When the last heartbeat for `origin` was queued (0: never).
  int64_t LastHeartbeat(const std::string& origin) const;
  Status NoteHeartbeat(const std::string& origin, int64_t when);

 private:
  Status Save() const;  // with mu_ held

  std::filesystem::path file_;
  mutable std::mutex mu_;
  std::map<std::string, Registration> by_kid_;
  std::set<std::string> reported_;  // "<origin> <kid> <cause>"
  std::map<std::string, int64_t> heartbeats_;
};

}  // namespace enclave::reports
