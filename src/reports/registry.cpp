#include "reports/registry.h"

#include <nlohmann/json.hpp>

#include "common/durable_io.h"

namespace enclave::reports {
namespace {

// A registry is a few hundred bytes per key; anything this large is not one.
constexpr size_t kMaxRegistryBytes = size_t{16} << 20;
// Reported (key, cause) pairs kept; beyond it some are forgotten (such a key may be reported once
// more, which the server counts once per device and cause anyway).
constexpr size_t kMaxReported = 20000;

std::string ReportedKey(const std::string& origin, const std::string& kid, const std::string& cause) {
  return origin + " " + kid + " " + cause;
}

}  // namespace

std::unique_ptr<Registry> Registry::Load(const std::filesystem::path& dir) {
  auto owned = std::make_unique<Registry>();
  Registry& r = *owned;
  r.file_ = dir / "registry.json";
  auto bytes = durable::ReadFile(r.file_);
  if (!bytes.ok() || bytes->size() > kMaxRegistryBytes) return owned;
  auto doc = nlohmann::json::parse(bytes->begin(), bytes->end(), nullptr, false);
  if (!doc.is_object()) return owned;
  if (auto it = doc.find("registrations"); it != doc.end() && it->is_array()) {
    for (const auto& e : *it) {
      if (!e.is_object() || !e.contains("kid") || !e["kid"].is_string() || !e.contains("credential_id") ||
          !e["credential_id"].is_string()) {
        continue;
      }
      Registration reg;
      reg.kid = e["kid"].get<std::string>();
      reg.credential_id = e["credential_id"].get<std::string>();
      for (const auto& o : e.value("origins", nlohmann::json::array())) {
        if (o.is_string()) reg.origins.insert(o.get<std::string>());
      }
      reg.registered_at = e.value("registered_at", int64_t{0});
      r.by_kid_[reg.kid] = std::move(reg);
    }
  }
  for (const auto& k : doc.value("reported", nlohmann::json::array())) {
    if (k.is_string()) r.reported_.insert(k.get<std::string>());
  }
  if (auto it = doc.find("heartbeats"); it != doc.end() && it->is_object()) {
    for (const auto& [origin, when] : it->items()) {
      if (when.is_number_integer()) r.heartbeats_[origin] = when.get<int64_t>();
    }
  }
  return owned;
}

Status Registry::Save() const {
  nlohmann::json regs = nlohmann::json::array();
  for (const auto& [kid, reg] : by_kid_) {
    regs.push_back({{"kid", reg.kid},
                    {"credential_id", reg.credential_id},
                    {"origins", reg.origins},
                    {"registered_at", reg.registered_at}});
  }
  const nlohmann::json doc = {
      {"version", 1}, {"registrations", regs}, {"reported", reported_}, {"heartbeats", heartbeats_}};
  return durable::WriteFileAtomic(file_, AsBytes(doc.dump() + "\n"), 0600);
}

Status Registry::Register(const Registration& registration) {
  std::lock_guard lock(mu_);
  auto [it, fresh] = by_kid_.try_emplace(registration.kid, registration);
  if (!fresh) {
    it->second.credential_id = registration.credential_id;
    it->second.origins.insert(registration.origins.begin(), registration.origins.end());
  }
  return Save();
}

std::optional<Registration> Registry::Find(const std::string& kid, const std::string& origin) const {
  std::lock_guard lock(mu_);
  auto it = by_kid_.find(kid);
  if (it == by_kid_.end() || it->second.origins.count(origin) == 0) return std::nullopt;
  return it->second;
}

std::optional<Registration> Registry::FindByCredential(const std::string& credential_id,
                                                       const std::string& origin) const {
  std::lock_guard lock(mu_);
  for (const auto& [kid, reg] : by_kid_) {
    if (reg.credential_id == credential_id && reg.origins.count(origin) > 0) return reg;
  }
  return std::nullopt;
}

std::vector<Registration> Registry::RegisteredWith(const std::string& origin) const {
  std::lock_guard lock(mu_);
  std::vector<Registration> out;
  for (const auto& [kid, reg] : by_kid_) {
    if (reg.origins.count(origin) > 0) out.push_back(reg);
  }
  return out;
}

bool Registry::Reported(const std::string& origin, const std::string& kid, const std::string& cause) const {
  std::lock_guard lock(mu_);
  return reported_.count(ReportedKey(origin, kid, cause)) > 0;
}

Status Registry::Remember(const std::string& origin, const std::string& kid, const std::string& cause) {
  std::lock_guard lock(mu_);
  if (!reported_.insert(ReportedKey(origin, kid, cause)).second) return Ok();
  if (reported_.size() > kMaxReported) reported_.erase(reported_.begin());
  return Save();
}

int64_t Registry::LastHeartbeat(const std::string& origin) const {
  std::lock_guard lock(mu_);
  auto it = heartbeats_.find(origin);
  return it == heartbeats_.end() ? 0 : it->second;
}

Status Registry::NoteHeartbeat(const std::string& origin, int64_t when) {
  std::lock_guard lock(mu_);
  heartbeats_[origin] = when;
  return Save();
}

}  // namespace enclave::reports
