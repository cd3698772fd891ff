// The agent protocol parser on well-formed, malformed, random and mutated input.
#include "sshagent/wire.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "crypto/ec.h"
#include "sshagent/fuzz_entry.h"

namespace enclave::sshagent {
namespace {

Bytes Msg(uint8_t type, const Bytes& payload = {}) {
  // Sized up front: GCC 12's -Warray-bounds misreads an insert after a one-byte initializer list.
  Bytes m(payload.size() + 1);
  m[0] = type;
  std::copy(payload.begin(), payload.end(), m.begin() + 1);
  return m;
}

Bytes SignPayload(const Bytes& blob, const Bytes& data, uint32_t flags) {
  Writer w;
  w.String(ByteView(blob)).String(ByteView(data)).U32(flags);
  return w.Take();
}

Bytes Point() { return crypto::EcPrivateKey::Generate().value().PublicKey().X963(); }

TEST(SshAgentWire, MpintsAreStrict) {
  auto mp = [](const Bytes& body) {
    Writer w;
    w.String(ByteView(body));
    Bytes b = w.Take();
    Reader r(b);
    auto v = r.PositiveMpint(64);
    return v ? std::optional<Bytes>(Bytes(v->begin(), v->end())) : std::nullopt;
  };
  EXPECT_EQ(mp({}), Bytes{});                  // zero
  EXPECT_EQ(mp({0x7f}), (Bytes{0x7f}));        // positive
  EXPECT_EQ(mp({0x00, 0x80}), (Bytes{0x80}));  // sign byte needed
  EXPECT_FALSE(mp({0x80}));                    // negative
  EXPECT_FALSE(mp({0xff, 0x01}));              // negative
  EXPECT_FALSE(mp({0x00}));                    // non-minimal zero
  EXPECT_FALSE(mp({0x00, 0x7f}));              // unnecessary leading zero
  EXPECT_FALSE(mp(Bytes(66, 0x01)));           // longer than allowed
}

TEST(SshAgentWire, MpintWriterRoundTrips) {
  for (Bytes m : {Bytes{}, Bytes{0, 0, 1}, Bytes{0x80, 1}, Bytes(32, 0xff), Bytes{0x01, 0x00}}) {
    Writer w;
    w.PositiveMpint(ByteView(m));
    Bytes enc = w.Take();
    Reader r(enc);
    auto back = r.PositiveMpint(64);
    ASSERT_TRUE(back) << HexEncode(enc);
    EXPECT_TRUE(r.AtEnd());
    size_t skip = 0;
    while (skip < m.size() && m[skip] == 0) ++skip;
    EXPECT_EQ(Bytes(back->begin(), back->end()), Bytes(m.begin() + static_cast<long>(skip), m.end()));
  }
}

TEST(SshAgentWire, StringsNeverReadPastTheEnd) {
  Bytes b{0, 0, 0, 5, 'a', 'b'};
  Reader r(b);
  EXPECT_FALSE(r.String());
  EXPECT_FALSE(r.AtEnd());
  Bytes huge{0xff, 0xff, 0xff, 0xff, 'a'};
  Reader r2(huge);
  EXPECT_FALSE(r2.String());
  Bytes boolean{2};
  Reader r3(boolean);
  EXPECT_FALSE(r3.Boolean());
}

TEST(SshAgentWire, SplitsFramesAndBoundsTheirLength) {
  Bytes stream = Frame(Msg(kRequestIdentities));
  Bytes second = Frame(Msg(kRemoveAllIdentities));
  stream.insert(stream.end(), second.begin(), second.end());
  auto a = SplitFrame(stream);
  ASSERT_EQ(a.status, FrameSplit::Status::kFrame);
  EXPECT_EQ(Bytes(a.message.begin(), a.message.end()), Msg(kRequestIdentities));
  auto b = SplitFrame(ByteView(stream).subspan(a.consumed));
  ASSERT_EQ(b.status, FrameSplit::Status::kFrame);
  EXPECT_EQ(b.consumed, second.size());
  EXPECT_EQ(SplitFrame(ByteView(stream).subspan(0, 3)).status, FrameSplit::Status::kNeedMore);
  EXPECT_EQ(SplitFrame(ByteView(second).subspan(0, 4)).status, FrameSplit::Status::kNeedMore);
  EXPECT_EQ(SplitFrame(Bytes{0, 0, 0, 0}).status, FrameSplit::Status::kEmpty);
  EXPECT_EQ(SplitFrame(Bytes{0, 4, 0, 1}).status, FrameSplit::Status::kTooLarge);  // 256 KiB + 1
  EXPECT_EQ(SplitFrame(Bytes{0xff, 0xff, 0xff, 0xff}).status, FrameSplit::Status::kTooLarge);
}

TEST(SshAgentWire, ParsesTheRequestsItServes) {
  const Bytes blob = EcdsaP256KeyBlob(Point());
  const Bytes message = Msg(kSignRequest, SignPayload(blob, ToBytes("data"), 0));  // the views point into it
  auto sign = ParseRequest(message);
  ASSERT_TRUE(sign.ok());
  auto* s = std::get_if<SignRequest>(&*sign);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(Bytes(s->key_blob.begin(), s->key_blob.end()), blob);
  EXPECT_EQ(ToString(s->data), "data");

  EXPECT_TRUE(std::holds_alternative<RequestIdentities>(*ParseRequest(Msg(kRequestIdentities))));
  EXPECT_TRUE(std::holds_alternative<RemoveAllIdentities>(*ParseRequest(Msg(kRemoveAllIdentities))));
  auto other = ParseRequest(Msg(kAddIdentity, ToBytes("anything")));
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(std::get<OtherRequest>(*other).type, kAddIdentity);

  Writer ext;
  ext.Byte(kExtension).String(std::string_view("session-bind@openssh.com")).Raw(ToBytes("rest"));
  auto e = ParseRequest(ext.bytes());
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(std::get<Extension>(*e).name, "session-bind@openssh.com");
  EXPECT_EQ(ToString(std::get<Extension>(*e).contents), "rest");
}

TEST(SshAgentWire, RefusesMalformedRequests) {
  const Bytes blob = EcdsaP256KeyBlob(Point());
  Bytes trailing = Msg(kSignRequest, SignPayload(blob, ToBytes("d"), 0));
  trailing.push_back(0);
  EXPECT_FALSE(ParseRequest(trailing).ok());
  EXPECT_FALSE(ParseRequest(Msg(kRequestIdentities, {0})).ok());
  EXPECT_FALSE(ParseRequest(Bytes{}).ok());
  Bytes short_sign = Msg(kSignRequest, SignPayload(blob, ToBytes("d"), 0));
  short_sign.pop_back();
  EXPECT_FALSE(ParseRequest(short_sign).ok());
  EXPECT_EQ(ParseRequest(short_sign).error().cause, "protocol-error");
  Writer ext;
  ext.Byte(kExtension).String(std::string_view("bad\nname"));
  EXPECT_FALSE(ParseRequest(ext.bytes()).ok());
}

TEST(SshAgentWire, KeyBlobsAreOpenSshs) {
  const Bytes point = Point();
  const Bytes blob = EcdsaP256KeyBlob(point);
  auto pub = crypto::EcPublicKey::FromX963(point);
  ASSERT_TRUE(pub.ok());
  // The OpenSSH public key line carries the same blob, base64-encoded.
  EXPECT_EQ(
      pub->OpenSsh("").rfind("ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABB", 0),
      0u);
  EXPECT_EQ(EcdsaP256Point(blob), point);
  Bytes wrong_curve = blob;
  wrong_curve[4 + 19 + 4 + 7] = '4';  // nistp254
  EXPECT_FALSE(EcdsaP256Point(wrong_curve));
  Bytes truncated(blob.begin(), blob.end() - 1);
  EXPECT_FALSE(EcdsaP256Point(truncated));
}

TEST(SshAgentWire, IdentitiesAnswerRoundTripsAndDistrustsCounts) {
  std::vector<Identity> ids = {{EcdsaP256KeyBlob(Point()), "one"}, {EcdsaP256KeyBlob(Point()), "two"}};
  auto back = ParseIdentitiesAnswer(IdentitiesAnswer(ids));
  ASSERT_TRUE(back.ok());
  ASSERT_EQ(back->size(), 2u);
  EXPECT_EQ((*back)[1].comment, "two");
  Writer lie;
  lie.Byte(kIdentitiesAnswer).U32(0x7fffffff);
  EXPECT_FALSE(ParseIdentitiesAnswer(lie.bytes()).ok());
}

// Random frames and mutations of valid ones: every outcome is a value, never a crash or a read
// past the end (the ASan build makes the latter visible).
TEST(SshAgentWire, RandomAndMutatedFramesAreHandled) {
  std::mt19937 rng(20261130);
  auto byte = [&] { return static_cast<uint8_t>(rng() & 0xff); };
  const Bytes blob = EcdsaP256KeyBlob(Point());
  Writer bind;
  bind.Byte(kExtension).String(std::string_view("session-bind@openssh.com"));
  {
    Writer c;
    c.String(ByteView(blob)).String(ByteView(Bytes(32, 7))).String(ByteView(Bytes(80, 9))).Byte(1);
    bind.Raw(c.bytes());
  }
  const std::vector<Bytes> seeds = {Msg(kRequestIdentities),
                                    Msg(kSignRequest, SignPayload(blob, ToBytes("x"), 2)), bind.bytes(),
                                    IdentitiesAnswer({{blob, "c"}}), Msg(kRemoveIdentity, Frame(blob))};
  int parsed = 0, refused = 0;
  for (int i = 0; i < 20000; ++i) {
    Bytes message;
    if (i % 4 == 0) {
      message.resize(rng() % 300);
      for (auto& b : message) b = byte();
    } else {
      message = seeds[rng() % seeds.size()];
      const int edits = 1 + static_cast<int>(rng() % 4);
      for (int k = 0; k < edits && !message.empty(); ++k) {
        const size_t at = rng() % message.size();
        switch (rng() % 4) {
          case 0:
            message[at] = byte();
            break;
          case 1:
            message.erase(message.begin() + static_cast<long>(at));
            break;
          case 2:
            message.insert(message.begin() + static_cast<long>(at), byte());
            break;
          default:
            message.resize(at);
            break;
        }
      }
    }
    auto r = ParseRequest(message);
    (r.ok() ? parsed : refused)++;
    Bytes stream = Frame(message);
    if (i % 3 == 0 && stream.size() > 4) stream[rng() % 4] = byte();  // a lying length
    EXPECT_EQ(internal::FuzzAgentBytes(stream), 0);
  }
  EXPECT_GT(parsed, 0);
  EXPECT_GT(refused, 0);
}

}  // namespace
}  // namespace enclave::sshagent
