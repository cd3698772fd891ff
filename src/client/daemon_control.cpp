// Starting, stopping, inspecting and watching enclaved from a client process.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "client/client.h"
#include "client/connection.h"
#include "common/home.h"
#include "daemon/codec.h"

namespace enclave::client {
namespace {

constexpr int kDaemonExitAlreadyRunning = 3;

bool IsExecutable(const std::filesystem::path& p) {
  std::error_code ec;
  return std::filesystem::is_regular_file(p, ec) && ::access(p.c_str(), X_OK) == 0;
}

// A zombie counts as gone: it serves nothing and only waits for its parent to reap it.
bool ProcessAlive(pid_t pid) {
  if (pid <= 0 || ::kill(pid, 0) != 0) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  const auto close_paren = line.rfind(')');
  if (close_paren != std::string::npos && close_paren + 2 < line.size()) return line[close_paren + 2] != 'Z';
  return true;
}

bool WaitGone(pid_t pid, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (ProcessAlive(pid)) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

// Runs `argv` and returns its exit status and what it wrote to stderr. Reads stderr to its end
// first: enclaved's parent exits once the daemon is ready, and the daemon itself has redirected
// its stderr to /dev/null by then, so the end comes.
Result<std::pair<int, std::string>> RunAndWait(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  int err_pipe[2];
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    return internal::DaemonUnavailable(std::string("cannot create a pipe: ") + std::strerror(errno));
  }
  const pid_t child = ::fork();
  if (child < 0) {
    ::close(err_pipe[0]);
    ::close(err_pipe[1]);
    return internal::DaemonUnavailable(std::string("cannot fork: ") + std::strerror(errno));
  }
  if (child == 0) {
    // Only async-signal-safe calls between fork and exec.
    ::dup2(err_pipe[1], STDERR_FILENO);
    const int null = ::open("/dev/null", O_RDWR);
    if (null >= 0) {
      ::dup2(null, STDIN_FILENO);
      ::dup2(null, STDOUT_FILENO);
    }
    // The caller's other descriptors (a pipeline's ends, sockets) must not live on in the
    // daemon: a reader waiting for their end would wait for the daemon's.
    ::close_range(3, ~0U, 0);
    ::execv(argv[0], argv.data());
    const char msg[] = "cannot execute the daemon\n";
    [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, msg, sizeof msg - 1);
    ::_exit(127);
  }
  ::close(err_pipe[1]);
  std::string err;
  char buf[512];
  for (;;) {
    const ssize_t n = ::read(err_pipe[0], buf, sizeof buf);
    if (n > 0) {
      if (err.size() < 4096) err.append(buf, static_cast<size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  ::close(err_pipe[0]);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  while (!err.empty() && err.back() == '\n') err.pop_back();
  return std::make_pair(code, err);
}

}  // namespace

std::vector<std::filesystem::path> DaemonCandidates(const std::filesystem::path& explicit_path) {
  std::vector<std::filesystem::path> out;
  if (!explicit_path.empty()) out.push_back(explicit_path);
  // $ENCLAVED is the whole answer when set: a user pointing at one daemon (or at nothing, to
  // disable autostart) must not get another one found elsewhere.
  if (const char* env = std::getenv("ENCLAVED"); env && *env) {
    out.emplace_back(env);
    return out;
  }
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    out.push_back(self.parent_path() / "enclaved");  // the build tree
    // An installed tree, wherever it was put (DESTDIR, an unpacked .deb): bin/ -> libexec/.
    out.push_back((self.parent_path() / ENCLAVE_DAEMON_FROM_BINDIR).lexically_normal());
  }
  // Where `make install` put it, for programs outside the bin directory (the C library's users).
  out.emplace_back(ENCLAVE_INSTALLED_DAEMON);
  if (const char* path = std::getenv("PATH"); path && *path) {
    std::stringstream dirs(path);
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
      if (!dir.empty()) out.push_back(std::filesystem::path(dir) / "enclaved");
    }
  }
  return out;
}

Status StartDaemon(const std::filesystem::path& home, bool debug, const std::filesystem::path& daemon_path) {
  std::filesystem::path daemon;
  std::string tried;
  for (const auto& candidate : DaemonCandidates(daemon_path)) {
    if (IsExecutable(candidate)) {
      daemon = candidate;
      break;
    }
    tried += (tried.empty() ? "" : ", ") + candidate.string();
  }
  if (daemon.empty()) {
    return internal::DaemonUnavailable("cannot find enclaved (tried " + tried +
                                       "); set $ENCLAVED or put it on $PATH");
  }
  std::vector<std::string> args = {daemon.string(), "--home", std::filesystem::absolute(home).string()};
  if (debug) args.push_back("--debug");
  ASSIGN_OR_RETURN(auto run, RunAndWait(args));
  if (run.first == 0 || run.first == kDaemonExitAlreadyRunning) return Ok();
  Error e = internal::DaemonUnavailable("started " + daemon.string() + " --home " + home.string() +
                                        ", which exited with status " + std::to_string(run.first) +
                                        (run.second.empty() ? "" : ": " + run.second));
  // enclaved ends its complaint with "(cause ID)": a setup no retry can fix keeps its cause.
  static const std::regex kCause(R"(\(cause ([a-z0-9-]+)\)\s*$)");
  std::smatch m;
  if (std::regex_search(run.second, m, kCause)) {
    Error classified = OSStatusError(e.code, e.description).WithCause(m[1].str());
    if (classified.permanence() != "unknown") e.cause = m[1].str();
  }
  return e;
}

Status StopDaemon(const std::filesystem::path& home) {
  int err = 0;
  auto fd = internal::ConnectSocket(home, &err);
  if (!fd.ok()) return Ok();  // nothing listens: nothing to stop
  wire::Request ping;
  ping.set_id(1);
  ping.mutable_ping();
  ASSIGN_OR_RETURN(auto pong, internal::RoundTrip(fd->get(), ping));
  const auto pid = static_cast<pid_t>(pong.pong().pid());
  wire::Request shutdown;
  shutdown.set_id(2);
  shutdown.mutable_shutdown();
  (void)internal::RoundTrip(fd->get(), shutdown);
  fd->reset();
  if (WaitGone(pid, std::chrono::seconds(10))) return Ok();
  ::kill(pid, SIGTERM);
  if (WaitGone(pid, std::chrono::seconds(2))) return Ok();
  ::kill(pid, SIGKILL);
  if (WaitGone(pid, std::chrono::seconds(2))) return Ok();
  return internal::DaemonUnavailable("enclaved (pid " + std::to_string(pid) + ") did not stop");
}

Result<nlohmann::json> DaemonStatus(const std::filesystem::path& home) {
  nlohmann::json status = {{"running", false}, {"pid", nullptr}, {"socket", SocketPath(home).string()}};
  int err = 0;
  auto fd = internal::ConnectSocket(home, &err);
  if (!fd.ok()) {
    std::error_code ec;
    if (std::filesystem::exists(SocketPath(home), ec)) status["stale_socket"] = true;
    return status;
  }
  wire::Request ping;
  ping.set_id(1);
  ping.mutable_ping();
  ASSIGN_OR_RETURN(auto pong, internal::RoundTrip(fd->get(), ping));
  status["running"] = true;
  status["pid"] = pong.pong().pid();
  status["version"] = pong.pong().version();
  return status;
}

Status Watch(const std::filesystem::path& home, const EventCallback& callback,
             const std::function<void()>& on_started) {
  ConnectOptions options;
  options.home = home;
  ASSIGN_OR_RETURN(auto fd, internal::ConnectOrStart(home, options));
  wire::Request watch;
  watch.set_id(1);
  watch.mutable_watch();
  ASSIGN_OR_RETURN(auto started, internal::RoundTrip(fd.get(), watch));
  if (!started.has_watch_started()) return daemon::ProtocolError("the daemon did not start the watch");
  if (on_started) on_started();
  for (;;) {
    ASSIGN_OR_RETURN(auto response, internal::ReadResponse(fd.get()));
    if (response.has_error()) return daemon::FromWire(response.error());
    if (!response.has_event()) continue;
    ASSIGN_OR_RETURN(auto event, daemon::ParseJsonBounded(response.event().event_json()));
    if (!callback(event)) return Ok();
  }
}

}  // namespace enclave::client
