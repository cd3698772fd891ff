// Loading the team's shared test vectors (Wycheproof, Apple ECIES) for the crypto tests.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/bytes.h"

namespace enclave::crypto::testing {

// The vector file under ENCLAVE_SHARED_DIR/testdata, or nullopt when the shared folder is absent.
inline std::optional<nlohmann::json> LoadVectors(const std::string& relative) {
  const std::filesystem::path path = std::filesystem::path(ENCLAVE_SHARED_DIR) / "testdata" / relative;
  std::ifstream in(path);
  if (!in) return std::nullopt;
  return nlohmann::json::parse(in);
}

#define ENCLAVE_LOAD_VECTORS_OR_SKIP(var, relative)                                                  \
  auto var##_opt = ::enclave::crypto::testing::LoadVectors(relative);                                \
  if (!var##_opt) {                                                                                  \
    GTEST_SKIP() << "shared test data not found: " << ENCLAVE_SHARED_DIR << "/testdata/" << relative \
                 << " (set ENCLAVE_SHARED_DIR to the team's shared folder to run this test)";        \
  }                                                                                                  \
  const nlohmann::json& var = *var##_opt

inline Bytes Hex(const std::string& hex) {
  auto b = HexDecode(hex);
  EXPECT_TRUE(b.has_value()) << "bad hex in test vector: " << hex;
  return b.value_or(Bytes{});
}

}  // namespace enclave::crypto::testing
