// Socket-level helpers shared by the Client and the daemon control functions.
#pragma once

#include <filesystem>
#include <string>

#include "client/client.h"
#include "common/result.h"
#include "daemon/unique_fd.h"
#include "enclave.pb.h"

namespace enclave::client::internal {

// errSecNotAvailable with cause "daemon-unavailable".
Error DaemonUnavailable(const std::string& what);

// Connects to <home>/enclaved.sock. On failure *error_number holds connect's errno (ENOENT or
// ECONNREFUSED mean that no daemon listens).
Result<daemon::UniqueFd> ConnectSocket(const std::filesystem::path& home, int* error_number);
// The same for a socket path. Failures no retry fixes get permanent causes: socket-path-too-long,
// home-unusable (ENOTDIR), permission-denied (EACCES).
Result<daemon::UniqueFd> ConnectSocketPath(const std::filesystem::path& socket, int* error_number);

// Connects, starting the daemon first when nothing listens and options.autostart allows.
Result<daemon::UniqueFd> ConnectOrStart(const std::filesystem::path& home, const ConnectOptions& options);

// Whether `request` may be sent again after its connection ended before any reply: it changes
// nothing the daemon keeps (a lookup, a signature, a decryption, a ping), so a daemon that died
// after doing it leaves nothing a second one would do twice.
bool RetriableAfterLostReply(const wire::Request& request);

// Writes `request` and reads one reply. A reply with id 0 carrying an error is the daemon's
// verdict on the connection (refused peer, protocol error) and is returned as that error.
Result<wire::Response> RoundTrip(int fd, const wire::Request& request);
// `response` as the answer to request `request_id`: its error when it carries one (for that
// request, or for the connection: id 0), a protocol error when it answers another request.
Result<wire::Response> AnswerTo(uint64_t request_id, wire::Response response);

// Reads one reply (no time limit before it begins).
Result<wire::Response> ReadResponse(int fd);

}  // namespace enclave::client::internal
