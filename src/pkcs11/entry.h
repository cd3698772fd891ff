// Shared by the files that implement the C_* functions.
#pragma once

#include <new>

#include "pkcs11/errors.h"
#include "pkcs11/module.h"

namespace enclave::pkcs11 {

// Every C_* body runs inside this: nothing thrown below (allocation, JSON) crosses the C ABI.
template <typename F>
CK_RV Guard(F&& body) noexcept {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return CKR_HOST_MEMORY;
  } catch (...) {
    return CKR_GENERAL_ERROR;
  }
}

// The checks every session function starts with; on CKR_OK *session points into the module
// (valid while `lock` is held).
CK_RV LockSession(std::unique_lock<std::mutex>& lock, CK_SESSION_HANDLE h, Session** session);
CK_RV CheckInitialized();

// Whether the token wants a login (the enclave has a passcode, as of the last token query) and
// the slot is not logged in. Called with mu held.
inline bool NeedsLogin(const Module& m, CK_SLOT_ID slot) { return m.passcode_set && !m.IsLoggedIn(slot); }

struct MechanismEntry {
  CK_MECHANISM_TYPE type;
  CK_FLAGS flags;
};
const std::vector<MechanismEntry>& Mechanisms();

}  // namespace enclave::pkcs11
