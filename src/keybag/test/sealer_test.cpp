// The device-secret sealer hook and starting over when the sealed secret is lost.
#include <gtest/gtest.h>

#include "crypto/ec.h"
#include "keybag/record.h"
#include "keybag/test/keybag_test_util.h"

namespace enclave::keybag::testing {
namespace {

using PC = ProtectionClass;

// Stands in for a hardware token: seals with a key that only this object holds, so a second
// instance behaves like a cleared or replaced TPM.
class AeadSealer final : public DeviceSecretSealer {
 public:
  std::string_view name() const override { return "test-aead"; }
  Result<Bytes> Seal(ByteView secret) override {
    Bytes iv = crypto::RandomBytes(12);
    ASSIGN_OR_RETURN(Bytes ct, crypto::AesGcmSeal(key_, iv, {}, secret));
    iv.insert(iv.end(), ct.begin(), ct.end());
    return iv;
  }
  Result<SecureBytes> Unseal(ByteView sealed) override {
    if (sealed.size() < 12) return OSStatusError(errsec::kDecode, "short");
    return crypto::AesGcmOpen(key_, sealed.first(12), {}, sealed.subspan(12));
  }

 private:
  SecureBytes key_ = crypto::RandomSecret(32);
};

const Bytes kAad = ToBytes("attrs");
const Bytes kSecret = ToBytes("secret");

TEST_F(KeybagTest, SealerKeepsTheDeviceSecretOutOfFiles) {
  KeybagOptions o = TestOptions();
  o.sealer = std::make_shared<AeadSealer>();
  Bytes dk;
  {
    auto kb = OpenOrDie(o);
    EXPECT_EQ(kb->State().device_secret_protection, "test-aead");
    EXPECT_EQ(kb->Describe()["device_secret_protection"], "test-aead");
    dk = *kb->Seal(PC::kAlways, kSecret, kAad);
  }
  EXPECT_FALSE(std::filesystem::exists(dir_ / internal::kDeviceSecretFile));
  EXPECT_TRUE(std::filesystem::exists(dir_ / internal::kSealedDeviceSecretFile));
  auto kb = OpenOrDie(o);
  auto opened = kb->Unseal(PC::kAlways, dk, kAad);
  ASSERT_TRUE(opened.ok()) << opened.error().ToString();
  EXPECT_EQ(ToString(opened->view()), ToString(kSecret));
}

TEST_F(KeybagTest, UnsealFailureIsReportedAndRecreateStartsOver) {
  KeybagOptions o = TestOptions();
  o.sealer = std::make_shared<AeadSealer>();
  Bytes dk = *OpenOrDie(o)->Seal(PC::kAlways, kSecret, kAad);

  KeybagOptions replaced = TestOptions();
  replaced.sealer = std::make_shared<AeadSealer>();
  auto failed = Keybag::Open(dir_, replaced);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().domain, domain::kAKS);
  EXPECT_EQ(failed.error().code, aks::kBadDeviceKey);
  EXPECT_EQ(failed.error().effective_cause(), "class-key-lost");
  EXPECT_NE(failed.error().description.find("could not unseal the device secret"), std::string::npos);

  KeybagOptions without = TestOptions();
  EXPECT_FALSE(Keybag::Open(dir_, without).ok()) << "a sealed secret is never replaced silently";

  auto kb = Keybag::Recreate(dir_, replaced);
  ASSERT_TRUE(kb.ok()) << kb.error().ToString();
  auto r = (*kb)->Unseal(PC::kAlways, dk, kAad);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().effective_cause(), "key-blob-corrupt");
  int broken = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir_)) {
    if (e.path().filename().string().find(".broken-") != std::string::npos) ++broken;
  }
  EXPECT_EQ(broken, 2) << "keybag.json and device.secret.sealed moved aside";
  EXPECT_TRUE(Keybag::Open(dir_, replaced).ok());
}

TEST_F(KeybagTest, MissingDeviceSecretIsClassKeyLost) {
  OpenOrDie();
  std::filesystem::remove(dir_ / internal::kDeviceSecretFile);
  auto kb = Keybag::Open(dir_, TestOptions());
  ASSERT_FALSE(kb.ok());
  EXPECT_EQ(kb.error().code, aks::kBadDeviceKey);
  EXPECT_EQ(kb.error().effective_cause(), "class-key-lost");
}

}  // namespace
}  // namespace enclave::keybag::testing
