#include "token/tpm2/tpm2_token.h"

#include <openssl/crypto.h>

#include <cstring>

#include "crypto/ec.h"
#include "token/tpm2/tpm2_sealer.h"
#include "token/tpm2/tpm2_token_impl.h"

namespace enclave::token {
namespace tpm2 {
namespace {

constexpr size_t kP256Size = 32;

// Wipes the ECDH output (a shared secret) before ESAPI frees it.
struct WipeEccPoint {
  void operator()(TPM2B_ECC_POINT* p) const {
    OPENSSL_cleanse(p, sizeof(*p));
    Esys_Free(p);
  }
};

// ECDSA uses the digest as an integer truncated to the order's bit length, so a shorter
// digest left-padded with zeros and a longer one cut to its leftmost 32 bytes give the same
// signature equation; the TPM then only ever sees SHA-256-sized digests.
TPM2B_DIGEST EcdsaInput(ByteView digest) {
  TPM2B_DIGEST in{};
  in.size = kP256Size;
  if (digest.size() >= kP256Size) {
    std::memcpy(in.buffer, digest.data(), kP256Size);
  } else {
    std::memcpy(in.buffer + (kP256Size - digest.size()), digest.data(), digest.size());
  }
  return in;
}

Bytes FixedSize(const TPM2B_ECC_PARAMETER& p) {
  TPMS_ECC_POINT point{};
  point.x = p;
  const Bytes x963 = PointToX963(point);
  return Bytes(x963.begin() + 1, x963.begin() + 1 + kP256Size);
}

}  // namespace

Result<ObjectBlob> ParseKeyBlob(ByteView token_blob) {
  ASSIGN_OR_RETURN(ObjectBlob blob, ParseObjectBlob(token_blob));
  if (!SameAttributesAndParameters(blob.public_area.publicArea, KeyTemplate())) {
    return TokenError(tkerror::kCorruptedData, "TPM key blob does not hold a tpm2 token key")
        .WithCause("key-blob-corrupt");
  }
  return blob;
}

Tpm2Key::Tpm2Key(std::shared_ptr<Tpm2Device> device, const ObjectBlob& blob)
    : device_(std::move(device)),
      blob_(blob),
      public_key_x963_(PointToX963(blob.public_area.publicArea.unique.ecc)) {}

Result<Bytes> Tpm2Key::SignDigestSlowly(ByteView digest) {
  if (digest.empty()) return OSStatusError(errsec::kParam, "cannot sign an empty digest");
  const TPM2B_DIGEST in = EcdsaInput(digest);
  TPMT_SIG_SCHEME scheme{};
  scheme.scheme = TPM2_ALG_ECDSA;
  scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
  // The key is unrestricted, so the TPM needs no proof that it computed the digest itself.
  TPMT_TK_HASHCHECK validation{};
  validation.tag = TPM2_ST_HASHCHECK;
  validation.hierarchy = TPM2_RH_NULL;
  EsysPtr<TPMT_SIGNATURE> signature;
  RETURN_IF_ERROR(device_->WithObject(blob_, "TPM2_Sign", [&](ESYS_CONTEXT* esys, ESYS_TR key) {
    TPMT_SIGNATURE* out = nullptr;
    const TSS2_RC rc =
        Esys_Sign(esys, key, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &in, &scheme, &validation, &out);
    signature.reset(out);
    return rc;
  }));
  if (signature->sigAlg != TPM2_ALG_ECDSA) {
    return TokenError(tkerror::kCommunicationError, "TPM returned a non-ECDSA signature");
  }
  Bytes raw = FixedSize(signature->signature.ecdsa.signatureR);
  const Bytes s = FixedSize(signature->signature.ecdsa.signatureS);
  raw.insert(raw.end(), s.begin(), s.end());
  return crypto::RawSignatureToDer(raw);
}

Result<SecureBytes> Tpm2Key::ComputeSharedSecretSlowly(ByteView peer_x963) {
  TPM2B_ECC_POINT in{};
  ASSIGN_OR_RETURN(in.point, X963ToPoint(peer_x963));
  std::unique_ptr<TPM2B_ECC_POINT, WipeEccPoint> z;
  RETURN_IF_ERROR(device_->WithObject(blob_, "TPM2_ECDH_ZGen", [&](ESYS_CONTEXT* esys, ESYS_TR key) {
    TPM2B_ECC_POINT* out = nullptr;
    const TSS2_RC rc = Esys_ECDH_ZGen(esys, key, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &in, &out);
    z.reset(out);
    return rc;
  }));
  const auto& x = z->point.x;
  if (x.size == 0 || x.size > kP256Size) {
    return TokenError(tkerror::kCommunicationError, "TPM returned a malformed ECDH point");
  }
  SecureBytes secret(kP256Size);
  std::memset(secret.data(), 0, kP256Size);
  std::memcpy(secret.data() + (kP256Size - x.size), x.buffer, x.size);
  return secret;
}

Result<GeneratedKey> Tpm2Token::GenerateKeySlowly() {
  TPM2B_SENSITIVE_CREATE sensitive{};
  TPM2B_PUBLIC in_public{};
  in_public.publicArea = KeyTemplate();
  ASSIGN_OR_RETURN(ObjectBlob blob, device_->CreateUnderStorageKey("TPM2_Create of key", sensitive, in_public));
  GeneratedKey generated;
  generated.token_blob = SecureBytes(SerializeObjectBlob(blob));
  generated.key = std::make_unique<Tpm2Key>(device_, blob);
  return generated;
}

Result<std::unique_ptr<Key>> Tpm2Token::LoadKey(ByteView token_blob) {
  ASSIGN_OR_RETURN(ObjectBlob blob, ParseKeyBlob(token_blob));
  // Loading now (rather than at first use) reports a cleared TPM where the caller expects it.
  RETURN_IF_ERROR(
      device_->WithObject(blob, "TPM2_Load of key", [](ESYS_CONTEXT*, ESYS_TR) { return TSS2_RC_SUCCESS; }));
  return std::unique_ptr<Key>(std::make_unique<Tpm2Key>(device_, blob));
}

nlohmann::json Tpm2Token::Describe() { return DescribeTpm(*device_); }

Result<std::unique_ptr<Tpm2Sealer>> OpenSealer(Token& token) {
  auto* tpm = dynamic_cast<Tpm2Token*>(&token);
  if (tpm == nullptr) return OSStatusError(errsec::kParam, "sealing needs the tpm2 token");
  return std::make_unique<Tpm2Sealer>(tpm->device());
}

}  // namespace tpm2

Result<std::unique_ptr<Token>> OpenTpm2Token(const TokenConfig& config) {
  ASSIGN_OR_RETURN(auto device, tpm2::Tpm2Device::Open(config.tpm2_tcti));
  return std::unique_ptr<Token>(std::make_unique<tpm2::Tpm2Token>(std::move(device)));
}

}  // namespace enclave::token
