// Message digests (SHA-1, SHA-2) in the module with OpenSSL: no key is involved, so no daemon.
#include "crypto/ec.h"
#include "pkcs11/entry.h"

namespace enclave::pkcs11 {

bool DigestHash(CK_MECHANISM_TYPE m, crypto::Hash* h) {
  switch (m) {
    case CKM_SHA_1:
      *h = crypto::Hash::kSha1;
      return true;
    case CKM_SHA224:
      *h = crypto::Hash::kSha224;
      return true;
    case CKM_SHA256:
      *h = crypto::Hash::kSha256;
      return true;
    case CKM_SHA384:
      *h = crypto::Hash::kSha384;
      return true;
    case CKM_SHA512:
      *h = crypto::Hash::kSha512;
      return true;
    default:
      return false;
  }
}

namespace {

constexpr size_t kMaxMessage = 64 * 1024 * 1024;

CK_RV Finish(CK_SESSION_HANDLE hSession, const Bytes* whole, CK_BYTE_PTR pDigest, CK_ULONG_PTR pulDigestLen) {
  std::unique_lock<std::mutex> lock;
  Session* s = nullptr;
  if (CK_RV rv = LockSession(lock, hSession, &s); rv != CKR_OK) return rv;
  if (!s->digest.active) return CKR_OPERATION_NOT_INITIALIZED;
  if (pulDigestLen == nullptr) {
    s->digest = Operation();
    return CKR_ARGUMENTS_BAD;
  }
  crypto::Hash h = crypto::Hash::kSha256;
  DigestHash(s->digest.mechanism, &h);
  const CK_ULONG size = crypto::DigestSize(h);
  if (pDigest == nullptr) {
    *pulDigestLen = size;
    return CKR_OK;
  }
  if (*pulDigestLen < size) {
    *pulDigestLen = size;
    return CKR_BUFFER_TOO_SMALL;
  }
  const Bytes d = crypto::Digest(h, whole ? *whole : s->digest.data);
  s->digest = Operation();
  std::copy(d.begin(), d.end(), pDigest);
  *pulDigestLen = size;
  return CKR_OK;
}

}  // namespace
}  // namespace enclave::pkcs11

using namespace enclave::pkcs11;  // NOLINT(google-build-using-namespace)

extern "C" {

CK_RV C_DigestInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism) {
  return Guard([&] {
    std::unique_lock<std::mutex> lock;
    Session* s = nullptr;
    if (CK_RV rv = LockSession(lock, hSession, &s); rv != CKR_OK) return rv;
    if (pMechanism == nullptr) return CKR_ARGUMENTS_BAD;
    if (s->digest.active) return CKR_OPERATION_ACTIVE;
    enclave::crypto::Hash h;
    if (!DigestHash(pMechanism->mechanism, &h)) return CKR_MECHANISM_INVALID;
    s->digest = Operation();
    s->digest.active = true;
    s->digest.mechanism = pMechanism->mechanism;
    return CKR_OK;
  });
}

CK_RV C_Digest(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pDigest,
               CK_ULONG_PTR pulDigestLen) {
  return Guard([&] {
    if (pData == nullptr && ulDataLen > 0) return CKR_ARGUMENTS_BAD;
    const enclave::Bytes whole = pData ? enclave::Bytes(pData, pData + ulDataLen) : enclave::Bytes{};
    return Finish(hSession, &whole, pDigest, pulDigestLen);
  });
}

CK_RV C_DigestUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen) {
  return Guard([&] {
    std::unique_lock<std::mutex> lock;
    Session* s = nullptr;
    if (CK_RV rv = LockSession(lock, hSession, &s); rv != CKR_OK) return rv;
    if (!s->digest.active) return CKR_OPERATION_NOT_INITIALIZED;
    if ((pPart == nullptr && ulPartLen > 0) || s->digest.data.size() + ulPartLen > kMaxMessage) {
      s->digest = Operation();
      return pPart == nullptr ? CKR_ARGUMENTS_BAD : CKR_DATA_LEN_RANGE;
    }
    if (pPart != nullptr) s->digest.data.insert(s->digest.data.end(), pPart, pPart + ulPartLen);
    return CKR_OK;
  });
}

CK_RV C_DigestFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pDigest, CK_ULONG_PTR pulDigestLen) {
  return Guard([&] { return Finish(hSession, nullptr, pDigest, pulDigestLen); });
}

}  // extern "C"
