// enclaved's socket server: two listening Unix sockets in the enclave home — enclaved.sock for
// enclave's own protocol and ssh-agent.sock for the ssh-agent protocol — a thread and a
// service::Session per connection, requests served one at a time per connection. Only the home's
// owner (same uid, from SO_PEERCRED) is served, on either socket.
//
// Lifecycle: Listen() takes the home (lock, socket or systemd's socket) in the process that will daemonize;
// Start() opens the enclave in the final process; Run() serves until Stop(), a signal on the signal fd or a
// Shutdown request, then closes every connection and removes the socket and the pid file.
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/result.h"
#include "daemon/enclaves.h"
#include "daemon/helper_pool.h"
#include "daemon/request_log.h"
#include "daemon/unique_fd.h"
#include "service/enclave.h"

namespace enclave::daemon {

struct ServerOptions {
  std::filesystem::path home;  // per-user mode: the enclave home (socket and pid file in it)
  bool debug = false;
  size_t max_connections = 128;
  // Connections one peer process may hold at once, so that one process cannot starve others.
  size_t max_connections_per_peer = 32;
  // How long a begun frame may take to arrive, and a reply to be taken by the peer.
  std::chrono::milliseconds frame_timeout{10000};
  std::chrono::milliseconds send_timeout{10000};
  // A connection with no request for this long is closed (its session ends); when every slot is
  // taken, one idle for `busy_idle_timeout` makes room for the next client.
  std::chrono::milliseconds idle_timeout{60000};
  std::chrono::milliseconds busy_idle_timeout{2000};

  // System mode (see docs/system-mode.md): one enclave per calling uid under
  // <state_dir>/users/<uid>, a world-connectable socket, started as root and dropping to `user`.
  bool system = false;
  std::filesystem::path state_dir = "/var/lib/enclave";
  std::filesystem::path socket = "/run/enclave/enclaved.sock";
  std::string user = "enclave";
  // A listening socket handed over by systemd (socket activation), or -1 to bind the home's
  // socket. An inherited socket's file belongs to systemd: the daemon never removes it.
  int listen_fd = -1;
};

class Server {
 public:
  // Creates the home (0700), takes its lock (the pid file, flock'ed for the daemon's life),
  // clears a stale socket and listens, in per-user mode under staging names that no client
  // looks for. Another live daemon: errSecNotAvailable (cause "daemon-unavailable") with
  // user_info {"already_running": true, "pid"}.
  static Result<std::unique_ptr<Server>> Listen(const ServerOptions& options);
  ~Server();

  // Writes this process's pid into the pid file, opens the enclave, and only then moves the
  // sockets to where clients connect.
  Status Start();
  // Serves until stopped. `signal_fd` (a signalfd, or -1) stops it when readable.
  void Run(int signal_fd = -1);
  // Thread-safe; Run() returns soon after.
  void Stop();

  const std::filesystem::path& socket_path() const { return socket_path_; }
  const std::filesystem::path& agent_socket_path() const { return agent_socket_path_; }
  RequestLog& log() { return log_; }

 private:
  struct Connection {
    UniqueFd fd;
    service::Peer peer;
    bool agent = false;  // accepted on ssh-agent.sock
    std::thread thread;
    std::atomic<bool> done{false};
    std::atomic<bool> evicted{false};
    // Steady-clock milliseconds since the last request ended; 0 while a request is served.
    std::atomic<int64_t> idle_since_ms{0};
  };

  explicit Server(const ServerOptions& options);
  void Accept(int listen_fd, bool agent);
  void Serve(Connection* connection);
  // Serves the ssh-agent protocol on an accepted ssh-agent.sock connection.
  void ServeAgent(service::Enclave& enclave, int fd, const service::Peer& peer, const RequestLogEntry& base);
  // Streams events to a watching connection until it closes or the server stops.
  void ServeWatch(service::Enclave& enclave, int fd, uint64_t id);
  // Under mu_: whether a new connection from `peer` may be served, evicting a long-idle one
  // when every slot is taken; else why not.
  std::optional<std::string> AdmitLocked(const service::Peer& peer);
  void ReapFinished();
  void CloseAll();
  // Takes the home's (or the state folder's) lock, the pid file; fails when another daemon has it.
  Status TakeLock();
  // Unlinks the sockets (published and staged), so that no client connects any more; only while
  // the files are this daemon's (!files_removed_).
  void UnlinkSockets();
  void RemoveFiles();

  ServerOptions options_;
  std::filesystem::path socket_path_, agent_socket_path_, pid_path_;
  UniqueFd listen_fd_, agent_listen_fd_, lock_fd_, wake_read_, wake_write_;
  RequestLog log_;
  std::unique_ptr<EnclaveSet> enclaves_;
  // Made by Start(), in the process that serves (threads do not survive the daemon's fork).
  std::unique_ptr<HelperPool> helpers_;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::list<std::unique_ptr<Connection>> connections_;
  bool files_removed_ = false;
  bool socket_inherited_ = false;
  // Sockets bound under their staging names, published at the end of Start().
  std::vector<std::filesystem::path> staged_;
};

// Process hardening for a daemon that holds keys: no core dumps, no ptrace by same-uid
// processes, and memory locked when the limits allow it (best effort, never fatal).
void HardenProcess();

}  // namespace enclave::daemon
