// Every vector of Wycheproof's ecdsa_secp256r1_sha256_test.json (DER signatures) through
// VerifyEs256, the function that checks every assertion: "valid" must verify, "invalid" must not.
// The file has no "acceptable" vectors; one would be reported and required to be refused (our
// verifier is strict DER).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "common/bytes.h"
#include "webauthn/cose.h"

namespace enclave::webauthn {
namespace {

TEST(Wycheproof, EcdsaP256Sha256DerThroughVerifyEs256) {
  std::ifstream in(std::string(ENCLAVE_VECTORS_DIR) + "/wycheproof/ecdsa_secp256r1_sha256_test.json");
  ASSERT_TRUE(in) << "missing vectors";
  auto doc = nlohmann::json::parse(in);
  int run = 0, valid = 0, invalid = 0;
  for (const auto& group : doc["testGroups"]) {
    auto point = HexDecode(group["publicKey"]["uncompressed"].get<std::string>());
    ASSERT_TRUE(point);
    auto cose = EncodeCoseEs256FromX962(*point);
    ASSERT_TRUE(cose.ok());
    auto key = CoseToEvpPkey(*cose);
    ASSERT_TRUE(key.ok()) << key.error().description;
    for (const auto& t : group["tests"]) {
      auto msg = HexDecode(t["msg"].get<std::string>());
      auto sig = HexDecode(t["sig"].get<std::string>());
      ASSERT_TRUE(msg && sig);
      std::string result = t["result"];
      bool verified = VerifyEs256(key->get(), *msg, *sig);
      EXPECT_EQ(verified, result == "valid")
          << "tcId " << t["tcId"] << " (" << result << "): " << t["comment"];
      ++run;
      (result == "valid" ? valid : invalid)++;
    }
  }
  EXPECT_EQ(run, doc["numberOfTests"].get<int>());
  EXPECT_EQ(run, 484);
  EXPECT_EQ(valid, 174);
}

}  // namespace
}  // namespace enclave::webauthn
