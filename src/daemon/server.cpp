#include "daemon/server.h"

#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "common/home.h"
#include "common/secure_memory.h"
#include "daemon/codec.h"
#include "daemon/frame.h"
#include "daemon/listen.h"
#include "daemon/server_util.h"
#include "sshagent/agent.h"

namespace enclave::daemon {
namespace {

Error Unavailable(const std::string& what) { return ListenError(what); }

Error SystemError(const std::string& what) {
  const int err = errno;
  return ListenError(what + ": " + std::strerror(err), CauseOfErrno(err));
}

service::Peer PeerOf(int fd) {
  service::Peer peer;
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
    peer.uid = cred.uid;
    peer.pid = static_cast<uint32_t>(cred.pid);
    std::error_code ec;
    auto exe = std::filesystem::read_symlink("/proc/" + std::to_string(cred.pid) + "/exe", ec);
    if (!ec) peer.executable = exe.string();
  } else {
    // Unknown peer: a uid that can never be ours.
    peer.uid = static_cast<uint32_t>(-1);
  }
  return peer;
}

}  // namespace

using internal::SteadyMs;
using internal::Wake;

void HardenProcess() {
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  // First the small arena for class keys, the device secret and passcode material, which fits
  // under a small RLIMIT_MEMLOCK where locking everything (below) does not.
  InitSecureMemory();
  rlimit none{0, 0};
  ::setrlimit(RLIMIT_CORE, &none);
  // Locking future mappings under a finite RLIMIT_MEMLOCK would make later allocations fail, so
  // only lock them when the limit allows; MCL_ONFAULT keeps thread stacks from being populated.
  rlimit memlock{};
  int flags = MCL_CURRENT | MCL_ONFAULT;
  if (::getrlimit(RLIMIT_MEMLOCK, &memlock) == 0 && memlock.rlim_cur == RLIM_INFINITY) flags |= MCL_FUTURE;
  (void)::mlockall(flags);
}

Server::Server(const ServerOptions& options)
    : options_(options),
      socket_path_(options.system ? options.socket : SocketPath(options.home)),
      agent_socket_path_(options.home / "ssh-agent.sock"),
      pid_path_(options.system ? options.state_dir / "enclaved.pid" : PidPath(options.home)),
      log_(options.system ? options.state_dir : options.home) {}

Server::~Server() {
  Stop();
  CloseAll();
  RemoveFiles();
}

Result<std::unique_ptr<Server>> Server::Listen(const ServerOptions& options) {
  std::unique_ptr<Server> server(new Server(options));
  server->files_removed_ = true;  // until the lock is ours, the files may be another daemon's
  if (options.system) {
    // As root: the state folder for the daemon's user (the lock lives there).
    RETURN_IF_ERROR(PrepareStateDirectory(options.state_dir, options.user));
  } else {
    RETURN_IF_ERROR(EnsureDirectory(options.home, 0700));
  }
  RETURN_IF_ERROR(server->TakeLock());
  if (options.system) {
    // Still root, and only now that the lock is ours: a second system daemon must not replace
    // the first one's socket before finding the lock taken. Who may do what is decided per
    // request from SO_PEERCRED, so anyone may connect. Then root is given up.
    if (options.listen_fd >= 0) {
      server->listen_fd_.reset(options.listen_fd);
      server->socket_inherited_ = true;
    } else {
      RETURN_IF_ERROR(EnsureDirectory(server->socket_path_.parent_path(), 0755));
      ASSIGN_OR_RETURN(server->listen_fd_, BindSocket(server->socket_path_, 0666));
    }
    RETURN_IF_ERROR(DropPrivileges(options.user));
  } else {
    // Under socket activation systemd owns the main socket; the agent socket is always ours.
    if (options.listen_fd >= 0) {
      server->listen_fd_.reset(options.listen_fd);
      server->socket_inherited_ = true;
      ::fcntl(options.listen_fd, F_SETFD, FD_CLOEXEC);
    }
    // Bound under staging names and published by Start once the enclave is open.
    for (auto [path, fd] : {std::pair{&server->socket_path_, &server->listen_fd_},
                            std::pair{&server->agent_socket_path_, &server->agent_listen_fd_}}) {
      if (fd->valid()) continue;
      ASSIGN_OR_RETURN(*fd, BindSocket(*path, 0600, StagingPathOf(*path)));
      server->staged_.push_back(*path);
    }
  }
  // Above every connection, so that a killed daemon stops taking clients before it drops one.
  server->listen_fd_ = MoveToTopDescriptor(std::move(server->listen_fd_), 0);
  server->agent_listen_fd_ = MoveToTopDescriptor(std::move(server->agent_listen_fd_), 1);
  server->files_removed_ = false;

  int wake[2];
  if (::pipe2(wake, O_CLOEXEC | O_NONBLOCK) != 0) return SystemError("cannot create a pipe");
  server->wake_read_.reset(wake[0]);
  server->wake_write_.reset(wake[1]);
  return server;
}

// The pid file doubles as the home's lock: whoever holds the flock is the daemon. A read-only
// home still locks, so that the error names what cannot be changed.
Status Server::TakeLock() {
  lock_fd_.reset(::open(pid_path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!lock_fd_.valid() && (errno == EROFS || errno == EACCES)) {
    lock_fd_.reset(::open(pid_path_.c_str(), O_RDONLY | O_CLOEXEC));
  }
  if (!lock_fd_.valid()) return SystemError("cannot open " + pid_path_.string());
  if (::flock(lock_fd_.get(), LOCK_EX | LOCK_NB) != 0) {
    std::ifstream in(pid_path_);
    int64_t pid = 0;
    in >> pid;
    return Unavailable("another enclaved (pid " + std::to_string(pid) + ") already serves " +
                       (options_.system ? options_.state_dir : options_.home).string())
        .WithInfo("already_running", true)
        .WithInfo("pid", pid);
  }
  if (options_.system && ::geteuid() == 0) {
    // Created by root a moment ago; the daemon writes it after dropping to its user.
    if (const passwd* pw = ::getpwnam(options_.user.c_str())) {
      (void)::fchown(lock_fd_.get(), pw->pw_uid, pw->pw_gid);
    }
  }
  return Ok();
}

Status Server::Start() {
  // The pid first: a stop (or a kill) sent while the enclave opens reaches this daemon, not the
  // one whose pid the file held before.
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(lock_fd_.get(), 0) != 0 || ::pwrite(lock_fd_.get(), pid.data(), pid.size(), 0) < 0) {
    return SystemError("cannot write " + pid_path_.string());
  }
  if (options_.system) {
    enclaves_ = EnclaveSet::System(options_.state_dir, options_.debug);
  } else {
    ASSIGN_OR_RETURN(enclaves_, EnclaveSet::OpenHome(options_.home, options_.debug));
  }
  helpers_ = std::make_unique<HelperPool>(HelperPool::ForThisMachine());
  // Only now can a client reach the sockets: everything that connects is served. The agent's
  // socket goes first, so that a client who finds the main one (`ssh-agent env`) finds both.
  for (auto it = staged_.rbegin(); it != staged_.rend(); ++it) {
    RETURN_IF_ERROR(PublishSocket(StagingPathOf(*it), *it));
  }
  staged_.clear();
  log_.Event("start", std::string(options_.system ? "system" : "") + (options_.debug ? " debug" : ""));
  return Ok();
}

void Server::Stop() {
  if (stopping_.exchange(true)) return;
  if (wake_write_.valid()) Wake(wake_write_.get());
}

void Server::Run(int signal_fd) {
  while (!stopping_) {
    pollfd fds[4] = {{listen_fd_.get(), POLLIN, 0},
                     {agent_listen_fd_.get(), POLLIN, 0},
                     {wake_read_.get(), POLLIN, 0},
                     {signal_fd, POLLIN, 0}};
    const int n = ::poll(fds, signal_fd >= 0 ? 4 : 3, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[2].revents || (signal_fd >= 0 && fds[3].revents)) break;
    if (fds[0].revents & POLLIN) Accept(listen_fd_.get(), false);
    if (fds[1].revents & POLLIN) Accept(agent_listen_fd_.get(), true);
  }
  stopping_ = true;
  // Unlinked before they are closed: a client that connects from now on finds no socket and
  // starts the next daemon, rather than landing in a backlog that closing drops.
  if (!files_removed_) UnlinkSockets();
  listen_fd_.reset();
  agent_listen_fd_.reset();
  CloseAll();
  RemoveFiles();
}

std::optional<std::string> Server::AdmitLocked(const service::Peer& peer) {
  size_t live = 0, from_peer = 0;
  Connection* longest_idle = nullptr;
  for (const auto& c : connections_) {
    if (c->done || c->evicted) continue;
    ++live;
    if (c->peer.pid == peer.pid) ++from_peer;
    const int64_t idle = c->idle_since_ms;
    if (idle != 0 && (longest_idle == nullptr || idle < longest_idle->idle_since_ms)) longest_idle = c.get();
  }
  if (from_peer >= options_.max_connections_per_peer) {
    return "process " + std::to_string(peer.pid) + " holds " + std::to_string(from_peer) +
           " connections already (the limit per process); close one and try again";
  }
  if (live < options_.max_connections) return std::nullopt;
  // Full: a connection idle for a while gives its slot to the next client (this one retries).
  if (longest_idle != nullptr &&
      SteadyMs() - longest_idle->idle_since_ms >= options_.busy_idle_timeout.count()) {
    longest_idle->evicted = true;
    ::shutdown(longest_idle->fd.get(), SHUT_RDWR);
  }
  return "enclaved serves " + std::to_string(options_.max_connections) + " connections already; try again";
}

void Server::Accept(int listen_fd, bool agent) {
  UniqueFd fd(::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC));
  if (!fd.valid()) return;
  ReapFinished();
  const service::Peer peer = PeerOf(fd.get());
  std::lock_guard lock(mu_);
  if (auto refused = AdmitLocked(peer)) {
    // Politely: the client learns why, and that it may retry.
    timeval tv{1, 0};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (agent) {
      (void)sshagent::WriteMessage(fd.get(), Bytes{sshagent::kFailure});
      return;
    }
    (void)WriteMessage(fd.get(), ErrorResponse(0, Unavailable(*refused)));
    return;
  }
  const auto send_timeout = options_.send_timeout.count();
  timeval tv{static_cast<time_t>(send_timeout / 1000),
             static_cast<suseconds_t>((send_timeout % 1000) * 1000)};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  auto connection = std::make_unique<Connection>();
  connection->fd = std::move(fd);
  connection->peer = peer;
  connection->agent = agent;
  // An agent connection serves its own loop and is never taken for idle.
  connection->idle_since_ms = agent ? 0 : SteadyMs();
  Connection* raw = connection.get();
  connections_.push_back(std::move(connection));
  try {
    raw->thread = std::thread([this, raw] {
      Serve(raw);
      // The peer sees the end now; the descriptor itself is closed when the thread is reaped.
      ::shutdown(raw->fd.get(), SHUT_RDWR);
      raw->done = true;
    });
  } catch (const std::system_error&) {
    (void)WriteMessage(raw->fd.get(), ErrorResponse(0, Unavailable("enclaved cannot start another thread")));
    connections_.pop_back();
  }
}

void Server::ReapFinished() {
  std::list<std::unique_ptr<Connection>> finished;
  {
    std::lock_guard lock(mu_);
    for (auto it = connections_.begin(); it != connections_.end();) {
      if ((*it)->done) {
        finished.push_back(std::move(*it));
        it = connections_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& c : finished) c->thread.join();
}

void Server::CloseAll() {
  std::list<std::unique_ptr<Connection>> all;
  {
    std::lock_guard lock(mu_);
    all.swap(connections_);
  }
  // Wakes every connection thread out of its read; the fds are closed when the threads are done.
  for (auto& c : all) ::shutdown(c->fd.get(), SHUT_RDWR);
  for (auto& c : all) {
    if (c->thread.joinable()) c->thread.join();
  }
}

void Server::UnlinkSockets() {
  std::error_code ec;
  if (!socket_inherited_) std::filesystem::remove(socket_path_, ec);
  if (!options_.system) std::filesystem::remove(agent_socket_path_, ec);
  for (const auto& path : staged_) std::filesystem::remove(StagingPathOf(path), ec);
}

void Server::RemoveFiles() {
  if (files_removed_) return;
  files_removed_ = true;
  std::error_code ec;
  UnlinkSockets();
  if (listen_fd_.valid()) listen_fd_.reset();
  if (agent_listen_fd_.valid()) agent_listen_fd_.reset();
  std::filesystem::remove(pid_path_, ec);
  if (enclaves_) log_.Event("stop");
  enclaves_.reset();
}

}  // namespace enclave::daemon
