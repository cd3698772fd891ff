// AskPasscodeWithPinentry against small scripted pinentries speaking the Assuan protocol.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "auth/provider.h"
#include "auth/test/temp_dir.h"

namespace enclave::auth {
namespace {

class PinentryTest : public ::testing::Test {
 protected:
  void TearDown() override { unsetenv("PINENTRY_PROGRAM"); }

  // A pinentry that logs every command and answers GETPIN with the next line of `pins`
  // (a pin, or an ERR line for a cancel).
  void UseScript(const std::vector<std::string>& answers) {
    const std::string answers_file = dir_.file("answers");
    std::ofstream a(answers_file);
    for (const auto& line : answers) a << line << "\n";
    a.close();
    const std::string script = dir_.file("pinentry");
    std::ofstream s(script);
    s << "#!/bin/sh\n"
      << "log='" << dir_.file("log") << "'\n"
      << "answers='" << answers_file << "'\n"
      << "n=0\n"
      << "echo 'OK Pleased to meet you'\n"
      << "while IFS= read -r line; do\n"
      << "  printf '%s\\n' \"$line\" >> \"$log\"\n"
      << "  case \"$line\" in\n"
      << "    GETPIN*) n=$((n+1)); a=$(sed -n \"${n}p\" \"$answers\")\n"
      << "      case \"$a\" in ERR*) echo \"$a\";; *) echo \"D $a\"; echo OK;; esac;;\n"
      << "    BYE*) echo 'OK closing connection' 2>/dev/null; exit 0;;\n"
      << "    *) echo OK;;\n"
      << "  esac\n"
      << "done\n";
    s.close();
    ::chmod(script.c_str(), 0700);
    setenv("PINENTRY_PROGRAM", script.c_str(), 1);
  }

  std::string Log() {
    std::ifstream in(dir_.file("log"));
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  testing::TempDir dir_;
};

TEST_F(PinentryTest, ReturnsThePinAndShowsThePromptAsDescription) {
  UseScript({"1234"});
  auto pin = AskPasscodeWithPinentry("Verify your identity\n100% sure", "Passcode:");
  ASSERT_TRUE(pin.ok()) << pin.error().ToString();
  EXPECT_EQ(ToString(pin->view()), "1234");
  const std::string log = Log();
  EXPECT_NE(log.find("SETDESC Verify your identity%0A100%25 sure\n"), std::string::npos) << log;
  EXPECT_NE(log.find("SETPROMPT Passcode:\n"), std::string::npos) << log;
  EXPECT_NE(log.find("GETPIN\n"), std::string::npos) << log;
}

TEST_F(PinentryTest, PercentEscapedPinIsDecoded) {
  UseScript({"12%2534"});
  auto pin = AskPasscodeWithPinentry("d", "p");
  ASSERT_TRUE(pin.ok()) << pin.error().ToString();
  EXPECT_EQ(ToString(pin->view()), "12%34");
}

TEST_F(PinentryTest, CancelIsUserCancel) {
  UseScript({"ERR 83886179 Operation cancelled <Pinentry>"});
  auto pin = AskPasscodeWithPinentry("d", "p");
  ASSERT_FALSE(pin.ok());
  EXPECT_EQ(pin.error().domain, domain::kLocalAuthentication);
  EXPECT_EQ(pin.error().code, laerror::kUserCancel);
}

TEST_F(PinentryTest, ConfirmAsksTwice) {
  UseScript({"4321", "4321"});
  auto pin = AskPasscodeWithPinentry("New passcode", "Passcode:", /*confirm=*/true);
  ASSERT_TRUE(pin.ok()) << pin.error().ToString();
  EXPECT_EQ(ToString(pin->view()), "4321");
  EXPECT_NE(Log().find("SETPROMPT Repeat: Passcode:"), std::string::npos);
}

TEST_F(PinentryTest, ConfirmMismatchAsksAgainThenGivesUp) {
  UseScript({"1", "2", "3", "3"});
  auto pin = AskPasscodeWithPinentry("New passcode", "Passcode:", true);
  ASSERT_TRUE(pin.ok()) << pin.error().ToString();
  EXPECT_EQ(ToString(pin->view()), "3");
  EXPECT_NE(Log().find("SETERROR"), std::string::npos);

  UseScript({"1", "2", "3", "4", "5", "6"});
  pin = AskPasscodeWithPinentry("New passcode", "Passcode:", true);
  ASSERT_FALSE(pin.ok());
  EXPECT_EQ(pin.error().code, laerror::kAuthenticationFailed);
}

TEST_F(PinentryTest, MissingPinentryIsInteractionNotAllowed) {
  setenv("PINENTRY_PROGRAM", dir_.file("no-such-pinentry").c_str(), 1);
  auto pin = AskPasscodeWithPinentry("d", "p");
  ASSERT_FALSE(pin.ok());
  EXPECT_EQ(pin.error().domain, domain::kOSStatus);
  EXPECT_EQ(pin.error().code, errsec::kInteractionNotAllowed);
  EXPECT_NE(pin.error().description.find("no pinentry program"), std::string::npos);
}

}  // namespace
}  // namespace enclave::auth
