#include "rp/credential_json.h"

#include "rp/reasons.h"
#include "webauthn/authenticator_data.h"
#include "webauthn/base64url.h"

namespace enclave::rp {
namespace {

using nlohmann::json;

constexpr size_t kMaxTransports = 8;
constexpr size_t kMaxTransportBytes = 32;

Result<const json*> CredentialObject(const json& body) {
  auto it = body.find("credential");
  if (it == body.end() || !it->is_object())
    return Reject(reason::kMalformed, "the body has no credential object");
  const json& c = *it;
  auto type = c.find("type");
  if (type == c.end() || *type != "public-key")
    return Reject(reason::kMalformed, "the credential's type is not public-key");
  auto response = c.find("response");
  if (response == c.end() || !response->is_object())
    return Reject(reason::kMalformed, "the credential has no response");
  return &c;
}

Result<Bytes> RawId(const json& c) {
  ASSIGN_OR_RETURN(Bytes raw, DecodeMember(c, "rawId"));
  ASSIGN_OR_RETURN(Bytes id, DecodeMember(c, "id"));
  if (raw != id) return Reject(reason::kMalformed, "the credential's id and rawId differ");
  if (raw.empty() || raw.size() > webauthn::kMaxCredentialIdBytes)
    return Reject(reason::kMalformed, "the credential id is not 1..1023 bytes");
  return raw;
}

}  // namespace

Result<Bytes> DecodeMember(const json& object, const char* name) {
  auto it = object.find(name);
  if (it == object.end() || !it->is_string())
    return Reject(reason::kMalformed, std::string("no base64url string ") + name);
  auto bytes = webauthn::Base64UrlDecode(it->get_ref<const std::string&>());
  if (!bytes.ok()) return Reject(reason::kMalformed, std::string(name) + " is not base64url without padding");
  return std::move(*bytes);
}

Result<RegistrationResponse> ParseRegistrationResponse(const json& body) {
  ASSIGN_OR_RETURN(const json* c, CredentialObject(body));
  RegistrationResponse r;
  ASSIGN_OR_RETURN(r.raw_id, RawId(*c));
  const json& resp = (*c)["response"];
  ASSIGN_OR_RETURN(r.client_data_json, DecodeMember(resp, "clientDataJSON"));
  ASSIGN_OR_RETURN(r.attestation_object, DecodeMember(resp, "attestationObject"));
  json transports = json::array();
  if (auto t = resp.find("transports"); t != resp.end() && !t->is_null()) {
    if (!t->is_array() || t->size() > kMaxTransports)
      return Reject(reason::kMalformed, "transports is not a short array");
    for (const auto& x : *t) {
      if (!x.is_string() || x.get_ref<const std::string&>().size() > kMaxTransportBytes)
        return Reject(reason::kMalformed, "a transport is not a short string");
      transports.push_back(x);
    }
  }
  r.transports = transports.dump();
  return r;
}

Result<AuthenticationResponse> ParseAuthenticationResponse(const json& body) {
  ASSIGN_OR_RETURN(const json* c, CredentialObject(body));
  AuthenticationResponse r;
  ASSIGN_OR_RETURN(r.raw_id, RawId(*c));
  const json& resp = (*c)["response"];
  ASSIGN_OR_RETURN(r.client_data_json, DecodeMember(resp, "clientDataJSON"));
  ASSIGN_OR_RETURN(r.authenticator_data, DecodeMember(resp, "authenticatorData"));
  ASSIGN_OR_RETURN(r.signature, DecodeMember(resp, "signature"));
  if (auto h = resp.find("userHandle"); h != resp.end() && !h->is_null()) {
    ASSIGN_OR_RETURN(Bytes handle, DecodeMember(resp, "userHandle"));
    r.user_handle = std::move(handle);
  }
  return r;
}

std::string UuidText(ByteView a) {
  if (a.size() != 16) return "";
  std::string hex = HexEncode(a);
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
         hex.substr(20);
}

json CredentialJson(const CredentialRecord& c) {
  json transports = json::parse(c.transports, nullptr, false);
  json j = {{"credential_id", webauthn::Base64UrlEncode(c.id)},
            {"user", c.user},
            {"state", StateName(c.state)},
            {"sign_count", c.sign_count},
            {"backup_eligible", c.backup_eligible},
            {"backup_state", c.backup_state},
            {"device_key_bound", !c.device_key.empty()},
            {"aaguid", UuidText(c.aaguid)},
            {"attestation", c.attestation},
            {"transports", transports.is_array() ? transports : json::array()},
            {"created_ms", c.created_ms},
            {"last_used_ms", c.last_used_ms}};
  if (!c.cause.empty()) j["cause"] = c.cause;
  if (!c.replaces.empty()) j["replaces"] = webauthn::Base64UrlEncode(c.replaces);
  if (!c.replaced_by.empty()) j["replaced_by"] = webauthn::Base64UrlEncode(c.replaced_by);
  return j;
}

}  // namespace enclave::rp
