#include "daemon/frame_buffer.h"

#include <openssl/crypto.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace enclave::daemon {
namespace {

// Big enough for many pipelined requests; a larger frame grows it up to the frame limit, and it
// shrinks back once that frame is consumed.
constexpr size_t kBufferSize = 64 * 1024;

uint32_t FrameLength(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

}  // namespace

SocketFrameReader::SocketFrameReader(int fd, std::chrono::milliseconds frame_timeout,
                                     std::chrono::milliseconds idle_timeout, size_t max_frame)
    : fd_(fd), timeout_(frame_timeout), max_frame_(max_frame) {
  if (idle_timeout.count() > 0) {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(idle_timeout.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((idle_timeout.count() % 1000) * 1000);
    idle_limited_ = ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0;
  }
}

SocketFrameReader::~SocketFrameReader() {
  if (!buf_.empty()) OPENSSL_cleanse(buf_.data(), buf_.size());
}

bool SocketFrameReader::HasWholeFrame() const {
  const size_t have = end_ - begin_;
  if (have < kFrameHeaderSize) return false;
  const uint32_t length = FrameLength(buf_.data() + begin_);
  return length <= max_frame_ && have >= kFrameHeaderSize + length;
}

void SocketFrameReader::WipeConsumed() {
  if (begin_ > 0) OPENSSL_cleanse(buf_.data(), begin_);
  if (begin_ == end_) {
    begin_ = end_ = 0;
    if (buf_.size() > kBufferSize) {
      OPENSSL_cleanse(buf_.data(), buf_.size());
      Bytes().swap(buf_);
    }
  }
}

std::optional<FrameError> SocketFrameReader::Fill(std::string* detail) {
  using Clock = std::chrono::steady_clock;
  const bool in_frame = end_ > begin_;
  if (in_frame && !deadline_) deadline_ = Clock::now() + timeout_;
  for (;;) {
    if (deadline_) {
      // Inside a frame: wait at most until the frame's deadline.
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(*deadline_ - Clock::now()).count();
      pollfd p{fd_, POLLIN, 0};
      const int ready = left > 0 ? ::poll(&p, 1, static_cast<int>(left)) : 0;
      if (ready < 0 && errno == EINTR) continue;
      if (ready < 0) {
        *detail = std::string("read failed: ") + std::strerror(errno);
        return FrameError::kIo;
      }
      if (ready == 0) {
        *detail = "a frame did not arrive in time";
        return FrameError::kTimeout;
      }
    }
    // Between frames a plain blocking recv: one system call per request when one is in flight.
    // A shutdown(2) of the socket by another thread ends the wait.
    const ssize_t n = ::recv(fd_, buf_.data() + end_, buf_.size() - end_, deadline_ ? MSG_DONTWAIT : 0);
    if (n > 0) {
      end_ += static_cast<size_t>(n);
      return std::nullopt;
    }
    if (n == 0) {
      if (!in_frame) return FrameError::kClosed;
      *detail = "the connection closed inside a frame";
      return FrameError::kTruncated;
    }
    if ((errno == EAGAIN || errno == EWOULDBLOCK) && !deadline_ && idle_limited_) {
      if (in_frame) {
        *detail = "a frame did not arrive in time";
        return FrameError::kTimeout;
      }
      *detail = "the connection was idle too long";
      return FrameError::kIdle;
    }
    if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
    *detail = std::string("read failed: ") + std::strerror(errno);
    return FrameError::kIo;
  }
}

SocketFrameReader::Frame SocketFrameReader::Next() {
  Frame r;
  WipeConsumed();
  for (;;) {
    const size_t have = end_ - begin_;
    size_t need = kFrameHeaderSize;
    if (have >= kFrameHeaderSize) {
      const uint32_t length = FrameLength(buf_.data() + begin_);
      // Checked before anything is kept: the claimed length is the peer's word, not a fact.
      if (length > max_frame_) {
        r.error = FrameError::kTooLarge;
        r.detail = "frame of " + std::to_string(length) + " bytes exceeds the limit of " +
                   std::to_string(max_frame_);
        return r;
      }
      need = kFrameHeaderSize + length;
      if (have >= need) {
        r.payload = ByteView(buf_.data() + begin_ + kFrameHeaderSize, length);
        begin_ += need;
        deadline_.reset();
        return r;
      }
    }
    // Room for the whole frame after the unread bytes, moving them to the front first.
    if (begin_ > 0 && buf_.size() - begin_ < need) {
      std::memmove(buf_.data(), buf_.data() + begin_, have);
      OPENSSL_cleanse(buf_.data() + have, begin_);
      begin_ = 0;
      end_ = have;
    }
    if (buf_.size() < std::max(need, kBufferSize)) {
      Bytes bigger(std::max(need, kBufferSize));
      if (have > 0) std::memcpy(bigger.data(), buf_.data() + begin_, have);
      if (!buf_.empty()) OPENSSL_cleanse(buf_.data(), buf_.size());
      buf_.swap(bigger);
      begin_ = 0;
      end_ = have;
    }
    if (auto e = Fill(&r.detail)) {
      r.error = *e;
      return r;
    }
  }
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

}  // namespace enclave::daemon
