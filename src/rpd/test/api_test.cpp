#include "rpd/api.h"

#include <gtest/gtest.h>

#include "rpd/router.h"
#include "rpd/test/fake_backend.h"

namespace enclave::rpd {
namespace {

using nlohmann::json;

struct ApiTest : ::testing::Test {
  std::shared_ptr<testing::FakeBackend> backend = std::make_shared<testing::FakeBackend>();
  std::unique_ptr<Api> api;

  void Make(ApiOptions o = {}) {
    if (!o.admin) o.admin = AdminToken::FromSecret("s3cret");
    o.log_requests = false;
    api = std::make_unique<Api>(o, backend);
  }
  Response Send(std::string method, std::string target, std::string body = "", std::string auth = "",
                std::string ctype = "application/json") {
    Request r{std::move(method),
              std::move(target),
              std::move(ctype),
              std::move(auth),
              "",
              "10.0.0.1",
              std::move(body),
              "",
              "",
              ""};
    Prepared p = api->Prepare(r);
    return p.immediate ? *p.immediate : p.job();
  }
  static std::string Reason(const Response& r) { return json::parse(r.body)["error"]["reason"]; }
};

TEST_F(ApiTest, RoutesAndMethods) {
  Make();
  EXPECT_EQ(Send("POST", "/v1/registration/options", R"({"user":"a"})").status, 200);
  EXPECT_EQ(json::parse(Send("POST", "/v1/authentication?x=1", R"({"user":"a"})").body)["op"], "auth");
  auto r = Send("GET", "/v1/registration");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(Reason(r), "method-not-allowed");
  EXPECT_EQ(Send("GET", "/nope").status, 404);
  EXPECT_EQ(Reason(Send("GET", "/healthz/")), "not-found");
  EXPECT_EQ(Send("GET", "/demo").content_type.rfind("text/html", 0), 0u);
  EXPECT_EQ(Send("GET", "/healthz").status, 200);
}

TEST_F(ApiTest, BodiesMustBeJsonObjectsOfBoundedDepth) {
  ApiOptions o;
  o.max_json_depth = 4;
  Make(o);
  EXPECT_EQ(Send("POST", "/v1/registration", "{}", "", "text/plain").status, 415);
  EXPECT_EQ(Reason(Send("POST", "/v1/registration", "[1]")), "malformed");
  EXPECT_EQ(Send("POST", "/v1/registration", "{\"a\":").status, 400);
  EXPECT_EQ(Send("POST", "/v1/registration", R"({"a":[[[1]]]})").status, 200);
  EXPECT_EQ(Send("POST", "/v1/registration", R"({"a":[[[[1]]]]})").status, 400);
  EXPECT_EQ(Send("POST", "/v1/registration", R"({"a":"[[[[[[[\"[[["})").status, 200);
  EXPECT_EQ(Send("POST", "/v1/registration", R"({"a":1})", "", "Application/JSON; charset=utf-8").status,
            200);
}

TEST_F(ApiTest, AdminNeedsTheBearerToken) {
  Make();
  EXPECT_EQ(Send("GET", "/v1/users/al%20ice/credentials").status, 401);
  EXPECT_EQ(Send("GET", "/v1/users/alice/credentials", "", "Bearer wrong").status, 401);
  EXPECT_EQ(Send("GET", "/v1/users/alice/credentials", "", "s3cret").status, 401);
  auto r = Send("GET", "/v1/users/al%20ice/credentials", "", "bearer s3cret");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body)["body"]["who"], "al ice");
  EXPECT_EQ(Send("DELETE", "/v1/credentials/abc", "", "Bearer s3cret").status, 200);
  EXPECT_EQ(Reason(Send("DELETE", "/v1/credentials/missing", "", "Bearer s3cret")), "credential-unknown");
  EXPECT_EQ(Send("POST", "/v1/credentials/abc/approve", "", "Bearer s3cret", "").status, 200);
  EXPECT_EQ(Send("POST", "/v1/credentials/abc/approve", "", "", "").status, 401);
  EXPECT_EQ(Send("GET", "/v1/users/a%2Fb/credentials", "", "Bearer s3cret").status, 404);
}

TEST_F(ApiTest, NoTokenFileMeansNoAdmin) {
  ApiOptions o;
  o.log_requests = false;
  api = std::make_unique<Api>(o, backend);
  EXPECT_EQ(Send("GET", "/v1/users/alice/credentials", "", "Bearer ").status, 401);
}

TEST_F(ApiTest, ReasonsMapToStatusesAndUnavailableCarriesRetryAfter) {
  Make();
  auto r = Send("POST", "/v1/authentication", R"({"user":"fail:signature-invalid"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Reason(r), "signature-invalid");
  r = Send("POST", "/v1/authentication", R"({"user":"fail:store-unavailable"})");
  EXPECT_EQ(r.status, 503);
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0], (std::pair<std::string, std::string>{"Retry-After", "7"}));
}

TEST_F(ApiTest, OptionEndpointsAreRateLimitedPerAddressAndPerUser) {
  ApiOptions o;
  o.rate_per_address = 0.001;
  o.burst_per_address = 3;
  o.rate_per_user = 0.001;
  o.burst_per_user = 2;
  Make(o);
  EXPECT_EQ(Send("POST", "/v1/authentication/options", R"({"user":"u"})").status, 200);
  EXPECT_EQ(Send("POST", "/v1/authentication/options", R"({"user":"u"})").status, 200);
  auto r = Send("POST", "/v1/authentication/options", R"({"user":"u"})");
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(Reason(r), "rate-limited");
  EXPECT_EQ(r.headers.at(0).first, "Retry-After");
  // the address has used its 3 tokens now; another user from it is refused too
  EXPECT_EQ(Send("POST", "/v1/registration/options", R"({"user":"v"})").status, 429);
  // the ceremony endpoints themselves are not limited
  EXPECT_EQ(Send("POST", "/v1/authentication", R"({"user":"u"})").status, 200);
}

TEST(RateLimiter, RefillsAtItsRate) {
  RateLimiter l(2, 2);
  auto t = RateLimiter::Clock::now();
  EXPECT_EQ(l.Take("k", t), 0);
  EXPECT_EQ(l.Take("k", t), 0);
  EXPECT_EQ(l.Take("k", t), 1);
  EXPECT_EQ(l.Take("k", t + std::chrono::milliseconds(600)), 0);
  EXPECT_EQ(RateLimiter(0, 0).Take("k"), 0);
}

TEST(Router, ParsesAndRefuses) {
  EXPECT_EQ(PercentDecode("a%41%7e"), "aA~");
  EXPECT_FALSE(PercentDecode("a%4"));
  EXPECT_FALSE(PercentDecode("%zz"));
  EXPECT_FALSE(MatchRoute("/v1/users//credentials"));
  EXPECT_FALSE(MatchRoute("/v1/users/a%00/credentials"));
  EXPECT_EQ(MatchRoute("/v1/credentials/x/approve")->id, RouteId::kApproveCredential);
}

TEST(Metrics, RenderFlattensTheRelyingPartys) {
  Metrics m;
  m.Request("/healthz", 200, "", 0.002);
  std::string text = m.Render(json{{"logins", {{"ok", 3}}}, {"label", "x"}});
  EXPECT_NE(text.find("enclave_rp_logins_ok 3\n"), std::string::npos);
  EXPECT_NE(text.find("enclave_rpd_requests_total{route=\"/healthz\",status=\"200\"} 1\n"),
            std::string::npos);
  EXPECT_EQ(text.find("label"), std::string::npos);
}

}  // namespace
}  // namespace enclave::rpd
