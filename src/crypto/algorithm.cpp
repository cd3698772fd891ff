#include "crypto/algorithm.h"

#include <cstring>

namespace enclave::crypto {
namespace {

constexpr size_t kPointBytes = 65;
constexpr size_t kTagBytes = 16;
constexpr size_t kEciesKeyBytes = 16;  // AES-128 for curves of 256 bits or less
constexpr size_t kEciesIvBytes = 16;
// Far above any real use; stops a request from making the daemon allocate without bound.
constexpr size_t kMaxKdfOutput = 64 * 1024;

Error ParamError(std::string message) {
  return OSStatusError(errsec::kParam, std::move(message)).WithCause("bad-parameter");
}

struct HashSuffix {
  Hash hash;
  const char* cli;       // "sha256"
  const char* platform;  // "SHA256"
};
constexpr HashSuffix kHashes[] = {{Hash::kSha1, "sha1", "SHA1"},
                                  {Hash::kSha224, "sha224", "SHA224"},
                                  {Hash::kSha256, "sha256", "SHA256"},
                                  {Hash::kSha384, "sha384", "SHA384"},
                                  {Hash::kSha512, "sha512", "SHA512"}};

Algorithm Sign(std::string name, std::string id, bool message, std::optional<Hash> hash, bool raw) {
  Algorithm a;
  a.name = std::move(name);
  a.platform_id = std::move(id);
  a.operation = Operation::kSign;
  a.is_message = message;
  a.hash = hash;
  a.raw_signature = raw;
  return a;
}

Algorithm Exchange(std::string name, std::string id, bool cofactor, std::optional<Hash> kdf_hash) {
  Algorithm a;
  a.name = std::move(name);
  a.platform_id = std::move(id);
  a.operation = Operation::kKeyExchange;
  a.cofactor = cofactor;
  a.kdf = kdf_hash.has_value();
  a.hash = kdf_hash;
  return a;
}

Algorithm Ecies(bool cofactor, bool variable_iv) {
  Algorithm a;
  a.name = std::string("ecies-encryption-") + (cofactor ? "cofactor" : "standard") +
           (variable_iv ? "-variable-iv" : "") + "-x963-sha256-aes-gcm";
  a.platform_id = std::string("algid:encrypt:ECIES:") + (cofactor ? "ECDHC" : "ECDH") +
                  ":KDFX963:SHA256:AESGCM" + (variable_iv ? "-KDFIV" : "");
  a.operation = Operation::kEncrypt;
  a.hash = Hash::kSha256;
  a.kdf = true;
  a.cofactor = cofactor;
  a.variable_iv = variable_iv;
  return a;
}

std::vector<Algorithm> BuildTable() {
  std::vector<Algorithm> t;
  for (const auto& h : kHashes) {
    t.push_back(Sign(std::string("ecdsa-signature-message-x962-") + h.cli,
                     std::string("algid:sign:ECDSA:message-X962:") + h.platform, true, h.hash, false));
  }
  t.push_back(
      Sign("ecdsa-signature-digest-x962", "algid:sign:ECDSA:digest-X962", false, std::nullopt, false));
  for (const auto& h : kHashes) {
    t.push_back(Sign(std::string("ecdsa-signature-digest-x962-") + h.cli,
                     std::string("algid:sign:ECDSA:digest-X962:") + h.platform, false, h.hash, false));
  }
  t.push_back(Sign("ecdsa-signature-message-rfc4754-sha256", "algid:sign:ECDSA:message-RFC4754:SHA256", true,
                   Hash::kSha256, true));
  t.push_back(Sign("ecdsa-signature-digest-rfc4754-sha256", "algid:sign:ECDSA:digest-RFC4754:SHA256", false,
                   Hash::kSha256, true));
  t.push_back(Exchange("ecdh-key-exchange-standard", "algid:keyexchange:ECDH", false, std::nullopt));
  t.push_back(Exchange("ecdh-key-exchange-cofactor", "algid:keyexchange:ECDHC", true, std::nullopt));
  for (bool cofactor : {false, true}) {
    for (const auto& h : kHashes) {
      t.push_back(Exchange(
          std::string("ecdh-key-exchange-") + (cofactor ? "cofactor" : "standard") + "-x963-" + h.cli,
          std::string("algid:keyexchange:") + (cofactor ? "ECDHC" : "ECDH") + ":KDFX963:" + h.platform,
          cofactor, h.hash));
    }
  }
  for (bool cofactor : {false, true}) {
    for (bool variable_iv : {false, true}) t.push_back(Ecies(cofactor, variable_iv));
  }
  return t;
}

Status RequireOperation(const Algorithm& alg, Operation op, const char* what) {
  if (alg.operation != op) {
    return ParamError("algorithm " + alg.name + " is not " + what).WithCause("unsupported-algorithm");
  }
  return Ok();
}

Error VerifyFailed(std::string why) {
  return OSStatusError(errsec::kVerifyFailed, "signature verification failed: " + why)
      .WithCause("verify-failed");
}

Error EciesDecryptError(std::string message) {
  return ParamError("ECIES: " + message).WithCause("decrypt-failed");
}

struct EciesKeys {
  SecureBytes key;
  Bytes iv;
};

EciesKeys DeriveEciesKeys(const Algorithm& alg, ByteView shared_secret, ByteView ephemeral_x963) {
  const Hash hash = alg.hash.value_or(Hash::kSha256);
  SecureBytes k =
      X963Kdf(hash, shared_secret, ephemeral_x963, kEciesKeyBytes + (alg.variable_iv ? kEciesIvBytes : 0));
  EciesKeys out;
  out.key = SecureBytes(k.view().subspan(0, kEciesKeyBytes));
  out.iv = alg.variable_iv ? Bytes(k.data() + kEciesKeyBytes, k.data() + kEciesKeyBytes + kEciesIvBytes)
                           : Bytes(kEciesIvBytes, 0);
  return out;
}

}  // namespace

const std::vector<Algorithm>& AllAlgorithms() {
  static const std::vector<Algorithm> table = BuildTable();
  return table;
}

Result<Algorithm> FindAlgorithm(std::string_view name) {
  for (const auto& a : AllAlgorithms()) {
    if (a.name == name) return a;
  }
  std::string supported;
  for (const auto& a : AllAlgorithms()) supported += (supported.empty() ? "" : ", ") + a.name;
  return ParamError("unknown algorithm '" + std::string(name) + "' (supported: " + supported + ")")
      .WithCause("unsupported-algorithm");
}

std::optional<Algorithm> DigestCounterpart(const Algorithm& message_algorithm) {
  if (message_algorithm.operation != Operation::kSign || !message_algorithm.is_message) return std::nullopt;
  for (const auto& a : AllAlgorithms()) {
    if (a.operation == Operation::kSign && !a.is_message && a.hash == message_algorithm.hash &&
        a.raw_signature == message_algorithm.raw_signature) {
      return a;
    }
  }
  return std::nullopt;
}

Result<Bytes> SignatureInputDigest(const Algorithm& alg, ByteView input) {
  RETURN_IF_ERROR(RequireOperation(alg, Operation::kSign, "a signature algorithm"));
  if (alg.is_message) return Digest(alg.hash.value_or(Hash::kSha256), input);
  if (alg.hash) {
    const size_t expected = DigestSize(*alg.hash);
    if (input.size() != expected) {
      return ParamError("bad digest size: got " + std::to_string(input.size()) + ", expected " +
                        std::to_string(expected));
    }
  } else if (input.empty()) {
    return ParamError("bad digest size: got 0, expected a non-empty digest");
  }
  return Bytes(input.begin(), input.end());
}

Result<Bytes> SignatureOutput(const Algorithm& alg, ByteView der_signature) {
  RETURN_IF_ERROR(RequireOperation(alg, Operation::kSign, "a signature algorithm"));
  if (alg.raw_signature) return DerSignatureToRaw(der_signature);
  return Bytes(der_signature.begin(), der_signature.end());
}

Status VerifySignature(const Algorithm& alg, const EcPublicKey& key, ByteView input, ByteView signature) {
  ASSIGN_OR_RETURN(Bytes digest, SignatureInputDigest(alg, input));
  Bytes der;
  if (alg.raw_signature) {
    // A malformed RFC 4754 signature is a failed verification, as on the platform.
    auto converted = RawSignatureToDer(signature);
    if (!converted.ok()) return VerifyFailed("expected a 64-byte r||s signature");
    der = std::move(converted).value();
  } else {
    der.assign(signature.begin(), signature.end());
  }
  if (!key.VerifyDigestDer(digest, der)) return VerifyFailed("the signature does not match the data and key");
  return Ok();
}

Result<SecureBytes> KeyExchangeOutput(const Algorithm& alg, ByteView shared_secret,
                                      std::optional<size_t> requested_size, ByteView shared_info) {
  RETURN_IF_ERROR(RequireOperation(alg, Operation::kKeyExchange, "a key exchange algorithm"));
  if (!alg.kdf) return SecureBytes(shared_secret);
  if (!requested_size) return ParamError("algorithm " + alg.name + " needs a requested size");
  if (*requested_size == 0 || *requested_size > kMaxKdfOutput) {
    return ParamError("bad requested size: got " + std::to_string(*requested_size) + ", expected 1.." +
                      std::to_string(kMaxKdfOutput));
  }
  return X963Kdf(alg.hash.value_or(Hash::kSha256), shared_secret, shared_info, *requested_size);
}

Result<Bytes> EciesEncrypt(const Algorithm& alg, const EcPublicKey& recipient, ByteView plaintext) {
  RETURN_IF_ERROR(RequireOperation(alg, Operation::kEncrypt, "an encryption algorithm"));
  ASSIGN_OR_RETURN(EcPrivateKey ephemeral, EcPrivateKey::Generate());
  const Bytes ephemeral_x963 = ephemeral.PublicKey().X963();
  ASSIGN_OR_RETURN(SecureBytes z, ephemeral.SharedSecret(recipient));
  EciesKeys keys = DeriveEciesKeys(alg, z, ephemeral_x963);
  ASSIGN_OR_RETURN(Bytes sealed, AesGcmSeal(keys.key, keys.iv, {}, plaintext));
  Bytes out = ephemeral_x963;
  out.insert(out.end(), sealed.begin(), sealed.end());
  return out;
}

Result<EcPublicKey> EciesEphemeralKey(ByteView ciphertext) {
  if (ciphertext.size() < kPointBytes) return EciesDecryptError("too small input packet for ECIES decrypt");
  auto key = EcPublicKey::FromX963(ciphertext.subspan(0, kPointBytes));
  if (!key.ok()) return EciesDecryptError("bad ephemeral public key: " + key.error().description);
  return key;
}

Result<SecureBytes> EciesDecryptWithSharedSecret(const Algorithm& alg, ByteView ciphertext,
                                                 ByteView shared_secret) {
  RETURN_IF_ERROR(RequireOperation(alg, Operation::kEncrypt, "an encryption algorithm"));
  if (ciphertext.size() < kPointBytes) return EciesDecryptError("too small input packet for ECIES decrypt");
  if (ciphertext.size() < kPointBytes + kTagBytes) return EciesDecryptError("Input data too short");
  EciesKeys keys = DeriveEciesKeys(alg, shared_secret, ciphertext.subspan(0, kPointBytes));
  auto plain = AesGcmOpen(keys.key, keys.iv, {}, ciphertext.subspan(kPointBytes));
  if (!plain.ok()) return EciesDecryptError("Failed to aes-gcm decrypt data");
  return plain;
}

}  // namespace enclave::crypto
