// A wrong passcode counts only once its count is on disk: when the keybag cannot be written, the
// attempt is refused (never answered as "wrong passcode"), and the count never goes down across a
// reopen. The attempt policy can change while the keybag is open.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>

#include "keybag/test/keybag_test_util.h"

namespace enclave::keybag::testing {
namespace {

// Makes every file write of this process fail with EFBIG (as a full disk would with ENOSPC) for
// the object's lifetime; works for root too, unlike file modes.
class WritesFail {
 public:
  WritesFail() {
    ::getrlimit(RLIMIT_FSIZE, &old_);
    old_handler_ = ::signal(SIGXFSZ, SIG_IGN);
    rlimit tiny{1, old_.rlim_max};
    ::setrlimit(RLIMIT_FSIZE, &tiny);
  }
  ~WritesFail() {
    ::setrlimit(RLIMIT_FSIZE, &old_);
    ::signal(SIGXFSZ, old_handler_);
  }

 private:
  rlimit old_{};
  sighandler_t old_handler_{};
};

TEST_F(KeybagTest, AttemptThatCannotBeCountedIsRefused) {
  auto kb = OpenOrDie();
  ASSERT_TRUE(kb->SetPasscode(std::nullopt, Pass("1234")).ok());
  kb->Lock();
  int answered_as_wrong = 0;
  {
    WritesFail full;
    for (int i = 0; i < 5; ++i) {
      Status s = kb->Unlock(Pass("0000"));
      ASSERT_FALSE(s.ok());
      if (s.error().domain == domain::kLocalAuthentication) ++answered_as_wrong;
      EXPECT_EQ(s.error().domain, domain::kOSStatus) << s.error().ToString();
      EXPECT_EQ(s.error().code, errsec::kDiskFull) << s.error().ToString();
      EXPECT_EQ(s.error().effective_cause(), "disk-full");
    }
    // The right passcode is not checked either while nothing can be counted.
    EXPECT_FALSE(kb->Unlock(Pass("1234")).ok());
  }
  kb.reset();
  kb = OpenOrDie();
  EXPECT_GE(kb->State().failed_attempts, answered_as_wrong);
  // Once the disk takes writes again, guesses count and the count survives a reopen.
  EXPECT_FALSE(kb->Unlock(Pass("0000")).ok());
  EXPECT_EQ(kb->State().failed_attempts, answered_as_wrong + 1);
  kb.reset();
  EXPECT_EQ(OpenOrDie()->State().failed_attempts, answered_as_wrong + 1);
}

TEST_F(KeybagTest, AttemptIsOnDiskBeforeThePasscodeIsChecked) {
  auto kb = OpenOrDie();
  ASSERT_TRUE(kb->SetPasscode(std::nullopt, Pass("1234")).ok());
  ASSERT_FALSE(kb->Unlock(Pass("0000")).ok());
  ASSERT_FALSE(kb->VerifyPasscode(Pass("1111")).ok());
  // A second keybag object reads what a crash would leave behind.
  EXPECT_EQ(OpenOrDie()->State().failed_attempts, 2);
  ASSERT_TRUE(kb->Unlock(Pass("1234")).ok());
  EXPECT_EQ(OpenOrDie()->State().failed_attempts, 0);
}

TEST_F(KeybagTest, AttemptPolicyChangesWhileOpen) {
  auto kb = OpenOrDie();
  ASSERT_TRUE(kb->SetPasscode(std::nullopt, Pass("1234")).ok());
  kb->SetAttemptPolicy(3, std::chrono::seconds(600));
  EXPECT_EQ(kb->Describe()["max_failed_attempts"], 3);
  for (int i = 0; i < 3; ++i) ASSERT_FALSE(kb->Unlock(Pass("0000")).ok());
  Status refused = kb->Unlock(Pass("1234"));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().effective_cause(), "passcode-attempts-exceeded") << refused.error().ToString();
  EXPECT_TRUE(refused.error().user_info.value("locked_out", false));
  EXPECT_LE(refused.error().user_info.value("retry_after_seconds", int64_t{0}), 600);
}

}  // namespace
}  // namespace enclave::keybag::testing
