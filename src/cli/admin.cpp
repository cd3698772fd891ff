// Device administration and diagnosis through Api::Admin, and daemon control.
#include <functional>
#include <iomanip>
#include <memory>
#include <sstream>

#include "cli/context.h"

namespace enclave::cli {
namespace {

// Renders a successful admin result for people (the whole document goes to --json only).
using Human = std::function<std::string(const nlohmann::json&)>;

int Admin(Context& ctx, const std::string& command, const nlohmann::json& args,
          const std::vector<SecureBytes>& secrets = {}, const Human& human = {}) {
  auto api = ctx.Connect();
  if (!api.ok()) return ctx.Fail(api.error());
  auto r = (*api)->Admin(command, args, secrets);
  if (!r.ok()) return ctx.Fail(r.error());
  return ctx.Print(*r, human ? human(*r) : "");
}

Human Sentence(const std::string& text) {
  return [text](const nlohmann::json&) { return text + "\n"; };
}

std::string Join(const nlohmann::json& list) {
  std::string out;
  for (const auto& item : list) {
    if (item.is_string()) out += (out.empty() ? "" : ", ") + item.get<std::string>();
  }
  return out.empty() ? "none" : out;
}

// What a biometry command did, in a sentence: the simulator's state is in --json.
std::string BiometryText(const std::string& action, const std::string& finger, const nlohmann::json& r) {
  const std::string enrolled =
      "Enrolled fingers: " + Join(r.value("enrolled", nlohmann::json::array())) + ".\n";
  if (action == "enroll") return "Enrolled " + finger + ". " + enrolled;
  if (action == "unenroll") return "Removed " + finger + ". " + enrolled;
  if (action == "reset") {
    return "The biometric database was reset; keys bound to the old enrollment are no longer usable. " +
           enrolled;
  }
  if (action == "match") return "The next biometric prompt will match.\n";
  if (action == "no-match") return "The next biometric prompt will not match.\n";
  if (action == "cancel") return "The next biometric prompt will be cancelled.\n";
  if (action == "lockout") return "Biometry is locked out until the next enrollment change or reset.\n";
  std::string text = "provider  " + r.value("provider", std::string("?")) + "\n";
  if (r.contains("simulator")) {
    const auto& sim = r["simulator"];
    text += "enrolled  " + Join(sim.value("enrolled", nlohmann::json::array())) + "\n" + "next      " +
            sim.value("next", std::string("?")) + "\n";
  } else if (r.contains("enrolled")) {
    text += "enrolled  " + Join(r["enrolled"]) + "\n";
  }
  return text;
}

// True when some object in the report says a passcode is set ("passcode_set": true).
bool ReportsPasscodeSet(const nlohmann::json& j) {
  if (j.is_object()) {
    if (j.contains("passcode_set") && j["passcode_set"].is_boolean()) return j["passcode_set"].get<bool>();
    for (const auto& [k, v] : j.items()) {
      if (ReportsPasscodeSet(v)) return true;
    }
  }
  return false;
}

// Collects the passcodes a passcode command needs, from stdin lines or pinentry, in the order
// Api::Admin expects them (old first).
Result<std::vector<SecureBytes>> PasscodeSecrets(Context& ctx, const std::string& action, bool from_stdin) {
  std::vector<SecureBytes> secrets;
  auto ask = [&](const std::string& description, bool confirm) -> Result<SecureBytes> {
    if (!ctx.env.ask_passcode) {
      return OSStatusError(errsec::kInteractionNotAllowed,
                           "cannot ask for a passcode here; use --passcode-stdin")
          .WithCause("interaction-not-allowed");
    }
    return ctx.env.ask_passcode(description, "Passcode:", confirm);
  };
  if (from_stdin) {
    // `set` takes the old passcode first when one is set, so it reads a second line if given.
    const size_t wanted = action == "change" ? 2 : 1;
    const size_t most = action == "remove" || action == "unlock" ? 1 : 2;
    for (size_t i = 0; i < most; ++i) {
      if (i >= wanted && (ctx.env.in == nullptr || ctx.env.in->peek() == std::char_traits<char>::eof()))
        break;
      ASSIGN_OR_RETURN(SecureBytes s, ReadSecretLine(ctx.env, i == 0 ? "passcode" : "new passcode"));
      secrets.push_back(std::move(s));
    }
    return secrets;
  }
  if (action == "unlock") {
    ASSIGN_OR_RETURN(SecureBytes p, ask("Enter the device passcode to unlock the enclave.", false));
    secrets.push_back(std::move(p));
  } else if (action == "remove") {
    ASSIGN_OR_RETURN(SecureBytes p,
                     ask("Enter the current passcode to remove it. Keys that require a passcode "
                         "(when-passcode-set-this-device-only) will be destroyed.",
                         false));
    secrets.push_back(std::move(p));
  } else {
    bool has_old = action == "change";
    if (!has_old) {
      auto api = ctx.Connect();
      if (api.ok()) {
        auto status = (*api)->Admin("status", nlohmann::json::object(), {});
        has_old = status.ok() && ReportsPasscodeSet(*status);
      }
    }
    if (has_old) {
      ASSIGN_OR_RETURN(SecureBytes old, ask("Enter the current passcode.", false));
      secrets.push_back(std::move(old));
    }
    ASSIGN_OR_RETURN(SecureBytes fresh, ask("Enter the new device passcode.", true));
    secrets.push_back(std::move(fresh));
  }
  return secrets;
}

int PasscodeCommand(Context& ctx, const std::string& action, bool from_stdin) {
  auto secrets = PasscodeSecrets(ctx, action, from_stdin);
  if (!secrets.ok()) return ctx.Fail(secrets.error());
  const std::string command = action == "unlock" ? "unlock" : "passcode." + action;
  const std::string done =
      action == "unlock"   ? "The enclave is unlocked."
      : action == "remove" ? "The device passcode is removed; keys that required it are destroyed."
                           : "The device passcode is " + std::string(action == "set" ? "set." : "changed.");
  return Admin(ctx, command, nlohmann::json::object(), *secrets, Sentence(done));
}

int Doctor(Context& ctx) {
  auto api = ctx.Connect();
  if (!api.ok()) return ctx.Fail(api.error());
  auto r = (*api)->Admin("doctor", nlohmann::json::object(), {});
  if (!r.ok()) return ctx.Fail(r.error());
  bool any_dead = false;
  std::ostringstream table;
  const auto keys = r->value("keys", nlohmann::json::array());
  if (!keys.empty())
    table << std::left << std::setw(18) << "KID" << std::setw(21) << "VERDICT"
          << "CAUSE / REMEDY\n";
  for (const auto& k : keys) {
    const std::string verdict = k.value("verdict", "");
    any_dead = any_dead || verdict == "permanently-invalid";
    table << std::setw(18) << k.value("kid", "?");
    if (k.contains("cause") && k["cause"].is_string() && !k["cause"].get<std::string>().empty()) {
      table << std::setw(21) << verdict << k["cause"].get<std::string>() << " / " << k.value("remedy", "");
    } else {
      table << verdict;
    }
    table << "\n";
  }
  const auto summary = r->value("summary", nlohmann::json::object());
  const bool db_ok = r->value("database", nlohmann::json::object()).value("ok", false);
  table << keys.size() << (keys.size() == 1 ? " key: " : " keys: ") << summary.value("healthy", 0)
        << " healthy, " << summary.value("unavailable_now", 0) << " unavailable now, "
        << summary.value("permanently_invalid", 0) << " permanently invalid; the database is "
        << (db_ok ? "intact" : "damaged (see --json)") << ".\n";
  ctx.Print(*r, table.str());
  return any_dead ? 1 : 0;
}

int Sysdiagnose(Context& ctx, const std::string& out) {
  auto api = ctx.Connect();
  if (!api.ok()) return ctx.Fail(api.error());
  auto r = (*api)->Admin("sysdiagnose", nlohmann::json::object(), {});
  if (!r.ok()) return ctx.Fail(r.error());
  if (auto s = WriteDiagnosticsBundle(*r, out); !s.ok()) return ctx.Fail(s.error());
  nlohmann::json names = nlohmann::json::array();
  const nlohmann::json files = r->value("files", nlohmann::json::object());
  for (const auto& [name, _] : files.items()) names.push_back(name);
  names.push_back("enclave-cli-version.json");
  return ctx.Print({{"out", out}, {"files", names}}, "wrote diagnostics bundle " + out + "\n");
}

struct InjectOptions {
  std::string fault, kid, klass;
  std::vector<std::string> extra;
};

int Inject(Context& ctx, const InjectOptions& o) {
  nlohmann::json args{{"fault", o.fault}};
  if (!o.kid.empty()) args["kid"] = o.kid;
  if (!o.klass.empty()) args["class"] = o.klass;
  for (const auto& kv : o.extra) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      return ctx.Fail(OSStatusError(errsec::kParam, "--arg expects KEY=VALUE").WithCause("bad-parameter"));
    }
    args[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return Admin(ctx, "inject", args);
}

int Daemon(Context& ctx, const std::string& action, bool debug) {
  if (!ctx.env.daemon) {
    return ctx.Fail(OSStatusError(errsec::kUnimplemented, "daemon control is not available here")
                        .WithCause("unimplemented"));
  }
  auto r = ctx.env.daemon(action, debug);
  if (!r.ok()) return ctx.Fail(r.error());
  return ctx.Print(*r);
}

}  // namespace

void AddAdminCommands(CLI::App& app, Context& ctx) {
  app.add_subcommand("status", "the enclave's state: keybag, lock, biometry, tokens, TPM")->callback([&ctx] {
    ctx.status = Admin(ctx, "status", nlohmann::json::object());
  });

  CLI::App* config = app.add_subcommand("config", "read or change the configuration");
  config->require_subcommand(1);
  auto key = std::make_shared<std::string>();
  auto value = std::make_shared<std::string>();
  CLI::App* get = config->add_subcommand("get", "print a setting");
  get->add_option("KEY", *key, "biometry | tpm2-tcti | passcode-max-attempts | ...")->required();
  get->callback([&ctx, key] { ctx.status = Admin(ctx, "config.get", {{"key", *key}}); });
  CLI::App* set = config->add_subcommand("set", "change a setting");
  set->add_option("KEY", *key, "biometry | tpm2-tcti | passcode-max-attempts | ...")->required();
  set->add_option("VALUE", *value, "the new value")->required();
  set->callback([&ctx, key, value] {
    ctx.status = Admin(ctx, "config.set", {{"key", *key}, {"value", *value}});
  });

  CLI::App* bio = app.add_subcommand("biometry", "the biometry provider (the simulator's controls)");
  bio->require_subcommand(1);
  auto finger = std::make_shared<std::string>();
  for (const char* action : {"enroll", "unenroll"}) {
    CLI::App* cmd = bio->add_subcommand(action, std::string(action) + " a finger");
    cmd->add_option("--finger", *finger, "finger name, e.g. right-thumb")->required();
    cmd->callback([&ctx, finger, action] {
      ctx.status =
          Admin(ctx, "biometry", {{"action", action}, {"finger", *finger}}, {},
                [action, finger](const nlohmann::json& r) { return BiometryText(action, *finger, r); });
    });
  }
  for (const char* action : {"match", "no-match", "cancel", "lockout", "reset", "status"}) {
    bio->add_subcommand(action, std::string("simulator: ") + action)->callback([&ctx, action] {
      ctx.status = Admin(ctx, "biometry", {{"action", action}}, {},
                         [action](const nlohmann::json& r) { return BiometryText(action, "", r); });
    });
  }

  auto from_stdin = std::make_shared<bool>(false);
  CLI::App* pass = app.add_subcommand("passcode", "set, change or remove the device passcode");
  pass->require_subcommand(1);
  for (const char* action : {"set", "change", "remove"}) {
    CLI::App* cmd = pass->add_subcommand(action, std::string(action) + " the device passcode");
    cmd->add_flag("--passcode-stdin", *from_stdin,
                  "read passcodes from standard input, one per line (old first)");
    cmd->callback([&ctx, action, from_stdin] { ctx.status = PasscodeCommand(ctx, action, *from_stdin); });
  }
  CLI::App* unlock = app.add_subcommand("unlock", "unlock the enclave with the passcode");
  unlock->add_flag("--passcode-stdin", *from_stdin, "read the passcode from standard input");
  unlock->callback([&ctx, from_stdin] { ctx.status = PasscodeCommand(ctx, "unlock", *from_stdin); });
  app.add_subcommand("lock", "lock the enclave (when-unlocked keys become unavailable)")->callback([&ctx] {
    ctx.status = Admin(ctx, "lock", nlohmann::json::object(), {}, Sentence("The enclave is locked."));
  });

  app.add_subcommand("doctor", "check every key without prompting; exit 1 if any is permanently invalid")
      ->callback([&ctx] { ctx.status = Doctor(ctx); });
  app.add_subcommand("events", "the journal of events that invalidated keys")->callback([&ctx] {
    ctx.status = Admin(ctx, "events", nlohmann::json::object());
  });
  auto out = std::make_shared<std::string>();
  CLI::App* diag =
      app.add_subcommand("sysdiagnose", "write a diagnostics bundle (no secrets) for a bug report");
  diag->add_option("-o,--out", *out, "output FILE.tar.gz")->required();
  diag->callback([&ctx, out] { ctx.status = Sysdiagnose(ctx, *out); });

  CLI::App* debug = app.add_subcommand("debug", "support tools (need the daemon started with --debug)");
  debug->require_subcommand(1);
  auto inject = std::make_shared<InjectOptions>();
  CLI::App* inj = debug->add_subcommand("inject", "inject a fault");
  inj->add_option("FAULT", inject->fault,
                  "biometry-reset | enrollment-change | class-key-corrupt | blob-flip | blob-missing | "
                  "db-page-corrupt")
      ->required();
  inj->add_option("--kid", inject->kid, "the key to damage");
  inj->add_option("--class", inject->klass, "protection class (ak, aku, ck, ..., or its CLI name)");
  inj->add_option("--arg", inject->extra, "extra KEY=VALUE argument for the fault");
  inj->callback([&ctx, inject] { ctx.status = Inject(ctx, *inject); });

  CLI::App* daemon = app.add_subcommand("daemon", "control the enclave daemon of this ENCLAVE_HOME");
  daemon->require_subcommand(1);
  auto debug_flag = std::make_shared<bool>(false);
  for (const char* action : {"start", "stop", "restart", "status"}) {
    CLI::App* cmd = daemon->add_subcommand(action, std::string(action) + " the daemon");
    if (std::string(action) == "start" || std::string(action) == "restart") {
      cmd->add_flag("--debug", *debug_flag, "allow fault injection (enclave debug inject)");
    }
    cmd->callback([&ctx, action, debug_flag] { ctx.status = Daemon(ctx, action, *debug_flag); });
  }
}

}  // namespace enclave::cli
