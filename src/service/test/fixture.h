// A throwaway enclave home with an in-process Enclave and one session, for service tests.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "crypto/algorithm.h"
#include "service/enclave.h"
#include "token/tpm2/test/swtpm_process.h"

namespace enclave::service::testing {

inline std::filesystem::path MakeTempDir(const char* prefix) {
  std::string tmpl = (std::filesystem::temp_directory_path() / (std::string(prefix) + ".XXXXXX")).string();
  char* dir = ::mkdtemp(tmpl.data());
  return dir != nullptr ? std::filesystem::path(dir) : std::filesystem::path();
}

// Parameterised over the token that holds the keys: every behaviour that holds for "soft" must
// hold for "tpm2" (a real swtpm per test).
class EnclaveTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    token_ = GetParam();
    Open();
    if (token_ == "tpm2") {
      if (!enclave::testing::SwtpmProcess::FindBinary()) GTEST_SKIP() << "swtpm is not installed";
      tpm_ = std::make_unique<enclave::testing::SwtpmProcess>();
      ASSERT_TRUE(tpm_->Start()) << "swtpm did not start";
      auto r = Admin("config.set", {{"key", "tpm2-tcti"}, {"value", tpm_->Tcti()}});
      ASSERT_TRUE(r.ok()) << r.error().ToString();
    }
  }
  void TearDown() override {
    session_.reset();
    enclave_.reset();
    tpm_.reset();
    std::filesystem::remove_all(home_);
  }

  void Open(bool debug = true) {
    if (home_.empty()) home_ = MakeTempDir("enclave-service-test");
    session_.reset();
    enclave_.reset();
    EnclaveOptions options;
    options.home = home_;
    options.debug = debug;
    auto e = Enclave::Open(options);
    ASSERT_TRUE(e.ok()) << e.error().ToString();
    enclave_ = std::move(e).value();
    session_ = enclave_->OpenSession(Peer{static_cast<uint32_t>(::getuid()), static_cast<uint32_t>(::getpid()), "test"});
    ASSERT_NE(session_, nullptr);
  }
  // A daemon restart: everything in memory goes, the home stays.
  void Restart() { Open(); }

  Result<nlohmann::json> Admin(const std::string& command, nlohmann::json args = nlohmann::json::object(),
                               std::vector<std::string> secrets = {}) {
    std::vector<SecureBytes> s;
    for (const auto& x : secrets) s.emplace_back(AsBytes(x));
    return session_->Admin(command, args, s);
  }
  void Biometry(const std::string& action, const std::string& finger = "") {
    nlohmann::json args = {{"action", action}};
    if (!finger.empty()) args["finger"] = finger;
    auto r = Admin("biometry", args);
    ASSERT_TRUE(r.ok()) << r.error().ToString();
  }
  void EnableSimulator() {
    auto r = Admin("config.set", {{"key", "biometry"}, {"value", "simulator"}});
    ASSERT_TRUE(r.ok()) << r.error().ToString();
  }

  KeySpec Spec(const std::string& app_label, const std::string& accessible = "when-unlocked-this-device-only",
               std::vector<std::string> acl = {"private-key-usage"}) const {
    KeySpec s;
    s.token = token_;
    s.application_label = ToBytes(app_label);
    s.accessible = accessible;
    s.access_control = std::move(acl);
    return s;
  }
  static KeyQuery ByLabel(const std::string& app_label) {
    KeyQuery q;
    q.application_label = ToBytes(app_label);
    return q;
  }
  Result<OperationResult> SignMessage(const std::string& app_label, const std::string& message = "challenge") {
    AuthOptions auth;
    auth.operation_prompt = "Verify your identity";
    return session_->Sign(ByLabel(app_label), "ecdsa-signature-message-x962-sha256", ToBytes(message), auth);
  }
  static bool Verifies(const KeyInfo& key, const std::string& message, const Bytes& signature) {
    auto pub = crypto::EcPublicKey::FromX963(key.public_key_x963);
    auto alg = crypto::FindAlgorithm("ecdsa-signature-message-x962-sha256");
    return pub.ok() && alg.ok() && crypto::VerifySignature(*alg, *pub, AsBytes(message), signature).ok();
  }

  std::string token_ = "soft";
  std::unique_ptr<enclave::testing::SwtpmProcess> tpm_;
  std::filesystem::path home_;
  std::unique_ptr<Enclave> enclave_;
  std::unique_ptr<Session> session_;
};

}  // namespace enclave::service::testing

namespace enclave::service::testing {
inline std::string TokenName(const ::testing::TestParamInfo<std::string>& info) { return info.param; }
// The description tag each token uses in "<tag:p256 kid=…>".
inline std::string TagOf(const std::string& token) { return token == "tpm2" ? "tpmk" : "sepk"; }
}  // namespace enclave::service::testing
#define ENCLAVE_INSTANTIATE_FOR_TOKENS(suite) \
  INSTANTIATE_TEST_SUITE_P(Tokens, suite, ::testing::Values("soft", "tpm2"), TokenName)
