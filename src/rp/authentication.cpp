// FinishAuthentication: WebAuthn L3 §7.2, each step's failure its own reason.
#include <nlohmann/json.hpp>

#include "rp/ceremony.h"
#include "rp/credential_json.h"
#include "rp/relying_party.h"
#include "rp/time.h"
#include "webauthn/webauthn.h"

namespace enclave::rp {

using nlohmann::json;

Result<json> RelyingParty::FinishAuthentication(const json& body) {
  return Count("authentications", [&]() -> Result<json> {
    // Steps 8-12: parsed before anything is judged.
    ASSIGN_OR_RETURN(AuthenticationResponse resp, ParseAuthenticationResponse(body));
    ASSIGN_OR_RETURN(webauthn::ClientData cd, webauthn::ParseClientData(resp.client_data_json));
    ASSIGN_OR_RETURN(webauthn::AuthenticatorData ad,
                     webauthn::ParseAuthenticatorData(resp.authenticator_data));
    int64_t now = NowMs();
    // Step 14 first, so the challenge is spent whatever follows.
    ASSIGN_OR_RETURN(auto ceremony, AuthenticationCeremony::Redeem(*store_, cd.challenge, now));
    const ChallengeRecord& ch = ceremony.challenge();
    // Steps 5-7. allowCredentials listed the user's active credentials when the challenge was
    // issued, so "one of allowCredentials" is checked as "the challenge's user owns it and it is
    // active" (a credential approved since is accepted too).
    ASSIGN_OR_RETURN(auto found, store_->GetCredential(resp.raw_id));
    if (!found) return Reject(reason::kCredentialUnknown, "no such credential");
    const CredentialRecord& cred = *found;
    if (cred.user != ch.user)
      return Reject(reason::kCredentialNotOwned,
                    "the credential is not the user's the challenge was issued for");
    if (resp.user_handle && *resp.user_handle != ch.user_handle)
      return Reject(reason::kCredentialNotOwned, "userHandle is not the user's handle");
    if (cred.state == CredentialState::kNeedsStepUp)
      return Reject(reason::kStepUpRequired, "the credential waits for a step-up approval");
    if (cred.state != CredentialState::kActive)
      return Reject(reason::kCredentialDead, std::string("the credential is ") + StateName(cred.state));
    if (cd.type != webauthn::kTypeGet)  // step 13
      return Reject(reason::kTypeMismatch, "clientDataJSON's type is not webauthn.get");
    if (!OriginAllowed(cd.origin))  // step 15
      return Reject(reason::kOriginMismatch, "clientDataJSON's origin " + cd.origin + " is not allowed");
    if (cd.cross_origin || cd.top_origin)  // step 16
      return Reject(reason::kOriginMismatch, "cross-origin assertions are not allowed");
    if (ad.rp_id_hash != rp_id_hash_)  // step 17
      return Reject(reason::kRpIdMismatch, "authenticatorData's rpIdHash is not this relying party's");
    if (!(ad.flags & webauthn::kFlagUp))  // step 18
      return Reject(reason::kUserPresenceRequired, "the UP flag is clear");
    bool uv = ad.flags & webauthn::kFlagUv;
    if (ch.user_verification_required && !uv)  // step 19
      return Reject(reason::kUserVerificationRequired, "the UV flag is clear");
    bool be = ad.flags & webauthn::kFlagBe, bs = ad.flags & webauthn::kFlagBs;
    if (!be && bs)  // step 20
      return Reject(reason::kMalformed, "BS is set but BE is clear");
    if (be != cred.backup_eligible)  // step 21: BE is fixed when the credential is made
      return Reject(reason::kBackupEligibilityChanged, "the BE flag differs from the registration's");
    // Step 22: no extensions were asked for; any present were parsed above and are ignored.
    // Steps 23-24: the signature over authenticatorData ‖ SHA-256(clientDataJSON).
    ASSIGN_OR_RETURN(auto key, PublicKey(cred));
    auto hash = webauthn::Sha256(resp.client_data_json);
    Bytes signed_bytes = resp.authenticator_data;
    signed_bytes.insert(signed_bytes.end(), hash.begin(), hash.end());
    if (!webauthn::VerifyEs256(key.get(), signed_bytes, resp.signature))
      return Reject(reason::kSignatureInvalid, "the assertion's signature does not verify");
    // Step 25: 0 stays allowed for an authenticator without a counter; once either is non-zero
    // the new one must be above the stored one (else a clone may be at work).
    int64_t count = ad.sign_count;
    if (!(count == 0 && cred.sign_count == 0) && count <= cred.sign_count) {
      Bump("counter", "regressed");
      return Reject(reason::kCounterRegressed, "signCount " + std::to_string(count) +
                                                   " is not above the stored " +
                                                   std::to_string(cred.sign_count));
    }
    // Step 27: stored only if nothing changed meanwhile (another node, another assertion).
    ASSIGN_OR_RETURN(bool recorded, store_->RecordUse(cred.id, count, bs, now));
    if (!recorded) {
      ASSIGN_OR_RETURN(auto again, store_->GetCredential(cred.id));
      if (!again || again->state != CredentialState::kActive)
        return Reject(reason::kCredentialDead, "the credential stopped being active meanwhile");
      return Reject(reason::kCounterRegressed, "a concurrent assertion moved the counter past this one");
    }
    return json{{"user", ch.user},
                {"credential_id", webauthn::Base64UrlEncode(cred.id)},
                {"status", "ok"},
                {"user_verified", uv}};
  }());
}

}  // namespace enclave::rp
