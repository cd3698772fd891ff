// The algorithm table and the client-side adaptors around the token's two operations.
#include "crypto/algorithm.h"

#include <gtest/gtest.h>

#include <set>

namespace enclave::crypto {
namespace {

EcPrivateKey NewKey() {
  auto key = EcPrivateKey::Generate();
  EXPECT_TRUE(key.ok());
  return std::move(key).value();
}

// What a token does with a signature algorithm: sign the digest the adaptor hands it.
Result<Bytes> SignLikeService(const Algorithm& alg, const EcPrivateKey& key, ByteView input) {
  ASSIGN_OR_RETURN(Bytes digest, SignatureInputDigest(alg, input));
  ASSIGN_OR_RETURN(Bytes der, key.SignDigestDer(digest));
  return SignatureOutput(alg, der);
}

TEST(AlgorithmTable, NamesAndPlatformIds) {
  const auto& all = AllAlgorithms();
  EXPECT_EQ(all.size(), 5u + 1u + 5u + 2u + 2u + 10u + 4u);
  std::set<std::string> names, ids;
  for (const auto& a : all) {
    names.insert(a.name);
    ids.insert(a.platform_id);
  }
  EXPECT_EQ(names.size(), all.size());
  EXPECT_EQ(ids.size(), all.size());

  auto expect = [](const char* name, const char* id) {
    auto a = FindAlgorithm(name);
    ASSERT_TRUE(a.ok()) << name;
    EXPECT_EQ(a->platform_id, id) << name;
  };
  expect("ecdsa-signature-message-x962-sha256", "algid:sign:ECDSA:message-X962:SHA256");
  expect("ecdsa-signature-message-x962-sha1", "algid:sign:ECDSA:message-X962:SHA1");
  expect("ecdsa-signature-digest-x962", "algid:sign:ECDSA:digest-X962");
  expect("ecdsa-signature-digest-x962-sha512", "algid:sign:ECDSA:digest-X962:SHA512");
  expect("ecdsa-signature-message-rfc4754-sha256", "algid:sign:ECDSA:message-RFC4754:SHA256");
  expect("ecdsa-signature-digest-rfc4754-sha256", "algid:sign:ECDSA:digest-RFC4754:SHA256");
  expect("ecdh-key-exchange-standard", "algid:keyexchange:ECDH");
  expect("ecdh-key-exchange-cofactor", "algid:keyexchange:ECDHC");
  expect("ecdh-key-exchange-standard-x963-sha256", "algid:keyexchange:ECDH:KDFX963:SHA256");
  expect("ecdh-key-exchange-cofactor-x963-sha384", "algid:keyexchange:ECDHC:KDFX963:SHA384");
  expect("ecies-encryption-standard-x963-sha256-aes-gcm", "algid:encrypt:ECIES:ECDH:KDFX963:SHA256:AESGCM");
  expect("ecies-encryption-cofactor-variable-iv-x963-sha256-aes-gcm",
         "algid:encrypt:ECIES:ECDHC:KDFX963:SHA256:AESGCM-KDFIV");
}

TEST(AlgorithmTable, UnknownNameListsSupported) {
  auto a = FindAlgorithm("rsa-signature-pss-sha256");
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.error().code, errsec::kParam);
  EXPECT_NE(a.error().description.find("rsa-signature-pss-sha256"), std::string::npos);
  EXPECT_NE(a.error().description.find("ecdsa-signature-message-x962-sha256"), std::string::npos);
  EXPECT_NE(a.error().description.find("ecies-encryption-cofactor-variable-iv-x963-sha256-aes-gcm"),
            std::string::npos);
}

TEST(Signatures, EverySignatureAlgorithmRoundTrips) {
  EcPrivateKey key = NewKey();
  const EcPublicKey pub = key.PublicKey();
  const EcPublicKey other = NewKey().PublicKey();
  const Bytes message = ToBytes("data to sign");
  int checked = 0;
  for (const auto& alg : AllAlgorithms()) {
    if (alg.operation != Operation::kSign) continue;
    SCOPED_TRACE(alg.name);
    Bytes input = message;
    if (!alg.is_message) input = Digest(alg.hash.value_or(Hash::kSha256), message);
    auto sig = SignLikeService(alg, key, input);
    ASSERT_TRUE(sig.ok()) << sig.error().ToString();
    if (alg.raw_signature)
      EXPECT_EQ(sig->size(), 64u);
    else
      EXPECT_EQ((*sig)[0], 0x30);
    EXPECT_TRUE(VerifySignature(alg, pub, input, *sig).ok());

    Status wrong_key = VerifySignature(alg, other, input, *sig);
    ASSERT_FALSE(wrong_key.ok());
    EXPECT_EQ(wrong_key.error().code, errsec::kVerifyFailed);
    EXPECT_EQ(wrong_key.error().effective_cause(), "verify-failed");
    Bytes tampered = *sig;
    tampered[tampered.size() / 2] ^= 0x01;
    EXPECT_FALSE(VerifySignature(alg, pub, input, tampered).ok());
    ++checked;
  }
  EXPECT_EQ(checked, 13);
}

TEST(Signatures, MessageX962Sha256IsPlainEcdsaSha256) {
  EcPrivateKey key = NewKey();
  const Bytes message = ToBytes("interop");
  auto sig = SignLikeService(*FindAlgorithm("ecdsa-signature-message-x962-sha256"), key, message);
  ASSERT_TRUE(sig.ok());
  EXPECT_TRUE(key.PublicKey().VerifyDigestDer(Digest(Hash::kSha256, message), *sig));
  // The RFC 4754 form of the same algorithm is the raw r||s of a DER signature.
  auto raw = SignLikeService(*FindAlgorithm("ecdsa-signature-message-rfc4754-sha256"), key, message);
  ASSERT_TRUE(raw.ok());
  EXPECT_TRUE(key.PublicKey().VerifyDigestDer(Digest(Hash::kSha256, message), *RawSignatureToDer(*raw)));
}

TEST(Signatures, DigestSizeChecked) {
  auto alg = *FindAlgorithm("ecdsa-signature-digest-x962-sha256");
  auto r = SignatureInputDigest(alg, Bytes(20, 1));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, errsec::kParam);
  EXPECT_EQ(r.error().description, "bad digest size: got 20, expected 32");
  EXPECT_TRUE(SignatureInputDigest(alg, Bytes(32, 1)).ok());
  auto any = *FindAlgorithm("ecdsa-signature-digest-x962");
  EXPECT_TRUE(SignatureInputDigest(any, Bytes(20, 1)).ok());
  EXPECT_TRUE(SignatureInputDigest(any, Bytes(64, 1)).ok());
  EXPECT_FALSE(SignatureInputDigest(any, {}).ok());
  auto sha384 = *FindAlgorithm("ecdsa-signature-digest-x962-sha384");
  EXPECT_EQ(SignatureInputDigest(sha384, Bytes(32, 1)).error().description,
            "bad digest size: got 32, expected 48");
}

TEST(Signatures, WrongOperationIsParamError) {
  auto ecdh = *FindAlgorithm("ecdh-key-exchange-standard");
  auto r = SignatureInputDigest(ecdh, Bytes(32, 0));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, errsec::kParam);
  auto sign = *FindAlgorithm("ecdsa-signature-message-x962-sha256");
  EXPECT_FALSE(KeyExchangeOutput(sign, Bytes(32, 0), 16, {}).ok());
  EXPECT_FALSE(EciesEncrypt(sign, NewKey().PublicKey(), AsBytes("x")).ok());
}

TEST(Signatures, MalformedRawSignatureIsVerifyFailed) {
  auto alg = *FindAlgorithm("ecdsa-signature-message-rfc4754-sha256");
  Status s = VerifySignature(alg, NewKey().PublicKey(), AsBytes("m"), Bytes(63, 1));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, errsec::kVerifyFailed);
}

TEST(KeyExchange, BothSidesDeriveTheSameOutput) {
  EcPrivateKey a = NewKey();
  EcPrivateKey b = NewKey();
  const SecureBytes z_ab = *a.SharedSecret(b.PublicKey());
  const SecureBytes z_ba = *b.SharedSecret(a.PublicKey());
  const Bytes info = ToBytes("context");
  int checked = 0;
  for (const auto& alg : AllAlgorithms()) {
    if (alg.operation != Operation::kKeyExchange) continue;
    SCOPED_TRACE(alg.name);
    auto out_a = KeyExchangeOutput(alg, z_ab, 48, info);
    auto out_b = KeyExchangeOutput(alg, z_ba, 48, info);
    ASSERT_TRUE(out_a.ok());
    ASSERT_TRUE(out_b.ok());
    EXPECT_EQ(*out_a, *out_b);
    if (alg.kdf) {
      EXPECT_EQ(out_a->size(), 48u);
      EXPECT_EQ(*out_a, X963Kdf(*alg.hash, z_ab, info, 48));
      EXPECT_FALSE(*out_a == *KeyExchangeOutput(alg, z_ab, 48, ToBytes("other")));
      auto no_size = KeyExchangeOutput(alg, z_ab, std::nullopt, info);
      ASSERT_FALSE(no_size.ok());
      EXPECT_EQ(no_size.error().code, errsec::kParam);
      EXPECT_FALSE(KeyExchangeOutput(alg, z_ab, 0, info).ok());
    } else {
      EXPECT_EQ(*out_a, z_ab);
    }
    ++checked;
  }
  EXPECT_EQ(checked, 12);
}

TEST(Ecies, RoundTripForEveryVariant) {
  EcPrivateKey recipient = NewKey();
  const Bytes message = ToBytes("a secret for the enclave");
  int checked = 0;
  for (const auto& alg : AllAlgorithms()) {
    if (alg.operation != Operation::kEncrypt) continue;
    SCOPED_TRACE(alg.name);
    auto ct = EciesEncrypt(alg, recipient.PublicKey(), message);
    ASSERT_TRUE(ct.ok()) << ct.error().ToString();
    EXPECT_EQ(ct->size(), message.size() + 81);
    EXPECT_NE(*ct, *EciesEncrypt(alg, recipient.PublicKey(), message)) << "fresh ephemeral key each time";

    auto eph = EciesEphemeralKey(*ct);
    ASSERT_TRUE(eph.ok());
    auto z = recipient.SharedSecret(*eph);
    ASSERT_TRUE(z.ok());
    auto plain = EciesDecryptWithSharedSecret(alg, *ct, *z);
    ASSERT_TRUE(plain.ok()) << plain.error().ToString();
    EXPECT_EQ(ToString(*plain), ToString(message));

    // Standard and cofactor are the same on P-256; zero-IV and variable-IV are not.
    for (const auto& other : AllAlgorithms()) {
      if (other.operation != Operation::kEncrypt) continue;
      EXPECT_EQ(EciesDecryptWithSharedSecret(other, *ct, *z).ok(), other.variable_iv == alg.variable_iv)
          << other.name;
    }

    for (size_t pos : {ct->size() - 1, ct->size() - 20, size_t{70}}) {
      Bytes tampered = *ct;
      tampered[pos] ^= 0x01;
      auto r = EciesDecryptWithSharedSecret(alg, tampered, *z);
      ASSERT_FALSE(r.ok()) << "byte " << pos;
      EXPECT_EQ(r.error().code, errsec::kParam);
      EXPECT_EQ(r.error().effective_cause(), "decrypt-failed");
    }
    ++checked;
  }
  EXPECT_EQ(checked, 4);
}

TEST(Ecies, ShortInputsAreParamErrors) {
  auto alg = *FindAlgorithm("ecies-encryption-cofactor-variable-iv-x963-sha256-aes-gcm");
  auto too_small = EciesEphemeralKey(Bytes(64, 4));
  ASSERT_FALSE(too_small.ok());
  EXPECT_EQ(too_small.error().code, errsec::kParam);
  EXPECT_NE(too_small.error().description.find("too small input packet"), std::string::npos);
  EcPublicKey pub = NewKey().PublicKey();
  Bytes no_tag = pub.X963();
  no_tag.resize(65 + 15, 0);
  auto r = EciesDecryptWithSharedSecret(alg, no_tag, Bytes(32, 1));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, errsec::kParam);
  EXPECT_FALSE(EciesEphemeralKey(Bytes(100, 4)).ok()) << "off-curve ephemeral key";
}

}  // namespace
}  // namespace enclave::crypto
