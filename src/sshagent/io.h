// Agent messages over Unix sockets: reading one frame with time limits, writing one, and a
// connection to an upstream agent (the user's own ssh-agent) for keys that are not enclave's.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>

#include "common/bytes.h"
#include "common/result.h"

namespace enclave::sshagent {

struct ReadResult {
  enum class Status { kOk, kClosed, kTooLarge, kEmpty, kTimeout, kIo };
  Status status = Status::kIo;
  Bytes message;  // kOk: type || payload
};

// Reads one frame. The first byte is awaited for `first_byte_timeout` (negative: without limit,
// as an idle client may keep its connection); once a frame has begun it must be whole within
// `frame_timeout`. A shutdown(2) of the socket by another thread ends any wait.
ReadResult ReadMessage(int fd, std::chrono::milliseconds first_byte_timeout,
                       std::chrono::milliseconds frame_timeout);
// Writes one frame holding `message`; relies on the socket's send timeout not to block forever.
Status WriteMessage(int fd, ByteView message);
std::string ReadStatusName(ReadResult::Status s);

// One connection to another agent, opened on first use and kept for the client's connection
// (an agent's session-bind state is per connection).
class Upstream {
 public:
  Upstream(std::filesystem::path socket, std::chrono::milliseconds timeout)
      : socket_(std::move(socket)), timeout_(timeout) {}
  ~Upstream();
  Upstream(const Upstream&) = delete;
  Upstream& operator=(const Upstream&) = delete;

  // Sends `message` and returns the reply's message. Errors: errSecNotAvailable (cause
  // daemon-unavailable) naming the socket.
  Result<Bytes> RoundTrip(ByteView message);
  const std::filesystem::path& socket() const { return socket_; }

 private:
  Status Connect();
  void Close();
  std::filesystem::path socket_;
  std::chrono::milliseconds timeout_;
  int fd_ = -1;
};

}  // namespace enclave::sshagent
