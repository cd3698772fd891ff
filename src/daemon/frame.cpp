#include "daemon/frame.h"

#include <google/protobuf/stubs/logging.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace enclave::daemon {

std::string FrameErrorName(FrameError e) {
  switch (e) {
    case FrameError::kClosed:
      return "closed";
    case FrameError::kTruncated:
      return "truncated";
    case FrameError::kTooLarge:
      return "too-large";
    case FrameError::kTimeout:
      return "timeout";
    case FrameError::kIo:
      return "io";
    case FrameError::kIdle:
      return "idle";
  }
  return "io";
}

std::optional<FrameError> FrameReader::ReadExactly(uint8_t* buf, size_t len, bool started,
                                                   std::string* detail) {
  size_t got = 0;
  while (got < len) {
    const bool in_frame = started || got > 0;
    const long n = source_(buf + got, len - got, in_frame);
    if (n > 0) {
      got += static_cast<size_t>(n);
      continue;
    }
    if (n == 0) {
      if (!in_frame) return FrameError::kClosed;
      *detail = "the connection closed inside a frame";
      return FrameError::kTruncated;
    }
    if (errno == EINTR) continue;
    // A reset between frames ends the stream as a close does: the peer went away (killed, or it
    // closed with bytes unread) before anything of the next frame was sent.
    if (errno == ECONNRESET && !in_frame) {
      *detail = "the connection was reset";
      return FrameError::kClosed;
    }
    if (errno == ETIMEDOUT && !in_frame) {
      *detail = "the connection was idle too long";
      return FrameError::kIdle;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      *detail = "a frame did not arrive in time";
      return FrameError::kTimeout;
    }
    *detail = std::string("read failed: ") + std::strerror(errno);
    return FrameError::kIo;
  }
  return std::nullopt;
}

FrameReadResult FrameReader::Next() {
  FrameReadResult r;
  uint8_t header[kFrameHeaderSize];
  if (auto e = ReadExactly(header, sizeof header, false, &r.detail)) {
    r.error = *e;
    return r;
  }
  const uint32_t length = (uint32_t{header[0]} << 24) | (uint32_t{header[1]} << 16) |
                          (uint32_t{header[2]} << 8) | uint32_t{header[3]};
  // Checked before anything is allocated: the claimed length is the peer's word, not a fact.
  if (length > kMaxFrameSize) {
    r.error = FrameError::kTooLarge;
    r.detail =
        "frame of " + std::to_string(length) + " bytes exceeds the limit of " + std::to_string(kMaxFrameSize);
    return r;
  }
  Bytes payload(length);
  if (length > 0) {
    if (auto e = ReadExactly(payload.data(), length, true, &r.detail)) {
      r.error = *e;
      return r;
    }
  }
  r.payload = std::move(payload);
  return r;
}

long SocketSource::operator()(uint8_t* buf, size_t len, bool in_frame) {
  using Clock = std::chrono::steady_clock;
  std::optional<Clock::time_point> idle_deadline;
  if (!in_frame) {
    deadline_.reset();
    if (idle_timeout_.count() > 0) idle_deadline = Clock::now() + idle_timeout_;
  } else if (!deadline_) {
    deadline_ = Clock::now() + timeout_;
  }
  for (;;) {
    int wait_ms = -1;
    if (idle_deadline) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(*idle_deadline - Clock::now()).count();
      if (left <= 0) {
        errno = ETIMEDOUT;
        return -1;
      }
      wait_ms = static_cast<int>(left);
    } else if (deadline_) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(*deadline_ - Clock::now()).count();
      if (left <= 0) {
        errno = EAGAIN;
        return -1;
      }
      wait_ms = static_cast<int>(left);
    }
    pollfd p{fd_, POLLIN, 0};
    const int ready = poll(&p, 1, wait_ms);
    if (ready < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (ready == 0) {
      errno = idle_deadline ? ETIMEDOUT : EAGAIN;
      return -1;
    }
    const ssize_t n = recv(fd_, buf, len, MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    return n;
  }
}

FrameReadResult ReadSocketFrame(int fd, std::chrono::milliseconds frame_timeout,
                                std::chrono::milliseconds idle_timeout) {
  SocketSource source(fd, frame_timeout, idle_timeout);
  FrameReader reader(
      [&source](uint8_t* buf, size_t len, bool in_frame) { return source(buf, len, in_frame); });
  return reader.Next();
}

Status AppendFrame(const google::protobuf::MessageLite& message, Bytes* out) {
  const size_t size = message.ByteSizeLong();
  if (size > kMaxFrameSize) {
    return OSStatusError(errsec::kParam, "message of " + std::to_string(size) +
                                             " bytes exceeds the protocol limit of " +
                                             std::to_string(kMaxFrameSize) + " bytes")
        .WithCause("protocol-error");
  }
  const size_t at = out->size();
  out->resize(at + kFrameHeaderSize + size);
  uint8_t* p = out->data() + at;
  p[0] = static_cast<uint8_t>(size >> 24);
  p[1] = static_cast<uint8_t>(size >> 16);
  p[2] = static_cast<uint8_t>(size >> 8);
  p[3] = static_cast<uint8_t>(size);
  if (size > 0 && !message.SerializeToArray(p + kFrameHeaderSize, static_cast<int>(size))) {
    out->resize(at);
    return OSStatusError(errsec::kInternal, "could not serialize a protocol message")
        .WithCause("protocol-error");
  }
  return Ok();
}

Result<Bytes> EncodeFrame(const google::protobuf::MessageLite& message) {
  Bytes frame;
  RETURN_IF_ERROR(AppendFrame(message, &frame));
  return frame;
}

Status WriteAll(int fd, ByteView frame) {
  size_t sent = 0;
  while (sent < frame.size()) {
    // MSG_NOSIGNAL: a peer that went away is an error value, not a SIGPIPE.
    const ssize_t n = send(fd, frame.data() + sent, frame.size() - sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return OSStatusError(errsec::kIO,
                           std::string("could not write to the enclave socket: ") + std::strerror(errno))
          .WithCause("daemon-unavailable");
    }
    sent += static_cast<size_t>(n);
  }
  return Ok();
}

Status WriteMessage(int fd, const google::protobuf::MessageLite& message) {
  ASSIGN_OR_RETURN(Bytes frame, EncodeFrame(message));
  return WriteAll(fd, frame);
}

bool ParsePayload(ByteView payload, google::protobuf::MessageLite* message) {
  // protobuf logs each malformed string it meets; a peer must not be able to flood our stderr.
  static const bool quiet = [] {
    google::protobuf::SetLogHandler(nullptr);
    return true;
  }();
  (void)quiet;
  if (payload.size() > kMaxFrameSize) return false;
  return message->ParseFromArray(payload.data(), static_cast<int>(payload.size()));
}

}  // namespace enclave::daemon
