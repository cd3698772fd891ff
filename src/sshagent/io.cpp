#include "sshagent/io.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

#include "sshagent/wire.h"

namespace enclave::sshagent {
namespace {

using Clock = std::chrono::steady_clock;

// Waits until `fd` is readable or `deadline` passes (nullopt: no limit). false on timeout.
bool WaitReadable(int fd, std::optional<Clock::time_point> deadline) {
  for (;;) {
    int ms = -1;
    if (deadline) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - Clock::now()).count();
      if (left <= 0) return false;
      ms = static_cast<int>(std::min<long long>(left, 60000));
    }
    pollfd p{fd, POLLIN, 0};
    const int n = ::poll(&p, 1, ms);
    if (n > 0) return true;  // readable, hung up or failed: read() tells which
    if (n < 0 && errno != EINTR) return true;
  }
}

// Reads exactly `len` bytes. 1: done, 0: end of stream, -1: error, -2: timeout.
int ReadExactly(int fd, uint8_t* buf, size_t len, std::optional<Clock::time_point> deadline) {
  size_t done = 0;
  while (done < len) {
    if (!WaitReadable(fd, deadline)) return -2;
    const ssize_t n = ::recv(fd, buf + done, len - done, MSG_DONTWAIT);
    if (n == 0) return 0;
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
      return -1;
    }
    done += static_cast<size_t>(n);
  }
  return 1;
}

Error UpstreamError(const std::filesystem::path& socket, const std::string& what) {
  return OSStatusError(errsec::kNotAvailable, "the upstream ssh agent " + socket.string() + " " + what)
      .WithCause("daemon-unavailable");
}

}  // namespace

ReadResult ReadMessage(int fd, std::chrono::milliseconds first_byte_timeout,
                       std::chrono::milliseconds frame_timeout) {
  ReadResult out;
  uint8_t header[4];
  std::optional<Clock::time_point> first_deadline;
  if (first_byte_timeout.count() >= 0) first_deadline = Clock::now() + first_byte_timeout;
  int r = ReadExactly(fd, header, 1, first_deadline);
  if (r != 1) {
    out.status = r == 0    ? ReadResult::Status::kClosed
                 : r == -2 ? ReadResult::Status::kTimeout
                           : ReadResult::Status::kIo;
    return out;
  }
  const auto deadline = Clock::now() + frame_timeout;
  r = ReadExactly(fd, header + 1, 3, deadline);
  if (r != 1) {
    out.status = r == -2 ? ReadResult::Status::kTimeout : ReadResult::Status::kIo;
    return out;
  }
  const FrameSplit split = SplitFrame(ByteView(header, 4));
  if (split.status == FrameSplit::Status::kTooLarge || split.status == FrameSplit::Status::kEmpty) {
    out.status = split.status == FrameSplit::Status::kTooLarge ? ReadResult::Status::kTooLarge
                                                               : ReadResult::Status::kEmpty;
    return out;
  }
  // Checked against kMaxMessageSize above, before this allocation.
  const size_t len =
      (size_t{header[0]} << 24) | (size_t{header[1]} << 16) | (size_t{header[2]} << 8) | header[3];
  out.message.resize(len);
  r = ReadExactly(fd, out.message.data(), len, deadline);
  if (r != 1) {
    out.message.clear();
    out.status = r == -2 ? ReadResult::Status::kTimeout : ReadResult::Status::kIo;
    return out;
  }
  out.status = ReadResult::Status::kOk;
  return out;
}

Status WriteMessage(int fd, ByteView message) {
  const Bytes frame = Frame(message);
  size_t done = 0;
  while (done < frame.size()) {
    const ssize_t n = ::send(fd, frame.data() + done, frame.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return OSStatusError(errsec::kIO, std::string("cannot write an agent reply: ") + std::strerror(errno))
          .WithCause("protocol-error");
    }
    done += static_cast<size_t>(n);
  }
  return Ok();
}

std::string ReadStatusName(ReadResult::Status s) {
  switch (s) {
    case ReadResult::Status::kOk:
      return "ok";
    case ReadResult::Status::kClosed:
      return "closed";
    case ReadResult::Status::kTooLarge:
      return "frame larger than " + std::to_string(kMaxMessageSize) + " bytes";
    case ReadResult::Status::kEmpty:
      return "empty frame";
    case ReadResult::Status::kTimeout:
      return "frame not complete in time";
    case ReadResult::Status::kIo:
      return "read error";
  }
  return "unknown";
}

Upstream::~Upstream() { Close(); }

void Upstream::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Status Upstream::Connect() {
  if (fd_ >= 0) return Ok();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string path = socket_.string();
  if (path.empty() || path.size() >= sizeof addr.sun_path)
    return UpstreamError(socket_, "is not a usable socket path");
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return UpstreamError(socket_, "cannot be reached: no socket");
  timeval tv{static_cast<time_t>(timeout_.count() / 1000),
             static_cast<suseconds_t>((timeout_.count() % 1000) * 1000)};
  ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    const std::string why = std::strerror(errno);
    Close();
    return UpstreamError(socket_, "cannot be reached: " + why);
  }
  return Ok();
}

Result<Bytes> Upstream::RoundTrip(ByteView message) {
  RETURN_IF_ERROR(Connect());
  if (Status sent = WriteMessage(fd_, message); !sent.ok()) {
    Close();
    return UpstreamError(socket_, "did not take the request");
  }
  ReadResult reply = ReadMessage(fd_, timeout_, timeout_);
  if (reply.status != ReadResult::Status::kOk) {
    Close();  // the stream's position is unknown now
    return UpstreamError(socket_, "gave no reply: " + ReadStatusName(reply.status));
  }
  return std::move(reply.message);
}

}  // namespace enclave::sshagent
