#include "token/tpm2/tpm2_objects.h"

#include <algorithm>
#include <cstring>

#include "crypto/ec.h"
#include "token/tpm2/tss2_mu.h"

namespace enclave::token::tpm2 {
namespace {

constexpr uint8_t kBlobVersion = 1;
constexpr size_t kCoordinateSize = 32;

TPMT_PUBLIC EccTemplate(TPMA_OBJECT attributes) {
  TPMT_PUBLIC p{};
  p.type = TPM2_ALG_ECC;
  p.nameAlg = TPM2_ALG_SHA256;
  p.objectAttributes = attributes;
  p.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
  p.parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
  p.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
  p.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
  return p;
}

Error CorruptBlob(std::string what) {
  return TokenError(tkerror::kCorruptedData, "TPM key blob is malformed: " + what)
      .WithCause("key-blob-corrupt");
}

Bytes Coordinate(const TPM2B_ECC_PARAMETER& c) {
  Bytes out(kCoordinateSize, 0);
  const size_t n = std::min<size_t>(c.size, kCoordinateSize);
  std::memcpy(out.data() + (kCoordinateSize - n), c.buffer + (c.size - n), n);
  return out;
}

Result<Bytes> MarshalPublicArea(const TPMT_PUBLIC& p) {
  Bytes buf(sizeof(TPMT_PUBLIC));
  size_t off = 0;
  const Tss2Mu* mu = Mu();
  if (mu == nullptr) return MuMissing();
  if (mu->tpmt_public_marshal(&p, buf.data(), buf.size(), &off) != TSS2_RC_SUCCESS) {
    return OSStatusError(errsec::kParam, "TPM public area cannot be marshalled");
  }
  buf.resize(off);
  return buf;
}

}  // namespace

TPM2B_PUBLIC SrkTemplate() {
  TPM2B_PUBLIC t{};
  t.publicArea =
      EccTemplate(TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
                  TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT);
  auto& sym = t.publicArea.parameters.eccDetail.symmetric;
  sym.algorithm = TPM2_ALG_AES;
  sym.keyBits.aes = 128;
  sym.mode.aes = TPM2_ALG_CFB;
  return t;
}

TPMT_PUBLIC KeyTemplate() {
  // noDA: the key's authValue is empty (user authentication is enclave's access control), so
  // dictionary-attack lockout protects nothing here, and wrong device passcodes (which do count
  // toward the TPM's lockout) must not stop every key from signing.
  return EccTemplate(TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
                     TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA | TPMA_OBJECT_SIGN_ENCRYPT |
                     TPMA_OBJECT_DECRYPT);
}

TPMT_PUBLIC AttestationKeyTemplate() {
  TPMT_PUBLIC p = EccTemplate(TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                              TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA |
                              TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT);
  p.parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
  p.parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
  return p;
}

TPMT_PUBLIC SealedDataTemplate() {
  TPMT_PUBLIC p{};
  p.type = TPM2_ALG_KEYEDHASH;
  p.nameAlg = TPM2_ALG_SHA256;
  p.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_USERWITHAUTH;
  p.parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_NULL;
  return p;
}

Bytes SerializeObjectBlob(const ObjectBlob& blob) {
  Bytes out(1 + sizeof(TPM2B_PUBLIC) + sizeof(TPM2B_PRIVATE));
  out[0] = kBlobVersion;
  size_t off = 1;
  // Both structures come from the TPM, so marshalling them into a buffer of their own
  // in-memory size cannot run out of room; and a process holding them has the library loaded.
  const Tss2Mu* mu = Mu();
  if (mu == nullptr) return {};
  mu->tpm2b_public_marshal(&blob.public_area, out.data(), out.size(), &off);
  mu->tpm2b_private_marshal(&blob.private_area, out.data(), out.size(), &off);
  out.resize(off);
  return out;
}

Result<ObjectBlob> ParseObjectBlob(ByteView data) {
  if (data.empty() || data[0] != kBlobVersion) return CorruptBlob("unknown version");
  ObjectBlob blob;
  size_t off = 1;
  const Tss2Mu* mu = Mu();
  if (mu == nullptr) return MuMissing();
  if (mu->tpm2b_public_unmarshal(data.data(), data.size(), &off, &blob.public_area) != TSS2_RC_SUCCESS ||
      mu->tpm2b_private_unmarshal(data.data(), data.size(), &off, &blob.private_area) != TSS2_RC_SUCCESS) {
    return CorruptBlob("truncated");
  }
  if (off != data.size()) return CorruptBlob("trailing bytes");
  return blob;
}

Bytes PointToX963(const TPMS_ECC_POINT& point) {
  Bytes out{0x04};
  const Bytes x = Coordinate(point.x);
  const Bytes y = Coordinate(point.y);
  out.insert(out.end(), x.begin(), x.end());
  out.insert(out.end(), y.begin(), y.end());
  return out;
}

Result<TPMS_ECC_POINT> X963ToPoint(ByteView x963) {
  // Parsing checks the encoding and that the point is on P-256.
  ASSIGN_OR_RETURN(crypto::EcPublicKey key, crypto::EcPublicKey::FromX963(x963));
  const Bytes p = key.X963();
  TPMS_ECC_POINT point{};
  point.x.size = kCoordinateSize;
  point.y.size = kCoordinateSize;
  std::memcpy(point.x.buffer, p.data() + 1, kCoordinateSize);
  std::memcpy(point.y.buffer, p.data() + 1 + kCoordinateSize, kCoordinateSize);
  return point;
}

Result<Bytes> ObjectName(const TPMT_PUBLIC& public_area) {
  if (public_area.nameAlg != TPM2_ALG_SHA256) {
    return OSStatusError(errsec::kParam, "only SHA-256 TPM object names are supported");
  }
  ASSIGN_OR_RETURN(Bytes marshalled, MarshalPublicArea(public_area));
  Bytes name{static_cast<uint8_t>(TPM2_ALG_SHA256 >> 8), static_cast<uint8_t>(TPM2_ALG_SHA256)};
  const Bytes digest = crypto::Digest(crypto::Hash::kSha256, marshalled);
  name.insert(name.end(), digest.begin(), digest.end());
  return name;
}

Result<TPMT_PUBLIC> KeyPublicArea(ByteView public_key_x963) {
  TPMT_PUBLIC p = KeyTemplate();
  ASSIGN_OR_RETURN(p.unique.ecc, X963ToPoint(public_key_x963));
  return p;
}

bool SameAttributesAndParameters(const TPMT_PUBLIC& a, const TPMT_PUBLIC& b) {
  TPMT_PUBLIC x = a;
  TPMT_PUBLIC y = b;
  x.unique = {};
  y.unique = {};
  auto mx = MarshalPublicArea(x);
  auto my = MarshalPublicArea(y);
  return mx.ok() && my.ok() && *mx == *my;
}

}  // namespace enclave::token::tpm2
