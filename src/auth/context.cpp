#include "auth/context.h"

#include <algorithm>

#include "crypto/ec.h"

namespace enclave::auth {
namespace {

Error InvalidContext() {
  return AuthError(laerror::kInvalidContext, "the authentication context is unknown or was invalidated");
}

}  // namespace

AuthContextStore::AuthContextStore(Now now) : now_(std::move(now)) {}

Result<std::string> AuthContextStore::Create(int reuse_seconds) {
  if (reuse_seconds < 0) {
    return OSStatusError(errsec::kParam, "an authentication context's reuse duration cannot be negative")
        .WithCause("bad-parameter");
  }
  Context c;
  c.reuse = std::chrono::seconds(std::min(reuse_seconds, kMaxReuseSeconds));
  c.created = now_();
  std::string id = HexEncode(crypto::RandomBytes(16));
  std::lock_guard lock(mu_);
  if (contexts_.size() >= kMaxContexts) {
    auto oldest = std::min_element(contexts_.begin(), contexts_.end(), [](const auto& a, const auto& b) {
      return a.second.created < b.second.created;
    });
    contexts_.erase(oldest);
  }
  contexts_[id] = std::move(c);
  return id;
}

Status AuthContextStore::Record(const std::string& id, const std::vector<std::string>& methods,
                                Clock::time_point when) {
  std::lock_guard lock(mu_);
  auto it = contexts_.find(id);
  if (it == contexts_.end()) return InvalidContext();
  for (const auto& m : methods) it->second.satisfied_at[m] = when;
  return Ok();
}

Result<std::vector<std::string>> AuthContextStore::Satisfied(const std::string& id) const {
  const Clock::time_point now = now_();
  std::lock_guard lock(mu_);
  auto it = contexts_.find(id);
  if (it == contexts_.end()) return InvalidContext();
  std::vector<std::string> out;
  const Context& c = it->second;
  if (c.reuse.count() == 0) return out;
  for (const auto& [method, at] : c.satisfied_at) {
    // A clock that went backwards is not a reason to trust an old authentication.
    if (at <= now && now - at <= c.reuse) out.push_back(method);
  }
  return out;
}

bool AuthContextStore::Satisfies(const std::string& id, const std::vector<std::string>& needed) const {
  auto have = Satisfied(id);
  if (!have.ok()) return false;
  return std::all_of(needed.begin(), needed.end(), [&](const std::string& m) {
    return std::find(have->begin(), have->end(), m) != have->end();
  });
}

void AuthContextStore::Invalidate(const std::string& id) {
  std::lock_guard lock(mu_);
  contexts_.erase(id);
}

}  // namespace enclave::auth
