// Frames from a connected socket through one reusable buffer. One recv takes whatever has
// arrived, so a request usually costs one system call to read, and several pipelined requests
// arrive with one. Frames are handed out as views into the buffer: nothing is allocated per
// request. The limits are FrameReader's: the length is checked before anything is kept, an idle
// peer may wait between frames up to the idle timeout (zero: for ever), a begun frame must be
// whole within the frame timeout.
#pragma once

#include <chrono>
#include <memory>
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
  // A client's reader: it waits for the replies to requests it has just sent, and polls for one
  // for about as long as recent replies took (a signature by a software TPM takes ~0.5 ms,
  // during which a sleeping client would be woken by the reply at a cost of 50-100 µs here).
  // Replies that usually take longer than kMaxReplyPoll (a hardware TPM, a prompt) are slept
  // for at once.
  static std::unique_ptr<SocketFrameReader> ForReplies(int fd, std::chrono::milliseconds frame_timeout);
  static constexpr std::chrono::microseconds kMaxReplyPoll{1000};
  // A client's poll for a reply, given the typical wait of recent ones (zero: none yet).
  static std::chrono::microseconds ReplyPollBudget(std::chrono::microseconds typical);
  ~SocketFrameReader();
  SocketFrameReader(const SocketFrameReader&) = delete;
  SocketFrameReader& operator=(const SocketFrameReader&) = delete;

  struct Frame {
    std::optional<ByteView> payload;  // valid until the next call to Next(); set on success
    FrameError error = FrameError::kIo;
    std::string detail;
  };
  // The next frame. The previous frame's bytes are wiped first (requests carry secrets).
  // `may_poll` false: sleep at once if nothing is buffered (a client with several requests in
  // flight leaves the cores to the daemon, which has work enough).
  Frame Next(bool may_poll = true);
  // Whether a whole frame is already buffered: the caller may serve it before flushing replies.
  bool HasWholeFrame() const;
  // How long the next wait between frames would be polled for before sleeping (zero: it sleeps
  // at once), were a core free to poll on.
  std::chrono::microseconds PollBudget() const;

 private:
  // Reads more bytes into the buffer, polling first when `may_poll` and PollBudget allow;
  // nullopt on success.
  std::optional<FrameError> Fill(bool may_poll, std::string* detail);
  // What a wait between frames took, for the next one's PollBudget.
  void NoteWait(std::chrono::steady_clock::duration polled, std::chrono::steady_clock::duration slept);
  void WipeConsumed();

  int fd_;
  std::chrono::milliseconds timeout_;
  size_t max_frame_;
  bool idle_limited_ = false;  // SO_RCVTIMEO is set: a blocking recv that times out means idle
  bool for_replies_ = false;   // ForReplies: the budget comes from typical_reply_, not hot_
  bool hot_ = false;           // the last wait between frames was short: poll briefly before sleeping
  std::chrono::microseconds typical_reply_{0};  // moving average of replies' waits; 0: none yet
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
