#include "rpclient/options.h"

#include <gtest/gtest.h>

#include "rpclient/relying_party.h"
#include "webauthn/base64url.h"

namespace enclave::rpclient {
namespace {

nlohmann::json Creation() {
  return {{"rp", {{"id", "example.com"}}},
          {"user", {{"id", "dXNlcg"}, {"name", "u"}}},
          {"challenge", webauthn::Base64UrlEncode(Bytes(16, 1))},
          {"pubKeyCredParams", {{{"type", "public-key"}, {"alg", -7}}}}};
}

TEST(Options, RpIdMustBeTheOriginsHostOrAParentDomain) {
  EXPECT_TRUE(ParseCreationOptions(Creation(), "https://example.com").ok());
  EXPECT_TRUE(ParseCreationOptions(Creation(), "https://login.example.com:8443").ok());
  EXPECT_FALSE(ParseCreationOptions(Creation(), "https://badexample.com").ok());
  EXPECT_FALSE(ParseCreationOptions(Creation(), "https://example.org").ok());
}

TEST(Options, OriginMustBeASecureContext) {
  EXPECT_FALSE(OriginHost("http://example.com").ok());
  EXPECT_EQ(*OriginHost("http://localhost:8080"), "localhost");
  EXPECT_EQ(*OriginHost("HTTPS://Example.COM"), "example.com");
  EXPECT_FALSE(OriginHost("https://example.com/path").ok());
  EXPECT_FALSE(OriginHost("example.com").ok());
}

TEST(Options, WrappedInPublicKeyAndDefaults) {
  auto o = ParseCreationOptions({{"publicKey", Creation()}}, "https://example.com");
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->user_verification, "preferred");
  EXPECT_EQ(o->user_id, ToBytes("user"));
  auto no_rp = Creation();
  no_rp.erase("rp");
  auto d = ParseCreationOptions(no_rp, "https://example.com:4443");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->rp_id, "example.com");
}

TEST(Options, Es256MustBeAllowed) {
  auto o = Creation();
  o["pubKeyCredParams"] = {{{"type", "public-key"}, {"alg", -257}}};
  auto r = ParseCreationOptions(o, "https://example.com");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().description.find("-7"), std::string::npos);
}

TEST(Options, BadFieldsAreParamErrors) {
  for (auto edit : std::vector<std::function<void(nlohmann::json&)>>{
           [](nlohmann::json& o) { o["challenge"] = "not base64url!"; },
           [](nlohmann::json& o) { o["challenge"] = "AQID"; },       // 3 bytes
           [](nlohmann::json& o) { o["user"]["id"] = "dXNlcg=="; },  // padding
           [](nlohmann::json& o) { o.erase("user"); },
           [](nlohmann::json& o) {
             o["authenticatorSelection"] = {{"userVerification", "always"}};
           },
           [](nlohmann::json& o) {
             o["excludeCredentials"] = {{{"type", "public-key"}}};
           },
       }) {
    auto o = Creation();
    edit(o);
    auto r = ParseCreationOptions(o, "https://example.com");
    ASSERT_FALSE(r.ok()) << o.dump();
    EXPECT_EQ(r.error().code, errsec::kParam);
  }
}

TEST(Options, RequestOptions) {
  nlohmann::json o{{"challenge", webauthn::Base64UrlEncode(Bytes(32, 2))},
                   {"allowCredentials", {{{"type", "public-key"}, {"id", "AAEC"}}}}};
  auto r = ParseRequestOptions(o, "http://localhost:9");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->rp_id, "localhost");
  ASSERT_EQ(r->allow_credentials.size(), 1u);
  EXPECT_EQ(r->allow_credentials[0], (Bytes{0, 1, 2}));
}

TEST(Options, ServerOrigin) {
  EXPECT_EQ(*OriginOf("http://localhost:8080"), "http://localhost:8080");
  EXPECT_EQ(*OriginOf("https://rp.example.com:8443/base/"), "https://rp.example.com:8443");
  EXPECT_EQ(JoinUrl("https://rp.example.com/base/", "/v1/x"), "https://rp.example.com/base/v1/x");
}

}  // namespace
}  // namespace enclave::rpclient
