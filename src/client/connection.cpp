// The socket-level half of the client (connection.h): connecting, starting the daemon when none
// serves, one request's round trip, and which requests may be sent again after a lost reply.
#include "client/connection.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "common/home.h"
#include "daemon/codec.h"
#include "daemon/frame.h"

namespace enclave::client::internal {

Error DaemonUnavailable(const std::string& what) {
  return OSStatusError(errsec::kNotAvailable, what).WithCause("daemon-unavailable");
}

Error ConnectError(const std::string& what, int err) {
  Error e = DaemonUnavailable(what);
  switch (err) {
    case ENAMETOOLONG:
      e.cause = "socket-path-too-long";
      break;
    case ENOTDIR:
      e.cause = "home-unusable";
      break;
    case EACCES:
    case EPERM:
      e.cause = "permission-denied";
      break;
    default:
      break;  // nothing listens (yet), or a resource ran short: transient
  }
  return e;
}

Result<daemon::UniqueFd> ConnectSocketPath(const std::filesystem::path& socket, int* error_number) {
  *error_number = 0;
  const std::string path = socket.string();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    *error_number = ENAMETOOLONG;
    return ConnectError("the socket path " + path + " is " + std::to_string(path.size()) +
                            " bytes, longer than a Unix socket allows (" +
                            std::to_string(sizeof addr.sun_path - 1) + "); use a shorter ENCLAVE_HOME",
                        ENAMETOOLONG);
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  daemon::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) {
    *error_number = errno;
    return DaemonUnavailable(std::string("cannot create a socket: ") + std::strerror(errno));
  }
  int rc;
  do {
    rc = ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    *error_number = errno;
    return ConnectError("cannot connect to " + path + ": " + std::strerror(errno), errno);
  }
  return fd;
}

Result<daemon::UniqueFd> ConnectSocket(const std::filesystem::path& home, int* error_number) {
  return ConnectSocketPath(SocketPath(home), error_number);
}

Result<wire::Response> ReadResponse(int fd) {
  // A reply may take as long as the user takes to answer a prompt; once begun it must be whole
  // within 30 s.
  daemon::FrameReadResult frame = daemon::ReadSocketFrame(fd, std::chrono::seconds(30));
  if (!frame.payload) {
    if (frame.error == daemon::FrameError::kClosed) {
      return DaemonUnavailable("the daemon closed the connection");
    }
    return DaemonUnavailable("no reply from the daemon (" + daemon::FrameErrorName(frame.error) +
                             "): " + frame.detail);
  }
  wire::Response response;
  if (!daemon::ParsePayload(*frame.payload, &response)) {
    return daemon::ProtocolError("the daemon's reply is not a well-formed message");
  }
  return response;
}

Result<wire::Response> AnswerTo(uint64_t request_id, wire::Response response) {
  if (response.result_case() == wire::Response::kError &&
      (response.id() == 0 || response.id() == request_id)) {
    return daemon::FromWire(response.error());
  }
  if (response.id() != request_id) {
    return daemon::ProtocolError("reply " + std::to_string(response.id()) + " does not answer request " +
                                 std::to_string(request_id));
  }
  return response;
}

Result<wire::Response> RoundTrip(int fd, const wire::Request& request) {
  ASSIGN_OR_RETURN(Bytes frame, daemon::EncodeFrame(request));
  const Status sent = daemon::WriteAll(fd, frame);
  daemon::WipeBuffer(&frame);
  // Even when the write failed, the daemon may have said why before closing (a refused peer).
  auto response = ReadResponse(fd);
  if (!response.ok()) {
    if (sent.ok()) return std::move(response).error();
    return DaemonUnavailable("the connection to the daemon is lost (" + sent.error().description + ")");
  }
  return AnswerTo(request.id(), std::move(response).value());
}

Result<daemon::UniqueFd> ConnectOrStart(const std::filesystem::path& home, const ConnectOptions& options) {
  int err = 0;
  auto fd = ConnectSocket(home, &err);
  if (fd.ok()) return fd;
  const bool nobody_listens = err == ENOENT || err == ECONNREFUSED;
  if (!nobody_listens || !options.autostart) return std::move(fd).error();

  const Status started = StartDaemon(home, options.debug, options.daemon_path);
  if (!started.ok()) {
    Error e = DaemonUnavailable("no daemon listens on " + SocketPath(home).string() +
                                "; starting one failed: " + started.error().description);
    e.cause = started.error().cause;
    return e;
  }
  // The daemon is ready when StartDaemon returns. When another client's daemon won the home's
  // lock, StartDaemon returns at once (status 3) while that daemon may still be starting, or
  // stopping: a stopping one has unlinked its socket and holds the lock until it exits. So while
  // nobody listens, start again (it is cheap when the lock is taken) until one serves.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  auto pause = std::chrono::milliseconds(5);
  for (;;) {
    fd = ConnectSocket(home, &err);
    if (fd.ok()) return fd;
    if (std::chrono::steady_clock::now() > deadline) break;
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(100));
    if (err == ENOENT || err == ECONNREFUSED) {
      const Status again = StartDaemon(home, options.debug, options.daemon_path);
      if (!again.ok() && again.error().effective_cause() != "daemon-unavailable") {
        Error e = DaemonUnavailable("no daemon listens on " + SocketPath(home).string() +
                                    "; starting one failed: " + again.error().description);
        e.cause = again.error().cause;
        return e;
      }
    }
  }
  return DaemonUnavailable("no daemon listens on " + SocketPath(home).string() +
                           "; enclaved was started but " + fd.error().description);
}

bool RetriableAfterLostReply(const wire::Request& request) {
  switch (request.op_case()) {
    case wire::Request::kFindKeys:
    case wire::Request::kSign:
    case wire::Request::kDecrypt:
    case wire::Request::kKeyExchange:
    case wire::Request::kPing:
      return true;
    default:
      return false;
  }
}

}  // namespace enclave::client::internal
