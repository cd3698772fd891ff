// Regression tests for what fuzzing the files of an enclave home found (service/fuzz,
// keybag/fuzz): a hand-edited or damaged file is an error value, never a crash or undefined
// arithmetic.
#include <gtest/gtest.h>

#include <fstream>

#include "service/config.h"
#include "service/test/fixture.h"

namespace enclave::service::testing {
namespace {

namespace fs = std::filesystem;

void WriteText(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

class HostileFilesTest : public ::testing::Test {
 protected:
  void SetUp() override { home_ = MakeTempDir("enclave-hostile"); }
  void TearDown() override { fs::remove_all(home_); }
  Result<std::unique_ptr<Enclave>> Open() {
    EnclaveOptions options;
    options.home = home_;
    return Enclave::Open(options);
  }
  fs::path home_;
};

// passcode-max-attempts "many" used to be loaded as is and thrown on by std::stoi.
TEST_F(HostileFilesTest, InvalidConfigValueIsAnErrorNamingTheKey) {
  WriteText(home_ / "config.json", R"({"passcode-max-attempts": "many"})");
  auto e = Open();
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().effective_cause(), "bad-parameter");
  EXPECT_NE(e.error().description.find("passcode-max-attempts"), std::string::npos);
  for (const char* bad : {R"({"passcode-lockout-seconds": "-1"})", R"({"passcode-lockout-seconds": "99999999999999"})",
                          R"({"biometry": "magic"})"}) {
    EXPECT_FALSE(Config::Parse(bad).ok()) << bad;
  }
  auto good = Config::Parse(R"({"passcode-max-attempts": "3", "unknown": 1})");
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(good->passcode_max_attempts(), 3);
}

// A failed-attempt count at INT_MAX made the next wrong passcode overflow a signed int.
TEST_F(HostileFilesTest, OutOfRangeAttemptCountInTheKeybagIsDamageNotOverflow) {
  {
    auto e = Open();
    ASSERT_TRUE(e.ok()) << e.error().ToString();
  }
  const fs::path record = home_ / "keybag" / "keybag.json";
  std::ifstream in(record);
  auto j = nlohmann::json::parse(in);
  j["failed_attempts"] = 2147483647;
  WriteText(record, j.dump());
  auto e = Open();
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().effective_cause(), "class-key-lost");
}

}  // namespace
}  // namespace enclave::service::testing
