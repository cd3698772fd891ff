// The `enclave` executable: the command library wired to the daemon's client, pinentry and the
// process's standard streams.
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "auth/provider.h"
#include "cli/cli.h"
#include "client/client.h"
#include "common/home.h"

namespace {

using enclave::Result;

Result<nlohmann::json> ControlDaemon(const std::filesystem::path& home, std::string_view action, bool debug) {
  namespace client = enclave::client;
  if (const auto system = enclave::SystemSocket()) {
    if (action != "status") {
      return enclave::OSStatusError(enclave::errsec::kParam,
                                    "in system mode the daemon is the system service: use systemctl " +
                                        std::string(action) + " enclaved-system.service")
          .WithCause("bad-parameter");
    }
    nlohmann::json doc = {
        {"action", "status"}, {"mode", "system"}, {"socket", system->string()}, {"running", false}};
    enclave::client::ConnectOptions options;
    options.socket = *system;
    auto c = client::Client::Connect(options);
    if (c.ok()) {
      if (auto pong = (*c)->Ping(); pong.ok()) {
        doc["running"] = true;
        doc["pid"] = (*pong)["pid"];
        doc["version"] = (*pong)["version"];
      }
    }
    return doc;
  }
  if (action == "stop" || action == "restart") {
    if (auto s = client::StopDaemon(home); !s.ok()) return s.error();
  }
  if (action == "start" || action == "restart") {
    if (auto s = client::StartDaemon(home, debug); !s.ok()) return s.error();
  }
  auto status = client::DaemonStatus(home);
  if (!status.ok()) return status.error();
  nlohmann::json doc = *status;
  doc["action"] = std::string(action);
  doc["home"] = home.string();
  return doc;
}

}  // namespace

int main(int argc, char** argv) {
  const std::filesystem::path home = enclave::ResolveHome();
  std::unique_ptr<enclave::client::Client> client;

  enclave::cli::Environment env;
  env.out = &std::cout;
  env.err = &std::cerr;
  env.in = &std::cin;
  env.connect = [&]() -> Result<enclave::Api*> {
    if (!client) {
      enclave::client::ConnectOptions options;
      options.home = home;
      options.autostart = true;
      auto c = enclave::client::Client::Connect(options);
      if (!c.ok()) return std::move(c).error();
      client = std::move(c).value();
    }
    return static_cast<enclave::Api*>(client.get());
  };
  env.daemon = [&](std::string_view action, bool debug) { return ControlDaemon(home, action, debug); };
  env.ask_passcode = [](std::string_view description, std::string_view prompt, bool confirm) {
    return enclave::auth::AskPasscodeWithPinentry(description, prompt, confirm);
  };

  std::vector<std::string> args(argv + 1, argv + argc);
  const int status = enclave::cli::Run(args, env);
  std::cout.flush();
  return status;
}
