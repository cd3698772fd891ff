#include "common/explain.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "common/error.h"

namespace enclave::explain {
namespace {

bool HasCode(const Explanation& e, const std::string& domain, int64_t code) {
  return std::any_of(e.codes.begin(), e.codes.end(),
                     [&](const DecodedCode& c) { return c.domain == domain && c.code == code; });
}

constexpr char kFieldReport[] =
    "Error Domain=CryptoTokenKit Code=-3 \"<sepk:p256 kid=1214c04d05261ee3>: unable to sign digest\" "
    "UserInfo={NSDebugDescription=<sepk:p256 kid=1214c04d05261ee3>: unable to sign digest, "
    "AKSError=-536362999}";

TEST(ExplainTest, FieldReportDecodesTokenErrorAndKeystorePolicyInvalid) {
  const Explanation e = Explain(kFieldReport);
  ASSERT_EQ(e.codes.size(), 2u);
  EXPECT_EQ(e.codes[0].domain, "CryptoTokenKit");
  EXPECT_EQ(e.codes[0].code, -3);
  EXPECT_EQ(e.codes[0].name, "TKErrorCodeCorruptedData");
  EXPECT_EQ(e.codes[1].domain, "AKS");
  EXPECT_EQ(e.codes[1].code, -536362999);
  EXPECT_EQ(e.codes[1].name, "kAKSReturnPolicyInvalid");
  ASSERT_TRUE(e.kid.has_value());
  EXPECT_EQ(*e.kid, "1214c04d05261ee3");
  ASSERT_TRUE(e.cause.has_value());
  EXPECT_EQ(e.cause->id, "biometry-database-reset");
  EXPECT_EQ(e.cause->permanence, "permanent");
  EXPECT_EQ(e.remedy, "reenroll");

  const auto j = ToJson(e);
  EXPECT_EQ(j["remedy"], "reenroll");
  EXPECT_EQ(j["codes"][1]["code"], -536362999);
  EXPECT_EQ(j["codes"][0]["causes"][0]["id"], "key-blob-corrupt");
  EXPECT_EQ(j["kid"], "1214c04d05261ee3");
  EXPECT_NE(ToText(e).find("reenroll"), std::string::npos);
}

TEST(ExplainTest, LocalAuthenticationCancel) {
  const Explanation e = Explain("Error Domain=com.apple.LocalAuthentication Code=-2 \"Canceled by user.\"");
  ASSERT_EQ(e.codes.size(), 1u);
  EXPECT_EQ(e.codes[0].name, "LAErrorUserCancel");
  EXPECT_EQ(e.remedy, "authenticate");
}

TEST(ExplainTest, OsStatusDomainWithCode) {
  const Explanation e = Explain("Error Domain=NSOSStatusErrorDomain Code=-25300 \"no matching items found\"");
  ASSERT_EQ(e.codes.size(), 1u);
  EXPECT_EQ(e.codes[0].name, "errSecItemNotFound");
  EXPECT_EQ(e.cause->id, "item-not-found");
}

TEST(ExplainTest, OsStatusErrorSentence) {
  const Explanation e = Explain("The operation couldn't be completed. (OSStatus error -25293.)");
  ASSERT_EQ(e.codes.size(), 1u);
  EXPECT_EQ(e.codes[0].domain, "OSStatus");
  EXPECT_EQ(e.codes[0].name, "errSecAuthFailed");
}

TEST(ExplainTest, LockedScreenWithNoPermission) {
  // Platform-semantics §6 case 5: a locked Mac with a when-unlocked key.
  const Explanation e = Explain(
      "Error Domain=NSOSStatusErrorDomain Code=-25308 \"<sepk:p256(u) kid=0a1b2c3d4e5f6071>: unable to sign "
      "digest\" "
      "UserInfo={NSDebugDescription=unable to sign digest, AKSError=-536870174}");
  EXPECT_TRUE(HasCode(e, "OSStatus", -25308));
  EXPECT_TRUE(HasCode(e, "AKS", -536870174));
  EXPECT_EQ(e.cause->id, "device-locked");
  EXPECT_EQ(e.remedy, "unlock");
  EXPECT_EQ(*e.kid, "0a1b2c3d4e5f6071");
}

TEST(ExplainTest, SharedSecretPolicyInvalidFromIos) {
  const Explanation e = Explain(
      "Error Domain=CryptoTokenKit Code=-3 \"<sepk:p256(d) kid=9f00aa11bb22cc33>: unable to compute shared "
      "secret\" "
      "UserInfo={AKSError=-536362999}");
  EXPECT_TRUE(HasCode(e, "AKS", -536362999));
  EXPECT_EQ(e.remedy, "reenroll");
}

TEST(ExplainTest, SymbolicNames) {
  EXPECT_EQ(Explain("errSecItemNotFound").codes.at(0).code, -25300);
  EXPECT_EQ(Explain("failed with LAErrorBiometryLockout.").codes.at(0).code, -8);
  EXPECT_EQ(Explain("TKErrorCodeCorruptedData").codes.at(0).code, -3);
  EXPECT_EQ(Explain("LAErrorTouchIDNotEnrolled").codes.at(0).name, "LAErrorBiometryNotEnrolled");
  const Explanation swift = Explain("caught LAError.Code.userCancel");
  ASSERT_EQ(swift.codes.size(), 1u);
  EXPECT_EQ(swift.codes[0].name, "LAErrorUserCancel");
  EXPECT_EQ(Explain("kAKSReturnBadDeviceKey").codes.at(0).code, -536363001);
}

TEST(ExplainTest, HexKeystoreReturn) {
  const Explanation e = Explain("aks_ref_key_decrypt returned 0xe007c009");
  ASSERT_EQ(e.codes.size(), 1u);
  EXPECT_EQ(e.codes[0].name, "kAKSReturnPolicyInvalid");
  EXPECT_EQ(e.remedy, "reenroll");
}

TEST(ExplainTest, UnsignedDecimalIsReadAsSigned32) {
  const Explanation e = Explain("AKSError=3758604297");  // 0xe007c009
  ASSERT_EQ(e.codes.size(), 1u);
  EXPECT_EQ(e.codes[0].code, -536362999);
}

TEST(ExplainTest, BareNumberPrefersOsStatus) {
  const Explanation e = Explain("-25299");
  ASSERT_EQ(e.codes.size(), 1u);
  EXPECT_EQ(e.codes[0].name, "errSecDuplicateItem");
}

TEST(ExplainTest, TightLoopInternalError) {
  // Platform-semantics §6 case 7.
  const Explanation e = Explain("Key generation failed, error: -26276");
  ASSERT_EQ(e.codes.size(), 1u);
  EXPECT_EQ(e.codes[0].name, "errSecInternal");
  EXPECT_EQ(e.remedy, "report");
}

TEST(ExplainTest, MissingEntitlement) {
  const Explanation e = Explain("SecKeyCreateRandomKey: OSStatus -34018");
  ASSERT_EQ(e.codes.size(), 1u);
  EXPECT_EQ(e.codes[0].name, "errSecMissingEntitlement");
}

TEST(ExplainTest, VerifyFailed) {
  const Explanation e =
      Explain("Error Domain=NSOSStatusErrorDomain Code=-67808 \"EC signature verification failed\"");
  EXPECT_EQ(e.codes.at(0).name, "errSecVerifyFailed");
}

TEST(ExplainTest, TpmResponseCodes) {
  const Explanation lockout = Explain("Esys_Sign ErrorCode (0x00000921)");
  ASSERT_EQ(lockout.codes.size(), 1u);
  EXPECT_EQ(lockout.codes[0].name, "TPM_RC_LOCKOUT");
  EXPECT_EQ(lockout.cause->id, "tpm-lockout");
  // Format-one code with a session number: 0x98e is TPM_RC_AUTH_FAIL on session 1.
  EXPECT_EQ(Explain("tpm:session(1): Esys_Load ErrorCode (0x0000098e)").codes.at(0).name, "TPM_RC_AUTH_FAIL");
  // Loading a blob under a cleared TPM: integrity failure on parameter 1 (0x1df).
  const Explanation cleared = Explain("Esys_Load ErrorCode (0x000001df)");
  EXPECT_EQ(cleared.codes.at(0).name, "TPM_RC_INTEGRITY");
  EXPECT_EQ(cleared.cause->permanence, "permanent");
  EXPECT_EQ(Explain("TPM2_RC_OBJECT_MEMORY").codes.at(0).code, 0x902);
}

TEST(ExplainTest, OurOwnJsonErrorWithUnderlyingChain) {
  Error inner = KeystoreError(aks::kPolicyInvalid, "policy invalid");
  inner.cause = "biometry-set-changed";
  Error outer = inner.Wrap(domain::kCryptoTokenKit, tkerror::kCorruptedData,
                           "<sepk:p256 kid=00112233aabbccdd>: unable to sign digest");
  outer.user_info["AKSError"] = aks::kPolicyInvalid;
  outer.prompted = false;
  const nlohmann::json pasted{{"error", outer.ToJson()}, {"prompted", false}};
  const Explanation e = Explain(pasted.dump());
  EXPECT_TRUE(HasCode(e, "CryptoTokenKit", -3));
  EXPECT_TRUE(HasCode(e, "AKS", -536362999));
  EXPECT_EQ(e.cause->id, "biometry-set-changed");  // the explicit cause wins
  EXPECT_EQ(e.remedy, "reenroll");
  EXPECT_EQ(*e.kid, "00112233aabbccdd");
}

TEST(ExplainTest, UnknownDomainIsNotMistakenForOurs) {
  const Explanation e = Explain("Error Domain=NSCocoaErrorDomain Code=-1 \"whatever\"");
  EXPECT_FALSE(e.recognized());
}

TEST(ExplainTest, UnknownInputSaysSoHonestly) {
  for (const char* text :
       {"", "hello world", "it broke on Tuesday", "{\"not\":\"an error\"}", "Code=12345"}) {
    const Explanation e = Explain(text);
    EXPECT_FALSE(e.recognized()) << text;
    EXPECT_NE(e.summary.find("No error code"), std::string::npos);
    EXPECT_TRUE(ToJson(e)["remedy"].is_null());
    EXPECT_TRUE(ToJson(e)["codes"].empty());
  }
}

TEST(ExplainTest, EveryCatalogNameIsRecognisedByName) {
  for (const auto& c : catalog::AllCodes()) {
    const Explanation e = Explain(c.name);
    ASSERT_FALSE(e.codes.empty()) << c.name;
    EXPECT_EQ(e.codes[0].name, c.name);
  }
}

TEST(ExplainTest, HugeInputIsCutNotChoked) {
  std::string big(1 << 20, 'x');
  big += " errSecParam";
  const Explanation e = Explain(big);
  EXPECT_LE(e.input.size(), 64u * 1024u);
}

}  // namespace
}  // namespace enclave::explain
