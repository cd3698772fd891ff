// A passcode bound to the sealing hardware: the sealer checks a passcode-derived authorization
// value before the keybag does, and counts wrong ones itself. And removing a forgotten passcode
// for fault injection.
#include <gtest/gtest.h>

#include <fstream>

#include "common/durable_io.h"
#include "crypto/ec.h"
#include "keybag/primitives.h"
#include "keybag/record.h"
#include "keybag/test/keybag_test_util.h"

namespace enclave::keybag::testing {
namespace {

using PC = ProtectionClass;

// Stands in for a TPM: the authorization value is bound into the sealed blob (as AEAD
// associated data), wrong values are counted, and after `max_tries` of them every
// authorization is refused as a dictionary-attack lockout.
class AuthSealer final : public DeviceSecretSealer {
 public:
  explicit AuthSealer(int max_tries = 1000) : max_tries_(max_tries) {}
  std::string_view name() const override { return "test-auth"; }
  Result<Bytes> Seal(ByteView secret) override { return SealWithAuth(secret, {}); }
  Result<SecureBytes> Unseal(ByteView sealed) override { return UnsealWithAuth(sealed, {}); }
  Result<Bytes> SealWithAuth(ByteView secret, ByteView auth) override {
    Bytes iv = crypto::RandomBytes(12);
    ASSIGN_OR_RETURN(Bytes ct, crypto::AesGcmSeal(key_, iv, auth, secret));
    iv.insert(iv.end(), ct.begin(), ct.end());
    return iv;
  }
  Result<SecureBytes> UnsealWithAuth(ByteView sealed, ByteView auth) override {
    if (sealed.size() < 12) return OSStatusError(errsec::kDecode, "short");
    if (!auth.empty() && failures_ >= max_tries_) {
      return TokenError(tkerror::kAuthenticationFailed, "in lockout")
          .WithCause("tpm-lockout")
          .WithInfo("retry_after_seconds", 1000);
    }
    ++unseals_;
    auto opened = crypto::AesGcmOpen(key_, sealed.first(12), auth, sealed.subspan(12));
    if (opened.ok()) return opened;
    ++failures_;
    return TokenError(tkerror::kAuthenticationFailed, "wrong authorization value")
        .WithCause("tpm-auth-failed");
  }
  int failures() const { return failures_; }
  int unseals() const { return unseals_; }

 private:
  SecureBytes key_ = crypto::RandomSecret(32);
  int max_tries_;
  int failures_ = 0;
  int unseals_ = 0;
};

// Seals without authorization values only, like any sealer that predates them.
class PlainSealer final : public DeviceSecretSealer {
 public:
  std::string_view name() const override { return "test-plain"; }
  Result<Bytes> Seal(ByteView secret) override { return Bytes(secret.begin(), secret.end()); }
  Result<SecureBytes> Unseal(ByteView sealed) override { return SecureBytes(sealed); }
};

const Bytes kAad = ToBytes("attrs");
const Bytes kSecret = ToBytes("secret");

class PasscodeBindingTest : public KeybagTest {
 protected:
  KeybagOptions Options() {
    KeybagOptions o = TestOptions();
    o.sealer = sealer_;
    return o;
  }
  nlohmann::json Record() {
    std::ifstream in(dir_ / internal::kRecordFile);
    return nlohmann::json::parse(in);
  }
  std::shared_ptr<AuthSealer> sealer_ = std::make_shared<AuthSealer>();
};

TEST_F(PasscodeBindingTest, EveryPasscodeCheckGoesThroughTheSealer) {
  auto kb = OpenOrDie(Options());
  ASSERT_TRUE(kb->SetPasscode(std::nullopt, Pass("1234")).ok());
  EXPECT_EQ(kb->Describe()["passcode_bound_to"], "test-auth");
  ASSERT_TRUE(Record()["passcode"].contains("sealed_entropy"));
  const Bytes akpu = *kb->Seal(PC::kWhenPasscodeSetThisDeviceOnly, kSecret, kAad);
  const Bytes ak = *kb->Seal(PC::kWhenUnlocked, kSecret, kAad);
  kb->Lock();

  auto wrong = kb->Unlock(Pass("0000"));
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().domain, domain::kLocalAuthentication);
  EXPECT_EQ(wrong.error().code, laerror::kAuthenticationFailed);
  EXPECT_EQ(wrong.error().effective_cause(), "authentication-failed");
  EXPECT_EQ(wrong.error().user_info["failed_attempts"], 1);
  EXPECT_EQ(wrong.error().user_info["attempts_remaining"], 9);
  ASSERT_TRUE(wrong.error().underlying);
  EXPECT_EQ(wrong.error().underlying->effective_cause(), "tpm-auth-failed");
  EXPECT_EQ(sealer_->failures(), 1) << "the sealer refused the wrong passcode itself";
  EXPECT_FALSE(kb->VerifyPasscode(Pass("1111")).ok());
  EXPECT_EQ(sealer_->failures(), 2);
  EXPECT_EQ(kb->State().failed_attempts, 2) << "the keybag still counts too";

  const int before = sealer_->unseals();
  ASSERT_TRUE(kb->Unlock(Pass("1234")).ok());
  EXPECT_TRUE(kb->VerifyPasscode(Pass("1234")).ok());
  EXPECT_EQ(sealer_->unseals(), before + 2);
  EXPECT_EQ(kb->State().failed_attempts, 0);
  EXPECT_TRUE(kb->Unseal(PC::kWhenPasscodeSetThisDeviceOnly, akpu, kAad).ok());

  kb.reset();  // a restart without the keyring: before first unlock
  kb = OpenOrDie(Options());
  EXPECT_FALSE(kb->Unseal(PC::kWhenUnlocked, ak, kAad).ok());
  ASSERT_TRUE(kb->Unlock(Pass("1234")).ok());
  EXPECT_TRUE(kb->Unseal(PC::kWhenUnlocked, ak, kAad).ok());
}

TEST_F(PasscodeBindingTest, TheSealedEntropyIsPartOfThePasscodeKey) {
  ASSERT_TRUE(OpenOrDie(Options())->SetPasscode(std::nullopt, Pass("1234")).ok());
  // Without the entropy the right passcode no longer derives the passcode key.
  nlohmann::json r = Record();
  r["passcode"].erase("sealed_entropy");
  ASSERT_TRUE(durable::WriteFileAtomic(dir_ / internal::kRecordFile, AsBytes(r.dump())).ok());
  auto kb = OpenOrDie(Options());
  auto s = kb->Unlock(Pass("1234"));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().effective_cause(), "authentication-failed");
  EXPECT_EQ(sealer_->failures(), 0);
}

TEST_F(PasscodeBindingTest, ChangeReSealsAndRemoveDropsTheEntropy) {
  auto kb = OpenOrDie(Options());
  ASSERT_TRUE(kb->SetPasscode(std::nullopt, Pass("1234")).ok());
  const std::string first = Record()["passcode"]["sealed_entropy"];
  const Bytes ak = *kb->Seal(PC::kWhenUnlocked, kSecret, kAad);
  const Bytes akpu = *kb->Seal(PC::kWhenPasscodeSetThisDeviceOnly, kSecret, kAad);

  EXPECT_FALSE(kb->SetPasscode(Pass("9999"), Pass("5678")).ok());
  EXPECT_EQ(sealer_->failures(), 1);
  ASSERT_TRUE(kb->SetPasscode(Pass("1234"), Pass("5678")).ok());
  EXPECT_NE(Record()["passcode"]["sealed_entropy"], first);
  kb.reset();
  kb = OpenOrDie(Options());
  EXPECT_FALSE(kb->Unlock(Pass("1234")).ok());
  ASSERT_TRUE(kb->Unlock(Pass("5678")).ok());
  EXPECT_TRUE(kb->Unseal(PC::kWhenPasscodeSetThisDeviceOnly, akpu, kAad).ok());

  EXPECT_FALSE(kb->RemovePasscode(Pass("1234")).ok());
  ASSERT_TRUE(kb->RemovePasscode(Pass("5678")).ok());
  EXPECT_TRUE(Record()["passcode"].is_null());
  EXPECT_EQ(kb->Describe()["passcode_bound_to"], "software");
  EXPECT_EQ(kb->Unseal(PC::kWhenPasscodeSetThisDeviceOnly, akpu, kAad).error().code, aks::kBadDeviceKey);
  kb.reset();
  kb = OpenOrDie(Options());
  EXPECT_TRUE(kb->Unseal(PC::kWhenUnlocked, ak, kAad).ok());
}

TEST_F(PasscodeBindingTest, HardwareLockoutRefusesWithoutCounting) {
  sealer_ = std::make_shared<AuthSealer>(/*max_tries=*/2);
  auto kb = OpenOrDie(Options());
  ASSERT_TRUE(kb->SetPasscode(std::nullopt, Pass("1234")).ok());
  kb->Lock();
  EXPECT_FALSE(kb->Unlock(Pass("0000")).ok());
  EXPECT_FALSE(kb->Unlock(Pass("0001")).ok());
  for (const char* p : {"0002", "1234"}) {
    auto s = kb->Unlock(Pass(p));
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().domain, domain::kOSStatus) << s.error().ToString();
    EXPECT_EQ(s.error().code, errsec::kAuthFailed);
    EXPECT_EQ(s.error().effective_cause(), "tpm-lockout");
    EXPECT_EQ(s.error().user_info["retry_after_seconds"], 1000);
  }
  EXPECT_EQ(kb->State().failed_attempts, 2) << "refused attempts are not counted";
  EXPECT_TRUE(kb->State().locked);
}

TEST_F(PasscodeBindingTest, SealerWithoutAuthKeepsTheSoftwareBinding) {
  KeybagOptions o = TestOptions();
  o.sealer = std::make_shared<PlainSealer>();
  auto kb = OpenOrDie(o);
  ASSERT_TRUE(kb->SetPasscode(std::nullopt, Pass("1234")).ok());
  EXPECT_EQ(kb->Describe()["passcode_bound_to"], "software");
  EXPECT_FALSE(Record()["passcode"].contains("sealed_entropy"));
  kb->Lock();
  EXPECT_FALSE(kb->Unlock(Pass("0000")).ok());
  EXPECT_TRUE(kb->Unlock(Pass("1234")).ok());
}

TEST_F(PasscodeBindingTest, ForgetPasscodeActsAsRemovalButOnlyWhileUnlocked) {
  auto kb = OpenOrDie(Options());
  EXPECT_EQ(kb->ForgetPasscodeForTesting().error().code, laerror::kPasscodeNotSet);
  ASSERT_TRUE(kb->SetPasscode(std::nullopt, Pass("1234")).ok());
  std::map<PC, Bytes> sealed;
  for (PC c : AllProtectionClasses()) sealed[c] = *kb->Seal(c, kSecret, kAad);
  kb->Lock();
  auto locked = kb->ForgetPasscodeForTesting();
  ASSERT_FALSE(locked.ok());
  EXPECT_EQ(locked.error().domain, domain::kOSStatus);
  EXPECT_EQ(locked.error().code, errsec::kInteractionNotAllowed);
  EXPECT_TRUE(kb->State().passcode_set);

  ASSERT_TRUE(kb->Unlock(Pass("1234")).ok());
  const int checks = sealer_->unseals();
  ASSERT_TRUE(kb->ForgetPasscodeForTesting().ok());
  EXPECT_EQ(sealer_->unseals(), checks) << "no passcode was checked";
  EXPECT_FALSE(kb->State().passcode_set);
  EXPECT_TRUE(Record()["passcode"].is_null());
  EXPECT_FALSE(Record()["class_keys"].contains("akpu"));
  const auto record = Record();  // items() must not outlive the document it walks
  for (const auto& [code, k] : record["class_keys"].items()) EXPECT_EQ(k["wrapped_by"], "device") << code;

  kb.reset();
  kb = OpenOrDie(Options());
  EXPECT_TRUE(kb->State().first_unlock_done) << "without a passcode a restart needs no unlock";
  for (PC c : AllProtectionClasses()) {
    auto r = kb->Unseal(c, sealed[c], kAad);
    if (c == PC::kWhenPasscodeSetThisDeviceOnly) {
      ASSERT_FALSE(r.ok());
      EXPECT_EQ(r.error().code, aks::kBadDeviceKey);
      EXPECT_EQ(r.error().effective_cause(), "class-key-lost");
    } else {
      EXPECT_TRUE(r.ok()) << PlatformCode(c) << ": " << r.error().ToString();
    }
  }
}

}  // namespace
}  // namespace enclave::keybag::testing
