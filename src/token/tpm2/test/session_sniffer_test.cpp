// A bus sniffer between ESAPI and the TPM: a loopback proxy in front of a swtpm records every
// byte of both directions while the sealer seals and unseals under a passcode-derived
// authValue. Neither the authValue nor the sealed secret may appear in the recording: they
// travel in a salted, parameter-encrypted session (not a password session, which sends the
// authValue in clear and the unsealed data back in clear).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "token/tpm2/test/swtpm_process.h"
#include "token/tpm2/tpm2_sealer.h"

namespace enclave::token::tpm2 {
namespace {

using enclave::testing::SwtpmProcess;

int Listen(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(fd, 8) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

int Connect(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Forwards Q -> P and Q+1 -> P+1, recording everything that passes.
class SniffingProxy {
 public:
  SniffingProxy(int listen_port, int tpm_port) {
    for (int i = 0; i < 2; ++i) {
      listeners_[i] = Listen(listen_port + i);
      if (listeners_[i] >= 0) threads_.emplace_back([this, i, tpm_port] { Serve(listeners_[i], tpm_port + i); });
    }
  }
  ~SniffingProxy() {
    stop_ = true;
    for (auto& t : threads_) t.join();
    for (int fd : listeners_) {
      if (fd >= 0) ::close(fd);
    }
  }
  bool ok() const { return listeners_[0] >= 0 && listeners_[1] >= 0; }
  Bytes Recorded() {
    std::lock_guard lock(mu_);
    return recorded_;
  }

 private:
  void Serve(int listener, int upstream_port) {
    std::vector<std::pair<int, int>> pairs;  // (client, upstream)
    while (!stop_) {
      std::vector<pollfd> fds = {{listener, POLLIN, 0}};
      for (auto [c, u] : pairs) {
        fds.push_back({c, POLLIN, 0});
        fds.push_back({u, POLLIN, 0});
      }
      if (::poll(fds.data(), fds.size(), 50) <= 0) continue;
      if (fds[0].revents & POLLIN) {
        const int c = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
        const int u = c >= 0 ? Connect(upstream_port) : -1;
        if (c >= 0 && u >= 0) {
          pairs.emplace_back(c, u);
        } else if (c >= 0) {
          ::close(c);
        }
      }
      const size_t polled = (fds.size() - 1) / 2;
      std::vector<bool> dead(pairs.size(), false);
      for (size_t i = 0; i < polled; ++i) {
        for (int dir = 0; dir < 2 && !dead[i]; ++dir) {
          const pollfd& p = fds[1 + 2 * i + dir];
          if (!(p.revents & (POLLIN | POLLHUP | POLLERR))) continue;
          uint8_t buf[4096];
          const ssize_t n = ::read(p.fd, buf, sizeof(buf));
          const int to = dir == 0 ? pairs[i].second : pairs[i].first;
          if (n <= 0) {
            dead[i] = true;
            continue;
          }
          {
            std::lock_guard lock(mu_);
            recorded_.insert(recorded_.end(), buf, buf + n);
          }
          for (ssize_t done = 0; done < n;) {
            const ssize_t w = ::write(to, buf + done, static_cast<size_t>(n - done));
            if (w <= 0) break;
            done += w;
          }
        }
      }
      for (size_t i = pairs.size(); i-- > 0;) {
        if (i < dead.size() && dead[i]) {
          ::close(pairs[i].first);
          ::close(pairs[i].second);
          pairs.erase(pairs.begin() + static_cast<long>(i));
        }
      }
    }
    for (auto [c, u] : pairs) {
      ::close(c);
      ::close(u);
    }
  }

  int listeners_[2] = {-1, -1};
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  Bytes recorded_;
};

bool Contains(const Bytes& haystack, ByteView needle) {
  return std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end()) != haystack.end();
}

TEST(Tpm2SessionTest, PasscodeAuthAndSealedSecretsNeverCrossTheBusInClear) {
  if (!SwtpmProcess::FindBinary()) GTEST_SKIP() << "swtpm is not installed";
  SwtpmProcess tpm;
  ASSERT_TRUE(tpm.Start());
  const int port = SwtpmProcess::FreePortPair();
  ASSERT_NE(port, 0);
  SniffingProxy proxy(port, tpm.port());
  ASSERT_TRUE(proxy.ok());

  TokenConfig config;
  config.tpm2_tcti = "swtpm:host=127.0.0.1,port=" + std::to_string(port);
  auto sealer = Tpm2Sealer::Open(config);
  ASSERT_TRUE(sealer.ok()) << sealer.error().ToString();
  // Recognisable patterns: any copy of them in the recording is a leak.
  Bytes auth(32), secret(32), device_secret(32);
  for (size_t i = 0; i < 32; ++i) {
    auth[i] = static_cast<uint8_t>(0xa0 + i % 16);
    secret[i] = static_cast<uint8_t>(0x30 + i);
    device_secret[i] = static_cast<uint8_t>(0xd0 ^ i);
  }
  auto sealed = (*sealer)->SealWithAuth(secret, auth);
  ASSERT_TRUE(sealed.ok()) << sealed.error().ToString();
  auto unsealed = (*sealer)->UnsealWithAuth(*sealed, auth);
  ASSERT_TRUE(unsealed.ok()) << unsealed.error().ToString();
  EXPECT_TRUE(ConstantTimeEquals(*unsealed, secret));
  Bytes wrong = auth;
  wrong[0] ^= 1;
  EXPECT_EQ((*sealer)->UnsealWithAuth(*sealed, wrong).error().effective_cause(), "tpm-auth-failed");
  auto sealed_device = (*sealer)->Seal(device_secret);
  ASSERT_TRUE(sealed_device.ok()) << sealed_device.error().ToString();
  auto device_back = (*sealer)->Unseal(*sealed_device);
  ASSERT_TRUE(device_back.ok()) << device_back.error().ToString();
  EXPECT_TRUE(ConstantTimeEquals(*device_back, device_secret));

  const Bytes wire = proxy.Recorded();
  ASSERT_GT(wire.size(), 1000u) << "the proxy saw no TPM traffic";
  // Half of each value is enough to call it a leak.
  EXPECT_FALSE(Contains(wire, ByteView(auth).first(16))) << "the authValue crossed the bus in clear";
  EXPECT_FALSE(Contains(wire, ByteView(wrong).first(16))) << "a wrong authValue crossed the bus in clear";
  EXPECT_FALSE(Contains(wire, ByteView(secret).first(16))) << "the sealed secret crossed the bus in clear";
  EXPECT_FALSE(Contains(wire, ByteView(device_secret).first(16))) << "the device secret crossed the bus in clear";
}

}  // namespace
}  // namespace enclave::token::tpm2
