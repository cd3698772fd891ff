// The client library against a real daemon: autostart (as gpg-agent's clients do), stale
// sockets, status and stop, and errors that say what was tried.
#include "client/client.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <thread>

#include "crypto/algorithm.h"
#include "daemon/test/daemon_fixture.h"

namespace enclave::testing {
namespace {

class ClientTest : public DaemonTest {
 protected:
  client::ConnectOptions Autostart() {
    client::ConnectOptions o;
    o.home = home_;
    o.daemon_path = DaemonBinary();
    return o;
  }
};

TEST_F(ClientTest, AutostartsTheDaemonAndStopsIt) {
  auto status = client::DaemonStatus(home_);
  ASSERT_TRUE(status.ok());
  EXPECT_FALSE((*status)["running"].get<bool>());

  auto c = client::Client::Connect(Autostart());
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  auto pong = (*c)->Ping();
  ASSERT_TRUE(pong.ok()) << pong.error().ToString();
  const int pid = (*pong)["pid"];
  EXPECT_NE(pid, ::getpid());
  auto key = (*c)->CreateKey(Spec("autostarted"));
  ASSERT_TRUE(key.ok()) << key.error().ToString();

  status = client::DaemonStatus(home_);
  ASSERT_TRUE(status.ok());
  EXPECT_TRUE((*status)["running"].get<bool>());
  EXPECT_EQ((*status)["pid"], pid);
  EXPECT_EQ(std::filesystem::status(enclave::SocketPath(home_)).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);

  // A second Connect finds the running daemon rather than starting another.
  auto again = client::Client::Connect(Autostart());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*(*again)->Ping())["pid"], pid);
  EXPECT_TRUE((*again)->FindKeys(ByLabel("autostarted")).ok());

  ASSERT_TRUE(client::StopDaemon(home_).ok());
  EXPECT_FALSE(std::filesystem::exists(enclave::SocketPath(home_)));
  status = client::DaemonStatus(home_);
  ASSERT_TRUE(status.ok());
  EXPECT_FALSE((*status)["running"].get<bool>());
  // The old connection held no session state, so its next call reaches a new daemon (started on
  // demand) rather than failing: a stopped daemon is not an error a stateless client should see.
  auto after = (*c)->Ping();
  ASSERT_TRUE(after.ok()) << after.error().ToString();
  EXPECT_NE((*after)["pid"], pid);
  ASSERT_TRUE(client::StopDaemon(home_).ok());
}

// Listens at the home's socket, as a daemon that dies with a request queued: accepts one
// connection, waits for its request, unlinks the socket and closes without reading it.
class ResettingListener {
 public:
  explicit ResettingListener(const std::filesystem::path& path) : path_(path) {
    listen_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.string().size() + 1);
    bound_ = ::bind(listen_.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0 &&
             ::listen(listen_.get(), 4) == 0;
    thread_ = std::thread([this] {
      daemon::UniqueFd conn(::accept(listen_.get(), nullptr, nullptr));
      // Peeked, not read: a Unix socket closed with unread bytes resets its peer, as a daemon
      // killed with a request queued does.
      char buf[1];
      (void)::recv(conn.get(), buf, sizeof buf, MSG_PEEK);
      ::unlink(path_.c_str());
      listen_.reset();
    });
  }
  ~ResettingListener() { thread_.join(); }
  bool bound() const { return bound_; }

 private:
  std::filesystem::path path_;
  daemon::UniqueFd listen_;
  bool bound_ = false;
  std::thread thread_;
};

TEST_F(ClientTest, ResetBeforeAnyReplyResendsAStatelessRequestToANewDaemon) {
  {
    auto c = client::Client::Connect(Autostart());
    ASSERT_TRUE(c.ok()) << c.error().ToString();
    ASSERT_TRUE((*c)->CreateKey(Spec("resent")).ok());
  }
  ASSERT_TRUE(client::StopDaemon(home_).ok());
  ResettingListener listener(enclave::SocketPath(home_));
  ASSERT_TRUE(listener.bound());
  auto c = client::Client::Connect(Autostart());
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  auto found = (*c)->FindKeys(ByLabel("resent"));
  ASSERT_TRUE(found.ok()) << found.error().ToString();
  EXPECT_EQ(found->size(), 1u);
  auto status = client::DaemonStatus(home_);
  ASSERT_TRUE(status.ok());
  EXPECT_TRUE((*status)["running"].get<bool>());
  ASSERT_TRUE(client::StopDaemon(home_).ok());
}

TEST_F(ClientTest, ResetBeforeAnyReplyIsNotResentForARequestThatChangesState) {
  ResettingListener listener(enclave::SocketPath(home_));
  ASSERT_TRUE(listener.bound());
  auto c = client::Client::Connect(Autostart());
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  // A creation that may have committed before the reset must not be done twice.
  auto key = (*c)->CreateKey(Spec("maybe-created"));
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.error().effective_cause(), "daemon-unavailable");
  EXPECT_NE(key.error().description.find("reset"), std::string::npos) << key.error().description;
  auto status = client::DaemonStatus(home_);
  ASSERT_TRUE(status.ok());
  EXPECT_FALSE((*status)["running"].get<bool>());
}

TEST_F(ClientTest, StaleSocketFileIsReplaced) {
  // A socket file nobody listens on, as a crashed daemon leaves behind.
  {
    daemon::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::string path = enclave::SocketPath(home_).string();
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    ASSERT_EQ(::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
  }
  auto status = client::DaemonStatus(home_);
  ASSERT_TRUE(status.ok());
  EXPECT_FALSE((*status)["running"].get<bool>());
  EXPECT_TRUE((*status).value("stale_socket", false));

  auto c = client::Client::Connect(Autostart());
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  EXPECT_TRUE((*c)->Ping().ok());
}

TEST_F(ClientTest, NoAutostartMeansDaemonUnavailable) {
  client::ConnectOptions o;
  o.home = home_;
  o.autostart = false;
  auto c = client::Client::Connect(o);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().domain, "OSStatus");
  EXPECT_EQ(c.error().code, errsec::kNotAvailable);
  EXPECT_EQ(c.error().effective_cause(), "daemon-unavailable");
  EXPECT_NE(c.error().description.find("enclaved.sock"), std::string::npos);
}

TEST_F(ClientTest, MissingDaemonBinarySaysWhatWasTried) {
  client::ConnectOptions o;
  o.home = home_;
  o.daemon_path = home_ / "no-such-enclaved";
  ::setenv("ENCLAVED", (home_ / "also-missing").c_str(), 1);
  const std::string old_path = std::getenv("PATH") ? std::getenv("PATH") : "";
  ::setenv("PATH", home_.c_str(), 1);
  auto c = client::Client::Connect(o);
  ::setenv("PATH", old_path.c_str(), 1);
  ::unsetenv("ENCLAVED");
  // The test binary's own directory may hold an enclaved (build/tests does not).
  if (c.ok()) GTEST_SKIP() << "an enclaved sits beside the test binary";
  EXPECT_EQ(c.error().code, errsec::kNotAvailable);
  EXPECT_NE(c.error().description.find("no-such-enclaved"), std::string::npos) << c.error().description;
  EXPECT_NE(c.error().description.find("also-missing"), std::string::npos) << c.error().description;
}

TEST_F(ClientTest, DaemonFoundThroughEnvironment) {
  ::setenv("ENCLAVED", DaemonBinary().c_str(), 1);
  client::ConnectOptions o;
  o.home = home_;
  auto c = client::Client::Connect(o);
  ::unsetenv("ENCLAVED");
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  EXPECT_TRUE((*c)->Ping().ok());
}

TEST_F(ClientTest, ErrorsCrossTheSocketWithTheirNumbers) {
  auto c = client::Client::Connect(Autostart());
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  auto key = (*c)->CreateKey(Spec("numbers"));
  ASSERT_TRUE(key.ok());
  auto dup = (*c)->CreateKey(Spec("numbers"));
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, errsec::kDuplicateItem);
  auto exported = (*c)->ExportPrivateKey(ByLabel("numbers"));
  ASSERT_FALSE(exported.ok());
  EXPECT_EQ(exported.error().code, errsec::kUnimplemented);
  auto bad_alg = (*c)->Sign(ByLabel("numbers"), "rsa-signature-pkcs1", ToBytes("m"), AuthOptions{});
  ASSERT_FALSE(bad_alg.ok());
  EXPECT_EQ(bad_alg.error().code, errsec::kParam);

  KeyChanges changes;
  changes.label = "renamed";
  auto updated = (*c)->UpdateKeys(ByLabel("numbers"), changes);
  ASSERT_TRUE(updated.ok()) << updated.error().ToString();
  EXPECT_EQ(*updated, 1);
  auto found = (*c)->FindKeys(ByLabel("numbers"));
  ASSERT_TRUE(found.ok());
  EXPECT_EQ((*found)[0].label, "renamed");
  EXPECT_EQ((*found)[0].public_key_x963, key->public_key_x963);
  auto deleted = (*c)->DeleteKeys(ByLabel("numbers"));
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(*deleted, 1);
  EXPECT_EQ((*c)->FindKeys(ByLabel("numbers")).error().code, errsec::kItemNotFound);

  auto status = (*c)->Admin("status", nlohmann::json::object(), {});
  ASSERT_TRUE(status.ok()) << status.error().ToString();
  EXPECT_TRUE(status->is_object());
}

// A message far over the 1 MiB frame limit signs: the client hashes it and sends the digest.
TEST_F(ClientTest, MessageLargerThanAFrameSignsAndVerifies) {
  auto c = client::Client::Connect(Autostart());
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  auto key = (*c)->CreateKey(Spec("large"));
  ASSERT_TRUE(key.ok()) << key.error().ToString();
  const Bytes message(3 * 1024 * 1024 + 7, 0x5a);
  const std::string alg = "ecdsa-signature-message-x962-sha256";
  auto sig = (*c)->Sign(ByLabel("large"), alg, message, AuthOptions{});
  ASSERT_TRUE(sig.ok()) << sig.error().ToString();
  EXPECT_EQ(sig->algorithm, alg) << "the caller sees the algorithm it asked for";
  auto pub = crypto::EcPublicKey::FromX963(key->public_key_x963);
  ASSERT_TRUE(pub.ok());
  EXPECT_TRUE(crypto::VerifySignature(*crypto::FindAlgorithm(alg), *pub, message, sig->output).ok());
}

// Pipelined signing: every reply in order, each signature valid, errors per request.
TEST_F(ClientTest, SignBatchKeepsManyRequestsInFlight) {
  auto c = client::Client::Connect(Autostart());
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  auto key = (*c)->CreateKey(Spec("batch"));
  ASSERT_TRUE(key.ok()) << key.error().ToString();
  std::vector<Bytes> inputs;
  for (int i = 0; i < 200; ++i) inputs.push_back(ToBytes("message " + std::to_string(i)));
  const std::string alg = "ecdsa-signature-message-x962-sha256";
  auto sigs = (*c)->SignBatch(ByLabel("batch"), alg, inputs, AuthOptions{}, 64);
  ASSERT_TRUE(sigs.ok()) << sigs.error().ToString();
  ASSERT_EQ(sigs->size(), inputs.size());
  auto pub = crypto::EcPublicKey::FromX963(key->public_key_x963);
  ASSERT_TRUE(pub.ok());
  for (size_t i = 0; i < inputs.size(); ++i) {
    ASSERT_TRUE((*sigs)[i].ok()) << (*sigs)[i].error().ToString();
    EXPECT_TRUE(
        crypto::VerifySignature(*crypto::FindAlgorithm(alg), *pub, inputs[i], (*sigs)[i]->output).ok())
        << i;
  }
  auto missing = (*c)->SignBatch(ByLabel("no such key"), alg, inputs, AuthOptions{}, 16);
  ASSERT_TRUE(missing.ok()) << "a refused request is that request's error, not the connection's";
  for (const auto& r : *missing) EXPECT_EQ(r.error().code, errsec::kItemNotFound);
  EXPECT_TRUE((*c)->Ping().ok()) << "the connection stays usable";
}

}  // namespace
}  // namespace enclave::testing
