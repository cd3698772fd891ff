#include <gtest/gtest.h>

#include "common/bytes.h"
#include "test_keys.h"
#include "webauthn/webauthn.h"

namespace enclave::webauthn {
namespace {

using testing::Concat;
using testing::TestKey;

struct Registration {
  std::vector<uint8_t> auth_data;
  std::array<uint8_t, 32> cdh;
  std::vector<uint8_t> object;
};

Registration PackedSelf(const TestKey& key, const Extensions& ext = {}) {
  AuthenticatorData d;
  d.rp_id_hash = Sha256(AsBytes("localhost"));
  d.flags = kFlagUp | kFlagUv;
  d.attested = AttestedCredential{kEnclaveAaguid, std::vector<uint8_t>(16, 0x11), key.Cose()};
  if (!ext.empty()) d.extensions_cbor = EncodeExtensions(ext);
  Registration r;
  r.auth_data = Encode(d);
  r.cdh = Sha256(AsBytes(ClientDataJson(kTypeCreate, std::vector<uint8_t>(32, 1), "http://localhost")));
  auto sig = key.Sign(Concat(r.auth_data, r.cdh));
  r.object = EncodeAttestationObject(kFmtPacked, EncodePackedSelfStatement(sig), r.auth_data);
  return r;
}

TEST(Attestation, PackedSelfVerifies) {
  TestKey key;
  auto reg = PackedSelf(key);
  auto att = ParseAttestationObject(reg.object);
  ASSERT_TRUE(att.ok()) << att.error().description;
  EXPECT_EQ(att->fmt, "packed");
  EXPECT_EQ(att->auth_data_bytes, reg.auth_data);
  auto type = VerifyAttestation(*att, reg.cdh);
  ASSERT_TRUE(type.ok()) << type.error().description;
  EXPECT_EQ(*type, AttestationType::kSelf);
  // any other client data hash, or an altered signature, is refused
  auto other = reg.cdh;
  other[0] ^= 1;
  EXPECT_EQ(VerifyAttestation(*att, other).error().cause, "signature-invalid");
  auto bad = reg.object;
  // the object ends with the authData: a bit of its signCount changes the signed bytes only
  bad[bad.size() - reg.auth_data.size() + 33] ^= 1;
  auto parsed_bad = ParseAttestationObject(bad);
  ASSERT_TRUE(parsed_bad.ok());
  EXPECT_EQ(VerifyAttestation(*parsed_bad, reg.cdh).error().cause, "signature-invalid");
}

TEST(Attestation, NoneAndUnknownFormats) {
  TestKey key;
  auto reg = PackedSelf(key);
  auto none = ParseAttestationObject(EncodeAttestationObject(kFmtNone, EncodeNoneStatement(), reg.auth_data));
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*VerifyAttestation(*none, reg.cdh), AttestationType::kNone);
  auto tpm = ParseAttestationObject(EncodeAttestationObject("tpm", EncodeNoneStatement(), reg.auth_data));
  ASSERT_TRUE(tpm.ok());
  EXPECT_EQ(VerifyAttestation(*tpm, reg.cdh).error().cause, "attestation-unsupported");
  // none with a statement, packed without one, and a missing key are malformed
  EXPECT_FALSE(
      ParseAttestationObject(EncodeAttestationObject(
                                 kFmtNone, EncodePackedSelfStatement(std::vector<uint8_t>{1}), reg.auth_data))
          .ok());
  EXPECT_FALSE(
      ParseAttestationObject(EncodeAttestationObject(kFmtPacked, EncodeNoneStatement(), reg.auth_data)).ok());
  auto obj = reg.object;
  obj[0] = 0xa2;
  EXPECT_FALSE(ParseAttestationObject(obj).ok());
}

TEST(DeviceProof, SignsTheCredentialAndItsReplacement) {
  TestKey credential, device;
  AuthenticatorData d;
  d.rp_id_hash = Sha256(AsBytes("localhost"));
  d.flags = kFlagUp | kFlagUv;
  d.attested = AttestedCredential{kEnclaveAaguid, std::vector<uint8_t>(16, 0x22), credential.Cose()};
  std::vector<uint8_t> replaces(32, 0x33);
  auto message = DeviceProofMessage(d.rp_id_hash, d.attested->credential_id, d.attested->cose_key, replaces,
                                    "biometry-database-reset");
  ASSERT_TRUE(message.ok());
  DeviceProof proof{device.Cose(), device.Sign(*message), replaces, "biometry-database-reset"};
  d.extensions_cbor = EncodeExtensions({{kDeviceExtension, EncodeDeviceProof(proof)}});
  auto bytes = Encode(d);
  auto parsed = ParseAuthenticatorData(bytes);
  ASSERT_TRUE(parsed.ok()) << parsed.error().description;
  auto found = FindDeviceProof(*parsed);
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->device_key, device.Cose());
  EXPECT_EQ((*found)->replaces, replaces);
  EXPECT_EQ((*found)->cause, "biometry-database-reset");
  EXPECT_TRUE(VerifyDeviceProof(**found, *parsed));
  // the same proof does not vouch for another credential, nor for no replacement
  auto moved = *parsed;
  moved.attested->credential_id[0] ^= 1;
  EXPECT_FALSE(VerifyDeviceProof(**found, moved));
  auto unreplaced = **found;
  unreplaced.replaces.reset();
  EXPECT_FALSE(VerifyDeviceProof(unreplaced, *parsed));
  // the message is length-prefixed throughout
  auto m = *DeviceProofMessage(d.rp_id_hash, std::vector<uint8_t>{1}, std::vector<uint8_t>{2}, {}, "");
  std::string label = "enclave-device-proof-v1";
  ASSERT_EQ(m.size(), label.size() + 1 + 32 + 3 + 3 + 2 + 2);
  EXPECT_EQ(m[label.size()], 0);
  auto dead = *DeadReportMessage(std::vector<uint8_t>{9, 9}, "x");
  EXPECT_EQ(dead, Concat(AsBytes(std::string("enclave-dead-report-v1") + '\0'),
                         std::vector<uint8_t>{0, 2, 9, 9, 0, 1, 'x'}));
}

TEST(DeviceProof, MalformedProofsAreRefused) {
  TestKey device;
  auto ok = EncodeDeviceProof({device.Cose(), {0x30}, std::nullopt, std::nullopt});
  EXPECT_TRUE(ParseDeviceProof(ok).ok());
  EXPECT_FALSE(
      ParseDeviceProof(EncodeDeviceProof({device.Cose(), {0x30}, std::vector<uint8_t>{}, std::nullopt}))
          .ok());
  EXPECT_FALSE(ParseDeviceProof(EncodeDeviceProof({device.Cose(), {0x30}, std::nullopt, "two words"})).ok());
  EXPECT_FALSE(ParseDeviceProof(EncodeDeviceProof({{0xa0}, {0x30}, std::nullopt, std::nullopt})).ok());
  auto extra = ok;
  extra[0] = 0xa3;
  extra.push_back(0x05);
  extra.push_back(0x00);
  EXPECT_FALSE(ParseDeviceProof(extra).ok());
  EXPECT_FALSE(IsValidCause(std::string(65, 'a')));
  EXPECT_TRUE(IsValidCause("biometry-changed"));
}

TEST(TpmCertify, RoundTripsAndRefusesWhatIsNotTheFormat) {
  const TpmCertify c{{1, 2, 3}, {0x30, 0x00}, {0x00, 0x23}};
  auto parsed = ParseTpmCertify(EncodeTpmCertify(c));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->certify_info, c.certify_info);
  EXPECT_EQ(parsed->signature, c.signature);
  EXPECT_EQ(parsed->attestation_key_public_area, c.attestation_key_public_area);
  auto reason = [](const std::vector<uint8_t>& cbor) {
    auto r = ParseTpmCertify(cbor);
    return r.ok() ? std::string("ok") : r.error().cause;
  };
  EXPECT_EQ(reason(EncodeTpmCertify({{}, {1}, {1}})), "malformed");  // an empty field
  EXPECT_EQ(reason(EncodeTpmCertify({std::vector<uint8_t>(kMaxTpmFieldBytes + 1), {1}, {1}})), "malformed");
  EXPECT_EQ(reason({0xa2, 0x01, 0x41, 0x01, 0x02, 0x41, 0x01}), "malformed");  // no AK area
  EXPECT_EQ(reason({0xa1, 0x04, 0x41, 0x01}), "malformed");                    // an unknown key
  EXPECT_EQ(reason({0xa1, 0x01, 0x61, 0x41}), "malformed");                    // text, not bytes
  EXPECT_EQ(reason({0x01}), "malformed");

  AuthenticatorData d;
  EXPECT_FALSE(FindTpmCertify(d)->has_value());
  d.extensions_cbor = EncodeExtensions({{kTpmExtension, EncodeTpmCertify(c)}});
  EXPECT_TRUE(FindTpmCertify(d)->has_value());
  d.extensions_cbor = EncodeExtensions({{kTpmExtension, {0x01}}});
  EXPECT_FALSE(FindTpmCertify(d).ok());
}

TEST(TpmCertify, TheNonceBindsRpCeremonyAndCredential) {
  std::array<uint8_t, 32> rp{}, cd{};
  rp[0] = 1;
  cd[0] = 2;
  const std::vector<uint8_t> id{7, 7};
  const auto n = *TpmCertifyNonce(rp, cd, id);
  const std::string label = std::string("enclave-tpm-certify-v1") + '\0';
  const auto m = Concat(Concat(Concat(AsBytes(label), rp), cd), std::vector<uint8_t>{0, 2, 7, 7});
  EXPECT_EQ(n, Sha256(m));
  auto other = cd;
  other[31] = 1;
  EXPECT_NE(*TpmCertifyNonce(rp, other, id), n);
  EXPECT_NE(*TpmCertifyNonce(cd, rp, id), n);
  EXPECT_NE(*TpmCertifyNonce(rp, cd, std::vector<uint8_t>{7}), n);
  EXPECT_FALSE(TpmCertifyNonce(rp, cd, std::vector<uint8_t>(0x10000)).ok());
}

}  // namespace
}  // namespace enclave::webauthn
