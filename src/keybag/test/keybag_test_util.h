// A temporary keybag home per test, with the kernel keyring stash removed afterwards.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "keybag/keybag.h"
#include "keybag/primitives.h"

namespace enclave::keybag::testing {

inline SecureBytes Pass(std::string_view s) { return SecureBytes(AsBytes(s)); }

// Small delays so a test can reach each stage without waiting; no keyring unless asked for.
inline KeybagOptions TestOptions() {
  KeybagOptions o;
  o.use_kernel_keyring = false;
  o.failure_delays = {std::chrono::seconds(0)};
  o.lockout_duration = std::chrono::hours(1);
  return o;
}

class KeybagTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "enclave-keybag-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = std::filesystem::path(tmpl) / "keybag";
  }
  void TearDown() override {
    internal::KeyringStash(dir_).Revoke();
    std::filesystem::remove_all(dir_.parent_path());
  }

  std::unique_ptr<Keybag> OpenOrDie(KeybagOptions o = TestOptions()) {
    auto kb = Keybag::Open(dir_, std::move(o));
    EXPECT_TRUE(kb.ok()) << (kb.ok() ? "" : kb.error().ToString());
    return kb.ok() ? std::move(kb).value() : nullptr;
  }

  std::filesystem::path dir_;
};

}  // namespace enclave::keybag::testing
