// enclaved: the enclave daemon. Serves <home>/enclaved.sock until SIGTERM, SIGINT or a Shutdown
// request. Without --foreground it detaches, and its parent exits 0 only once the daemon is
// ready to serve (1 with the reason on stderr otherwise; 3 when another daemon already serves).
#include <fcntl.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

#include "client/home.h"
#include "daemon/listen.h"
#include "daemon/server.h"

namespace {

constexpr int kExitAlreadyRunning = 3;

void Usage() {
  std::cerr << "usage: enclaved [--home DIR] [--foreground] [--debug]\n"
               "       enclaved --system [--state-dir DIR] [--socket PATH] [--user NAME]\n"
               "  --home DIR     enclave home (default $ENCLAVE_HOME, $XDG_DATA_HOME/enclave,\n"
               "                 ~/.local/share/enclave)\n"
               "  --foreground   do not detach; log lifecycle to stderr\n"
               "  --debug        allow fault injection (enclave debug inject)\n"
               "  --frame-timeout-ms N   time a begun request may take to arrive (10000)\n"
               "  --idle-timeout-ms N    a connection without requests for this long is closed (60000)\n"
               "  --max-connections N    concurrent connections served (128)\n"
               "  --max-connections-per-peer N   concurrent connections of one process (32)\n"
               "  --system       serve every local user, each with an enclave of its own, from\n"
               "                 a daemon under its own uid (in the foreground; see docs/system-mode.md)\n"
               "  --state-dir DIR  system mode state (/var/lib/enclave)\n"
               "  --socket PATH  system mode socket (/run/enclave/enclaved.sock), unless systemd\n"
               "                 passes one (socket activation)\n"
               "  --user NAME    the user the system daemon runs as (enclave)\n";
}

long NumberArg(const char* s) { return std::max(1L, std::atol(s)); }

// Reports readiness (or the reason for failing) from the detached daemon to the waiting parent.
class ReadyPipe {
 public:
  void Ok() { Send("OK"); }
  void Fail(const std::string& why) { Send("ERR " + why); }
  int write_fd = -1;

 private:
  void Send(const std::string& msg) {
    if (write_fd < 0) return;
    [[maybe_unused]] ssize_t n = ::write(write_fd, msg.data(), msg.size());
    ::close(write_fd);
    write_fd = -1;
  }
};

// fork, setsid, fork: the grandchild returns (as the daemon); the original process waits for its
// readiness report and exits with it, without running any destructor (the socket is the
// daemon's now).
void Daemonize(ReadyPipe* ready) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) {
    std::perror("enclaved: pipe");
    std::_Exit(1);
  }
  const pid_t child = ::fork();
  if (child < 0) {
    std::perror("enclaved: fork");
    std::_Exit(1);
  }
  if (child > 0) {
    ::close(p[1]);
    int status = 0;
    ::waitpid(child, &status, 0);
    std::string report;
    char buf[512];
    ssize_t n;
    while ((n = ::read(p[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
      if (n > 0) report.append(buf, static_cast<size_t>(n));
    }
    if (report == "OK") std::_Exit(0);
    std::cerr << "enclaved: "
              << (report.size() > 4 ? report.substr(4) : "the daemon exited before it was ready") << "\n";
    std::_Exit(1);
  }
  ::close(p[0]);
  ::setsid();
  const pid_t grandchild = ::fork();
  if (grandchild < 0) std::_Exit(1);
  if (grandchild > 0) std::_Exit(0);
  ready->write_fd = p[1];
  if (::chdir("/") != 0) {
    // Not fatal: the daemon only uses absolute paths.
  }
  const int null = ::open("/dev/null", O_RDWR);
  if (null >= 0) {
    ::dup2(null, STDIN_FILENO);
    ::dup2(null, STDOUT_FILENO);
    ::dup2(null, STDERR_FILENO);
    if (null > STDERR_FILENO) ::close(null);
  }
}

}  // namespace

int main(int argc, char** argv) {
  // Nothing of the starter's beyond stdio (and systemd's socket): a descriptor kept open here
  // would keep the starter's pipes open for the daemon's whole life.
  const int activated = enclave::daemon::ActivatedSocket();
  enclave::daemon::CloseDescriptorsFrom(activated >= 0 ? activated + 1 : 3);
  enclave::daemon::ServerOptions options;
  options.activated_fd = activated;
  bool foreground = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--home" && i + 1 < argc) {
      options.home = argv[++i];
    } else if (arg.rfind("--home=", 0) == 0) {
      options.home = arg.substr(7);
    } else if (arg == "--foreground") {
      foreground = true;
    } else if (arg == "--debug") {
      options.debug = true;
    } else if (arg == "--frame-timeout-ms" && i + 1 < argc) {
      // Tuning (and tests): how long a begun request frame may take to arrive.
      options.frame_timeout = std::chrono::milliseconds(std::max(1L, std::atol(argv[++i])));
    } else if (arg == "--max-connections" && i + 1 < argc) {
      options.max_connections = static_cast<size_t>(NumberArg(argv[++i]));
    } else if (arg == "--max-connections-per-peer" && i + 1 < argc) {
      options.max_connections_per_peer = static_cast<size_t>(NumberArg(argv[++i]));
    } else if (arg == "--idle-timeout-ms" && i + 1 < argc) {
      options.idle_timeout = std::chrono::milliseconds(NumberArg(argv[++i]));
    } else if (arg == "--system") {
      options.system = true;
    } else if (arg == "--state-dir" && i + 1 < argc) {
      options.state_dir = argv[++i];
    } else if (arg == "--socket" && i + 1 < argc) {
      options.socket = argv[++i];
    } else if (arg == "--user" && i + 1 < argc) {
      options.user = argv[++i];
    } else if (arg == "--help" || arg == "-h") {
      Usage();
      return 0;
    } else {
      std::cerr << "enclaved: unknown argument " << arg << "\n";
      Usage();
      return 2;
    }
  }
  if (options.system) {
    // A system service runs in the foreground under its supervisor.
    foreground = true;
    options.state_dir = std::filesystem::absolute(options.state_dir);
    options.socket = std::filesystem::absolute(options.socket);
  } else {
    if (options.home.empty()) options.home = enclave::client::ResolveHome();
    options.home = std::filesystem::absolute(options.home);
  }

  ::signal(SIGPIPE, SIG_IGN);
  auto server = enclave::daemon::Server::Listen(options);
  if (!server.ok()) {
    // The cause lets the starting client classify the failure (a path too long, a read-only
    // home) rather than call every failure transient.
    std::cerr << "enclaved: " << server.error().description << " (cause " << server.error().effective_cause()
              << ")\n";
    const auto& info = server.error().user_info;
    return info.contains("already_running") ? kExitAlreadyRunning : 1;
  }

  ReadyPipe ready;
  if (!foreground) Daemonize(&ready);
  enclave::daemon::HardenProcess();

  // Blocked before any thread exists, so that only the signalfd sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  ::pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  const int signal_fd = ::signalfd(-1, &stop_signals, SFD_CLOEXEC);

  if (auto started = (*server)->Start(); !started.ok()) {
    const std::string why = "cannot open the enclave: " + started.error().ToString();
    ready.Fail(why);
    std::cerr << "enclaved: " << why << "\n";
    return 1;
  }
  if (foreground) {
    std::cerr << "enclaved: serving " << (*server)->socket_path().string() << " (pid " << ::getpid() << ")\n";
  }
  ready.Ok();
  (*server)->Run(signal_fd);
  server->reset();
  if (foreground) std::cerr << "enclaved: stopped\n";
  return 0;
}
