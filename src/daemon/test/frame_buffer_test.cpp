// The buffered socket reader: several frames per recv, frames split across writes, the length
// checked before anything is kept, and the frame deadline only inside a frame.
#include "daemon/frame_buffer.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <thread>

#include "daemon/unique_fd.h"

namespace enclave::daemon {
namespace {

struct Pair {
  UniqueFd a, b;
  Pair() {
    int sv[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    a.reset(sv[0]);
    b.reset(sv[1]);
  }
};

wire::Response Pong(uint64_t id) {
  wire::Response r;
  r.set_id(id);
  r.mutable_pong()->set_pid(static_cast<uint32_t>(id));
  return r;
}

TEST(SocketFrameReader, ReadsManyFramesSentAtOnceInOrder) {
  Pair p;
  Bytes out;
  for (uint64_t id = 1; id <= 50; ++id) ASSERT_TRUE(AppendFrame(Pong(id), &out).ok());
  ASSERT_TRUE(WriteAll(p.b.get(), out).ok());
  SocketFrameReader reader(p.a.get(), std::chrono::seconds(5));
  for (uint64_t id = 1; id <= 50; ++id) {
    auto f = reader.Next();
    ASSERT_TRUE(f.payload) << f.detail;
    wire::Response r;
    ASSERT_TRUE(ParsePayload(*f.payload, &r));
    EXPECT_EQ(r.id(), id);
    EXPECT_EQ(reader.HasWholeFrame(), id < 50);
  }
}

TEST(SocketFrameReader, FrameSplitAcrossWritesAndLargerThanTheBuffer) {
  Pair p;
  wire::Request big;
  big.set_id(7);
  big.mutable_sign()->set_input(std::string(300 * 1024, 'x'));
  Bytes out;
  ASSERT_TRUE(AppendFrame(big, &out).ok());
  std::thread writer([&] {
    for (size_t at = 0; at < out.size(); at += 1000) {
      ASSERT_TRUE(
          WriteAll(p.b.get(), ByteView(out.data() + at, std::min<size_t>(1000, out.size() - at))).ok());
    }
  });
  SocketFrameReader reader(p.a.get(), std::chrono::seconds(5));
  auto f = reader.Next();
  writer.join();
  ASSERT_TRUE(f.payload) << f.detail;
  wire::Request back;
  ASSERT_TRUE(ParsePayload(*f.payload, &back));
  EXPECT_EQ(back.sign().input().size(), 300u * 1024);
}

TEST(SocketFrameReader, OversizedLengthIsRefusedBeforeReadingIt) {
  Pair p;
  const Bytes header = {0x7f, 0xff, 0xff, 0xff};
  ASSERT_TRUE(WriteAll(p.b.get(), header).ok());
  SocketFrameReader reader(p.a.get(), std::chrono::seconds(5));
  auto f = reader.Next();
  EXPECT_FALSE(f.payload);
  EXPECT_EQ(f.error, FrameError::kTooLarge);
}

TEST(SocketFrameReader, TimesOutInsideAFrameAndSeesACleanClose) {
  Pair p;
  const Bytes partial = {0, 0, 0, 8, 1, 2};
  ASSERT_TRUE(WriteAll(p.b.get(), partial).ok());
  SocketFrameReader reader(p.a.get(), std::chrono::milliseconds(100));
  EXPECT_EQ(reader.Next().error, FrameError::kTimeout);

  Pair q;
  SocketFrameReader idle(q.a.get(), std::chrono::milliseconds(100));
  std::thread closer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // longer than the frame timeout
    ::shutdown(q.b.get(), SHUT_WR);
  });
  auto closed = idle.Next();
  closer.join();
  EXPECT_EQ(closed.error, FrameError::kClosed) << "an idle peer is not timed out between frames";
}

// One reply sent `delay` after the reader starts waiting for it (no delay: already there when
// it starts), read with `may_poll`.
void ReplyAfter(Pair& p, SocketFrameReader& reader, std::chrono::microseconds delay, bool may_poll = true) {
  Bytes out;
  ASSERT_TRUE(AppendFrame(Pong(7), &out).ok());
  if (delay.count() == 0) {
    ASSERT_TRUE(WriteAll(p.b.get(), out).ok());
    auto f = reader.Next(may_poll);
    ASSERT_TRUE(f.payload) << f.detail;
    return;
  }
  std::thread peer([&] {
    std::this_thread::sleep_for(delay);
    EXPECT_TRUE(WriteAll(p.b.get(), out).ok());
  });
  auto f = reader.Next(may_poll);
  peer.join();
  ASSERT_TRUE(f.payload) << f.detail;
}

TEST(SocketFrameReader, AClientPollsForRepliesAsLongAsTheyHaveBeenTakingUpToALimit) {
  Pair p;
  auto reader = SocketFrameReader::ForReplies(p.a.get(), std::chrono::seconds(5));
  EXPECT_EQ(reader->PollBudget().count(), 0) << "nothing is known of the replies yet";
  for (int i = 0; i < 4; ++i) ReplyAfter(p, *reader, std::chrono::microseconds(0));
  EXPECT_GE(reader->PollBudget(), std::chrono::microseconds(150)) << "quick replies are polled for";
  EXPECT_LE(reader->PollBudget(), SocketFrameReader::kMaxReplyPoll);

  // Replies that take several milliseconds (a hardware TPM, a prompt) are slept for at once.
  for (int i = 0; i < 4; ++i) ReplyAfter(p, *reader, std::chrono::milliseconds(5));
  EXPECT_EQ(reader->PollBudget().count(), 0);

  // Waits with several requests in flight neither poll nor count: the budget stays as it was.
  for (int i = 0; i < 8; ++i) ReplyAfter(p, *reader, std::chrono::microseconds(0), /*may_poll=*/false);
  EXPECT_EQ(reader->PollBudget().count(), 0);
  for (int i = 0; i < 8; ++i) ReplyAfter(p, *reader, std::chrono::microseconds(0));
  EXPECT_GT(reader->PollBudget().count(), 0) << "quick replies again bring the poll back";
}

TEST(SocketFrameReader, AReplyIsPolledForTwiceItsTypicalWaitWithinLimits) {
  using us = std::chrono::microseconds;
  EXPECT_EQ(SocketFrameReader::ReplyPollBudget(us(0)), us(0)) << "nothing known yet";
  EXPECT_EQ(SocketFrameReader::ReplyPollBudget(us(20)), us(150)) << "never less than a server's poll";
  EXPECT_EQ(SocketFrameReader::ReplyPollBudget(us(300)), us(600)) << "a software TPM's signature";
  EXPECT_EQ(SocketFrameReader::ReplyPollBudget(us(700)), SocketFrameReader::kMaxReplyPoll);
  EXPECT_EQ(SocketFrameReader::ReplyPollBudget(SocketFrameReader::kMaxReplyPoll + us(1)), us(0));
}

TEST(SocketFrameReader, AServerPollsOnlyAfterARequestThatCameQuickly) {
  Pair p;
  SocketFrameReader reader(p.a.get(), std::chrono::seconds(5));
  EXPECT_EQ(reader.PollBudget().count(), 0);
  ReplyAfter(p, reader, std::chrono::microseconds(0));
  EXPECT_GT(reader.PollBudget().count(), 0);
  ReplyAfter(p, reader, std::chrono::milliseconds(20));
  EXPECT_EQ(reader.PollBudget().count(), 0) << "a peer that took 20 ms is not waited for by polling";
}

}  // namespace
}  // namespace enclave::daemon
