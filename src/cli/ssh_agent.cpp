// `enclave ssh-agent env`: makes sure enclaved runs (it serves the agent socket beside its own)
// and prints the shell lines that point ssh at it, for `eval "$(enclave ssh-agent env)"`.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <memory>

#include "cli/context.h"

namespace enclave::cli {
namespace {

// Whether an agent accepts connections on `path`.
bool Serves(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return false;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const bool ok = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

// Quoted for sh and csh alike when it holds anything but plain path characters.
std::string ShellWord(const std::string& s) {
  const bool plain = !s.empty() && s.find_first_not_of(
                                       "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                       "0123456789/._-+:@%") == std::string::npos;
  if (plain) return s;
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

int Env(Context& ctx, bool csh) {
  auto api = ctx.Connect();  // starts enclaved when none runs
  if (!api.ok()) return ctx.Fail(api.error());
  auto status = (*api)->Admin("status", nlohmann::json::object(), {});
  if (!status.ok()) return ctx.Fail(status.error());
  const std::string home = status->value("home", "");
  const std::string socket = (std::filesystem::path(home) / "ssh-agent.sock").string();
  if (home.empty() || !Serves(socket)) {
    return ctx.Fail(
        OSStatusError(errsec::kNotAvailable, "enclaved runs but does not serve the ssh agent socket " +
                                                 socket + "; restart it (enclave daemon restart)")
            .WithCause("daemon-unavailable"));
  }
  const std::string word = ShellWord(socket);
  const std::string text =
      csh ? "setenv SSH_AUTH_SOCK " + word + ";\n" : "SSH_AUTH_SOCK=" + word + "; export SSH_AUTH_SOCK;\n";
  return ctx.Print({{"SSH_AUTH_SOCK", socket}}, text);
}

}  // namespace

void AddSshAgentCommands(CLI::App& app, Context& ctx) {
  CLI::App* agent =
      app.add_subcommand("ssh-agent", "the ssh agent enclaved serves for keys created with --ssh");
  agent->require_subcommand(1);
  auto csh = std::make_shared<bool>(false);
  CLI::App* env = agent->add_subcommand(
      "env",
      "start enclaved if needed and print SSH_AUTH_SOCK for the shell: eval \"$(enclave ssh-agent env)\"");
  env->add_flag("-c,--csh", *csh, "print csh syntax (setenv)");
  env->callback([&ctx, csh] { ctx.status = Env(ctx, *csh); });
}

}  // namespace enclave::cli
