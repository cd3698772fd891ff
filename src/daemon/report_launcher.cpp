#include "daemon/report_launcher.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace enclave::daemon {

struct ReportLauncher::State {
  std::filesystem::path home;
  std::mutex mu;
  bool running = false;
  bool again = false;
};

namespace {

bool IsExecutable(const std::filesystem::path& p) {
  std::error_code ec;
  return std::filesystem::is_regular_file(p, ec) && ::access(p.c_str(), X_OK) == 0;
}

// The sender's environment: the daemon's, with the home pinned (and the per-user mode, which is
// the only one that starts senders), so that it talks to this daemon and no other.
std::vector<std::string> SenderEnvironment(const std::filesystem::path& home) {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string entry = *e;
    if (entry.rfind("ENCLAVE_HOME=", 0) == 0 || entry.rfind("ENCLAVE_MODE=", 0) == 0) continue;
    env.push_back(entry);
  }
  env.push_back("ENCLAVE_HOME=" + home.string());
  env.push_back("ENCLAVE_MODE=user");
  return env;
}

// posix_spawn, not fork: the daemon is multithreaded and may hold much locked memory.
pid_t Spawn(const std::filesystem::path& home) {
  const std::filesystem::path exe = SenderExecutable();
  if (exe.empty()) return -1;
  const std::string parent = std::to_string(::getpid());
  std::vector<std::string> args = {exe.string(), "report", "send", "--until-empty", "--daemon-pid", parent};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_strings = SenderEnvironment(home);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  // Its own session: a terminal's signals to the daemon's starter do not reach it.
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, exe.c_str(), &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  return rc == 0 ? pid : -1;
}

void StartLocked(const std::shared_ptr<ReportLauncher::State>& state) {
  const pid_t pid = Spawn(state->home);
  if (pid < 0) return;
  state->running = true;
  std::thread([state, pid] {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    std::lock_guard lock(state->mu);
    state->running = false;
    if (state->again) {
      state->again = false;
      StartLocked(state);
    }
  }).detach();
}

}  // namespace

std::filesystem::path SenderExecutable() {
  std::vector<std::filesystem::path> candidates;
  if (const char* env = std::getenv("ENCLAVE_CLI"); env && *env) {
    candidates.emplace_back(env);
  } else {
    std::error_code ec;
    const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec) {
      candidates.push_back(self.parent_path() / "enclave");
      candidates.push_back((self.parent_path() / ENCLAVE_CLI_FROM_LIBEXECDIR).lexically_normal());
    }
    candidates.emplace_back(ENCLAVE_INSTALLED_CLI);
  }
  for (const auto& c : candidates) {
    if (IsExecutable(c)) return c;
  }
  return {};
}

ReportLauncher::ReportLauncher(std::filesystem::path home) : state_(std::make_shared<State>()) {
  state_->home = std::move(home);
}

void ReportLauncher::Kick() {
  std::lock_guard lock(state_->mu);
  if (state_->running) {
    state_->again = true;
    return;
  }
  StartLocked(state_);
}

}  // namespace enclave::daemon
