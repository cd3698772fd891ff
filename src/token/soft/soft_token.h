// The soft token: P-256 keys generated and used inside enclaved's own memory with OpenSSL.
// It gives no hardware protection; the private scalar is protected only by the service sealing
// the token blob under a keybag class key before it is stored.
#pragma once

#include <string_view>

#include "token/token.h"

namespace enclave::token {

class SoftToken final : public Token {
 public:
  // Token blob layout: one format-version byte, then the 32-byte big-endian private scalar.
  static constexpr uint8_t kBlobVersion = 1;
  static constexpr size_t kBlobSize = 1 + 32;

  std::string_view id() const override { return "soft"; }
  std::string_view description_tag() const override { return "sepk"; }
  // Microseconds: key generation in process.
  Result<GeneratedKey> GenerateKeySlowly() override;
  // CryptoTokenKit -3 (cause key-blob-corrupt) for a blob of the wrong size, an unknown
  // version, or a scalar that is not a valid P-256 private key.
  Result<std::unique_ptr<Key>> LoadKey(ByteView token_blob) override;
  nlohmann::json Describe() override;
};

}  // namespace enclave::token
