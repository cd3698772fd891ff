// The relying party on a SQLite store with a software authenticator written against src/webauthn:
// the ceremonies, the decisions of re-binding, the limits, and that the key cache never changes a
// decision.
#include "rp/relying_party.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "rp/key_cache.h"
#include "test_keys.h"
#include "webauthn/webauthn.h"

namespace enclave::rp {
namespace {

using nlohmann::json;
using webauthn::Base64UrlDecode;
using webauthn::Base64UrlEncode;
using webauthn::testing::Concat;
using webauthn::testing::TestKey;

constexpr char kOrigin[] = "https://example.com";

// One enclave home: credentials and the home's device key.
struct Device {
  TestKey device_key;
  std::map<Bytes, std::shared_ptr<TestKey>> keys;
  // Extensions the next registrations carry beside the device proof.
  webauthn::Extensions extra_extensions;

  json Create(const json& options, bool proof = true, std::optional<Bytes> replaces = {},
              std::optional<std::string> cause = {}, uint8_t flags = 0x45) {
    auto key = std::make_shared<TestKey>();
    Bytes id(32);
    for (auto& b : id) b = static_cast<uint8_t>(rand());
    webauthn::AuthenticatorData ad;
    ad.rp_id_hash = webauthn::Sha256(AsBytes(options["rp"]["id"].get<std::string>()));
    ad.flags = flags;
    ad.attested = webauthn::AttestedCredential{webauthn::kEnclaveAaguid, id, key->Cose()};
    webauthn::Extensions extensions = extra_extensions;
    if (proof) {
      auto msg = *webauthn::DeviceProofMessage(ad.rp_id_hash, id, ad.attested->cose_key,
                                               replaces.value_or(Bytes{}), cause.value_or(""));
      webauthn::DeviceProof p{device_key.Cose(), device_key.Sign(msg), replaces, cause};
      extensions[webauthn::kDeviceExtension] = webauthn::EncodeDeviceProof(p);
    }
    if (!extensions.empty()) ad.extensions_cbor = webauthn::EncodeExtensions(extensions);
    auto challenge = *Base64UrlDecode(options["challenge"].get<std::string>());
    std::string cdj = webauthn::ClientDataJson(webauthn::kTypeCreate, challenge, kOrigin);
    auto auth_data = webauthn::Encode(ad);
    auto sig = key->Sign(Concat(auth_data, webauthn::Sha256(AsBytes(cdj))));
    auto att = webauthn::EncodeAttestationObject(webauthn::kFmtPacked,
                                                 webauthn::EncodePackedSelfStatement(sig), auth_data);
    keys[id] = key;
    return {{"credential",
             {{"id", Base64UrlEncode(id)},
              {"rawId", Base64UrlEncode(id)},
              {"type", "public-key"},
              {"response",
               {{"clientDataJSON", Base64UrlEncode(AsBytes(cdj))},
                {"attestationObject", Base64UrlEncode(att)}}}}}};
  }

  json Get(const json& options, const Bytes& id, uint32_t counter = 0) {
    webauthn::AuthenticatorData ad;
    ad.rp_id_hash = webauthn::Sha256(AsBytes(options["rpId"].get<std::string>()));
    ad.flags = 0x05;
    ad.sign_count = counter;
    auto challenge = *Base64UrlDecode(options["challenge"].get<std::string>());
    std::string cdj = webauthn::ClientDataJson(webauthn::kTypeGet, challenge, kOrigin);
    auto auth_data = webauthn::Encode(ad);
    auto sig = keys.at(id)->Sign(Concat(auth_data, webauthn::Sha256(AsBytes(cdj))));
    return {{"credential",
             {{"id", Base64UrlEncode(id)},
              {"rawId", Base64UrlEncode(id)},
              {"type", "public-key"},
              {"response",
               {{"clientDataJSON", Base64UrlEncode(AsBytes(cdj))},
                {"authenticatorData", Base64UrlEncode(auth_data)},
                {"signature", Base64UrlEncode(sig)}}}}}};
  }

  json DeadReport(const Bytes& id, const std::string& cause) {
    return {{"credential_id", Base64UrlEncode(id)},
            {"cause", cause},
            {"device_signature", Base64UrlEncode(device_key.Sign(*webauthn::DeadReportMessage(id, cause)))}};
  }
};

class RelyingPartyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("rp-test-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    Start();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void Start() {
    auto store = OpenStore("sqlite:" + (dir_ / "rp.sqlite").string());
    ASSERT_TRUE(store.ok());
    auto rp = RelyingParty::Create(config_, std::move(*store));
    ASSERT_TRUE(rp.ok());
    rp_ = std::move(*rp);
  }
  // A registration's answer (status) or its failure's reason.
  std::string Register(Device& d, const std::string& user, Bytes* id = nullptr, bool proof = true,
                       std::optional<Bytes> replaces = {}, uint8_t flags = 0x45) {
    auto options = rp_->RegistrationOptions({{"user", user}});
    EXPECT_TRUE(options.ok());
    auto cred = d.Create(*options, proof, replaces,
                         replaces ? std::optional<std::string>("biometry-changed") : std::nullopt, flags);
    if (id) *id = *Base64UrlDecode(cred["credential"]["rawId"].get<std::string>());
    auto r = rp_->FinishRegistration(cred);
    return r.ok() ? (*r)["status"].get<std::string>() : r.error().cause;
  }
  std::string Login(Device& d, const std::string& user, const Bytes& id, uint32_t counter = 0) {
    auto options = rp_->AuthenticationOptions({{"user", user}});
    EXPECT_TRUE(options.ok());
    auto r = rp_->FinishAuthentication(d.Get(*options, id, counter));
    return r.ok() ? (*r)["status"].get<std::string>() : r.error().cause;
  }
  std::string StateOf(const std::string& user, const Bytes& id) {
    auto list = rp_->UserCredentials(user);
    for (const auto& c : (*list)["credentials"]) {
      if (c["credential_id"] == Base64UrlEncode(id)) return c["state"];
    }
    return "absent";
  }

  Config config_{"example.com", "enclave", {kOrigin}, std::chrono::seconds(300), true, 16, 128, 100};
  std::filesystem::path dir_;
  std::unique_ptr<RelyingParty> rp_;
};

TEST_F(RelyingPartyTest, OptionsAreWebAuthnJson) {
  auto o = rp_->RegistrationOptions({{"user", "alice"}, {"display_name", "Alice"}});
  ASSERT_TRUE(o.ok());
  EXPECT_EQ((*o)["rp"]["id"], "example.com");
  EXPECT_EQ((*o)["user"]["name"], "alice");
  EXPECT_EQ((*o)["user"]["displayName"], "Alice");
  EXPECT_EQ(Base64UrlDecode((*o)["user"]["id"].get<std::string>())->size(), 32u);
  EXPECT_EQ(Base64UrlDecode((*o)["challenge"].get<std::string>())->size(), 32u);
  EXPECT_EQ((*o)["pubKeyCredParams"][0]["alg"], -7);
  EXPECT_EQ((*o)["authenticatorSelection"]["userVerification"], "required");
  auto again = rp_->RegistrationOptions({{"user", "alice"}});
  EXPECT_EQ((*again)["user"]["id"], (*o)["user"]["id"]);  // one handle per user
  auto a = rp_->AuthenticationOptions({{"user", "nobody"}});
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE((*a)["allowCredentials"].empty());
  EXPECT_EQ(rp_->RegistrationOptions({{"user", ""}}).error().cause, "user-invalid");
  EXPECT_EQ(rp_->RegistrationOptions({{"user", 5}}).error().cause, "malformed");
}

TEST_F(RelyingPartyTest, RegisterLoginAndTheCounter) {
  Device d;
  Bytes id;
  EXPECT_EQ(Register(d, "alice", &id), "registered");
  EXPECT_EQ(Login(d, "alice", id), "ok");
  EXPECT_EQ(Login(d, "alice", id, 3), "ok");
  EXPECT_EQ(Login(d, "alice", id, 3), "counter-regressed");
  EXPECT_EQ(Login(d, "alice", id, 0), "counter-regressed");
  EXPECT_EQ(Login(d, "bob", id), "credential-not-owned");
  // a registration answered twice: the challenge is spent
  auto options = rp_->RegistrationOptions({{"user", "carol"}});
  auto cred = d.Create(*options);
  EXPECT_TRUE(rp_->FinishRegistration(cred).ok());
  EXPECT_EQ(rp_->FinishRegistration(cred).error().cause, "challenge-reused");
  EXPECT_EQ(Register(d, "erin", nullptr, true, std::nullopt, 0x41), "user-verification-required");
}

TEST_F(RelyingPartyTest, AnExpiredChallengeIsRefused) {
  config_.challenge_ttl = std::chrono::seconds(1);
  Start();
  Device d;
  auto options = rp_->RegistrationOptions({{"user", "slow"}});
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_EQ(rp_->FinishRegistration(d.Create(*options)).error().cause, "challenge-expired");
}

TEST_F(RelyingPartyTest, RebindingNeedsTheSameDeviceKey) {
  Device home, other;
  Bytes old_id, new_id, stranger_id, extra_id;
  EXPECT_EQ(Register(home, "alice", &old_id), "registered");
  // a second credential from the same home is the user's at once; from another home it waits
  EXPECT_EQ(Register(home, "alice", &extra_id), "registered");
  EXPECT_EQ(Register(other, "alice", &stranger_id), "needs-step-up");
  EXPECT_EQ(Login(other, "alice", stranger_id), "step-up-required");
  // another home cannot replace alice's key, even naming it
  EXPECT_EQ(Register(other, "alice", nullptr, true, old_id), "needs-step-up");
  // a proof-less registration does not replace it either
  EXPECT_EQ(Register(home, "alice", nullptr, false, old_id), "needs-step-up");
  // the dead report must be the device key's
  EXPECT_EQ(rp_->ReportDead(other.DeadReport(old_id, "biometry-changed")).error().cause, "signature-invalid");
  auto dead = rp_->ReportDead(home.DeadReport(old_id, "biometry-changed"));
  ASSERT_TRUE(dead.ok());
  EXPECT_EQ((*dead)["state"], "dead");
  EXPECT_EQ(Login(home, "alice", old_id), "credential-dead");
  EXPECT_EQ(Register(home, "alice", &new_id, true, old_id), "rebound");
  EXPECT_EQ(StateOf("alice", old_id), "replaced");
  EXPECT_EQ(StateOf("alice", new_id), "active");
  EXPECT_EQ(Login(home, "alice", new_id), "ok");
  // approving the stranger makes it usable; deleting it makes it dead
  auto approved = rp_->ApproveStepUp(Base64UrlEncode(stranger_id));
  ASSERT_TRUE(approved.ok());
  EXPECT_EQ(Login(other, "alice", stranger_id), "ok");
  EXPECT_EQ(rp_->ApproveStepUp(Base64UrlEncode(stranger_id)).error().cause, "step-up-not-pending");
  EXPECT_TRUE(rp_->DeleteCredential(Base64UrlEncode(stranger_id)).ok());
  EXPECT_EQ(Login(other, "alice", stranger_id), "credential-dead");
  EXPECT_EQ(rp_->DeleteCredential(Base64UrlEncode(Bytes(16, 1))).error().cause, "credential-unknown");
}

TEST_F(RelyingPartyTest, ALimitOnCredentialsPerUser) {
  config_.max_credentials_per_user = 4;
  Start();
  Device d;
  for (int i = 0; i < 4; ++i) EXPECT_EQ(Register(d, "many"), "registered");
  EXPECT_EQ(Register(d, "many"), "too-many-credentials");
}

TEST_F(RelyingPartyTest, TheKeyCacheNeverDecides) {
  Device d;
  Bytes id;
  EXPECT_EQ(Register(d, "kc", &id), "registered");
  EXPECT_EQ(Login(d, "kc", id), "ok");
  EXPECT_EQ(Login(d, "kc", id, 1), "ok");  // from the cache
  EXPECT_GE(rp_->Metrics()["public_key_cache"]["hits"].get<int>(), 1);
  ASSERT_TRUE(rp_->DeleteCredential(Base64UrlEncode(id)).ok());
  EXPECT_EQ(Login(d, "kc", id, 2), "credential-dead");

  KeyCache cache(2);
  TestKey a;
  std::shared_ptr<EVP_PKEY> k(EVP_PKEY_dup(a.get()), EVP_PKEY_free);
  cache.Put(Bytes{1}, Bytes{1}, k);
  cache.Put(Bytes{2}, Bytes{2}, k);
  EXPECT_TRUE(cache.Find(Bytes{1}, Bytes{1}));  // 1 is now the most recent
  cache.Put(Bytes{3}, Bytes{3}, k);             // evicts 2
  EXPECT_FALSE(cache.Find(Bytes{2}, Bytes{2}));
  EXPECT_TRUE(cache.Find(Bytes{1}, Bytes{1}));
  EXPECT_FALSE(cache.Find(Bytes{1}, Bytes{9}));  // other key bytes under the same id: not this entry
  EXPECT_EQ(cache.size(), 2u);
}

TEST(HttpStatusOf, TheDocumentedTable) {
  for (const char* r : {"malformed", "challenge-unknown", "challenge-expired", "challenge-reused",
                        "origin-mismatch", "rp-id-mismatch", "signature-invalid", "credential-not-owned",
                        "credential-dead", "user-verification-required", "counter-regressed"})
    EXPECT_EQ(HttpStatusOf(r), 400) << r;
  EXPECT_EQ(HttpStatusOf("credential-unknown"), 404);
  EXPECT_EQ(HttpStatusOf("store-unavailable"), 503);
  EXPECT_EQ(HttpStatusOf("step-up-required"), 403);
  EXPECT_EQ(HttpStatusOf("credential-exists"), 409);
  EXPECT_EQ(HttpStatusOf("no-such-reason"), 500);
}

// A TPM certification that is not one is refused whatever else holds: the real ones, made by a
// swtpm, are checked end to end (tests/webauthn_e2e_test.py, TpmAttestation).
TEST_F(RelyingPartyTest, AnEnclaveTpmExtensionMustHold) {
  Device d;
  d.extra_extensions[webauthn::kTpmExtension] =
      webauthn::EncodeTpmCertify({{1, 2, 3}, {0x30, 0x00}, {0x00, 0x23}});
  EXPECT_EQ(Register(d, "alice"), "attestation-invalid");
  d.extra_extensions[webauthn::kTpmExtension] = {0x01};
  EXPECT_EQ(Register(d, "alice"), "malformed");
  d.extra_extensions.clear();
  Bytes id;
  EXPECT_EQ(Register(d, "alice", &id), "registered");
  auto list = rp_->UserCredentials("alice");
  ASSERT_TRUE(list.ok());
  ASSERT_EQ((*list)["credentials"].size(), 1u);
  EXPECT_EQ((*list)["credentials"][0]["attestation"], "self");
}

}  // namespace
}  // namespace enclave::rp
