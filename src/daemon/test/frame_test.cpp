// Framing and codec in isolation: frames from memory, limits, garbage, and round trips of every
// message through the codec.
#include "daemon/frame.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <cstring>
#include <random>
#include <thread>

#include "daemon/codec.h"
#include "daemon/unique_fd.h"

namespace enclave::daemon {
namespace {

FrameReader MemoryReader(const Bytes& data, size_t* offset, size_t chunk = SIZE_MAX) {
  return FrameReader([&data, offset, chunk](uint8_t* buf, size_t len, bool) -> long {
    const size_t n = std::min({len, data.size() - *offset, chunk});
    std::memcpy(buf, data.data() + *offset, n);
    *offset += n;
    return static_cast<long>(n);
  });
}

Bytes Header(uint32_t n) {
  return {static_cast<uint8_t>(n >> 24), static_cast<uint8_t>(n >> 16), static_cast<uint8_t>(n >> 8),
          static_cast<uint8_t>(n)};
}

TEST(Frame, EncodesBigEndianLengthAndReadsBack) {
  wire::Request r;
  r.set_id(7);
  r.mutable_sign()->set_algorithm("ecdsa-signature-message-x962-sha256");
  r.mutable_sign()->set_input(std::string(300, 'x'));
  auto frame = EncodeFrame(r);
  ASSERT_TRUE(frame.ok());
  const size_t size = frame->size() - 4;
  EXPECT_EQ((*frame)[0], 0);
  EXPECT_EQ((*frame)[2], static_cast<uint8_t>(size >> 8));
  EXPECT_EQ((*frame)[3], static_cast<uint8_t>(size));
  size_t offset = 0;
  // One byte at a time: short reads must be reassembled.
  auto reader = MemoryReader(*frame, &offset, 1);
  auto got = reader.Next();
  ASSERT_TRUE(got.payload.has_value()) << got.detail;
  wire::Request back;
  ASSERT_TRUE(ParsePayload(*got.payload, &back));
  EXPECT_EQ(back.id(), 7u);
  EXPECT_EQ(back.sign().input().size(), 300u);
  EXPECT_EQ(RequestKind(back), "sign");
  EXPECT_EQ(reader.Next().error, FrameError::kClosed);
}

TEST(Frame, RefusesOversizedLengthWithoutReadingIt) {
  Bytes data = Header(1u << 30);  // 1 GiB claimed, nothing sent
  size_t offset = 0;
  auto reader = MemoryReader(data, &offset);
  auto got = reader.Next();
  EXPECT_FALSE(got.payload);
  EXPECT_EQ(got.error, FrameError::kTooLarge);
  EXPECT_NE(got.detail.find("exceeds"), std::string::npos);
}

TEST(Frame, AcceptsExactlyTheLimitAndRefusesOneMore) {
  Bytes data = Header(kMaxFrameSize);
  data.resize(4 + kMaxFrameSize, 0);
  size_t offset = 0;
  auto reader = MemoryReader(data, &offset);
  EXPECT_TRUE(reader.Next().payload.has_value());
  Bytes over = Header(kMaxFrameSize + 1);
  offset = 0;
  auto reader2 = MemoryReader(over, &offset);
  EXPECT_EQ(reader2.Next().error, FrameError::kTooLarge);
}

TEST(Frame, TruncatedHeaderAndPayloadAreTruncated) {
  Bytes half_header = {0, 0};
  size_t offset = 0;
  auto r1 = MemoryReader(half_header, &offset);
  EXPECT_EQ(r1.Next().error, FrameError::kTruncated);
  Bytes short_payload = Header(10);
  short_payload.push_back(1);
  offset = 0;
  auto r2 = MemoryReader(short_payload, &offset);
  EXPECT_EQ(r2.Next().error, FrameError::kTruncated);
}

TEST(Frame, EmptyPayloadIsAnEmptyMessage) {
  Bytes data = Header(0);
  size_t offset = 0;
  auto reader = MemoryReader(data, &offset);
  auto got = reader.Next();
  ASSERT_TRUE(got.payload);
  wire::Request r;
  EXPECT_TRUE(ParsePayload(*got.payload, &r));
  EXPECT_EQ(RequestKind(r), "unknown");
}

TEST(Frame, GarbageIsNotAMessage) {
  const Bytes garbage = {0xff, 0xff, 0xff, 0xff, 0xff, 0x0f};
  wire::Request r;
  EXPECT_FALSE(ParsePayload(garbage, &r));
}

TEST(Frame, EncodeRefusesOversizedMessage) {
  wire::Request r;
  r.mutable_sign()->set_input(std::string(kMaxFrameSize + 1, 'a'));
  auto frame = EncodeFrame(r);
  ASSERT_FALSE(frame.ok());
  EXPECT_EQ(frame.error().code, errsec::kParam);
  EXPECT_EQ(frame.error().effective_cause(), "protocol-error");
}

TEST(Frame, SocketSourceTimesOutInsideAFrameOnly) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  UniqueFd a(sv[0]), b(sv[1]);
  const Bytes partial = {0, 0, 0, 8, 1, 2};
  ASSERT_TRUE(WriteAll(b.get(), partial).ok());
  auto got = ReadSocketFrame(a.get(), std::chrono::milliseconds(100));
  EXPECT_EQ(got.error, FrameError::kTimeout);

  // Between frames the reader waits for as long as it takes; here the peer closes.
  std::thread closer([&] { ::shutdown(b.get(), SHUT_WR); });
  auto closed = ReadSocketFrame(a.get(), std::chrono::milliseconds(100));
  closer.join();
  EXPECT_EQ(closed.error, FrameError::kClosed);
}

TEST(Frame, SocketRoundTrip) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  UniqueFd a(sv[0]), b(sv[1]);
  wire::Response resp;
  resp.set_id(42);
  resp.mutable_pong()->set_pid(5);
  std::thread writer([&] { ASSERT_TRUE(WriteMessage(b.get(), resp).ok()); });
  auto got = ReadSocketFrame(a.get(), std::chrono::seconds(5));
  writer.join();
  ASSERT_TRUE(got.payload);
  wire::Response back;
  ASSERT_TRUE(ParsePayload(*got.payload, &back));
  EXPECT_EQ(back.id(), 42u);
  EXPECT_EQ(back.pong().pid(), 5u);
}

// The fuzzer's entry point under thousands of random, truncated and mutated inputs.
TEST(FrameFuzz, SurvivesRandomAndMutatedInput) {
  std::mt19937_64 rng(20240611);
  auto random_bytes = [&](size_t n) {
    Bytes b(n);
    for (auto& x : b) x = static_cast<uint8_t>(rng());
    return b;
  };
  // Valid seeds to mutate: every kind of request and reply.
  std::vector<Bytes> seeds;
  {
    wire::Request r;
    r.set_id(1);
    r.mutable_admin()->set_command("status");
    r.mutable_admin()->set_args_json(R"({"a":[1,2,{"b":null}]})");
    r.mutable_admin()->add_secrets("123456");
    seeds.push_back(*EncodeFrame(r));
    r.mutable_key_exchange()->set_algorithm("ecdh-key-exchange-standard");
    r.mutable_key_exchange()->set_requested_size(32);
    r.mutable_key_exchange()->mutable_key()->set_kid("0123456789abcdef");
    seeds.push_back(*EncodeFrame(r));
    r.mutable_create_key()->mutable_spec()->add_access_control("biometry-any");
    seeds.push_back(*EncodeFrame(r));
    wire::Response resp;
    resp.set_id(3);
    Error e = TokenError(tkerror::kCorruptedData, "unable to sign digest");
    e.underlying = std::make_shared<Error>(KeystoreError(aks::kPolicyInvalid, "policy invalid"));
    ToWire(e, resp.mutable_error());
    seeds.push_back(*EncodeFrame(resp));
    resp.mutable_keys()->add_keys()->set_kid("k");
    seeds.push_back(*EncodeFrame(resp));
  }
  for (const auto& s : seeds) EXPECT_EQ(internal::FuzzConnectionBytes(s), 0);
  for (int i = 0; i < 20000; ++i) {
    Bytes input;
    switch (i % 4) {
      case 0:  // pure noise
        input = random_bytes(rng() % 512);
        break;
      case 1: {  // a seed truncated
        input = seeds[rng() % seeds.size()];
        input.resize(rng() % (input.size() + 1));
        break;
      }
      case 2: {  // a seed with flipped bytes, header kept plausible
        input = seeds[rng() % seeds.size()];
        for (int k = 0; k < 1 + static_cast<int>(rng() % 8); ++k) {
          input[4 + rng() % (input.size() - 4)] ^= static_cast<uint8_t>(1u << (rng() % 8));
        }
        break;
      }
      case 3: {  // a valid header over noise, or a huge claimed length
        const uint32_t len =
            (rng() % 3 == 0) ? static_cast<uint32_t>(rng()) : static_cast<uint32_t>(rng() % 300);
        input = Header(len);
        Bytes noise = random_bytes(std::min<size_t>(len, 300));
        input.insert(input.end(), noise.begin(), noise.end());
        break;
      }
    }
    ASSERT_EQ(internal::FuzzConnectionBytes(input), 0);
  }
}

TEST(Codec, DeepJsonIsRefusedNotRecursed) {
  std::string deep(100000, '[');
  auto j = ParseJsonBounded(deep);
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.error().effective_cause(), "protocol-error");
  EXPECT_TRUE(ParseJsonBounded(R"({"key":"x","value":[1,2]})").ok());
  EXPECT_FALSE(ParseJsonBounded("{not json").ok());
  EXPECT_TRUE(ParseJsonBounded("")->is_object());
}

}  // namespace
}  // namespace enclave::daemon
