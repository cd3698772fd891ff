// `enclave rp register|login|reenroll`: a customer's ceremonies against enclave-rpd
// (docs/rp.md), over HTTP from this process; the daemon only creates keys and signs.
#include <memory>

#include "cli/context.h"
#include "cli/webauthn_common.h"
#include "rpclient/relying_party.h"

namespace enclave::cli {
namespace {

struct ServerFlags {
  std::string url, origin, ca_file;
  long timeout_seconds = 30;

  void AddTo(CLI::App* cmd) {
    cmd->add_option("--server", url, "the relying party's base URL, e.g. https://rp.example.com")->required();
    cmd->add_option("--origin", origin, "the origin clientDataJSON names (default: the server URL's origin)");
    cmd->add_option("--ca-file", ca_file, "PEM file of the CAs to trust (default: the system's store)");
    cmd->add_option("--timeout", timeout_seconds, "seconds an HTTP request may take (default 30)")
        ->check(CLI::Range(1, 600));
  }
  rpclient::ServerOptions ToOptions() const {
    rpclient::ServerOptions s;
    s.url = url;
    s.origin = origin;
    s.http.ca_file = ca_file;
    s.http.timeout_ms = timeout_seconds * 1000;
    return s;
  }
};

struct RegisterOptions {
  ServerFlags server;
  std::string user;
  CredentialFlags flags;
  bool passcode_stdin = false;
};

struct LoginOptions {
  ServerFlags server;
  std::string user;
  bool passcode_stdin = false;
};

struct ReenrollOptions {
  ServerFlags server;
  Selector sel;
  std::string user, prompt;
  CLI::Option* user_opt = nullptr;
  bool passcode_stdin = false;
};

std::string Summary(const std::string& what, const nlohmann::json& answer) {
  std::string s = what + ": " + answer.value("status", "?");
  if (answer.contains("credential_id") && answer["credential_id"].is_string()) {
    s += ", credential " + answer["credential_id"].get<std::string>();
  }
  if (answer.contains("kid") && answer["kid"].is_string()) s += ", key " + answer["kid"].get<std::string>();
  return s + "\n";
}

int Register(Context& ctx, const RegisterOptions& o) {
  auto params = o.flags.ToParams();
  if (!params.ok()) return ctx.Fail(params.error());
  auto api = ctx.Connect();
  if (!api.ok()) return ctx.Fail(api.error());
  rpclient::Authenticator authenticator(**api, PasscodeRetryingSign(ctx, **api, o.passcode_stdin));
  auto answer = rpclient::RegisterUser(authenticator, o.server.ToOptions(), o.user, *params);
  if (!answer.ok()) return ctx.Fail(answer.error());
  return ctx.Print(*answer, Summary("registered " + o.user + " at " + o.server.url, *answer));
}

int Login(Context& ctx, const LoginOptions& o) {
  auto api = ctx.Connect();
  if (!api.ok()) return ctx.Fail(api.error());
  rpclient::Authenticator authenticator(**api, PasscodeRetryingSign(ctx, **api, o.passcode_stdin));
  auto answer = rpclient::LoginUser(authenticator, o.server.ToOptions(), o.user);
  if (!answer.ok()) return ctx.Fail(answer.error());
  return ctx.Print(*answer, Summary("signed " + o.user + " in at " + o.server.url, *answer));
}

int Reenroll(Context& ctx, const ReenrollOptions& o) {
  if (o.sel.empty()) {
    return ctx.Fail(
        OSStatusError(errsec::kParam, "rp reenroll needs a selector (--application-label, --kid, ...)")
            .WithCause("bad-parameter"));
  }
  auto q = o.sel.ToQuery(false);
  if (!q.ok()) return ctx.Fail(q.error());
  auto api = ctx.Connect();
  if (!api.ok()) return ctx.Fail(api.error());
  rpclient::Authenticator authenticator(**api, PasscodeRetryingSign(ctx, **api, o.passcode_stdin));
  AuthOptions auth;
  auth.operation_prompt = o.prompt;
  const std::optional<std::string> user = o.user_opt->count() > 0 ? std::optional(o.user) : std::nullopt;
  // The old key may ask for a passcode to sign its rotation statement: the CLI's retry rule.
  auto answer = WithPasscodeRetry<nlohmann::json>(ctx, auth, o.passcode_stdin, [&](const AuthOptions& a) {
    return rpclient::ReenrollUser(authenticator, o.server.ToOptions(), *q, user, a);
  });
  if (!answer.ok()) return ctx.Fail(answer.error());
  return ctx.Print(*answer, Summary("re-enrolled at " + o.server.url, *answer));
}

}  // namespace

void AddRpCommands(CLI::App& app, Context& ctx) {
  CLI::App* rp = app.add_subcommand("rp", "register and sign in at a relying party (enclave-rpd)");
  rp->require_subcommand(1);

  auto reg = std::make_shared<RegisterOptions>();
  CLI::App* r = rp->add_subcommand("register", "register a new credential for a customer");
  reg->server.AddTo(r);
  r->add_option("--user", reg->user, "the customer (the server's user name)")->required();
  reg->flags.AddTo(r);
  r->add_flag("--passcode-stdin", reg->passcode_stdin,
              "read a passcode from standard input when one is needed");
  r->callback([&ctx, reg] { ctx.status = Register(ctx, *reg); });

  auto login = std::make_shared<LoginOptions>();
  CLI::App* l = rp->add_subcommand("login", "sign a customer in with the credential this enclave holds");
  login->server.AddTo(l);
  l->add_option("--user", login->user, "the customer (the server's user name)")->required();
  l->add_flag("--passcode-stdin", login->passcode_stdin,
              "read a passcode from standard input when one is needed");
  l->callback([&ctx, login] { ctx.status = Login(ctx, *login); });

  auto re = std::make_shared<ReenrollOptions>();
  CLI::App* e = rp->add_subcommand(
      "reenroll", "replace a dead credential key and re-bind the customer to the new one (status rebound)");
  re->server.AddTo(e);
  re->sel.AddTo(e);
  re->user_opt =
      e->add_option("--user", re->user, "the customer (default: the one the credential was made for)");
  e->add_option("--prompt", re->prompt, "operation prompt if the old key must authenticate to sign");
  e->add_flag("--passcode-stdin", re->passcode_stdin,
              "read a passcode from standard input when one is needed");
  e->callback([&ctx, re] { ctx.status = Reenroll(ctx, *re); });
}

}  // namespace enclave::cli
