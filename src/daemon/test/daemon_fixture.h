// A real enclaved (build/bin/enclaved --foreground) on a throwaway home, and raw socket helpers,
// for tests that go through the socket as clients do.
#pragma once

#include <gtest/gtest.h>
#include <openssl/sha.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "client/client.h"
#include "common/home.h"
#include "crypto/ec.h"
#include "daemon/codec.h"
#include "daemon/frame.h"
#include "daemon/unique_fd.h"

namespace enclave::testing {

inline std::filesystem::path DaemonBinary() { return std::filesystem::path(ENCLAVE_BIN_DIR) / "enclaved"; }

// Short, so that the socket path fits in sun_path.
inline std::filesystem::path MakeTempHome() {
  std::string tmpl = "/tmp/encd.XXXXXX";
  char* dir = ::mkdtemp(tmpl.data());
  return dir != nullptr ? std::filesystem::path(dir) : std::filesystem::path();
}

inline daemon::UniqueFd RawConnect(const std::filesystem::path& home) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string path = enclave::SocketPath(home).string();
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  daemon::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) fd.reset();
  return fd;
}

// The next reply on a raw connection, or nullopt when the daemon closed it.
inline std::optional<wire::Response> ReadReply(int fd) {
  auto frame = daemon::ReadSocketFrame(fd, std::chrono::seconds(30));
  if (!frame.payload) return std::nullopt;
  wire::Response r;
  if (!daemon::ParsePayload(*frame.payload, &r)) return std::nullopt;
  return r;
}

// An ECDSA P-256 signature (DER) over SHA-256 of `message`.
inline bool VerifySha256(const Bytes& public_key_x963, const Bytes& message, const Bytes& der) {
  auto key = crypto::EcPublicKey::FromX963(public_key_x963);
  if (!key.ok()) return false;
  uint8_t digest[SHA256_DIGEST_LENGTH];
  SHA256(message.data(), message.size(), digest);
  return key->VerifyDigestDer(ByteView(digest, sizeof digest), der);
}

inline bool ClosedByPeer(int fd) {
  uint8_t b;
  for (;;) {
    const ssize_t n = ::recv(fd, &b, 1, 0);
    if (n == 0) return true;
    if (n < 0 && errno == EINTR) continue;
    return n < 0 && errno == ECONNRESET;
  }
}

class DaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(DaemonBinary()))
      GTEST_SKIP() << "enclaved is not built at " << DaemonBinary();
    home_ = MakeTempHome();
    ASSERT_FALSE(home_.empty());
  }
  void TearDown() override {
    StopChild();
    (void)client::StopDaemon(home_);
    std::error_code ec;
    std::filesystem::remove_all(home_, ec);
  }

  // Starts enclaved --foreground as a child and waits until it serves.
  void StartChild(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {DaemonBinary().string(), "--home", home_.string(), "--foreground",
                                     "--debug"};
    args.insert(args.end(), extra.begin(), extra.end());
    child_ = Spawn(args);
    ASSERT_GT(child_, 0);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!RawConnect(home_).valid()) {
      int status;
      ASSERT_EQ(::waitpid(child_, &status, WNOHANG), 0) << "enclaved exited early";
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "enclaved did not start serving";
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  static pid_t Spawn(const std::vector<std::string>& args) {
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    return pid;
  }

  // Exit status of the child daemon once it ends (-1 when it had to be killed).
  int WaitChild(std::chrono::seconds limit = std::chrono::seconds(20)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    int status = 0;
    while (::waitpid(child_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(child_, SIGKILL);
        ::waitpid(child_, &status, 0);
        child_ = -1;
        return -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    child_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  void StopChild() {
    if (child_ <= 0) return;
    ::kill(child_, SIGTERM);
    WaitChild();
  }

  std::unique_ptr<client::Client> Connect() {
    client::ConnectOptions o;
    o.home = home_;
    o.autostart = false;
    auto c = client::Client::Connect(o);
    EXPECT_TRUE(c.ok()) << c.error().ToString();
    return c.ok() ? std::move(c).value() : nullptr;
  }

  // A normal client still gets served: the daemon survived whatever came before.
  void ExpectServing() {
    auto c = Connect();
    ASSERT_NE(c, nullptr);
    auto pong = c->Ping();
    ASSERT_TRUE(pong.ok()) << pong.error().ToString();
    KeyQuery all;
    all.match_all = true;
    auto keys = c->FindKeys(all);
    EXPECT_TRUE(keys.ok() || keys.error().code == errsec::kItemNotFound) << keys.error().ToString();
  }

  static KeySpec Spec(const std::string& app_label, bool permanent = true) {
    KeySpec s;
    s.application_label = ToBytes(app_label);
    s.accessible = "when-unlocked-this-device-only";
    s.access_control = {"private-key-usage"};
    s.permanent = permanent;
    return s;
  }
  static KeyQuery ByLabel(const std::string& app_label) {
    KeyQuery q;
    q.application_label = ToBytes(app_label);
    return q;
  }

  std::filesystem::path home_;
  pid_t child_ = -1;
};

}  // namespace enclave::testing
