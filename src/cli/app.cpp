// Run(): the command tree and its parsing. Each command group lives in its own file.
#include <algorithm>
#include <exception>
#include <iostream>
#include <sstream>

#include "cli/context.h"
#include "common/version.h"

namespace enclave::cli {

int Run(const std::vector<std::string>& args, Environment& env) {
  Context ctx{env};
  CLI::App app{"enclave: hardware-style protected keys (software enclave and TPM 2.0)", "enclave"};
  // Options of the root (--json) are accepted after any subcommand.
  app.fallthrough();
  app.require_subcommand(1);
  app.add_flag("--json", ctx.json, "machine-readable output (errors too, on standard output)");
  app.set_version_flag("--version", VersionLine("enclave"),
                       "print the version and the git revision, then exit");
  // Building every group's options is a tenth of a short command's time: groups are added until
  // the one holding the command named on the line is there (all of them for help, a typo or
  // none). The signing operations come first: they are what runs once per process.
  const auto named =
      std::find_if(args.begin(), args.end(), [](const std::string& a) { return !a.empty() && a[0] != '-'; });
  using AddGroup = void (*)(CLI::App&, Context&);
  // The generator of man pages and completion comes last: it needs the whole tree.
  for (AddGroup add :
       {AddOperationCommands, AddKeyCommands, AddAdminCommands, AddLocalCommands, AddSshAgentCommands,
        AddWebAuthnCommands, AddRpCommands, AddReportCommands, AddGenerateCommand}) {
    add(app, ctx);
    if (named == args.end()) continue;
    const auto is_named = [&](CLI::App* c) { return c->check_name(*named); };
    if (!app.get_subcommands(is_named).empty()) break;
  }

  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 parses a reversed vector
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    std::ostringstream out, err;
    const int code = app.exit(e, out, err);
    *env.out << out.str();
    *env.err << err.str();
    if (code == 0) return 0;
    // With --json a usage error is still a JSON error, so scripts can parse every outcome.
    if (std::find(args.begin(), args.end(), "--json") != args.end()) {
      ctx.json = true;
      ctx.Fail(OSStatusError(errsec::kParam, std::string("usage: ") + e.what()).WithCause("bad-parameter"));
    }
    return 2;
  } catch (const std::exception& e) {
    // Library exceptions stop here; commands themselves return errors as values.
    return ctx.Fail(OSStatusError(errsec::kInternal, std::string("unexpected failure: ") + e.what())
                        .WithCause("internal"));
  }
  return ctx.status;
}

}  // namespace enclave::cli
