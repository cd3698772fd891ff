// `enclave webauthn create|get`: the enclave as a WebAuthn platform authenticator. Options in
// (the relying party's JSON), a PublicKeyCredential out, for any relying party; the ceremony
// itself is rpclient::Authenticator's (src/rpclient/authenticator.h).
#include <iterator>
#include <memory>

#include "cli/context.h"
#include "cli/webauthn_common.h"
#include "common/text.h"

namespace enclave::cli {

Result<nlohmann::json> ReadJsonInput(Context& ctx, const std::string& path, const std::string& what) {
  std::string text;
  if (path == "-") {
    if (ctx.env.in == nullptr) return OSStatusError(errsec::kParam, "no standard input for " + what);
    text.assign(std::istreambuf_iterator<char>(*ctx.env.in), std::istreambuf_iterator<char>());
  } else {
    // Options are a few KiB; a request's limit is far more than any relying party sends.
    ASSIGN_OR_RETURN(Bytes data, ReadFileBytes(path, kMaxRequestInput));
    text = ToString(data);
  }
  auto doc = nlohmann::json::parse(text, nullptr, false);
  if (doc.is_discarded()) {
    return OSStatusError(errsec::kParam, what + " is not JSON").WithCause("bad-parameter");
  }
  return doc;
}

void CredentialFlags::AddTo(CLI::App* cmd) {
  app_label_opt = cmd->add_option("--application-label", app_label,
                                  "application label as text (default: the user handle)");
  app_label_hex_opt = cmd->add_option("--application-label-hex", app_label_hex, "application label as hex");
  app_label_opt->excludes(app_label_hex_opt);
  label_opt = cmd->add_option("--label", label, "human-readable label (default: \"<rp id>: <user name>\")");
  group_opt = cmd->add_option("--access-group", access_group, "keychain access group");
  cmd->add_option("--token", token, "soft (default) or tpm2")->check(CLI::IsMember({"soft", "tpm2"}));
  cmd->add_option("--accessible", accessible, "accessibility class (default when-unlocked-this-device-only)");
  acl_opt = cmd->add_option("--access-control", access_control,
                            "comma list (default biometry-any,private-key-usage when the relying party "
                            "requires user verification, else private-key-usage)");
}

Result<rpclient::CreateParams> CredentialFlags::ToParams() const {
  rpclient::CreateParams p;
  ASSIGN_OR_RETURN(p.application_label, TextOrHex(app_label_opt, app_label, app_label_hex_opt, app_label_hex,
                                                  "--application-label-hex"));
  if (label_opt->count() > 0) p.label = label;
  if (group_opt->count() > 0) p.access_group = access_group;
  p.token = token;
  p.accessible = accessible;
  if (acl_opt->count() > 0) p.access_control = SplitCommaList(access_control);
  return p;
}

rpclient::SignFunction PasscodeRetryingSign(Context& ctx, Api& api, bool passcode_stdin) {
  return [&ctx, &api, passcode_stdin](const KeyQuery& key, const Bytes& message, const AuthOptions& given) {
    AuthOptions auth = given;
    return WithPasscodeRetry<OperationResult>(ctx, auth, passcode_stdin, [&](const AuthOptions& a) {
      return api.Sign(key, "ecdsa-signature-message-x962-sha256", message, a);
    });
  };
}

namespace {

struct CreateOptions {
  std::string options, origin;
  CredentialFlags flags;
  bool passcode_stdin = false;
};

struct GetOptions {
  std::string options, origin;
  bool passcode_stdin = false;
};

// The credential is the output whether or not --json is given: it is what goes to the server.
int PrintCredential(Context& ctx, const nlohmann::json& credential) {
  return ctx.Print(credential, credential.dump(2) + "\n");
}

int Create(Context& ctx, const CreateOptions& o) {
  auto params = o.flags.ToParams();
  if (!params.ok()) return ctx.Fail(params.error());
  auto options = ReadJsonInput(ctx, o.options, "--options");
  if (!options.ok()) return ctx.Fail(options.error());
  auto api = ctx.Connect();
  if (!api.ok()) return ctx.Fail(api.error());
  rpclient::Authenticator authenticator(**api, PasscodeRetryingSign(ctx, **api, o.passcode_stdin));
  auto reg = authenticator.Create(*options, o.origin, *params);
  if (!reg.ok()) return ctx.Fail(reg.error());
  return PrintCredential(ctx, reg->credential);
}

int Get(Context& ctx, const GetOptions& o) {
  auto options = ReadJsonInput(ctx, o.options, "--options");
  if (!options.ok()) return ctx.Fail(options.error());
  auto api = ctx.Connect();
  if (!api.ok()) return ctx.Fail(api.error());
  rpclient::Authenticator authenticator(**api, PasscodeRetryingSign(ctx, **api, o.passcode_stdin));
  auto a = authenticator.Get(*options, o.origin);
  if (!a.ok()) return ctx.Fail(a.error());
  return PrintCredential(ctx, a->credential);
}

}  // namespace

void AddWebAuthnCommands(CLI::App& app, Context& ctx) {
  CLI::App* w = app.add_subcommand("webauthn", "the enclave as a WebAuthn platform authenticator");
  w->require_subcommand(1);

  auto c = std::make_shared<CreateOptions>();
  CLI::App* create = w->add_subcommand(
      "create",
      "make a credential from PublicKeyCredentialCreationOptions JSON (navigator.credentials.create)");
  create->add_option("--options", c->options, "the options JSON file, or - for standard input")->required();
  create->add_option("--origin", c->origin, "the caller's origin, e.g. https://example.com")->required();
  c->flags.AddTo(create);
  create->add_flag("--passcode-stdin", c->passcode_stdin,
                   "read a passcode from standard input when one is needed (not with --options -)");
  create->callback([&ctx, c] { ctx.status = Create(ctx, *c); });

  auto g = std::make_shared<GetOptions>();
  CLI::App* get = w->add_subcommand(
      "get", "make an assertion from PublicKeyCredentialRequestOptions JSON (navigator.credentials.get)");
  get->add_option("--options", g->options, "the options JSON file, or - for standard input")->required();
  get->add_option("--origin", g->origin, "the caller's origin, e.g. https://example.com")->required();
  get->add_flag("--passcode-stdin", g->passcode_stdin,
                "read a passcode from standard input when one is needed (not with --options -)");
  get->callback([&ctx, g] { ctx.status = Get(ctx, *g); });
}

}  // namespace enclave::cli
