// The WebAuthn L3 JSON options a relying party sends (PublicKeyCredentialCreationOptionsJSON and
// PublicKeyCredentialRequestOptionsJSON), read as a platform would before asking its
// authenticator: what the enclave needs of them, checked, with the caller's origin.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"

namespace enclave::rpclient {

struct CreationOptions {
  std::string rp_id;
  std::string rp_name;
  Bytes user_id;  // the user handle
  std::string user_name;
  std::string user_display_name;
  Bytes challenge;
  std::vector<Bytes> exclude_credentials;
  std::string user_verification = "preferred";  // required | preferred | discouraged
};

struct RequestOptions {
  std::string rp_id;
  Bytes challenge;
  std::vector<Bytes> allow_credentials;
  std::string user_verification = "preferred";
};

// Reads creation options (also when wrapped as {"publicKey": {...}}, as
// navigator.credentials.create takes them). The RP id defaults to the origin's host; it must be
// that host or a parent domain of it, and the origin https, or http on localhost, as a browser
// requires. pubKeyCredParams must allow ES256 (-7), the only algorithm the enclave's keys do.
// Anything missing or malformed is errSecParam (cause bad-parameter) saying what.
Result<CreationOptions> ParseCreationOptions(const nlohmann::json& doc, const std::string& origin);
Result<RequestOptions> ParseRequestOptions(const nlohmann::json& doc, const std::string& origin);

// The origin's host ("https://a.example.com:8443" -> "a.example.com"), or an error when the
// origin is not a secure context a browser would run WebAuthn in.
Result<std::string> OriginHost(const std::string& origin);

// Strict base64url (no padding, URL alphabet) of a field named `what`, for messages.
Result<Bytes> DecodeField(const nlohmann::json& value, const std::string& what);

}  // namespace enclave::rpclient
