// The fleet view on both stores with an injected clock: ingest (signature, device, schema, dedupe),
// the summary's counts and denominators, issues per (cause, source) with the server's refusals
// apart, escalation and regression alerts once per transition, re-binds and their times,
// automatic resolution, retention, the export.
#include "rp/fleet.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "fleet/report.h"
#include "test_keys.h"
#include "throwaway_postgres.h"
#include "webauthn/base64url.h"

namespace enclave::rp {
namespace {

using nlohmann::json;
using webauthn::testing::TestKey;

constexpr int64_t kT0 = 1767225600;  // 2026-01-01T00:00:00Z

testing::ThrowawayPostgres* Postgres() {
  static std::unique_ptr<testing::ThrowawayPostgres> pg = testing::ThrowawayPostgres::Start();
  return pg.get();
}

struct Device {
  TestKey key;
  std::string credential_id;  // base64url
  std::string hash;
};

class FleetTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::string url;
    if (GetParam() == "sqlite") {
      dir_ = std::filesystem::temp_directory_path() /
             ("rp-fleet-" + std::to_string(getpid()) + "-" + std::to_string(counter_++));
      std::filesystem::create_directories(dir_);
      url = "sqlite:" + (dir_ / "rp.sqlite").string();
    } else {
      if (!Postgres()) GTEST_SKIP() << "no PostgreSQL server to start";
      url = Postgres()->NewDatabase();
    }
    auto s = OpenStore(url);
    ASSERT_TRUE(s.ok()) << s.error().description;
    store_ = std::move(*s);
    Reopen();
  }
  void TearDown() override {
    fleet_.reset();
    store_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  void Reopen() {
    fleet_ = std::make_unique<Fleet>(
        config_, *store_, [this] { return now_; }, [this](const json& alert) { alerts_.push_back(alert); });
  }

  Device& NewDevice() {
    devices_.push_back(std::make_unique<Device>());
    Device& d = *devices_.back();
    const uint8_t n = static_cast<uint8_t>(devices_.size());
    CredentialRecord c;
    c.id = Bytes(16, n);
    c.user = "user" + std::to_string(n);
    c.public_key = d.key.Cose();
    c.device_key = d.key.Cose();
    c.aaguid = Bytes(16, 0);
    c.attestation = "none";
    c.transports = "[]";
    auto plan = store_->Register(c.user, Bytes(32, n), 1, [&](const std::vector<CredentialRecord>&) {
      return Result<RegistrationPlan>(RegistrationPlan{c, std::nullopt, {}});
    });
    EXPECT_TRUE(plan.ok());
    d.credential_id = webauthn::Base64UrlEncode(c.id);
    d.hash = fleet::DeviceKeyHash(d.key.Cose());
    return d;
  }

  fleet::Report Base(const std::string& kind, int64_t time, const std::string& os = "12",
                     const std::string& app = "1.0") {
    fleet::Report r;
    std::vector<uint8_t> id(16);
    const uint64_t n = ++report_counter_;
    for (int i = 0; i < 8; ++i) id[i] = uint8_t(n >> (8 * i));
    r.id = webauthn::Base64UrlEncode(id);
    r.time = time;
    r.kind = kind;
    r.enclave_version = "0.1.0";
    r.os_id = "debian";
    r.os_version = os;
    r.kernel = "6.1.0";
    r.app_id = "com.example";
    r.app_version = app;
    return r;
  }
  fleet::Report Failure(const Device& d, int64_t time, const std::string& os = "12",
                        const std::string& app = "1.0", const std::string& found_by = "use") {
    fleet::Report r = Base("failure", time, os, app);
    r.credential_id = d.credential_id;
    r.operation = "sign";
    r.domain = "CryptoTokenKit";
    r.code = -3;
    r.cause = "biometry-database-reset";
    r.permanence = "permanent";
    r.remedy = "reenroll";
    r.found_by = found_by;
    r.token = "soft";
    r.prompted = false;
    return r;
  }
  fleet::Report Heartbeat(int64_t time, const std::string& os = "12") {
    fleet::Report r = Base("heartbeat", time, os);
    r.keys = std::map<std::string, int64_t>{{"healthy", 1}};
    return r;
  }

  std::string Envelope(const Device& d, const std::vector<fleet::Report>& reports, int64_t dropped = 0) {
    fleet::Batch b{reports, now_, dropped};
    std::string text = fleet::SerializeBatch(b);
    fleet::Envelope env;
    env.device_key = d.key.Cose();
    env.batch_bytes.assign(text.begin(), text.end());
    env.signature = d.key.Sign(fleet::SignedBytes(env.batch_bytes));
    return fleet::SerializeEnvelope(env);
  }
  json Send(const Device& d, const std::vector<fleet::Report>& reports, int64_t dropped = 0) {
    auto r = fleet_->Ingest(Envelope(d, reports, dropped));
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().description);
    return r.ok() ? *r : json();
  }
  json Summary(Fleet::Query q = {}) {
    auto r = fleet_->Summary(q);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().description);
    return r.ok() ? *r : json();
  }
  static const json* Find(const json& list, const std::string& key, const std::string& value) {
    for (const auto& e : list) {
      if (e.value(key, "") == value) return &e;
    }
    return nullptr;
  }
  json IssueOf(const std::string& id) {
    auto r = fleet_->Issue(id, {});
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().description);
    return r.ok() ? *r : json();
  }

  static inline int counter_ = 0;
  std::filesystem::path dir_;
  FleetConfig config_;
  int64_t now_ = kT0 + 12 * 3600;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Fleet> fleet_;
  std::vector<json> alerts_;
  std::vector<std::unique_ptr<Device>> devices_;
  uint64_t report_counter_ = 0;
};

TEST_P(FleetTest, IngestStoresOnceAndCountsWithItsDenominator) {
  Device& a = NewDevice();
  Device& b = NewDevice();
  Device& c = NewDevice();
  auto fa = Failure(a, now_ - 60, "12", "1.0", "doctor");
  json first = Send(a, {fa, Heartbeat(now_ - 30)});
  EXPECT_EQ(first["accepted"].size(), 2u);
  EXPECT_TRUE(first["duplicates"].empty());
  json again = Send(a, {fa, Heartbeat(now_ - 3000)});
  EXPECT_EQ(again["accepted"].size(), 1u);
  EXPECT_EQ(again["duplicates"], json::array({fa.id}));
  Send(b, {Heartbeat(now_ - 10, "11")});
  Send(c, {Heartbeat(now_ - 10, "12")}, /*dropped=*/4);

  json s = Summary();
  EXPECT_EQ(s["active_devices"], 3);
  EXPECT_EQ(s["affected_devices"], 1);
  EXPECT_DOUBLE_EQ(s["affected_fraction"].get<double>(), 1.0 / 3);
  EXPECT_EQ(s["dropped_reports"], 4);
  const json* cause = Find(s["by_cause"], "issue_id", "device.biometry-database-reset");
  ASSERT_TRUE(cause) << s.dump();
  EXPECT_EQ((*cause)["affected_devices"], 1);
  EXPECT_EQ((*cause)["events"], 1);  // the resend was not counted twice
  EXPECT_EQ((*cause)["found_by_doctor"], 1);
  EXPECT_EQ((*cause)["state"], "new");
  bool os12 = false;
  for (const auto& v : s["by_version"]) {
    if (v["dimension"] == "os_version" && v["value"] == "12") {
      os12 = true;
      EXPECT_EQ(v["active_devices"], 2);
      EXPECT_EQ(v["affected_devices"], 1);
      EXPECT_DOUBLE_EQ(v["fraction"].get<double>(), 0.5);
    }
    if (v["dimension"] == "os_version" && v["value"] == "11") {
      EXPECT_EQ(v["affected_devices"], 0);
    }
  }
  EXPECT_TRUE(os12);
  ASSERT_FALSE(s["series"].empty());
  EXPECT_EQ(s["series"][0]["hour"], fleet::FormatTime((now_ - 60) / 3600 * 3600));
  EXPECT_EQ(s["series"][0]["active_devices"], 3);

  // A window that ends before any report: nothing, and a zero denominator gives a zero fraction.
  json before = Summary({{"since", "2025-01-01T00:00:00Z"}, {"until", std::to_string(kT0)}});
  EXPECT_EQ(before["active_devices"], 0);
  EXPECT_EQ(before["affected_fraction"], 0.0);
}

TEST_P(FleetTest, RefusedBatchesHaveTheirStatusAndAreCounted) {
  Device& a = NewDevice();
  TestKey stranger;
  Device unknown;
  unknown.credential_id = a.credential_id;
  auto r = fleet_->Ingest(Envelope(unknown, {Heartbeat(now_)}));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().cause, "unknown-device");
  EXPECT_EQ(r.error().user_info["http_status"], 403);

  json env = json::parse(Envelope(a, {Heartbeat(now_)}));
  env["signature"] = webauthn::Base64UrlEncode(stranger.Sign(std::vector<uint8_t>{1}));
  r = fleet_->Ingest(env.dump());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().cause, "signature-invalid");
  EXPECT_EQ(r.error().user_info["http_status"], 401);

  fleet::Report bad = Heartbeat(now_ + 2 * 86400);
  r = fleet_->Ingest(Envelope(a, {Heartbeat(now_), bad}));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().cause, "schema-invalid");
  EXPECT_EQ(r.error().user_info["http_status"], 400);
  EXPECT_NE(r.error().description.find("reports[1].time"), std::string::npos);

  r = fleet_->Ingest("{\"device_key\":1}");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().cause, "schema-invalid");

  ASSERT_TRUE(fleet_->Flush().ok());
  json s = Summary();
  EXPECT_EQ(s["refused_batches"],
            json({{"unknown-device", 1}, {"signature-invalid", 1}, {"schema-invalid", 2}}));
  EXPECT_EQ(s["active_devices"], 0);  // nothing of a refused batch was stored
}

// The worker flushes once a second; an admin reading right after a refusal was answered must
// still see it.
TEST_P(FleetTest, TheSummaryShowsARefusalAnsweredBeforeTheWorkerFlushed) {
  fleet_->NoteRefusal("credential-unknown", std::nullopt);
  json s = Summary();
  const json* unknown = Find(s["by_cause"], "issue_id", "server.credential-unknown");
  ASSERT_TRUE(unknown) << s.dump();
  EXPECT_EQ((*unknown)["source"], "server");
  EXPECT_EQ((*unknown)["events"], 1);
  fleet_->NoteRefusal("credential-unknown", std::nullopt);
  json issues = fleet_->Issues().value();
  EXPECT_NE(issues.dump().find("server.credential-unknown"), std::string::npos) << issues.dump();
  s = Summary();
  unknown = Find(s["by_cause"], "issue_id", "server.credential-unknown");
  ASSERT_TRUE(unknown) << s.dump();
  EXPECT_EQ((*unknown)["events"], 2);
}

TEST_P(FleetTest, ServerRefusalsAreTheirOwnIssuesAttributedToKnownDevices) {
  Device& a = NewDevice();
  Send(a, {Failure(a, now_ - 100)});
  fleet_->NoteRefusal("credential-dead", a.credential_id);
  fleet_->NoteRefusal("credential-unknown", webauthn::Base64UrlEncode(Bytes(16, 0xaa)));
  fleet_->NoteRefusal("challenge-expired", std::nullopt);
  fleet_->NoteLogin(a.credential_id);
  ASSERT_TRUE(fleet_->Flush().ok());

  json s = Summary();
  const json* device = Find(s["by_cause"], "issue_id", "device.biometry-database-reset");
  const json* dead = Find(s["by_cause"], "issue_id", "server.credential-dead");
  const json* unknown = Find(s["by_cause"], "issue_id", "server.credential-unknown");
  ASSERT_TRUE(device && dead && unknown) << s.dump();
  EXPECT_EQ((*dead)["source"], "server");
  EXPECT_EQ((*dead)["affected_devices"], 1);
  EXPECT_EQ((*unknown)["affected_devices"], 0);  // no device to attribute it to
  EXPECT_EQ((*unknown)["events"], 1);
  EXPECT_EQ(s["affected_devices"], 1);  // device failures only

  json issue = IssueOf("server.credential-dead");
  EXPECT_EQ(issue["credential_ids"], json::array({a.credential_id}));
  EXPECT_TRUE(IssueOf("server.credential-unknown")["credential_ids"].empty());
  auto missing = fleet_->Issue("server.nothing-like-it", {});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().cause, "issue-unknown");
  EXPECT_EQ(fleet_->Issue("elsewhere.x", {}).error().cause, "issue-unknown");
}

TEST_P(FleetTest, EscalatesOnceThenRegressesOnceOnANewerVersion) {
  std::vector<Device*> fleet;
  for (int i = 0; i < 10; ++i) fleet.push_back(&NewDevice());
  const int64_t hour = now_ / 3600 * 3600;
  // The previous hour: ten active devices, one failing.
  for (int i = 0; i < 10; ++i) {
    std::vector<fleet::Report> r = {Heartbeat(hour - 1800)};
    if (i == 0) r.push_back(Failure(*fleet[i], hour - 1700));
    Send(*fleet[i], r);
  }
  EXPECT_TRUE(alerts_.empty());
  // This hour: the same ten, two failing: 0.2 is not more than twice 0.1.
  for (int i = 0; i < 10; ++i) Send(*fleet[i], {Heartbeat(hour + 60)});
  Send(*fleet[1], {Failure(*fleet[1], hour + 70)});
  Send(*fleet[2], {Failure(*fleet[2], hour + 80)});
  EXPECT_TRUE(alerts_.empty());
  Send(*fleet[3], {Failure(*fleet[3], hour + 90)});  // 0.3 > 0.2
  ASSERT_EQ(alerts_.size(), 1u);
  EXPECT_EQ(alerts_[0]["transition"], "escalating");
  EXPECT_EQ(alerts_[0]["issue"]["id"], "device.biometry-database-reset");
  EXPECT_EQ(alerts_[0]["issue"]["devices_affected"], 4);
  Send(*fleet[4], {Failure(*fleet[4], hour + 100)});
  ASSERT_TRUE(fleet_->Maintain().ok());
  EXPECT_EQ(alerts_.size(), 1u);  // still escalating: no second alert
  EXPECT_EQ(IssueOf("device.biometry-database-reset")["state"], "escalating");

  auto resolved = fleet_->Resolve("device.biometry-database-reset");
  ASSERT_TRUE(resolved.ok());
  EXPECT_EQ((*resolved)["state"], "resolved");
  // Two hours on, back on the versions it was resolved on: reopened, no alert.
  now_ += 2 * 3600;
  Send(*fleet[5], {Failure(*fleet[5], now_, "12", "1.0")});
  EXPECT_EQ(alerts_.size(), 1u);
  EXPECT_NE(IssueOf("device.biometry-database-reset")["state"], "resolved");
  ASSERT_TRUE(fleet_->Resolve("device.biometry-database-reset").ok());
  // On a newer app version: regressed, once.
  Send(*fleet[6], {Failure(*fleet[6], now_ + 10, "12", "1.10")});
  Send(*fleet[7], {Failure(*fleet[7], now_ + 20, "12", "1.10")});
  ASSERT_EQ(alerts_.size(), 2u);
  EXPECT_EQ(alerts_[1]["transition"], "regressed");
  EXPECT_EQ(alerts_[1]["issue"]["state"], "regressed");
  EXPECT_EQ(alerts_[1]["issue"]["versions"]["app_version"], json::array({"1.0", "1.10"}));
  ASSERT_TRUE(fleet_->Maintain().ok());
  EXPECT_EQ(alerts_.size(), 2u);
}

TEST_P(FleetTest, EscalationEndsWhenTheWindowCalmsAndQuietIssuesResolve) {
  std::vector<Device*> fleet;
  for (int i = 0; i < 4; ++i) fleet.push_back(&NewDevice());
  for (auto* d : fleet) Send(*d, {Failure(*d, now_)});
  ASSERT_EQ(alerts_.size(), 1u);  // from nothing to four devices in the hour
  now_ += 3 * 3600;
  ASSERT_TRUE(fleet_->Maintain().ok());
  EXPECT_EQ(IssueOf("device.biometry-database-reset")["state"], "new");
  now_ += 2 * 86400;
  ASSERT_TRUE(fleet_->Maintain().ok());
  EXPECT_EQ(IssueOf("device.biometry-database-reset")["state"], "ongoing");
  now_ += config_.resolve_after_hours * 3600;
  ASSERT_TRUE(fleet_->Maintain().ok());
  EXPECT_EQ(IssueOf("device.biometry-database-reset")["state"], "resolved");
  EXPECT_EQ(alerts_.size(), 1u);
}

TEST_P(FleetTest, RebindsAreCountedWithTheirTimeFromFirstFailure) {
  Device& a = NewDevice();
  Device& b = NewDevice();
  Device& c = NewDevice();
  Send(a, {Failure(a, now_ - 1000)});
  Send(b, {Failure(b, now_ - 900)});
  Send(c, {Failure(c, now_ - 800)});
  fleet::Report reenroll = Base("reenroll", now_ - 400);
  reenroll.credential_id = webauthn::Base64UrlEncode(Bytes(16, 0x77));
  reenroll.replaced_credential_id = a.credential_id;
  reenroll.cause = "biometry-database-reset";
  Send(a, {reenroll});
  fleet::Report reenroll_b = reenroll;
  reenroll_b.id = Base("reenroll", 0).id;
  reenroll_b.replaced_credential_id = b.credential_id;
  reenroll_b.time = now_ - 600;
  Send(b, {reenroll_b});

  json issue = IssueOf("device.biometry-database-reset");
  EXPECT_EQ(issue["devices_affected"], 3);
  EXPECT_EQ(issue["devices_rebound"], 2);
  EXPECT_EQ(issue["time_to_rebind_seconds"]["count"], 2);
  EXPECT_EQ(issue["time_to_rebind_seconds"]["median"], 300);
  EXPECT_EQ(issue["time_to_rebind_seconds"]["p90"], 600);
  json s = Summary();
  EXPECT_EQ((*Find(s["by_cause"], "issue_id", "device.biometry-database-reset"))["rebound_devices"], 2);
}

TEST_P(FleetTest, RetentionDropsRawReportsAndKeepsAggregates) {
  Device& a = NewDevice();
  Send(a, {Failure(a, now_ - 86400), Heartbeat(now_)});
  auto exported = fleet_->Export({{"since", std::to_string(kT0 - 86400 * 2)}});
  ASSERT_TRUE(exported.ok());
  EXPECT_EQ(json::parse(exported->body).size(), 2u);
  const int64_t then = now_;
  now_ += (config_.retention_days + 1) * 86400;
  Reopen();  // a fresh node runs retention on its first round
  ASSERT_TRUE(fleet_->Maintain().ok());
  exported = fleet_->Export({{"since", std::to_string(kT0 - 86400 * 2)}, {"until", std::to_string(now_)}});
  ASSERT_TRUE(exported.ok());
  EXPECT_EQ(json::parse(exported->body).size(), 0u);
  json s = Summary({{"since", std::to_string(then - 2 * 86400)}, {"until", std::to_string(then + 60)}});
  EXPECT_EQ(s["active_devices"], 1);
  EXPECT_EQ(s["affected_devices"], 1);
  // A report older than the retention is acknowledged as expired, not stored.
  json r = Send(a, {Heartbeat(now_ - (config_.retention_days + 1) * 86400)});
  EXPECT_TRUE(r["accepted"].empty());
  EXPECT_EQ(r["expired"].size(), 1u);
}

TEST_P(FleetTest, ExportsJsonAndEscapedCsv) {
  Device& a = NewDevice();
  fleet::Report f = Failure(a, now_ - 5, "12", "-1");
  Send(a, {f});
  auto j = fleet_->Export({{"format", "json"}});
  ASSERT_TRUE(j.ok());
  json arr = json::parse(j->body);
  ASSERT_EQ(arr.size(), 1u);
  EXPECT_EQ(arr[0]["device"], a.hash);
  EXPECT_EQ(arr[0]["cause"], "biometry-database-reset");
  EXPECT_EQ(j->body.find(webauthn::Base64UrlEncode(a.key.Cose())), std::string::npos);
  auto csv = fleet_->Export({{"format", "csv"}});
  ASSERT_TRUE(csv.ok());
  EXPECT_EQ(csv->content_type, "text/csv; charset=utf-8");
  EXPECT_EQ(csv->body.rfind("id,time,received,device,kind,", 0), 0u);
  EXPECT_NE(csv->body.find(",'-1,"), std::string::npos) << csv->body;  // no formula
  EXPECT_NE(csv->body.find(",-3,"), std::string::npos);                // the code stays a number
  EXPECT_EQ(fleet_->Export({{"format", "xml"}}).error().cause, "query-invalid");
  EXPECT_EQ(fleet_->Export({{"limit", "0"}}).error().cause, "query-invalid");
  auto limited = fleet_->Export({{"limit", "1"}});
  EXPECT_FALSE(limited->truncated);
}

TEST_P(FleetTest, QueriesAreValidated) {
  for (Fleet::Query q : std::vector<Fleet::Query>{{{"since", "yesterday"}},
                                                  {{"until", "2026-13-01T00:00:00Z"}},
                                                  {{"since", "1767225600"}, {"until", "1767225600"}},
                                                  {{"since", "2000-01-01T00:00:00Z"}},
                                                  {{"user", "alice"}}}) {
    auto r = fleet_->Summary(q);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().cause, "query-invalid");
    EXPECT_EQ(r.error().user_info["http_status"], 400);
  }
}

INSTANTIATE_TEST_SUITE_P(Both, FleetTest, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& p) { return p.param; });

TEST(FleetVersions, CompareNumericRunsAsNumbers) {
  EXPECT_TRUE(VersionLess("1.9", "1.10"));
  EXPECT_FALSE(VersionLess("1.10", "1.9"));
  EXPECT_TRUE(VersionLess("12", "13"));
  EXPECT_TRUE(VersionLess("1.0", "1.0.1"));
  EXPECT_FALSE(VersionLess("1.0", "1.0"));
  EXPECT_TRUE(VersionLess("24.04", "24.10"));
  EXPECT_FALSE(VersionLess("007", "7"));
}

}  // namespace
}  // namespace enclave::rp
