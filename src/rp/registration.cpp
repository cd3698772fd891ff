// FinishRegistration: WebAuthn L3 §7.1, each step's failure its own reason, then the re-binding
// decision under the user's lock in the store.
#include <nlohmann/json.hpp>

#include "rp/ceremony.h"
#include "rp/credential_json.h"
#include "rp/relying_party.h"
#include "rp/time.h"
#include "rp/tpm_attestation.h"
#include "webauthn/webauthn.h"

namespace enclave::rp {
namespace {

using nlohmann::json;

// A packed self statement plus a verified TPM2_Certify of the same key (docs/rp.md).
constexpr char kAttestationTpm2Certify[] = "tpm2-certify";

// What the enclave-device extension proved: the device key signed this credential (and named
// what it replaces). Absent when there was no extension or its signature did not verify.
struct ProvenDevice {
  Bytes device_key;
  std::optional<Bytes> replaces;
  std::optional<std::string> cause;
};

// Keys of record: what a user already holds (a dead key is still the user's until replaced or
// deleted). A user with one cannot gain a credential without a proof or a step-up.
bool IsKeyOfRecord(const CredentialRecord& c) {
  return c.state == CredentialState::kActive || c.state == CredentialState::kDead;
}

Result<RegistrationPlan> Decide(const Config& config, const std::vector<CredentialRecord>& existing,
                                CredentialRecord fresh, const std::optional<ProvenDevice>& device) {
  int held = 0;
  bool has_key_of_record = false;
  for (const auto& c : existing) {
    if (c.state != CredentialState::kReplaced && c.state != CredentialState::kDeleted) ++held;
    has_key_of_record = has_key_of_record || IsKeyOfRecord(c);
  }
  if (held >= config.max_credentials_per_user)
    return Reject(reason::kTooManyCredentials,
                  "the user holds " + std::to_string(held) + " credentials already");
  RegistrationPlan plan;
  const int64_t now = fresh.created_ms;
  auto event = [&](const Bytes& id, const char* kind, json detail) {
    plan.events.push_back(Event{fresh.user, id, kind, detail.dump(), now});
  };
  if (device) {
    fresh.device_key = device->device_key;
    if (device->replaces) {
      for (const auto& old : existing) {
        // Same user (the list is the user's), a key of record, and the very device key it was
        // registered with: the new key was made in the same enclave home as the one it replaces.
        if (old.id == *device->replaces && IsKeyOfRecord(old) && !old.device_key.empty() &&
            old.device_key == device->device_key) {
          fresh.state = CredentialState::kActive;
          fresh.replaces = old.id;
          plan.replace = old.id;
          std::string cause = device->cause.value_or(old.cause.empty() ? "unknown" : old.cause);
          event(fresh.id, "rebound", {{"replaces", webauthn::Base64UrlEncode(old.id)}, {"cause", cause}});
          event(old.id, "replaced", {{"by", webauthn::Base64UrlEncode(fresh.id)}, {"cause", cause}});
          plan.credential = std::move(fresh);
          return plan;
        }
      }
    }
  }
  bool same_device = false;
  for (const auto& c : existing) {
    same_device = same_device ||
                  (device && IsKeyOfRecord(c) && !c.device_key.empty() && c.device_key == device->device_key);
  }
  if (!has_key_of_record || same_device) {
    // A first credential, or one more from the enclave home that holds the user's key already.
    fresh.state = CredentialState::kActive;
    event(fresh.id, "registered", {{"device_key_bound", device.has_value()}, {"same_device", same_device}});
  } else {
    fresh.state = CredentialState::kNeedsStepUp;
    const char* why = !device            ? "no device-key proof"
                      : device->replaces ? "the replaced credential is not this device's"
                                         : "another device";
    event(fresh.id, "needs-step-up", {{"why", why}});
  }
  plan.credential = std::move(fresh);
  return plan;
}

const char* StatusOf(const RegistrationPlan& plan) {
  if (plan.replace) return "rebound";
  return plan.credential.state == CredentialState::kActive ? "registered" : "needs-step-up";
}

}  // namespace

Result<json> RelyingParty::FinishRegistration(const json& body) {
  return Count("registrations", [&]() -> Result<json> {
    // Steps 1-6, 12: everything the client sent is parsed before any of it is judged, so input
    // that does not parse is `malformed` whatever else is wrong with it.
    ASSIGN_OR_RETURN(RegistrationResponse resp, ParseRegistrationResponse(body));
    ASSIGN_OR_RETURN(webauthn::ClientData cd, webauthn::ParseClientData(resp.client_data_json));
    ASSIGN_OR_RETURN(webauthn::AttestationObject att,
                     webauthn::ParseAttestationObject(resp.attestation_object));
    const webauthn::AuthenticatorData& ad = att.auth_data;
    int64_t now = NowMs();
    // Step 8 (first, so the challenge is spent whatever follows): issued here, unspent, in time.
    ASSIGN_OR_RETURN(auto ceremony, RegistrationCeremony::Redeem(*store_, cd.challenge, now));
    const ChallengeRecord& ch = ceremony.challenge();
    if (cd.type != webauthn::kTypeCreate)  // step 7
      return Reject(reason::kTypeMismatch, "clientDataJSON's type is not webauthn.create");
    if (!OriginAllowed(cd.origin))  // step 9
      return Reject(reason::kOriginMismatch, "clientDataJSON's origin " + cd.origin + " is not allowed");
    if (cd.cross_origin || cd.top_origin)  // step 10: this relying party is never embedded
      return Reject(reason::kOriginMismatch, "cross-origin registrations are not allowed");
    auto client_data_hash = webauthn::Sha256(resp.client_data_json);  // step 11
    if (ad.rp_id_hash != rp_id_hash_)                                 // step 13
      return Reject(reason::kRpIdMismatch, "authenticatorData's rpIdHash is not this relying party's");
    if (!(ad.flags & webauthn::kFlagUp))  // step 14
      return Reject(reason::kUserPresenceRequired, "the UP flag is clear");
    if (ch.user_verification_required && !(ad.flags & webauthn::kFlagUv))  // step 15
      return Reject(reason::kUserVerificationRequired, "the UV flag is clear");
    if (!(ad.flags & webauthn::kFlagBe) && (ad.flags & webauthn::kFlagBs))  // step 16
      return Reject(reason::kMalformed, "BS is set but BE is clear");
    if (!ad.attested) return Reject(reason::kMalformed, "no attested credential data");
    const webauthn::AttestedCredential& cred = *ad.attested;
    if (cred.credential_id != resp.raw_id)
      return Reject(reason::kMalformed, "rawId is not the attested credential id");
    // Step 19: the key is ES256, the one algorithm offered in pubKeyCredParams; and a real point.
    ASSIGN_OR_RETURN(auto key, webauthn::CoseToEvpPkey(cred.cose_key));
    // Step 20: of the extensions enclave-device and enclave-tpm are interpreted; each must parse if present.
    ASSIGN_OR_RETURN(auto proof, webauthn::FindDeviceProof(ad));
    // Steps 21-24: none, packed self, packed x5c (its chain is not judged: no trust anchors are
    // configured, so attestation says what the authenticator claims, not who vouches for it).
    ASSIGN_OR_RETURN(auto attestation_type, webauthn::VerifyAttestation(att, client_data_hash));
    // enclave-tpm: when there, the TPM's certification of this key for this ceremony must hold.
    ASSIGN_OR_RETURN(auto tpm, VerifyTpmAttestation(ad, client_data_hash));
    Bump("tpm_attestations", tpm ? "verified" : "absent");
    // Step 25 (the length) was checked in parsing; step 26 (not registered) by the store's key.
    std::optional<ProvenDevice> device;
    if (proof && webauthn::VerifyDeviceProof(*proof, ad))
      device = ProvenDevice{proof->device_key, proof->replaces, proof->cause};
    Bump("device_proofs", !proof ? "absent" : device ? "verified" : "invalid");

    CredentialRecord fresh;
    fresh.id = cred.credential_id;
    fresh.user = ch.user;
    fresh.public_key = cred.cose_key;
    fresh.sign_count = ad.sign_count;
    fresh.backup_eligible = ad.flags & webauthn::kFlagBe;
    fresh.backup_state = ad.flags & webauthn::kFlagBs;
    fresh.aaguid.assign(cred.aaguid.begin(), cred.aaguid.end());
    fresh.attestation = tpm ? kAttestationTpm2Certify : webauthn::AttestationTypeName(attestation_type);
    fresh.transports = resp.transports;
    fresh.created_ms = fresh.updated_ms = now;
    // Step 27: stored, decided under the user's lock (two registrations racing see each other).
    ASSIGN_OR_RETURN(
        RegistrationPlan plan,
        store_->Register(ch.user, ch.user_handle, now, [&](const std::vector<CredentialRecord>& existing) {
          return Decide(config_, existing, fresh, device);
        }));
    std::shared_ptr<EVP_PKEY> shared(key.release(), EVP_PKEY_free);
    keys_.Put(fresh.id, fresh.public_key, std::move(shared));
    return json{{"user", ch.user},
                {"credential_id", webauthn::Base64UrlEncode(plan.credential.id)},
                {"status", StatusOf(plan)}};
  }());
}

}  // namespace enclave::rp
