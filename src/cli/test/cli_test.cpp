// The CLI's commands over an in-process service session in a temporary ENCLAVE_HOME: argument
// parsing, the --json contract, files written, exit statuses.
#include "cli/cli.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/test/cli_fixture.h"
#include "common/bytes.h"
#include "crypto/algorithm.h"
#include "crypto/ec.h"
#include "service/enclave.h"

namespace enclave::cli {
namespace {

using testing::CliTest;
namespace fs = std::filesystem;

TEST_F(CliTest, CreateShowListFollowTheJsonContract) {
  const auto k = CreateFieldReportKey();
  const std::string kid = k["kid"];
  EXPECT_EQ(kid.size(), 16u);
  EXPECT_EQ(k["application_label"], "unique label");
  EXPECT_EQ(k["application_label_hex"], HexEncode(AsBytes("unique label")));
  EXPECT_EQ(k["token"], "soft");
  EXPECT_EQ(k["accessible"], "when-unlocked-this-device-only");
  EXPECT_EQ(k["access_control"], nlohmann::json::array({"private-key-usage"}));
  const std::string pub = k["public_key_x963"];
  EXPECT_EQ(pub.size(), 130u);
  EXPECT_EQ(pub.substr(0, 2), "04");

  int rc = -1;
  auto s = Json({"key", "show", "--application-label", "unique label"}, &rc);
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(s["kid"], kid);
  s = Json({"key", "show", "--application-label-hex", HexEncode(AsBytes("unique label"))}, &rc);
  EXPECT_EQ(s["kid"], kid);
  s = Json({"key", "show", "--kid", kid}, &rc);
  EXPECT_EQ(s["public_key_x963"], pub);

  auto l = Json({"key", "list"}, &rc);
  EXPECT_EQ(rc, 0);
  ASSERT_EQ(l["keys"].size(), 1u);
  EXPECT_EQ(l["keys"][0]["kid"], kid);

  // Human output names the key too.
  EXPECT_EQ(Run({"key", "list"}), 0);
  EXPECT_NE(out_.str().find(kid), std::string::npos);
}

TEST_F(CliTest, ErrorsAreJsonWithCatalogFieldsAndExitOne) {
  CreateFieldReportKey();
  int rc = -1;
  auto d = Json({"key", "create", "--application-label", "unique label", "--accessible",
                 "when-unlocked-this-device-only", "--access-control", "private-key-usage"},
                &rc);
  EXPECT_EQ(rc, 1);
  EXPECT_EQ(d["error"]["domain"], "OSStatus");
  EXPECT_EQ(d["error"]["code"], -25299);
  EXPECT_EQ(d["error"]["cause"], "duplicate-item");
  EXPECT_TRUE(d["error"].contains("permanence"));
  EXPECT_TRUE(d["error"].contains("remedy"));

  auto nf = Json({"key", "show", "--application-label", "nobody"}, &rc);
  EXPECT_EQ(rc, 1);
  EXPECT_EQ(nf["error"]["code"], -25300);

  // Without --json: nothing on stdout, a readable message on stderr.
  EXPECT_EQ(Run({"key", "show", "--application-label", "nobody"}), 1);
  EXPECT_TRUE(out_.str().empty());
  EXPECT_NE(err_.str().find("errSecItemNotFound"), std::string::npos);
}

TEST_F(CliTest, UsageErrorsExitTwo) {
  EXPECT_EQ(Run({"sign", "--application-label", "x", "--in", "a"}), 2);  // no --algorithm
  EXPECT_EQ(Run({"key", "export-public", "--kid", "x", "--format", "jpeg"}), 2);
  EXPECT_EQ(Run({}), 2);
  EXPECT_EQ(Run({"--help"}), 0);
  int rc = -1;
  auto j = Json({"key", "frobnicate"}, &rc);
  EXPECT_EQ(rc, 2);
  EXPECT_EQ(j["error"]["code"], -50);
}

TEST_F(CliTest, SignThenVerifyRoundTripAndTamperedDataFails) {
  const auto k = CreateFieldReportKey();
  WriteFile("data.bin", "challenge from the relying party\n");
  int rc = -1;
  auto sg = Json(
      {"sign", "--application-label", "unique label", "--algorithm", "ecdsa-signature-message-x962-sha256",
       "--prompt", "Verify your identity", "--in", Path("data.bin"), "--out", Path("sig.der")},
      &rc);
  ASSERT_EQ(rc, 0) << sg.dump();
  EXPECT_EQ(sg["kid"], k["kid"]);
  EXPECT_EQ(sg["algorithm"], "ecdsa-signature-message-x962-sha256");
  EXPECT_EQ(sg["prompted"], false);
  EXPECT_EQ(sg["signature"], HexEncode(AsBytes(ReadFile("sig.der"))));

  ASSERT_EQ(Run({"key", "export-public", "--application-label", "unique label", "--format", "spki-pem",
                 "--out", Path("pub.pem")}),
            0);
  EXPECT_EQ(
      Run({"verify", "--public-key", Path("pub.pem"), "--algorithm", "ecdsa-signature-message-x962-sha256",
           "--in", Path("data.bin"), "--signature", Path("sig.der")}),
      0)
      << err_.str();
  WriteFile("other.bin", "tampered");
  auto bad =
      Json({"verify", "--public-key", Path("pub.pem"), "--algorithm", "ecdsa-signature-message-x962-sha256",
            "--in", Path("other.bin"), "--signature", Path("sig.der")},
           &rc);
  EXPECT_EQ(rc, 1);
  EXPECT_EQ(bad["error"]["code"], -67808);

  // The raw form is 64 bytes and verifies too.
  ASSERT_EQ(Run({"sign", "--kid", k["kid"], "--algorithm", "ecdsa-signature-message-rfc4754-sha256", "--in",
                 Path("data.bin"), "--out", Path("sig.raw")}),
            0);
  EXPECT_EQ(ReadFile("sig.raw").size(), 64u);
  EXPECT_EQ(
      Run({"verify", "--public-key", Path("pub.pem"), "--algorithm", "ecdsa-signature-message-rfc4754-sha256",
           "--in", Path("data.bin"), "--signature", Path("sig.raw")}),
      0);

  // An independent verifier agrees, when openssl(1) is installed.
  if (std::system("command -v openssl >/dev/null 2>&1") == 0) {
    const std::string cmd = "openssl dgst -sha256 -verify '" + Path("pub.pem") + "' -signature '" +
                            Path("sig.der") + "' '" + Path("data.bin") + "' >/dev/null 2>&1";
    EXPECT_EQ(std::system(cmd.c_str()), 0);
  }
}

TEST_F(CliTest, VerifyAcceptsAKnownOpensslSignatureInEveryKeyEncoding) {
  // Made once with `openssl dgst -sha256 -sign` over the message below.
  const std::string pem =
      "-----BEGIN PUBLIC KEY-----\n"
      "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEhF5X+cZ1msoYIRvuMA3K4WHN6VMg\n"
      "s42YX9ygl1v7wgu0PMDnFEVh8tV2TSUXd3aIMgXGIe4IjjfqFwOq1soHhQ==\n"
      "-----END PUBLIC KEY-----\n";
  const auto sig = HexDecode(
      "30440220309d39e398f5a4a24a38ea81fb56891848aae637cd20d7cd42d4f0ed6dcaf4b902206117ff5131534df7bd1e2c04d6"
      "7537e3"
      "cdee50574c65a0e40ecd2f9f629a25fd");
  ASSERT_TRUE(sig.has_value());
  WriteFile("msg.bin", "known message for the verify test\n");
  WriteFile("sig.der", ToString(*sig));
  WriteFile("pub.pem", pem);
  auto key = crypto::EcPublicKey::FromPem(pem);
  ASSERT_TRUE(key.ok());
  WriteFile("pub.der", ToString(key->SpkiDer()));
  WriteFile("pub.x963", ToString(key->X963()));
  for (const char* f : {"pub.pem", "pub.der", "pub.x963"}) {
    int rc = -1;
    auto v = Json({"verify", "--public-key", Path(f), "--algorithm", "ecdsa-signature-message-x962-sha256",
                   "--in", Path("msg.bin"), "--signature", Path("sig.der")},
                  &rc);
    EXPECT_EQ(rc, 0) << f << v.dump();
    EXPECT_EQ(v["valid"], true);
  }
  Bytes flipped = *sig;
  flipped[10] ^= 1;
  WriteFile("sig.bad", ToString(flipped));
  EXPECT_EQ(
      Run({"verify", "--public-key", Path("pub.pem"), "--algorithm", "ecdsa-signature-message-x962-sha256",
           "--in", Path("msg.bin"), "--signature", Path("sig.bad")}),
      1);
}

TEST_F(CliTest, ExportFormats) {
  const auto k = CreateFieldReportKey();
  const std::string x963 = k["public_key_x963"];
  int rc = -1;
  auto j = Json({"key", "export-public", "--kid", k["kid"], "--format", "x963"}, &rc);
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(j["public_key"], x963);
  EXPECT_EQ(j["format"], "x963");

  ASSERT_EQ(
      Run({"key", "export-public", "--kid", k["kid"], "--format", "spki-der", "--out", Path("pub.der")}), 0);
  auto der = crypto::EcPublicKey::FromSpkiDer(AsBytes(ReadFile("pub.der")));
  ASSERT_TRUE(der.ok());
  EXPECT_EQ(HexEncode(der->X963()), x963);

  ASSERT_EQ(Run({"key", "export-public", "--kid", k["kid"], "--format", "spki-pem"}), 0);  // to stdout
  EXPECT_EQ(out_.str().rfind("-----BEGIN PUBLIC KEY-----", 0), 0u);
  auto pem = crypto::EcPublicKey::FromPem(out_.str());
  ASSERT_TRUE(pem.ok());
  EXPECT_EQ(HexEncode(pem->X963()), x963);

  ASSERT_EQ(Run({"key", "export-public", "--kid", k["kid"], "--format", "openssh", "--out", Path("id.pub")}),
            0);
  EXPECT_EQ(ReadFile("id.pub").rfind("ecdsa-sha2-nistp256 AAAA", 0), 0u);

  ASSERT_EQ(Run({"key", "export-public", "--kid", k["kid"], "--format", "x963", "--out", Path("pub.raw")}),
            0);
  EXPECT_EQ(HexEncode(AsBytes(ReadFile("pub.raw"))), x963);
}

TEST_F(CliTest, EciesEncryptLocallyDecryptInTheEnclave) {
  CreateFieldReportKey();
  ASSERT_EQ(Run({"key", "export-public", "--application-label", "unique label", "--out", Path("pub.pem")}),
            0);
  WriteFile("msg.txt", "secret for the enclave only");
  const std::string alg = "ecies-encryption-cofactor-variable-iv-x963-sha256-aes-gcm";
  ASSERT_EQ(Run({"encrypt", "--public-key", Path("pub.pem"), "--algorithm", alg, "--in", Path("msg.txt"),
                 "--out", Path("ct.bin")}),
            0)
      << err_.str();
  int rc = -1;
  auto d = Json({"decrypt", "--application-label", "unique label", "--algorithm", alg, "--in", Path("ct.bin"),
                 "--out", Path("pt.bin")},
                &rc);
  ASSERT_EQ(rc, 0) << d.dump();
  EXPECT_EQ(ReadFile("pt.bin"), "secret for the enclave only");
  EXPECT_FALSE(d.contains("plaintext"));
}

TEST_F(CliTest, KeyExchangeWithKdfMatchesThePeersSide) {
  const auto k = CreateFieldReportKey();
  auto peer = crypto::EcPrivateKey::Generate();
  ASSERT_TRUE(peer.ok());
  WriteFile("peer.pem", peer->PublicKey().SpkiPem());
  int rc = -1;
  auto j = Json({"key-exchange", "--kid", k["kid"], "--algorithm", "ecdh-key-exchange-standard-x963-sha256",
                 "--peer-public-key", Path("peer.pem"), "--requested-size", "32", "--shared-info-hex", "0a0b",
                 "--out", Path("secret.bin")},
                &rc);
  ASSERT_EQ(rc, 0) << j.dump();
  auto ours = crypto::EcPublicKey::FromX963(*HexDecode(k["public_key_x963"].get<std::string>()));
  ASSERT_TRUE(ours.ok());
  auto z = peer->SharedSecret(*ours);
  ASSERT_TRUE(z.ok());
  const SecureBytes expected = crypto::X963Kdf(crypto::Hash::kSha256, *z, *HexDecode("0a0b"), 32);
  EXPECT_EQ(HexEncode(AsBytes(ReadFile("secret.bin"))), HexEncode(expected));
}

TEST_F(CliTest, UpdateAndDeleteCountMatches) {
  CreateFieldReportKey("one");
  CreateFieldReportKey("two");
  int rc = -1;
  auto u = Json({"key", "update", "--application-label", "one", "--set-label", "renamed"}, &rc);
  EXPECT_EQ(rc, 0) << u.dump();
  EXPECT_EQ(u["updated"], 1);
  EXPECT_EQ(Json({"key", "show", "--label", "renamed"}, &rc)["application_label"], "one");
  EXPECT_EQ(Json({"key", "delete"}, &rc)["error"]["code"], -50);  // refuses to delete everything unasked
  auto d = Json({"key", "delete", "--token", "soft"}, &rc);
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(d["deleted"], 2);
  EXPECT_EQ(Json({"key", "list"}, &rc)["keys"].size(), 0u);
  EXPECT_EQ(rc, 0);
}

TEST_F(CliTest, ReenrollEmitsAStatementThatVerifyRotationAccepts) {
  const auto k = CreateFieldReportKey();
  int rc = -1;
  auto r = Json({"key", "reenroll", "--application-label", "unique label", "--rotation-statement-out",
                 Path("rotation.json")},
                &rc);
  ASSERT_EQ(rc, 0) << r.dump();
  EXPECT_EQ(r["old_kid"], k["kid"]);
  EXPECT_NE(r["kid"], k["kid"]);
  EXPECT_EQ(r["public_key_x963"].get<std::string>().size(), 130u);
  ASSERT_TRUE(r["rotation_statement"].is_string());
  auto v = Json({"verify-rotation", "--in", Path("rotation.json")}, &rc);
  EXPECT_EQ(rc, 0) << v.dump();
  EXPECT_EQ(v["new_public_key_x963"], r["public_key_x963"]);
  // The hex form from --json verifies as well.
  WriteFile("rotation.hex", r["rotation_statement"].get<std::string>());
  EXPECT_EQ(Run({"verify-rotation", "--in", Path("rotation.hex")}), 0);
  // A statement whose new key was swapped does not.
  auto doc = nlohmann::json::parse(ReadFile("rotation.json"));
  doc["new_public_key_x963"] = k["public_key_x963"];
  WriteFile("forged.json", doc.dump());
  auto f = Json({"verify-rotation", "--in", Path("forged.json")}, &rc);
  EXPECT_EQ(rc, 1);
  EXPECT_EQ(f["error"]["code"], -67808);
}

TEST(RotationStatementTest, CanonicalJsonSignedByTheOldKey) {
  auto old_key = crypto::EcPrivateKey::Generate();
  auto new_key = crypto::EcPrivateKey::Generate();
  ASSERT_TRUE(old_key.ok() && new_key.ok());
  nlohmann::json s{{"old_public_key_x963", HexEncode(old_key->PublicKey().X963())},
                   {"new_public_key_x963", HexEncode(new_key->PublicKey().X963())},
                   {"timestamp", 1700000000}};
  auto alg = crypto::FindAlgorithm("ecdsa-signature-message-x962-sha256");
  ASSERT_TRUE(alg.ok());
  auto digest = crypto::SignatureInputDigest(*alg, AsBytes(s.dump()));
  ASSERT_TRUE(digest.ok());
  auto sig = old_key->SignDigestDer(*digest);
  ASSERT_TRUE(sig.ok());
  s["signature"] = HexEncode(*sig);
  EXPECT_TRUE(VerifyRotationStatement(AsBytes(s.dump(2))).ok());
  // Signed by the new key instead: refused.
  auto wrong = new_key->SignDigestDer(*digest);
  s["signature"] = HexEncode(*wrong);
  auto r = VerifyRotationStatement(AsBytes(s.dump()));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, -67808);
  EXPECT_FALSE(VerifyRotationStatement(AsBytes("{\"timestamp\":1}")).ok());
  EXPECT_FALSE(VerifyRotationStatement(AsBytes("not a statement")).ok());
}

TEST_F(CliTest, ExplainDecodesTheFieldReportAndAdmitsIgnorance) {
  const std::string field =
      "Error Domain=CryptoTokenKit Code=-3 \"<sepk:p256 kid=1214c04d05261ee3>: unable to sign digest\" "
      "UserInfo={NSDebugDescription=<sepk:p256 kid=1214c04d05261ee3>: unable to sign digest, "
      "AKSError=-536362999}";
  int rc = -1;
  auto x = Json({"explain", field}, &rc);
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(x["remedy"], "reenroll");
  EXPECT_EQ(x["codes"][0]["code"], -3);
  EXPECT_EQ(x["codes"][1]["code"], -536362999);
  EXPECT_EQ(x["kid"], "1214c04d05261ee3");
  x = Json({"explain", "OSStatus", "error", "-25293"}, &rc);  // several words are joined
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(x["codes"][0]["name"], "errSecAuthFailed");
  x = Json({"explain", "-25300"}, &rc);  // a negative number is a positional, not an option
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(x["codes"][0]["name"], "errSecItemNotFound");
  EXPECT_EQ(Run({"explain", "the printer is on fire"}), 1);
  EXPECT_NE(err_.str().find("No error code"), std::string::npos);
}

TEST_F(CliTest, PasscodeFromStdinThenLockAndUnlock) {
  ASSERT_EQ(Run({"passcode", "set", "--passcode-stdin"}, "246810\n"), 0) << err_.str();
  ASSERT_EQ(Run({"lock"}), 0) << err_.str();
  int rc = -1;
  auto bad = Json({"unlock", "--passcode-stdin"}, &rc, "0000\n");
  EXPECT_EQ(rc, 1);
  EXPECT_TRUE(bad.contains("error"));
  EXPECT_EQ(Run({"unlock", "--passcode-stdin"}, "246810\n"), 0) << err_.str();
  // Changing needs the old one first.
  EXPECT_EQ(Run({"passcode", "change", "--passcode-stdin"}, "246810\n13579\n"), 0) << err_.str();
  EXPECT_EQ(Run({"passcode", "remove", "--passcode-stdin"}, "13579\n"), 0) << err_.str();
}

TEST_F(CliTest, SignAsksForThePasscodeWhenTheKeyNeedsIt) {
  ASSERT_EQ(Run({"passcode", "set", "--passcode-stdin"}, "97531864\n"), 0) << err_.str();
  int rc = -1;
  auto k = Json(
      {"key", "create", "--application-label", "pc", "--access-control", "device-passcode,private-key-usage"},
      &rc);
  ASSERT_EQ(rc, 0) << k.dump();
  WriteFile("data.bin", "nonce");
  const std::vector<std::string> sign = {
      "sign", "--application-label", "pc",    "--algorithm",   "ecdsa-signature-message-x962-sha256",
      "--in", Path("data.bin"),      "--out", Path("sig.der"), "--passcode-stdin"};
  // The daemon answers errSecAuthNeeded; the CLI reads the passcode and retries once.
  auto s = Json(sign, &rc, "97531864\n");
  ASSERT_EQ(rc, 0) << s.dump();
  EXPECT_EQ(s["kid"], k["kid"]);
  s = Json(sign, &rc, "00000000\n");
  EXPECT_EQ(rc, 1);
  EXPECT_TRUE(s.contains("error"));
  // No passcode at hand and no way to ask: a clear error, never a hang.
  std::vector<std::string> without_stdin(sign.begin(), sign.end() - 1);
  s = Json(without_stdin, &rc);
  EXPECT_EQ(rc, 1);
  EXPECT_EQ(s["error"]["code"], -25308);
}

TEST_F(CliTest, SysdiagnoseWritesATarballWithTheCliVersion) {
  CreateFieldReportKey();
  int rc = -1;
  auto j = Json({"sysdiagnose", "-o", Path("diag.tar.gz")}, &rc);
  ASSERT_EQ(rc, 0) << j.dump();
  ASSERT_TRUE(fs::exists(Path("diag.tar.gz")));
  const std::string list = Path("list.txt");
  ASSERT_EQ(std::system(("tar -tzf '" + Path("diag.tar.gz") + "' > '" + list + "'").c_str()), 0);
  EXPECT_NE(ReadFile("list.txt").find("enclave-cli-version.json"), std::string::npos);
}

TEST_F(CliTest, StatusDoctorEventsPassThroughTheServiceReports) {
  CreateFieldReportKey();
  int rc = -1;
  auto st = Json({"status"}, &rc);
  EXPECT_EQ(rc, 0);
  EXPECT_TRUE(st.is_object());
  auto d = Json({"doctor"}, &rc);
  EXPECT_EQ(rc, 0) << d.dump();
  ASSERT_EQ(d["keys"].size(), 1u);
  EXPECT_EQ(d["keys"][0]["verdict"], "healthy");
  auto ev = Json({"events"}, &rc);
  EXPECT_EQ(rc, 0);
  EXPECT_TRUE(ev["events"].is_array());
}

TEST_F(CliTest, DaemonControlIsReportedMissingInProcess) {
  int rc = -1;
  auto j = Json({"daemon", "status"}, &rc);
  EXPECT_EQ(rc, 1);
  EXPECT_EQ(j["error"]["code"], -4);
}

}  // namespace
}  // namespace enclave::cli
