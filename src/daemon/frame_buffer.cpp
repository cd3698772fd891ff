#include "daemon/frame_buffer.h"

#include <openssl/crypto.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>

namespace enclave::daemon {
namespace {

// A connection's buffer starts at one page and doubles whenever a read fills it, up to
// kBufferSize (room for many pipelined requests): most connections (one CLI call, one PKCS#11
// session) never need more, and every page of a fresh buffer is a page fault. A larger frame
// grows it up to the frame limit, and it shrinks back once that frame is consumed.
constexpr size_t kFirstBufferSize = 4 * 1024;
constexpr size_t kBufferSize = 64 * 1024;

// A peer whose next request came within kHotGap of the wait's start is polled for up to kSpin
// before the reader sleeps in recv. kSpin covers a reply's wait (a signature and a round trip) with
// room for a hiccup: on a small VM a sleep and its wake-up cost ~100 µs, which set the p99 when
// the poll was 60 µs.
constexpr auto kHotGap = std::chrono::microseconds(150);
constexpr auto kSpin = std::chrono::microseconds(150);
constexpr int kMaxSkippedPolls = 64;

// Readers polling right now, across connections: spinning only pays while a core is left for
// the peers and the signatures, so at most one fewer than the cores poll at once (none on one).
std::atomic<int> spinners{0};
const int kMaxSpinners = static_cast<int>(std::max(1u, std::thread::hardware_concurrency())) - 1;

bool TakeSpinSlot() {
  int now = spinners.load(std::memory_order_relaxed);
  while (now < kMaxSpinners) {
    if (spinners.compare_exchange_weak(now, now + 1, std::memory_order_relaxed)) return true;
  }
  return false;
}

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

std::unique_ptr<SocketFrameReader> SocketFrameReader::ForReplies(int fd,
                                                                 std::chrono::milliseconds frame_timeout) {
  auto reader = std::make_unique<SocketFrameReader>(fd, frame_timeout);
  reader->for_replies_ = true;
  return reader;
}

std::chrono::microseconds SocketFrameReader::ReplyPollBudget(std::chrono::microseconds typical) {
  if (typical.count() == 0 || typical > kMaxReplyPoll) return std::chrono::microseconds(0);
  // Twice the typical wait covers most of the slower replies; never less than a server's poll.
  return std::clamp(2 * typical, std::chrono::microseconds(kSpin), kMaxReplyPoll);
}

std::chrono::microseconds SocketFrameReader::PollBudget() const {
  if (for_replies_) return ReplyPollBudget(typical_reply_);
  return hot_ ? kSpin : std::chrono::microseconds(0);
}

void SocketFrameReader::NoteWait(std::chrono::steady_clock::duration polled,
                                 std::chrono::steady_clock::duration slept) {
  using std::chrono::duration_cast;
  using std::chrono::microseconds;
  if (!for_replies_) {
    // Only a wait that ended in a sleep says whether the peer is quick; a fruitful poll keeps hot_.
    if (slept.count() > 0) hot_ = slept < kHotGap;
    return;
  }
  const auto waited = duration_cast<microseconds>(polled + slept);
  typical_reply_ =
      typical_reply_.count() == 0 ? std::max(waited, microseconds(1)) : (3 * typical_reply_ + waited) / 4;
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

std::optional<FrameError> SocketFrameReader::Fill(bool may_poll, std::string* detail) {
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
    // A shutdown(2) of the socket by another thread ends the wait. A peer that sent its last
    // request right after its previous reply (a loop of requests) is likely to do so again: the
    // next request is polled for up to kSpin first, sparing a sleep and a wake-up
    // that cost more than the request itself on a small VM. A client polls for its reply for
    // about as long as replies have been taking (PollBudget).
    // A poll that comes up empty cost a core for nothing, and usually means the cores are
    // contended (several busy clients, each pair taking turns): then polling stops for a while,
    // longer each time it fails again, and the thread sleeps as it would without it.
    ssize_t n = -1;
    const bool poll_allowed = !deadline_ && may_poll;
    const auto budget = poll_allowed ? PollBudget() : std::chrono::microseconds(0);
    const auto poll_from = Clock::now();
    if (budget.count() > 0 && skip_polls_ > 0) {
      --skip_polls_;
    } else if (budget.count() > 0 && TakeSpinSlot()) {
      const auto spin_until = poll_from + budget;
      bool empty = true;
      for (;;) {
        n = ::recv(fd_, buf_.data() + end_, buf_.size() - end_, MSG_DONTWAIT);
        empty = n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
        if (!empty) break;
        const auto now = Clock::now();
        if (now >= spin_until) break;
        // Past a server's short poll, a thread that became runnable on this core goes first: on
        // two cores, a client polling through a TPM command held the core that the daemon
        // needed to pass the TPM's answer on (measured: the p99 doubled, and half the runs
        // lost what the poll saves).
        if (now - poll_from > kSpin) std::this_thread::yield();
      }
      spinners.fetch_sub(1, std::memory_order_relaxed);
      empty_polls_backoff_ = empty ? std::min(2 * empty_polls_backoff_ + 1, kMaxSkippedPolls) : 0;
      skip_polls_ = empty_polls_backoff_;
    }
    if (n < 0) {
      const auto sleep_from = Clock::now();
      n = ::recv(fd_, buf_.data() + end_, buf_.size() - end_, deadline_ ? MSG_DONTWAIT : 0);
      if (poll_allowed && n > 0) NoteWait(sleep_from - poll_from, Clock::now() - sleep_from);
    } else if (poll_allowed && n > 0) {
      NoteWait(Clock::now() - poll_from, Clock::duration::zero());
    }
    if (n > 0) {
      filled_ = end_ + static_cast<size_t>(n) == buf_.size();
      end_ += static_cast<size_t>(n);
      return std::nullopt;
    }
    if (n == 0) {
      if (!in_frame) return FrameError::kClosed;
      *detail = "the connection closed inside a frame";
      return FrameError::kTruncated;
    }
    // Without a frame deadline the recv blocked: EAGAIN is SO_RCVTIMEO, the idle limit.
    if ((errno == EAGAIN || errno == EWOULDBLOCK) && !deadline_ && idle_limited_) {
      *detail = "the connection was idle too long";
      return FrameError::kIdle;
    }
    if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
    // A reset between frames ends the stream as a close does (see frame.cpp).
    if (errno == ECONNRESET && !in_frame) {
      *detail = "the connection was reset";
      return FrameError::kClosed;
    }
    *detail = std::string("read failed: ") + std::strerror(errno);
    return FrameError::kIo;
  }
}

SocketFrameReader::Frame SocketFrameReader::Next(bool may_poll) {
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
    size_t want = std::max(need, buf_.empty() ? kFirstBufferSize : buf_.size());
    if (filled_ && buf_.size() < kBufferSize) want = std::max(want, std::min(2 * buf_.size(), kBufferSize));
    filled_ = false;
    if (buf_.size() < want) {
      Bytes bigger(want);
      if (have > 0) std::memcpy(bigger.data(), buf_.data() + begin_, have);
      if (!buf_.empty()) OPENSSL_cleanse(buf_.data(), buf_.size());
      buf_.swap(bigger);
      begin_ = 0;
      end_ = have;
    }
    if (auto e = Fill(may_poll, &r.detail)) {
      r.error = *e;
      return r;
    }
  }
}

}  // namespace enclave::daemon
