// What is specific to the soft token: its blob format and the checks LoadKey makes on it.
#include "token/soft/soft_token.h"

#include <gtest/gtest.h>

#include "crypto/ec.h"

namespace enclave::token {
namespace {

Error LoadError(SoftToken& token, const Bytes& blob) {
  auto loaded = token.LoadKey(blob);
  EXPECT_FALSE(loaded.ok());
  return loaded.ok() ? Error{} : loaded.error();
}

TEST(SoftToken, BlobIsVersionByteAndScalar) {
  SoftToken token;
  auto k = token.GenerateKeySlowly();
  ASSERT_TRUE(k.ok());
  ASSERT_EQ(k->token_blob.size(), SoftToken::kBlobSize);
  EXPECT_EQ(k->token_blob.data()[0], SoftToken::kBlobVersion);
  auto from_scalar = crypto::EcPrivateKey::FromScalar(k->token_blob.view().subspan(1));
  ASSERT_TRUE(from_scalar.ok());
  EXPECT_EQ(from_scalar->PublicKey().X963(), k->key->PublicKeyX963());
}

TEST(SoftToken, LoadKeyChecksVersionAndScalarRange) {
  SoftToken token;
  Bytes blob(SoftToken::kBlobSize, 0);
  blob[0] = SoftToken::kBlobVersion;
  Error zero = LoadError(token, blob);
  EXPECT_EQ(zero.code, tkerror::kCorruptedData);
  EXPECT_EQ(zero.cause, "key-blob-corrupt");

  const Bytes n = *HexDecode("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
  std::copy(n.begin(), n.end(), blob.begin() + 1);
  EXPECT_EQ(LoadError(token, blob).code, tkerror::kCorruptedData);

  blob.back() = 0x50;  // n - 1: the largest valid scalar
  EXPECT_TRUE(token.LoadKey(blob).ok());
  blob[0] = SoftToken::kBlobVersion + 1;
  Error version = LoadError(token, blob);
  EXPECT_EQ(version.code, tkerror::kCorruptedData);
  EXPECT_NE(version.description.find("version"), std::string::npos);
}

TEST(SoftToken, DescribeAndTag) {
  SoftToken token;
  EXPECT_EQ(token.Describe(),
            (nlohmann::json{{"id", "soft"}, {"kind", "software enclave in enclaved's memory"}}));
  EXPECT_EQ(token.description_tag(), "sepk");
}

TEST(TokenFactory, UnknownTokenIsParamErrorNamingSupported) {
  auto t = OpenToken("hsm", {});
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().domain, domain::kOSStatus);
  EXPECT_EQ(t.error().code, errsec::kParam);
  EXPECT_EQ(t.error().description, "unknown token 'hsm' (supported: soft, tpm2)");
  auto soft = OpenToken("soft", {});
  ASSERT_TRUE(soft.ok());
  EXPECT_EQ((*soft)->id(), "soft");
}

TEST(KeyIdentity, KnownAnswer) {
  // kid of the P-256 generator point G (the public key of scalar 1).
  const Bytes g = *HexDecode(
      "046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"
      "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5");
  const std::string kid = KeyId(g);
  EXPECT_EQ(kid, "698bea63dc44a344");
  EXPECT_EQ(KeyDescription("sepk", kid), "<sepk:p256 kid=698bea63dc44a344>");
}

}  // namespace
}  // namespace enclave::token
