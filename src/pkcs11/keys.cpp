// Key generation (an enclave item, permanent or for the session), ECDH key derivation into a
// session secret, and random numbers.
#include <sstream>

#include "crypto/ec.h"
#include "pkcs11/attributes.h"
#include "pkcs11/entry.h"
#include "pkcs11/vendor.h"

namespace enclave::pkcs11 {
namespace {

std::vector<std::string> SplitCommas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

// Attributes a key-pair template may carry that change nothing here (the key is what it is).
bool AcceptedAndIgnored(CK_ATTRIBUTE_TYPE t) {
  switch (t) {
    case CKA_PRIVATE:
    case CKA_MODIFIABLE:
    case CKA_COPYABLE:
    case CKA_DESTROYABLE:
    case CKA_SUBJECT:
    case CKA_START_DATE:
    case CKA_END_DATE:
    case CKA_ENCRYPT:
    case CKA_DECRYPT:
    case CKA_WRAP:
    case CKA_UNWRAP:
    case CKA_VERIFY:
    case CKA_VERIFY_RECOVER:
    case CKA_SIGN_RECOVER:
    case CKA_WRAP_WITH_TRUSTED:
    case CKA_TRUSTED:
    case CKA_ALLOWED_MECHANISMS:
    case CKA_LOCAL:
    case CKA_ALWAYS_SENSITIVE:
    case CKA_NEVER_EXTRACTABLE:
    case CKA_PUBLIC_KEY_INFO:
      return true;
    default:
      return false;
  }
}

struct PairRequest {
  std::optional<bool> token;
  std::optional<Bytes> id;
  std::optional<std::string> label;
  KeySpec spec;
};

CK_RV ReadPairTemplate(const CK_ATTRIBUTE* tmpl, CK_ULONG count, bool is_private, PairRequest* req) {
  for (CK_ULONG i = 0; i < count; ++i) {
    const CK_ATTRIBUTE& a = tmpl[i];
    switch (a.type) {
      case CKA_CLASS:
        if (ReadUlong(a) != (is_private ? CKO_PRIVATE_KEY : CKO_PUBLIC_KEY)) return CKR_TEMPLATE_INCONSISTENT;
        break;
      case CKA_KEY_TYPE:
        if (ReadUlong(a) != CKK_EC) return CKR_TEMPLATE_INCONSISTENT;
        break;
      case CKA_EC_PARAMS:
        if (ReadBytes(a) != P256Params()) return CKR_CURVE_NOT_SUPPORTED;
        break;
      case CKA_TOKEN:
        if (req->token && *req->token != ReadBool(a)) return CKR_TEMPLATE_INCONSISTENT;
        req->token = ReadBool(a);
        break;
      case CKA_ID:
        if (req->id && *req->id != ReadBytes(a)) return CKR_TEMPLATE_INCONSISTENT;
        req->id = ReadBytes(a);
        break;
      case CKA_LABEL:
        if (is_private || !req->label) req->label = ReadString(a);
        break;
      case CKA_SIGN:
        if (!is_private) return CKR_ATTRIBUTE_TYPE_INVALID;
        req->spec.can_sign = ReadBool(a);
        break;
      case CKA_DERIVE:
        if (is_private) req->spec.can_derive = ReadBool(a);
        break;
      case CKA_SENSITIVE:
        if (!ReadBool(a)) return CKR_ATTRIBUTE_VALUE_INVALID;  // enclave keys are always sensitive
        break;
      case CKA_EXTRACTABLE:
        if (ReadBool(a)) return CKR_ATTRIBUTE_VALUE_INVALID;  // and never extractable
        break;
      case CKA_ALWAYS_AUTHENTICATE:
        if (ReadBool(a)) return CKR_ATTRIBUTE_VALUE_INVALID;  // presence is the enclave's to check
        break;
      case CKA_ENCLAVE_ACCESSIBLE:
        req->spec.accessible = ReadString(a);
        break;
      case CKA_ENCLAVE_ACCESS_CONTROL:
        req->spec.access_control = SplitCommas(ReadString(a));
        break;
      case CKA_ENCLAVE_APPLICATION_TAG:
        req->spec.application_tag = ReadBytes(a);
        break;
      default:
        if (!AcceptedAndIgnored(a.type)) return CKR_ATTRIBUTE_TYPE_INVALID;
    }
  }
  return CKR_OK;
}

std::string ExchangeAlgorithm(CK_MECHANISM_TYPE mechanism, unsigned long kdf) {
  std::string name =
      mechanism == CKM_ECDH1_COFACTOR_DERIVE ? "ecdh-key-exchange-cofactor" : "ecdh-key-exchange-standard";
  switch (kdf) {
    case CKD_NULL:
      return name;
    case CKD_SHA1_KDF:
      return name + "-x963-sha1";
    case CKD_SHA224_KDF:
      return name + "-x963-sha224";
    case CKD_SHA256_KDF:
      return name + "-x963-sha256";
    case CKD_SHA384_KDF:
      return name + "-x963-sha384";
    case CKD_SHA512_KDF:
      return name + "-x963-sha512";
    default:
      return "";
  }
}

// The peer's point: the raw 65 bytes, or the DER OCTET STRING around them.
std::optional<Bytes> PeerPoint(const CK_ECDH1_DERIVE_PARAMS& p) {
  if (p.pPublicData == nullptr) return std::nullopt;
  Bytes data(p.pPublicData, p.pPublicData + p.ulPublicDataLen);
  if (data.size() == 67 && data[0] == 0x04 && data[1] == 65) data.erase(data.begin(), data.begin() + 2);
  if (!crypto::EcPublicKey::FromX963(data).ok()) return std::nullopt;
  return data;
}

constexpr CK_ULONG kMaxDerived = 1024;

CK_RV ReadSecretTemplate(const CK_ATTRIBUTE* tmpl, CK_ULONG count, SecretKey* key, CK_ULONG* value_len) {
  for (CK_ULONG i = 0; i < count; ++i) {
    const CK_ATTRIBUTE& a = tmpl[i];
    switch (a.type) {
      case CKA_CLASS:
        if (ReadUlong(a) != CKO_SECRET_KEY) return CKR_TEMPLATE_INCONSISTENT;
        break;
      case CKA_KEY_TYPE:
        key->key_type = ReadUlong(a);
        break;
      case CKA_TOKEN:
        // The shared secret lives in this process only; it is never stored in the enclave.
        if (ReadBool(a)) return CKR_TEMPLATE_INCONSISTENT;
        break;
      case CKA_VALUE_LEN:
        *value_len = ReadUlong(a);
        if (*value_len == 0 || *value_len > kMaxDerived) return CKR_ATTRIBUTE_VALUE_INVALID;
        break;
      case CKA_LABEL:
        key->label = ReadString(a);
        break;
      case CKA_ID:
        key->id = ReadBytes(a);
        break;
      case CKA_PRIVATE:
      case CKA_MODIFIABLE:
      case CKA_SENSITIVE:
      case CKA_EXTRACTABLE:
      case CKA_ENCRYPT:
      case CKA_DECRYPT:
      case CKA_WRAP:
      case CKA_UNWRAP:
      case CKA_SIGN:
      case CKA_VERIFY:
      case CKA_DERIVE:
        key->flags[a.type] = ReadBool(a);
        break;
      case CKA_COPYABLE:
      case CKA_DESTROYABLE:
      case CKA_START_DATE:
      case CKA_END_DATE:
        break;
      default:
        return CKR_ATTRIBUTE_TYPE_INVALID;
    }
  }
  return CKR_OK;
}

}  // namespace
}  // namespace enclave::pkcs11

using namespace enclave::pkcs11;  // NOLINT(google-build-using-namespace)
using enclave::Bytes;
using enclave::KeyInfo;
using enclave::KeyQuery;
using enclave::KeySpec;
using enclave::OperationResult;

extern "C" {

CK_RV C_GenerateKeyPair(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                        CK_ATTRIBUTE_PTR pPublicKeyTemplate, CK_ULONG ulPublicKeyAttributeCount,
                        CK_ATTRIBUTE_PTR pPrivateKeyTemplate, CK_ULONG ulPrivateKeyAttributeCount,
                        CK_OBJECT_HANDLE_PTR phPublicKey, CK_OBJECT_HANDLE_PTR phPrivateKey) {
  return Guard([&] {
    std::unique_lock<std::mutex> lock;
    Session* s = nullptr;
    if (CK_RV rv = LockSession(lock, hSession, &s); rv != CKR_OK) return rv;
    if (pMechanism == nullptr || phPublicKey == nullptr || phPrivateKey == nullptr) return CKR_ARGUMENTS_BAD;
    if (pMechanism->mechanism != CKM_EC_KEY_PAIR_GEN) return CKR_MECHANISM_INVALID;
    if (pMechanism->pParameter != nullptr || pMechanism->ulParameterLen != 0)
      return CKR_MECHANISM_PARAM_INVALID;
    if (CK_RV rv = CheckTemplate(pPublicKeyTemplate, ulPublicKeyAttributeCount); rv != CKR_OK) return rv;
    if (CK_RV rv = CheckTemplate(pPrivateKeyTemplate, ulPrivateKeyAttributeCount); rv != CKR_OK) return rv;
    PairRequest req;
    if (CK_RV rv = ReadPairTemplate(pPublicKeyTemplate, ulPublicKeyAttributeCount, false, &req);
        rv != CKR_OK) {
      return rv;
    }
    if (CK_RV rv = ReadPairTemplate(pPrivateKeyTemplate, ulPrivateKeyAttributeCount, true, &req);
        rv != CKR_OK) {
      return rv;
    }
    const bool token = req.token.value_or(false);
    if (token && (s->flags & CKF_RW_SESSION) == 0) return CKR_SESSION_READ_ONLY;
    Module& m = Module::Get();
    if (NeedsLogin(m, s->slot)) return CKR_USER_NOT_LOGGED_IN;
    const CK_SLOT_ID slot = s->slot;
    KeySpec spec = req.spec;
    spec.token = SlotToken(slot);
    spec.permanent = token;
    if (req.label && !req.label->empty()) spec.label = req.label;
    if (req.id && !req.id->empty()) spec.application_label = req.id;
    lock.unlock();

    auto key = m.connection.Call<KeyInfo>([&](enclave::client::Client& c) { return c.CreateKey(spec); });
    if (!key.ok()) return ToCkr(key.error());
    if (CK_RV rv = LockSession(lock, hSession, &s); rv != CKR_OK) return rv;
    m.Remember(*key, slot, token ? 0 : hSession);
    *phPublicKey = m.HandleFor(key->kid, ObjectKind::kPublicKey, slot);
    *phPrivateKey = m.HandleFor(key->kid, ObjectKind::kPrivateKey, slot);
    return CKR_OK;
  });
}

CK_RV C_DeriveKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hBaseKey,
                  CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulAttributeCount, CK_OBJECT_HANDLE_PTR phKey) {
  return Guard([&] {
    std::unique_lock<std::mutex> lock;
    Session* s = nullptr;
    if (CK_RV rv = LockSession(lock, hSession, &s); rv != CKR_OK) return rv;
    if (pMechanism == nullptr || phKey == nullptr) return CKR_ARGUMENTS_BAD;
    if (pMechanism->mechanism != CKM_ECDH1_DERIVE && pMechanism->mechanism != CKM_ECDH1_COFACTOR_DERIVE) {
      return CKR_MECHANISM_INVALID;
    }
    if (pMechanism->pParameter == nullptr || pMechanism->ulParameterLen != sizeof(CK_ECDH1_DERIVE_PARAMS)) {
      return CKR_MECHANISM_PARAM_INVALID;
    }
    const auto& params = *static_cast<const CK_ECDH1_DERIVE_PARAMS*>(pMechanism->pParameter);
    const std::string algorithm = ExchangeAlgorithm(pMechanism->mechanism, params.kdf);
    if (algorithm.empty()) return CKR_MECHANISM_PARAM_INVALID;
    if (params.pSharedData == nullptr && params.ulSharedDataLen > 0) return CKR_MECHANISM_PARAM_INVALID;
    if (params.kdf == CKD_NULL && params.ulSharedDataLen > 0) return CKR_MECHANISM_PARAM_INVALID;
    const auto peer = PeerPoint(params);
    if (!peer) return CKR_MECHANISM_PARAM_INVALID;
    const Bytes shared_info = params.pSharedData == nullptr
                                  ? Bytes{}
                                  : Bytes(params.pSharedData, params.pSharedData + params.ulSharedDataLen);
    if (CK_RV rv = CheckTemplate(pTemplate, ulAttributeCount); rv != CKR_OK) return rv;
    auto secret = std::make_shared<SecretKey>();
    CK_ULONG value_len = 32;
    if (CK_RV rv = ReadSecretTemplate(pTemplate, ulAttributeCount, secret.get(), &value_len); rv != CKR_OK) {
      return rv;
    }
    if (params.kdf == CKD_NULL && value_len > 32) return CKR_TEMPLATE_INCONSISTENT;
    Module& m = Module::Get();
    Object* base = m.FindObject(hBaseKey);
    const KeyInfo* key = base ? m.KeyOf(*base) : nullptr;
    if (key == nullptr || base->slot != s->slot) return CKR_KEY_HANDLE_INVALID;
    if (base->kind != ObjectKind::kPrivateKey) return CKR_KEY_TYPE_INCONSISTENT;
    if (NeedsLogin(m, s->slot)) return CKR_USER_NOT_LOGGED_IN;
    if (!key->can_derive) return CKR_KEY_FUNCTION_NOT_PERMITTED;
    const KeyInfo info = *key;
    const CK_SLOT_ID slot = s->slot;
    lock.unlock();

    KeyQuery q;
    q.kid = info.kid;
    enclave::AuthOptions auth;
    auth.operation_prompt = OperationPrompt("derive a shared secret", info);
    std::optional<size_t> size;
    if (params.kdf != CKD_NULL) size = value_len;
    auto r = m.connection.Call<OperationResult>([&](enclave::client::Client& c) {
      return c.KeyExchange(q, algorithm, *peer, size, shared_info, auth);
    });
    if (!r.ok()) return ToCkr(r.error());
    if (r->output.size() < value_len) return CKR_DEVICE_ERROR;
    secret->value = enclave::SecureBytes(enclave::ByteView(r->output.data(), value_len));
    std::fill(r->output.begin(), r->output.end(), 0);
    if (CK_RV rv = LockSession(lock, hSession, &s); rv != CKR_OK) return rv;
    const CK_OBJECT_HANDLE h = m.next_object++;
    Object o;
    o.kind = ObjectKind::kSecretKey;
    o.slot = slot;
    o.secret = std::move(secret);
    o.owner = hSession;
    m.objects[h] = std::move(o);
    *phKey = h;
    return CKR_OK;
  });
}

CK_RV C_SeedRandom(CK_SESSION_HANDLE hSession, CK_BYTE_PTR, CK_ULONG) {
  return Guard([&] {
    std::unique_lock<std::mutex> lock;
    Session* s = nullptr;
    if (CK_RV rv = LockSession(lock, hSession, &s); rv != CKR_OK) return rv;
    return CKR_RANDOM_SEED_NOT_SUPPORTED;  // OpenSSL's generator seeds itself from the kernel
  });
}

CK_RV C_GenerateRandom(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pRandomData, CK_ULONG ulRandomLen) {
  return Guard([&] {
    std::unique_lock<std::mutex> lock;
    Session* s = nullptr;
    if (CK_RV rv = LockSession(lock, hSession, &s); rv != CKR_OK) return rv;
    lock.unlock();
    if (ulRandomLen == 0) return CKR_OK;
    if (pRandomData == nullptr) return CKR_ARGUMENTS_BAD;
    const Bytes r = enclave::crypto::RandomBytes(ulRandomLen);
    std::copy(r.begin(), r.end(), pRandomData);
    return CKR_OK;
  });
}

}  // extern "C"
