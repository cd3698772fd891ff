// The SecKey algorithms enclave supports for P-256 keys, by CLI name, with the client-side
// "adaptor" steps (hash the message, re-encode the signature, KDF, AES-GCM) that wrap the two
// operations a token performs: sign a digest, and compute an ECDH shared secret.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"
#include "crypto/ec.h"

namespace enclave::crypto {

enum class Operation { kSign, kKeyExchange, kEncrypt };

struct Algorithm {
  std::string name;          // CLI name: "ecdsa-signature-message-x962-sha256"
  std::string platform_id;   // SecKey id: "algid:sign:ECDSA:message-X962:SHA256"
  Operation operation = Operation::kSign;
  bool is_message = false;   // signature: input is the message (hashed here) vs a digest
  std::optional<Hash> hash;  // signature hash / KDF hash; nullopt: digest of any size (digest-x962)
  bool raw_signature = false;   // RFC 4754 r||s instead of X9.62 DER
  bool cofactor = false;        // ECDHC / cofactor variants (identical results on P-256)
  bool kdf = false;             // key exchange: X9.63 KDF applied to the shared secret
  bool variable_iv = false;     // ECIES: IV from the KDF rather than 16 zero bytes
};

// Unknown names: errSecParam naming the supported algorithms.
Result<Algorithm> FindAlgorithm(std::string_view name);
const std::vector<Algorithm>& AllAlgorithms();
// For a message signature algorithm, the digest algorithm that signs the message's digest with
// the same result (message-x962-sha256 -> digest-x962-sha256), so that a client can hash a
// message of any size itself; nullopt for every other algorithm.
std::optional<Algorithm> DigestCounterpart(const Algorithm& message_algorithm);

// Signing, split around the token: input -> digest for the token; token's DER -> output.
// A digest algorithm checks the digest size (errSecParam "bad digest size").
Result<Bytes> SignatureInputDigest(const Algorithm& alg, ByteView input);
Result<Bytes> SignatureOutput(const Algorithm& alg, ByteView der_signature);

// Verifies with a public key; errSecVerifyFailed (-67808) when invalid.
Status VerifySignature(const Algorithm& alg, const EcPublicKey& key, ByteView input, ByteView signature);

// Key exchange output from a raw shared secret: raw, or X9.63 KDF with size and shared info.
// A KDF algorithm without requested_size is errSecParam.
Result<SecureBytes> KeyExchangeOutput(const Algorithm& alg, ByteView shared_secret,
                                      std::optional<size_t> requested_size, ByteView shared_info);

// ECIES (SecKey eciesEncryption{Standard,Cofactor}[VariableIV]X963SHA256AESGCM):
// ciphertext = ephemeral public key (65) || AES-GCM ciphertext || tag (16).
Result<Bytes> EciesEncrypt(const Algorithm& alg, const EcPublicKey& recipient, ByteView plaintext);
// The ephemeral public key the token must do ECDH with; errSecParam when too short/invalid.
Result<EcPublicKey> EciesEphemeralKey(ByteView ciphertext);
// Finishes decryption given the token's ECDH shared secret with the ephemeral key.
Result<SecureBytes> EciesDecryptWithSharedSecret(const Algorithm& alg, ByteView ciphertext,
                                                 ByteView shared_secret);

}  // namespace enclave::crypto
