// Frames from a connected socket through one reusable buffer. One recv takes whatever has
// arrived, so a request usually costs one system call to read, and several pipelined requests
// arrive with one. Frames are handed out as views into the buffer: nothing is allocated per
// request. The limits are FrameReader's: the length is checked before anything is kept, an idle
// peer may wait between frames up to the idle timeout (zero: for ever), a begun frame must be
// whole within the frame timeout.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "daemon/frame.h"

namespace enclave::daemon {

class SocketFrameReader {
 public:
  // A non-zero idle timeout is set on the socket itself (SO_RCVTIMEO): waiting between frames
  // stays one blocking recv, with no poll before it.
  // `max_frame` is the largest payload accepted (the ssh agent protocol has its own limit).
  SocketFrameReader(int fd, std::chrono::milliseconds frame_timeout,
                    std::chrono::milliseconds idle_timeout = std::chrono::milliseconds(0),
                    size_t max_frame = kMaxFrameSize);
  ~SocketFrameReader();
  SocketFrameReader(const SocketFrameReader&) = delete;
  SocketFrameReader& operator=(const SocketFrameReader&) = delete;

  struct Frame {
    std::optional<ByteView> payload;  // valid until the next call to Next(); set on success
    FrameError error = FrameError::kIo;
    std::string detail;
  };
  // The next frame. The previous frame's bytes are wiped first (requests carry secrets).
  Frame Next();
  // Whether a whole frame is already buffered: the caller may serve it before flushing replies.
  bool HasWholeFrame() const;

 private:
  // Reads more bytes into the buffer; nullopt on success.
  std::optional<FrameError> Fill(std::string* detail);
  void WipeConsumed();

  int fd_;
  std::chrono::milliseconds timeout_;
  size_t max_frame_;
  bool idle_limited_ = false;  // SO_RCVTIMEO is set: a blocking recv that times out means idle
  bool hot_ = false;           // the last wait between frames was short: poll briefly before sleeping
  // After a poll that came up empty, the next `skip_polls_` waits sleep at once; the count
  // doubles with each empty poll (up to kMaxSkippedPolls) and resets with a fruitful one.
  int skip_polls_ = 0;
  int empty_polls_backoff_ = 0;
  Bytes buf_;
  size_t begin_ = 0, end_ = 0;  // unread bytes are buf_[begin_, end_)
  bool filled_ = false;         // the last read filled the buffer: the next one gets a bigger one
  std::optional<std::chrono::steady_clock::time_point> deadline_;
};

}  // namespace enclave::daemon
