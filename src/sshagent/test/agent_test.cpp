// The agent's request handling over a real in-process enclave (SQLite keychain, soft token):
// identities, signatures ssh would accept, stop-offering, refusals, and hostile messages.
#include "sshagent/agent.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "crypto/ec.h"
#include "service/enclave.h"
#include "sshagent/caller.h"

namespace enclave::sshagent {
namespace {

class SshAgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "enclave-sshagent-test.XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    home_ = tmpl;
    service::EnclaveOptions options;
    options.home = home_;
    auto e = service::Enclave::Open(options);
    ASSERT_TRUE(e.ok()) << e.error().ToString();
    enclave_ = std::move(e).value();
    session_ =
        enclave_->OpenSession({static_cast<uint32_t>(::getuid()), static_cast<uint32_t>(::getpid()), "test"});
    ASSERT_NE(session_, nullptr);
    agent_ = std::make_unique<Agent>(*session_, Caller{static_cast<uint32_t>(::getpid()), "test (1)"},
                                     AgentOptions{home_ / "ssh-agent.sock"});
  }
  void TearDown() override {
    agent_.reset();
    session_.reset();
    enclave_.reset();
    std::filesystem::remove_all(home_);
  }

  KeyInfo Create(const std::string& label, bool ssh) {
    KeySpec spec;
    if (!label.empty()) spec.label = label;
    spec.application_label = ToBytes("app " + label);
    spec.ssh = ssh;
    auto k = session_->CreateKey(spec);
    EXPECT_TRUE(k.ok()) << k.error().ToString();
    return *k;
  }

  Bytes Handle(const Bytes& message, Outcome* outcome = nullptr) {
    Outcome local;
    return agent_->Handle(message, outcome != nullptr ? outcome : &local);
  }

  std::vector<Identity> List() {
    Bytes reply = Handle({kRequestIdentities});
    auto ids = ParseIdentitiesAnswer(reply);
    EXPECT_TRUE(ids.ok());
    return ids.ok() ? *ids : std::vector<Identity>{};
  }

  std::filesystem::path home_;
  std::unique_ptr<service::Enclave> enclave_;
  std::unique_ptr<service::Session> session_;
  std::unique_ptr<Agent> agent_;
};

TEST_F(SshAgentTest, OffersOnlyKeysMarkedForSshWithTheirLabel) {
  EXPECT_TRUE(List().empty());
  KeyInfo ssh = Create("laptop", true);
  Create("not-for-ssh", false);
  KeySpec unlabeled;
  unlabeled.application_label = ToBytes("only an app label");
  unlabeled.ssh = true;
  ASSERT_TRUE(session_->CreateKey(unlabeled).ok());
  auto ids = List();
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_EQ(ids[0].comment, "laptop");
  EXPECT_EQ(ids[0].key_blob, EcdsaP256KeyBlob(ssh.public_key_x963));
  EXPECT_EQ(ids[1].comment, "only an app label");
}

TEST_F(SshAgentTest, SignsSha256OfTheDataAsSshVerifiesIt) {
  KeyInfo key = Create("laptop", true);
  const Bytes data = ToBytes("session id and userauth request");
  Writer req;
  req.Byte(kSignRequest)
      .String(ByteView(EcdsaP256KeyBlob(key.public_key_x963)))
      .String(ByteView(data))
      .U32(0);
  Outcome outcome;
  Bytes reply = Handle(req.bytes(), &outcome);
  ASSERT_FALSE(outcome.error) << outcome.error->ToString();
  Reader r(reply);
  ASSERT_EQ(r.Byte(), kSignResponse);
  auto blob = r.String();
  ASSERT_TRUE(blob && r.AtEnd());
  Reader sig(*blob);
  EXPECT_EQ(ToString(*sig.String()), "ecdsa-sha2-nistp256");
  auto body = sig.String();
  ASSERT_TRUE(body && sig.AtEnd());
  Reader rs(*body);
  auto rr = rs.PositiveMpint(32);
  auto ss = rs.PositiveMpint(32);
  ASSERT_TRUE(rr && ss && rs.AtEnd());
  Bytes raw(64, 0);
  std::copy(rr->begin(), rr->end(), raw.begin() + static_cast<long>(32 - rr->size()));
  std::copy(ss->begin(), ss->end(), raw.begin() + static_cast<long>(64 - ss->size()));
  auto der = crypto::RawSignatureToDer(raw);
  ASSERT_TRUE(der.ok());
  auto pub = crypto::EcPublicKey::FromX963(key.public_key_x963);
  ASSERT_TRUE(pub.ok());
  EXPECT_TRUE(pub->VerifyDigestDer(crypto::Digest(crypto::Hash::kSha256, data), *der));
  EXPECT_FALSE(pub->VerifyDigestDer(crypto::Digest(crypto::Hash::kSha256, ToBytes("other")), *der));
  EXPECT_EQ(outcome.kids, std::vector<std::string>{key.kid});

  // The journal names who asked.
  auto events = session_->Admin("events", nlohmann::json::object(), {});
  ASSERT_TRUE(events.ok());
  EXPECT_NE(events->dump().find("test (1)"), std::string::npos);
  EXPECT_NE(events->dump().find("ssh-sign"), std::string::npos);
}

TEST_F(SshAgentTest, RemovingStopsOfferingButKeepsTheKey) {
  KeyInfo a = Create("a", true);
  Create("b", true);
  Writer remove;
  remove.Byte(kRemoveIdentity).String(ByteView(EcdsaP256KeyBlob(a.public_key_x963)));
  EXPECT_EQ(Handle(remove.bytes()), Bytes{kSuccess});
  ASSERT_EQ(List().size(), 1u);
  // Signing with it is refused now as well.
  Writer sign;
  sign.Byte(kSignRequest)
      .String(ByteView(EcdsaP256KeyBlob(a.public_key_x963)))
      .String(std::string_view("d"))
      .U32(0);
  EXPECT_EQ(Handle(sign.bytes()), Bytes{kFailure});
  EXPECT_EQ(Handle({kRemoveAllIdentities}), Bytes{kSuccess});
  EXPECT_TRUE(List().empty());
  KeyQuery all;
  all.match_all = true;
  auto keys = session_->FindKeys(all);
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(keys->size(), 2u);
  KeyChanges on;
  on.ssh = true;
  KeyQuery q;
  q.kid = a.kid;
  ASSERT_TRUE(session_->UpdateKeys(q, on).ok());
  EXPECT_EQ(List().size(), 1u);
}

TEST_F(SshAgentTest, AddingFileKeysIsRefusedWithAReason) {
  Outcome outcome;
  EXPECT_EQ(Handle(Bytes{kAddIdentity, 0, 0, 0, 1, 'x'}, &outcome), Bytes{kFailure});
  ASSERT_TRUE(outcome.error);
  EXPECT_EQ(outcome.error->cause, "unimplemented");
  EXPECT_NE(outcome.error->description.find("ssh-agent-upstream"), std::string::npos);
  EXPECT_EQ(outcome.request, "add-identity");
}

TEST_F(SshAgentTest, UpstreamThatIsNotThereStillAnswersEnclaveKeys) {
  Create("laptop", true);
  ASSERT_TRUE(session_
                  ->Admin("config.set",
                          {{"key", "ssh-agent-upstream"}, {"value", (home_ / "nobody.sock").string()}}, {})
                  .ok());
  Outcome outcome;
  auto ids = ParseIdentitiesAnswer(Handle({kRequestIdentities}, &outcome));
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(ids->size(), 1u);
  ASSERT_TRUE(outcome.error);
  EXPECT_EQ(outcome.error->cause, "daemon-unavailable");
  EXPECT_FALSE(session_
                   ->Admin("config.set",
                           {{"key", "ssh-agent-upstream"}, {"value", (home_ / "ssh-agent.sock").string()}},
                           {})
                   .ok());
}

TEST_F(SshAgentTest, HostileMessagesGetFailure) {
  KeyInfo key = Create("laptop", true);
  std::mt19937 rng(7);
  const Bytes blob = EcdsaP256KeyBlob(key.public_key_x963);
  Writer sign;
  sign.Byte(kSignRequest).String(ByteView(blob)).String(std::string_view("d")).U32(0);
  for (int i = 0; i < 2000; ++i) {
    Bytes m = sign.bytes();
    m[rng() % m.size()] = static_cast<uint8_t>(rng());
    if (i % 2) m.resize(rng() % m.size());
    if (m.empty()) continue;
    Bytes reply = Handle(m);
    ASSERT_FALSE(reply.empty());
    EXPECT_TRUE(reply[0] == kFailure || reply[0] == kSignResponse || reply[0] == kSuccess ||
                reply[0] == kIdentitiesAnswer)
        << int(reply[0]);
  }
  Writer bad_bind;
  bad_bind.Byte(kExtension).String(std::string_view("session-bind@openssh.com"));
  Writer c;
  c.String(ByteView(blob)).String(ByteView(Bytes(32, 1))).String(ByteView(Bytes(70, 2))).Byte(0);
  bad_bind.Raw(c.bytes());
  Outcome outcome;
  EXPECT_EQ(Handle(bad_bind.bytes(), &outcome), Bytes{kFailure});
  EXPECT_TRUE(outcome.error);
  EXPECT_TRUE(agent_->bindings().empty());
}

TEST(SshAgentCaller, ProcessChainFromProc) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "enclave-proc.XXXXXX").string();
  ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
  const std::filesystem::path root = tmpl;
  auto stat = [&](int pid, const std::string& comm, int ppid) {
    std::filesystem::create_directories(root / std::to_string(pid));
    std::ofstream(root / std::to_string(pid) / "stat") << pid << " (" << comm << ") S " << ppid << " 1 1 0\n";
  };
  stat(1234, "ssh", 900);
  stat(900, "git (x) y", 800);
  stat(800, "bash", 1);
  EXPECT_EQ(ProcessChainIn(root.string(), 1234, 4), "ssh (1234) \u2190 git (x) y \u2190 bash");
  EXPECT_EQ(ProcessChainIn(root.string(), 1234, 2), "ssh (1234) \u2190 git (x) y");
  EXPECT_EQ(ProcessChainIn(root.string(), 77, 4), "unknown process (77)");
  std::filesystem::remove_all(root);
  EXPECT_NE(ProcessChain(static_cast<uint32_t>(::getpid())).find(std::to_string(::getpid())),
            std::string::npos);
}

}  // namespace
}  // namespace enclave::sshagent
