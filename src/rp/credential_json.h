// The JSON forms: PublicKeyCredential answers in (WebAuthn L3 §5.1 toJSON: RegistrationResponseJSON,
// AuthenticationResponseJSON) and credentials out (the admin listing).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/bytes.h"
#include "common/result.h"
#include "rp/store/store.h"

namespace enclave::rp {

struct RegistrationResponse {
  Bytes raw_id;
  Bytes client_data_json;
  Bytes attestation_object;
  std::string transports;  // JSON array text
};

struct AuthenticationResponse {
  Bytes raw_id;
  Bytes client_data_json;
  Bytes authenticator_data;
  Bytes signature;
  std::optional<Bytes> user_handle;  // absent, or null
};

// body["credential"]: an object with id = rawId (base64url), type "public-key" and a response
// object with the binary fields. Reason `malformed`.
Result<RegistrationResponse> ParseRegistrationResponse(const nlohmann::json& body);
Result<AuthenticationResponse> ParseAuthenticationResponse(const nlohmann::json& body);
// A required base64url string member.
Result<Bytes> DecodeMember(const nlohmann::json& object, const char* name);

// {"credential_id", "user", "state", "cause"?, "sign_count", "backup_eligible", "backup_state",
//  "device_key_bound", "aaguid", "attestation", "transports", "replaces"?, "replaced_by"?,
//  "created_ms", "last_used_ms"}
nlohmann::json CredentialJson(const CredentialRecord& c);
// 8-4-4-4-12 lowercase hex.
std::string UuidText(ByteView aaguid);

}  // namespace enclave::rp
