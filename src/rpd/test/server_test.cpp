// The server over real sockets on loopback with the fake relying party: keep-alive, the limits,
// the timeouts, eviction when full, and a stalled relying party.
#include "rpd/server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "rpd/test/fake_backend.h"

namespace enclave::rpd {
namespace {

using namespace std::chrono_literals;

class Fd {
 public:
  explicit Fd(uint16_t port) : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok_ = connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~Fd() { close(fd_); }
  bool ok() const { return ok_; }
  void Send(const std::string& s) { ASSERT_TRUE(TrySend(s)); }
  bool TrySend(const std::string& s) {
    return send(fd_, s.data(), s.size(), MSG_NOSIGNAL) == ssize_t(s.size());
  }
  // Reads until `want` has been seen, the peer closes or `wait` passes; returns what came.
  std::string Read(std::chrono::milliseconds wait = 3000ms, const std::string& want = "\r\n\r\n") {
    std::string out;
    auto end = std::chrono::steady_clock::now() + wait;
    while (std::chrono::steady_clock::now() < end && out.find(want) == std::string::npos) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      char buf[4096];
      ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        closed_ = true;
        break;
      }
      out.append(buf, size_t(n));
    }
    return out;
  }
  // Whether the server closed the connection within `wait`.
  bool Closed(std::chrono::milliseconds wait) {
    Read(wait, "\x01never\x02");
    return closed_;
  }

 private:
  int fd_;
  bool ok_ = false;
  bool closed_ = false;
};

struct ServerTest : ::testing::Test {
  std::shared_ptr<testing::FakeBackend> backend = std::make_shared<testing::FakeBackend>();
  std::unique_ptr<Server> server;
  std::thread thread;

  void Start(ServerOptions o = {}) {
    o.host = "127.0.0.1";
    o.port = 0;
    ApiOptions a;
    a.log_requests = false;
    a.rate_per_address = 0;
    auto s = Server::Create(o, std::make_shared<Api>(a, backend));
    ASSERT_TRUE(s.ok()) << s.error().description;
    server = std::move(*s);
    thread = std::thread([this] { server->Run(); });
  }
  void TearDown() override {
    if (server) server->Stop();
    if (thread.joinable()) thread.join();
  }
  static std::string Post(const std::string& path, const std::string& body, const std::string& extra = "") {
    return "POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + extra +
           "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  }
  static constexpr const char* kHealth = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
};

TEST_F(ServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  Start();
  Fd c(server->port());
  ASSERT_TRUE(c.ok());
  for (int i = 0; i < 3; ++i) {
    c.Send(Post("/v1/authentication/options", R"({"user":"u"})"));
    std::string r = c.Read(3000ms, "\"op\":\"authopt\"");
    EXPECT_EQ(r.rfind("HTTP/1.1 200 OK", 0), 0u) << r;
  }
}

TEST_F(ServerTest, HeaderAndBodyLimits) {
  Start();
  Fd big_header(server->port());
  big_header.Send("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + std::string(9000, 'a') + "\r\n\r\n");
  EXPECT_NE(big_header.Read().find("HTTP/1.1 431"), std::string::npos);
  Fd big_body(server->port());
  big_body.Send(
      "POST /v1/registration HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: 70000\r\n\r\n{\"a\":\"");
  EXPECT_NE(big_body.Read().find("HTTP/1.1 413"), std::string::npos);
  Fd chunked(server->port());
  chunked.Send(
      "POST /v1/registration HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Transfer-Encoding: chunked\r\n\r\n");
  for (int i = 0; i < 17; ++i) chunked.Send("1000\r\n" + std::string(4096, ' ') + "\r\n");
  EXPECT_NE(chunked.Read().find("HTTP/1.1 413"), std::string::npos);
  Fd expect(server->port());
  expect.Send(
      "POST /v1/registration HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Expect: 100-continue\r\nContent-Length: 2\r\n\r\n");
  EXPECT_NE(expect.Read().find("HTTP/1.1 100 Continue"), std::string::npos);
  expect.Send("{}");
  EXPECT_NE(expect.Read(3000ms, "\"reg\"").find("HTTP/1.1 200"), std::string::npos);
  Fd garbage(server->port());
  garbage.Send("\x01\x02 nonsense\r\n\r\n");
  EXPECT_NE(garbage.Read().find("HTTP/1.1 400"), std::string::npos);
}

TEST_F(ServerTest, IdleAndSlowConnectionsAreClosed) {
  ServerOptions o;
  o.request_timeout = 400ms;
  Start(o);
  Fd idle(server->port());
  Fd slow(server->port());
  auto t0 = std::chrono::steady_clock::now();
  for (char ch : std::string("GET /healthz HTTP/1.1\r\n")) {
    if (!slow.TrySend(std::string(1, ch))) break;  // closed by the server: what is tested
    std::this_thread::sleep_for(30ms);
    if (std::chrono::steady_clock::now() - t0 > 1s) break;
  }
  EXPECT_TRUE(idle.Closed(2000ms));
  EXPECT_TRUE(slow.Closed(2000ms));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
}

TEST_F(ServerTest, AFullServerEvictsTheOldestWaitingConnection) {
  ServerOptions o;
  o.max_connections = 8;
  Start(o);
  std::vector<std::unique_ptr<Fd>> idle;
  for (int i = 0; i < 8; ++i) idle.push_back(std::make_unique<Fd>(server->port()));
  std::this_thread::sleep_for(200ms);
  Fd c(server->port());
  c.Send(kHealth);
  EXPECT_NE(c.Read().find("HTTP/1.1 200"), std::string::npos);
  EXPECT_TRUE(idle[0]->Closed(1000ms));
}

TEST_F(ServerTest, AThousandIdleConnectionsDoNotStopService) {
  Start();
  std::vector<std::unique_ptr<Fd>> idle;
  for (int i = 0; i < 1000; ++i) {
    idle.push_back(std::make_unique<Fd>(server->port()));
    ASSERT_TRUE(idle.back()->ok());
  }
  auto t0 = std::chrono::steady_clock::now();
  Fd c(server->port());
  c.Send(kHealth);
  EXPECT_NE(c.Read().find("HTTP/1.1 200"), std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
}

TEST_F(ServerTest, AStalledRelyingPartyGets503AndTheServerStillAnswers) {
  ServerOptions o;
  o.handler_timeout = 300ms;
  o.workers = 1;
  Start(o);
  backend->delay_ms = 1500;
  Fd c(server->port());
  auto t0 = std::chrono::steady_clock::now();
  c.Send(Post("/v1/authentication", "{}"));
  std::string r = c.Read();
  EXPECT_NE(r.find("HTTP/1.1 503"), std::string::npos) << r;
  EXPECT_NE(r.find("Retry-After: "), std::string::npos) << r;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
  Fd d(server->port());
  d.Send("GET /demo HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(d.Read().find("HTTP/1.1 200"), std::string::npos);
  backend->delay_ms = 0;
}

}  // namespace
}  // namespace enclave::rpd
