// The fleet dashboard's sessions (docs/fleet.md, "Dashboard"): one row per signed-in browser, keyed
// by the SHA-256 of its session id (the id itself is only ever in the browser's cookie), with an
// expiry. In the database, so that any of several nodes on one PostgreSQL accepts a session another
// opened, and a logout at one node ends it at all of them.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/result.h"

namespace enclave::rp {

class SessionStore {
 public:
  virtual ~SessionStore() = default;
  // Also forgets sessions that expired before `now_ms` (sign-ins are rare; this keeps the table small).
  virtual Status Create(const std::string& id_hash, int64_t now_ms, int64_t expires_ms) = 0;
  virtual Result<bool> Valid(const std::string& id_hash, int64_t now_ms) = 0;
  virtual Status End(const std::string& id_hash) = 0;
};

// On the store named by `url` (as OpenStore), with connections of its own; migrates like OpenStore.
Result<std::unique_ptr<SessionStore>> OpenSessionStore(const std::string& url);

}  // namespace enclave::rp
