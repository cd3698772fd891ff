// enclaved through its real socket: concurrent clients, hostile and broken clients, shutdown,
// peer checks, sessions, and the request log.
#include <pwd.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <atomic>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>

#include "daemon/listen.h"
#include "daemon/server.h"
#include "daemon/test/daemon_fixture.h"

namespace enclave::testing {
namespace {

constexpr char kAlgorithm[] = "ecdsa-signature-message-x962-sha256";

Bytes Header(uint32_t n) {
  return {static_cast<uint8_t>(n >> 24), static_cast<uint8_t>(n >> 16), static_cast<uint8_t>(n >> 8),
          static_cast<uint8_t>(n)};
}

void ExpectProtocolErrorThenClose(int fd) {
  auto reply = ReadReply(fd);
  ASSERT_TRUE(reply.has_value()) << "the daemon should explain before closing";
  ASSERT_TRUE(reply->has_error());
  EXPECT_EQ(reply->error().domain(), "OSStatus");
  EXPECT_EQ(reply->error().code(), errsec::kParam);
  EXPECT_EQ(reply->error().cause(), "protocol-error");
  EXPECT_TRUE(ClosedByPeer(fd));
}

using DaemonSocketTest = DaemonTest;

TEST_F(DaemonSocketTest, TwoConcurrentClientsSign) {
  StartChild();
  auto setup = Connect();
  ASSERT_NE(setup, nullptr);
  auto key = setup->CreateKey(Spec("shared key"));
  ASSERT_TRUE(key.ok()) << key.error().ToString();

  std::atomic<int> verified{0};
  auto worker = [&](int n) {
    auto c = Connect();
    if (!c) return;
    for (int i = 0; i < 25; ++i) {
      const Bytes message = ToBytes("message " + std::to_string(n) + "/" + std::to_string(i));
      auto sig = c->Sign(ByLabel("shared key"), kAlgorithm, message, AuthOptions{});
      if (!sig.ok()) {
        ADD_FAILURE() << sig.error().ToString();
        return;
      }
      if (VerifySha256(key->public_key_x963, message, sig->output)) ++verified;
    }
  };
  std::thread a(worker, 1), b(worker, 2);
  a.join();
  b.join();
  EXPECT_EQ(verified.load(), 50);
}

TEST_F(DaemonSocketTest, GarbagePayloadGetsProtocolErrorAndDaemonServes) {
  StartChild();
  auto fd = RawConnect(home_);
  ASSERT_TRUE(fd.valid());
  Bytes frame = Header(6);
  for (uint8_t b : {0xff, 0xff, 0xff, 0xff, 0xff, 0x0f}) frame.push_back(b);
  ASSERT_TRUE(daemon::WriteAll(fd.get(), frame).ok());
  ExpectProtocolErrorThenClose(fd.get());
  ExpectServing();
}

TEST_F(DaemonSocketTest, RandomBytesDoNotHurtTheDaemon) {
  StartChild();
  std::mt19937 rng(7);
  for (int i = 0; i < 20; ++i) {
    auto fd = RawConnect(home_);
    ASSERT_TRUE(fd.valid());
    Bytes noise(1 + rng() % 200);
    for (auto& x : noise) x = static_cast<uint8_t>(rng());
    (void)daemon::WriteAll(fd.get(), noise);
  }
  ExpectServing();
}

TEST_F(DaemonSocketTest, OneGibLengthPrefixIsRefused) {
  StartChild();
  auto fd = RawConnect(home_);
  ASSERT_TRUE(fd.valid());
  ASSERT_TRUE(daemon::WriteAll(fd.get(), Header(1u << 30)).ok());
  ExpectProtocolErrorThenClose(fd.get());
  ExpectServing();
}

TEST_F(DaemonSocketTest, DisconnectMidRequestLeavesDaemonServing) {
  StartChild();
  {
    // Half a frame, then gone.
    auto fd = RawConnect(home_);
    Bytes partial = Header(100);
    partial.resize(20, 0x0a);
    ASSERT_TRUE(daemon::WriteAll(fd.get(), partial).ok());
  }
  {
    // A whole request whose reply nobody reads.
    auto fd = RawConnect(home_);
    wire::Request r;
    r.set_id(1);
    r.mutable_create_key()->mutable_spec()->set_application_label("abandoned");
    r.mutable_create_key()->mutable_spec()->add_access_control("private-key-usage");
    ASSERT_TRUE(daemon::WriteMessage(fd.get(), r).ok());
  }
  ExpectServing();
}

TEST_F(DaemonSocketTest, StalledClientTimesOutWithoutStallingOthers) {
  StartChild({"--frame-timeout-ms", "1500"});
  auto stalled = RawConnect(home_);
  Bytes partial = Header(64);
  partial.push_back(0x08);
  ASSERT_TRUE(daemon::WriteAll(stalled.get(), partial).ok());
  // While that frame hangs, others are served.
  ExpectServing();
  // Then the stalled one is told and dropped.
  ExpectProtocolErrorThenClose(stalled.get());
  ExpectServing();
}

TEST_F(DaemonSocketTest, UnknownRequestIsAnErrorNotACrash) {
  StartChild();
  auto fd = RawConnect(home_);
  wire::Request r;
  r.set_id(9);  // no op
  ASSERT_TRUE(daemon::WriteMessage(fd.get(), r).ok());
  auto reply = ReadReply(fd.get());
  ASSERT_TRUE(reply && reply->has_error());
  EXPECT_EQ(reply->id(), 9u);
  EXPECT_EQ(reply->error().code(), errsec::kParam);
  // The connection stays usable.
  r.mutable_ping();
  ASSERT_TRUE(daemon::WriteMessage(fd.get(), r).ok());
  reply = ReadReply(fd.get());
  ASSERT_TRUE(reply && reply->has_pong());
}

TEST_F(DaemonSocketTest, SigtermRemovesSocketAndExitsZero) {
  StartChild();
  auto idle = Connect();  // an open connection must not hold the shutdown up
  ASSERT_NE(idle, nullptr);
  ASSERT_TRUE(std::filesystem::exists(enclave::PidPath(home_)));
  ::kill(child_, SIGTERM);
  EXPECT_EQ(WaitChild(), 0);
  EXPECT_FALSE(std::filesystem::exists(enclave::SocketPath(home_)));
  EXPECT_FALSE(std::filesystem::exists(enclave::PidPath(home_)));
  EXPECT_FALSE(idle->Ping().ok());
}

TEST_F(DaemonSocketTest, ShutdownRequestStopsCleanly) {
  StartChild();
  auto c = Connect();
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->Shutdown().ok());
  EXPECT_EQ(WaitChild(), 0);
  EXPECT_FALSE(std::filesystem::exists(enclave::SocketPath(home_)));
  EXPECT_FALSE(std::filesystem::exists(enclave::PidPath(home_)));
}

bool Connectable(const std::filesystem::path& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.string().size() + 1);
  daemon::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  return ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
}

// A client that reaches a daemon still opening its enclave would be reset if that daemon is
// killed or fails to start: until Start() the sockets are bound only under staging names.
TEST_F(DaemonSocketTest, SocketsAreReachableOnlyOnceTheDaemonServes) {
  daemon::ServerOptions options;
  options.home = home_;
  auto server = daemon::Server::Listen(options);
  ASSERT_TRUE(server.ok()) << server.error().ToString();
  EXPECT_FALSE(Connectable(enclave::SocketPath(home_)));
  EXPECT_FALSE(Connectable((*server)->agent_socket_path()));
  EXPECT_FALSE(std::filesystem::exists(enclave::SocketPath(home_)));
  ASSERT_TRUE((*server)->Start().ok());
  EXPECT_TRUE(Connectable(enclave::SocketPath(home_)));
  EXPECT_TRUE(Connectable((*server)->agent_socket_path()));
  for (const auto& entry : std::filesystem::directory_iterator(home_)) {
    EXPECT_NE(entry.path().filename().string().front(), '.') << "a staging socket was left: " << entry.path();
  }
}

// A daemon killed between Listen and Start leaves its staging sockets; the next one replaces them.
TEST_F(DaemonSocketTest, StagingSocketsOfAKilledDaemonAreReplaced) {
  {
    daemon::ServerOptions options;
    options.home = home_;
    auto first = daemon::Server::Listen(options);
    ASSERT_TRUE(first.ok()) << first.error().ToString();
  }  // the destructor removes them; recreate what a SIGKILL leaves
  for (const auto& path : {enclave::SocketPath(home_), home_ / "ssh-agent.sock"}) {
    const auto staging = daemon::StagingPathOf(path);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, staging.c_str(), staging.string().size() + 1);
    daemon::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    ASSERT_EQ(::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0)
        << staging << ": " << std::strerror(errno);
  }
  StartChild();
  ExpectServing();
}

TEST_F(DaemonSocketTest, SecondDaemonOnSameHomeRefuses) {
  StartChild();
  const pid_t second = Spawn({DaemonBinary().string(), "--home", home_.string(), "--foreground"});
  int status = 0;
  ::waitpid(second, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 3);
  ExpectServing();
}

TEST_F(DaemonSocketTest, OverTheConnectionCapIsRefusedPolitely) {
  StartChild({"--max-connections", "2"});
  // The daemon frees a slot when it notices a close, asynchronously (StartChild's probes too).
  auto served_client = [&] {
    for (int i = 0; i < 200; ++i) {
      auto c = Connect();
      if (c && c->Ping().ok()) return c;
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    return std::unique_ptr<client::Client>();
  };
  auto a = served_client();
  auto b = served_client();
  ASSERT_TRUE(a && b);
  auto third = Connect();
  ASSERT_NE(third, nullptr);
  auto refused = third->Ping();
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, errsec::kNotAvailable);
  EXPECT_EQ(refused.error().effective_cause(), "daemon-unavailable");
  a.reset();
  EXPECT_NE(served_client(), nullptr) << "a freed slot serves the next client";
}

TEST_F(DaemonSocketTest, RequestFromAnotherUidIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to act as another uid";
  const passwd* nobody = ::getpwnam("nobody");
  if (nobody == nullptr) GTEST_SKIP() << "no user 'nobody'";
  StartChild();
  // StartChild returns once the socket accepts; the daemon secures the home (0700) while it opens
  // the enclave after that. Only an answered request shows it is done, so that the chmod below
  // is not undone (seen under ThreadSanitizer, whose slower daemon widens the window).
  auto owner = Connect();
  ASSERT_TRUE(owner && owner->Ping().ok());
  // Only to let the other uid reach the socket at all: the daemon's own check is what is tested.
  ::chmod(home_.c_str(), 0711);
  ::chmod(enclave::SocketPath(home_).c_str(), 0666);
  const uid_t uid = nobody->pw_uid;
  const gid_t gid = nobody->pw_gid;
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (::setgid(gid) != 0 || ::setuid(uid) != 0) ::_exit(10);
    auto fd = RawConnect(home_);
    if (!fd.valid()) ::_exit(11);
    wire::Request r;
    r.set_id(1);
    r.mutable_ping();
    (void)daemon::WriteMessage(fd.get(), r);
    auto reply = ReadReply(fd.get());
    if (!reply || !reply->has_error()) ::_exit(12);
    if (reply->error().code() != errsec::kMissingEntitlement) ::_exit(13);
    if (reply->error().cause() != "missing-entitlement") ::_exit(14);
    ::_exit(ClosedByPeer(fd.get()) ? 0 : 15);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "10 setuid, 11 connect, 12 no error, 13 code, 14 cause, 15 not closed";
  ExpectServing();
}

TEST_F(DaemonSocketTest, NonPermanentKeyEndsWithItsConnection) {
  StartChild();
  auto owner = Connect();
  ASSERT_NE(owner, nullptr);
  auto key = owner->CreateKey(Spec("ephemeral", /*permanent=*/false));
  ASSERT_TRUE(key.ok()) << key.error().ToString();
  EXPECT_FALSE(key->permanent);
  ASSERT_TRUE(owner->Sign(ByLabel("ephemeral"), kAlgorithm, ToBytes("m"), AuthOptions{}).ok());
  owner.reset();
  // The daemon ends the session when it sees the close; wait for that, then it must be gone.
  bool gone = false;
  for (int i = 0; i < 200 && !gone; ++i) {
    auto other = Connect();
    auto found = other->FindKeys(ByLabel("ephemeral"));
    gone = !found.ok() && found.error().code == errsec::kItemNotFound;
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  EXPECT_TRUE(gone);
}

TEST_F(DaemonSocketTest, LogHasRequestLinesAndNoDataOrSecrets) {
  StartChild();
  auto c = Connect();
  ASSERT_NE(c, nullptr);
  auto key = c->CreateKey(Spec("logged key"));
  ASSERT_TRUE(key.ok()) << key.error().ToString();
  const std::string data = "TOP-SECRET-PAYLOAD-0123456789";
  auto sig = c->Sign(ByLabel("logged key"), kAlgorithm, ToBytes(data), AuthOptions{});
  ASSERT_TRUE(sig.ok()) << sig.error().ToString();
  const std::string passcode = "739164";
  (void)c->Admin("passcode.set", nlohmann::json::object(), {SecureBytes(AsBytes(passcode))});
  KeyQuery missing;
  missing.kid = "00000000deadbeef";
  EXPECT_FALSE(c->Sign(missing, kAlgorithm, ToBytes(data), AuthOptions{}).ok());
  c.reset();
  StopChild();

  std::ifstream in(home_ / "logs" / "enclaved.log");
  ASSERT_TRUE(in) << "no log file";
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  bool saw_sign = false, saw_error = false, saw_start = false, saw_stop = false, saw_admin = false;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << "not JSON: " << line;
    ASSERT_TRUE(j.contains("time"));
    if (j.value("event", "") == "start") saw_start = true;
    if (j.value("event", "") == "stop") saw_stop = true;
    if (j.value("request", "") == "sign" && j.value("outcome", "") == "ok") {
      saw_sign = true;
      EXPECT_EQ(j["kids"][0], key->kid);
      EXPECT_TRUE(j.contains("duration_ms"));
      EXPECT_EQ(j["peer_pid"], ::getpid());
      EXPECT_EQ(j["peer_uid"], ::getuid());
    }
    if (j.value("request", "") == "sign" && j.value("outcome", "") == "error") {
      saw_error = true;
      EXPECT_EQ(j["domain"], "OSStatus");
      EXPECT_EQ(j["code"], errsec::kItemNotFound);
      EXPECT_FALSE(j.value("cause", "").empty());
    }
    if (j.value("request", "") == "admin") {
      saw_admin = true;
      EXPECT_EQ(j["command"], "passcode.set");
    }
  }
  EXPECT_TRUE(saw_start && saw_stop && saw_sign && saw_error && saw_admin) << text;
  EXPECT_EQ(text.find(data), std::string::npos);
  EXPECT_EQ(text.find(passcode), std::string::npos);
  EXPECT_EQ(text.find(HexEncode(sig->output)), std::string::npos);
  EXPECT_EQ(text.find(ToString(sig->output)), std::string::npos);
}

TEST_F(DaemonSocketTest, WatchStreamsEvents) {
  StartChild();
  auto c = Connect();
  ASSERT_NE(c, nullptr);
  auto simulator = c->Admin("config.set", {{"key", "biometry"}, {"value", "simulator"}}, {});
  ASSERT_TRUE(simulator.ok()) << simulator.error().ToString();
  auto enrolled = c->Admin("biometry", {{"action", "enroll"}, {"finger", "right-thumb"}}, {});
  ASSERT_TRUE(enrolled.ok()) << enrolled.error().ToString();
  KeySpec spec = Spec("watched");
  spec.access_control = {"biometry-any", "private-key-usage"};
  auto key = c->CreateKey(spec);
  ASSERT_TRUE(key.ok()) << key.error().ToString();
  std::mutex mu;
  std::condition_variable cv;
  bool started = false;
  nlohmann::json seen;
  std::thread watcher([&] {
    Status s = client::Watch(
        home_,
        [&](const nlohmann::json& event) {
          std::lock_guard lock(mu);
          seen = event;
          cv.notify_all();
          return false;  // one is enough
        },
        [&] {
          std::lock_guard lock(mu);
          started = true;
          cv.notify_all();
        });
    EXPECT_TRUE(s.ok()) << s.error().ToString();
  });
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return started; }));
  }
  auto injected = c->Admin("inject", {{"fault", "biometry-reset"}}, {});
  EXPECT_TRUE(injected.ok()) << injected.error().ToString();
  bool delivered;
  {
    std::unique_lock lock(mu);
    delivered = cv.wait_for(lock, std::chrono::seconds(30), [&] { return !seen.is_null(); });
  }
  if (!delivered) StopChild();  // ends the watch, so that the thread can be joined
  watcher.join();
  ASSERT_TRUE(delivered);
  EXPECT_EQ(seen.value("kind", ""), "biometry-reset") << seen.dump();
  EXPECT_EQ(seen["kids"], nlohmann::json::array({key->kid})) << seen.dump();
  ExpectServing();
}

}  // namespace
}  // namespace enclave::testing
