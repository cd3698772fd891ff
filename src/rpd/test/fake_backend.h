// A relying party that answers from memory, for the HTTP layer's tests: each call echoes what it
// was given, "fail:<reason>" as a user fails with that reason, and `delay` makes every call slow
// (a stalled database).
#pragma once

#include <atomic>
#include <chrono>
#include <thread>

#include "rpd/backend.h"

namespace enclave::rpd::testing {

class FakeBackend : public Backend {
 public:
  std::atomic<int> delay_ms{0};
  std::atomic<int> calls{0};

  Result<nlohmann::json> Answer(const char* op, const nlohmann::json& body) {
    ++calls;
    if (int d = delay_ms.load()) std::this_thread::sleep_for(std::chrono::milliseconds(d));
    std::string user = body.value("user", "");
    if (user.rfind("fail:", 0) == 0) {
      enclave::Error e = OSStatusError(errsec::kParam, "failed as asked");
      e.cause = user.substr(5);
      if (e.cause == "store-unavailable") e.user_info["retry_after_seconds"] = 7;
      return e;
    }
    return nlohmann::json{{"op", op}, {"body", body}};
  }
  Result<nlohmann::json> RegistrationOptions(const nlohmann::json& b) override { return Answer("regopt", b); }
  Result<nlohmann::json> FinishRegistration(const nlohmann::json& b) override { return Answer("reg", b); }
  Result<nlohmann::json> AuthenticationOptions(const nlohmann::json& b) override {
    return Answer("authopt", b);
  }
  Result<nlohmann::json> FinishAuthentication(const nlohmann::json& b) override { return Answer("auth", b); }
  Result<nlohmann::json> UserCredentials(const std::string& u) override {
    return Answer("creds", nlohmann::json{{"who", u}});
  }
  Status DeleteCredential(const std::string& id) override {
    if (id == "missing")
      return OSStatusError(errsec::kItemNotFound, "no such credential").WithCause("credential-unknown");
    return Ok();
  }
  Result<nlohmann::json> ApproveStepUp(const std::string& id) override {
    return Answer("approve", nlohmann::json{{"id", id}});
  }
  Result<nlohmann::json> ReportDead(const nlohmann::json& b) override { return Answer("dead", b); }
  nlohmann::json Metrics() const override { return {{"logins", {{"ok", 3}}}, {"up", true}}; }
  Status Healthy() override { return Ok(); }
  int StatusOf(const std::string& reason) const override {
    if (reason == "credential-unknown") return 404;
    if (reason == "store-unavailable") return 503;
    if (reason == "signature-invalid") return 400;
    return 500;
  }
};

}  // namespace enclave::rpd::testing
