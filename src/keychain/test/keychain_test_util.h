// Shared helpers for the keychain tests: a temporary enclave home and distinct sample items.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "keychain/keychain.h"

namespace enclave::keychain::testing {

class TempHome : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "enclave-keychain-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    home_ = pattern;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(home_, ec);
  }
  std::filesystem::path db_path() const { return home_ / "keychain.db"; }
  std::unique_ptr<Keychain> OpenOrDie() {
    auto kc = Keychain::Open(db_path());
    EXPECT_TRUE(kc.ok()) << (kc.ok() ? "" : kc.error().ToString());
    return kc.ok() ? std::move(kc).value() : nullptr;
  }

  std::filesystem::path home_;
};

// Item `n` differs from every other n in each identifying and searchable attribute.
inline KeyItem SampleItem(int n) {
  KeyItem item;
  std::string s = std::to_string(n);
  item.kid = "kid-" + s;
  item.label = "label " + s;
  item.application_label = ToBytes("app-label-" + s);
  item.application_tag = ToBytes("tag-" + s);
  item.access_group = "group";
  item.token = "soft";
  item.accessible = "aku";
  item.access_control = R"({"flags":["private-key-usage"]})";
  item.public_key_x963 = Bytes(65, static_cast<uint8_t>(n));
  item.public_key_x963[0] = 0x04;
  item.sealed_blob = ToBytes("sealed-" + s);
  return item;
}

}  // namespace enclave::keychain::testing
