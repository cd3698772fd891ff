// The device's side of enclave-rpd's API (docs/rp.md): register, log in and re-enroll a
// customer with the enclave as authenticator. Each is the server's options, the ceremony on the
// device, then the credential POSTed back; the server's answer is returned as it came.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/result.h"
#include "rpclient/authenticator.h"
#include "rpclient/http.h"
#include "service/api.h"

namespace enclave::rpclient {

struct ServerOptions {
  std::string url;  // the server's base URL, e.g. https://rp.example.com
  // The origin clientDataJSON names; empty: the server URL's scheme://host[:port], which is what
  // a browser on a page of that server would send.
  std::string origin;
  HttpOptions http;
};

// POSTs `body` to `path` of the server and returns its JSON answer. A 4xx/5xx answer is an error
// of the RelyingParty domain with the HTTP status as code and the server's "reason" as cause
// (its message in the description, both in user_info); an answer that is not a JSON object is
// cause server-answer-malformed.
Result<nlohmann::json> CallServer(const ServerOptions& server, const std::string& path,
                                  const nlohmann::json& body);

// The origin of a server URL: "https://rp.example.com:8443/base" -> "https://rp.example.com:8443".
Result<std::string> OriginOf(const std::string& url);

// POST /v1/registration/options {"user"}, a new credential (Authenticator::Create with
// `params`), POST /v1/registration. The answer: {"user","credential_id","status"} (registered |
// needs-step-up | rebound).
Result<nlohmann::json> RegisterUser(Authenticator& authenticator, const ServerOptions& server,
                                    const std::string& user, const CreateParams& params);
// POST /v1/authentication/options {"user"}, an assertion, POST /v1/authentication.
Result<nlohmann::json> LoginUser(Authenticator& authenticator, const ServerOptions& server,
                                 const std::string& user);
// Re-enrolls the credential key `selector` names (Api::Reenroll, as `enclave key reenroll`) and
// registers the replacement with a device-key proof naming the old credential and the journal's
// cause of its death; the server answers "rebound" when the proof verifies under the device key
// it stored with the old credential. `user`: the customer, default the one the credential was
// registered for. The replacement keeps the replaced credential in its record until the server
// accepted it, so that a failed registration is retried by running this again without making
// another key. `reenroll_auth`: for the old key when it can still sign the rotation statement.
Result<nlohmann::json> ReenrollUser(Authenticator& authenticator, const ServerOptions& server,
                                    const KeyQuery& selector, const std::optional<std::string>& user,
                                    const AuthOptions& reenroll_auth);

}  // namespace enclave::rpclient
