#include "rpd/dashboard.h"

#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <regex>

#include "rpd/api.h"
#include "rpd/dashboard_assets.h"
#include "rpd/dashboard_html.h"
#include "rpd/test/fake_backend.h"

namespace enclave::rpd::dashboard {
namespace {

using nlohmann::json;

class MemorySessions : public SessionStore {
 public:
  Status Create(const std::string& h, int64_t, int64_t expires) override {
    std::lock_guard lock(mu);
    rows[h] = expires;
    return Ok();
  }
  Result<bool> Valid(const std::string& h, int64_t now) override {
    std::lock_guard lock(mu);
    if (fail) return OSStatusError(errsec::kIO, "down").WithCause("store-unavailable");
    auto it = rows.find(h);
    return it != rows.end() && it->second > now;
  }
  Status End(const std::string& h) override {
    std::lock_guard lock(mu);
    rows.erase(h);
    return Ok();
  }
  std::mutex mu;
  std::map<std::string, int64_t> rows;
  bool fail = false;
};

json SampleSummary() {
  return json::parse(R"({
    "since": "2025-03-01T00:00:00Z", "until": "2025-03-08T00:00:00Z",
    "active_devices": 10000, "affected_devices": 30, "affected_fraction": 0.003,
    "by_cause": [{"issue_id": 7, "cause": "biometry-database-reset", "source": "device", "state": "new",
                  "affected_devices": 30, "fraction": 0.003, "events": 41, "found_by_doctor": 9,
                  "rebound_devices": 25},
                 {"issue_id": 8, "cause": "challenge-expired", "source": "server", "state": "ongoing",
                  "affected_devices": 4, "fraction": 0.0004, "events": 4, "found_by_doctor": 0,
                  "rebound_devices": 0}],
    "by_version": [{"dimension": "os_version", "value": "12", "active_devices": 5000, "affected_devices": 30,
                    "fraction": 0.006},
                   {"dimension": "os_version", "value": "13", "active_devices": 5000, "affected_devices": 0,
                    "fraction": 0},
                   {"dimension": "app_version", "value": "2.1.0", "active_devices": 10000, "affected_devices": 30,
                    "fraction": 0.003}],
    "series": [{"hour": "2025-03-02T10:00:00Z", "cause": "biometry-database-reset", "source": "device",
                "affected_devices": 10, "active_devices": 9000, "fraction": 0.00111},
               {"hour": "2025-03-02T11:00:00Z", "cause": "biometry-database-reset", "source": "device",
                "affected_devices": 20, "active_devices": 9100, "fraction": 0.0022},
               {"hour": "2025-03-02T11:00:00Z", "cause": "challenge-expired", "source": "server",
                "affected_devices": 4, "active_devices": 9100, "fraction": 0.00044}],
    "refused_batches": {"signature-invalid": 3}, "dropped_reports": 12})");
}

json SampleIssues() {
  return json::parse(R"({"issues": [{"id": 7, "cause": "biometry-database-reset", "source": "device",
    "state": "new", "first_seen": "2025-03-02T10:04:00Z", "last_seen": "2025-03-02T11:50:00Z",
    "devices_affected": 30, "devices_rebound": 25,
    "time_to_rebind_seconds": {"median": 3720, "p90": 86400, "count": 25},
    "versions": {"os_version": ["12"], "app_version": ["2.1.0"], "enclave_version": ["0.9.0"]}}]})");
}

class FakeFleet : public FleetSource {
 public:
  Result<json> Summary(const std::string& since, const std::string& until) override {
    last_since = since;
    last_until = until;
    if (since == "bad")
      return OSStatusError(errsec::kParam, "since is not a time").WithCause("query-invalid");
    return summary;
  }
  Result<json> Issues() override { return issues; }
  Result<json> Issue(const std::string& id) override {
    if (id != "7") return OSStatusError(errsec::kItemNotFound, "no such issue").WithCause("issue-unknown");
    json i = issues["issues"][0];
    i["series"] = json::parse(R"([{"hour": "2025-03-02T10:00:00Z", "affected_devices": 10,
                                   "active_devices": 9000, "fraction": 0.00111}])");
    i["credential_ids"] = json::array({"Y3JlZC0x", "<script>alert(1)</script>"});
    return i;
  }
  json summary = SampleSummary(), issues = SampleIssues();
  std::string last_since, last_until;
};

// The number an element holding `data-api="path"` shows, and the value it says it is.
struct Shown {
  std::string value, text;
};
std::map<std::string, Shown> Numbers(const std::string& html) {
  std::map<std::string, Shown> out;
  std::regex re(R"re(data-api="([^"]+)" data-value="([^"]*)"[^>]*>(?:<time datetime="[^"]*">)?([^<]*))re");
  for (auto it = std::sregex_iterator(html.begin(), html.end(), re); it != std::sregex_iterator(); ++it) {
    out[(*it)[1]] = {(*it)[2], (*it)[3]};
  }
  return out;
}

TEST(DashboardHtml, EscapesTextAndScriptJson) {
  EXPECT_EQ(Escape("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  std::string js = ScriptJson(json{{"label", "</script><!--<script>&"}});
  EXPECT_EQ(js.find('<'), std::string::npos);
  EXPECT_EQ(js.find('>'), std::string::npos);
  EXPECT_EQ(js.find('&'), std::string::npos);
  EXPECT_EQ(json::parse(js)["label"], "</script><!--<script>&");
}

TEST(DashboardHtml, Formats) {
  EXPECT_EQ(Count(json(10000)), "10,000");
  EXPECT_EQ(Count(json(999)), "999");
  EXPECT_EQ(Count(json(-1234567)), "-1,234,567");
  EXPECT_EQ(Count(json()), "—");
  EXPECT_EQ(Percent(json(0.003)), "0.300 %");
  EXPECT_EQ(Percent(json(0.001)), "0.100 %");
  EXPECT_EQ(Percent(json(10.0 / 10003)), "0.100 %");
  EXPECT_EQ(Percent(json(0.123)), "12.3 %");
  EXPECT_EQ(Percent(json(0)), "0 %");
  EXPECT_EQ(Percent(json(1)), "100 %");
  EXPECT_EQ(Percent(json("x")), "—");
  EXPECT_EQ(Duration(json(45)), "45 s");
  EXPECT_EQ(Duration(json(3720)), "1 h 2 min");
  EXPECT_EQ(Duration(json(86400 + 7200)), "1 d 2 h");
  EXPECT_EQ(Duration(json()), "—");
  EXPECT_EQ(Time(json(0)), "1970-01-01T00:00:00Z");
  EXPECT_EQ(Time(json("2025-03-01T00:00:00Z")), "2025-03-01T00:00:00Z");
  EXPECT_EQ(PathSegment("a b/7"), "a%20b%2F7");
  EXPECT_EQ(ShortTime(json("2025-03-01T12:34:56Z")), "2025-03-01 12:34 UTC");
  EXPECT_EQ(EpochOf(json("1970-01-01T01:00:00Z")), 3600);
  EXPECT_EQ(EpochOf(json("2025-03-01 12:34:56")), std::nullopt);
}

TEST(DashboardHtml, OverviewShowsEveryNumberOfTheApi) {
  json s = SampleSummary(), i = SampleIssues();
  std::string html = OverviewPage(s, i);
  auto n = Numbers(html);
  EXPECT_EQ(n["summary.active_devices"].value, "10000");
  EXPECT_EQ(n["summary.active_devices"].text, "10,000");
  EXPECT_EQ(n["summary.affected_fraction"].value, "0.003");
  EXPECT_EQ(n["summary.affected_fraction"].text, "0.300 %");
  EXPECT_EQ(n["summary.by_cause.0.found_by_doctor"].value, "9");
  EXPECT_EQ(n["summary.by_cause.1.fraction"].value, "0.0004");
  EXPECT_EQ(n["summary.by_version.0.fraction"].text, "0.600 %");
  EXPECT_EQ(n["summary.refused_batches.signature-invalid"].value, "3");
  EXPECT_EQ(n["summary.dropped_reports"].value, "12");
  EXPECT_EQ(n["issues.issues.0.time_to_rebind_seconds.median"].text, "1 h 2 min");
  EXPECT_EQ(n["issues.issues.0.devices_rebound"].value, "25");
  EXPECT_EQ(n["summary.since"].value, "2025-03-01T00:00:00Z");
  // Each resolves in its document to the value shown.
  json docs = {{"summary", s}, {"issues", i}};
  for (const auto& [path, shown] : n) {
    json::json_pointer ptr("/" + std::regex_replace(path, std::regex("\\."), "/"));
    ASSERT_TRUE(docs.contains(ptr)) << path;
    EXPECT_EQ(Raw(docs[ptr]), shown.value) << path;
  }
  EXPECT_NE(html.find("href=\"/fleet/issues/7\""), std::string::npos);
  EXPECT_NE(html.find("class=\"state state-new\""), std::string::npos);
  EXPECT_NE(html.find("id=\"series-chart\""), std::string::npos);
  EXPECT_NE(html.find("id=\"version-chart\""), std::string::npos);
  EXPECT_EQ(html.find("<script>"), std::string::npos) << "no inline script";
}

TEST(DashboardHtml, SeriesChartHasALinePerCauseAndSourceOverTheSameHours) {
  std::string html = OverviewPage(SampleSummary(), SampleIssues());
  std::smatch m;
  ASSERT_TRUE(std::regex_search(html, m, std::regex(R"(data-chart-for="series-chart">([^<]*)</script>)")));
  json chart = json::parse(m[1].str());
  EXPECT_EQ(chart["labels"], json::array({"2025-03-02T10:00:00Z", "2025-03-02T11:00:00Z"}));
  // Hours without a row are drawn as 0, not skipped: a day's gap is a day on the axis.
  json s = SampleSummary();
  s["series"][0]["hour"] = "2025-03-02T07:00:00Z";
  std::string gap = OverviewPage(s, SampleIssues());
  ASSERT_TRUE(std::regex_search(gap, m, std::regex(R"(data-chart-for="series-chart">([^<]*)</script>)")));
  json g = json::parse(m[1].str());
  EXPECT_EQ(g["labels"].size(), 5u);
  EXPECT_EQ(g["datasets"][0]["data"], json::array({0.00111, 0, 0, 0, 0.0022}));
  ASSERT_EQ(chart["datasets"].size(), 2u);
  EXPECT_EQ(chart["datasets"][0]["label"], "biometry-database-reset (device)");
  EXPECT_EQ(chart["datasets"][0]["data"], json::array({0.00111, 0.0022}));
  EXPECT_EQ(chart["datasets"][1]["label"], "challenge-expired (server)");
  EXPECT_EQ(chart["datasets"][1]["data"], json::array({0, 0.00044}));
}

TEST(DashboardHtml, HostileValuesStayText) {
  json s = SampleSummary();
  s["by_cause"][0]["cause"] = "<img src=x onerror=alert(1)>";
  s["by_cause"][0]["issue_id"] = "7\"><script>";
  s["series"][0]["cause"] = "</script><script>alert(1)</script>";
  std::string html = OverviewPage(s, json::object());
  EXPECT_EQ(html.find("<img"), std::string::npos);
  EXPECT_EQ(html.find("<script>"), std::string::npos);
  EXPECT_NE(html.find("&lt;img src=x onerror=alert(1)&gt;"), std::string::npos);
  EXPECT_NE(html.find("/fleet/issues/7%22%3E%3Cscript%3E"), std::string::npos);
  // Missing or mistyped fields show a dash, never throw.
  EXPECT_NE(OverviewPage(json("x"), json(3)).find("No failures"), std::string::npos);
  EXPECT_NE(IssuePage(json::object()).find("—"), std::string::npos);
}

struct DashboardTest : ::testing::Test {
  std::shared_ptr<MemorySessions> sessions = std::make_shared<MemorySessions>();
  std::shared_ptr<FakeFleet> fleet = std::make_shared<FakeFleet>();
  int64_t now = 1'741'000'000'000;
  std::unique_ptr<Dashboard> d;

  void SetUp() override { Make(); }
  void Make(bool secure = false) {
    Options o;
    o.admin = AdminToken::FromSecret("s3cret token");
    o.origins = {"https://rp.example"};
    o.secure_cookie = secure;
    o.fleet = fleet;
    o.sessions = sessions;
    o.chart_js = std::make_shared<const std::string>("/* chart */");
    o.status_of = [](const std::string& r) {
      return r == "query-invalid" ? 400 : r == "issue-unknown" ? 404 : 503;
    };
    o.now_ms = [this] { return now; };
    d = std::make_unique<Dashboard>(o);
  }
  Response Run(Page page, std::string target, std::string body = "", std::string cookie = "",
               std::string origin = "http://localhost:8080", std::string param = "") {
    Request r;
    r.method = page == Page::kLogin || page == Page::kLogout ? "POST" : "GET";
    r.target = std::move(target);
    r.content_type = "application/x-www-form-urlencoded";
    r.body = std::move(body);
    r.cookie = std::move(cookie);
    r.origin = std::move(origin);
    r.host = "localhost:8080";
    auto h = d->Handle(page, param, r, "10.0.0.1");
    return h.immediate ? *h.immediate : h.job();
  }
  static std::string Header(const Response& r, const std::string& name) {
    for (const auto& [k, v] : r.headers) {
      if (k == name) return v;
    }
    return "";
  }
  // Signs in and returns the Cookie header value the browser would send.
  std::string SignIn() {
    Response r = Run(Page::kLogin, "/fleet/login", "token=s3cret+token");
    EXPECT_EQ(r.status, 303);
    std::string set = Header(r, "Set-Cookie");
    return set.substr(0, set.find(';'));
  }
};

TEST_F(DashboardTest, WithoutASessionTheLoginFormIsShown) {
  Response r = Run(Page::kOverview, "/fleet");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("<form class=\"login\" method=\"post\" action=\"/fleet/login\">"), std::string::npos);
  EXPECT_NE(r.body.find("<label for=\"token\">"), std::string::npos);
  EXPECT_EQ(r.body.find("10,000"), std::string::npos);
  EXPECT_EQ(Run(Page::kIssue, "/fleet/issues/7", "", "", "", "7").status, 401);
  EXPECT_NE(Header(r, "Content-Security-Policy").find("script-src 'self'"), std::string::npos);
  EXPECT_EQ(Header(r, "Cache-Control"), "no-store");
}

TEST_F(DashboardTest, AWrongTokenIsRefusedWith401AndNoCookie) {
  for (std::string body :
       {"token=wrong", "token=", "", "other=s3cret+token", "token=%zz", "token=s3cret%20tokenx"}) {
    Response r = Run(Page::kLogin, "/fleet/login", body);
    EXPECT_EQ(r.status, 401) << body;
    EXPECT_EQ(r.reason, "unauthorized");
    EXPECT_NE(r.body.find("not this server&#39;s admin token"), std::string::npos);
    EXPECT_EQ(Header(r, "Set-Cookie"), "");
    EXPECT_EQ(r.body.find("s3cret"), std::string::npos);
  }
  EXPECT_TRUE(sessions->rows.empty());
}

TEST_F(DashboardTest, TheRightTokenOpensASessionKeptOnlyAsAHash) {
  Response r = Run(Page::kLogin, "/fleet/login", "token=s3cret%20token");
  ASSERT_EQ(r.status, 303);
  EXPECT_EQ(Header(r, "Location"), "/fleet");
  std::string set = Header(r, "Set-Cookie");
  EXPECT_TRUE(std::regex_match(set, std::regex("enclave_fleet_session=[0-9a-f]{64}; Path=/fleet; HttpOnly; "
                                               "SameSite=Strict; Max-Age=43200")))
      << set;
  std::string id = set.substr(std::string("enclave_fleet_session=").size(), 64);
  ASSERT_EQ(sessions->rows.size(), 1u);
  EXPECT_EQ(sessions->rows.begin()->first, SessionHash(id));
  EXPECT_NE(sessions->rows.begin()->first, id);
  EXPECT_EQ(sessions->rows.begin()->second, now + 12 * 3600 * 1000);

  Response page = Run(Page::kOverview, "/fleet", "", "other=1; " + set.substr(0, set.find(';')));
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("10,000"), std::string::npos);
  EXPECT_NE(page.body.find("<script src=\"/fleet/static/chart.js\"></script>"), std::string::npos);
  EXPECT_EQ(page.body.find(id), std::string::npos);

  Make(/*secure=*/true);
  EXPECT_NE(Header(Run(Page::kLogin, "/fleet/login", "token=s3cret+token"), "Set-Cookie").find("; Secure"),
            std::string::npos);
}

TEST_F(DashboardTest, LogoutEndsTheSessionForEveryCopyOfTheCookie) {
  std::string cookie = SignIn();
  EXPECT_EQ(Run(Page::kOverview, "/fleet", "", cookie).status, 200);
  Response out = Run(Page::kLogout, "/fleet/logout", "", cookie);
  EXPECT_EQ(out.status, 303);
  EXPECT_NE(Header(out, "Set-Cookie").find("Max-Age=0"), std::string::npos);
  EXPECT_TRUE(sessions->rows.empty());
  // A copy of the cookie kept elsewhere is now worthless.
  Response again = Run(Page::kOverview, "/fleet", "", cookie);
  EXPECT_EQ(again.status, 401);
  EXPECT_NE(again.body.find("session has ended"), std::string::npos);
  EXPECT_EQ(again.body.find("10,000"), std::string::npos);
}

TEST_F(DashboardTest, SessionsExpire) {
  std::string cookie = SignIn();
  now += 12 * 3600 * 1000 - 1;
  EXPECT_EQ(Run(Page::kOverview, "/fleet", "", cookie).status, 200);
  now += 1;
  EXPECT_EQ(Run(Page::kOverview, "/fleet", "", cookie).status, 401);
  // A made-up or malformed cookie is not even looked up.
  EXPECT_EQ(Run(Page::kOverview, "/fleet", "", "enclave_fleet_session=" + std::string(64, 'a')).status, 401);
  EXPECT_EQ(Run(Page::kOverview, "/fleet", "", "enclave_fleet_session=../../x").status, 200);
}

TEST_F(DashboardTest, FormsFromAnotherOriginAreRefused) {
  for (std::string origin :
       {"", "null", "https://evil.example", "http://localhost:8081", "http://localhost:8080/x"}) {
    Response r = Run(Page::kLogin, "/fleet/login", "token=s3cret+token", "", origin);
    EXPECT_EQ(r.status, 403) << origin;
    EXPECT_EQ(r.reason, "origin-mismatch");
  }
  std::string cookie = SignIn();
  EXPECT_EQ(Run(Page::kLogout, "/fleet/logout", "", cookie, "https://evil.example").status, 403);
  EXPECT_EQ(sessions->rows.size(), 1u) << "a cross-site logout does nothing";
  EXPECT_EQ(Run(Page::kLogin, "/fleet/login", "token=s3cret+token", "", "https://rp.example").status, 303);
  EXPECT_EQ(Run(Page::kLogin, "/fleet/login", "token=s3cret+token", "", "HTTP://LOCALHOST:8080").status, 303);
}

TEST_F(DashboardTest, SignInAttemptsAreRateLimited) {
  int limited = 0;
  for (int i = 0; i < 30; ++i) limited += Run(Page::kLogin, "/fleet/login", "token=guess").status == 429;
  EXPECT_GE(limited, 15);
}

TEST_F(DashboardTest, WindowsAndErrors) {
  std::string cookie = SignIn();
  Run(Page::kOverview, "/fleet?window=30d", "", cookie);
  EXPECT_EQ(fleet->last_since, std::to_string(now / 1000 - 30 * 86400));
  Run(Page::kOverview, "/fleet?since=2025-03-01T00%3A00%3A00Z&until=1741500000", "", cookie);
  EXPECT_EQ(fleet->last_since, "2025-03-01T00:00:00Z");
  EXPECT_EQ(fleet->last_until, "1741500000");
  EXPECT_EQ(Run(Page::kOverview, "/fleet?window=2y", "", cookie).status, 400);
  Response bad = Run(Page::kOverview, "/fleet?since=bad", "", cookie);
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("query-invalid"), std::string::npos);
  EXPECT_EQ(Run(Page::kIssue, "/fleet/issues/9", "", cookie, "", "9").status, 404);
  sessions->fail = true;
  Response down = Run(Page::kOverview, "/fleet", "", cookie);
  EXPECT_EQ(down.status, 503);
  EXPECT_EQ(Header(down, "Retry-After"), "1");
}

TEST_F(DashboardTest, IssuePage) {
  std::string cookie = SignIn();
  Response r = Run(Page::kIssue, "/fleet/issues/7", "", cookie, "", "7");
  ASSERT_EQ(r.status, 200);
  auto n = Numbers(r.body);
  EXPECT_EQ(n["issue.time_to_rebind_seconds.p90"].text, "1 d");
  EXPECT_EQ(n["issue.series.0.active_devices"].text, "9,000");
  EXPECT_EQ(n["issue.credential_ids.length"].value, "2");
  EXPECT_NE(r.body.find("<code>Y3JlZC0x</code>"), std::string::npos);
  EXPECT_EQ(r.body.find("<script>alert"), std::string::npos);
  EXPECT_NE(r.body.find("id=\"issue-chart\""), std::string::npos);
}

TEST_F(DashboardTest, StaticFiles) {
  Response css = Run(Page::kStatic, "/fleet/static/dashboard.css", "", "", "", "dashboard.css");
  EXPECT_EQ(css.content_type, "text/css; charset=utf-8");
  EXPECT_NE(css.body.find(":focus-visible"), std::string::npos);
  EXPECT_EQ(Run(Page::kStatic, "", "", "", "", "dashboard.js").content_type,
            "text/javascript; charset=utf-8");
  EXPECT_EQ(Run(Page::kStatic, "", "", "", "", "chart.js").body, "/* chart */");
  EXPECT_EQ(Run(Page::kStatic, "", "", "", "", "../../etc/passwd").status, 404);
  Options o;
  o.chart_js_error = "Chart.js is missing at /nowhere";
  Dashboard without(o);
  Request req;
  auto h = without.Handle(Page::kStatic, "chart.js", req, "x");
  ASSERT_TRUE(h.immediate);
  EXPECT_EQ(h.immediate->status, 503);
  EXPECT_NE(h.immediate->body.find("/nowhere"), std::string::npos);
  EXPECT_FALSE(LoadChartJs("/nonexistent/chart.min.js").ok());
  EXPECT_NE(LoadChartJs("/nonexistent/chart.min.js").error().description.find("libjs-chart.js"),
            std::string::npos);
}

TEST(DashboardSession, CookiesFormsAndOrigins) {
  EXPECT_EQ(CookieValue("a=1; enclave_fleet_session=abc ; b=2", kSessionCookie), "abc");
  EXPECT_EQ(CookieValue("xenclave_fleet_session=abc", kSessionCookie), std::nullopt);
  EXPECT_EQ(FormField("a=1&token=x%2By+z&b", "token"), "x+y z");
  EXPECT_EQ(FormField("token=%4", "token"), std::nullopt);
  EXPECT_EQ(QueryParam("/fleet?window=7d#x", "window"), "7d");
  EXPECT_EQ(QueryParam("/fleet", "window"), std::nullopt);
  EXPECT_TRUE(SameOrigin("http://localhost:8080", "localhost:8080", {}));
  EXPECT_FALSE(SameOrigin("http://localhost:8080", "localhost", {}));
  EXPECT_TRUE(SameOrigin("https://a.example", "b.internal:80", {"https://a.example"}));
  std::string a = NewSessionId(), b = NewSessionId();
  EXPECT_TRUE(WellFormedSessionId(a));
  EXPECT_NE(a, b);
  EXPECT_FALSE(WellFormedSessionId(a.substr(1)));
  EXPECT_EQ(SessionHash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(DashboardApi, RoutesReachTheDashboardOnlyWhenConfigured) {
  auto backend = std::make_shared<testing::FakeBackend>();
  ApiOptions o;
  o.log_requests = false;
  Api without(o, backend);
  Request r;
  r.method = "GET";
  r.target = "/fleet";
  EXPECT_EQ(without.Prepare(r).immediate->status, 404);
  Options d;
  d.chart_js = std::make_shared<const std::string>("x");
  o.dashboard = std::make_shared<Dashboard>(d);
  Api with(o, backend);
  Prepared p = with.Prepare(r);
  EXPECT_EQ(p.route, "/fleet");
  ASSERT_TRUE(p.job);
  EXPECT_EQ(p.job().status, 200);
  r.target = "/fleet/static/chart.js";
  p = with.Prepare(r);
  EXPECT_EQ(p.route, "/fleet/static/:file");
  EXPECT_EQ(p.immediate->body, "x");
  r.target = "/fleet/login";
  EXPECT_EQ(with.Prepare(r).immediate->status, 405);
  r.method = "POST";
  r.origin = "https://evil.example";
  EXPECT_EQ(with.Prepare(r).immediate->status, 403);
}

}  // namespace
}  // namespace enclave::rpd::dashboard
