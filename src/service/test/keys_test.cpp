// The core flow through the in-process service: create, find, sign, verify; every error coded.
#include "crypto/ec.h"
#include "service/test/fixture.h"

namespace enclave::service::testing {
namespace {

TEST_P(EnclaveTest, CreateFindSignVerify) {
  auto key = session_->CreateKey(Spec("unique label"));
  ASSERT_TRUE(key.ok()) << key.error().ToString();
  EXPECT_EQ(key->kid.size(), 16u);
  EXPECT_EQ(key->public_key_x963.size(), 65u);
  EXPECT_EQ(key->description, "<" + TagOf(token_) + ":p256 kid=" + key->kid + ">");
  EXPECT_EQ(key->accessible, "when-unlocked-this-device-only");
  EXPECT_EQ(key->access_control, std::vector<std::string>{"private-key-usage"});

  auto found = session_->FindKeys(ByLabel("unique label"));
  ASSERT_TRUE(found.ok());
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ(found->front().kid, key->kid);

  auto sig = SignMessage("unique label", "hello");
  ASSERT_TRUE(sig.ok()) << sig.error().ToString();
  EXPECT_FALSE(sig->prompted);
  EXPECT_TRUE(Verifies(*key, "hello", sig->output));
  EXPECT_FALSE(Verifies(*key, "other", sig->output));
}

TEST_P(EnclaveTest, DefaultApplicationLabelIsSha1OfPublicKey) {
  KeySpec spec;
  spec.label = "no app label";
  auto key = session_->CreateKey(spec);
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(key->application_label, crypto::Digest(crypto::Hash::kSha1, key->public_key_x963));
}

TEST_P(EnclaveTest, DuplicateAddIsRefusedAndChangesNothing) {
  auto first = session_->CreateKey(Spec("dup"));
  ASSERT_TRUE(first.ok());
  auto second = session_->CreateKey(Spec("dup"));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().domain, "OSStatus");
  EXPECT_EQ(second.error().code, -25299);
  KeyQuery all;
  all.match_all = true;
  auto keys = session_->FindKeys(all);
  ASSERT_TRUE(keys.ok());
  ASSERT_EQ(keys->size(), 1u);
  EXPECT_EQ(keys->front().kid, first->kid);
}

TEST_P(EnclaveTest, NotFoundUpdateDeleteAndMatchLimit) {
  auto missing = session_->FindKeys(ByLabel("nobody"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, -25300);
  EXPECT_EQ(missing.error().effective_cause(), "item-not-found");

  for (int i = 0; i < 3; ++i) {
    KeySpec s = Spec("k" + std::to_string(i));
    s.label = "group";
    ASSERT_TRUE(session_->CreateKey(s).ok());
  }
  KeyQuery group;
  group.label = "group";
  EXPECT_EQ(session_->FindKeys(group)->size(), 1u);
  group.match_all = true;
  EXPECT_EQ(session_->FindKeys(group)->size(), 3u);

  KeyChanges rename;
  rename.label = "renamed";
  auto updated = session_->UpdateKeys(ByLabel("k1"), rename);
  ASSERT_TRUE(updated.ok());
  EXPECT_EQ(*updated, 1);
  EXPECT_EQ(session_->FindKeys(ByLabel("k1"))->front().label, "renamed");
  EXPECT_EQ(session_->FindKeys(group)->size(), 2u);

  auto deleted = session_->DeleteKeys(group);
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(*deleted, 2);
  EXPECT_EQ(session_->DeleteKeys(group).error().code, -25300);
  EXPECT_TRUE(session_->FindKeys(ByLabel("k1")).ok());
}

TEST_P(EnclaveTest, AlgorithmsAndParameterErrors) {
  auto key = session_->CreateKey(Spec("algs"));
  ASSERT_TRUE(key.ok());
  AuthOptions auth;
  // A digest algorithm checks the digest size.
  auto bad_digest = session_->Sign(ByLabel("algs"), "ecdsa-signature-digest-x962-sha256", Bytes(31, 1), auth);
  ASSERT_FALSE(bad_digest.ok());
  EXPECT_EQ(bad_digest.error().code, -50);
  auto digest = session_->Sign(ByLabel("algs"), "ecdsa-signature-digest-x962-sha256", Bytes(32, 1), auth);
  ASSERT_TRUE(digest.ok()) << digest.error().ToString();
  auto raw = session_->Sign(ByLabel("algs"), "ecdsa-signature-message-rfc4754-sha256", ToBytes("m"), auth);
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(raw->output.size(), 64u);
  auto unknown = session_->Sign(ByLabel("algs"), "rsa-signature-pkcs1", ToBytes("m"), auth);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, -50);
  auto wrong_kind = session_->Sign(ByLabel("algs"), "ecdh-key-exchange-standard", ToBytes("m"), auth);
  EXPECT_EQ(wrong_kind.error().code, -50);
  auto exported = session_->ExportPrivateKey(ByLabel("algs"));
  ASSERT_FALSE(exported.ok());
  EXPECT_EQ(exported.error().code, -4);
  KeySpec bad_class = Spec("x", "sometimes");
  EXPECT_EQ(session_->CreateKey(bad_class).error().code, -50);
  KeySpec p384 = Spec("p384");
  p384.key_size = 384;
  auto refused = session_->CreateKey(p384);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, -50);
  EXPECT_NE(refused.error().description.find("P-256"), std::string::npos);
  KeySpec rsa = Spec("rsa");
  rsa.key_type = "rsa";
  EXPECT_EQ(session_->CreateKey(rsa).error().code, -50);
  KeySpec bad_token = Spec("y");
  bad_token.token = "hsm9000";
  EXPECT_EQ(session_->CreateKey(bad_token).error().code, -50);
}

TEST_P(EnclaveTest, EciesAndEcdhRoundTrips) {
  auto key = session_->CreateKey(Spec("ecies"));
  ASSERT_TRUE(key.ok());
  auto pub = crypto::EcPublicKey::FromX963(key->public_key_x963);
  ASSERT_TRUE(pub.ok());
  for (const char* name : {"ecies-encryption-cofactor-variable-iv-x963-sha256-aes-gcm",
                           "ecies-encryption-standard-x963-sha256-aes-gcm"}) {
    auto alg = crypto::FindAlgorithm(name);
    ASSERT_TRUE(alg.ok());
    auto ct = crypto::EciesEncrypt(*alg, *pub, AsBytes("secret message"));
    ASSERT_TRUE(ct.ok());
    auto pt = session_->Decrypt(ByLabel("ecies"), name, *ct, AuthOptions{});
    ASSERT_TRUE(pt.ok()) << pt.error().ToString();
    EXPECT_EQ(ToString(pt->output), "secret message");
    Bytes tampered = *ct;
    tampered.back() ^= 1;
    EXPECT_FALSE(session_->Decrypt(ByLabel("ecies"), name, tampered, AuthOptions{}).ok());
  }
  auto peer = crypto::EcPrivateKey::Generate();
  ASSERT_TRUE(peer.ok());
  auto shared = session_->KeyExchange(ByLabel("ecies"), "ecdh-key-exchange-standard", peer->PublicKey().X963(),
                                      std::nullopt, {}, AuthOptions{});
  ASSERT_TRUE(shared.ok()) << shared.error().ToString();
  auto expected = peer->SharedSecret(*pub);
  ASSERT_TRUE(expected.ok());
  EXPECT_EQ(SecureBytes(shared->output), *expected);
  auto kdf = session_->KeyExchange(ByLabel("ecies"), "ecdh-key-exchange-standard-x963-sha256",
                                   peer->PublicKey().X963(), 48, ToBytes("info"), AuthOptions{});
  ASSERT_TRUE(kdf.ok());
  EXPECT_EQ(kdf->output.size(), 48u);
  auto no_size = session_->KeyExchange(ByLabel("ecies"), "ecdh-key-exchange-standard-x963-sha256",
                                       peer->PublicKey().X963(), std::nullopt, {}, AuthOptions{});
  EXPECT_EQ(no_size.error().code, -50);
}

TEST_P(EnclaveTest, NonPermanentKeysLiveOnlyForTheSession) {
  KeySpec s = Spec("ephemeral");
  s.permanent = false;
  ASSERT_TRUE(session_->CreateKey(s).ok());
  ASSERT_TRUE(SignMessage("ephemeral").ok());
  auto other = enclave_->OpenSession(Peer{});
  EXPECT_EQ(other->FindKeys(ByLabel("ephemeral")).error().code, -25300);
  session_ = enclave_->OpenSession(Peer{});
  EXPECT_EQ(session_->FindKeys(ByLabel("ephemeral")).error().code, -25300);
}

TEST_P(EnclaveTest, KeysSurviveARestart) {
  auto key = session_->CreateKey(Spec("persist"));
  ASSERT_TRUE(key.ok());
  Restart();
  auto sig = SignMessage("persist", "after restart");
  ASSERT_TRUE(sig.ok()) << sig.error().ToString();
  EXPECT_TRUE(Verifies(*key, "after restart", sig->output));
}

TEST_P(EnclaveTest, TamperedBlobOrBoundAttributesAreRefused) {
  auto a = session_->CreateKey(Spec("a"));
  auto b = session_->CreateKey(Spec("b"));
  ASSERT_TRUE(a.ok() && b.ok());
  auto inject = Admin("inject", {{"fault", "blob-flip"}, {"kid", a->kid}});
  ASSERT_TRUE(inject.ok()) << inject.error().ToString();
  auto sig = SignMessage("a");
  ASSERT_FALSE(sig.ok());
  EXPECT_EQ(sig.error().domain, "CryptoTokenKit");
  EXPECT_EQ(sig.error().code, -3);
  EXPECT_EQ(sig.error().effective_cause(), "key-blob-corrupt");
  EXPECT_TRUE(sig.error().permanently_invalid());
  EXPECT_TRUE(SignMessage("b").ok());
}

TEST_P(EnclaveTest, TenThousandKeysFoundByLabel) {
  if (token_ != "soft") GTEST_SKIP() << "10,000 key generations in a software TPM take minutes; lookup is token-independent";
  constexpr int kKeys = 10000;
  for (int i = 0; i < kKeys; ++i) {
    auto k = session_->CreateKey(Spec("customer-" + std::to_string(i), "always-this-device-only", {}));
    ASSERT_TRUE(k.ok()) << i << ": " << k.error().ToString();
  }
  for (int i = 0; i < kKeys; i += 1) {
    auto found = session_->FindKeys(ByLabel("customer-" + std::to_string(i)));
    ASSERT_TRUE(found.ok()) << i;
    ASSERT_EQ(found->size(), 1u);
  }
}

ENCLAVE_INSTANTIATE_FOR_TOKENS(EnclaveTest);

}  // namespace
}  // namespace enclave::service::testing
