// The device's report queue, its registry and the facts it reports, on real files.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "fleet/report.h"
#include "reports/device_facts.h"
#include "reports/outbox.h"
#include "reports/registry.h"

namespace enclave::reports {
namespace {

namespace fs = std::filesystem;

class ReportsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/enclave-reports-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  static fleet::Report Failure(int n) {
    fleet::Report r;
    r.id = NewReportId();
    r.time = 1700000000 + n;
    r.kind = "failure";
    r.credential_id = "Y3JlZGVudGlhbA";
    r.operation = "sign";
    r.domain = "CryptoTokenKit";
    r.code = -3;
    r.cause = "biometry-database-reset";
    r.permanence = "permanent";
    r.remedy = "reenroll";
    r.found_by = "use";
    r.token = "soft";
    r.prompted = false;
    r.enclave_version = "0.1.0";
    r.os_id = "debian";
    r.os_version = "12";
    r.kernel = "6.1.0-18-amd64";
    return r;
  }

  fs::path dir_;
};

TEST_F(ReportsTest, QueueIsDurableBoundedAndCountsWhatItDrops) {
  {
    auto box = Outbox::Open(dir_, {.max_queued = 3, .max_sent_log = 2});
    std::vector<fleet::Report> five;
    for (int i = 0; i < 5; ++i) five.push_back(Failure(i));
    ASSERT_TRUE(box->Append(five).ok());
    EXPECT_EQ(box->queued(), 3u);
  }
  auto box = Outbox::Open(dir_, {.max_queued = 3, .max_sent_log = 2});
  auto pending = box->Peek(10);
  ASSERT_EQ(pending.reports.size(), 3u);
  EXPECT_EQ(pending.reports.front().time, 1700000002);  // the oldest two went first
  EXPECT_EQ(pending.dropped, 2);
  struct stat st {};
  ASSERT_EQ(::stat((dir_ / "queue.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  // The server took two and the dropped count: they move to the sent log; one stays queued.
  ASSERT_TRUE(box->Settle({pending.reports[0].id, pending.reports[1].id}, kAccepted, "", 2, 1700000100).ok());
  EXPECT_EQ(box->queued(), 1u);
  EXPECT_EQ(box->Peek(10).dropped, 0);
  const auto shown = box->Show();
  EXPECT_EQ(shown["sent"].size(), 2u);
  EXPECT_EQ(shown["sent"][0]["result"], "accepted");
  EXPECT_EQ(shown["sent"][0]["sent_at"], "2023-11-14T22:15:00Z");
  EXPECT_EQ(shown["dropped_total"], 2);
  EXPECT_EQ(shown["queued"][0]["id"], pending.reports[2].id);
}

TEST_F(ReportsTest, OnlyValidReportsEnterAndDamagedOnesAreDropped) {
  auto box = Outbox::Open(dir_);
  fleet::Report bad = Failure(0);
  bad.cause = "Free text with spaces";
  EXPECT_FALSE(box->Append({Failure(1), bad}).ok());
  EXPECT_EQ(box->queued(), 0u);
  ASSERT_TRUE(box->Append({Failure(2)}).ok());
  // A report edited by hand into something the schema refuses is never sent.
  std::ifstream in(dir_ / "queue.json");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  text.replace(text.find("biometry-database-reset"), 23, "label: alice's bank key");
  std::ofstream(dir_ / "queue.json") << text;
  auto reopened = Outbox::Open(dir_);
  EXPECT_EQ(reopened->queued(), 0u);
  EXPECT_EQ(reopened->Peek(1).dropped, 1);
}

TEST_F(ReportsTest, RegistryMatchesKeysByServerOriginAndRemembersWhatWasReported) {
  {
    auto reg = Registry::Load(dir_);
    ASSERT_TRUE(reg->Register({"k1", "cred1", {OriginOfUrl("https://RP.example.com:8443/base/")}, 1}).ok());
    ASSERT_TRUE(reg->Register({"k1", "cred1", {"https://other.example"}, 2}).ok());
    ASSERT_TRUE(reg->Remember("https://rp.example.com:8443", "k1", "biometry-database-reset").ok());
    ASSERT_TRUE(reg->NoteHeartbeat("https://rp.example.com:8443", 1234).ok());
  }
  auto reg = Registry::Load(dir_);
  EXPECT_TRUE(reg->Find("k1", "https://rp.example.com:8443"));
  EXPECT_TRUE(reg->Find("k1", "https://other.example"));
  EXPECT_FALSE(reg->Find("k1", "https://rp.example.com"));
  EXPECT_FALSE(reg->Find("k2", "https://rp.example.com:8443"));
  EXPECT_EQ(reg->FindByCredential("cred1", "https://other.example")->kid, "k1");
  EXPECT_TRUE(reg->Reported("https://rp.example.com:8443", "k1", "biometry-database-reset"));
  EXPECT_FALSE(reg->Reported("https://other.example", "k1", "biometry-database-reset"));
  EXPECT_EQ(reg->LastHeartbeat("https://rp.example.com:8443"), 1234);
  EXPECT_EQ(reg->LastHeartbeat("https://other.example"), 0);
}

TEST(DeviceFacts, OsReleaseAndIdentifiers) {
  const DeviceFacts f = ParseOsRelease("NAME=\"Debian GNU/Linux\"\nID=debian\nVERSION_ID=\"12\"\n# c\n");
  EXPECT_EQ(f.os_id, "debian");
  EXPECT_EQ(f.os_version, "12");
  EXPECT_EQ(ParseOsRelease("ID=arch\n").os_version, "unknown");
  EXPECT_EQ(ParseOsRelease("").os_id, "linux");
  EXPECT_EQ(AsIdentifier("22.04 LTS (Jammy)"), "22.04-LTS--Jammy-");
  EXPECT_EQ(AsIdentifier(""), "unknown");
  EXPECT_EQ(AsIdentifier(std::string(100, 'a')).size(), 64u);
  EXPECT_TRUE(IsIdentifier("4.2.1+build~7:x_y-z"));
  EXPECT_FALSE(IsIdentifier("4.2 1"));
  EXPECT_FALSE(IsIdentifier(""));
  const DeviceFacts& self = ThisDevice();
  EXPECT_TRUE(IsIdentifier(self.kernel));
  EXPECT_TRUE(IsIdentifier(self.os_id));
  EXPECT_NE(NewReportId(), NewReportId());
  EXPECT_EQ(NewReportId().size(), 22u);
}

TEST(DeviceFacts, OriginsOfUrls) {
  EXPECT_EQ(OriginOfUrl("HTTPS://RP.Example.com:8443/base?x#y"), "https://rp.example.com:8443");
  EXPECT_EQ(OriginOfUrl("http://localhost:9000"), "http://localhost:9000");
  EXPECT_EQ(OriginOfUrl("ftp://rp.example.com"), "");
  EXPECT_EQ(OriginOfUrl("https://user:pw@rp.example.com"), "");
  EXPECT_EQ(OriginOfUrl("rp.example.com"), "");
  EXPECT_EQ(OriginOfUrl("https:///path"), "");
}

}  // namespace
}  // namespace enclave::reports
