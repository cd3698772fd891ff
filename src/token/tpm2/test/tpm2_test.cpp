// The tpm2 token against a real TPM 2.0 implementation (swtpm on loopback).
#include <gtest/gtest.h>
#include <tss2/tss2_common.h>
#include <tss2/tss2_tpm2_types.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

#include "crypto/ec.h"
#include "token/tpm2/test/swtpm_process.h"
#include "token/tpm2/tpm2_errors.h"
#include "token/tpm2/tpm2_sealer.h"
#include "token/tpm2/tpm2_token.h"
#include "token/tpm2/tpm2_token_impl.h"

namespace enclave::token {
namespace {

using tpm2::Tpm2Sealer;

class Tpm2TokenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::SwtpmProcess::FindBinary()) {
      GTEST_SKIP() << "swtpm is not installed (apt-get install swtpm); tpm2 token tests skipped";
    }
    ASSERT_TRUE(swtpm_.Start()) << "swtpm did not start";
    config_.tpm2_tcti = swtpm_.Tcti();
  }

  std::unique_ptr<Token> Open() {
    auto token = OpenTpm2Token(config_);
    EXPECT_TRUE(token.ok()) << token.error().ToString();
    return token.ok() ? std::move(token).value() : nullptr;
  }

  // A TPM clear: the TPM comes back on the same port with new seeds.
  void ClearTpm() {
    swtpm_.Stop();
    swtpm_.WipeState();
    ASSERT_TRUE(swtpm_.Start());
  }

  testing::SwtpmProcess swtpm_;
  TokenConfig config_;
};

Bytes Sha256(std::string_view s) { return crypto::Digest(crypto::Hash::kSha256, AsBytes(s)); }

bool Verifies(const Key& key, ByteView digest, ByteView der) {
  auto pub = crypto::EcPublicKey::FromX963(key.PublicKeyX963());
  return pub.ok() && pub->VerifyDigestDer(digest, der);
}

void ExpectTpmCleared(const Error& e) {
  EXPECT_EQ(e.domain, domain::kCryptoTokenKit) << e.ToString();
  EXPECT_EQ(e.code, tkerror::kCorruptedData) << e.ToString();
  EXPECT_EQ(e.effective_cause(), "tpm-cleared") << e.ToString();
  EXPECT_EQ(e.permanence(), "permanent");
  EXPECT_TRUE(e.user_info.contains("TPMError")) << e.user_info.dump();
  EXPECT_TRUE(e.user_info.contains("TPMErrorText")) << e.user_info.dump();
}

TEST_F(Tpm2TokenTest, OpenAndDescribeShowsTheTpm) {
  auto token = Open();
  ASSERT_TRUE(token);
  EXPECT_EQ(token->id(), "tpm2");
  EXPECT_EQ(token->description_tag(), "tpmk");
  const nlohmann::json d = token->Describe();
  EXPECT_EQ(d["id"], "tpm2");
  EXPECT_EQ(d["tcti"], config_.tpm2_tcti);
  EXPECT_EQ(d["available"], true) << d.dump();
  EXPECT_EQ(d["manufacturer"], "IBM") << d.dump();  // swtpm reports IBM's vendor id
  EXPECT_FALSE(d["vendor_string"].get<std::string>().empty());
  EXPECT_TRUE(d["firmware_version"].is_string());
  EXPECT_EQ(d["spec"].get<std::string>().rfind("2.0 rev ", 0), 0u) << d.dump();
  EXPECT_EQ(d["in_lockout"], false);
  EXPECT_GT(d["max_auth_fail"].get<int>(), 0);
  EXPECT_EQ(d["lockout_counter"], 0);
  EXPECT_TRUE(d.contains("lockout_interval"));
  EXPECT_GE(d["transient_object_slots"].get<int>(), 3);
}

TEST_F(Tpm2TokenTest, UnreachableTpmIsTokenUnavailable) {
  swtpm_.Stop();
  auto token = OpenTpm2Token(config_);
  ASSERT_FALSE(token.ok());
  EXPECT_EQ(token.error().domain, domain::kCryptoTokenKit);
  EXPECT_EQ(token.error().code, tkerror::kTokenNotFound);
  EXPECT_EQ(token.error().effective_cause(), "token-unavailable");

  TokenConfig bogus{"nosuchtcti:whatever"};
  auto other = OpenTpm2Token(bogus);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().code, tkerror::kTokenNotFound);
}

TEST_F(Tpm2TokenTest, GeneratedKeySignsVerifiably) {
  auto token = Open();
  ASSERT_TRUE(token);
  auto gen = token->GenerateKeySlowly();
  ASSERT_TRUE(gen.ok()) << gen.error().ToString();
  const Bytes pub = gen->key->PublicKeyX963();
  ASSERT_EQ(pub.size(), 65u);
  EXPECT_EQ(pub[0], 0x04);
  ASSERT_TRUE(crypto::EcPublicKey::FromX963(pub).ok());

  const std::string message = "sign me in the TPM";
  const Bytes digest = Sha256(message);
  auto sig = gen->key->SignDigestSlowly(digest);
  ASSERT_TRUE(sig.ok()) << sig.error().ToString();
  EXPECT_TRUE(Verifies(*gen->key, digest, *sig));
  EXPECT_FALSE(Verifies(*gen->key, Sha256("another message"), *sig));

  // The same signature with the openssl command line, as users check it.
  const auto dir =
      std::filesystem::temp_directory_path() / ("enclave-tpm2-openssl-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  {
    std::ofstream(dir / "pub.pem") << crypto::EcPublicKey::FromX963(pub)->SpkiPem();
    std::ofstream(dir / "data.bin", std::ios::binary) << message;
    std::ofstream(dir / "sig.der", std::ios::binary)
        .write(reinterpret_cast<const char*>(sig->data()), static_cast<std::streamsize>(sig->size()));
  }
  const std::string cmd = "openssl dgst -sha256 -verify " + (dir / "pub.pem").string() + " -signature " +
                          (dir / "sig.der").string() + " " + (dir / "data.bin").string() + " >/dev/null 2>&1";
  if (std::system("command -v openssl >/dev/null 2>&1") == 0) {
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  }
  std::filesystem::remove_all(dir);
}

TEST_F(Tpm2TokenTest, SignsDigestsOfEverySizeByEcdsaTruncation) {
  auto token = Open();
  ASSERT_TRUE(token);
  auto gen = token->GenerateKeySlowly();
  ASSERT_TRUE(gen.ok()) << gen.error().ToString();
  for (crypto::Hash h :
       {crypto::Hash::kSha1, crypto::Hash::kSha224, crypto::Hash::kSha384, crypto::Hash::kSha512}) {
    const Bytes digest = crypto::Digest(h, AsBytes("digest sizes"));
    auto sig = gen->key->SignDigestSlowly(digest);
    ASSERT_TRUE(sig.ok()) << crypto::HashName(h) << ": " << sig.error().ToString();
    EXPECT_TRUE(Verifies(*gen->key, digest, *sig)) << crypto::HashName(h);
  }
  auto empty = gen->key->SignDigestSlowly({});
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().code, errsec::kParam);
}

TEST_F(Tpm2TokenTest, EcdhMatchesASoftwarePeer) {
  auto token = Open();
  ASSERT_TRUE(token);
  auto gen = token->GenerateKeySlowly();
  ASSERT_TRUE(gen.ok()) << gen.error().ToString();
  auto peer = crypto::EcPrivateKey::Generate();
  ASSERT_TRUE(peer.ok());

  auto tpm_side = gen->key->ComputeSharedSecretSlowly(peer->PublicKey().X963());
  ASSERT_TRUE(tpm_side.ok()) << tpm_side.error().ToString();
  auto tpm_pub = crypto::EcPublicKey::FromX963(gen->key->PublicKeyX963());
  ASSERT_TRUE(tpm_pub.ok());
  auto soft_side = peer->SharedSecret(*tpm_pub);
  ASSERT_TRUE(soft_side.ok());
  EXPECT_EQ(tpm_side->size(), 32u);
  EXPECT_TRUE(*tpm_side == *soft_side);

  Bytes off_curve = peer->PublicKey().X963();
  off_curve[40] ^= 0x01;
  auto bad = gen->key->ComputeSharedSecretSlowly(off_curve);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, errsec::kParam);
}

TEST_F(Tpm2TokenTest, LoadKeyFromBlobAfterReopening) {
  SecureBytes blob;
  Bytes pub;
  {
    auto token = Open();
    ASSERT_TRUE(token);
    auto gen = token->GenerateKeySlowly();
    ASSERT_TRUE(gen.ok()) << gen.error().ToString();
    blob = gen->token_blob;
    pub = gen->key->PublicKeyX963();
  }
  auto token = Open();  // a new ESYS context; the SRK is re-created from the same seed
  ASSERT_TRUE(token);
  auto key = token->LoadKey(blob);
  ASSERT_TRUE(key.ok()) << key.error().ToString();
  EXPECT_EQ((*key)->PublicKeyX963(), pub);
  const Bytes digest = Sha256("after reopening");
  auto sig = (*key)->SignDigestSlowly(digest);
  ASSERT_TRUE(sig.ok()) << sig.error().ToString();
  EXPECT_TRUE(Verifies(**key, digest, *sig));
}

TEST_F(Tpm2TokenTest, MalformedBlobIsCorruptData) {
  auto token = Open();
  ASSERT_TRUE(token);
  auto gen = token->GenerateKeySlowly();
  ASSERT_TRUE(gen.ok());
  Bytes truncated(gen->token_blob.view().begin(), gen->token_blob.view().end() - 3);
  auto key = token->LoadKey(truncated);
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.error().code, tkerror::kCorruptedData);
  EXPECT_EQ(key.error().effective_cause(), "key-blob-corrupt");

  // A sealed-data blob is not a key.
  auto sealer = tpm2::OpenSealer(*token);
  ASSERT_TRUE(sealer.ok());
  auto sealed = (*sealer)->Seal(AsBytes("not a key"));
  ASSERT_TRUE(sealed.ok()) << sealed.error().ToString();
  auto not_key = token->LoadKey(*sealed);
  ASSERT_FALSE(not_key.ok());
  EXPECT_EQ(not_key.error().effective_cause(), "key-blob-corrupt");
}

TEST_F(Tpm2TokenTest, MoreKeysThanTheTpmHasSlotsAllSign) {
  auto token = Open();
  ASSERT_TRUE(token);
  std::vector<std::unique_ptr<Key>> keys;
  for (int i = 0; i < 7; ++i) {
    auto gen = token->GenerateKeySlowly();
    ASSERT_TRUE(gen.ok()) << i << ": " << gen.error().ToString();
    auto loaded = token->LoadKey(gen->token_blob);
    ASSERT_TRUE(loaded.ok()) << i << ": " << loaded.error().ToString();
    keys.push_back(std::move(loaded).value());
    keys.push_back(std::move(gen->key));
  }
  auto& device = *dynamic_cast<tpm2::Tpm2Token&>(*token).device();
  ASSERT_LT(device.cache_capacity(), keys.size());
  for (int round = 0; round < 2; ++round) {
    for (size_t i = 0; i < keys.size(); ++i) {
      const Bytes digest = Sha256("key " + std::to_string(i));
      auto sig = keys[i]->SignDigestSlowly(digest);
      ASSERT_TRUE(sig.ok()) << i << ": " << sig.error().ToString();
      EXPECT_TRUE(Verifies(*keys[i], digest, *sig)) << i;
      EXPECT_LE(device.cached_objects_for_testing(), device.cache_capacity());
    }
  }
}

TEST_F(Tpm2TokenTest, AttestationVerifiesOnlyForTheAttestedKey) {
  auto token = Open();
  ASSERT_TRUE(token);
  auto gen = token->GenerateKeySlowly();
  ASSERT_TRUE(gen.ok());
  auto other = token->GenerateKeySlowly();
  ASSERT_TRUE(other.ok());
  const Bytes nonce = crypto::RandomBytes(32);
  auto attestation = tpm2::AttestKeySlowly(*token, gen->token_blob, nonce);
  ASSERT_TRUE(attestation.ok()) << attestation.error().ToString();
  const nlohmann::json statement = attestation->ToJson();
  const Bytes pub = gen->key->PublicKeyX963();

  auto ok = tpm2::VerifyAttestation(statement, pub, nonce);
  EXPECT_TRUE(ok.ok()) << ok.error().ToString();
  EXPECT_TRUE(tpm2::VerifyAttestation(nlohmann::json::parse(statement.dump()), pub).ok());

  auto wrong_key = tpm2::VerifyAttestation(statement, other->key->PublicKeyX963());
  ASSERT_FALSE(wrong_key.ok());
  EXPECT_EQ(wrong_key.error().code, errsec::kVerifyFailed);
  EXPECT_EQ(wrong_key.error().effective_cause(), "attestation-invalid");

  EXPECT_FALSE(tpm2::VerifyAttestation(statement, pub, crypto::RandomBytes(32)).ok());

  for (const char* field : {"certify_info", "signature", "attestation_public_key",
                            "attestation_key_tpm_public", "qualifying_data"}) {
    nlohmann::json tampered = statement;
    std::string hex = tampered[field];
    ASSERT_GE(hex.size(), 40u) << field;
    hex[hex.size() / 2] = hex[hex.size() / 2] == '0' ? '1' : '0';
    tampered[field] = hex;
    EXPECT_FALSE(tpm2::VerifyAttestation(tampered, pub).ok()) << field;
  }
  nlohmann::json missing = statement;
  missing.erase("signature");
  EXPECT_FALSE(tpm2::VerifyAttestation(missing, pub).ok());

  // The attestation key is deterministic: a second statement names the same signer.
  auto again = tpm2::AttestKeySlowly(*token, other->token_blob);
  ASSERT_TRUE(again.ok()) << again.error().ToString();
  EXPECT_EQ(again->attestation_public_key_x963, attestation->attestation_public_key_x963);
  EXPECT_TRUE(tpm2::VerifyAttestation(again->ToJson(), other->key->PublicKeyX963()).ok());
}

TEST_F(Tpm2TokenTest, SealerRoundTrip) {
  auto sealer = Tpm2Sealer::Open(config_);
  ASSERT_TRUE(sealer.ok()) << sealer.error().ToString();
  const SecureBytes secret = crypto::RandomSecret(32);
  auto sealed = (*sealer)->Seal(secret);
  ASSERT_TRUE(sealed.ok()) << sealed.error().ToString();
  // The blob must not carry the secret in clear.
  const std::string blob_hex = HexEncode(*sealed);
  EXPECT_EQ(blob_hex.find(HexEncode(secret)), std::string::npos);
  auto unsealed = (*sealer)->Unseal(*sealed);
  ASSERT_TRUE(unsealed.ok()) << unsealed.error().ToString();
  EXPECT_TRUE(*unsealed == secret);

  EXPECT_FALSE((*sealer)->Seal({}).ok());
  EXPECT_FALSE((*sealer)->Seal(Bytes(Tpm2Sealer::kMaxSecretSize + 1, 7)).ok());
  auto bad = (*sealer)->Unseal(Bytes{1, 2, 3});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().effective_cause(), "key-blob-corrupt");
}

TEST_F(Tpm2TokenTest, SealedWithAuthCountsWrongValuesTowardTheLockout) {
  auto token = Open();
  ASSERT_TRUE(token);
  auto opened = tpm2::OpenSealer(*token);
  ASSERT_TRUE(opened.ok()) << opened.error().ToString();
  Tpm2Sealer& sealer = **opened;
  const SecureBytes secret = crypto::RandomSecret(32);
  const SecureBytes auth = crypto::RandomSecret(32);
  const SecureBytes wrong = crypto::RandomSecret(32);
  auto device_secret = sealer.Seal(crypto::RandomSecret(32));
  ASSERT_TRUE(device_secret.ok()) << device_secret.error().ToString();

  auto sealed = sealer.SealWithAuth(secret, auth);
  ASSERT_TRUE(sealed.ok()) << sealed.error().ToString();
  EXPECT_EQ(HexEncode(*sealed).find(HexEncode(secret)), std::string::npos);
  EXPECT_EQ(HexEncode(*sealed).find(HexEncode(auth)), std::string::npos);
  auto unsealed = sealer.UnsealWithAuth(*sealed, auth);
  ASSERT_TRUE(unsealed.ok()) << unsealed.error().ToString();
  EXPECT_TRUE(*unsealed == secret);
  EXPECT_EQ(token->Describe()["lockout_counter"], 0);
  EXPECT_FALSE(sealer.SealWithAuth(secret, {}).ok());
  EXPECT_FALSE(sealer.SealWithAuth(secret, Bytes(Tpm2Sealer::kMaxAuthSize + 1, 1)).ok());

  // Every wrong value is refused by the TPM and raises its dictionary-attack counter, up to
  // the lockout.
  const int max_tries = token->Describe()["max_auth_fail"].get<int>();
  ASSERT_GT(max_tries, 0);
  ASSERT_LE(max_tries, 64) << "this TPM allows too many tries to reach its lockout in a test";
  for (int i = 1; i <= max_tries; ++i) {
    auto refused = sealer.UnsealWithAuth(*sealed, wrong);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().domain, domain::kCryptoTokenKit);
    EXPECT_EQ(refused.error().code, tkerror::kAuthenticationFailed) << refused.error().ToString();
    EXPECT_EQ(refused.error().effective_cause(), "tpm-auth-failed") << refused.error().ToString();
    EXPECT_EQ(token->Describe()["lockout_counter"], i);
  }

  // Locked out: even the right value is refused, with the TPM's recovery interval.
  const nlohmann::json d = token->Describe();
  EXPECT_EQ(d["in_lockout"], true) << d.dump();
  auto locked = sealer.UnsealWithAuth(*sealed, auth);
  ASSERT_FALSE(locked.ok());
  EXPECT_EQ(locked.error().effective_cause(), "tpm-lockout") << locked.error().ToString();
  EXPECT_EQ(locked.error().permanence(), "transient");
  EXPECT_EQ(locked.error().user_info["retry_after_seconds"], d["lockout_interval"])
      << locked.error().ToString();

  // The device secret is sealed without auth and exempt from the lockout.
  auto still = sealer.Unseal(*device_secret);
  EXPECT_TRUE(still.ok()) << still.error().ToString();
}

TEST_F(Tpm2TokenTest, RestartedTpmIsReconnectedTransparently) {
  auto token = Open();
  ASSERT_TRUE(token);
  auto gen = token->GenerateKeySlowly();
  ASSERT_TRUE(gen.ok());
  swtpm_.Stop();
  auto down = gen->key->SignDigestSlowly(Sha256("down"));
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.error().code, tkerror::kTokenNotFound) << down.error().ToString();
  EXPECT_EQ(down.error().effective_cause(), "token-unavailable");
  EXPECT_EQ(token->Describe()["available"], false);

  ASSERT_TRUE(swtpm_.Start());  // same state: same seeds, same SRK
  const Bytes digest = Sha256("up again");
  auto sig = gen->key->SignDigestSlowly(digest);
  ASSERT_TRUE(sig.ok()) << sig.error().ToString();
  EXPECT_TRUE(Verifies(*gen->key, digest, *sig));
}

TEST_F(Tpm2TokenTest, ClearedTpmMakesKeysAndSealedSecretsPermanentlyInvalid) {
  SecureBytes blob;
  Bytes sealed;
  auto token = Open();
  ASSERT_TRUE(token);
  auto gen = token->GenerateKeySlowly();
  ASSERT_TRUE(gen.ok());
  blob = gen->token_blob;
  {
    auto sealer = tpm2::OpenSealer(*token);
    ASSERT_TRUE(sealer.ok());
    auto s = (*sealer)->Seal(crypto::RandomSecret(32));
    ASSERT_TRUE(s.ok());
    sealed = *s;
  }

  ClearTpm();

  // The token that was open across the clear reconnects and finds the key gone.
  auto stale = token->LoadKey(blob);
  ASSERT_FALSE(stale.ok());
  ExpectTpmCleared(stale.error());
  auto sign = gen->key->SignDigestSlowly(Sha256("after clear"));
  ASSERT_FALSE(sign.ok());
  ExpectTpmCleared(sign.error());

  token.reset();
  auto fresh = Open();
  ASSERT_TRUE(fresh);
  auto key = fresh->LoadKey(blob);
  ASSERT_FALSE(key.ok());
  ExpectTpmCleared(key.error());
  auto unsealed = tpm2::OpenSealer(*fresh).value()->Unseal(sealed);
  ASSERT_FALSE(unsealed.ok());
  ExpectTpmCleared(unsealed.error());

  // New keys work on the cleared TPM.
  auto replacement = fresh->GenerateKeySlowly();
  ASSERT_TRUE(replacement.ok()) << replacement.error().ToString();
  EXPECT_TRUE(fresh->LoadKey(replacement->token_blob).ok());
}

TEST(Tpm2ErrorsTest, MapsTpmCodesToCauses) {
  using tpm2::MapTpmError;
  using tpm2::MapTpmLoadError;
  Error lockout = MapTpmError(TPM2_RC_LOCKOUT, "TPM2_Unseal");
  EXPECT_EQ(lockout.domain, domain::kCryptoTokenKit);
  EXPECT_EQ(lockout.effective_cause(), "tpm-lockout");
  EXPECT_EQ(lockout.permanence(), "transient");
  EXPECT_EQ(lockout.user_info["TPMError"], TPM2_RC_LOCKOUT);
  ASSERT_TRUE(lockout.underlying);
  EXPECT_EQ(lockout.underlying->domain, domain::kTPM);

  // Format-one codes carry the session / parameter number.
  const TSS2_RC auth_fail_session1 = TPM2_RC_AUTH_FAIL + TPM2_RC_S + TPM2_RC_1;
  EXPECT_EQ(MapTpmError(auth_fail_session1, "x").effective_cause(), "tpm-auth-failed");
  const TSS2_RC integrity_param2 = TPM2_RC_INTEGRITY + TPM2_RC_P + TPM2_RC_2;
  Error cleared = MapTpmLoadError(integrity_param2, "TPM2_Load");
  EXPECT_EQ(cleared.code, tkerror::kCorruptedData);
  EXPECT_EQ(cleared.effective_cause(), "tpm-cleared");
  EXPECT_EQ(MapTpmLoadError(TPM2_RC_SIZE + TPM2_RC_P + TPM2_RC_1, "TPM2_Load").effective_cause(),
            "tpm-cleared");
  EXPECT_EQ(MapTpmError(TPM2_RC_OBJECT_MEMORY, "x").effective_cause(), "tpm-object-memory");
  EXPECT_EQ(MapTpmError(TPM2_RC_FAILURE, "x").effective_cause(), "tpm-failure");
  const TSS2_RC tcti_io = TSS2_TCTI_RC_LAYER | TSS2_BASE_RC_IO_ERROR;
  Error io = MapTpmError(tcti_io, "TPM2_Sign");
  EXPECT_EQ(io.code, tkerror::kTokenNotFound);
  EXPECT_EQ(io.effective_cause(), "token-unavailable");
  EXPECT_TRUE(tpm2::IsCommunicationError(tcti_io));
  EXPECT_FALSE(tpm2::IsCommunicationError(TPM2_RC_LOCKOUT));
}

}  // namespace
}  // namespace enclave::token
