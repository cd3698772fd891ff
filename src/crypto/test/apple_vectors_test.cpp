// Apple SecKey ECIES known-answer vectors (positive and negative) and the two Apple-made ECDSA
// signatures, decrypted/verified through the same split the service uses: the token computes
// the ECDH secret, the crypto layer does the rest.
#include <gtest/gtest.h>

#include "crypto/algorithm.h"
#include "crypto/ec.h"
#include "crypto/test/test_data.h"

namespace enclave::crypto {
namespace {

using testing::Hex;

std::optional<Hash> HashByName(const std::string& name) {
  for (Hash h : {Hash::kSha1, Hash::kSha224, Hash::kSha256, Hash::kSha384, Hash::kSha512}) {
    if (HashName(h) == name) return h;
  }
  return std::nullopt;
}

// The table only lists the SHA-256 ECIES variants enclave offers; Apple's vectors also cover
// other KDF hashes, which the same construction handles with the hash swapped.
Algorithm EciesFor(const nlohmann::json& vector) {
  Algorithm alg = *FindAlgorithm(
      std::string("ecies-encryption-") + (vector.value("cofactor", true) ? "cofactor" : "standard") +
      (vector.value("variable_iv", false) ? "-variable-iv" : "") + "-x963-sha256-aes-gcm");
  alg.hash = HashByName(vector.value("kdf_hash", "SHA256"));
  return alg;
}

Result<SecureBytes> Decrypt(const Algorithm& alg, const EcPrivateKey& key, ByteView ciphertext) {
  ASSIGN_OR_RETURN(EcPublicKey ephemeral, EciesEphemeralKey(ciphertext));
  ASSIGN_OR_RETURN(SecureBytes z, key.SharedSecret(ephemeral));
  return EciesDecryptWithSharedSecret(alg, ciphertext, z);
}

Result<EcPrivateKey> KeyFromPrivateX963(ByteView x963_private) {
  if (x963_private.size() != 97) return OSStatusError(errsec::kParam, "bad private key");
  auto key = EcPrivateKey::FromScalar(x963_private.subspan(65));
  if (key.ok() && key->PublicKey().X963() != Bytes(x963_private.begin(), x963_private.begin() + 65)) {
    return OSStatusError(errsec::kParam, "public key does not match the scalar");
  }
  return key;
}

TEST(AppleEcies, DecryptsEveryValidVector) {
  ENCLAVE_LOAD_VECTORS(v, "apple-ecies/apple_ecies_p256_vectors.json");
  int decrypted = 0;
  for (const auto& vec : v["vectors"]) {
    SCOPED_TRACE(vec["id"].get<std::string>());
    Algorithm alg = EciesFor(vec);
    ASSERT_TRUE(alg.hash.has_value());
    auto key = KeyFromPrivateX963(Hex(vec["recipient_private_key_x963"]));
    ASSERT_TRUE(key.ok()) << key.error().ToString();
    ASSERT_EQ(key->Scalar().view().size(), 32u);
    EXPECT_EQ(HexEncode(key->Scalar()), vec["recipient_private_scalar"].get<std::string>());
    const Bytes ct = Hex(vec["ciphertext"]);

    // The pieces on their own.
    const auto& d = vec["derived"];
    auto ephemeral = EciesEphemeralKey(ct);
    ASSERT_TRUE(ephemeral.ok());
    EXPECT_EQ(HexEncode(ephemeral->X963()), d["ephemeral_public_key"].get<std::string>());
    auto z = key->SharedSecret(*ephemeral);
    ASSERT_TRUE(z.ok());
    EXPECT_EQ(HexEncode(*z), d["ecdh_shared_secret_z"].get<std::string>());
    const Bytes kdf_expected = Hex(d["kdf_output"]);
    EXPECT_EQ(HexEncode(X963Kdf(*alg.hash, *z, Hex(d["kdf_shared_info"]), kdf_expected.size())),
              d["kdf_output"].get<std::string>());
    Bytes c_and_t = Hex(d["gcm_ciphertext"]);
    const Bytes tag = Hex(d["gcm_tag"]);
    c_and_t.insert(c_and_t.end(), tag.begin(), tag.end());
    auto gcm = AesGcmOpen(Hex(d["aes_key"]), Hex(d["gcm_iv"]), {}, c_and_t);
    ASSERT_TRUE(gcm.ok());
    EXPECT_EQ(HexEncode(*gcm), vec["plaintext_hex"].get<std::string>());

    // The whole packet.
    auto plain = Decrypt(alg, *key, ct);
    ASSERT_TRUE(plain.ok()) << plain.error().ToString();
    EXPECT_EQ(HexEncode(*plain), vec["plaintext_hex"].get<std::string>());
    ++decrypted;
  }
  EXPECT_EQ(decrypted, static_cast<int>(v["vectors"].size()));
  EXPECT_EQ(decrypted, 8);
}

TEST(AppleEcies, RejectsEveryNegativeVector) {
  ENCLAVE_LOAD_VECTORS(v, "apple-ecies/apple_ecies_p256_vectors.json");
  int rejected = 0;
  for (const auto& vec : v["negative_vectors"]) {
    SCOPED_TRACE(vec["id"].get<std::string>() + ": " + vec.value("why", ""));
    ASSERT_EQ(vec["result"], "invalid");
    const std::string apple_name = vec["algorithm"];
    const bool standard = apple_name.find("Standard") != std::string::npos;
    auto alg = FindAlgorithm(std::string("ecies-encryption-") + (standard ? "standard" : "cofactor") +
                             "-variable-iv-x963-sha256-aes-gcm");
    ASSERT_TRUE(alg.ok());
    auto key = KeyFromPrivateX963(Hex(vec["recipient_private_key_x963"]));
    ASSERT_TRUE(key.ok());
    auto plain = Decrypt(*alg, *key, Hex(vec["ciphertext"]));
    ASSERT_FALSE(plain.ok());
    EXPECT_EQ(plain.error().code, errsec::kParam) << plain.error().ToString();
    ++rejected;
  }
  EXPECT_EQ(rejected, 12);
}

TEST(AppleEcdsa, VerifiesAppleMadeSignatures) {
  ENCLAVE_LOAD_VECTORS(v, "apple-ecies/apple_ecies_p256_vectors.json");
  const auto& zssz = v["ecdsa_vectors"][0];
  auto key = EcPublicKey::FromX963(Hex(zssz["public_key_x963"]));
  ASSERT_TRUE(key.ok());
  const Bytes msg = Hex(zssz["message_hex"]);
  EXPECT_TRUE(VerifySignature(*FindAlgorithm("ecdsa-signature-message-x962-sha256"), *key, msg,
                              Hex(zssz["signature_der"]))
                  .ok());
  EXPECT_TRUE(VerifySignature(*FindAlgorithm("ecdsa-signature-message-rfc4754-sha256"), *key, msg,
                              Hex(zssz["signature_raw_rs"]))
                  .ok());
  EXPECT_TRUE(VerifySignature(*FindAlgorithm("ecdsa-signature-digest-x962-sha256"), *key,
                              Hex(zssz["message_sha256"]), Hex(zssz["signature_der"]))
                  .ok());

  // Apple's si-41 testsignformat: each form verifies in its own mode and fails in the other.
  const auto& si41 = v["ecdsa_vectors"][1];
  auto priv = EcPrivateKey::FromScalar(Hex(si41["private_scalar"]));
  ASSERT_TRUE(priv.ok());
  EXPECT_EQ(HexEncode(priv->PublicKey().X963()), si41["public_key_x963"].get<std::string>());
  const Bytes digest = Hex(si41["digest_hex"]);
  const Bytes der = Hex(si41["signature_der"]);
  const Bytes raw = Hex(si41["signature_raw_rs"]);
  const EcPublicKey pub = priv->PublicKey();
  EXPECT_TRUE(pub.VerifyDigestDer(digest, der));
  auto converted = RawSignatureToDer(raw);
  ASSERT_TRUE(converted.ok());
  EXPECT_EQ(*converted, der);
  EXPECT_TRUE(pub.VerifyDigestDer(digest, *converted));
  EXPECT_FALSE(pub.VerifyDigestDer(digest, raw));
  EXPECT_FALSE(RawSignatureToDer(der).ok());
  EXPECT_TRUE(VerifySignature(*FindAlgorithm("ecdsa-signature-digest-x962"), pub, digest, der).ok());
  // The SHA-256 digest variant demands 32 bytes; a 24-byte digest is a parameter error.
  Status wrong_size = VerifySignature(*FindAlgorithm("ecdsa-signature-digest-x962-sha256"), pub, digest, der);
  ASSERT_FALSE(wrong_size.ok());
  EXPECT_EQ(wrong_size.error().code, errsec::kParam);
  EXPECT_EQ(wrong_size.error().description, "bad digest size: got 24, expected 32");
}

}  // namespace
}  // namespace enclave::crypto
