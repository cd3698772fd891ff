// Seals small secrets (the keybag's device secret and passcode entropy) to the TPM: keyedhash
// data objects under the storage primary key, whose blobs only this TPM can load, and only until
// it is cleared.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "common/bytes.h"
#include "common/result.h"
#include "token/token.h"

namespace enclave::token::tpm2 {

class Tpm2Device;

class Tpm2Sealer {
 public:
  // At most 128 bytes (the TPM's MAX_SYM_DATA).
  static constexpr size_t kMaxSecretSize = 128;
  // At most the size of the object's name digest (SHA-256).
  static constexpr size_t kMaxAuthSize = 32;

  // Opens its own connection to the TPM of `config`; failures: CryptoTokenKit -7.
  static Result<std::unique_ptr<Tpm2Sealer>> Open(const TokenConfig& config);
  explicit Tpm2Sealer(std::shared_ptr<Tpm2Device> device);
  ~Tpm2Sealer();

  // The sealed blob (version || TPM2B_PUBLIC || TPM2B_PRIVATE); store it as is. The object has an
  // empty authValue and is exempt from dictionary-attack protection (noDA), so a TPM locked out
  // by wrong passcodes still unseals it.
  Result<Bytes> Seal(ByteView secret);
  // A blob of a cleared or other TPM: CryptoTokenKit -3, cause tpm-cleared. Malformed:
  // CryptoTokenKit -3, cause key-blob-corrupt.
  Result<SecureBytes> Unseal(ByteView sealed);

  // Sealed under the authValue `auth` (1 to 32 bytes), checked by the TPM on unseal with no
  // policy; the object is under dictionary-attack protection, so every wrong `auth` increments
  // the TPM's lockout counter.
  Result<Bytes> SealWithAuth(ByteView secret, ByteView auth);
  // Wrong auth: CryptoTokenKit -5, cause tpm-auth-failed. TPM in lockout: CryptoTokenKit -5,
  // cause tpm-lockout, with user_info.retry_after_seconds = the TPM's recovery interval (the
  // longest wait until the next attempt is allowed). Other failures as Unseal.
  Result<SecureBytes> UnsealWithAuth(ByteView sealed, ByteView auth);

 private:
  Result<Bytes> CreateSealedObject(ByteView secret, ByteView auth);
  Result<SecureBytes> UnsealObject(ByteView sealed, ByteView auth);
  // The TPM's recovery interval in seconds, or nullopt when it cannot be read.
  std::optional<uint32_t> LockoutInterval();

  std::shared_ptr<Tpm2Device> device_;
};

}  // namespace enclave::token::tpm2
