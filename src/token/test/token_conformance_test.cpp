// The behaviour every token backend must show, run against each backend: `soft`, and `tpm2`
// against a real swtpm started for each test (skipped with a message where swtpm is missing).
#include <gtest/gtest.h>

#include <cstdlib>
#include <regex>

#include "crypto/algorithm.h"
#include "crypto/ec.h"
#include "token/token.h"
#include "token/tpm2/test/swtpm_process.h"

namespace enclave::token {
namespace {

struct TokenUnderTest {
  std::string id;
  TokenConfig config;
};

void PrintTo(const TokenUnderTest& t, std::ostream* os) { *os << t.id; }

std::vector<TokenUnderTest> TokensUnderTest() { return {{"soft", {}}, {"tpm2", {}}}; }

class TokenConformance : public ::testing::TestWithParam<TokenUnderTest> {
 protected:
  void SetUp() override {
    TokenConfig config = GetParam().config;
    if (GetParam().id == "tpm2") {
      if (!enclave::testing::SwtpmProcess::FindBinary()) GTEST_SKIP() << "swtpm is not installed";
      tpm_ = std::make_unique<enclave::testing::SwtpmProcess>();
      ASSERT_TRUE(tpm_->Start()) << "swtpm did not start";
      config.tpm2_tcti = tpm_->Tcti();
    }
    auto t = OpenToken(GetParam().id, config);
    ASSERT_TRUE(t.ok()) << t.error().ToString();
    token_ = std::move(t).value();
  }

  GeneratedKey Generate() {
    auto k = token_->GenerateKeySlowly();
    EXPECT_TRUE(k.ok()) << k.error().ToString();
    if (!k.ok()) return {};
    return std::move(k).value();
  }

  std::unique_ptr<enclave::testing::SwtpmProcess> tpm_;  // outlives token_ (declared first)
  std::unique_ptr<Token> token_;
};

TEST_P(TokenConformance, IdentifiesItself) {
  EXPECT_EQ(token_->id(), GetParam().id);
  EXPECT_FALSE(token_->description_tag().empty());
  nlohmann::json d = token_->Describe();
  EXPECT_EQ(d.value("id", ""), GetParam().id);
}

TEST_P(TokenConformance, GeneratesKeyWithBlob) {
  GeneratedKey k = Generate();
  ASSERT_NE(k.key, nullptr);
  EXPECT_FALSE(k.token_blob.empty());
  GeneratedKey other = Generate();
  ASSERT_NE(other.key, nullptr);
  EXPECT_NE(k.key->PublicKeyX963(), other.key->PublicKeyX963());
}

TEST_P(TokenConformance, PublicKeyIsA65BytePointOnTheCurve) {
  GeneratedKey k = Generate();
  ASSERT_NE(k.key, nullptr);
  const Bytes point = k.key->PublicKeyX963();
  ASSERT_EQ(point.size(), 65u);
  EXPECT_EQ(point[0], 0x04);
  EXPECT_TRUE(crypto::EcPublicKey::FromX963(point).ok());
}

TEST_P(TokenConformance, KeyIdAndDescriptionFormat) {
  GeneratedKey k = Generate();
  ASSERT_NE(k.key, nullptr);
  const Bytes point = k.key->PublicKeyX963();
  const std::string kid = KeyId(point);
  EXPECT_TRUE(std::regex_match(kid, std::regex("[0-9a-f]{16}"))) << kid;
  EXPECT_EQ(kid, HexEncode(crypto::Digest(crypto::Hash::kSha256, point)).substr(0, 16));
  EXPECT_EQ(KeyDescription(token_->description_tag(), kid),
            "<" + std::string(token_->description_tag()) + ":p256 kid=" + kid + ">");
}

TEST_P(TokenConformance, SignedDigestVerifiesWithSoftwareCrypto) {
  GeneratedKey k = Generate();
  ASSERT_NE(k.key, nullptr);
  auto pub = crypto::EcPublicKey::FromX963(k.key->PublicKeyX963());
  ASSERT_TRUE(pub.ok());
  const Bytes message = ToBytes("sign me");
  const Bytes digest = crypto::Digest(crypto::Hash::kSha256, message);
  auto sig = k.key->SignDigestSlowly(digest);
  ASSERT_TRUE(sig.ok()) << sig.error().ToString();
  EXPECT_TRUE(pub->VerifyDigestDer(digest, *sig));
  EXPECT_TRUE(crypto::VerifySignature(*crypto::FindAlgorithm("ecdsa-signature-message-x962-sha256"), *pub,
                                      message, *sig)
                  .ok());
  Status wrong = crypto::VerifySignature(*crypto::FindAlgorithm("ecdsa-signature-message-x962-sha256"), *pub,
                                         ToBytes("other message"), *sig);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code, errsec::kVerifyFailed);
}

TEST_P(TokenConformance, EcdhMatchesSoftwarePeer) {
  GeneratedKey k = Generate();
  ASSERT_NE(k.key, nullptr);
  auto peer = crypto::EcPrivateKey::Generate();
  ASSERT_TRUE(peer.ok());
  auto token_side = k.key->ComputeSharedSecretSlowly(peer->PublicKey().X963());
  ASSERT_TRUE(token_side.ok()) << token_side.error().ToString();
  auto token_pub = crypto::EcPublicKey::FromX963(k.key->PublicKeyX963());
  ASSERT_TRUE(token_pub.ok());
  auto peer_side = peer->SharedSecret(*token_pub);
  ASSERT_TRUE(peer_side.ok());
  EXPECT_EQ(token_side->size(), 32u);
  EXPECT_EQ(*token_side, *peer_side);
}

TEST_P(TokenConformance, EcdhRefusesInvalidPeer) {
  GeneratedKey k = Generate();
  ASSERT_NE(k.key, nullptr);
  Bytes off_curve = k.key->PublicKeyX963();
  off_curve[64] ^= 1;
  EXPECT_FALSE(k.key->ComputeSharedSecretSlowly(off_curve).ok());
  EXPECT_FALSE(k.key->ComputeSharedSecretSlowly(Bytes(10, 4)).ok());
}

TEST_P(TokenConformance, LoadKeyGivesTheSameWorkingKey) {
  GeneratedKey k = Generate();
  ASSERT_NE(k.key, nullptr);
  auto loaded = token_->LoadKey(k.token_blob);
  ASSERT_TRUE(loaded.ok()) << loaded.error().ToString();
  EXPECT_EQ((*loaded)->PublicKeyX963(), k.key->PublicKeyX963());

  auto pub = crypto::EcPublicKey::FromX963(k.key->PublicKeyX963());
  ASSERT_TRUE(pub.ok());
  const Bytes digest = crypto::Digest(crypto::Hash::kSha256, AsBytes("after reload"));
  auto sig = (*loaded)->SignDigestSlowly(digest);
  ASSERT_TRUE(sig.ok()) << sig.error().ToString();
  EXPECT_TRUE(pub->VerifyDigestDer(digest, *sig));

  auto peer = crypto::EcPrivateKey::Generate();
  ASSERT_TRUE(peer.ok());
  auto a = (*loaded)->ComputeSharedSecretSlowly(peer->PublicKey().X963());
  auto b = k.key->ComputeSharedSecretSlowly(peer->PublicKey().X963());
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*a, *b);
}

TEST_P(TokenConformance, CorruptBlobIsCryptoTokenKitCorruptedData) {
  GeneratedKey k = Generate();
  ASSERT_NE(k.key, nullptr);
  const ByteView blob = k.token_blob.view();
  const std::vector<std::pair<std::string, Bytes>> corrupt = {
      {"empty", Bytes{}},
      {"truncated", Bytes(blob.begin(), blob.end() - 1)},
      {"extended",
       [&] {
         Bytes b(blob.begin(), blob.end());
         b.push_back(0);
         return b;
       }()},
      {"all 0xff", Bytes(blob.size(), 0xff)},
  };
  for (const auto& [what, bad] : corrupt) {
    SCOPED_TRACE(what);
    auto loaded = token_->LoadKey(bad);
    ASSERT_FALSE(loaded.ok());
    EXPECT_EQ(loaded.error().domain, domain::kCryptoTokenKit);
    EXPECT_EQ(loaded.error().code, tkerror::kCorruptedData) << loaded.error().ToString();
    EXPECT_EQ(loaded.error().effective_cause(), "key-blob-corrupt");
    EXPECT_EQ(loaded.error().permanence(), "permanent");
    EXPECT_EQ(loaded.error().ToString().find(HexEncode(blob)), std::string::npos)
        << "blob leaked into the error";
  }
}

INSTANTIATE_TEST_SUITE_P(Tokens, TokenConformance, ::testing::ValuesIn(TokensUnderTest()),
                         [](const ::testing::TestParamInfo<TokenUnderTest>& p) { return p.param.id; });

}  // namespace
}  // namespace enclave::token
