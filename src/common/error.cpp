#include "common/error.h"

#include "common/error_catalog.h"

namespace enclave {

std::string Error::effective_cause() const {
  if (!cause.empty()) return cause;
  if (underlying) {
    std::string inner = underlying->effective_cause();
    if (!inner.empty() && inner != "unknown") return inner;
  }
  return catalog::CauseForCode(domain, code);
}

std::string Error::permanence() const { return catalog::Lookup(effective_cause()).permanence; }
std::string Error::remedy() const { return catalog::Lookup(effective_cause()).remedy; }

Error Error::Wrap(std::string outer_domain, int64_t outer_code, std::string outer_description) const {
  Error outer;
  outer.domain = std::move(outer_domain);
  outer.code = outer_code;
  outer.description = std::move(outer_description);
  outer.cause = effective_cause();
  outer.prompted = prompted;
  outer.underlying = std::make_shared<Error>(*this);
  return outer;
}

std::string Error::ToString() const {
  return domain + " " + std::to_string(code) + ": " + description;
}

nlohmann::json Error::ToJson() const {
  nlohmann::json j;
  j["domain"] = domain;
  j["code"] = code;
  j["description"] = description;
  j["user_info"] = user_info.is_object() ? user_info : nlohmann::json::object();
  if (underlying) j["user_info"]["underlying"] = underlying->ToJson();
  const std::string c = effective_cause();
  const auto& entry = catalog::Lookup(c);
  j["cause"] = c;
  j["permanence"] = entry.permanence;
  j["remedy"] = entry.remedy;
  if (prompted.has_value()) j["prompted"] = *prompted;
  return j;
}

Error Error::FromJson(const nlohmann::json& j) {
  Error e;
  e.domain = j.value("domain", "");
  e.code = j.value("code", static_cast<int64_t>(0));
  e.description = j.value("description", "");
  if (j.contains("user_info") && j["user_info"].is_object()) {
    e.user_info = j["user_info"];
    if (e.user_info.contains("underlying")) {
      e.underlying = std::make_shared<Error>(FromJson(e.user_info["underlying"]));
      e.user_info.erase("underlying");
    }
  }
  e.cause = j.value("cause", "");
  if (j.contains("prompted") && j["prompted"].is_boolean()) e.prompted = j["prompted"].get<bool>();
  return e;
}

static Error Make(const char* d, int64_t code, std::string description) {
  Error e;
  e.domain = d;
  e.code = code;
  e.description = std::move(description);
  return e;
}

Error OSStatusError(int64_t code, std::string description) {
  return Make(domain::kOSStatus, code, std::move(description));
}
Error TokenError(int64_t code, std::string description) {
  return Make(domain::kCryptoTokenKit, code, std::move(description));
}
Error AuthError(int64_t code, std::string description) {
  return Make(domain::kLocalAuthentication, code, std::move(description));
}
Error KeystoreError(int64_t code, std::string description) {
  return Make(domain::kAKS, code, std::move(description));
}

}  // namespace enclave
