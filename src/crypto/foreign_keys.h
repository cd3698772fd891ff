// Signature checks with other parties' public keys, in the forms SSH servers use for host keys:
// Ed25519, ECDSA on P-256/384/521 and RSA PKCS#1 v1.5. The ssh agent uses them to verify a
// server's session-bind signature. Malformed keys or signatures are simply "does not verify".
#pragma once

#include <string>
#include <string_view>

#include "common/bytes.h"
#include "crypto/ec.h"

namespace enclave::crypto {

// 32-byte public key, 64-byte signature (RFC 8032, pure Ed25519 over `message`).
bool VerifyEd25519(ByteView public_key, ByteView message, ByteView signature);

// `curve` is "P-256", "P-384" or "P-521"; `point` the uncompressed X9.63 point; r and s are
// big-endian unsigned integers; the message is hashed with `hash`.
bool VerifyEcdsa(std::string_view curve, ByteView point, Hash hash, ByteView message, ByteView r, ByteView s);

// Modulus and exponent as big-endian unsigned integers; modulus 2048..16384 bits.
bool VerifyRsaPkcs1(ByteView modulus, ByteView exponent, Hash hash, ByteView message, ByteView signature);

// OpenSSH's key fingerprint: "SHA256:" and the unpadded base64 of SHA-256(key blob).
std::string SshFingerprint(ByteView key_blob);

}  // namespace enclave::crypto
