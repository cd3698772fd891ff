// Passcode life cycle and attempt limits, persisted across reopen.
#include <gtest/gtest.h>

#include "keybag/test/keybag_test_util.h"

namespace enclave::keybag::testing {
namespace {

using PC = ProtectionClass;
using std::chrono::seconds;

const Bytes kAad = ToBytes("attrs");
const Bytes kSecret = ToBytes("secret");

void ExpectWrongPasscode(const Status& s, int failed, int remaining) {
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().domain, domain::kLocalAuthentication) << s.error().ToString();
  EXPECT_EQ(s.error().code, -1);
  EXPECT_EQ(s.error().effective_cause(), "authentication-failed");
  EXPECT_EQ(s.error().user_info["failed_attempts"], failed);
  EXPECT_EQ(s.error().user_info["attempts_remaining"], remaining);
}

void ExpectAttemptsExceeded(const Status& s, bool locked_out, int64_t max_wait) {
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().domain, domain::kOSStatus) << s.error().ToString();
  EXPECT_EQ(s.error().code, -25293);
  EXPECT_EQ(s.error().effective_cause(), "passcode-attempts-exceeded");
  const int64_t wait = s.error().user_info.value("retry_after_seconds", int64_t{0});
  EXPECT_GT(wait, 0);
  EXPECT_LE(wait, max_wait);
  EXPECT_EQ(s.error().user_info.value("locked_out", false), locked_out);
}

TEST_F(KeybagTest, WrongPasscodeIsAuthenticationFailed) {
  auto kb = OpenOrDie();
  ASSERT_TRUE(kb->SetPasscode(std::nullopt, Pass("1234")).ok());
  kb->Lock();
  ExpectWrongPasscode(kb->Unlock(Pass("0000")), 1, 9);
  EXPECT_TRUE(kb->State().locked);
  ExpectWrongPasscode(kb->VerifyPasscode(Pass("1111")), 2, 8);
  EXPECT_EQ(kb->State().failed_attempts, 2);
  ASSERT_TRUE(kb->Unlock(Pass("1234")).ok());
  EXPECT_EQ(kb->State().failed_attempts, 0) << "success resets the counter";
  kb.reset();
  EXPECT_EQ(OpenOrDie()->State().failed_attempts, 0);
}

TEST_F(KeybagTest, DelaysEscalateAndSurviveRestart) {
  KeybagOptions o = TestOptions();
  o.failure_delays = {seconds(0), seconds(0), seconds(3600)};
  auto kb = OpenOrDie(o);
  ASSERT_TRUE(kb->SetPasscode(std::nullopt, Pass("1234")).ok());
  ExpectWrongPasscode(kb->Unlock(Pass("1")), 1, 9);
  ExpectWrongPasscode(kb->Unlock(Pass("2")), 2, 8);
  Status third = kb->Unlock(Pass("3"));
  ExpectWrongPasscode(third, 3, 7);
  EXPECT_GT(third.error().user_info.value("retry_after_seconds", int64_t{0}), 0);
  // Refused without evaluating, even with the right passcode, and not counted.
  ExpectAttemptsExceeded(kb->Unlock(Pass("1234")), false, 3600);
  ExpectAttemptsExceeded(kb->VerifyPasscode(Pass("1234")), false, 3600);
  ExpectAttemptsExceeded(kb->SetPasscode(Pass("1234"), Pass("5678")), false, 3600);
  ExpectAttemptsExceeded(kb->RemovePasscode(Pass("1234")), false, 3600);
  EXPECT_EQ(kb->State().failed_attempts, 3);

  kb.reset();
  kb = OpenOrDie(o);
  EXPECT_EQ(kb->State().failed_attempts, 3);
  EXPECT_GT(kb->State().retry_after_seconds, 0);
  EXPECT_FALSE(kb->State().locked_out);
  ExpectAttemptsExceeded(kb->Unlock(Pass("1234")), false, 3600);
  EXPECT_EQ(kb->Describe()["failed_attempts"], 3);
}

TEST_F(KeybagTest, TenFailuresLockOutAcrossRestart) {
  auto kb = OpenOrDie();
  ASSERT_TRUE(kb->SetPasscode(std::nullopt, Pass("1234")).ok());
  kb->Lock();
  for (int i = 1; i <= 10; ++i) ExpectWrongPasscode(kb->Unlock(Pass("wrong")), i, 10 - i);
  ExpectAttemptsExceeded(kb->Unlock(Pass("1234")), true, 3600);
  EXPECT_TRUE(kb->State().locked_out);
  EXPECT_TRUE(kb->State().locked);

  kb.reset();
  kb = OpenOrDie();
  EXPECT_TRUE(kb->State().locked_out);
  EXPECT_EQ(kb->State().failed_attempts, 10);
  ExpectAttemptsExceeded(kb->Unlock(Pass("1234")), true, 3600);
  EXPECT_EQ(kb->Describe()["locked_out"], true);
}

TEST_F(KeybagTest, ConfiguredAttemptLimitApplies) {
  KeybagOptions o = TestOptions();
  o.max_failed_attempts = 3;
  auto kb = OpenOrDie(o);
  ASSERT_TRUE(kb->SetPasscode(std::nullopt, Pass("1234")).ok());
  for (int i = 1; i <= 3; ++i) ExpectWrongPasscode(kb->VerifyPasscode(Pass("x")), i, 3 - i);
  ExpectAttemptsExceeded(kb->VerifyPasscode(Pass("1234")), true, 3600);
}

TEST_F(KeybagTest, ChangePasscodeNeedsTheOldOne) {
  auto kb = OpenOrDie();
  EXPECT_EQ(kb->VerifyPasscode(Pass("1234")).error().code, laerror::kPasscodeNotSet);
  EXPECT_EQ(kb->SetPasscode(std::nullopt, Pass("")).error().code, errsec::kParam);
  ASSERT_TRUE(kb->SetPasscode(std::nullopt, Pass("1234")).ok());
  EXPECT_TRUE(kb->State().passcode_set);
  Bytes ak = *kb->Seal(PC::kWhenUnlocked, kSecret, kAad);
  Bytes akpu = *kb->Seal(PC::kWhenPasscodeSetThisDeviceOnly, kSecret, kAad);

  EXPECT_EQ(kb->SetPasscode(std::nullopt, Pass("5678")).error().code, errsec::kParam);
  ExpectWrongPasscode(kb->SetPasscode(Pass("0000"), Pass("5678")), 1, 9);
  ASSERT_TRUE(kb->SetPasscode(Pass("1234"), Pass("5678")).ok());
  kb->Lock();
  ExpectWrongPasscode(kb->Unlock(Pass("1234")), 1, 9);
  ASSERT_TRUE(kb->Unlock(Pass("5678")).ok());
  EXPECT_TRUE(kb->Unseal(PC::kWhenUnlocked, ak, kAad).ok());
  EXPECT_TRUE(kb->Unseal(PC::kWhenPasscodeSetThisDeviceOnly, akpu, kAad).ok()) << "change keeps akpu";

  kb.reset();
  kb = OpenOrDie();
  ASSERT_TRUE(kb->Unlock(Pass("5678")).ok());
  EXPECT_TRUE(kb->Unseal(PC::kWhenPasscodeSetThisDeviceOnly, akpu, kAad).ok());
}

TEST_F(KeybagTest, RemovingThePasscodeDestroysAkpuOnly) {
  auto kb = OpenOrDie();
  auto no_passcode = kb->Seal(PC::kWhenPasscodeSetThisDeviceOnly, kSecret, kAad);
  ASSERT_FALSE(no_passcode.ok());
  EXPECT_EQ(no_passcode.error().domain, domain::kOSStatus);
  EXPECT_EQ(no_passcode.error().code, -25293);
  EXPECT_EQ(no_passcode.error().effective_cause(), "passcode-not-set");

  ASSERT_TRUE(kb->SetPasscode(std::nullopt, Pass("1234")).ok());
  std::map<PC, Bytes> sealed;
  for (PC c : AllProtectionClasses()) sealed[c] = *kb->Seal(c, kSecret, kAad);
  ExpectWrongPasscode(kb->RemovePasscode(Pass("9999")), 1, 9);
  ASSERT_TRUE(kb->RemovePasscode(Pass("1234")).ok());
  EXPECT_FALSE(kb->State().passcode_set);
  EXPECT_EQ(kb->RemovePasscode(Pass("1234")).error().code, laerror::kPasscodeNotSet);

  auto check = [&](Keybag& k) {
    for (PC c : AllProtectionClasses()) {
      auto r = k.Unseal(c, sealed[c], kAad);
      if (c == PC::kWhenPasscodeSetThisDeviceOnly) {
        ASSERT_FALSE(r.ok());
        EXPECT_EQ(r.error().domain, domain::kAKS);
        EXPECT_EQ(r.error().code, aks::kBadDeviceKey);
        EXPECT_EQ(r.error().effective_cause(), "class-key-lost");
      } else {
        EXPECT_TRUE(r.ok()) << PlatformCode(c) << ": " << r.error().ToString();
      }
    }
  };
  check(*kb);
  kb.reset();
  kb = OpenOrDie();
  EXPECT_TRUE(kb->State().first_unlock_done) << "without a passcode a restart needs no unlock";
  check(*kb);
  EXPECT_EQ(kb->Seal(PC::kWhenPasscodeSetThisDeviceOnly, kSecret, kAad).error().code, -25293);

  // A new passcode brings a new akpu class key; the old items stay dead.
  ASSERT_TRUE(kb->SetPasscode(std::nullopt, Pass("4321")).ok());
  EXPECT_FALSE(
      kb->Unseal(PC::kWhenPasscodeSetThisDeviceOnly, sealed[PC::kWhenPasscodeSetThisDeviceOnly], kAad).ok());
  EXPECT_TRUE(kb->Seal(PC::kWhenPasscodeSetThisDeviceOnly, kSecret, kAad).ok());
}

}  // namespace
}  // namespace enclave::keybag::testing
