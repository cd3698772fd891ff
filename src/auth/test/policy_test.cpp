#include "auth/policy.h"

#include <gtest/gtest.h>

namespace enclave::auth {
namespace {

Error FromNamesError(const std::vector<std::string>& names, bool token = true) {
  auto p = AccessPolicy::FromNames(names, token);
  EXPECT_FALSE(p.ok()) << "accepted";
  return p.ok() ? Error{} : p.error();
}

TEST(PolicyTest, FieldReportFlagsAreAccepted) {
  auto p = AccessPolicy::FromNames({"private-key-usage", "biometry-any"});
  ASSERT_TRUE(p.ok()) << p.error().ToString();
  EXPECT_EQ(p->flags, flag::kPrivateKeyUsage | flag::kBiometryAny);
  EXPECT_EQ(p->Names(), (std::vector<std::string>{"biometry-any", "private-key-usage"}));
  EXPECT_TRUE(p->needs_biometry());
  EXPECT_TRUE(p->has_constraints());
}

TEST(PolicyTest, UnknownNameIsParamError) {
  Error e = FromNamesError({"biometry-any", "face-id"});
  EXPECT_EQ(e.domain, domain::kOSStatus);
  EXPECT_EQ(e.code, errsec::kParam);
  EXPECT_NE(e.description.find("face-id"), std::string::npos);
}

TEST(PolicyTest, OrAndAndTogetherAreRefused) {
  Error e = FromNamesError({"biometry-any", "device-passcode", "or", "and"});
  EXPECT_EQ(e.code, errsec::kParam);
  EXPECT_NE(e.description.find("'or' and 'and'"), std::string::npos);
}

TEST(PolicyTest, BothBiometryFlagsAreRefused) {
  Error e = FromNamesError({"biometry-any", "biometry-current-set"});
  EXPECT_EQ(e.code, errsec::kParam);
  EXPECT_NE(e.description.find("biometry-current-set"), std::string::npos);
}

TEST(PolicyTest, UserPresenceCombinesOnlyWithPasswordAndKeyUsage) {
  for (const char* other : {"biometry-any", "biometry-current-set", "device-passcode", "or", "and"}) {
    Error e = FromNamesError({"user-presence", other});
    EXPECT_EQ(e.code, errsec::kParam) << other;
    EXPECT_NE(e.description.find("user-presence"), std::string::npos) << other;
  }
  EXPECT_TRUE(AccessPolicy::FromNames({"user-presence", "private-key-usage", "application-password"}).ok());
}

TEST(PolicyTest, PrivateKeyUsageOnlyForTokenKeys) {
  Error e = FromNamesError({"private-key-usage"}, /*token=*/false);
  EXPECT_EQ(e.code, errsec::kParam);
  EXPECT_NE(e.description.find("private-key-usage"), std::string::npos);
  EXPECT_TRUE(AccessPolicy::FromNames({"device-passcode"}, false).ok());
}

TEST(PolicyTest, CombinationFlagWithOneConstraintIsAcceptedAsOnThePhone) {
  EXPECT_TRUE(AccessPolicy::FromNames({"biometry-any", "or"}).ok());
  EXPECT_TRUE(AccessPolicy::FromNames({"and"}).ok());
}

TEST(PolicyTest, NoFlagsHasNoConstraints) {
  auto p = AccessPolicy::FromNames({"private-key-usage"});
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p->has_constraints());
  EXPECT_FALSE(p->needs_biometry());
}

TEST(PolicyTest, NamesAreCanonicalWhateverTheInputOrder) {
  auto p = AccessPolicy::FromNames({"application-password", "or", "device-passcode", "biometry-current-set"});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->Names(), (std::vector<std::string>{"biometry-current-set", "device-passcode", "or",
                                                  "application-password"}));
}

TEST(PolicyTest, SerializeIsCanonicalAndRoundTrips) {
  auto p = AccessPolicy::FromNames({"biometry-current-set", "private-key-usage"});
  ASSERT_TRUE(p.ok());
  p->biometry_database_id = "ab12";
  p->biometry_set_hash = "cd34";
  const std::string text = p->Serialize();
  EXPECT_EQ(text, R"({"v":1,"flags":1073741832,"bio_db":"ab12","bio_set":"cd34","app_pw":""})");
  auto back = AccessPolicy::Deserialize(text);
  ASSERT_TRUE(back.ok()) << back.error().ToString();
  EXPECT_EQ(back->flags, p->flags);
  EXPECT_EQ(back->biometry_database_id, "ab12");
  EXPECT_EQ(back->biometry_set_hash, "cd34");
  EXPECT_EQ(back->Serialize(), text);
}

TEST(PolicyTest, DeserializeIsStrict) {
  const char* bad[] = {
      "",
      "garbage",
      "[]",
      R"({"v":2,"flags":0,"bio_db":"","bio_set":"","app_pw":""})",
      R"({"flags":0,"bio_db":"","bio_set":"","app_pw":""})",
      R"({"v":1,"flags":-1,"bio_db":"","bio_set":"","app_pw":""})",
      R"({"v":1,"flags":4294967296,"bio_db":"","bio_set":"","app_pw":""})",
      R"({"v":1,"flags":"2","bio_db":"","bio_set":"","app_pw":""})",
      R"({"v":1,"flags":0,"bio_db":1,"bio_set":"","app_pw":""})",
      R"({"v":1,"flags":0,"bio_db":"","bio_set":""})",
      R"({"v":1,"flags":0,"bio_db":"","bio_set":"","app_pw":"","extra":1})",
      R"({"v":1,"flags":32,"bio_db":"","bio_set":"","app_pw":""})",     // unknown bit (companion)
      R"({"v":1,"flags":49152,"bio_db":"","bio_set":"","app_pw":""})",  // or + and
      R"({"v":1,"flags":10,"bio_db":"","bio_set":"","app_pw":""})",     // both biometry flags
  };
  for (const char* text : bad) {
    auto p = AccessPolicy::Deserialize(text);
    ASSERT_FALSE(p.ok()) << text;
    EXPECT_EQ(p.error().code, errsec::kParam) << text;
  }
}

TEST(PolicyTest, DescribeFollowsThePlatformAclShape) {
  auto p = AccessPolicy::FromNames({"private-key-usage", "biometry-any"});
  ASSERT_TRUE(p.ok());
  p->biometry_database_id = "00ff";
  EXPECT_EQ(p->Describe("aku"),
            "aku;osgn(cbio(pbioc(00FF)));ock(cbio(pbioc(00FF)));okd(cbio(pbioc(00FF)));oa(true);odel(true)");

  auto current = AccessPolicy::FromNames({"private-key-usage", "biometry-current-set"});
  ASSERT_TRUE(current.ok());
  current->biometry_database_id = "aa";
  current->biometry_set_hash = "bb";
  EXPECT_NE(current->Describe("akpu").find("osgn(cbio(pbioc(AA)pbioh(BB)))"), std::string::npos);

  auto plain = AccessPolicy::FromNames({"private-key-usage"});
  EXPECT_EQ(plain->Describe("aku"), "aku;osgn(true);ock(true);okd(true);oa(true);odel(true)");
  EXPECT_EQ(AccessPolicy{}.Describe("ck"), "ck;dacl(true)");

  auto either = AccessPolicy::FromNames({"biometry-any", "device-passcode", "or", "application-password"});
  EXPECT_EQ(either->Describe("ak"), "ak;od(pkofn(1)cup(true)cbio(pbioc()));oe(true);odel(true);prp(true)");
  auto both = AccessPolicy::FromNames({"biometry-any", "device-passcode", "private-key-usage"});
  EXPECT_NE(both->Describe("aku").find("osgn(pkofn(2)cup(true)cbio(pbioc()))"), std::string::npos);
  auto presence = AccessPolicy::FromNames({"user-presence"});
  EXPECT_EQ(presence->Describe("ak"), "ak;od(cpol(DeviceOwnerAuthentication));oe(true);odel(true)");
}

TEST(PolicyTest, ApplicationPasswordHashIsSaltedAndChecked) {
  AccessPolicy p;
  p.application_password_hash = AccessPolicy::HashApplicationPassword(AsBytes("correct horse"));
  EXPECT_EQ(p.application_password_hash.find("correct"), std::string::npos);
  EXPECT_NE(p.application_password_hash, AccessPolicy::HashApplicationPassword(AsBytes("correct horse")));
  EXPECT_TRUE(p.ApplicationPasswordMatches(AsBytes("correct horse")));
  EXPECT_FALSE(p.ApplicationPasswordMatches(AsBytes("correct horsE")));
  p.application_password_hash = "pbkdf2-sha256$x$00$00";
  EXPECT_FALSE(p.ApplicationPasswordMatches(AsBytes("correct horse")));
}

}  // namespace
}  // namespace enclave::auth
