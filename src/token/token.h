// A token holds P-256 private keys and performs the two private-key operations: signing a
// digest and ECDH. Backends: `soft` (keys in enclaved's memory, the default) and `tpm2` (keys
// in a TPM 2.0). Callers never name a backend; they ask the factory for a token by id.
//
// A token hands out an opaque `token blob` for each key; the service seals that blob under a
// keybag class key before it is stored, so tokens know nothing about lock state or policy.
// For `soft` the blob is the private scalar itself (so it must only ever be sealed, never
// stored as is); for `tpm2` it is the TPM's public and private areas.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/bytes.h"
#include "common/result.h"

namespace enclave::token {

// A private key loaded in a token, ready for use.
class Key {
 public:
  virtual ~Key() = default;
  // X9.63 uncompressed point, 65 bytes.
  virtual Bytes PublicKeyX963() const = 0;
  // ECDSA over `digest`; the result is X9.62 DER. For tpm2 this takes a few milliseconds.
  virtual Result<Bytes> SignDigestSlowly(ByteView digest) = 0;
  // ECDH with a peer's X9.63 point; the raw x coordinate (32 bytes).
  virtual Result<SecureBytes> ComputeSharedSecretSlowly(ByteView peer_x963) = 0;
};

struct GeneratedKey {
  std::unique_ptr<Key> key;
  SecureBytes token_blob;  // what LoadKey() takes back; seal it before storing
};

class Token {
 public:
  virtual ~Token() = default;
  // "soft" or "tpm2": the value of the key item's token attribute.
  virtual std::string_view id() const = 0;
  // The short name in key descriptions: "sepk" (soft) -> "<sepk:p256 kid=…>", "tpmk" (tpm2).
  virtual std::string_view description_tag() const = 0;
  virtual Result<GeneratedKey> GenerateKeySlowly() = 0;
  // Errors: CryptoTokenKit -3 for a blob this token cannot use (corrupt, other TPM, TPM
  // cleared; cause set accordingly), -7 when the token cannot be reached.
  virtual Result<std::unique_ptr<Key>> LoadKey(ByteView token_blob) = 0;
  // Facts for `enclave status` (manufacturer, firmware, lockout counter for a TPM).
  virtual nlohmann::json Describe() = 0;
};

struct TokenConfig {
  std::string tpm2_tcti;  // e.g. "device:/dev/tpmrm0", "swtpm:host=127.0.0.1,port=2321"
};

// Returns the token with that id, or errSecParam for an unknown id, or CryptoTokenKit -7
// (token-unavailable) when the backend exists but cannot be reached.
Result<std::unique_ptr<Token>> OpenToken(std::string_view id, const TokenConfig& config);

// "<sepk:p256 kid=1214c04d05261ee3>"
std::string KeyDescription(std::string_view description_tag, std::string_view kid);
// kid = first 8 bytes of SHA-256 over the X9.63 public key, 16 lowercase hex digits.
std::string KeyId(ByteView public_key_x963);

}  // namespace enclave::token
