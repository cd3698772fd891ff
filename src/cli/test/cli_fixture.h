// The CLI test fixture: the CLI's commands over an in-process service session in a temporary
// ENCLAVE_HOME.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/cli.h"
#include "common/bytes.h"
#include "service/enclave.h"

namespace enclave::cli::testing {

namespace fs = std::filesystem;

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "enclave-cli-test-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    fs::create_directories(dir_ / "home");
    service::EnclaveOptions options;
    options.home = dir_ / "home";
    options.debug = true;
    auto e = service::Enclave::Open(options);
    ASSERT_TRUE(e.ok()) << e.error().ToString();
    enclave_ = std::move(e).value();
    session_ = enclave_->OpenSession(
        service::Peer{static_cast<uint32_t>(getuid()), static_cast<uint32_t>(getpid()), "cli_test"});
    env_.out = &out_;
    env_.err = &err_;
    env_.in = &in_;
    env_.connect = [this]() -> Result<Api*> { return static_cast<Api*>(session_.get()); };
  }
  void TearDown() override {
    session_.reset();
    enclave_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  int Run(std::vector<std::string> args, const std::string& stdin_text = "") {
    out_.str("");
    out_.clear();
    err_.str("");
    err_.clear();
    in_.str(stdin_text);
    in_.clear();
    return cli::Run(args, env_);
  }
  // Runs with --json and parses standard output.
  nlohmann::json Json(std::vector<std::string> args, int* rc = nullptr, const std::string& stdin_text = "") {
    args.push_back("--json");
    const int status = Run(args, stdin_text);
    if (rc != nullptr) *rc = status;
    auto j = nlohmann::json::parse(out_.str(), nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << "not JSON: " << out_.str() << err_.str();
    return j;
  }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  void WriteFile(const std::string& name, const std::string& content) {
    std::ofstream(Path(name), std::ios::binary) << content;
  }
  std::string ReadFile(const std::string& name) {
    std::ifstream f(Path(name), std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  }
  nlohmann::json CreateFieldReportKey(const std::string& label = "unique label") {
    int rc = -1;
    auto k = Json({"key", "create", "--application-label", label, "--accessible",
                   "when-unlocked-this-device-only", "--access-control", "private-key-usage"},
                  &rc);
    EXPECT_EQ(rc, 0) << k.dump();
    return k;
  }

  fs::path dir_;
  std::unique_ptr<service::Enclave> enclave_;
  std::unique_ptr<service::Session> session_;
  std::ostringstream out_, err_;
  std::istringstream in_;
  Environment env_;
};

}  // namespace enclave::cli::testing
