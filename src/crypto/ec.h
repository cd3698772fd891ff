// P-256 keys and the primitives enclave builds on, over OpenSSL 3 EVP. Every OpenSSL handle
// is owned by an RAII type; no caller ever sees an EVP_PKEY.
#pragma once

#include <memory>
#include <string>

#include "common/bytes.h"
#include "common/result.h"

namespace enclave::crypto {

enum class Hash { kSha1, kSha224, kSha256, kSha384, kSha512 };
size_t DigestSize(Hash h);
std::string HashName(Hash h);  // "SHA256"
Bytes Digest(Hash h, ByteView data);

// A digest computed piece by piece (a message of any size in bounded memory).
class DigestStream {
 public:
  explicit DigestStream(Hash h);
  ~DigestStream();
  DigestStream(const DigestStream&) = delete;
  DigestStream& operator=(const DigestStream&) = delete;
  void Update(ByteView data);
  Bytes Finish();

 private:
  void* ctx_;  // EVP_MD_CTX
};
Bytes RandomBytes(size_t n);
SecureBytes RandomSecret(size_t n);

// A P-256 public key. Parsing accepts X9.63 uncompressed points (65 bytes), SubjectPublicKeyInfo
// DER and PEM; anything else, or a point not on the curve, is errSecParam.
class EcPublicKey {
 public:
  static Result<EcPublicKey> FromX963(ByteView point);
  static Result<EcPublicKey> FromSpkiDer(ByteView der);
  static Result<EcPublicKey> FromPem(std::string_view pem);
  // Detects the encoding: PEM text, DER SEQUENCE, or a 65-byte 0x04 point.
  static Result<EcPublicKey> Parse(ByteView any);

  EcPublicKey(EcPublicKey&&) noexcept;
  EcPublicKey& operator=(EcPublicKey&&) noexcept;
  EcPublicKey(const EcPublicKey&);
  EcPublicKey& operator=(const EcPublicKey&);
  ~EcPublicKey();

  Bytes X963() const;
  Bytes SpkiDer() const;
  std::string SpkiPem() const;
  // "ecdsa-sha2-nistp256 AAAA... comment"
  std::string OpenSsh(std::string_view comment) const;

  // X9.62 DER signature over a digest of any size; false for malformed or wrong signatures.
  bool VerifyDigestDer(ByteView digest, ByteView der_signature) const;

  struct Impl;
  const Impl& impl() const { return *impl_; }

 private:
  explicit EcPublicKey(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  friend class EcPrivateKey;
};

// A P-256 private key held in this process (the soft token's key material). Never serialised
// except through Scalar(), which only the soft token uses to wrap it.
class EcPrivateKey {
 public:
  static Result<EcPrivateKey> Generate();
  // 32-byte big-endian scalar; errSecParam when out of range.
  static Result<EcPrivateKey> FromScalar(ByteView d);

  EcPrivateKey(EcPrivateKey&&) noexcept;
  EcPrivateKey& operator=(EcPrivateKey&&) noexcept;
  ~EcPrivateKey();

  SecureBytes Scalar() const;
  EcPublicKey PublicKey() const;
  // The X9.63 point computed with the key: no re-import, no public-key check (it is d·G).
  const Bytes& PublicKeyX963() const;
  // ECDSA over an already computed digest; X9.62 DER output.
  Result<Bytes> SignDigestDer(ByteView digest) const;
  // ECDH: the x coordinate of d·Q (32 bytes). P-256 has cofactor 1, so standard == cofactor.
  Result<SecureBytes> SharedSecret(const EcPublicKey& peer) const;

 private:
  struct Impl;
  explicit EcPrivateKey(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// X9.62 DER <-> RFC 4754 fixed r||s (64 bytes for P-256). Malformed input: errSecParam.
Result<Bytes> DerSignatureToRaw(ByteView der);
Result<Bytes> RawSignatureToDer(ByteView raw);

// ANSI X9.63 KDF (as SecKey's ...KDFX963 algorithms use it).
SecureBytes X963Kdf(Hash h, ByteView shared_secret, ByteView shared_info, size_t out_len);

// AES-GCM with a 16-byte tag appended to the ciphertext. Open fails (errSecParam,
// cause "decrypt-failed") on a wrong tag. Key sizes 16 or 32; any IV size >= 12.
Result<Bytes> AesGcmSeal(ByteView key, ByteView iv, ByteView aad, ByteView plaintext);
Result<SecureBytes> AesGcmOpen(ByteView key, ByteView iv, ByteView aad, ByteView ciphertext_and_tag);

}  // namespace enclave::crypto
