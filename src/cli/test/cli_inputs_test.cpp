// What the CLI reads and writes at its edges: inputs of any size for message signatures, a
// clear permanent refusal of other inputs over the request limit, user errors for unreadable
// inputs, and a private diagnostics bundle.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "cli/test/cli_fixture.h"
#include "crypto/algorithm.h"
#include "crypto/ec.h"

namespace enclave::cli {
namespace {

using testing::CliTest;

TEST_F(CliTest, MessageOverTheRequestLimitIsHashedHereAndSigned) {
  const auto k = CreateFieldReportKey();
  const std::string big(3 << 20, 'm');  // three times the frame limit
  WriteFile("big.bin", big);
  int rc = -1;
  auto s = Json({"sign", "--application-label", "unique label", "--algorithm",
                 "ecdsa-signature-message-x962-sha256", "--in", Path("big.bin")},
                &rc);
  ASSERT_EQ(rc, 0) << s.dump();
  EXPECT_EQ(s["algorithm"], "ecdsa-signature-message-x962-sha256");
  auto pub = crypto::EcPublicKey::Parse(*HexDecode(k["public_key_x963"].get<std::string>()));
  ASSERT_TRUE(pub.ok());
  auto alg = crypto::FindAlgorithm("ecdsa-signature-message-x962-sha256");
  ASSERT_TRUE(alg.ok());
  EXPECT_TRUE(
      crypto::VerifySignature(*alg, *pub, AsBytes(big), *HexDecode(s["signature"].get<std::string>())).ok());
  // RFC 4754 output too.
  s = Json({"sign", "--application-label", "unique label", "--algorithm",
            "ecdsa-signature-message-rfc4754-sha256", "--in", Path("big.bin")},
           &rc);
  ASSERT_EQ(rc, 0) << s.dump();
  EXPECT_EQ(HexDecode(s["signature"].get<std::string>())->size(), 64u);
}

TEST_F(CliTest, OtherInputOverTheRequestLimitIsAPermanentError) {
  CreateFieldReportKey();
  int rc = -1;
  // An endless input ends: no more than the limit is read.
  auto s = Json({"sign", "--application-label", "unique label", "--algorithm", "ecdsa-signature-digest-x962",
                 "--in", "/dev/zero"},
                &rc);
  EXPECT_EQ(rc, 1);
  EXPECT_EQ(s["error"]["code"], errsec::kParam) << s.dump();
  EXPECT_EQ(s["error"]["cause"], "input-too-large");
  EXPECT_EQ(s["error"]["permanence"], "permanent");
  WriteFile("big.bin", std::string(2 << 20, 'c'));
  s = Json({"decrypt", "--application-label", "unique label", "--algorithm",
            "ecies-encryption-standard-x963-sha256-aes-gcm", "--in", Path("big.bin"), "--out", Path("p.bin")},
           &rc);
  EXPECT_EQ(rc, 1);
  EXPECT_EQ(s["error"]["cause"], "input-too-large") << s.dump();
}

TEST_F(CliTest, DirectoryAsInputIsTheCallersMistake) {
  CreateFieldReportKey();
  for (const char* alg : {"ecdsa-signature-message-x962-sha256", "ecdsa-signature-digest-x962"}) {
    int rc = -1;
    auto s =
        Json({"sign", "--application-label", "unique label", "--algorithm", alg, "--in", dir_.string()}, &rc);
    EXPECT_EQ(rc, 1);
    EXPECT_EQ(s["error"]["code"], errsec::kParam) << s.dump();
    EXPECT_EQ(s["error"]["cause"], "bad-parameter");
    EXPECT_NE(s["error"]["description"].get<std::string>().find("directory"), std::string::npos);
  }
}

TEST_F(CliTest, SysdiagnoseBundleIsPrivateWhateverTheUmask) {
  const mode_t old = ::umask(022);
  int rc = -1;
  WriteFile("diag.tar.gz", "an older, world-readable file");
  ::chmod(Path("diag.tar.gz").c_str(), 0644);
  auto j = Json({"sysdiagnose", "-o", Path("diag.tar.gz")}, &rc);
  ::umask(old);
  ASSERT_EQ(rc, 0) << j.dump();
  struct stat st {};
  ASSERT_EQ(::stat(Path("diag.tar.gz").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(std::system(("tar -tzf '" + Path("diag.tar.gz") + "' >/dev/null").c_str()), 0);
}

}  // namespace
}  // namespace enclave::cli
