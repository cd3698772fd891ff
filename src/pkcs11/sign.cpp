// Signing (through the daemon) and verifying (here, with the public key): CKM_ECDSA over a digest
// the caller made, and CKM_ECDSA_SHA* over a message hashed here. Signatures are r||s.
#include "crypto/ec.h"
#include "pkcs11/attributes.h"
#include "pkcs11/entry.h"

namespace enclave::pkcs11 {
namespace {

constexpr size_t kMaxDigest = 64;
constexpr size_t kMaxMessage = 64 * 1024 * 1024;

// nullopt for CKM_ECDSA (the input is already a digest); false when not a signature mechanism.
bool SignatureHash(CK_MECHANISM_TYPE m, std::optional<crypto::Hash>* hash) {
  switch (m) {
    case CKM_ECDSA:
      *hash = std::nullopt;
      return true;
    case CKM_ECDSA_SHA1:
      *hash = crypto::Hash::kSha1;
      return true;
    case CKM_ECDSA_SHA224:
      *hash = crypto::Hash::kSha224;
      return true;
    case CKM_ECDSA_SHA256:
      *hash = crypto::Hash::kSha256;
      return true;
    case CKM_ECDSA_SHA384:
      *hash = crypto::Hash::kSha384;
      return true;
    case CKM_ECDSA_SHA512:
      *hash = crypto::Hash::kSha512;
      return true;
    default:
      return false;
  }
}

CK_RV Init(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey, bool sign) {
  std::unique_lock<std::mutex> lock;
  Session* s = nullptr;
  if (CK_RV rv = LockSession(lock, hSession, &s); rv != CKR_OK) return rv;
  if (pMechanism == nullptr) return CKR_ARGUMENTS_BAD;
  Operation& op = sign ? s->sign : s->verify;
  if (op.active) return CKR_OPERATION_ACTIVE;
  std::optional<crypto::Hash> hash;
  if (!SignatureHash(pMechanism->mechanism, &hash)) return CKR_MECHANISM_INVALID;
  if (pMechanism->pParameter != nullptr || pMechanism->ulParameterLen != 0)
    return CKR_MECHANISM_PARAM_INVALID;
  Module& m = Module::Get();
  Object* o = m.FindObject(hKey);
  if (o == nullptr || o->slot != s->slot) return CKR_KEY_HANDLE_INVALID;
  if (sign && NeedsLogin(m, s->slot)) return CKR_USER_NOT_LOGGED_IN;
  const KeyInfo* key = m.KeyOf(*o);
  if (key == nullptr) return CKR_KEY_HANDLE_INVALID;
  if (sign && o->kind != ObjectKind::kPrivateKey) return CKR_KEY_TYPE_INCONSISTENT;
  if (!sign && o->kind == ObjectKind::kPrivateKey && NeedsLogin(m, s->slot)) return CKR_KEY_HANDLE_INVALID;
  if (!key->can_sign) return CKR_KEY_FUNCTION_NOT_PERMITTED;
  op = Operation();
  op.active = true;
  op.mechanism = pMechanism->mechanism;
  op.key = hKey;
  return CKR_OK;
}

CK_RV Update(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen, bool sign) {
  std::unique_lock<std::mutex> lock;
  Session* s = nullptr;
  if (CK_RV rv = LockSession(lock, hSession, &s); rv != CKR_OK) return rv;
  Operation& op = sign ? s->sign : s->verify;
  if (!op.active) return CKR_OPERATION_NOT_INITIALIZED;
  if (pPart == nullptr && ulPartLen > 0) {
    op = Operation();
    return CKR_ARGUMENTS_BAD;
  }
  const size_t limit = op.mechanism == CKM_ECDSA ? kMaxDigest : kMaxMessage;
  if (op.data.size() + ulPartLen > limit) {
    op = Operation();
    return CKR_DATA_LEN_RANGE;
  }
  op.data.insert(op.data.end(), pPart, pPart + ulPartLen);
  op.multipart = true;
  return CKR_OK;
}

// The digest the mechanism signs for `input`; empty when the input is out of range.
Bytes DigestFor(CK_MECHANISM_TYPE mechanism, const Bytes& input) {
  std::optional<crypto::Hash> hash;
  SignatureHash(mechanism, &hash);
  if (hash) return crypto::Digest(*hash, input);
  if (input.empty() || input.size() > kMaxDigest) return {};
  return input;
}

// C_Sign and C_SignFinal: `input` is the whole data (nullopt: what C_SignUpdate collected).
CK_RV FinishSign(CK_SESSION_HANDLE hSession, std::optional<Bytes> input, CK_BYTE_PTR pSignature,
                 CK_ULONG_PTR pulSignatureLen) {
  std::unique_lock<std::mutex> lock;
  Session* s = nullptr;
  if (CK_RV rv = LockSession(lock, hSession, &s); rv != CKR_OK) return rv;
  if (!s->sign.active) return CKR_OPERATION_NOT_INITIALIZED;
  if (pulSignatureLen == nullptr) {
    s->sign = Operation();
    return CKR_ARGUMENTS_BAD;
  }
  // A length query or a short buffer keeps the operation for the real call.
  if (pSignature == nullptr) {
    *pulSignatureLen = kSignatureBytes;
    return CKR_OK;
  }
  if (*pulSignatureLen < kSignatureBytes) {
    *pulSignatureLen = kSignatureBytes;
    return CKR_BUFFER_TOO_SMALL;
  }
  Operation op = std::move(s->sign);
  s->sign = Operation();
  const CK_SLOT_ID slot = s->slot;
  Module& m = Module::Get();
  Object* o = m.FindObject(op.key);
  const KeyInfo* key = o ? m.KeyOf(*o) : nullptr;
  if (key == nullptr) return CKR_KEY_HANDLE_INVALID;
  const KeyInfo info = *key;
  const Bytes digest = DigestFor(op.mechanism, input ? *input : op.data);
  if (digest.empty()) return CKR_DATA_LEN_RANGE;
  lock.unlock();

  KeyQuery q;
  q.kid = info.kid;
  AuthOptions auth;
  auth.operation_prompt = OperationPrompt("sign", info);
  auto r = m.connection.Call<OperationResult>(
      [&](client::Client& c) { return c.Sign(q, "ecdsa-signature-digest-x962", digest, auth); });
  if (!r.ok()) {
    const CK_RV rv = ToCkr(r.error());
    if (rv == CKR_USER_NOT_LOGGED_IN) {
      lock.lock();
      m.logged_in.erase(slot);  // the enclave locked since: the caller logs in again
    }
    return rv;
  }
  auto raw = crypto::DerSignatureToRaw(r->output);
  if (!raw.ok() || raw->size() != kSignatureBytes) return CKR_DEVICE_ERROR;
  std::copy(raw->begin(), raw->end(), pSignature);
  *pulSignatureLen = kSignatureBytes;
  return CKR_OK;
}

CK_RV FinishVerify(CK_SESSION_HANDLE hSession, std::optional<Bytes> input, CK_BYTE_PTR pSignature,
                   CK_ULONG ulSignatureLen) {
  std::unique_lock<std::mutex> lock;
  Session* s = nullptr;
  if (CK_RV rv = LockSession(lock, hSession, &s); rv != CKR_OK) return rv;
  if (!s->verify.active) return CKR_OPERATION_NOT_INITIALIZED;
  Operation op = std::move(s->verify);
  s->verify = Operation();
  if (pSignature == nullptr) return CKR_ARGUMENTS_BAD;
  if (ulSignatureLen != kSignatureBytes) return CKR_SIGNATURE_LEN_RANGE;
  Module& m = Module::Get();
  Object* o = m.FindObject(op.key);
  const KeyInfo* key = o ? m.KeyOf(*o) : nullptr;
  if (key == nullptr) return CKR_KEY_HANDLE_INVALID;
  const Bytes digest = DigestFor(op.mechanism, input ? *input : op.data);
  if (digest.empty()) return CKR_DATA_LEN_RANGE;
  auto pub = crypto::EcPublicKey::FromX963(key->public_key_x963);
  if (!pub.ok()) return CKR_DEVICE_ERROR;
  auto der = crypto::RawSignatureToDer(ByteView(pSignature, ulSignatureLen));
  if (!der.ok()) return CKR_SIGNATURE_INVALID;
  return pub->VerifyDigestDer(digest, *der) ? CKR_OK : CKR_SIGNATURE_INVALID;
}

std::optional<Bytes> Whole(CK_BYTE_PTR pData, CK_ULONG ulDataLen) {
  if (pData == nullptr) return Bytes{};
  return Bytes(pData, pData + ulDataLen);
}

}  // namespace
}  // namespace enclave::pkcs11

using namespace enclave::pkcs11;  // NOLINT(google-build-using-namespace)

extern "C" {

CK_RV C_SignInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey) {
  return Guard([&] { return Init(hSession, pMechanism, hKey, true); });
}

CK_RV C_Sign(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pSignature,
             CK_ULONG_PTR pulSignatureLen) {
  return Guard([&] {
    if (pData == nullptr && ulDataLen > 0) {
      std::unique_lock<std::mutex> lock;
      Session* s = nullptr;
      if (CK_RV rv = LockSession(lock, hSession, &s); rv != CKR_OK) return rv;
      if (!s->sign.active) return CKR_OPERATION_NOT_INITIALIZED;
      s->sign = Operation();
      return CKR_ARGUMENTS_BAD;
    }
    return FinishSign(hSession, Whole(pData, ulDataLen), pSignature, pulSignatureLen);
  });
}

CK_RV C_SignUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen) {
  return Guard([&] { return Update(hSession, pPart, ulPartLen, true); });
}

CK_RV C_SignFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen) {
  return Guard([&] { return FinishSign(hSession, std::nullopt, pSignature, pulSignatureLen); });
}

CK_RV C_VerifyInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey) {
  return Guard([&] { return Init(hSession, pMechanism, hKey, false); });
}

CK_RV C_Verify(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pSignature,
               CK_ULONG ulSignatureLen) {
  return Guard([&] {
    if (pData == nullptr && ulDataLen > 0) {
      std::unique_lock<std::mutex> lock;
      Session* s = nullptr;
      if (CK_RV rv = LockSession(lock, hSession, &s); rv != CKR_OK) return rv;
      if (!s->verify.active) return CKR_OPERATION_NOT_INITIALIZED;
      s->verify = Operation();
      return CKR_ARGUMENTS_BAD;
    }
    return FinishVerify(hSession, Whole(pData, ulDataLen), pSignature, ulSignatureLen);
  });
}

CK_RV C_VerifyUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen) {
  return Guard([&] { return Update(hSession, pPart, ulPartLen, false); });
}

CK_RV C_VerifyFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen) {
  return Guard([&] { return FinishVerify(hSession, std::nullopt, pSignature, ulSignatureLen); });
}

}  // extern "C"
