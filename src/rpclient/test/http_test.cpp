// The HTTP client and the relying party's answers, against a one-shot server on a loopback port.
#include "rpclient/http.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "rpclient/relying_party.h"

namespace enclave::rpclient {
namespace {

// Answers one request with `answer` (a whole HTTP response) and keeps what it was sent.
class OneShotServer {
 public:
  explicit OneShotServer(std::string answer) : answer_(std::move(answer)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(fd_, 1), 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~OneShotServer() {
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  const std::string& request() {
    thread_.join();
    thread_ = std::thread([] {});
    return request_;
  }

 private:
  void Serve() {
    const int c = ::accept(fd_, nullptr, nullptr);
    if (c < 0) return;
    char buf[4096];
    size_t want = std::string::npos;
    while (request_.size() < want) {
      const ssize_t n = ::read(c, buf, sizeof buf);
      if (n <= 0) break;
      request_.append(buf, static_cast<size_t>(n));
      const auto end = request_.find("\r\n\r\n");
      const auto cl = request_.find("Content-Length: ");
      if (end != std::string::npos && cl != std::string::npos) {
        want = end + 4 + std::stoul(request_.substr(cl + 16));
      }
    }
    (void)!::write(c, answer_.data(), answer_.size());
    ::close(c);
  }

  std::string answer_;
  std::string request_;
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

std::string Answer(int status, const std::string& body) {
  return "HTTP/1.1 " + std::to_string(status) +
         " X\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n\r\n" + body;
}

TEST(Http, PostsJsonAndReadsTheAnswer) {
  OneShotServer server(Answer(200, R"({"status":"ok"})"));
  ServerOptions s;
  s.url = server.url() + "/";
  auto r = CallServer(s, "/v1/authentication", {{"credential", {{"id", "x"}}}});
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ((*r)["status"], "ok");
  const std::string& req = server.request();
  EXPECT_EQ(req.rfind("POST /v1/authentication HTTP/1.1\r\n", 0), 0u) << req;
  EXPECT_NE(req.find("Content-Type: application/json\r\n"), std::string::npos);
  EXPECT_NE(req.find(R"({"credential":{"id":"x"}})"), std::string::npos);
}

TEST(Http, ServerRefusalKeepsItsReason) {
  OneShotServer server(
      Answer(400, R"({"error":{"reason":"signature-invalid","message":"the signature does not verify"}})"));
  ServerOptions s;
  s.url = server.url();
  auto r = CallServer(s, "/v1/authentication", nlohmann::json::object());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().domain, kRelyingPartyDomain);
  EXPECT_EQ(r.error().code, 400);
  EXPECT_EQ(r.error().effective_cause(), "signature-invalid");
  EXPECT_EQ(r.error().user_info["reason"], "signature-invalid");
  EXPECT_NE(r.error().description.find("does not verify"), std::string::npos);
}

TEST(Http, AnswerThatIsNotJsonIsMalformed) {
  OneShotServer server(Answer(200, "<html>"));
  ServerOptions s;
  s.url = server.url();
  auto r = CallServer(s, "/v1/registration", nlohmann::json::object());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().effective_cause(), "server-answer-malformed");
}

TEST(Http, NoServerIsUnreachable) {
  int port = 0;
  {
    OneShotServer closed(Answer(200, "{}"));
    port = std::stoi(closed.url().substr(closed.url().rfind(':') + 1));
    // Connect once so the one-shot server ends; the port is free afterwards.
    (void)PostJson(closed.url(), "{}", {});
  }
  auto r = PostJson("http://127.0.0.1:" + std::to_string(port) + "/", "{}", {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().domain, kRelyingPartyDomain);
  EXPECT_EQ(r.error().effective_cause(), "server-unreachable");
}

TEST(Http, OnlyHttpUrls) {
  auto r = PostJson("file:///etc/passwd", "{}", {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, errsec::kParam);
}

}  // namespace
}  // namespace enclave::rpclient
