#include "rpclient/authenticator.h"

#include <algorithm>

#include "crypto/ec.h"
#include "rpclient/credential.h"
#include "rpclient/device_key.h"
#include "token/tpm2/tpm2_attestation.h"
#include "webauthn/attestation.h"
#include "webauthn/authenticator_data.h"
#include "webauthn/base64url.h"
#include "webauthn/client_data.h"
#include "webauthn/cose.h"
#include "webauthn/device_proof.h"
#include "webauthn/tpm_certify.h"

namespace enclave::rpclient {
namespace {

constexpr char kSignAlgorithm[] = "ecdsa-signature-message-x962-sha256";

std::string B64(ByteView b) { return webauthn::Base64UrlEncode(b); }

Error NotAllowed(const std::string& why) {
  return OSStatusError(errsec::kParam, "WebAuthn: " + why).WithCause("bad-parameter");
}

std::array<uint8_t, 32> RpIdHash(const std::string& rp_id) { return webauthn::Sha256(AsBytes(rp_id)); }

// authData ‖ SHA-256(clientDataJSON): what a WebAuthn signature covers (L3 §6.3.3, §7.2).
Bytes SignedPart(ByteView auth_data, const std::string& client_data_json) {
  Bytes m(auth_data.begin(), auth_data.end());
  const auto hash = webauthn::Sha256(AsBytes(client_data_json));
  m.insert(m.end(), hash.begin(), hash.end());
  return m;
}

Result<Bytes> CoseOf(const KeyInfo& key) {
  auto cose = webauthn::EncodeCoseEs256FromX962(key.public_key_x963);
  if (!cose.ok()) return std::move(cose).error();
  return std::move(*cose);
}

KeyQuery ExactKey(const KeyInfo& key) {
  KeyQuery q;
  q.kid = key.kid;
  q.application_label = key.application_label;
  return q;
}

// The enclave-tpm extension's value (webauthn/tpm_certify.h): the daemon has the TPM certify the
// key with its attestation key over a nonce bound to this ceremony's client data.
Result<Bytes> TpmCertification(Api& api, const KeyInfo& key, std::span<const uint8_t, 32> rp_id_hash,
                               const std::string& client_data, ByteView credential_id) {
  const auto client_data_hash = webauthn::Sha256(AsBytes(client_data));
  ASSIGN_OR_RETURN(auto nonce, webauthn::TpmCertifyNonce(rp_id_hash, client_data_hash, credential_id));
  ASSIGN_OR_RETURN(
      nlohmann::json statement,
      api.Admin("attest", {{"query", KeyQueryToJson(ExactKey(key))}, {"nonce_hex", HexEncode(nonce)}}, {}));
  ASSIGN_OR_RETURN(token::tpm2::Tpm2Attestation a, token::tpm2::Tpm2Attestation::FromJson(statement));
  return webauthn::EncodeTpmCertify(
      {std::move(a.certify_info), std::move(a.signature_der), std::move(a.attestation_key_public_area)});
}

}  // namespace

bool VerifiesUser(const std::vector<std::string>& access_control) {
  return std::any_of(access_control.begin(), access_control.end(), [](const std::string& f) {
    return f == "biometry-any" || f == "biometry-current-set" || f == "device-passcode" ||
           f == "user-presence";
  });
}

Authenticator::Authenticator(Api& api, SignFunction sign) : api_(api), sign_(std::move(sign)) {
  if (!sign_) {
    sign_ = [this](const KeyQuery& key, const Bytes& message, const AuthOptions& auth) {
      return api_.Sign(key, kSignAlgorithm, message, auth);
    };
  }
}

Result<Bytes> Authenticator::SignWith(const KeyInfo& key, const Bytes& message, const std::string& prompt) {
  AuthOptions auth;
  auth.operation_prompt = prompt;
  ASSIGN_OR_RETURN(OperationResult r, sign_(ExactKey(key), message, auth));
  return std::move(r.output);
}

Result<Registration> Authenticator::Create(const nlohmann::json& options, const std::string& origin,
                                           const CreateParams& params) {
  ASSIGN_OR_RETURN(CreationOptions o, ParseCreationOptions(options, origin));
  // L3 §6.3.2 step 3: an authenticator holding an excluded credential makes no new one. A dead
  // key (the field report's: its biometry was reset) is not held in that sense: it can never
  // sign again, and the server still lists it until it learns of the death, so refusing would
  // leave the customer with no way to register this device again.
  for (const auto& id : o.exclude_credentials) {
    auto held = FindCredential(api_, id, o.rp_id);
    if (held.ok() && PermanentlyInvalid(api_, held->kid)) continue;
    if (held.ok()) {
      return OSStatusError(errsec::kDuplicateItem, "this enclave already holds a credential for " + o.rp_id +
                                                       " that the relying party excludes (key " + held->kid +
                                                       ")")
          .WithCause("duplicate-item");
    }
    if (held.error().code != errsec::kItemNotFound) return std::move(held).error();
  }
  KeySpec spec;
  spec.application_label = params.application_label ? *params.application_label : o.user_id;
  spec.label = params.label ? *params.label : o.rp_id + ": " + (o.user_name.empty() ? "user" : o.user_name);
  spec.access_group = params.access_group;
  spec.token = params.token;
  spec.accessible = params.accessible;
  const bool uv_required = o.user_verification == "required";
  spec.access_control = params.access_control
                            ? *params.access_control
                            : (uv_required ? std::vector<std::string>{"biometry-any", "private-key-usage"}
                                           : std::vector<std::string>{"private-key-usage"});
  if (uv_required && !VerifiesUser(spec.access_control)) {
    return NotAllowed(
        "the relying party requires user verification and the access control asks for none "
        "(add biometry-any, biometry-current-set or device-passcode)");
  }
  CredentialRecord record;
  record.rp_id = o.rp_id;
  record.user_handle = o.user_id;
  record.user_name = o.user_name;
  spec.application_tag = EncodeRecord(record);
  spec.can_decrypt = false;
  spec.can_derive = false;
  // The device key first: without it there is no registration, and no credential key to undo.
  RETURN_IF_ERROR(EnsureDeviceKey(api_));
  ASSIGN_OR_RETURN(KeyInfo key, api_.CreateKey(spec));
  auto reg = Register(key, o, origin, std::nullopt);
  if (!reg.ok()) {
    // A key the relying party never saw is no credential: remove it, keep the first error.
    (void)api_.DeleteKeys(ExactKey(key));
    return reg;
  }
  // The enclave learns which relying party the key is for, so that its failures can be reported
  // there (docs/fleet.md); not yet confirmed: the caller posts the credential itself.
  NoteRegistration(api_, key.kid, origin, std::nullopt, "", /*confirmed=*/false);
  return reg;
}

void NoteRegistration(Api& api, const std::string& kid, const std::string& server,
                      const std::optional<Bytes>& replaces, const std::string& cause, bool confirmed) {
  nlohmann::json args = {{"kid", kid}, {"origin", server}, {"confirmed", confirmed}};
  if (replaces) args["replaces"] = webauthn::Base64UrlEncode(*replaces);
  if (!cause.empty()) args["cause"] = cause;
  // Bookkeeping for reports only: a daemon that cannot record it (an older one) changes nothing
  // about the registration itself.
  (void)api.Admin("reports.register", args, {});
}

Result<Registration> Authenticator::Register(const KeyInfo& key, const CreationOptions& o,
                                             const std::string& origin,
                                             const std::optional<Replacement>& replaces) {
  ASSIGN_OR_RETURN(Bytes cose, CoseOf(key));
  const Bytes credential_id = CredentialId(key);
  const auto rp_id_hash = RpIdHash(o.rp_id);

  ASSIGN_OR_RETURN(KeyInfo device, EnsureDeviceKey(api_));
  ASSIGN_OR_RETURN(Bytes device_cose, CoseOf(device));
  webauthn::DeviceProof proof;
  proof.device_key = device_cose;
  std::string cause;
  if (replaces) {
    proof.replaces = replaces->credential_id;
    // A cause the format cannot carry is left out rather than failing the registration.
    if (webauthn::IsValidCause(replaces->cause)) proof.cause = cause = replaces->cause;
  }
  ASSIGN_OR_RETURN(Bytes proof_message,
                   webauthn::DeviceProofMessage(rp_id_hash, credential_id, cose,
                                                proof.replaces ? *proof.replaces : Bytes{}, cause));
  ASSIGN_OR_RETURN(proof.signature, DeviceSign(api_, device, proof_message));

  webauthn::AuthenticatorData ad;
  ad.rp_id_hash = rp_id_hash;
  // AT and ED follow from the attested credential and the extensions (webauthn::Encode).
  ad.flags = webauthn::kFlagUp;
  if (VerifiesUser(key.access_control)) ad.flags |= webauthn::kFlagUv;
  ad.sign_count = 0;
  ad.attested = webauthn::AttestedCredential{webauthn::kEnclaveAaguid, credential_id, cose};
  const std::string client_data = webauthn::ClientDataJson(webauthn::kTypeCreate, o.challenge, origin);
  webauthn::Extensions extensions{{webauthn::kDeviceExtension, webauthn::EncodeDeviceProof(proof)}};
  // A key the TPM holds says so in a form the relying party can check (docs/rp.md).
  if (key.token == "tpm2") {
    ASSIGN_OR_RETURN(extensions[webauthn::kTpmExtension],
                     TpmCertification(api_, key, rp_id_hash, client_data, credential_id));
  }
  ad.extensions_cbor = webauthn::EncodeExtensions(extensions);
  const Bytes auth_data = webauthn::Encode(ad);

  ASSIGN_OR_RETURN(Bytes signature,
                   SignWith(key, SignedPart(auth_data, client_data), "Register with " + o.rp_id));
  const Bytes attestation = webauthn::EncodeAttestationObject(
      webauthn::kFmtPacked, webauthn::EncodePackedSelfStatement(signature), auth_data);

  auto pub = crypto::EcPublicKey::FromX963(key.public_key_x963);
  if (!pub.ok()) return std::move(pub).error();
  Registration r;
  r.key = key;
  r.credential = {
      {"id", B64(credential_id)},
      {"rawId", B64(credential_id)},
      {"type", "public-key"},
      {"authenticatorAttachment", "platform"},
      {"response",
       {{"clientDataJSON", B64(AsBytes(client_data))},
        {"attestationObject", B64(attestation)},
        {"authenticatorData", B64(auth_data)},
        {"publicKey", B64(pub->SpkiDer())},
        {"publicKeyAlgorithm", -7},
        {"transports", nlohmann::json::array({"internal"})}}},
      {"clientExtensionResults", nlohmann::json::object()},
  };
  return r;
}

Result<Assertion> Authenticator::Get(const nlohmann::json& options, const std::string& origin) {
  ASSIGN_OR_RETURN(RequestOptions o, ParseRequestOptions(options, origin));
  ASSIGN_OR_RETURN(KeyInfo key, FindAnyCredential(api_, o.allow_credentials, o.rp_id));
  const auto record = DecodeRecord(key.application_tag);
  const bool uv = VerifiesUser(key.access_control);
  if (o.user_verification == "required" && !uv) {
    return NotAllowed("the relying party requires user verification and key " + key.kid +
                      "'s access control asks for none");
  }
  webauthn::AuthenticatorData ad;
  ad.rp_id_hash = RpIdHash(o.rp_id);
  ad.flags = webauthn::kFlagUp | (uv ? webauthn::kFlagUv : 0);
  ad.sign_count = 0;
  const Bytes auth_data = webauthn::Encode(ad);
  const std::string client_data = webauthn::ClientDataJson(webauthn::kTypeGet, o.challenge, origin);
  ASSIGN_OR_RETURN(Bytes signature,
                   SignWith(key, SignedPart(auth_data, client_data), "Sign in to " + o.rp_id));
  const Bytes credential_id = CredentialId(key);
  Assertion a;
  a.key = key;
  a.credential = {
      {"id", B64(credential_id)},
      {"rawId", B64(credential_id)},
      {"type", "public-key"},
      {"authenticatorAttachment", "platform"},
      {"response",
       {{"clientDataJSON", B64(AsBytes(client_data))},
        {"authenticatorData", B64(auth_data)},
        {"signature", B64(signature)},
        {"userHandle", record ? nlohmann::json(B64(record->user_handle)) : nlohmann::json(nullptr)}}},
      {"clientExtensionResults", nlohmann::json::object()},
  };
  return a;
}

}  // namespace enclave::rpclient
