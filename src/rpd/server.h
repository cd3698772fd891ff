// The HTTP(S) server: Boost.Beast on Asio, a few I/O threads, keep-alive, the parser's header and
// body limits, timeouts on every read and write, and a bounded set of connections. The relying
// party's calls run on a separate worker pool, so a slow database never stalls accepting or
// reading. Beast is included by server.cpp alone; this header keeps it out of its users.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "common/result.h"
#include "rpd/api.h"

namespace enclave::rpd {

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0: any free port (port() says which)
  int io_threads = 2;
  int workers = 4;
  size_t header_limit = 8 * 1024;  // larger: 431
  size_t body_limit = 64 * 1024;   // larger: 413
  // POST /v1/reports carries up to 1000 reports (src/fleet's kMaxEnvelopeBytes); past this the
  // server answers 413 batch-too-large before reading the body.
  size_t reports_body_limit = 6 * 1024 * 1024;
  // A connection must deliver a complete request within this long after it was accepted or its
  // previous answer written; an idle keep-alive connection and a slowloris sender both end here.
  std::chrono::milliseconds request_timeout{15000};
  // The relying party's answer is awaited this long, then the request gets 503 + Retry-After.
  std::chrono::milliseconds handler_timeout{3000};
  std::chrono::milliseconds write_timeout{10000};
  // Connections held at once; past this the longest-held connection that is only waiting for a
  // request is closed to make room, and if every one is busy the new one is refused.
  size_t max_connections = 4096;
  // Relying-party calls queued or running; past this, 503 at once (the database is not keeping up).
  size_t max_pending = 512;
  std::string tls_cert;  // both set: HTTPS only
  std::string tls_key;
};

class Server {
 public:
  static Result<std::unique_ptr<Server>> Create(ServerOptions options, std::shared_ptr<Api> api);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  uint16_t port() const;
  // Serves until SIGTERM, SIGINT or Stop(); the calling thread is one of the I/O threads.
  void Run();
  void Stop();

 private:
  struct Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace enclave::rpd
