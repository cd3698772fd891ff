// The C API's WebAuthn and relying-party calls (include/enclave/webauthn.h) over the device
// side's library (src/rpclient), each run on the handle's one connection under its lock.
#include <set>

#include "capi/handles.h"
#include "common/text.h"
#include "rpclient/relying_party.h"

using namespace enclave;        // NOLINT(google-build-using-namespace)
using namespace enclave::capi;  // NOLINT(google-build-using-namespace)

namespace {

// The attributes a credential's key may be given; the rest are the credential's (rpclient).
const std::set<std::string> kCredentialNames = {"application_label", "label",         "access_group", "token",
                                                "accessible",        "access_control"};

Result<rpclient::CreateParams> ParamsFrom(const enclave_attrs* spec) {
  rpclient::CreateParams p;
  if (spec == nullptr) return p;
  for (const auto& [name, value] : spec->values) {
    const std::string text = ToString(value.view());
    if (kCredentialNames.count(name) == 0) {
      return ParamError("\"" + name + "\" is not an attribute a credential's key may be given");
    }
    if (name == "application_label") p.application_label = Bytes(value.data(), value.data() + value.size());
    if (name == "label") p.label = text;
    if (name == "access_group") p.access_group = text;
    if (name == "token") p.token = text;
    if (name == "accessible") p.accessible = text;
    if (name == "access_control") p.access_control = SplitCommaList(text);
  }
  return p;
}

// Api::Sign with the context's passcode and prompt rule, for the ceremony's signatures.
rpclient::SignFunction SignWithContext(Api& api, const enclave_context* ctx) {
  return [&api, ctx](const KeyQuery& key, const Bytes& message, const AuthOptions& given) {
    AuthOptions auth = given;
    if (ctx != nullptr) {
      auth.context_id = ctx->id;
      auth.interaction_allowed = ctx->interaction_allowed;
      auth.passcode = ctx->passcode;
      auth.application_password = ctx->application_password;
    }
    return api.Sign(key, "ecdsa-signature-message-x962-sha256", message, auth);
  };
}

Status SameConnection(const enclave_handle* e, const enclave_context* ctx) {
  if (ctx != nullptr && ctx->conn != e->conn)
    return ParamError("the authentication context belongs to another enclave handle");
  return Ok();
}

Result<nlohmann::json> ParseJson(const char* text, const char* what) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) return ParamError(std::string(what) + " is not JSON");
  return j;
}

rpclient::ServerOptions Server(const char* url, const char* ca_file) {
  rpclient::ServerOptions s;
  s.url = url;
  if (ca_file != nullptr) s.http.ca_file = ca_file;
  return s;
}

// Runs `flow(authenticator)` on the handle's connection and copies its JSON out.
template <typename Flow>
Status RunFlow(enclave_handle* e, enclave_context* ctx, char** out, Flow flow) {
  RETURN_IF_ERROR(SameConnection(e, ctx));
  ASSIGN_OR_RETURN(nlohmann::json doc, e->conn->With([&](client::Client& c) -> Result<nlohmann::json> {
    rpclient::Authenticator authenticator(c, SignWithContext(c, ctx));
    return flow(authenticator);
  }));
  return CopyOutText(doc.dump(), out);
}

}  // namespace

extern "C" {

int enclave_webauthn_create(enclave_handle* e, const char* options_json, const char* origin,
                            const enclave_attrs* spec, enclave_context* ctx, char** credential_json,
                            enclave_error** err) {
  return Guard(err, [&]() -> Status {
    if (e == nullptr || options_json == nullptr || origin == nullptr || credential_json == nullptr)
      return ParamError("enclave_webauthn_create: NULL argument");
    ASSIGN_OR_RETURN(rpclient::CreateParams params, ParamsFrom(spec));
    ASSIGN_OR_RETURN(nlohmann::json options, ParseJson(options_json, "the options"));
    return RunFlow(e, ctx, credential_json, [&](rpclient::Authenticator& a) -> Result<nlohmann::json> {
      ASSIGN_OR_RETURN(rpclient::Registration r, a.Create(options, origin, params));
      return std::move(r.credential);
    });
  });
}

int enclave_webauthn_get(enclave_handle* e, const char* options_json, const char* origin,
                         enclave_context* ctx, char** assertion_json, enclave_error** err) {
  return Guard(err, [&]() -> Status {
    if (e == nullptr || options_json == nullptr || origin == nullptr || assertion_json == nullptr)
      return ParamError("enclave_webauthn_get: NULL argument");
    ASSIGN_OR_RETURN(nlohmann::json options, ParseJson(options_json, "the options"));
    return RunFlow(e, ctx, assertion_json, [&](rpclient::Authenticator& a) -> Result<nlohmann::json> {
      ASSIGN_OR_RETURN(rpclient::Assertion r, a.Get(options, origin));
      return std::move(r.credential);
    });
  });
}

int enclave_rp_register(enclave_handle* e, const char* server, const char* user, const enclave_attrs* spec,
                        const char* ca_file, enclave_context* ctx, char** answer_json, enclave_error** err) {
  return Guard(err, [&]() -> Status {
    if (e == nullptr || server == nullptr || user == nullptr || answer_json == nullptr)
      return ParamError("enclave_rp_register: NULL argument");
    ASSIGN_OR_RETURN(rpclient::CreateParams params, ParamsFrom(spec));
    return RunFlow(e, ctx, answer_json, [&](rpclient::Authenticator& a) {
      return rpclient::RegisterUser(a, Server(server, ca_file), user, params);
    });
  });
}

int enclave_rp_login(enclave_handle* e, const char* server, const char* user, const char* ca_file,
                     enclave_context* ctx, char** answer_json, enclave_error** err) {
  return Guard(err, [&]() -> Status {
    if (e == nullptr || server == nullptr || user == nullptr || answer_json == nullptr)
      return ParamError("enclave_rp_login: NULL argument");
    return RunFlow(e, ctx, answer_json, [&](rpclient::Authenticator& a) {
      return rpclient::LoginUser(a, Server(server, ca_file), user);
    });
  });
}

int enclave_rp_reenroll(enclave_handle* e, const char* server, const enclave_attrs* query, const char* user,
                        const char* ca_file, enclave_context* ctx, char** answer_json, enclave_error** err) {
  return Guard(err, [&]() -> Status {
    if (e == nullptr || server == nullptr || query == nullptr || answer_json == nullptr)
      return ParamError("enclave_rp_reenroll: NULL argument");
    ASSIGN_OR_RETURN(KeyQuery q, QueryFrom(query->values, false));
    if (!q.kid && !q.label && !q.application_label && !q.application_tag && !q.persistent_id)
      return ParamError("enclave_rp_reenroll: the query selects no key (kid, label, application_label, ...)");
    AuthOptions auth;
    if (ctx != nullptr) {
      auth.context_id = ctx->id;
      auth.interaction_allowed = ctx->interaction_allowed;
      auth.passcode = ctx->passcode;
    }
    const std::optional<std::string> customer = user ? std::optional<std::string>(user) : std::nullopt;
    return RunFlow(e, ctx, answer_json, [&](rpclient::Authenticator& a) {
      return rpclient::ReenrollUser(a, Server(server, ca_file), q, customer, auth);
    });
  });
}

}  // extern "C"
