// A throwaway enclave home with an in-process Enclave and one session, for service tests.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "crypto/algorithm.h"
#include "service/enclave.h"

namespace enclave::service::testing {

inline std::filesystem::path MakeTempDir(const char* prefix) {
  std::string tmpl = (std::filesystem::temp_directory_path() / (std::string(prefix) + ".XXXXXX")).string();
  char* dir = ::mkdtemp(tmpl.data());
  return dir != nullptr ? std::filesystem::path(dir) : std::filesystem::path();
}

class EnclaveTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }
  void TearDown() override {
    session_.reset();
    enclave_.reset();
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

  static KeySpec Spec(const std::string& app_label, const std::string& accessible = "when-unlocked-this-device-only",
                      std::vector<std::string> acl = {"private-key-usage"}) {
    KeySpec s;
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

  std::filesystem::path home_;
  std::unique_ptr<Enclave> enclave_;
  std::unique_ptr<Session> session_;
};

}  // namespace enclave::service::testing
