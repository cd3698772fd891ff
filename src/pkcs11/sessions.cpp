// Sessions, login and the PIN: the user PIN is the enclave's passcode.
#include <cstring>

#include "pkcs11/entry.h"

namespace enclave::pkcs11 {
namespace {

SecureBytes Pin(CK_UTF8CHAR_PTR pin, CK_ULONG len) {
  return SecureBytes(ByteView(reinterpret_cast<const uint8_t*>(pin), len));
}

// Deletes the keys with CKA_TOKEN false that a closed session made, and drops its secrets.
void EndSessions(const std::vector<CK_SESSION_HANDLE>& closed) {
  Module& m = Module::Get();
  std::vector<std::string> kids;
  {
    std::lock_guard lock(m.mu);
    for (auto& [h, o] : m.objects) {
      if (o.owner == 0 || std::find(closed.begin(), closed.end(), o.owner) == closed.end()) continue;
      if (o.kind == ObjectKind::kSecretKey) {
        o.destroyed = true;
        o.secret.reset();
      } else if (!o.destroyed && o.kind == ObjectKind::kPrivateKey) {
        kids.push_back(o.kid);
      }
    }
    for (const auto& kid : kids) m.ForgetKey(kid);
  }
  for (const auto& kid : kids) {
    KeyQuery q;
    q.kid = kid;
    // Best effort: the daemon drops the session's keys with the connection anyway.
    (void)m.connection.Call<int>([&](client::Client& c) { return c.DeleteKeys(q); });
  }
}

}  // namespace
}  // namespace enclave::pkcs11

using namespace enclave::pkcs11;  // NOLINT(google-build-using-namespace)
using enclave::SecureBytes;

extern "C" {

CK_RV C_OpenSession(CK_SLOT_ID slotID, CK_FLAGS flags, CK_VOID_PTR /*pApplication*/, CK_NOTIFY /*Notify*/,
                    CK_SESSION_HANDLE_PTR phSession) {
  return Guard([&] {
    if (CK_RV rv = CheckInitialized(); rv != CKR_OK) return rv;
    if (phSession == nullptr) return CKR_ARGUMENTS_BAD;
    if ((flags & CKF_SERIAL_SESSION) == 0) return CKR_SESSION_PARALLEL_NOT_SUPPORTED;
    if (slotID != kSoftSlot && slotID != kTpmSlot) return CKR_SLOT_ID_INVALID;
    Module& m = Module::Get();
    auto state = QueryTokenState(m.connection);
    if (!state.ok()) return ToCkr(state.error());
    if (slotID == kTpmSlot && !state->tpm_configured) return CKR_SLOT_ID_INVALID;
    std::lock_guard lock(m.mu);
    if (!m.initialized) return CKR_CRYPTOKI_NOT_INITIALIZED;
    m.passcode_set = state->passcode_set;
    const CK_SESSION_HANDLE h = m.next_session++;
    Session s;
    s.slot = slotID;
    s.flags = flags & (CKF_SERIAL_SESSION | CKF_RW_SESSION);
    m.sessions[h] = std::move(s);
    *phSession = h;
    return CKR_OK;
  });
}

CK_RV C_CloseSession(CK_SESSION_HANDLE hSession) {
  return Guard([&] {
    std::unique_lock<std::mutex> lock;
    Session* s = nullptr;
    if (CK_RV rv = LockSession(lock, hSession, &s); rv != CKR_OK) return rv;
    Module& m = Module::Get();
    const CK_SLOT_ID slot = s->slot;
    m.sessions.erase(hSession);
    bool any_left = false;
    for (const auto& [h, other] : m.sessions) any_left = any_left || other.slot == slot;
    // The login belongs to the application's sessions of the token; with the last one it ends.
    if (!any_left) m.logged_in.erase(slot);
    lock.unlock();
    EndSessions({hSession});
    return CKR_OK;
  });
}

CK_RV C_CloseAllSessions(CK_SLOT_ID slotID) {
  return Guard([&] {
    Module& m = Module::Get();
    std::vector<CK_SESSION_HANDLE> closed;
    {
      std::lock_guard lock(m.mu);
      if (!m.initialized) return CKR_CRYPTOKI_NOT_INITIALIZED;
      if (slotID != kSoftSlot && slotID != kTpmSlot) return CKR_SLOT_ID_INVALID;
      for (auto it = m.sessions.begin(); it != m.sessions.end();) {
        if (it->second.slot == slotID) {
          closed.push_back(it->first);
          it = m.sessions.erase(it);
        } else {
          ++it;
        }
      }
      m.logged_in.erase(slotID);
    }
    EndSessions(closed);
    return CKR_OK;
  });
}

CK_RV C_GetSessionInfo(CK_SESSION_HANDLE hSession, CK_SESSION_INFO_PTR pInfo) {
  return Guard([&] {
    std::unique_lock<std::mutex> lock;
    Session* s = nullptr;
    if (CK_RV rv = LockSession(lock, hSession, &s); rv != CKR_OK) return rv;
    if (pInfo == nullptr) return CKR_ARGUMENTS_BAD;
    const bool user = !NeedsLogin(Module::Get(), s->slot);
    const bool rw = (s->flags & CKF_RW_SESSION) != 0;
    pInfo->slotID = s->slot;
    pInfo->state = user ? (rw ? CKS_RW_USER_FUNCTIONS : CKS_RO_USER_FUNCTIONS)
                        : (rw ? CKS_RW_PUBLIC_SESSION : CKS_RO_PUBLIC_SESSION);
    pInfo->flags = s->flags;
    pInfo->ulDeviceError = 0;
    return CKR_OK;
  });
}

CK_RV C_Login(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen) {
  return Guard([&] {
    std::unique_lock<std::mutex> lock;
    Session* s = nullptr;
    if (CK_RV rv = LockSession(lock, hSession, &s); rv != CKR_OK) return rv;
    if (userType == CKU_CONTEXT_SPECIFIC) return CKR_OPERATION_NOT_INITIALIZED;
    if (userType != CKU_USER) return CKR_USER_TYPE_INVALID;  // there is no security officer
    if (pPin == nullptr) return CKR_ARGUMENTS_BAD;
    Module& m = Module::Get();
    const CK_SLOT_ID slot = s->slot;
    if (m.IsLoggedIn(slot)) return CKR_USER_ALREADY_LOGGED_IN;
    lock.unlock();
    auto state = QueryTokenState(m.connection);
    if (!state.ok()) return ToCkr(state.error());
    if (state->passcode_set) {
      // Unlocking checks the passcode and counts a wrong one toward the same lockout as the CLI.
      std::vector<SecureBytes> secrets;
      secrets.push_back(Pin(pPin, ulPinLen));
      auto r = m.connection.Call<nlohmann::json>(
          [&](enclave::client::Client& c) { return c.Admin("unlock", nlohmann::json::object(), secrets); });
      if (!r.ok()) return ToCkr(r.error());
    }
    // Without a passcode there is nothing to check: the PIN is ignored and never sent.
    lock.lock();
    m.passcode_set = state->passcode_set;
    m.logged_in.insert(slot);
    return CKR_OK;
  });
}

CK_RV C_Logout(CK_SESSION_HANDLE hSession) {
  return Guard([&] {
    std::unique_lock<std::mutex> lock;
    Session* s = nullptr;
    if (CK_RV rv = LockSession(lock, hSession, &s); rv != CKR_OK) return rv;
    Module& m = Module::Get();
    if (!m.IsLoggedIn(s->slot)) return CKR_USER_NOT_LOGGED_IN;
    // The enclave's lock state is left to the session lock: other programs may be using keys.
    m.logged_in.erase(s->slot);
    for (auto& [h, other] : m.sessions) {
      if (other.slot != s->slot) continue;
      other.sign = Operation();
      other.verify = Operation();
    }
    return CKR_OK;
  });
}

CK_RV C_SetPIN(CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pOldPin, CK_ULONG ulOldLen,
               CK_UTF8CHAR_PTR pNewPin, CK_ULONG ulNewLen) {
  return Guard([&] {
    std::unique_lock<std::mutex> lock;
    Session* s = nullptr;
    if (CK_RV rv = LockSession(lock, hSession, &s); rv != CKR_OK) return rv;
    if ((s->flags & CKF_RW_SESSION) == 0) return CKR_SESSION_READ_ONLY;
    if (pOldPin == nullptr || pNewPin == nullptr) return CKR_ARGUMENTS_BAD;
    if (ulNewLen == 0) return CKR_PIN_LEN_RANGE;
    lock.unlock();
    Module& m = Module::Get();
    auto state = QueryTokenState(m.connection);
    if (!state.ok()) return ToCkr(state.error());
    // Setting a first passcode changes what every key may do; that stays with `enclave passcode set`.
    if (!state->passcode_set) return CKR_USER_PIN_NOT_INITIALIZED;
    std::vector<SecureBytes> secrets;
    secrets.push_back(Pin(pOldPin, ulOldLen));
    secrets.push_back(Pin(pNewPin, ulNewLen));
    auto r = m.connection.Call<nlohmann::json>([&](enclave::client::Client& c) {
      return c.Admin("passcode.change", nlohmann::json::object(), secrets);
    });
    return r.ok() ? CKR_OK : ToCkr(r.error());
  });
}

}  // extern "C"
