// Diagnosis and recovery through the service: each injected fault gives a documented error, a
// doctor verdict and an event; reenroll recovers; the diagnostics bundle holds no secret.
#include "crypto/ec.h"
#include "keybag/keybag.h"
#include "keychain/keychain.h"
#include "service/config.h"
#include "service/enclave_impl.h"
#include "service/test/fixture.h"

namespace enclave::service::testing {
namespace {

class RecoveryTest : public EnclaveTest {
 protected:
  void SetUp() override {
    EnclaveTest::SetUp();
    EnableSimulator();
    Biometry("enroll", "right-thumb");
    Biometry("match");
  }
  nlohmann::json Doctor() {
    auto d = Admin("doctor");
    EXPECT_TRUE(d.ok());
    return d.ok() ? *d : nlohmann::json::object();
  }
  static nlohmann::json VerdictOf(const nlohmann::json& doctor, const std::string& kid) {
    for (const auto& k : doctor["keys"]) {
      if (k["kid"] == kid) return k;
    }
    return nlohmann::json::object();
  }
  bool EventNames(const std::string& kind, const std::string& kid) {
    auto events = Admin("events");
    if (!events.ok()) return false;
    for (const auto& e : (*events)["events"]) {
      if (e["kind"] == kind) {
        for (const auto& k : e["kids"]) {
          if (k == kid) return true;
        }
      }
    }
    return false;
  }
};

TEST_P(RecoveryTest, DoctorIsCleanAtFirst) {
  ASSERT_TRUE(session_->CreateKey(Spec("one", "when-unlocked", {"biometry-any", "private-key-usage"})).ok());
  ASSERT_TRUE(session_->CreateKey(Spec("two")).ok());
  auto d = Doctor();
  ASSERT_EQ(d["keys"].size(), 2u);
  for (const auto& k : d["keys"]) EXPECT_EQ(k["verdict"], "healthy");
  EXPECT_TRUE(d["ok"].get<bool>());
  EXPECT_TRUE(d["database"]["ok"].get<bool>());
}

TEST_P(RecoveryTest, BiometryResetFaultIsSeenByDoctorAndJournal) {
  auto key = session_->CreateKey(Spec("unique label", "when-unlocked", {"biometry-any", "private-key-usage"}));
  auto other = session_->CreateKey(Spec("other"));
  ASSERT_TRUE(key.ok() && other.ok());
  ASSERT_TRUE(Admin("inject", {{"fault", "biometry-reset"}}).ok());
  auto d = Doctor();
  EXPECT_EQ(VerdictOf(d, key->kid)["verdict"], "permanently-invalid");
  EXPECT_EQ(VerdictOf(d, key->kid)["cause"], "biometry-database-reset");
  EXPECT_EQ(VerdictOf(d, key->kid)["remedy"], "reenroll");
  EXPECT_EQ(VerdictOf(d, other->kid)["verdict"], "healthy");
  EXPECT_FALSE(d["ok"].get<bool>());
  EXPECT_TRUE(EventNames("biometry-reset", key->kid));
}

TEST_P(RecoveryTest, EnrollmentChangeFault) {
  auto key = session_->CreateKey(Spec("set", "when-unlocked", {"biometry-current-set"}));
  ASSERT_TRUE(key.ok());
  ASSERT_TRUE(Admin("inject", {{"fault", "enrollment-change"}}).ok());
  EXPECT_EQ(VerdictOf(Doctor(), key->kid)["cause"], "biometry-set-changed");
  EXPECT_TRUE(EventNames("enrollment-changed", key->kid));
  EXPECT_EQ(SignMessage("set").error().code, -3);
}

TEST_P(RecoveryTest, ClassKeyCorruptFault) {
  auto key = session_->CreateKey(Spec("ck", "after-first-unlock"));
  ASSERT_TRUE(key.ok());
  ASSERT_TRUE(Admin("inject", {{"fault", "class-key-corrupt"}, {"class", "ck"}}).ok());
  auto sig = SignMessage("ck");
  ASSERT_FALSE(sig.ok());
  EXPECT_EQ(sig.error().code, -3);
  EXPECT_EQ(sig.error().effective_cause(), "class-key-lost");
  EXPECT_EQ(sig.error().user_info["AKSError"], -536363001);
  EXPECT_EQ(VerdictOf(Doctor(), key->kid)["verdict"], "permanently-invalid");
  EXPECT_TRUE(EventNames("class-key-damaged", key->kid));
}

TEST_P(RecoveryTest, BlobFaults) {
  auto flipped = session_->CreateKey(Spec("flip"));
  auto missing = session_->CreateKey(Spec("missing"));
  ASSERT_TRUE(flipped.ok() && missing.ok());
  ASSERT_TRUE(Admin("inject", {{"fault", "blob-flip"}, {"kid", flipped->kid}}).ok());
  ASSERT_TRUE(Admin("inject", {{"fault", "blob-missing"}, {"kid", missing->kid}}).ok());
  auto d = Doctor();
  EXPECT_EQ(VerdictOf(d, flipped->kid)["cause"], "key-blob-corrupt");
  EXPECT_EQ(VerdictOf(d, missing->kid)["cause"], "key-blob-missing");
  EXPECT_TRUE(EventNames("fault-injected", flipped->kid));
  EXPECT_TRUE(EventNames("fault-injected", missing->kid));
  EXPECT_EQ(SignMessage("missing").error().code, -3);
}

TEST_P(RecoveryTest, DatabasePageCorruptionIsReported) {
  for (int i = 0; i < 200; ++i) {
    KeySpec bulk = Spec("bulk-" + std::to_string(i), "always", {});
    bulk.token = "soft";  // the database is what is damaged here, not the token
    ASSERT_TRUE(session_->CreateKey(bulk).ok());
  }
  ASSERT_TRUE(Admin("inject", {{"fault", "db-page-corrupt"}}).ok());
  auto d = Doctor();
  EXPECT_FALSE(d["database"]["ok"].get<bool>()) << d["database"].dump();
  EXPECT_FALSE(d["ok"].get<bool>());
}

TEST_P(RecoveryTest, InjectionNeedsDebug) {
  Open(/*debug=*/false);
  auto r = Admin("inject", {{"fault", "biometry-reset"}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().effective_cause(), "debug-disabled");
}

TEST_P(RecoveryTest, ReenrollRecoversADeadKeyWithTheSameIdentity) {
  KeySpec spec = Spec("unique label", "when-unlocked-this-device-only", {"biometry-any", "private-key-usage"});
  spec.label = "customer";
  spec.application_tag = ToBytes("tag");
  auto key = session_->CreateKey(spec);
  ASSERT_TRUE(key.ok());
  Biometry("reset");
  Biometry("enroll", "right-thumb");
  Biometry("match");
  ASSERT_FALSE(SignMessage("unique label").ok());
  auto r = session_->Reenroll(ByLabel("unique label"), AuthOptions{});
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->old_kid, key->kid);
  EXPECT_NE(r->key.kid, key->kid);
  EXPECT_FALSE(r->rotation_statement.has_value()) << "a dead key cannot sign a rotation statement";
  EXPECT_EQ(r->key.label, "customer");
  EXPECT_EQ(r->key.application_tag, ToBytes("tag"));
  EXPECT_EQ(r->key.access_control, key->access_control);
  EXPECT_EQ(r->key.accessible, key->accessible);
  auto sig = SignMessage("unique label", "again");
  ASSERT_TRUE(sig.ok()) << sig.error().ToString();
  EXPECT_TRUE(Verifies(r->key, "again", sig->output));
  EXPECT_TRUE(Doctor()["ok"].get<bool>());
}

TEST_P(RecoveryTest, ReenrollOfALiveKeySignsARotationStatement) {
  auto key = session_->CreateKey(Spec("alive"));
  ASSERT_TRUE(key.ok());
  auto r = session_->Reenroll(ByLabel("alive"), AuthOptions{});
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  ASSERT_TRUE(r->rotation_statement.has_value());
  auto statement = nlohmann::json::parse(ToString(*r->rotation_statement));
  EXPECT_EQ(statement["old_kid"], key->kid);
  EXPECT_EQ(statement["new_kid"], r->key.kid);
  nlohmann::json body = statement;
  body.erase("signature");
  auto sig = HexDecode(statement["signature"].get<std::string>());
  ASSERT_TRUE(sig.has_value());
  EXPECT_TRUE(Verifies(*key, body.dump(), *sig));
  EXPECT_FALSE(Verifies(r->key, body.dump(), *sig));
}

TEST_P(RecoveryTest, DiagnosticsHoldNoSecrets) {
  const std::string passcode = "97531864";
  ASSERT_TRUE(Admin("passcode.set", {}, {passcode}).ok());
  auto key = session_->CreateKey(Spec("unique label", "when-unlocked", {"biometry-any", "private-key-usage"}));
  ASSERT_TRUE(key.ok());
  ASSERT_TRUE(SignMessage("unique label").ok());
  auto bundle = Admin("sysdiagnose");
  ASSERT_TRUE(bundle.ok());
  std::string all;
  for (auto& [name, content] : (*bundle)["files"].items()) all += name + "\n" + content.get<std::string>();
  EXPECT_NE(all.find(key->kid), std::string::npos);
  EXPECT_EQ(all.find(passcode), std::string::npos);
  // The key's private material (the unsealed token blob: the soft token's scalar, the TPM's
  // private area) must be in neither the bundle nor the database files.
  auto items = keychain::Keychain::Open(home_ / "keychain.db");
  ASSERT_TRUE(items.ok());
  keychain::ItemQuery q;
  q.kid = key->kid;
  auto item = (*items)->Find(q);
  ASSERT_TRUE(item.ok());
  session_.reset();
  enclave_.reset();
  auto bag = keybag::Keybag::Open(home_ / "keybag", keybag::KeybagOptions{});
  if (bag.ok()) {
    ASSERT_TRUE((*bag)->Unlock(SecureBytes(AsBytes(passcode))).ok());
    auto blob = (*bag)->Unseal(keybag::ProtectionClass::kWhenUnlocked, item->front().sealed_blob,
                               BoundAttributes(item->front()));
    ASSERT_TRUE(blob.ok()) << blob.error().ToString();
    const std::string material(blob->data() + 1, blob->data() + blob->size());  // past the version byte
    if (token_ == "soft") {
      EXPECT_EQ(material.size(), 32u) << "the soft token blob is a version byte and the scalar";
    }
    EXPECT_EQ(all.find(material), std::string::npos);
    EXPECT_EQ(all.find(HexEncode(AsBytes(material))), std::string::npos);
    for (const char* file : {"keychain.db", "keychain.db-wal"}) {
      auto db = service::ReadFile(home_ / file);
      if (db.ok()) {
        EXPECT_EQ(db->find(material), std::string::npos) << file;
      }
    }
  } else {
    EXPECT_EQ(token_, "tpm2") << bag.error().ToString();  // a TPM-sealed keybag needs the TPM's sealer
  }
  // Every secret file in the home, in raw and hex form, must be absent from the bundle.
  for (const auto& entry : std::filesystem::recursive_directory_iterator(home_ / "keybag")) {
    if (!entry.is_regular_file() || entry.path().filename() != "device.secret") continue;
    auto secret = service::ReadFile(entry.path());
    ASSERT_TRUE(secret.ok());
    EXPECT_EQ(all.find(*secret), std::string::npos);
    EXPECT_EQ(all.find(HexEncode(AsBytes(*secret))), std::string::npos);
  }
}

TEST_P(RecoveryTest, ClearedTpmMakesKeysPermanentlyInvalidAndReenrollRecovers) {
  if (token_ != "tpm2") GTEST_SKIP() << "only a TPM can be cleared";
  auto key = session_->CreateKey(Spec("tpm key"));
  ASSERT_TRUE(key.ok()) << key.error().ToString();
  ASSERT_TRUE(SignMessage("tpm key").ok());
  Restart();  // the daemon stops before the TPM is cleared
  auto status = Admin("status");
  ASSERT_TRUE(status.ok());
  EXPECT_EQ((*status)["keybag"]["device_secret_protection"], "tpm2") << "the keybag was sealed by the TPM";
  tpm_->Stop();
  tpm_->WipeState();
  ASSERT_TRUE(tpm_->Start());
  Restart();  // the keybag's sealed device secret is gone with the TPM: re-created, and said so
  EXPECT_TRUE(EventNames("keybag-recreated", key->kid));
  auto sig = SignMessage("tpm key");
  ASSERT_FALSE(sig.ok());
  EXPECT_EQ(sig.error().code, -3);
  EXPECT_EQ(sig.error().permanence(), "permanent");
  EXPECT_EQ(sig.error().effective_cause(), "tpm-cleared");
  auto d = Doctor();
  EXPECT_EQ(VerdictOf(d, key->kid)["verdict"], "permanently-invalid");
  EXPECT_EQ(VerdictOf(d, key->kid)["cause"], "tpm-cleared");
  auto r = session_->Reenroll(ByLabel("tpm key"), AuthOptions{});
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  auto again = SignMessage("tpm key", "new tpm");
  ASSERT_TRUE(again.ok()) << again.error().ToString();
  EXPECT_TRUE(Verifies(r->key, "new tpm", again->output));
}

ENCLAVE_INSTANTIATE_FOR_TOKENS(RecoveryTest);

}  // namespace
}  // namespace enclave::service::testing

namespace enclave::service::testing {
namespace {

// A passcode removed without the passcode (a fault): when-passcode-set keys are destroyed and
// the journal names them; other keys live on. Only possible while the keybag is unlocked.
TEST_P(RecoveryTest, PasscodeRemovalFaultDestroysPasscodeBoundKeys) {
  ASSERT_TRUE(Admin("passcode.set", {}, {"2468"}).ok());
  auto bound = session_->CreateKey(Spec("akpu", "when-passcode-set-this-device-only"));
  auto other = session_->CreateKey(Spec("other"));
  ASSERT_TRUE(bound.ok() && other.ok());
  ASSERT_TRUE(Admin("lock").ok());
  auto locked = Admin("inject", {{"fault", "passcode-removal"}});
  ASSERT_FALSE(locked.ok());
  EXPECT_EQ(locked.error().code, -25308) << locked.error().ToString();
  ASSERT_TRUE(session_->FindKeys(ByLabel("akpu")).ok());

  ASSERT_TRUE(Admin("unlock", {}, {"2468"}).ok());
  auto r = Admin("inject", {{"fault", "passcode-removal"}});
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ((*r)["kids"], nlohmann::json::array({bound->kid}));
  auto gone = session_->FindKeys(ByLabel("akpu"));
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code, -25300);
  EXPECT_TRUE(EventNames("passcode-removed", bound->kid));
  EXPECT_FALSE(EventNames("passcode-removed", other->kid));
  auto status = Admin("status");
  ASSERT_TRUE(status.ok());
  EXPECT_EQ((*status)["keybag"]["passcode_set"], false);
  auto sig = SignMessage("other");
  EXPECT_TRUE(sig.ok()) << sig.error().ToString();
}

}  // namespace
}  // namespace enclave::service::testing
