// COSE ES256 public keys (RFC 9053, the only algorithm enclave's credentials and device keys use),
// their OpenSSL form, and ECDSA P-256/SHA-256 verification.
#pragma once

#include <openssl/evp.h>

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "common/result.h"

namespace enclave::webauthn {

inline constexpr int64_t kCoseKtyEc2 = 2;
inline constexpr int64_t kCoseAlgEs256 = -7;
inline constexpr int64_t kCoseCrvP256 = 1;

struct CoseKey {
  std::array<uint8_t, 32> x{};
  std::array<uint8_t, 32> y{};
};

// {1: 2, 3: -7, -1: 1, -2: x, -3: y} in CTAP2 canonical order (77 bytes).
std::vector<uint8_t> EncodeCoseEs256(std::span<const uint8_t, 32> x, std::span<const uint8_t, 32> y);
// The same from an X9.62 uncompressed point (04 ‖ x ‖ y); `malformed` for any other length or form.
Result<std::vector<uint8_t>> EncodeCoseEs256FromX962(std::span<const uint8_t> point);

// Exactly one CBOR map filling `cbor`, no duplicate labels, kty 2, alg -7, crv 1, 32-byte x and y,
// no private part (-4). Other key types, algorithms or curves: `unsupported-algorithm`; anything
// else wrong: `malformed`. Labels this format does not define (kid, key_ops) are ignored.
Result<CoseKey> ParseCoseKey(std::span<const uint8_t> cbor);

struct PkeyDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

// The key as an OpenSSL P-256 public key; the point is checked to be on the curve and not the
// point at infinity (`malformed` otherwise).
Result<PkeyPtr> ToEvpPkey(const CoseKey& key);
// ParseCoseKey then ToEvpPkey.
Result<PkeyPtr> CoseToEvpPkey(std::span<const uint8_t> cbor);
// 04 ‖ x ‖ y.
std::array<uint8_t, 65> ToX962(const CoseKey& key);

// ECDSA P-256 over SHA-256(message), the signature X9.62 DER. As OpenSSL 3 verifies: BER or
// trailing bytes are refused (the signature is re-encoded and compared), r and s must be in
// [1, n-1], a high s is accepted (WebAuthn does not ask for low-S). False for a key that is not
// P-256.
bool VerifyEs256(EVP_PKEY* key, std::span<const uint8_t> message, std::span<const uint8_t> der_sig);

std::array<uint8_t, 32> Sha256(std::span<const uint8_t> data);

}  // namespace enclave::webauthn
