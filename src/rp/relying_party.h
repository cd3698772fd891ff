// enclave's WebAuthn relying party (docs/rp.md): creation and request options, registration and
// authentication verified as WebAuthn L3 §7.1/§7.2 with every step, re-binding through the
// enclave-device proof, dead-key reports and the admin operations. JSON in, JSON out; every
// failure an Error whose cause is one reason of rp/reasons.h. Thread-safe: the HTTP server calls
// it from several workers at once, and several nodes may share one store.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/result.h"
#include "rp/key_cache.h"
#include "rp/reasons.h"
#include "rp/store/store.h"

namespace enclave::rp {

struct Config {
  std::string rp_id;
  std::string rp_name = "enclave";
  std::vector<std::string> origins;
  std::chrono::seconds challenge_ttl{300};
  bool require_user_verification = true;
  int max_credentials_per_user = 16;
  int max_user_id_bytes = 128;
  int public_key_cache_entries = 100000;
};

class RelyingParty {
 public:
  static Result<std::unique_ptr<RelyingParty>> Create(Config config, std::unique_ptr<Store> store);

  // {"user", "display_name"?} → PublicKeyCredentialCreationOptionsJSON
  Result<nlohmann::json> RegistrationOptions(const nlohmann::json& body);
  // {"credential": RegistrationResponseJSON} → {"user", "credential_id", "status"}
  Result<nlohmann::json> FinishRegistration(const nlohmann::json& body);
  // {"user"} → PublicKeyCredentialRequestOptionsJSON
  Result<nlohmann::json> AuthenticationOptions(const nlohmann::json& body);
  // {"credential": AuthenticationResponseJSON} → {"user", "credential_id", "status": "ok", …}
  Result<nlohmann::json> FinishAuthentication(const nlohmann::json& body);
  // {"credential_id", "cause", "device_signature"} → the credential
  Result<nlohmann::json> ReportDead(const nlohmann::json& body);
  Result<nlohmann::json> UserCredentials(const std::string& user);
  Status DeleteCredential(const std::string& credential_id_b64u);
  Result<nlohmann::json> ApproveStepUp(const std::string& credential_id_b64u);
  nlohmann::json Metrics() const;
  Status Healthy();

 private:
  RelyingParty(Config config, std::unique_ptr<Store> store);
  Result<std::string> CheckUser(const nlohmann::json& body) const;
  bool OriginAllowed(const std::string& origin) const;
  Result<std::shared_ptr<EVP_PKEY>> PublicKey(const CredentialRecord& c);
  void MaybePurge(int64_t now_ms);
  // Counts the outcome of `op` (its status, or its failure's reason) and passes it on.
  Result<nlohmann::json> Count(const char* op, Result<nlohmann::json> r);
  void Bump(const std::string& group, const std::string& name, int64_t by = 1);

  Config config_;
  std::unique_ptr<Store> store_;
  std::array<uint8_t, 32> rp_id_hash_{};
  KeyCache keys_;
  std::atomic<int64_t> last_purge_ms_{0};

  // Counters for /metrics (docs/rp.md): outcomes per operation, failures per reason.
  mutable std::mutex metrics_mu_;
  std::map<std::string, std::map<std::string, int64_t>> counters_;
};

}  // namespace enclave::rp
