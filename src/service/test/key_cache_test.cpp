// The per-item cache of loaded keys changes nothing a caller can see: each event that may change
// what a key may do stops a cached key on the very next request (or makes it reload).
#include "auth/policy.h"
#include "keychain/keychain.h"
#include "service/enclave_impl.h"
#include "service/test/fixture.h"

namespace enclave::service::testing {
namespace {

class KeyCacheTest : public EnclaveTest {
 protected:
  KeyCache& Cache() { return dynamic_cast<EnclaveImpl&>(*enclave_).key_cache(); }
  // Creates a key and signs once, so that it is loaded and cached.
  KeyInfo CachedKey(const std::string& label,
                    const std::string& accessible = "when-unlocked-this-device-only",
                    std::vector<std::string> acl = {"private-key-usage"}) {
    auto key = session_->CreateKey(Spec(label, accessible, std::move(acl)));
    EXPECT_TRUE(key.ok()) << key.error().ToString();
    auto sig = SignMessage(label);
    EXPECT_TRUE(sig.ok()) << sig.error().ToString();
    EXPECT_EQ(Cache().size(), 1u) << "the key is cached after its first use";
    return key.ok() ? *key : KeyInfo{};
  }
};

TEST_P(KeyCacheTest, RepeatedSignsUseOneLoadAndStillVerify) {
  KeyInfo key = CachedKey("k");
  for (int i = 0; i < 5; ++i) {
    auto sig = SignMessage("k", "message " + std::to_string(i));
    ASSERT_TRUE(sig.ok()) << sig.error().ToString();
    EXPECT_TRUE(Verifies(key, "message " + std::to_string(i), sig->output));
  }
  EXPECT_EQ(Cache().size(), 1u);
}

TEST_P(KeyCacheTest, LockStopsACachedKey) {
  ASSERT_TRUE(Admin("passcode.set", {}, {"246810"}).ok());
  CachedKey("k");
  ASSERT_TRUE(Admin("lock").ok());
  EXPECT_EQ(Cache().size(), 0u);
  auto sig = SignMessage("k");
  ASSERT_FALSE(sig.ok());
  EXPECT_EQ(sig.error().code, -25308);
  ASSERT_TRUE(Admin("unlock", {}, {"246810"}).ok());
  EXPECT_TRUE(SignMessage("k").ok());
}

TEST_P(KeyCacheTest, PasscodeChangeDropsAndRemovalStopsACachedKey) {
  ASSERT_TRUE(Admin("passcode.set", {}, {"2468"}).ok());
  CachedKey("akpu", "when-passcode-set-this-device-only");
  ASSERT_TRUE(Admin("passcode.set", {}, {"2468", "1357"}).ok());
  EXPECT_EQ(Cache().size(), 0u) << "a passcode change drops every loaded key";
  ASSERT_TRUE(SignMessage("akpu").ok()) << "a passcode change keeps the key usable (reloaded)";
  EXPECT_EQ(Cache().size(), 1u);
  ASSERT_TRUE(Admin("passcode.remove", {}, {"1357"}).ok());
  EXPECT_EQ(Cache().size(), 0u);
  auto sig = SignMessage("akpu");
  ASSERT_FALSE(sig.ok());
  EXPECT_EQ(sig.error().code, -25300) << sig.error().ToString();
}

TEST_P(KeyCacheTest, BiometryChangeStopsACachedKey) {
  EnableSimulator();
  Biometry("enroll", "right-thumb");
  Biometry("match");
  CachedKey("bio", "when-unlocked-this-device-only", {"biometry-current-set", "private-key-usage"});
  Biometry("enroll", "left-thumb");
  auto sig = SignMessage("bio");
  ASSERT_FALSE(sig.ok());
  EXPECT_EQ(sig.error().domain, "CryptoTokenKit");
  EXPECT_EQ(sig.error().code, -3);
  EXPECT_EQ(sig.error().prompted, std::optional<bool>(false));
}

TEST_P(KeyCacheTest, UpdateDeleteAndReenrollStopACachedKey) {
  CachedKey("upd");
  KeyChanges no_sign;
  no_sign.can_sign = false;
  ASSERT_TRUE(session_->UpdateKeys(ByLabel("upd"), no_sign).ok());
  auto refused = SignMessage("upd");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, -50);

  CachedKey("del");
  ASSERT_TRUE(session_->DeleteKeys(ByLabel("del")).ok());
  auto gone = SignMessage("del");
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code, -25300);

  KeyInfo old = CachedKey("re");
  auto r = session_->Reenroll(ByLabel("re"), AuthOptions{});
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  auto sig = SignMessage("re", "after reenroll");
  ASSERT_TRUE(sig.ok()) << sig.error().ToString();
  EXPECT_TRUE(Verifies(r->key, "after reenroll", sig->output));
  EXPECT_FALSE(Verifies(old, "after reenroll", sig->output)) << "the old (cached) key signed";
}

TEST_P(KeyCacheTest, PolicyEditedInTheDatabaseWhileCachedIsRefused) {
  CachedKey("guarded", "when-unlocked-this-device-only", {"private-key-usage"});
  // Another writer moves the item to another class: the cached key must not be used for it.
  auto kc = keychain::Keychain::Open(home_ / "keychain.db");
  ASSERT_TRUE(kc.ok());
  ASSERT_TRUE((*kc)->ExecForTesting("UPDATE key_items SET accessible = 'dku'").ok());
  auto sig = SignMessage("guarded");
  ASSERT_FALSE(sig.ok());
  EXPECT_EQ(sig.error().code, -3);
}

TEST_P(KeyCacheTest, SessionEndDropsNonPermanentKeys) {
  KeySpec spec = Spec("ephemeral");
  spec.permanent = false;
  ASSERT_TRUE(session_->CreateKey(spec).ok());
  ASSERT_TRUE(SignMessage("ephemeral").ok());
  EXPECT_EQ(Cache().size(), 0u) << "non-permanent keys are cached by their session, not the enclave";
  session_ = enclave_->OpenSession(Peer{});
  auto sig = SignMessage("ephemeral");
  ASSERT_FALSE(sig.ok());
  EXPECT_EQ(sig.error().code, -25300);
}

TEST_P(KeyCacheTest, TpmClearStopsACachedKey) {
  if (token_ != "tpm2") GTEST_SKIP() << "only a TPM can be cleared";
  CachedKey("tpm key");
  tpm_->Stop();
  tpm_->WipeState();
  ASSERT_TRUE(tpm_->Start());
  auto sig = SignMessage("tpm key");
  ASSERT_FALSE(sig.ok()) << "a key of a cleared TPM signed from the cache";
  EXPECT_EQ(sig.error().domain, "CryptoTokenKit");
}

ENCLAVE_INSTANTIATE_FOR_TOKENS(KeyCacheTest);

}  // namespace
}  // namespace enclave::service::testing
