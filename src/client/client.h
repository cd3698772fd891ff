// The enclave client library: enclave::Api over enclaved's Unix socket, with the daemon started
// on demand as gpg-agent's clients do. A Client is one connection and so one daemon session:
// its non-permanent keys and auth contexts end when it is destroyed. Calls on one Client are
// serialized; use one Client per thread for parallel requests.
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/result.h"
#include "daemon/frame_buffer.h"
#include "daemon/unique_fd.h"
#include "service/api.h"

namespace enclave::wire {
class Request;
class Response;
}  // namespace enclave::wire

namespace enclave::client {

struct ConnectOptions {
  std::filesystem::path home;  // empty: ResolveHome() (common/home.h)
  // Start enclaved when nothing listens on the socket.
  bool autostart = true;
  // The enclaved to start; empty: $ENCLAVED, else beside this executable, else on $PATH.
  std::filesystem::path daemon_path;
  bool debug = false;  // start the daemon with --debug
  // A daemon socket to use instead of the home's (the system daemon's); never autostarted.
  std::filesystem::path socket;
  // Whether $ENCLAVE_MODE / the mode file may select the system daemon (common/home.h
  // SystemSocket) when `socket` is empty.
  bool allow_system_mode = true;
};

class Client : public Api {
 public:
  // Connects to <home>/enclaved.sock, starting the daemon when allowed and needed. Failure is
  // errSecNotAvailable (-25291) with cause "daemon-unavailable", saying what was tried.
  static Result<std::unique_ptr<Client>> Connect(const ConnectOptions& options = {});
  ~Client() override = default;

  Result<KeyInfo> CreateKey(const KeySpec& spec) override;
  Result<std::vector<KeyInfo>> FindKeys(const KeyQuery& query) override;
  Result<int> UpdateKeys(const KeyQuery& query, const KeyChanges& changes) override;
  Result<int> DeleteKeys(const KeyQuery& query) override;
  // A message algorithm's message is hashed here and only its digest is sent (see
  // crypto/message_digest.h), so a message of any size signs.
  Result<OperationResult> Sign(const KeyQuery& key, const std::string& algorithm, const Bytes& input,
                               const AuthOptions& auth) override;
  // Signs each input with the same key, algorithm and options, keeping up to `window` requests
  // in flight on this connection (the daemon serves them in order and answers in batches). One
  // result per input, in order; an error of the connection itself fails the whole call.
  Result<std::vector<Result<OperationResult>>> SignBatch(const KeyQuery& key, const std::string& algorithm,
                                                         const std::vector<Bytes>& inputs,
                                                         const AuthOptions& auth, size_t window = 32);
  Result<OperationResult> Decrypt(const KeyQuery& key, const std::string& algorithm, const Bytes& ciphertext,
                                  const AuthOptions& auth) override;
  Result<OperationResult> KeyExchange(const KeyQuery& key, const std::string& algorithm,
                                      const Bytes& peer_public_key, std::optional<size_t> requested_size,
                                      const Bytes& shared_info, const AuthOptions& auth) override;
  Result<Bytes> ExportPrivateKey(const KeyQuery& key) override;
  Result<std::string> CreateAuthContext(int reuse_seconds) override;
  Status InvalidateAuthContext(const std::string& context_id) override;
  Result<nlohmann::json> Admin(const std::string& command, const nlohmann::json& args,
                               const std::vector<SecureBytes>& secrets) override;
  Result<ReenrollResult> Reenroll(const KeyQuery& key, const AuthOptions& auth) override;

  // {"pid","version","home"} of the daemon serving this connection.
  Result<nlohmann::json> Ping();
  // Asks the daemon to stop; this connection is closed by it.
  Status Shutdown();

  const std::filesystem::path& home() const { return home_; }

 private:
  Client(std::filesystem::path home, daemon::UniqueFd fd);
  // Sends `request` (its id set here) and returns the matching reply, or the reply's error.
  Result<wire::Response> Call(wire::Request& request);
  // Reads the next reply on the connection (mu_ held).
  // `alone`: this is the only request in flight, so the reply may be polled for (see
  // daemon::SocketFrameReader::ForReplies).
  Result<wire::Response> ReadReplyLocked(bool alone = true);
  void CloseLocked();
  // Under mu_: a connection the daemon closed while it sat idle (its idle limit, or its slot
  // given to another client) is replaced, unless the session held something (auth contexts,
  // non-permanent keys) that a new connection would silently lack.
  void ReconnectIfClosedWhileIdle();
  // Under mu_: a fresh connection (starting a daemon when none serves the home); false if none.
  bool ReconnectLocked();

  std::filesystem::path home_;
  std::filesystem::path socket_;  // the system daemon's, when connected to it
  ConnectOptions options_;
  std::mutex mu_;
  daemon::UniqueFd fd_;
  std::unique_ptr<daemon::SocketFrameReader> reader_;  // replies, several per recv when pipelined
  Bytes out_;                                          // request frames, reused
  uint64_t next_id_ = 1;
  std::atomic<bool> stateful_{false};
};

// Starts enclaved for `home` and returns once it serves (or another daemon already does).
Status StartDaemon(const std::filesystem::path& home, bool debug = false,
                   const std::filesystem::path& daemon_path = {});
// Stops the daemon of `home`: a Shutdown request, then up to 10 s for the process to go, then
// SIGTERM and SIGKILL. Nothing running is success.
Status StopDaemon(const std::filesystem::path& home);
// {"running": bool, "pid": n|null, "socket": path, "stale_socket"?: bool, "version"?}
Result<nlohmann::json> DaemonStatus(const std::filesystem::path& home);

// Called with each event ({"time","kind","cause","kids"}); return false to stop watching.
using EventCallback = std::function<bool(const nlohmann::json& event)>;
// Subscribes to the daemon's event journal (starting the daemon if needed) and calls `callback`
// for each new event until it returns false or the daemon goes away (then an error).
// `on_started` runs once the subscription is in place.
Status Watch(const std::filesystem::path& home, const EventCallback& callback,
             const std::function<void()>& on_started = {});

// Where StartDaemon looks for enclaved, in order; the first existing executable is used.
std::vector<std::filesystem::path> DaemonCandidates(const std::filesystem::path& explicit_path = {});

}  // namespace enclave::client

namespace enclave {
using client::Client;
}  // namespace enclave
