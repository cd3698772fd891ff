#include "rp/relying_party.h"

#include <openssl/rand.h>

#include "rp/credential_json.h"
#include "rp/time.h"
#include "webauthn/base64url.h"
#include "webauthn/cose.h"
#include "webauthn/device_proof.h"

namespace enclave::rp {
namespace {

using nlohmann::json;

constexpr size_t kMaxDisplayNameBytes = 256;
// Expired challenges are kept an hour past their expiry (a late answer reads challenge-expired,
// not challenge-unknown), tombstones as long as the challenge they stand for could have lived.
constexpr int64_t kKeepExpiredMs = 3600 * 1000;
constexpr int64_t kPurgeEveryMs = 60 * 1000;

Bytes RandomBytes(size_t n) {
  Bytes b(n);
  if (RAND_bytes(b.data(), static_cast<int>(n)) != 1) std::abort();  // no safe challenge without randomness
  return b;
}

json Descriptor(const CredentialRecord& c) {
  json d = {{"type", "public-key"}, {"id", webauthn::Base64UrlEncode(c.id)}};
  json transports = json::parse(c.transports, nullptr, false);
  if (transports.is_array() && !transports.empty()) d["transports"] = transports;
  return d;
}

}  // namespace

RelyingParty::RelyingParty(Config config, std::unique_ptr<Store> store)
    : config_(std::move(config)),
      store_(std::move(store)),
      rp_id_hash_(webauthn::Sha256(AsBytes(config_.rp_id))),
      keys_(static_cast<size_t>(config_.public_key_cache_entries)) {}

Result<std::unique_ptr<RelyingParty>> RelyingParty::Create(Config config, std::unique_ptr<Store> store) {
  if (!store) return Reject(reason::kMalformed, "no store");
  if (config.rp_id.empty() || config.origins.empty())
    return Reject(reason::kMalformed, "an rp id and at least one origin are required");
  if (config.challenge_ttl.count() <= 0 || config.max_credentials_per_user < 1 ||
      config.max_user_id_bytes < 1 || config.public_key_cache_entries < 0)
    return Reject(reason::kMalformed, "the challenge ttl and the limits must be positive");
  return std::unique_ptr<RelyingParty>(new RelyingParty(std::move(config), std::move(store)));
}

void RelyingParty::Bump(const std::string& group, const std::string& name, int64_t by) {
  std::lock_guard lock(metrics_mu_);
  counters_[group][name] += by;
}

Result<json> RelyingParty::Count(const char* op, Result<json> r) {
  if (!r.ok()) {
    Bump(std::string(op) + "_failed", r.error().cause.empty() ? "internal" : r.error().cause);
  } else {
    Bump(op, r->is_object() && r->contains("status") && (*r)["status"].is_string()
                 ? (*r)["status"].get<std::string>()
                 : "ok");
  }
  return r;
}

Result<std::string> RelyingParty::CheckUser(const json& body) const {
  auto it = body.find("user");
  if (it == body.end() || !it->is_string()) return Reject(reason::kMalformed, "the body has no string user");
  const std::string& user = it->get_ref<const std::string&>();
  if (user.empty() || user.size() > static_cast<size_t>(config_.max_user_id_bytes))
    return Reject(reason::kUserInvalid,
                  "the user must be 1.." + std::to_string(config_.max_user_id_bytes) + " bytes");
  for (unsigned char c : user) {
    if (c < 0x20 || c == 0x7f || c == '/')
      return Reject(reason::kUserInvalid, "the user has a control character or /");
  }
  return user;
}

bool RelyingParty::OriginAllowed(const std::string& origin) const {
  for (const auto& o : config_.origins) {
    if (o == origin) return true;
  }
  return false;
}

void RelyingParty::MaybePurge(int64_t now_ms) {
  int64_t last = last_purge_ms_.load();
  if (now_ms - last < kPurgeEveryMs || !last_purge_ms_.compare_exchange_strong(last, now_ms)) return;
  int64_t ttl_ms = config_.challenge_ttl.count() * 1000;
  (void)store_->Purge(now_ms - kKeepExpiredMs, now_ms - ttl_ms - kKeepExpiredMs);
}

Result<json> RelyingParty::RegistrationOptions(const json& body) {
  return Count("registration_options", [&]() -> Result<json> {
    ASSIGN_OR_RETURN(std::string user, CheckUser(body));
    std::string display = user;
    if (auto it = body.find("display_name"); it != body.end() && !it->is_null()) {
      if (!it->is_string() || it->get_ref<const std::string&>().size() > kMaxDisplayNameBytes)
        return Reject(reason::kMalformed, "display_name is not a string of at most 256 bytes");
      if (!it->get_ref<const std::string&>().empty()) display = it->get<std::string>();
    }
    int64_t now = NowMs();
    MaybePurge(now);
    ASSIGN_OR_RETURN(Bytes handle, store_->UserHandle(user, RandomBytes(32), now));
    ASSIGN_OR_RETURN(auto existing, store_->UserCredentials(user));
    ChallengeRecord ch{RandomBytes(32),
                       CeremonyKind::kRegistration,
                       user,
                       handle,
                       config_.require_user_verification,
                       now,
                       now + config_.challenge_ttl.count() * 1000};
    RETURN_IF_ERROR(store_->PutChallenge(ch));
    // The user's usable (or soon usable) credentials: an authenticator that holds one of them
    // should not make a second. A device whose key died may ignore its own dead one.
    json exclude = json::array();
    for (const auto& c : existing) {
      if (c.state == CredentialState::kActive || c.state == CredentialState::kNeedsStepUp)
        exclude.push_back(Descriptor(c));
    }
    return json{
        {"rp", {{"id", config_.rp_id}, {"name", config_.rp_name}}},
        {"user", {{"id", webauthn::Base64UrlEncode(handle)}, {"name", user}, {"displayName", display}}},
        {"challenge", webauthn::Base64UrlEncode(ch.challenge)},
        {"pubKeyCredParams", json::array({{{"type", "public-key"}, {"alg", webauthn::kCoseAlgEs256}}})},
        {"timeout", config_.challenge_ttl.count() * 1000},
        {"excludeCredentials", exclude},
        {"authenticatorSelection",
         {{"residentKey", "preferred"},
          {"requireResidentKey", false},
          {"userVerification", config_.require_user_verification ? "required" : "preferred"}}},
        {"attestation", "none"},
    };
  }());
}

Result<json> RelyingParty::AuthenticationOptions(const json& body) {
  return Count("authentication_options", [&]() -> Result<json> {
    ASSIGN_OR_RETURN(std::string user, CheckUser(body));
    int64_t now = NowMs();
    MaybePurge(now);
    ASSIGN_OR_RETURN(auto handle, store_->FindUserHandle(user));
    std::vector<CredentialRecord> existing;
    if (handle) {
      ASSIGN_OR_RETURN(existing, store_->UserCredentials(user));
    }
    // An unknown user gets a challenge and an empty allowCredentials, like a known one without
    // usable credentials: the answer does not tell who has registered.
    ChallengeRecord ch{RandomBytes(32),
                       CeremonyKind::kAuthentication,
                       user,
                       handle.value_or(Bytes{}),
                       config_.require_user_verification,
                       now,
                       now + config_.challenge_ttl.count() * 1000};
    RETURN_IF_ERROR(store_->PutChallenge(ch));
    json allow = json::array();
    for (const auto& c : existing) {
      if (c.state == CredentialState::kActive) allow.push_back(Descriptor(c));
    }
    return json{{"challenge", webauthn::Base64UrlEncode(ch.challenge)},
                {"timeout", config_.challenge_ttl.count() * 1000},
                {"rpId", config_.rp_id},
                {"allowCredentials", allow},
                {"userVerification", config_.require_user_verification ? "required" : "preferred"}};
  }());
}

Result<json> RelyingParty::UserCredentials(const std::string& user) {
  ASSIGN_OR_RETURN(auto list, store_->UserCredentials(user));
  json out = json::array();
  for (const auto& c : list) out.push_back(CredentialJson(c));
  return json{{"user", user}, {"credentials", out}};
}

Status RelyingParty::DeleteCredential(const std::string& id_b64u) {
  auto id = webauthn::Base64UrlDecode(id_b64u);
  if (!id.ok()) return Reject(reason::kMalformed, "the credential id is not base64url");
  int64_t now = NowMs();
  Event e{"", *id, "deleted", R"({"by":"admin"})", now};
  auto existing = store_->GetCredential(*id);
  if (!existing.ok()) return std::move(existing).error();
  if (!*existing) return Reject(reason::kCredentialUnknown, "no such credential");
  e.user = (*existing)->user;
  ASSIGN_OR_RETURN(auto t, store_->Transition(*id,
                                              {CredentialState::kActive, CredentialState::kNeedsStepUp,
                                               CredentialState::kDead, CredentialState::kReplaced},
                                              CredentialState::kDeleted, "deleted", e));
  if (!t.record) return Reject(reason::kCredentialUnknown, "no such credential");
  if (t.changed) Bump("admin", "deleted");
  return Ok();
}

Result<json> RelyingParty::ApproveStepUp(const std::string& id_b64u) {
  auto id = webauthn::Base64UrlDecode(id_b64u);
  if (!id.ok()) return Reject(reason::kMalformed, "the credential id is not base64url");
  ASSIGN_OR_RETURN(auto existing, store_->GetCredential(*id));
  if (!existing) return Reject(reason::kCredentialUnknown, "no such credential");
  Event e{existing->user, *id, "approved", R"({"by":"admin"})", NowMs()};
  ASSIGN_OR_RETURN(auto t,
                   store_->Transition(*id, {CredentialState::kNeedsStepUp}, CredentialState::kActive, "", e));
  if (!t.record) return Reject(reason::kCredentialUnknown, "no such credential");
  if (!t.changed)
    return Reject(reason::kStepUpNotPending, std::string("the credential is ") + StateName(t.record->state) +
                                                 ", not waiting for a step-up");
  Bump("admin", "approved");
  return CredentialJson(*t.record);
}

Result<json> RelyingParty::ReportDead(const json& body) {
  return Count("dead_reports", [&]() -> Result<json> {
    ASSIGN_OR_RETURN(Bytes id, DecodeMember(body, "credential_id"));
    ASSIGN_OR_RETURN(Bytes signature, DecodeMember(body, "device_signature"));
    auto cause = body.find("cause");
    if (cause == body.end() || !cause->is_string() ||
        !webauthn::IsValidCause(cause->get_ref<const std::string&>()))
      return Reject(reason::kMalformed, "cause must be 1..64 printable characters without spaces");
    ASSIGN_OR_RETURN(auto existing, store_->GetCredential(id));
    if (!existing) return Reject(reason::kCredentialUnknown, "no such credential");
    if (existing->device_key.empty())
      return Reject(reason::kDeviceKeyUnknown, "the credential was registered without a device key");
    ASSIGN_OR_RETURN(auto message, webauthn::DeadReportMessage(id, cause->get_ref<const std::string&>()));
    auto key = webauthn::CoseToEvpPkey(existing->device_key);
    if (!key.ok() || !webauthn::VerifyEs256(key->get(), message, signature))
      return Reject(reason::kSignatureInvalid, "the report's device signature does not verify");
    Event e{existing->user, id, "dead", json{{"cause", *cause}}.dump(), NowMs()};
    ASSIGN_OR_RETURN(auto t, store_->Transition(id, {CredentialState::kActive, CredentialState::kNeedsStepUp},
                                                CredentialState::kDead, cause->get<std::string>(), e));
    if (!t.record) return Reject(reason::kCredentialUnknown, "no such credential");
    // A credential already dead, replaced or deleted stays as it is: the report changes nothing.
    json out = CredentialJson(*t.record);
    out["status"] = t.changed ? "dead" : "unchanged";
    return out;
  }());
}

json RelyingParty::Metrics() const {
  json out = json::object();
  {
    std::lock_guard lock(metrics_mu_);
    for (const auto& [group, names] : counters_) {
      for (const auto& [name, n] : names) out[group][name] = n;
    }
  }
  out["public_key_cache"] = {{"entries", keys_.size()}, {"hits", keys_.hits()}, {"misses", keys_.misses()}};
  return out;
}

Status RelyingParty::Healthy() { return store_->Ping(); }

Result<std::shared_ptr<EVP_PKEY>> RelyingParty::PublicKey(const CredentialRecord& c) {
  if (auto cached = keys_.Find(c.id, c.public_key)) return cached;
  ASSIGN_OR_RETURN(auto parsed, webauthn::CoseToEvpPkey(c.public_key));
  std::shared_ptr<EVP_PKEY> key(parsed.release(), EVP_PKEY_free);
  keys_.Put(c.id, c.public_key, key);
  return key;
}

}  // namespace enclave::rp
