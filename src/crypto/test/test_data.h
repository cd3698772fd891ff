// Loading the third-party test vectors (Wycheproof, Apple ECIES) in tests/vectors for the crypto tests.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/bytes.h"

namespace enclave::crypto::testing {

// The vector file under tests/vectors, or nullopt when it cannot be read.
inline std::optional<nlohmann::json> LoadVectors(const std::string& relative) {
  const std::filesystem::path path = std::filesystem::path(ENCLAVE_VECTORS_DIR) / relative;
  std::ifstream in(path);
  if (!in) return std::nullopt;
  return nlohmann::json::parse(in);
}

// The vectors ship with the repository, so a missing file is a broken checkout: the test fails
// rather than skipping, so that a user's run never checks less than CI's.
#define ENCLAVE_LOAD_VECTORS(var, relative)                                      \
  auto var##_opt = ::enclave::crypto::testing::LoadVectors(relative);            \
  if (!var##_opt) {                                                              \
    FAIL() << "test vectors missing: " << ENCLAVE_VECTORS_DIR << "/" << relative \
           << " (they are part of the repository: tests/vectors)";               \
  }                                                                              \
  const nlohmann::json& var = *var##_opt

inline Bytes Hex(const std::string& hex) {
  auto b = HexDecode(hex);
  EXPECT_TRUE(b.has_value()) << "bad hex in test vector: " << hex;
  return b.value_or(Bytes{});
}

}  // namespace enclave::crypto::testing
