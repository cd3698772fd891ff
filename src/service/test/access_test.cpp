// Access control through the service: prompts, lock state, the field report's policy-invalid
// failure, passcode removal and lockout, and a policy edited by hand in the database.
#include "auth/policy.h"
#include "keychain/keychain.h"
#include "service/test/fixture.h"

namespace enclave::service::testing {
namespace {

class AccessTest : public EnclaveTest {
 protected:
  void SetUp() override {
    EnclaveTest::SetUp();
    EnableSimulator();
    Biometry("enroll", "right-thumb");
    Biometry("match");
  }
  void SetPasscode(const std::string& p) {
    auto r = Admin("passcode.set", {}, {p});
    ASSERT_TRUE(r.ok()) << r.error().ToString();
  }
};

TEST_P(AccessTest, BiometryPromptsAndOutcomes) {
  auto key = session_->CreateKey(Spec("unique label", "when-unlocked-this-device-only", {"biometry-any", "private-key-usage"}));
  ASSERT_TRUE(key.ok()) << key.error().ToString();
  EXPECT_EQ(key->access_control, (std::vector<std::string>{"biometry-any", "private-key-usage"}));
  auto ok = SignMessage("unique label");
  ASSERT_TRUE(ok.ok()) << ok.error().ToString();
  EXPECT_TRUE(ok->prompted);

  Biometry("no-match");
  auto nomatch = SignMessage("unique label");
  ASSERT_FALSE(nomatch.ok());
  EXPECT_EQ(nomatch.error().domain, "LocalAuthentication");
  EXPECT_EQ(nomatch.error().code, -1);
  EXPECT_EQ(nomatch.error().prompted, std::optional<bool>(true));

  Biometry("cancel");
  auto cancel = SignMessage("unique label");
  ASSERT_FALSE(cancel.ok());
  EXPECT_EQ(cancel.error().code, -2);
  EXPECT_EQ(cancel.error().remedy(), "authenticate");
}

TEST_P(AccessTest, CreationRulesAreEnforced) {
  EXPECT_EQ(session_->CreateKey(Spec("c1", "when-unlocked", {"biometry-any", "biometry-current-set"})).error().code, -50);
  EXPECT_EQ(session_->CreateKey(Spec("c2", "when-unlocked", {"or", "and", "biometry-any", "device-passcode"})).error().code,
            -50);
  EXPECT_EQ(session_->CreateKey(Spec("c3", "when-unlocked", {"no-such-flag"})).error().code, -50);
  // A when-passcode-set key needs a passcode.
  auto akpu = session_->CreateKey(Spec("c4", "when-passcode-set-this-device-only"));
  ASSERT_FALSE(akpu.ok());
  EXPECT_EQ(akpu.error().code, -25293);
  // Biometry flags need an enrolled finger.
  Biometry("unenroll", "right-thumb");
  auto nofinger = session_->CreateKey(Spec("c5", "when-unlocked", {"biometry-any"}));
  ASSERT_FALSE(nofinger.ok());
  EXPECT_EQ(nofinger.error().code, -7);
}

TEST_P(AccessTest, LockedDeviceAndClasses) {
  SetPasscode("246810");
  ASSERT_TRUE(session_->CreateKey(Spec("ak", "when-unlocked-this-device-only")).ok());
  ASSERT_TRUE(session_->CreateKey(Spec("ck", "after-first-unlock-this-device-only")).ok());
  ASSERT_TRUE(Admin("lock").ok());
  auto locked = SignMessage("ak");
  ASSERT_FALSE(locked.ok());
  EXPECT_EQ(locked.error().code, -25308);
  EXPECT_EQ(locked.error().effective_cause(), "device-locked");
  EXPECT_EQ(locked.error().remedy(), "unlock");
  EXPECT_TRUE(SignMessage("ck").ok());
  auto wrong = Admin("unlock", {}, {"000000"});
  ASSERT_FALSE(wrong.ok());
  EXPECT_FALSE(SignMessage("ak").ok());
  ASSERT_TRUE(Admin("unlock", {}, {"246810"}).ok());
  EXPECT_TRUE(SignMessage("ak").ok());
}

TEST_P(AccessTest, BiometryResetGivesTheFieldReportsErrorWithoutPrompt) {
  auto any = session_->CreateKey(Spec("unique label", "when-unlocked-this-device-only", {"biometry-any", "private-key-usage"}));
  auto set = session_->CreateKey(Spec("current set", "when-unlocked-this-device-only",
                                      {"biometry-current-set", "private-key-usage"}));
  auto plain = session_->CreateKey(Spec("plain"));
  ASSERT_TRUE(any.ok() && set.ok() && plain.ok());

  Biometry("enroll", "left-thumb");
  auto changed = SignMessage("current set");
  ASSERT_FALSE(changed.ok());
  EXPECT_EQ(changed.error().code, -3);
  EXPECT_EQ(changed.error().effective_cause(), "biometry-set-changed");
  EXPECT_TRUE(SignMessage("unique label").ok()) << "biometry-any survives an added finger";

  Biometry("reset");
  Biometry("enroll", "right-thumb");
  Biometry("match");
  for (int round = 0; round < 2; ++round) {
    auto dead = SignMessage("unique label");
    ASSERT_FALSE(dead.ok());
    const Error& e = dead.error();
    EXPECT_EQ(e.domain, "CryptoTokenKit");
    EXPECT_EQ(e.code, -3);
    EXPECT_EQ(e.description, "<" + TagOf(token_) + ":p256 kid=" + any->kid + ">: unable to sign digest");
    EXPECT_EQ(e.user_info["AKSError"], -536362999);
    EXPECT_EQ(e.prompted, std::optional<bool>(false));
    EXPECT_EQ(e.permanence(), "permanent");
    EXPECT_EQ(e.remedy(), "reenroll");
    EXPECT_TRUE(session_->FindKeys(ByLabel("unique label")).ok()) << "the query still finds the key";
    Restart();
  }
  EXPECT_TRUE(SignMessage("plain").ok());
}

TEST_P(AccessTest, PasscodeRemovalDestroysPasscodeBoundKeys) {
  SetPasscode("1357");
  ASSERT_TRUE(session_->CreateKey(Spec("akpu", "when-passcode-set-this-device-only")).ok());
  ASSERT_TRUE(SignMessage("akpu").ok());
  ASSERT_FALSE(Admin("passcode.remove", {}, {"9999"}).ok());
  ASSERT_TRUE(session_->FindKeys(ByLabel("akpu")).ok());
  ASSERT_TRUE(Admin("passcode.remove", {}, {"1357"}).ok());
  EXPECT_EQ(session_->FindKeys(ByLabel("akpu")).error().code, -25300);
  auto events = Admin("events");
  ASSERT_TRUE(events.ok());
  EXPECT_NE(events->dump().find("passcode-removed"), std::string::npos);
}

TEST_P(AccessTest, WrongPasscodesLockOutAcrossRestarts) {
  SetPasscode("1357");
  ASSERT_TRUE(Admin("config.set", {{"key", "passcode-max-attempts"}, {"value", "3"}}).ok());
  Restart();
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(Admin("unlock", {}, {"0000"}).ok());
  Restart();
  auto refused = Admin("unlock", {}, {"1357"});
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(refused.error().user_info.contains("retry_after_seconds")) << refused.error().ToJson().dump();
}

TEST_P(AccessTest, AttemptPolicyAppliesWithoutRestart) {
  SetPasscode("1357");
  ASSERT_TRUE(Admin("config.set", {{"key", "passcode-max-attempts"}, {"value", "3"}}).ok());
  ASSERT_TRUE(Admin("config.set", {{"key", "passcode-lockout-seconds"}, {"value", "120"}}).ok());
  auto status = Admin("status");
  ASSERT_TRUE(status.ok());
  EXPECT_EQ((*status)["keybag"]["max_failed_attempts"], 3);
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(Admin("unlock", {}, {"0000"}).ok());
  auto refused = Admin("unlock", {}, {"1357"});
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(refused.error().user_info.value("locked_out", false)) << refused.error().ToJson().dump();
  EXPECT_LE(refused.error().user_info.value("retry_after_seconds", int64_t{0}), 120);
}

TEST_P(AccessTest, PolicyEditedInTheDatabaseNeverGrantsAccess) {
  auto key = session_->CreateKey(Spec("guarded", "when-unlocked-this-device-only", {"biometry-any", "private-key-usage"}));
  ASSERT_TRUE(key.ok());
  Biometry("no-match");
  auto keychain_path = home_ / "keychain.db";
  session_.reset();
  enclave_.reset();
  // Strip the biometry requirement and move the key to the always-available class.
  {
    auto kc = keychain::Keychain::Open(keychain_path);
    ASSERT_TRUE(kc.ok());
    auto policy = auth::AccessPolicy::FromNames({"private-key-usage"});
    ASSERT_TRUE((*kc)->ExecForTesting("UPDATE key_items SET access_control = '" + policy->Serialize() +
                                      "', accessible = 'dku'").ok());
  }
  Open();
  auto sig = SignMessage("guarded");
  ASSERT_FALSE(sig.ok());
  EXPECT_EQ(sig.error().domain, "CryptoTokenKit");
  EXPECT_EQ(sig.error().code, -3);
}

ENCLAVE_INSTANTIATE_FOR_TOKENS(AccessTest);

}  // namespace
}  // namespace enclave::service::testing

namespace enclave::service::testing {
namespace {

// The acceptance shape: ten wrong passcodes with the default schedule, then a restart.
TEST_P(AccessTest, DefaultScheduleRefusesTheRightPasscodeAfterTenWrongOnesAndARestart) {
  SetPasscode("1357");
  ASSERT_TRUE(Admin("lock").ok());
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(Admin("unlock", {}, {"0000"}).ok());
  Restart();
  auto refused = Admin("unlock", {}, {"1357"});
  ASSERT_FALSE(refused.ok()) << "unlocked after ten wrong passcodes";
  EXPECT_TRUE(refused.error().user_info.contains("retry_after_seconds")) << refused.error().ToJson().dump();
}

}  // namespace
}  // namespace enclave::service::testing

namespace enclave::service::testing {
namespace {

// With the tpm2 token configured the keybag is TPM-sealed and the passcode bound to the TPM:
// every wrong passcode raises the TPM's dictionary-attack counter, and the right one still
// unlocks before the keybag's own limit (swtpm locks out after 3 failures).
TEST_P(AccessTest, WrongPasscodesRaiseTheTpmLockoutCounter) {
  SetPasscode("1357");
  auto counter = [&]() -> int64_t {
    auto s = Admin("status");
    if (!s.ok() || !(*s)["tokens"]["tpm2"].contains("lockout_counter")) return -1;
    return (*s)["tokens"]["tpm2"]["lockout_counter"].get<int64_t>();
  };
  auto status = Admin("status");
  ASSERT_TRUE(status.ok());
  EXPECT_EQ((*status)["keybag"]["passcode_bound_to"], token_ == "tpm2" ? "tpm2" : "software")
      << (*status)["keybag"].dump();
  const int64_t before = counter();
  ASSERT_TRUE(Admin("lock").ok());
  for (int i = 1; i <= 2; ++i) {
    auto wrong = Admin("unlock", {}, {"0000"});
    ASSERT_FALSE(wrong.ok());
    EXPECT_EQ(wrong.error().domain, "LocalAuthentication") << wrong.error().ToString();
    EXPECT_EQ(wrong.error().code, -1);
    EXPECT_EQ(wrong.error().user_info["failed_attempts"], i);
    if (token_ == "tpm2") {
      EXPECT_EQ(counter(), before + i);
    }
  }
  if (token_ != "tpm2") {
    EXPECT_EQ(counter(), -1) << "no TPM configured";
  }
  auto ok = Admin("unlock", {}, {"1357"});
  ASSERT_TRUE(ok.ok()) << ok.error().ToString();
  EXPECT_EQ(ok->value("failed_attempts", -1), 0) << ok->dump();
  ASSERT_TRUE(session_->CreateKey(Spec("after", "when-unlocked-this-device-only")).ok());
  EXPECT_TRUE(SignMessage("after").ok());
}

}  // namespace
}  // namespace enclave::service::testing

namespace enclave::service::testing {
namespace {

// Wrong passcodes may drive the TPM into dictionary-attack lockout; keys must keep signing
// (they are noDA: their protection is enclave's access control, not a TPM authValue).
TEST_P(AccessTest, TpmLockoutFromWrongPasscodesDoesNotStopKeys) {
  if (token_ != "tpm2") GTEST_SKIP() << "only a TPM has a dictionary-attack lockout";
  SetPasscode("1357");
  ASSERT_TRUE(session_->CreateKey(Spec("tpm key")).ok());
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(Admin("unlock", {}, {"0000"}).ok());
  auto sig = SignMessage("tpm key");
  ASSERT_TRUE(sig.ok()) << sig.error().ToString();
}

}  // namespace
}  // namespace enclave::service::testing
