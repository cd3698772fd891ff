// A throwaway enclave home with an in-process service session, for the device side's tests.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "service/enclave.h"
#include "service/session.h"

namespace enclave::rpclient::testing {

class HomeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "enclave-rpclient-test.XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    home_ = tmpl;
    service::EnclaveOptions options;
    options.home = home_;
    options.debug = true;
    auto e = service::Enclave::Open(options);
    ASSERT_TRUE(e.ok()) << e.error().ToString();
    enclave_ = std::move(e).value();
    session_ = enclave_->OpenSession(
        service::Peer{static_cast<uint32_t>(::getuid()), static_cast<uint32_t>(::getpid()), "rpclient_test"});
    ASSERT_NE(session_, nullptr);
  }
  void TearDown() override {
    session_.reset();
    enclave_.reset();
    std::error_code ec;
    std::filesystem::remove_all(home_, ec);
  }

  Api& api() { return *session_; }

  void Admin(const std::string& command, const nlohmann::json& args) {
    auto r = session_->Admin(command, args, {});
    ASSERT_TRUE(r.ok()) << command << ": " << r.error().ToString();
  }
  // The biometry simulator with one finger enrolled, answering every prompt with `answer`.
  void Simulator(const std::string& answer = "match") {
    Admin("config.set", {{"key", "biometry"}, {"value", "simulator"}});
    Admin("biometry", {{"action", "enroll"}, {"finger", "right-thumb"}});
    Admin("biometry", {{"action", answer}});
  }

  std::filesystem::path home_;
  std::unique_ptr<service::Enclave> enclave_;
  std::unique_ptr<Api> session_;
};

}  // namespace enclave::rpclient::testing
