#include "rpclient/relying_party.h"

#include <algorithm>

#include "rpclient/credential.h"
#include "rpclient/device_key.h"
#include "webauthn/base64url.h"

namespace enclave::rpclient {
namespace {

Error Malformed(const std::string& url, const std::string& why) {
  return RelyingPartyError(0, "server-answer-malformed", "the answer of " + url + " " + why);
}

KeyQuery ExactKey(const KeyInfo& key) {
  KeyQuery q;
  q.kid = key.kid;
  q.application_label = key.application_label;
  return q;
}

Result<std::string> OriginFor(const ServerOptions& server) {
  if (!server.origin.empty()) return server.origin;
  return OriginOf(server.url);
}

Status SetRecord(Api& api, const KeyInfo& key, const CredentialRecord& record) {
  KeyChanges changes;
  changes.application_tag = EncodeRecord(record);
  auto updated = api.UpdateKeys(ExactKey(key), changes);
  if (!updated.ok()) return std::move(updated).error();
  return Ok();
}

// Why key `kid` died, as the device's journal recorded it (biometry-database-reset, …); else
// doctor's verdict; else empty (a key re-enrolled while healthy: a rotation).
std::string CauseOfDeath(Api& api, const std::string& kid) {
  if (auto events = api.Admin("events", nlohmann::json::object(), {});
      events.ok() && events->contains("events")) {
    const nlohmann::json& list = (*events)["events"];
    for (auto e = list.rbegin(); list.is_array() && e != list.rend(); ++e) {
      if (!e->is_object() || !e->contains("kids") || !(*e)["kids"].is_array() || !e->contains("cause") ||
          !(*e)["cause"].is_string()) {
        continue;
      }
      const std::string cause = (*e)["cause"].get<std::string>();
      const auto& kids = (*e)["kids"];
      if (cause.empty() || cause == "none") continue;
      if (std::find(kids.begin(), kids.end(), kid) != kids.end()) return cause;
    }
  }
  if (auto doctor = api.Admin("doctor", nlohmann::json::object(), {}); doctor.ok()) {
    for (const auto& k : (*doctor)["keys"]) {
      if (k.is_object() && k.contains("kid") && k["kid"] == kid && k.contains("verdict") &&
          k["verdict"] == "permanently-invalid" && k.contains("cause") && k["cause"].is_string()) {
        return k["cause"].get<std::string>();
      }
    }
  }
  return "";
}

Result<KeyInfo> FindOne(Api& api, const KeyQuery& selector) {
  ASSIGN_OR_RETURN(std::vector<KeyInfo> keys, api.FindKeys(selector));
  if (keys.empty())
    return OSStatusError(errsec::kItemNotFound, "no matching key").WithCause("item-not-found");
  return std::move(keys.front());
}

}  // namespace

Result<std::string> OriginOf(const std::string& url) {
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos) {
    return OSStatusError(errsec::kParam, "the server '" + url + "' is not an http:// or https:// URL")
        .WithCause("bad-parameter");
  }
  const auto path = url.find_first_of("/?#", scheme_end + 3);
  return url.substr(0, path);
}

Result<nlohmann::json> CallServer(const ServerOptions& server, const std::string& path,
                                  const nlohmann::json& body) {
  const std::string url = JoinUrl(server.url, path);
  ASSIGN_OR_RETURN(HttpResponse r, PostJson(url, body.dump(), server.http));
  auto doc = nlohmann::json::parse(r.body, nullptr, false);
  if (r.status < 200 || r.status > 299) {
    std::string reason = "http-" + std::to_string(r.status);
    std::string message = r.body.substr(0, 200);
    if (doc.is_object() && doc.contains("error") && doc["error"].is_object()) {
      const auto& e = doc["error"];
      if (e.contains("reason") && e["reason"].is_string()) reason = e["reason"].get<std::string>();
      message = e.contains("message") && e["message"].is_string() ? e["message"].get<std::string>() : "";
    }
    return RelyingPartyError(r.status, reason,
                             "the relying party refused POST " + path + ": " + reason +
                                 (message.empty() ? "" : " (" + message + ")"))
        .WithInfo("reason", reason)
        .WithInfo("message", message)
        .WithInfo("http_status", r.status)
        .WithInfo("url", url);
  }
  if (!doc.is_object()) return Malformed(url, "is not a JSON object");
  return doc;
}

Result<nlohmann::json> RegisterUser(Authenticator& authenticator, const ServerOptions& server,
                                    const std::string& user, const CreateParams& params) {
  ASSIGN_OR_RETURN(const std::string origin, OriginFor(server));
  ASSIGN_OR_RETURN(nlohmann::json options, CallServer(server, "/v1/registration/options", {{"user", user}}));
  ASSIGN_OR_RETURN(Registration reg, authenticator.Create(options, origin, params));
  auto answer = CallServer(server, "/v1/registration", {{"credential", reg.credential}});
  if (!answer.ok()) {
    // Refused: the key is no credential anywhere, so it goes. Unanswered (the server may have
    // stored it): it stays, and `key delete` removes it.
    if (answer.error().code >= 400) (void)authenticator.api().DeleteKeys(ExactKey(reg.key));
    return answer;
  }
  NoteRegistration(authenticator.api(), reg.key.kid, server.url, std::nullopt, "", /*confirmed=*/true);
  (*answer)["kid"] = reg.key.kid;
  return answer;
}

Result<nlohmann::json> LoginUser(Authenticator& authenticator, const ServerOptions& server,
                                 const std::string& user) {
  ASSIGN_OR_RETURN(const std::string origin, OriginFor(server));
  ASSIGN_OR_RETURN(nlohmann::json options,
                   CallServer(server, "/v1/authentication/options", {{"user", user}}));
  ASSIGN_OR_RETURN(Assertion a, authenticator.Get(options, origin));
  ASSIGN_OR_RETURN(nlohmann::json answer,
                   CallServer(server, "/v1/authentication", {{"credential", a.credential}}));
  answer["kid"] = a.key.kid;
  return answer;
}

Result<nlohmann::json> ReenrollUser(Authenticator& authenticator, const ServerOptions& server,
                                    const KeyQuery& selector, const std::optional<std::string>& user,
                                    const AuthOptions& reenroll_auth) {
  Api& api = authenticator.api();
  ASSIGN_OR_RETURN(const std::string origin, OriginFor(server));
  ASSIGN_OR_RETURN(KeyInfo key, FindOne(api, selector));
  auto record = DecodeRecord(key.application_tag);
  if (!record) {
    return OSStatusError(errsec::kParam,
                         "key " + key.kid + " is not a WebAuthn credential (no record in its tag)")
        .WithCause("bad-parameter");
  }
  const std::string customer = user ? *user : record->user_name;
  if (customer.empty()) {
    return OSStatusError(errsec::kParam, "the credential names no user: give --user")
        .WithCause("bad-parameter");
  }
  // Options before anything changes here: an unreachable server leaves the device as it was.
  ASSIGN_OR_RETURN(nlohmann::json options,
                   CallServer(server, "/v1/registration/options", {{"user", customer}}));
  ASSIGN_OR_RETURN(CreationOptions o, ParseCreationOptions(options, origin));
  RETURN_IF_ERROR(EnsureDeviceKey(api));
  std::string old_kid = key.kid;
  if (!record->replaces) {
    // Not an earlier run's replacement still waiting for the server: replace the key now.
    Replacement dead{CredentialId(key), CauseOfDeath(api, key.kid)};
    ASSIGN_OR_RETURN(ReenrollResult re, api.Reenroll(ExactKey(key), reenroll_auth));
    key = re.key;
    record->replaces = dead.credential_id;
    record->cause = dead.cause;
  } else {
    old_kid.clear();
  }
  record->user_handle = o.user_id;
  record->rp_id = o.rp_id;
  record->user_name = customer;
  RETURN_IF_ERROR(SetRecord(api, key, *record));
  const Replacement replacement{*record->replaces, record->cause};
  ASSIGN_OR_RETURN(Registration reg, authenticator.Register(key, o, origin, replacement));
  ASSIGN_OR_RETURN(nlohmann::json answer,
                   CallServer(server, "/v1/registration", {{"credential", reg.credential}}));
  NoteRegistration(api, key.kid, server.url, replacement.credential_id, replacement.cause,
                   /*confirmed=*/true);
  // Accepted: the replacement is an ordinary credential from now on.
  record->replaces.reset();
  record->cause.clear();
  RETURN_IF_ERROR(SetRecord(api, key, *record));
  answer["kid"] = key.kid;
  if (!old_kid.empty()) answer["old_kid"] = old_kid;
  answer["replaced_credential_id"] = webauthn::Base64UrlEncode(replacement.credential_id);
  answer["cause"] = replacement.cause;
  return answer;
}

}  // namespace enclave::rpclient
