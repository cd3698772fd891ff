// Pipelined requests on one connection: read in batches and answered in batches, every reply
// still comes back in request order and with its own result, whatever is mixed in between.
#include "daemon/codec.h"
#include "daemon/test/daemon_fixture.h"

namespace enclave::testing {
namespace {

constexpr char kAlgorithm[] = "ecdsa-signature-message-x962-sha256";

KeyQuery ByAppLabel(const std::string& app_label) {
  KeyQuery q;
  q.application_label = ToBytes(app_label);
  return q;
}

wire::Request SignRequest(uint64_t id, const std::string& app_label, const std::string& message) {
  wire::Request r;
  r.set_id(id);
  daemon::ToWire(ByAppLabel(app_label), r.mutable_sign()->mutable_key());
  r.mutable_sign()->set_algorithm(kAlgorithm);
  r.mutable_sign()->set_input(message);
  return r;
}

wire::Request FindRequest(uint64_t id, const std::string& app_label) {
  wire::Request r;
  r.set_id(id);
  daemon::ToWire(ByAppLabel(app_label), r.mutable_find_keys()->mutable_query());
  return r;
}

class DaemonPipelineTest : public DaemonTest {
 protected:
  // A raw connection on which every request was written with one send, so that the daemon finds
  // them buffered together.
  daemon::UniqueFd SendAtOnce(const std::vector<wire::Request>& requests) {
    Bytes out;
    for (const auto& r : requests) EXPECT_TRUE(daemon::AppendFrame(r, &out).ok());
    return SendBytes(out);
  }
  daemon::UniqueFd SendBytes(const Bytes& out) {
    auto fd = RawConnect(home_);
    EXPECT_TRUE(fd.valid());
    if (fd.valid()) {
      EXPECT_TRUE(daemon::WriteAll(fd.get(), out).ok());
    }
    return fd;
  }
};

// The reply to a signature request holds `key`'s signature of that request's own message.
void ExpectSignsItsOwnMessage(const KeyInfo& key, const wire::Request& r, const wire::Response& reply) {
  ASSERT_TRUE(reply.has_operation()) << "request " << r.id();
  EXPECT_TRUE(
      VerifySha256(key.public_key_x963, ToBytes(r.sign().input()), ToBytes(reply.operation().output())))
      << "request " << r.id() << " got another request's signature";
}

TEST_F(DaemonPipelineTest, MixedPipelinedRequestsAreAnsweredInOrder) {
  StartChild();
  auto setup = Connect();
  ASSERT_NE(setup, nullptr);
  auto key = setup->CreateKey(Spec("piped"));
  ASSERT_TRUE(key.ok()) << key.error().ToString();

  // Signatures in runs of odd and even length, a lookup and a missing key in between, all in one
  // batch of writes.
  std::vector<wire::Request> requests;
  uint64_t id = 1;
  for (int run : {1, 2, 3, 5}) {
    for (int i = 0; i < run; ++i, ++id)
      requests.push_back(SignRequest(id, "piped", "m" + std::to_string(id)));
    requests.push_back(FindRequest(id++, "piped"));
  }
  requests.push_back(SignRequest(id++, "no such key", "x"));
  requests.push_back(SignRequest(id++, "piped", "last"));

  auto fd = SendAtOnce(requests);
  ASSERT_TRUE(fd.valid());
  for (const auto& r : requests) {
    auto reply = ReadReply(fd.get());
    ASSERT_TRUE(reply.has_value()) << "no reply to request " << r.id();
    ASSERT_EQ(reply->id(), r.id()) << "replies out of order";
    if (r.has_find_keys()) {
      ASSERT_TRUE(reply->has_keys());
      EXPECT_EQ(reply->keys().keys_size(), 1);
    } else if (r.sign().input() == "x") {
      ASSERT_TRUE(reply->has_error());
      EXPECT_EQ(reply->error().code(), errsec::kItemNotFound);
    } else {
      ExpectSignsItsOwnMessage(*key, r, *reply);
      if (HasFatalFailure()) return;
    }
  }
}

TEST_F(DaemonPipelineTest, LongRunsOfOneKeysSignaturesEachSignTheirOwnMessage) {
  StartChild();
  auto setup = Connect();
  ASSERT_NE(setup, nullptr);
  auto key = setup->CreateKey(Spec("piped"));
  ASSERT_TRUE(key.ok()) << key.error().ToString();
  // Longer than one run (daemon/sign_run.h), so that runs end mid-stream, and a signature with
  // an auth context (never part of a run) at the end.
  std::vector<wire::Request> requests;
  for (uint64_t id = 1; id <= 150; ++id)
    requests.push_back(SignRequest(id, "piped", "m" + std::to_string(id)));
  wire::Request with_context = SignRequest(151, "piped", "with a context");
  with_context.mutable_sign()->mutable_auth()->set_context_id("no such context");
  requests.push_back(with_context);
  auto fd = SendAtOnce(requests);
  ASSERT_TRUE(fd.valid());
  for (const auto& r : requests) {
    auto reply = ReadReply(fd.get());
    ASSERT_TRUE(reply.has_value()) << "no reply to request " << r.id();
    ASSERT_EQ(reply->id(), r.id()) << "replies out of order";
    if (r.sign().auth().has_context_id()) {
      ASSERT_TRUE(reply->has_error()) << "an unknown auth context is refused";
      continue;
    }
    ExpectSignsItsOwnMessage(*key, r, *reply);
    if (HasFatalFailure()) return;
  }
}

TEST_F(DaemonPipelineTest, GarbageBufferedBehindASignatureIsAnsweredAfterIt) {
  StartChild();
  auto setup = Connect();
  ASSERT_NE(setup, nullptr);
  ASSERT_TRUE(setup->CreateKey(Spec("piped")).ok());

  Bytes out;
  ASSERT_TRUE(daemon::AppendFrame(SignRequest(7, "piped", "first"), &out).ok());
  const Bytes garbage = {0, 0, 0, 3, 0xff, 0xff, 0xff};
  out.insert(out.end(), garbage.begin(), garbage.end());
  auto fd = SendBytes(out);
  ASSERT_TRUE(fd.valid());

  auto first = ReadReply(fd.get());
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->id(), 7u);
  EXPECT_TRUE(first->has_operation());
  auto refused = ReadReply(fd.get());
  ASSERT_TRUE(refused.has_value()) << "the daemon should explain before closing";
  ASSERT_TRUE(refused->has_error());
  EXPECT_EQ(refused->error().cause(), "protocol-error");
  EXPECT_TRUE(ClosedByPeer(fd.get()));
}

}  // namespace
}  // namespace enclave::testing
