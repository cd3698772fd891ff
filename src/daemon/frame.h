// Framing of the enclave wire protocol: a 4-byte big-endian length, then a protobuf message of at
// most kMaxFrameSize bytes. Shared by enclaved and the client library.
//
// This is where bytes from an untrusted peer are first touched: every length is checked before
// anything is allocated, and a frame can never make the reader wait forever once it has begun
// (see FrameReader's deadline). Fuzzed by daemon/fuzz/frame_fuzzer.cpp.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "common/bytes.h"
#include "common/result.h"
#include "enclave.pb.h"

namespace enclave::daemon {

inline constexpr size_t kFrameHeaderSize = 4;
inline constexpr size_t kMaxFrameSize = 1 << 20;  // 1 MiB

// Why a frame could not be read. kClosed is the peer's orderly close between frames.
// kIdle: no frame began within the idle limit (the connection may be closed without loss).
enum class FrameError { kClosed, kTruncated, kTooLarge, kTimeout, kIo, kIdle };

struct FrameReadResult {
  std::optional<Bytes> payload;  // set on success
  FrameError error = FrameError::kIo;
  std::string detail;
};

// A source of bytes: returns bytes read (>0), 0 on end of stream, -1 on error (errno set; EAGAIN
// means a time limit passed). `in_frame` says whether a frame has begun.
using ByteSource = std::function<long(uint8_t* buf, size_t len, bool in_frame)>;

// Reads frames from a byte source; the source enforces time limits (see SocketSource).
class FrameReader {
 public:
  explicit FrameReader(ByteSource source) : source_(std::move(source)) {}
  FrameReadResult Next();

 private:
  // Fills exactly `len` bytes; `started` says whether a frame had begun before this call.
  // Returns nullopt on success.
  std::optional<FrameError> ReadExactly(uint8_t* buf, size_t len, bool started, std::string* detail);
  ByteSource source_;
};

// Bytes from a connected socket. Waits up to `idle_timeout` (zero: without limit) for the first
// byte of a frame (an idle client may keep its connection, and its session, open for that long)
// but gives a begun frame at most `frame_timeout` to arrive whole, so a client that stalls inside
// a frame, or trickles it, cannot hold a thread forever. A shutdown(2) of the socket by another
// thread ends any wait. An idle limit that passes is -1 with errno ETIMEDOUT.
class SocketSource {
 public:
  SocketSource(int fd, std::chrono::milliseconds frame_timeout,
               std::chrono::milliseconds idle_timeout = std::chrono::milliseconds(0))
      : fd_(fd), timeout_(frame_timeout), idle_timeout_(idle_timeout) {}
  long operator()(uint8_t* buf, size_t len, bool in_frame);

 private:
  int fd_;
  std::chrono::milliseconds timeout_, idle_timeout_;
  std::optional<std::chrono::steady_clock::time_point> deadline_;
};

// Reads one frame from a socket (see SocketSource for the time limits).
FrameReadResult ReadSocketFrame(int fd, std::chrono::milliseconds frame_timeout,
                                std::chrono::milliseconds idle_timeout = std::chrono::milliseconds(0));

// Serializes `message` into one frame; an over-large message is errSecParam.
Result<Bytes> EncodeFrame(const google::protobuf::MessageLite& message);
// The same appended to `out` (reused between calls, several frames in one buffer); nothing is
// appended on error.
Status AppendFrame(const google::protobuf::MessageLite& message, Bytes* out);
// Writes all of `frame`, retrying on EINTR; fails (never blocks forever) when the socket has a
// send timeout and the peer does not read.
Status WriteAll(int fd, ByteView frame);
Status WriteMessage(int fd, const google::protobuf::MessageLite& message);

// Decodes a frame's payload; false when it is not a well-formed message.
bool ParsePayload(ByteView payload, google::protobuf::MessageLite* message);

std::string FrameErrorName(FrameError e);

}  // namespace enclave::daemon
