// The enclave as a WebAuthn authenticator, checked with the relying party's own parsers and
// verifiers (src/webauthn): what a server would accept, and what it must refuse.
#include "rpclient/authenticator.h"

#include <gtest/gtest.h>

#include "crypto/ec.h"
#include "rpclient/credential.h"
#include "rpclient/device_key.h"
#include "rpclient/test/fixture.h"
#include "webauthn/webauthn.h"

namespace enclave::rpclient {
namespace {

constexpr char kOrigin[] = "https://example.com";

std::string B64(ByteView b) { return webauthn::Base64UrlEncode(b); }
Bytes D64(const nlohmann::json& s) { return *webauthn::Base64UrlDecode(s.get<std::string>()); }

nlohmann::json CreationOptionsJson(const std::string& uv = "required", const std::string& user = "alice") {
  return {{"rp", {{"id", "example.com"}, {"name", "Example"}}},
          {"user", {{"id", B64(AsBytes(user + "-handle"))}, {"name", user}, {"displayName", user}}},
          {"challenge", B64(Bytes(32, 0x5a))},
          {"pubKeyCredParams", {{{"type", "public-key"}, {"alg", -7}}}},
          {"authenticatorSelection", {{"userVerification", uv}}},
          {"attestation", "direct"}};
}

nlohmann::json RequestOptionsJson(const Bytes& credential_id) {
  return {{"rpId", "example.com"},
          {"challenge", B64(Bytes(32, 0x33))},
          {"allowCredentials", {{{"type", "public-key"}, {"id", B64(credential_id)}}}},
          {"userVerification", "required"}};
}

Bytes ClientDataHash(const nlohmann::json& credential) {
  const auto h = webauthn::Sha256(D64(credential["response"]["clientDataJSON"]));
  return Bytes(h.begin(), h.end());
}

class AuthenticatorTest : public testing::HomeTest {};

TEST_F(AuthenticatorTest, RegistrationIsPackedSelfAttestedWithTheDeviceProof) {
  Simulator();
  Authenticator a(api());
  auto reg = a.Create(CreationOptionsJson(), kOrigin, {});
  ASSERT_TRUE(reg.ok()) << reg.error().ToString();
  const auto& c = reg->credential;
  EXPECT_EQ(c["id"], c["rawId"]);
  EXPECT_EQ(c["type"], "public-key");
  EXPECT_EQ(c["authenticatorAttachment"], "platform");
  EXPECT_EQ(c["response"]["transports"], nlohmann::json({"internal"}));

  auto cd = webauthn::ParseClientData(D64(c["response"]["clientDataJSON"]));
  ASSERT_TRUE(cd.ok());
  EXPECT_EQ(cd->type, "webauthn.create");
  EXPECT_EQ(cd->origin, kOrigin);
  EXPECT_EQ(cd->challenge, Bytes(32, 0x5a));

  auto att = webauthn::ParseAttestationObject(D64(c["response"]["attestationObject"]));
  ASSERT_TRUE(att.ok()) << att.error().ToString();
  EXPECT_EQ(att->fmt, "packed");
  auto type = webauthn::VerifyAttestation(*att, ClientDataHash(c));
  ASSERT_TRUE(type.ok()) << type.error().ToString();
  EXPECT_EQ(*type, webauthn::AttestationType::kSelf);

  const auto& ad = att->auth_data;
  EXPECT_EQ(ad.flags, webauthn::kFlagUp | webauthn::kFlagUv | webauthn::kFlagAt | webauthn::kFlagEd);
  EXPECT_EQ(ad.sign_count, 0u);
  EXPECT_EQ(ad.rp_id_hash, webauthn::Sha256(AsBytes("example.com")));
  ASSERT_TRUE(ad.attested);
  EXPECT_EQ(ad.attested->aaguid, webauthn::kEnclaveAaguid);
  EXPECT_EQ(ad.attested->credential_id, D64(c["rawId"]));
  EXPECT_EQ(ad.attested->credential_id, crypto::Digest(crypto::Hash::kSha256, reg->key.public_key_x963));

  auto proof = webauthn::FindDeviceProof(ad);
  ASSERT_TRUE(proof.ok() && *proof);
  EXPECT_TRUE(webauthn::VerifyDeviceProof(**proof, ad));
  EXPECT_FALSE((*proof)->replaces);

  // The key: application label = user handle, default access control, record in the tag.
  EXPECT_EQ(reg->key.application_label, ToBytes("alice-handle"));
  EXPECT_EQ(reg->key.access_control, (std::vector<std::string>{"biometry-any", "private-key-usage"}));
  auto record = DecodeRecord(reg->key.application_tag);
  ASSERT_TRUE(record);
  EXPECT_EQ(record->rp_id, "example.com");
  EXPECT_EQ(record->user_name, "alice");

  // Tampering with the signed bytes is caught by the verifier.
  auto bad = *att;
  bad.sig.back() ^= 1;
  EXPECT_FALSE(webauthn::VerifyAttestation(bad, ClientDataHash(c)).ok());
}

TEST_F(AuthenticatorTest, TheDeviceKeyIsOneAndTheSameForEveryRegistration) {
  Authenticator a(api());
  auto r1 = a.Create(CreationOptionsJson("preferred", "u1"), kOrigin, {});
  auto r2 = a.Create(CreationOptionsJson("preferred", "u2"), kOrigin, {});
  ASSERT_TRUE(r1.ok() && r2.ok());
  auto p1 = webauthn::FindDeviceProof(
      webauthn::ParseAttestationObject(D64(r1->credential["response"]["attestationObject"]))->auth_data);
  auto p2 = webauthn::FindDeviceProof(
      webauthn::ParseAttestationObject(D64(r2->credential["response"]["attestationObject"]))->auth_data);
  ASSERT_TRUE(p1.ok() && *p1 && p2.ok() && *p2);
  EXPECT_EQ((*p1)->device_key, (*p2)->device_key);
  KeyQuery q;
  q.application_label = ToBytes(kDeviceKeyLabel);
  q.match_all = true;
  auto keys = api().FindKeys(q);
  ASSERT_TRUE(keys.ok());
  ASSERT_EQ(keys->size(), 1u);
  EXPECT_EQ((*keys)[0].accessible, "after-first-unlock-this-device-only");
  EXPECT_EQ((*keys)[0].access_control, std::vector<std::string>{"private-key-usage"});
  // Without UV required: no biometry, no UV flag.
  EXPECT_EQ(r1->key.access_control, std::vector<std::string>{"private-key-usage"});
  auto ad = webauthn::ParseAttestationObject(D64(r1->credential["response"]["attestationObject"]))->auth_data;
  EXPECT_EQ(ad.flags & webauthn::kFlagUv, 0);
}

TEST_F(AuthenticatorTest, AssertionVerifiesUnderTheRegisteredKey) {
  Simulator();
  Authenticator a(api());
  auto reg = a.Create(CreationOptionsJson(), kOrigin, {});
  ASSERT_TRUE(reg.ok()) << reg.error().ToString();
  auto as = a.Get(RequestOptionsJson(D64(reg->credential["rawId"])), kOrigin);
  ASSERT_TRUE(as.ok()) << as.error().ToString();
  const auto& r = as->credential["response"];
  EXPECT_EQ(as->credential["rawId"], reg->credential["rawId"]);
  EXPECT_EQ(r["userHandle"], B64(AsBytes("alice-handle")));
  const Bytes auth_data = D64(r["authenticatorData"]);
  auto ad = webauthn::ParseAuthenticatorData(auth_data);
  ASSERT_TRUE(ad.ok());
  EXPECT_EQ(ad->flags, webauthn::kFlagUp | webauthn::kFlagUv);
  Bytes signed_part = auth_data;
  const Bytes hash = ClientDataHash(as->credential);
  signed_part.insert(signed_part.end(), hash.begin(), hash.end());
  auto cose = webauthn::EncodeCoseEs256FromX962(reg->key.public_key_x963);
  auto pkey = webauthn::CoseToEvpPkey(*cose);
  ASSERT_TRUE(pkey.ok());
  EXPECT_TRUE(webauthn::VerifyEs256(pkey->get(), signed_part, D64(r["signature"])));
  Bytes sig = D64(r["signature"]);
  sig.back() ^= 1;
  EXPECT_FALSE(webauthn::VerifyEs256(pkey->get(), signed_part, sig));
}

TEST_F(AuthenticatorTest, NoMatchFailsAndLeavesNoKey) {
  Simulator("no-match");
  Authenticator a(api());
  auto reg = a.Create(CreationOptionsJson(), kOrigin, {});
  ASSERT_FALSE(reg.ok());
  EXPECT_TRUE(reg.error().prompted.value_or(false)) << reg.error().ToString();
  KeyQuery q;
  q.application_label = ToBytes("alice-handle");
  auto keys = api().FindKeys(q);
  EXPECT_TRUE(!keys.ok() || keys->empty());
}

TEST_F(AuthenticatorTest, ExcludedCredentialIsRefused) {
  Authenticator a(api());
  auto reg = a.Create(CreationOptionsJson("preferred"), kOrigin, {});
  ASSERT_TRUE(reg.ok());
  auto again = CreationOptionsJson("preferred");
  again["user"]["id"] = B64(AsBytes("another-handle"));
  again["excludeCredentials"] = {{{"type", "public-key"}, {"id", reg->credential["rawId"]}}};
  auto r = a.Create(again, kOrigin, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, errsec::kDuplicateItem);
}

TEST_F(AuthenticatorTest, UnknownCredentialIsItemNotFound) {
  Authenticator a(api());
  auto r = a.Get(RequestOptionsJson(Bytes(32, 7)), kOrigin);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, errsec::kItemNotFound);
}

TEST_F(AuthenticatorTest, UserVerificationRequiredNeedsAKeyThatVerifies) {
  Authenticator a(api());
  CreateParams p;
  p.access_control = std::vector<std::string>{"private-key-usage"};
  auto r = a.Create(CreationOptionsJson("required"), kOrigin, p);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, errsec::kParam);
}

TEST_F(AuthenticatorTest, ReplacementNamesTheOldCredentialAndTheCause) {
  Authenticator a(api());
  auto reg = a.Create(CreationOptionsJson("preferred"), kOrigin, {});
  ASSERT_TRUE(reg.ok());
  auto o = ParseCreationOptions(CreationOptionsJson("preferred"), kOrigin);
  ASSERT_TRUE(o.ok());
  const Bytes old_id(32, 9);
  auto re = a.Register(reg->key, *o, kOrigin, Replacement{old_id, "biometry-database-reset"});
  ASSERT_TRUE(re.ok()) << re.error().ToString();
  auto att = webauthn::ParseAttestationObject(D64(re->credential["response"]["attestationObject"]));
  ASSERT_TRUE(att.ok());
  auto proof = webauthn::FindDeviceProof(att->auth_data);
  ASSERT_TRUE(proof.ok() && *proof);
  EXPECT_EQ((*proof)->replaces, old_id);
  EXPECT_EQ((*proof)->cause, "biometry-database-reset");
  EXPECT_TRUE(webauthn::VerifyDeviceProof(**proof, att->auth_data));
}

}  // namespace
}  // namespace enclave::rpclient
