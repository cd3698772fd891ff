// Seals small secrets (the keybag's device secret) to the TPM: a keyedhash data object under
// the storage primary key, whose blob only this TPM can load, and only until it is cleared.
#pragma once

#include <memory>

#include "common/bytes.h"
#include "common/result.h"
#include "token/token.h"

namespace enclave::token::tpm2 {

class Tpm2Device;

class Tpm2Sealer {
 public:
  // At most 128 bytes (the TPM's MAX_SYM_DATA).
  static constexpr size_t kMaxSecretSize = 128;

  // Opens its own connection to the TPM of `config`; failures: CryptoTokenKit -7.
  static Result<std::unique_ptr<Tpm2Sealer>> Open(const TokenConfig& config);
  explicit Tpm2Sealer(std::shared_ptr<Tpm2Device> device);
  ~Tpm2Sealer();

  // The sealed blob (version || TPM2B_PUBLIC || TPM2B_PRIVATE); store it as is.
  Result<Bytes> Seal(ByteView secret);
  // A blob of a cleared or other TPM: CryptoTokenKit -3, cause tpm-cleared. Malformed:
  // CryptoTokenKit -3, cause key-blob-corrupt.
  Result<SecureBytes> Unseal(ByteView sealed);

 private:
  std::shared_ptr<Tpm2Device> device_;
};

}  // namespace enclave::token::tpm2
