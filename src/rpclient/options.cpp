#include "rpclient/options.h"

#include <algorithm>
#include <cctype>

#include "webauthn/base64url.h"

namespace enclave::rpclient {
namespace {

Error Bad(const std::string& what) {
  return OSStatusError(errsec::kParam, "WebAuthn options: " + what).WithCause("bad-parameter");
}

// The options themselves, whether given bare or as {"publicKey": {...}}.
Result<const nlohmann::json*> Unwrap(const nlohmann::json& doc) {
  if (!doc.is_object()) return Bad("not a JSON object");
  if (doc.contains("publicKey") && doc["publicKey"].is_object()) return &doc["publicKey"];
  return &doc;
}

Result<std::string> Text(const nlohmann::json& o, const char* name, bool required) {
  if (!o.contains(name) || o[name].is_null()) {
    if (required) return Bad(std::string(name) + " is missing");
    return std::string();
  }
  if (!o[name].is_string()) return Bad(std::string(name) + " is not a string");
  return o[name].get<std::string>();
}

Result<std::vector<Bytes>> CredentialIds(const nlohmann::json& o, const char* name) {
  std::vector<Bytes> ids;
  if (!o.contains(name) || o[name].is_null()) return ids;
  if (!o[name].is_array()) return Bad(std::string(name) + " is not a list");
  for (const auto& c : o[name]) {
    if (!c.is_object() || !c.contains("id")) return Bad(std::string(name) + ": an entry without an id");
    // Only public-key descriptors name credentials an authenticator may hold (L3 §5.8.3).
    if (c.value("type", "public-key") != "public-key") continue;
    ASSIGN_OR_RETURN(Bytes id, DecodeField(c["id"], std::string(name) + "[].id"));
    ids.push_back(std::move(id));
  }
  return ids;
}

Result<std::string> UserVerification(const nlohmann::json& holder) {
  ASSIGN_OR_RETURN(std::string uv, Text(holder, "userVerification", false));
  if (uv.empty()) return std::string("preferred");
  if (uv != "required" && uv != "preferred" && uv != "discouraged") {
    return Bad("userVerification '" + uv + "' is not required, preferred or discouraged");
  }
  return uv;
}

// An RP id is valid for an origin when it is the origin's host or a parent domain of it (L3
// §5.1.3 step 8; a browser would also refuse public suffixes, which need a list this does not
// carry: the relying party's own rpIdHash check still binds the result to its id).
Status CheckRpId(const std::string& rp_id, const std::string& host) {
  if (rp_id.empty()) return Bad("the RP id is empty");
  if (rp_id == host) return Ok();
  if (host.size() > rp_id.size() && host.compare(host.size() - rp_id.size(), rp_id.size(), rp_id) == 0 &&
      host[host.size() - rp_id.size() - 1] == '.') {
    return Ok();
  }
  return Bad("the RP id '" + rp_id + "' is not the origin's host '" + host + "' or a parent domain of it");
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

}  // namespace

Result<Bytes> DecodeField(const nlohmann::json& value, const std::string& what) {
  if (!value.is_string()) return Bad(what + " is not a base64url string");
  auto bytes = webauthn::Base64UrlDecode(value.get<std::string>());
  if (!bytes.ok()) return Bad(what + " is not base64url without padding");
  return std::move(*bytes);
}

Result<std::string> OriginHost(const std::string& origin) {
  const auto scheme_end = origin.find("://");
  if (scheme_end == std::string::npos) return Bad("the origin '" + origin + "' is not scheme://host[:port]");
  const std::string scheme = Lower(origin.substr(0, scheme_end));
  std::string rest = origin.substr(scheme_end + 3);
  if (rest.empty() || rest.find_first_of("/?#@") != std::string::npos) {
    return Bad("the origin '" + origin + "' must be scheme://host[:port] only");
  }
  std::string host = rest;
  if (host.front() == '[') {
    const auto close = host.find(']');
    if (close == std::string::npos) return Bad("the origin '" + origin + "' has a broken IPv6 address");
    host = host.substr(0, close + 1);
  } else if (const auto colon = host.rfind(':'); colon != std::string::npos) {
    host = host.substr(0, colon);
  }
  host = Lower(host);
  const bool local =
      host == "localhost" || (host.size() > 10 && host.compare(host.size() - 10, 10, ".localhost") == 0);
  // A browser runs WebAuthn only in a secure context: https, or http on the local machine.
  if (scheme != "https" && !(scheme == "http" && local)) {
    return Bad("the origin '" + origin + "' is not https (http is allowed on localhost only)");
  }
  if (host.empty()) return Bad("the origin '" + origin + "' has no host");
  return host;
}

Result<CreationOptions> ParseCreationOptions(const nlohmann::json& doc, const std::string& origin) {
  ASSIGN_OR_RETURN(const nlohmann::json* p, Unwrap(doc));
  const nlohmann::json& o = *p;
  ASSIGN_OR_RETURN(const std::string host, OriginHost(origin));
  CreationOptions c;
  if (!o.contains("challenge")) return Bad("challenge is missing");
  ASSIGN_OR_RETURN(c.challenge, DecodeField(o["challenge"], "challenge"));
  // L3 §5.4: at least 16 random bytes; less is not a challenge worth signing.
  if (c.challenge.size() < 16) return Bad("the challenge has fewer than 16 bytes");
  if (o.contains("rp") && !o["rp"].is_object()) return Bad("rp is not an object");
  const nlohmann::json rp = o.value("rp", nlohmann::json::object());
  ASSIGN_OR_RETURN(c.rp_id, Text(rp, "id", false));
  if (c.rp_id.empty()) c.rp_id = host;
  RETURN_IF_ERROR(CheckRpId(c.rp_id, host));
  ASSIGN_OR_RETURN(c.rp_name, Text(rp, "name", false));
  if (!o.contains("user") || !o["user"].is_object()) return Bad("user is missing");
  const nlohmann::json& user = o["user"];
  if (!user.contains("id")) return Bad("user.id is missing");
  ASSIGN_OR_RETURN(c.user_id, DecodeField(user["id"], "user.id"));
  // L3 §5.4.3: the user handle is 1 to 64 bytes.
  if (c.user_id.empty() || c.user_id.size() > 64) return Bad("user.id must be 1 to 64 bytes");
  ASSIGN_OR_RETURN(c.user_name, Text(user, "name", false));
  ASSIGN_OR_RETURN(c.user_display_name, Text(user, "displayName", false));
  if (!o.contains("pubKeyCredParams") || !o["pubKeyCredParams"].is_array()) {
    return Bad("pubKeyCredParams is missing");
  }
  bool es256 = o["pubKeyCredParams"].empty();  // empty: the platform's default, ES256 among them
  for (const auto& param : o["pubKeyCredParams"]) {
    if (param.is_object() && param.value("type", "") == "public-key" && param.contains("alg") &&
        param["alg"].is_number_integer() && param["alg"].get<int64_t>() == -7) {
      es256 = true;
    }
  }
  if (!es256) return Bad("pubKeyCredParams does not allow ES256 (-7), the only algorithm of enclave keys");
  ASSIGN_OR_RETURN(c.exclude_credentials, CredentialIds(o, "excludeCredentials"));
  if (o.contains("authenticatorSelection") && o["authenticatorSelection"].is_object()) {
    const auto& sel = o["authenticatorSelection"];
    ASSIGN_OR_RETURN(c.user_verification, UserVerification(sel));
    if (sel.contains("authenticatorAttachment") && sel["authenticatorAttachment"] == "cross-platform") {
      return Bad("authenticatorAttachment cross-platform: the enclave is a platform authenticator");
    }
  }
  return c;
}

Result<RequestOptions> ParseRequestOptions(const nlohmann::json& doc, const std::string& origin) {
  ASSIGN_OR_RETURN(const nlohmann::json* p, Unwrap(doc));
  const nlohmann::json& o = *p;
  ASSIGN_OR_RETURN(const std::string host, OriginHost(origin));
  RequestOptions r;
  if (!o.contains("challenge")) return Bad("challenge is missing");
  ASSIGN_OR_RETURN(r.challenge, DecodeField(o["challenge"], "challenge"));
  if (r.challenge.size() < 16) return Bad("the challenge has fewer than 16 bytes");
  ASSIGN_OR_RETURN(r.rp_id, Text(o, "rpId", false));
  if (r.rp_id.empty()) r.rp_id = host;
  RETURN_IF_ERROR(CheckRpId(r.rp_id, host));
  ASSIGN_OR_RETURN(r.allow_credentials, CredentialIds(o, "allowCredentials"));
  ASSIGN_OR_RETURN(r.user_verification, UserVerification(o));
  return r;
}

}  // namespace enclave::rpclient
