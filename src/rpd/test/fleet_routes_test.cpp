// The fleet routes in front of the backend: the device's POST /v1/reports (no admin token, the raw
// body handed on, 202), the admin documents (token required, queries decoded and validated), the
// export's headers, a fleet error's own status, and a backend without a fleet view.
#include <gtest/gtest.h>

#include "rpd/api.h"
#include "rpd/router.h"
#include "rpd/test/fake_backend.h"

namespace enclave::rpd {
namespace {

using nlohmann::json;

class FleetBackend : public testing::FakeBackend {
 public:
  std::string last_body;
  Query last_query;

  Result<json> IngestReports(const std::string& body) override {
    last_body = body;
    if (body == "bad-signature") {
      return OSStatusError(errsec::kVerifyFailed, "no")
          .WithCause("signature-invalid")
          .WithInfo("http_status", 401);
    }
    return json{{"accepted", json::array({"a"})}, {"duplicates", json::array()}};
  }
  Result<json> FleetSummary(const Query& q) override {
    last_query = q;
    return json{{"active_devices", 3}};
  }
  Result<json> FleetIssues() override { return json{{"issues", json::array()}}; }
  Result<json> FleetIssue(const std::string& id, const Query&) override { return json{{"id", id}}; }
  Result<json> FleetResolve(const std::string& id) override {
    return json{{"id", id}, {"state", "resolved"}};
  }
  Result<Export> FleetExport(const Query& q) override {
    last_query = q;
    return Export{"text/csv; charset=utf-8", "id\r\n", true};
  }
};

struct FleetRoutesTest : ::testing::Test {
  std::shared_ptr<FleetBackend> backend = std::make_shared<FleetBackend>();
  std::unique_ptr<Api> api;
  const std::string admin = "Bearer s3cret";

  void SetUp() override {
    ApiOptions o;
    o.admin = AdminToken::FromSecret("s3cret");
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

TEST_F(FleetRoutesTest, ReportsNeedNoTokenAndAreHandedOnAsSent) {
  // Not a JSON object to the API: the fleet view parses the envelope itself.
  const std::string body = R"({"device_key":"x",  "batch":"y","signature":"z"})";
  Response r = Send("POST", "/v1/reports", body);
  EXPECT_EQ(r.status, 202);
  EXPECT_EQ(backend->last_body, body);
  EXPECT_EQ(json::parse(r.body)["accepted"], json::array({"a"}));
  r = Send("POST", "/v1/reports", "bad-signature");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(Reason(r), "signature-invalid");
  EXPECT_EQ(Send("POST", "/v1/reports", body, "", "text/plain").status, 415);
  EXPECT_EQ(Send("GET", "/v1/reports").status, 405);
  EXPECT_EQ(Send("POST", "/v1/reports/dead", R"({"user":"a"})").status, 200);  // still its own route
}

TEST_F(FleetRoutesTest, AdminDocumentsNeedTheTokenAndDecodeTheirQuery) {
  for (const char* path :
       {"/v1/fleet/summary", "/v1/fleet/issues", "/v1/fleet/issues/device.x", "/v1/fleet/export"}) {
    SCOPED_TRACE(path);
    EXPECT_EQ(Send("GET", path).status, 401);
    EXPECT_EQ(Send("GET", path, "", "Bearer wrong").status, 401);
    EXPECT_EQ(Send("GET", path, "", admin).status, 200);
  }
  EXPECT_EQ(Send("POST", "/v1/fleet/issues/device.x/resolve", "", "").status, 401);
  Response r = Send("POST", "/v1/fleet/issues/device.x/resolve", "", admin);
  EXPECT_EQ(json::parse(r.body)["state"], "resolved");
  EXPECT_EQ(json::parse(Send("GET", "/v1/fleet/issues/device.biometry-database-reset", "", admin).body)["id"],
            "device.biometry-database-reset");

  Send("GET", "/v1/fleet/summary?since=2026-01-01T00%3A00%3A00Z&until=1767225600", "", admin);
  EXPECT_EQ(backend->last_query,
            (Backend::Query{{"since", "2026-01-01T00:00:00Z"}, {"until", "1767225600"}}));
  for (const char* bad :
       {"/v1/fleet/summary?since=%zz", "/v1/fleet/summary?since=1&since=2", "/v1/fleet/summary?=1"}) {
    r = Send("GET", bad, "", admin);
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(Reason(r), "query-invalid");
  }
}

TEST_F(FleetRoutesTest, ExportCarriesItsTypeAndTruncation) {
  Response r = Send("GET", "/v1/fleet/export?format=csv&limit=5", "", admin);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/csv; charset=utf-8");
  EXPECT_EQ(r.body, "id\r\n");
  EXPECT_EQ(backend->last_query.at("format"), "csv");
  bool truncated = false;
  for (const auto& [k, v] : r.headers) truncated |= k == "X-Export-Truncated" && v == "true";
  EXPECT_TRUE(truncated);
}

TEST(FleetRoutesWithoutFleet, AnswerFleetUnavailable) {
  ApiOptions o;
  o.admin = AdminToken::FromSecret("s3cret");
  o.log_requests = false;
  Api api(o, std::make_shared<testing::FakeBackend>());
  Request r{"GET", "/v1/fleet/issues", "", "Bearer s3cret", "", "10.0.0.1", "", "", "", ""};
  Prepared p = api.Prepare(r);
  ASSERT_TRUE(p.job);
  Response resp = p.job();
  EXPECT_EQ(resp.status, 503);
  EXPECT_EQ(json::parse(resp.body)["error"]["reason"], "fleet-unavailable");
}

TEST(FleetRouter, MatchesTheFleetRoutesAndDecodesQueries) {
  EXPECT_EQ(MatchRoute("/v1/reports")->id, RouteId::kReports);
  EXPECT_EQ(MatchRoute("/v1/fleet/summary?since=1")->id, RouteId::kFleetSummary);
  auto issue = MatchRoute("/v1/fleet/issues/server.challenge-expired");
  ASSERT_TRUE(issue);
  EXPECT_EQ(issue->id, RouteId::kFleetIssueDoc);
  EXPECT_EQ(issue->param, "server.challenge-expired");
  EXPECT_STREQ(issue->pattern, "/v1/fleet/issues/:id");
  EXPECT_EQ(MatchRoute("/v1/fleet/issues/x/resolve")->id, RouteId::kFleetResolve);
  EXPECT_FALSE(MatchRoute("/v1/fleet/issues/x%2Fy"));
  EXPECT_FALSE(MatchRoute("/v1/fleet/issues/"));
  EXPECT_EQ(*ParseQuery("/x?a=1&b=two+words&c"),
            (std::map<std::string, std::string>{{"a", "1"}, {"b", "two words"}, {"c", ""}}));
  EXPECT_TRUE(ParseQuery("/x")->empty());
  EXPECT_TRUE(ParseQuery("/x?&&")->empty());
  EXPECT_FALSE(ParseQuery("/x?a=%4"));
  std::string many = "/x?";
  for (int i = 0; i < 17; ++i) many += "k" + std::to_string(i) + "=1&";
  EXPECT_FALSE(ParseQuery(many));
}

}  // namespace
}  // namespace enclave::rpd
