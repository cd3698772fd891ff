// Objects: finding, reading and changing attributes, destroying. Key objects are views of the
// enclave's items (a private and a public object per item); attribute reads are served from
// what the daemon last said, refreshed by every C_FindObjectsInit.
#include "pkcs11/attributes.h"
#include "pkcs11/entry.h"
#include "pkcs11/vendor.h"

namespace enclave::pkcs11 {
namespace {

// The object behind a handle, when this session may see it.
CK_RV Visible(Module& m, const Session& s, CK_OBJECT_HANDLE h, Object** out) {
  Object* o = m.FindObject(h);
  if (o == nullptr || o->slot != s.slot) return CKR_OBJECT_HANDLE_INVALID;
  if (ObjectIsPrivate(*o) && NeedsLogin(m, s.slot)) return CKR_OBJECT_HANDLE_INVALID;
  *out = o;
  return CKR_OK;
}

Result<std::vector<KeyInfo>> FetchKeys(Module& m, const std::string& token) {
  KeyQuery q;
  q.token = token;
  q.match_all = true;
  auto keys = m.connection.Call<std::vector<KeyInfo>>([&](client::Client& c) { return c.FindKeys(q); });
  if (!keys.ok() && keys.error().effective_cause() == "item-not-found") return std::vector<KeyInfo>{};
  return keys;
}

// Whether the session may change (or destroy) the object: R/W for token objects, login for
// private ones.
CK_RV MayModify(const Module& m, const Session& s, const Object& o) {
  if (ObjectIsToken(o, m.KeyOf(o)) && (s.flags & CKF_RW_SESSION) == 0) return CKR_SESSION_READ_ONLY;
  if (o.kind != ObjectKind::kSecretKey && NeedsLogin(m, s.slot)) return CKR_USER_NOT_LOGGED_IN;
  return CKR_OK;
}

}  // namespace
}  // namespace enclave::pkcs11

using namespace enclave::pkcs11;  // NOLINT(google-build-using-namespace)
using enclave::Bytes;
using enclave::KeyChanges;
using enclave::KeyInfo;
using enclave::KeyQuery;

extern "C" {

CK_RV C_FindObjectsInit(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount) {
  return Guard([&] {
    std::unique_lock<std::mutex> lock;
    Session* s = nullptr;
    if (CK_RV rv = LockSession(lock, hSession, &s); rv != CKR_OK) return rv;
    if (s->finding) return CKR_OPERATION_ACTIVE;
    if (CK_RV rv = CheckTemplate(pTemplate, ulCount); rv != CKR_OK) return rv;
    const CK_SLOT_ID slot = s->slot;
    lock.unlock();
    Module& m = Module::Get();
    auto keys = FetchKeys(m, SlotToken(slot));
    if (!keys.ok()) return ToCkr(keys.error());
    if (CK_RV rv = LockSession(lock, hSession, &s); rv != CKR_OK) return rv;
    if (s->finding) return CKR_OPERATION_ACTIVE;
    m.UpdateKeys(slot, *keys);
    s->found.clear();
    s->next_found = 0;
    const bool hide_private = NeedsLogin(m, slot);
    for (const auto& [h, o] : m.objects) {
      if (o.destroyed || o.slot != slot) continue;
      if (hide_private && ObjectIsPrivate(o)) continue;
      const KeyInfo* key = m.KeyOf(o);
      if (o.kind != ObjectKind::kSecretKey && key == nullptr) continue;
      if (Matches(o, key, pTemplate, ulCount)) s->found.push_back(h);
    }
    s->finding = true;
    return CKR_OK;
  });
}

CK_RV C_FindObjects(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE_PTR phObject, CK_ULONG ulMaxObjectCount,
                    CK_ULONG_PTR pulObjectCount) {
  return Guard([&] {
    std::unique_lock<std::mutex> lock;
    Session* s = nullptr;
    if (CK_RV rv = LockSession(lock, hSession, &s); rv != CKR_OK) return rv;
    if (pulObjectCount == nullptr || (phObject == nullptr && ulMaxObjectCount > 0)) return CKR_ARGUMENTS_BAD;
    if (!s->finding) return CKR_OPERATION_NOT_INITIALIZED;
    CK_ULONG n = 0;
    while (n < ulMaxObjectCount && s->next_found < s->found.size()) phObject[n++] = s->found[s->next_found++];
    *pulObjectCount = n;
    return CKR_OK;
  });
}

CK_RV C_FindObjectsFinal(CK_SESSION_HANDLE hSession) {
  return Guard([&] {
    std::unique_lock<std::mutex> lock;
    Session* s = nullptr;
    if (CK_RV rv = LockSession(lock, hSession, &s); rv != CKR_OK) return rv;
    if (!s->finding) return CKR_OPERATION_NOT_INITIALIZED;
    s->finding = false;
    s->found.clear();
    return CKR_OK;
  });
}

CK_RV C_GetAttributeValue(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject, CK_ATTRIBUTE_PTR pTemplate,
                          CK_ULONG ulCount) {
  return Guard([&] {
    std::unique_lock<std::mutex> lock;
    Session* s = nullptr;
    if (CK_RV rv = LockSession(lock, hSession, &s); rv != CKR_OK) return rv;
    if (pTemplate == nullptr && ulCount > 0) return CKR_ARGUMENTS_BAD;
    Module& m = Module::Get();
    Object* o = nullptr;
    if (CK_RV rv = Visible(m, *s, hObject, &o); rv != CKR_OK) return rv;
    const KeyInfo* key = m.KeyOf(*o);
    CK_RV result = CKR_OK;
    for (CK_ULONG i = 0; i < ulCount; ++i) {
      const CK_RV rv = CopyAttribute(pTemplate[i], ObjectAttribute(*o, key, pTemplate[i].type));
      // Sensitive outranks unknown, which outranks a short buffer: the most telling answer wins.
      if (rv == CKR_ATTRIBUTE_SENSITIVE ||
          (rv == CKR_ATTRIBUTE_TYPE_INVALID && result != CKR_ATTRIBUTE_SENSITIVE) ||
          (rv == CKR_BUFFER_TOO_SMALL && result == CKR_OK)) {
        result = rv;
      }
    }
    return result;
  });
}

CK_RV C_SetAttributeValue(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject, CK_ATTRIBUTE_PTR pTemplate,
                          CK_ULONG ulCount) {
  return Guard([&] {
    std::unique_lock<std::mutex> lock;
    Session* s = nullptr;
    if (CK_RV rv = LockSession(lock, hSession, &s); rv != CKR_OK) return rv;
    if (CK_RV rv = CheckTemplate(pTemplate, ulCount); rv != CKR_OK) return rv;
    Module& m = Module::Get();
    Object* o = nullptr;
    if (CK_RV rv = Visible(m, *s, hObject, &o); rv != CKR_OK) return rv;
    if (CK_RV rv = MayModify(m, *s, *o); rv != CKR_OK) return rv;
    const KeyInfo* key = m.KeyOf(*o);
    if (o->kind == ObjectKind::kSecretKey) {
      for (CK_ULONG i = 0; i < ulCount; ++i) {
        const CK_ATTRIBUTE_TYPE t = pTemplate[i].type;
        if (t != CKA_LABEL && t != CKA_ID) {
          return ObjectAttribute(*o, key, t) ? CKR_ATTRIBUTE_READ_ONLY : CKR_ATTRIBUTE_TYPE_INVALID;
        }
      }
      for (CK_ULONG i = 0; i < ulCount; ++i) {
        if (pTemplate[i].type == CKA_LABEL) o->secret->label = ReadString(pTemplate[i]);
        if (pTemplate[i].type == CKA_ID) o->secret->id = ReadBytes(pTemplate[i]);
      }
      return CKR_OK;
    }
    // The application label (CKA_ID) is bound into the sealed key blob, so it cannot change.
    KeyChanges changes;
    for (CK_ULONG i = 0; i < ulCount; ++i) {
      const CK_ATTRIBUTE& a = pTemplate[i];
      if (a.type == CKA_LABEL) {
        changes.label = ReadString(a);
      } else if (a.type == CKA_ENCLAVE_APPLICATION_TAG) {
        changes.application_tag = ReadBytes(a);
      } else if (a.type == CKA_SIGN && o->kind == ObjectKind::kPrivateKey) {
        changes.can_sign = ReadBool(a);
      } else if (a.type == CKA_DERIVE && o->kind == ObjectKind::kPrivateKey) {
        changes.can_derive = ReadBool(a);
      } else {
        return ObjectAttribute(*o, key, a.type) ? CKR_ATTRIBUTE_READ_ONLY : CKR_ATTRIBUTE_TYPE_INVALID;
      }
    }
    const std::string kid = o->kid;
    lock.unlock();
    KeyQuery q;
    q.kid = kid;
    auto r = m.connection.Call<int>([&](enclave::client::Client& c) { return c.UpdateKeys(q, changes); });
    if (!r.ok()) return ToCkr(r.error());
    lock.lock();
    auto it = m.keys.find(kid);
    if (it != m.keys.end()) {
      if (changes.label) it->second.label = *changes.label;
      if (changes.application_tag) it->second.application_tag = *changes.application_tag;
      if (changes.can_sign) it->second.can_sign = *changes.can_sign;
      if (changes.can_derive) it->second.can_derive = *changes.can_derive;
    }
    return CKR_OK;
  });
}

CK_RV C_DestroyObject(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject) {
  return Guard([&] {
    std::unique_lock<std::mutex> lock;
    Session* s = nullptr;
    if (CK_RV rv = LockSession(lock, hSession, &s); rv != CKR_OK) return rv;
    Module& m = Module::Get();
    auto it = m.objects.find(hObject);
    if (it == m.objects.end() || it->second.slot != s->slot) return CKR_OBJECT_HANDLE_INVALID;
    Object& o = it->second;
    // The other half of a key pair whose item this process already deleted.
    if (o.destroyed) return o.kind == ObjectKind::kSecretKey ? CKR_OBJECT_HANDLE_INVALID : CKR_OK;
    if (ObjectIsPrivate(o) && NeedsLogin(m, s->slot)) return CKR_OBJECT_HANDLE_INVALID;
    if (CK_RV rv = MayModify(m, *s, o); rv != CKR_OK) return rv;
    if (o.kind == ObjectKind::kSecretKey) {
      o.destroyed = true;
      o.secret.reset();
      return CKR_OK;
    }
    const std::string kid = o.kid;
    lock.unlock();
    KeyQuery q;
    q.kid = kid;
    auto r = m.connection.Call<int>([&](enclave::client::Client& c) { return c.DeleteKeys(q); });
    if (!r.ok() && r.error().effective_cause() != "item-not-found") return ToCkr(r.error());
    lock.lock();
    m.ForgetKey(kid);
    return CKR_OK;
  });
}

CK_RV C_GetObjectSize(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject, CK_ULONG_PTR pulSize) {
  return Guard([&] {
    std::unique_lock<std::mutex> lock;
    Session* s = nullptr;
    if (CK_RV rv = LockSession(lock, hSession, &s); rv != CKR_OK) return rv;
    if (pulSize == nullptr) return CKR_ARGUMENTS_BAD;
    Object* o = nullptr;
    if (CK_RV rv = Visible(Module::Get(), *s, hObject, &o); rv != CKR_OK) return rv;
    *pulSize = CK_UNAVAILABLE_INFORMATION;
    return CKR_OK;
  });
}

}  // extern "C"
