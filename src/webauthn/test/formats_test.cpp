#include <gtest/gtest.h>

#include <string>

#include "common/bytes.h"
#include "test_keys.h"
#include "webauthn/webauthn.h"

namespace enclave::webauthn {
namespace {

using testing::TestKey;

TEST(Base64Url, RoundTripsAndRefusesPaddingAndStrangers) {
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
    auto text = Base64UrlEncode(AsBytes(s));
    EXPECT_EQ(text.find('='), std::string::npos);
    auto back = Base64UrlDecode(text);
    ASSERT_TRUE(back.ok()) << text;
    EXPECT_EQ(ToString(*back), s);
  }
  EXPECT_EQ(Base64UrlEncode(std::vector<uint8_t>{0xfb, 0xff}), "-_8");
  for (std::string bad : {"Zg==", "Zg=", "Z", "Zm9v+", "Zm9v/", "Zh", "Zm9 v", "Zm9v\n"}) {
    auto r = Base64UrlDecode(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().cause, "malformed");
  }
}

TEST(ClientData, IsTheLimitedVerificationFormByteForByte) {
  std::vector<uint8_t> challenge = {1, 2, 3, 250};
  EXPECT_EQ(
      ClientDataJson(kTypeCreate, challenge, "https://example.com"),
      R"({"type":"webauthn.create","challenge":"AQID-g","origin":"https://example.com","crossOrigin":false})");
  // CCDToString: quote and backslash escaped, control characters as \u00xx, the rest as UTF-8.
  EXPECT_EQ(
      ClientDataJson(kTypeGet, {}, "a\"b\\c\x01\x1f\x7f\xc3\xa9", true),
      "{\"type\":\"webauthn.get\",\"challenge\":\"\",\"origin\":\"a\\\"b\\\\c\\u0001\\u001f\x7f\xc3\xa9\","
      "\"crossOrigin\":true}");
}

TEST(ClientData, ParsesWhatItWritesAndRefusesTheMalformed) {
  std::vector<uint8_t> challenge(32, 7);
  auto text = ClientDataJson(kTypeGet, challenge, "http://localhost:8080");
  auto cd = ParseClientData(AsBytes(text));
  ASSERT_TRUE(cd.ok());
  EXPECT_EQ(cd->type, "webauthn.get");
  EXPECT_EQ(cd->challenge, challenge);
  EXPECT_EQ(cd->origin, "http://localhost:8080");
  EXPECT_FALSE(cd->cross_origin);
  auto extra = ParseClientData(
      AsBytes(R"({"origin":"o","type":"t","challenge":"AA","other":[1,{}],"topOrigin":"x"})"));
  ASSERT_TRUE(extra.ok());
  EXPECT_EQ(extra->top_origin, "x");
  for (std::string bad : std::vector<std::string>{
           "", "[]", "{", R"({"type":"t","challenge":"AA"})", R"({"type":1,"challenge":"AA","origin":"o"})",
           R"({"type":"t","challenge":"AA=","origin":"o"})",
           R"({"type":"t","challenge":"AA","origin":"o","crossOrigin":"no"})",
           "{\"type\":\"t\",\"challenge\":\"AA\",\"origin\":\"\xff\"}",
           R"({"a":)" + std::string(40, '[') + std::string(40, ']') + "}"}) {
    auto r = ParseClientData(AsBytes(bad));
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().cause, "malformed") << bad;
  }
}

AuthenticatorData Sample(const TestKey& key) {
  AuthenticatorData d;
  d.rp_id_hash = Sha256(AsBytes("example.com"));
  d.flags = kFlagUp | kFlagUv;
  d.sign_count = 0x01020304;
  d.attested = AttestedCredential{kEnclaveAaguid, std::vector<uint8_t>(32, 0xab), key.Cose()};
  return d;
}

TEST(AuthenticatorData, EncodesAndParsesStrictly) {
  TestKey key;
  AuthenticatorData d = Sample(key);
  d.extensions_cbor = EncodeExtensions({{"credProtect", {0x01}}, {"a", {0xf5}}});
  auto bytes = Encode(d);
  EXPECT_EQ(bytes[32], kFlagUp | kFlagUv | kFlagAt | kFlagEd);
  auto back = ParseAuthenticatorData(bytes);
  ASSERT_TRUE(back.ok()) << back.error().description;
  EXPECT_EQ(back->sign_count, 0x01020304u);
  EXPECT_EQ(back->attested->credential_id, d.attested->credential_id);
  EXPECT_EQ(back->attested->cose_key, d.attested->cose_key);
  EXPECT_EQ(back->attested->aaguid, kEnclaveAaguid);
  auto ext = ParseExtensions(back->extensions_cbor);
  ASSERT_TRUE(ext.ok());
  EXPECT_EQ(ext->at("credProtect"), std::vector<uint8_t>{0x01});
  // canonical order: "a" before "credProtect"
  EXPECT_EQ(back->extensions_cbor[1], 0x61);

  auto trailing = bytes;
  trailing.push_back(0);
  EXPECT_FALSE(ParseAuthenticatorData(trailing).ok());
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    EXPECT_FALSE(ParseAuthenticatorData(std::span(bytes).first(cut)).ok()) << cut;
  }
  auto no_ed = bytes;
  no_ed[32] &= ~kFlagEd;  // the extensions become trailing bytes
  EXPECT_FALSE(ParseAuthenticatorData(no_ed).ok());
  auto long_id = bytes;
  long_id[37 + 16] = 0x04;  // credential id length 1056
  EXPECT_FALSE(ParseAuthenticatorData(long_id).ok());
}

TEST(AuthenticatorData, AnAssertionIsThirtySevenBytes) {
  AuthenticatorData d;
  d.flags = kFlagUp;
  auto bytes = Encode(d);
  EXPECT_EQ(bytes.size(), 37u);
  EXPECT_TRUE(ParseAuthenticatorData(bytes).ok());
  EXPECT_FALSE(ParseAuthenticatorData(std::span(bytes).first(36)).ok());
}

TEST(AuthenticatorData, DeepCborIsRefusedWithoutRecursion) {
  AuthenticatorData d;
  d.flags = kFlagUp | kFlagEd;
  auto bytes = Encode(d);
  bytes[32] |= kFlagEd;
  bytes.push_back(0xa1);
  bytes.push_back(0x61);
  bytes.push_back('x');
  bytes.insert(bytes.end(), 100000, 0x81);  // arrays a hundred thousand deep
  bytes.push_back(0x00);
  auto r = ParseAuthenticatorData(bytes);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().cause, "malformed");
}

TEST(Cose, Es256IsCanonicalAndOthersAreRefused) {
  std::array<uint8_t, 32> x{}, y{};
  x.fill(1);
  y.fill(2);
  auto cose = EncodeCoseEs256(x, y);
  ASSERT_EQ(cose.size(), 77u);
  EXPECT_EQ(std::vector<uint8_t>(cose.begin(), cose.begin() + 10),
            (std::vector<uint8_t>{0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x58, 0x20}));
  auto parsed = ParseCoseKey(cose);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->x, x);
  // (1,1) is not on the curve
  auto bad_point = ToEvpPkey(*parsed);
  ASSERT_FALSE(bad_point.ok());
  EXPECT_EQ(bad_point.error().cause, "malformed");

  auto edit = [&](size_t at, uint8_t v) {
    auto c = cose;
    c[at] = v;
    return ParseCoseKey(c);
  };
  EXPECT_EQ(edit(4, 0x27).error().cause, "unsupported-algorithm");  // alg -8 (EdDSA)
  EXPECT_EQ(edit(2, 0x01).error().cause, "unsupported-algorithm");  // kty OKP
  EXPECT_EQ(edit(6, 0x02).error().cause, "unsupported-algorithm");  // crv P-384
  EXPECT_EQ(edit(3, 0x01).error().cause, "malformed");              // label 1 twice
  auto trailing = cose;
  trailing.push_back(0);
  EXPECT_FALSE(ParseCoseKey(trailing).ok());
}

TEST(Cose, VerifiesAndRefusesSignatures) {
  TestKey key;
  auto pkey = CoseToEvpPkey(key.Cose());
  ASSERT_TRUE(pkey.ok()) << pkey.error().description;
  std::vector<uint8_t> msg = {1, 2, 3};
  auto sig = key.Sign(msg);
  EXPECT_TRUE(VerifyEs256(pkey->get(), msg, sig));
  msg[0] ^= 1;
  EXPECT_FALSE(VerifyEs256(pkey->get(), msg, sig));
  msg[0] ^= 1;
  auto trailing = sig;
  trailing.push_back(0);
  EXPECT_FALSE(VerifyEs256(pkey->get(), msg, trailing));
  EXPECT_FALSE(VerifyEs256(pkey->get(), msg, {}));
  EXPECT_FALSE(VerifyEs256(nullptr, msg, sig));
}

}  // namespace
}  // namespace enclave::webauthn
