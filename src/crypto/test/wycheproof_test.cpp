// Every case of the Wycheproof P-256 ECDSA (DER and P1363) and ECDH vectors through the public
// crypto API: valid cases accepted, invalid ones rejected, each counted.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "crypto/algorithm.h"
#include "crypto/ec.h"
#include "crypto/test/test_data.h"

namespace enclave::crypto {
namespace {

using testing::Hex;

struct Tally {
  int valid = 0;
  int invalid = 0;
  int acceptable_accepted = 0;
  int acceptable_rejected = 0;
  int failures = 0;
  int total() const { return valid + invalid + acceptable_accepted + acceptable_rejected; }
};

void Record(Tally& t, const nlohmann::json& test, bool accepted, const std::string& file) {
  const std::string result = test["result"];
  const int id = test["tcId"];
  if (result == "valid") {
    ++t.valid;
    if (!accepted) {
      ++t.failures;
      ADD_FAILURE() << file << " tcId " << id << " (" << test["comment"] << "): valid case rejected";
    }
  } else if (result == "invalid") {
    ++t.invalid;
    if (accepted) {
      ++t.failures;
      ADD_FAILURE() << file << " tcId " << id << " (" << test["comment"] << "): invalid case accepted";
    }
  } else {
    ++(accepted ? t.acceptable_accepted : t.acceptable_rejected);
  }
}

void RunEcdsaFile(const nlohmann::json& vectors, const std::string& file, const char* algorithm_name) {
  auto alg = FindAlgorithm(algorithm_name);
  ASSERT_TRUE(alg.ok()) << alg.error().ToString();
  Tally t;
  for (const auto& group : vectors["testGroups"]) {
    auto key = EcPublicKey::FromSpkiDer(Hex(group["publicKeyDer"]));
    ASSERT_TRUE(key.ok()) << file << ": group public key rejected: " << key.error().ToString();
    ASSERT_EQ(key->X963(), Hex(group["publicKey"]["uncompressed"]));
    for (const auto& test : group["tests"]) {
      Status s = VerifySignature(*alg, *key, Hex(test["msg"]), Hex(test["sig"]));
      if (!s.ok()) {
        // Rejections must always be the platform's verify failure, never another error.
        EXPECT_EQ(s.error().code, errsec::kVerifyFailed)
            << "tcId " << test["tcId"] << ": " << s.error().ToString();
        EXPECT_EQ(s.error().effective_cause(), "verify-failed");
      }
      Record(t, test, s.ok(), file);
    }
  }
  EXPECT_EQ(t.total(), vectors["numberOfTests"].get<int>());
  EXPECT_EQ(t.failures, 0);
  EXPECT_GT(t.valid, 0);
  EXPECT_GT(t.invalid, 0);
  std::cout << file << ": " << t.valid << " valid accepted, " << t.invalid << " invalid rejected, "
            << t.acceptable_accepted << "/" << t.acceptable_rejected << " acceptable accepted/rejected\n";
}

TEST(Wycheproof, EcdsaSecp256r1Sha256Der) {
  ENCLAVE_LOAD_VECTORS(v, "wycheproof/ecdsa_secp256r1_sha256_test.json");
  RunEcdsaFile(v, "ecdsa_secp256r1_sha256_test.json", "ecdsa-signature-message-x962-sha256");
}

TEST(Wycheproof, EcdsaSecp256r1Sha256P1363) {
  ENCLAVE_LOAD_VECTORS(v, "wycheproof/ecdsa_secp256r1_sha256_p1363_test.json");
  RunEcdsaFile(v, "ecdsa_secp256r1_sha256_p1363_test.json", "ecdsa-signature-message-rfc4754-sha256");
}

// Wycheproof writes private keys as signed big-endian integers (a leading 00 when the top bit is
// set); FromScalar takes exactly 32 bytes.
Bytes ScalarFromWycheproof(const std::string& hex) {
  Bytes b = Hex(hex);
  size_t start = 0;
  while (start < b.size() && b[start] == 0 && b.size() - start > 32) ++start;
  Bytes scalar(b.begin() + static_cast<std::ptrdiff_t>(start), b.end());
  if (scalar.size() < 32) scalar.insert(scalar.begin(), 32 - scalar.size(), 0);
  return scalar;
}

TEST(Wycheproof, EcdhSecp256r1) {
  ENCLAVE_LOAD_VECTORS(v, "wycheproof/ecdh_secp256r1_test.json");
  Tally t;
  // "Acceptable" cases must be decided by what they are (their flags), not by chance.
  std::map<std::string, std::set<bool>> acceptable_outcome_by_flags;
  for (const auto& group : v["testGroups"]) {
    for (const auto& test : group["tests"]) {
      auto priv = EcPrivateKey::FromScalar(ScalarFromWycheproof(test["private"]));
      ASSERT_TRUE(priv.ok()) << "tcId " << test["tcId"] << ": " << priv.error().ToString();
      bool accepted = false;
      auto peer = EcPublicKey::FromSpkiDer(Hex(test["public"]));
      if (peer.ok()) {
        auto shared = priv->SharedSecret(*peer);
        if (shared.ok()) {
          accepted = true;
          if (test["result"] != "invalid") {
            EXPECT_EQ(HexEncode(*shared), test["shared"].get<std::string>()) << "tcId " << test["tcId"];
          }
        }
      } else {
        EXPECT_EQ(peer.error().code, errsec::kParam);
      }
      if (test["result"] == "acceptable") acceptable_outcome_by_flags[test["flags"].dump()].insert(accepted);
      Record(t, test, accepted, "ecdh_secp256r1_test.json");
    }
  }
  EXPECT_EQ(t.total(), v["numberOfTests"].get<int>());
  EXPECT_EQ(t.failures, 0);
  EXPECT_GT(t.valid, 0);
  EXPECT_GT(t.invalid, 0);
  for (const auto& [flags, outcomes] : acceptable_outcome_by_flags) {
    EXPECT_EQ(outcomes.size(), 1u) << "acceptable cases with flags " << flags << " handled inconsistently";
  }
  std::cout << "ecdh_secp256r1_test.json: " << t.valid << " valid accepted, " << t.invalid
            << " invalid rejected, " << t.acceptable_accepted << "/" << t.acceptable_rejected
            << " acceptable accepted/rejected\n";
}

}  // namespace
}  // namespace enclave::crypto
