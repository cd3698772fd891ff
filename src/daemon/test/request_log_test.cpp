// The request log: JSON lines, only the allowed fields, rotation with three old files.
#include "daemon/request_log.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>
#include <nlohmann/json.hpp>

namespace enclave::daemon {
namespace {

class RequestLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = "/tmp/encl-log.XXXXXX";
    home_ = ::mkdtemp(tmpl.data());
  }
  void TearDown() override { std::filesystem::remove_all(home_); }
  std::filesystem::path home_;
};

TEST_F(RequestLogTest, WritesOneJsonObjectPerRequest) {
  RequestLog log(home_);
  RequestLogEntry ok;
  ok.peer_pid = 10;
  ok.peer_uid = 1000;
  ok.request = "sign";
  ok.kids = {"0123456789abcdef"};
  ok.duration_ms = 1.25;
  log.Request(ok);
  RequestLogEntry failed = ok;
  failed.error =
      TokenError(tkerror::kCorruptedData, "unable to sign digest").WithCause("biometry-database-reset");
  log.Request(failed);
  log.Flush();  // lines are buffered; a reader sees them once flushed
  std::ifstream in(log.path());
  std::string line;
  std::getline(in, line);
  auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["request"], "sign");
  EXPECT_EQ(j["outcome"], "ok");
  EXPECT_EQ(j["kids"][0], "0123456789abcdef");
  EXPECT_EQ(j["peer_uid"], 1000);
  EXPECT_DOUBLE_EQ(j["duration_ms"].get<double>(), 1.25);
  std::getline(in, line);
  j = nlohmann::json::parse(line);
  EXPECT_EQ(j["outcome"], "error");
  EXPECT_EQ(j["domain"], "CryptoTokenKit");
  EXPECT_EQ(j["code"], -3);
  EXPECT_EQ(j["cause"], "biometry-database-reset");
  EXPECT_FALSE(j.contains("description"));  // descriptions may quote caller input
  EXPECT_EQ(std::filesystem::status(home_ / "logs").permissions() & std::filesystem::perms::others_all,
            std::filesystem::perms::none);
}

TEST_F(RequestLogTest, BufferedLinesReachTheFileWhenTheLogCloses) {
  {
    RequestLog log(home_);
    RequestLogEntry e;
    e.request = "sign";
    e.command = std::string("quote\"back\\slash\nnewline\xff");
    for (int i = 0; i < 100; ++i) log.Request(e);
  }  // as on SIGTERM: the server's log goes with it
  std::ifstream in(home_ / "logs" / "enclaved.log");
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["command"], "quote\"back\\slash\nnewline\xef\xbf\xbd");
    ++lines;
  }
  EXPECT_EQ(lines, 100);
}

TEST_F(RequestLogTest, RotatesPastOneMibKeepingThreeOldFiles) {
  RequestLog log(home_);
  RequestLogEntry e;
  e.request = "find_keys";
  e.kids = std::vector<std::string>(20, "0123456789abcdef");
  // ~450 bytes a line: 5 MiB of lines forces several rotations.
  for (int i = 0; i < 12000; ++i) log.Request(e);
  log.Flush();
  const auto logs = home_ / "logs";
  EXPECT_TRUE(std::filesystem::exists(logs / "enclaved.log"));
  EXPECT_TRUE(std::filesystem::exists(logs / "enclaved.log.1"));
  EXPECT_TRUE(std::filesystem::exists(logs / "enclaved.log.3"));
  EXPECT_FALSE(std::filesystem::exists(logs / "enclaved.log.4"));
  for (const auto& f : std::filesystem::directory_iterator(logs)) {
    EXPECT_LE(std::filesystem::file_size(f), kMaxLogBytes + 1024) << f.path();
  }
}

}  // namespace
}  // namespace enclave::daemon
