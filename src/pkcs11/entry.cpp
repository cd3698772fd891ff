// Module entry points: the function list and interface, initialization, slots, tokens and
// mechanisms, and the Cryptoki functions enclave does not offer.
#include "pkcs11/entry.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "common/home.h"
#include "crypto/ec.h"

namespace enclave::pkcs11 {
namespace {

void Pad(CK_UTF8CHAR* dst, size_t size, const std::string& s) {
  std::memset(dst, ' ', size);
  std::memcpy(dst, s.data(), std::min(size, s.size()));
}

// Stable for an enclave home across daemon restarts: derived from the home's path.
std::string Serial(CK_SLOT_ID slot) {
  std::error_code ec;
  auto home = std::filesystem::weakly_canonical(enclave::ResolveHome(), ec);
  if (ec) home = enclave::ResolveHome();
  const std::string seed = "enclave-token-serial\n" + home.string() + "\n" + SlotToken(slot);
  const Bytes d = crypto::Digest(crypto::Hash::kSha256, AsBytes(seed));
  std::string hex = HexEncode(ByteView(d.data(), 8));
  std::transform(hex.begin(), hex.end(), hex.begin(), ::toupper);
  return hex;
}

std::vector<CK_SLOT_ID> Slots(const TokenState* state) {
  std::vector<CK_SLOT_ID> slots = {kSoftSlot};
  if (state && state->tpm_configured) slots.push_back(kTpmSlot);
  return slots;
}

// Refreshes the module's idea of the passcode; nullopt when the daemon cannot be reached.
std::optional<TokenState> Refresh() {
  Module& m = Module::Get();
  auto state = QueryTokenState(m.connection);
  if (!state.ok()) return std::nullopt;
  std::lock_guard lock(m.mu);
  m.passcode_set = state->passcode_set;
  return *state;
}

CK_RV CheckSlot(CK_SLOT_ID slot, const std::optional<TokenState>& state) {
  if (slot == kSoftSlot) return CKR_OK;
  if (slot == kTpmSlot) return state && state->tpm_configured ? CKR_OK : CKR_SLOT_ID_INVALID;
  return CKR_SLOT_ID_INVALID;
}

constexpr CK_FLAGS kEc = CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS | CKF_HW;

}  // namespace

const std::vector<MechanismEntry>& Mechanisms() {
  static const std::vector<MechanismEntry> list = {
      {CKM_EC_KEY_PAIR_GEN, CKF_GENERATE_KEY_PAIR | kEc},
      {CKM_ECDSA, CKF_SIGN | CKF_VERIFY | kEc},
      {CKM_ECDSA_SHA1, CKF_SIGN | CKF_VERIFY | kEc},
      {CKM_ECDSA_SHA224, CKF_SIGN | CKF_VERIFY | kEc},
      {CKM_ECDSA_SHA256, CKF_SIGN | CKF_VERIFY | kEc},
      {CKM_ECDSA_SHA384, CKF_SIGN | CKF_VERIFY | kEc},
      {CKM_ECDSA_SHA512, CKF_SIGN | CKF_VERIFY | kEc},
      {CKM_ECDH1_DERIVE, CKF_DERIVE | kEc},
      {CKM_ECDH1_COFACTOR_DERIVE, CKF_DERIVE | kEc},
      {CKM_SHA_1, CKF_DIGEST},
      {CKM_SHA224, CKF_DIGEST},
      {CKM_SHA256, CKF_DIGEST},
      {CKM_SHA384, CKF_DIGEST},
      {CKM_SHA512, CKF_DIGEST},
  };
  return list;
}

CK_RV CheckInitialized() {
  Module& m = Module::Get();
  std::lock_guard lock(m.mu);
  return m.initialized ? CKR_OK : CKR_CRYPTOKI_NOT_INITIALIZED;
}

CK_RV LockSession(std::unique_lock<std::mutex>& lock, CK_SESSION_HANDLE h, Session** session) {
  Module& m = Module::Get();
  lock = std::unique_lock(m.mu);
  if (!m.initialized) return CKR_CRYPTOKI_NOT_INITIALIZED;
  *session = m.FindSession(h);
  return *session ? CKR_OK : CKR_SESSION_HANDLE_INVALID;
}

}  // namespace enclave::pkcs11

using namespace enclave::pkcs11;  // NOLINT(google-build-using-namespace): the C ABI lives here

extern "C" {

CK_RV C_Initialize(CK_VOID_PTR pInitArgs) {
  return Guard([&] {
    if (pInitArgs != nullptr) {
      const auto* args = static_cast<const CK_C_INITIALIZE_ARGS*>(pInitArgs);
      if (args->pReserved != nullptr) return CKR_ARGUMENTS_BAD;
      const int given = (args->CreateMutex != nullptr) + (args->DestroyMutex != nullptr) +
                        (args->LockMutex != nullptr) + (args->UnlockMutex != nullptr);
      if (given != 0 && given != 4) return CKR_ARGUMENTS_BAD;
      // We lock with the OS's primitives; an application that insists on its own cannot use us.
      if (given == 4 && (args->flags & CKF_OS_LOCKING_OK) == 0) return CKR_CANT_LOCK;
    }
    Module& m = Module::Get();
    std::lock_guard lock(m.mu);
    if (m.initialized && m.init_pid == ::getpid()) return CKR_CRYPTOKI_ALREADY_INITIALIZED;
    // A forked child initializing again starts from nothing: its parent's sessions are not its own.
    m.Reset();
    m.initialized = true;
    m.init_pid = ::getpid();
    return CKR_OK;
  });
}

CK_RV C_Finalize(CK_VOID_PTR pReserved) {
  return Guard([&] {
    if (pReserved != nullptr) return CKR_ARGUMENTS_BAD;
    Module& m = Module::Get();
    std::vector<std::string> session_keys;
    {
      std::lock_guard lock(m.mu);
      if (!m.initialized) return CKR_CRYPTOKI_NOT_INITIALIZED;
      m.Reset();
      m.initialized = false;
    }
    // Keys made with CKA_TOKEN false live in the daemon session, which ends with the connection.
    m.connection.Close();
    return CKR_OK;
  });
}

CK_RV C_GetInfo(CK_INFO_PTR pInfo) {
  return Guard([&] {
    if (CK_RV rv = CheckInitialized(); rv != CKR_OK) return rv;
    if (pInfo == nullptr) return CKR_ARGUMENTS_BAD;
    std::memset(pInfo, 0, sizeof *pInfo);
    pInfo->cryptokiVersion = {CRYPTOKI_VERSION_MAJOR, CRYPTOKI_VERSION_MINOR};
    Pad(pInfo->manufacturerID, sizeof pInfo->manufacturerID, "enclave");
    Pad(pInfo->libraryDescription, sizeof pInfo->libraryDescription, "enclave PKCS#11 module");
    pInfo->libraryVersion = {0, 1};
    return CKR_OK;
  });
}

CK_RV C_GetSlotList(CK_BBOOL /*tokenPresent*/, CK_SLOT_ID_PTR pSlotList, CK_ULONG_PTR pulCount) {
  return Guard([&] {
    if (CK_RV rv = CheckInitialized(); rv != CKR_OK) return rv;
    if (pulCount == nullptr) return CKR_ARGUMENTS_BAD;
    const auto state = Refresh();
    const auto slots = Slots(state ? &*state : nullptr);
    if (pSlotList == nullptr) {
      *pulCount = slots.size();
      return CKR_OK;
    }
    if (*pulCount < slots.size()) {
      *pulCount = slots.size();
      return CKR_BUFFER_TOO_SMALL;
    }
    std::copy(slots.begin(), slots.end(), pSlotList);
    *pulCount = slots.size();
    return CKR_OK;
  });
}

CK_RV C_GetSlotInfo(CK_SLOT_ID slotID, CK_SLOT_INFO_PTR pInfo) {
  return Guard([&] {
    if (CK_RV rv = CheckInitialized(); rv != CKR_OK) return rv;
    if (pInfo == nullptr) return CKR_ARGUMENTS_BAD;
    if (CK_RV rv = CheckSlot(slotID, slotID == kSoftSlot ? std::nullopt : Refresh()); rv != CKR_OK) return rv;
    std::memset(pInfo, 0, sizeof *pInfo);
    Pad(pInfo->slotDescription, sizeof pInfo->slotDescription,
        slotID == kTpmSlot ? "enclave TPM 2.0 token" : "enclave software token");
    Pad(pInfo->manufacturerID, sizeof pInfo->manufacturerID, "enclave");
    pInfo->flags = CKF_TOKEN_PRESENT | (slotID == kTpmSlot ? CKF_HW_SLOT : 0);
    pInfo->hardwareVersion = {0, 1};
    pInfo->firmwareVersion = {0, 1};
    return CKR_OK;
  });
}

CK_RV C_GetTokenInfo(CK_SLOT_ID slotID, CK_TOKEN_INFO_PTR pInfo) {
  return Guard([&] {
    if (CK_RV rv = CheckInitialized(); rv != CKR_OK) return rv;
    if (pInfo == nullptr) return CKR_ARGUMENTS_BAD;
    auto state = QueryTokenState(Module::Get().connection);
    if (!state.ok()) return ToCkr(state.error());
    if (CK_RV rv = CheckSlot(slotID, *state); rv != CKR_OK) return rv;
    Module& m = Module::Get();
    CK_ULONG sessions = 0, rw = 0;
    {
      std::lock_guard lock(m.mu);
      m.passcode_set = state->passcode_set;
      for (const auto& [h, s] : m.sessions) {
        if (s.slot != slotID) continue;
        ++sessions;
        rw += (s.flags & CKF_RW_SESSION) ? 1 : 0;
      }
    }
    std::memset(pInfo, 0, sizeof *pInfo);
    Pad(pInfo->label, sizeof pInfo->label, TokenLabel(slotID));
    Pad(pInfo->manufacturerID, sizeof pInfo->manufacturerID, "enclave");
    Pad(pInfo->model, sizeof pInfo->model, slotID == kTpmSlot ? "tpm2" : "soft");
    Pad(pInfo->serialNumber, sizeof pInfo->serialNumber, Serial(slotID));
    CK_FLAGS flags = CKF_TOKEN_INITIALIZED | CKF_RNG;
    if (state->passcode_set) {
      flags |= CKF_LOGIN_REQUIRED | CKF_USER_PIN_INITIALIZED;
      if (state->locked_out) flags |= CKF_USER_PIN_LOCKED;
      if (state->failed_attempts > 0) flags |= CKF_USER_PIN_COUNT_LOW;
      if (state->max_failed_attempts > 0 && state->failed_attempts == state->max_failed_attempts - 1) {
        flags |= CKF_USER_PIN_FINAL_TRY;
      }
    }
    pInfo->flags = flags;
    pInfo->ulMaxSessionCount = CK_EFFECTIVELY_INFINITE;
    pInfo->ulSessionCount = sessions;
    pInfo->ulMaxRwSessionCount = CK_EFFECTIVELY_INFINITE;
    pInfo->ulRwSessionCount = rw;
    pInfo->ulMaxPinLen = 1024;
    pInfo->ulMinPinLen = 1;
    pInfo->ulTotalPublicMemory = CK_UNAVAILABLE_INFORMATION;
    pInfo->ulFreePublicMemory = CK_UNAVAILABLE_INFORMATION;
    pInfo->ulTotalPrivateMemory = CK_UNAVAILABLE_INFORMATION;
    pInfo->ulFreePrivateMemory = CK_UNAVAILABLE_INFORMATION;
    pInfo->hardwareVersion = {0, 1};
    pInfo->firmwareVersion = {0, 1};
    return CKR_OK;
  });
}

CK_RV C_GetMechanismList(CK_SLOT_ID slotID, CK_MECHANISM_TYPE_PTR pMechanismList, CK_ULONG_PTR pulCount) {
  return Guard([&] {
    if (CK_RV rv = CheckInitialized(); rv != CKR_OK) return rv;
    if (pulCount == nullptr) return CKR_ARGUMENTS_BAD;
    if (slotID != kSoftSlot && slotID != kTpmSlot) return CKR_SLOT_ID_INVALID;
    const auto& list = Mechanisms();
    if (pMechanismList == nullptr) {
      *pulCount = list.size();
      return CKR_OK;
    }
    if (*pulCount < list.size()) {
      *pulCount = list.size();
      return CKR_BUFFER_TOO_SMALL;
    }
    for (size_t i = 0; i < list.size(); ++i) pMechanismList[i] = list[i].type;
    *pulCount = list.size();
    return CKR_OK;
  });
}

CK_RV C_GetMechanismInfo(CK_SLOT_ID slotID, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR pInfo) {
  return Guard([&] {
    if (CK_RV rv = CheckInitialized(); rv != CKR_OK) return rv;
    if (pInfo == nullptr) return CKR_ARGUMENTS_BAD;
    if (slotID != kSoftSlot && slotID != kTpmSlot) return CKR_SLOT_ID_INVALID;
    for (const auto& e : Mechanisms()) {
      if (e.type != type) continue;
      const bool digest = (e.flags & CKF_DIGEST) != 0;
      pInfo->ulMinKeySize = digest ? 0 : 256;
      pInfo->ulMaxKeySize = digest ? 0 : 256;
      pInfo->flags = e.flags;
      return CKR_OK;
    }
    return CKR_MECHANISM_INVALID;
  });
}

// Not offered: enclave keys are made by C_GenerateKeyPair only, never imported, copied, wrapped
// or used for anything but signing and key agreement; there is no security officer.
#define NOT_SUPPORTED(name, args) \
  CK_RV name args { return CKR_FUNCTION_NOT_SUPPORTED; }

NOT_SUPPORTED(C_InitToken, (CK_SLOT_ID, CK_UTF8CHAR_PTR, CK_ULONG, CK_UTF8CHAR_PTR))
NOT_SUPPORTED(C_InitPIN, (CK_SESSION_HANDLE, CK_UTF8CHAR_PTR, CK_ULONG))
NOT_SUPPORTED(C_GetOperationState, (CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG_PTR))
NOT_SUPPORTED(C_SetOperationState,
              (CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_OBJECT_HANDLE, CK_OBJECT_HANDLE))
NOT_SUPPORTED(C_CreateObject, (CK_SESSION_HANDLE, CK_ATTRIBUTE_PTR, CK_ULONG, CK_OBJECT_HANDLE_PTR))
NOT_SUPPORTED(C_CopyObject,
              (CK_SESSION_HANDLE, CK_OBJECT_HANDLE, CK_ATTRIBUTE_PTR, CK_ULONG, CK_OBJECT_HANDLE_PTR))
NOT_SUPPORTED(C_EncryptInit, (CK_SESSION_HANDLE, CK_MECHANISM_PTR, CK_OBJECT_HANDLE))
NOT_SUPPORTED(C_Encrypt, (CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR))
NOT_SUPPORTED(C_EncryptUpdate, (CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR))
NOT_SUPPORTED(C_EncryptFinal, (CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG_PTR))
NOT_SUPPORTED(C_DecryptInit, (CK_SESSION_HANDLE, CK_MECHANISM_PTR, CK_OBJECT_HANDLE))
NOT_SUPPORTED(C_Decrypt, (CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR))
NOT_SUPPORTED(C_DecryptUpdate, (CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR))
NOT_SUPPORTED(C_DecryptFinal, (CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG_PTR))
NOT_SUPPORTED(C_DigestKey, (CK_SESSION_HANDLE, CK_OBJECT_HANDLE))
NOT_SUPPORTED(C_SignRecoverInit, (CK_SESSION_HANDLE, CK_MECHANISM_PTR, CK_OBJECT_HANDLE))
NOT_SUPPORTED(C_SignRecover, (CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR))
NOT_SUPPORTED(C_VerifyRecoverInit, (CK_SESSION_HANDLE, CK_MECHANISM_PTR, CK_OBJECT_HANDLE))
NOT_SUPPORTED(C_VerifyRecover, (CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR))
NOT_SUPPORTED(C_DigestEncryptUpdate, (CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR))
NOT_SUPPORTED(C_DecryptDigestUpdate, (CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR))
NOT_SUPPORTED(C_SignEncryptUpdate, (CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR))
NOT_SUPPORTED(C_DecryptVerifyUpdate, (CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR))
NOT_SUPPORTED(C_GenerateKey,
              (CK_SESSION_HANDLE, CK_MECHANISM_PTR, CK_ATTRIBUTE_PTR, CK_ULONG, CK_OBJECT_HANDLE_PTR))
NOT_SUPPORTED(C_WrapKey, (CK_SESSION_HANDLE, CK_MECHANISM_PTR, CK_OBJECT_HANDLE, CK_OBJECT_HANDLE,
                          CK_BYTE_PTR, CK_ULONG_PTR))
NOT_SUPPORTED(C_UnwrapKey, (CK_SESSION_HANDLE, CK_MECHANISM_PTR, CK_OBJECT_HANDLE, CK_BYTE_PTR, CK_ULONG,
                            CK_ATTRIBUTE_PTR, CK_ULONG, CK_OBJECT_HANDLE_PTR))
NOT_SUPPORTED(C_WaitForSlotEvent, (CK_FLAGS, CK_SLOT_ID_PTR, CK_VOID_PTR))

#undef NOT_SUPPORTED

CK_RV C_GetFunctionStatus(CK_SESSION_HANDLE) { return CKR_FUNCTION_NOT_PARALLEL; }
CK_RV C_CancelFunction(CK_SESSION_HANDLE) { return CKR_FUNCTION_NOT_PARALLEL; }

namespace {

CK_FUNCTION_LIST* FunctionList() {
  static CK_FUNCTION_LIST list = [] {
    CK_FUNCTION_LIST f{};
    f.version = {CRYPTOKI_VERSION_MAJOR, CRYPTOKI_VERSION_MINOR};
#define SET(name) f.name = name
    SET(C_Initialize);
    SET(C_Finalize);
    SET(C_GetInfo);
    SET(C_GetFunctionList);
    SET(C_GetSlotList);
    SET(C_GetSlotInfo);
    SET(C_GetTokenInfo);
    SET(C_GetMechanismList);
    SET(C_GetMechanismInfo);
    SET(C_InitToken);
    SET(C_InitPIN);
    SET(C_SetPIN);
    SET(C_OpenSession);
    SET(C_CloseSession);
    SET(C_CloseAllSessions);
    SET(C_GetSessionInfo);
    SET(C_GetOperationState);
    SET(C_SetOperationState);
    SET(C_Login);
    SET(C_Logout);
    SET(C_CreateObject);
    SET(C_CopyObject);
    SET(C_DestroyObject);
    SET(C_GetObjectSize);
    SET(C_GetAttributeValue);
    SET(C_SetAttributeValue);
    SET(C_FindObjectsInit);
    SET(C_FindObjects);
    SET(C_FindObjectsFinal);
    SET(C_EncryptInit);
    SET(C_Encrypt);
    SET(C_EncryptUpdate);
    SET(C_EncryptFinal);
    SET(C_DecryptInit);
    SET(C_Decrypt);
    SET(C_DecryptUpdate);
    SET(C_DecryptFinal);
    SET(C_DigestInit);
    SET(C_Digest);
    SET(C_DigestUpdate);
    SET(C_DigestKey);
    SET(C_DigestFinal);
    SET(C_SignInit);
    SET(C_Sign);
    SET(C_SignUpdate);
    SET(C_SignFinal);
    SET(C_SignRecoverInit);
    SET(C_SignRecover);
    SET(C_VerifyInit);
    SET(C_Verify);
    SET(C_VerifyUpdate);
    SET(C_VerifyFinal);
    SET(C_VerifyRecoverInit);
    SET(C_VerifyRecover);
    SET(C_DigestEncryptUpdate);
    SET(C_DecryptDigestUpdate);
    SET(C_SignEncryptUpdate);
    SET(C_DecryptVerifyUpdate);
    SET(C_GenerateKey);
    SET(C_GenerateKeyPair);
    SET(C_WrapKey);
    SET(C_UnwrapKey);
    SET(C_DeriveKey);
    SET(C_SeedRandom);
    SET(C_GenerateRandom);
    SET(C_GetFunctionStatus);
    SET(C_CancelFunction);
    SET(C_WaitForSlotEvent);
#undef SET
    return f;
  }();
  return &list;
}

}  // namespace

__attribute__((visibility("default"))) CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ppFunctionList) {
  if (ppFunctionList == nullptr) return CKR_ARGUMENTS_BAD;
  *ppFunctionList = FunctionList();
  return CKR_OK;
}

__attribute__((visibility("default"))) CK_RV C_GetInterface(CK_UTF8CHAR_PTR pInterfaceName,
                                                            CK_VERSION_PTR pVersion,
                                                            CK_INTERFACE** ppInterface, CK_FLAGS flags) {
  static CK_UTF8CHAR name[] = "PKCS 11";
  static CK_INTERFACE iface = {name, FunctionList(), 0};
  if (ppInterface == nullptr) return CKR_ARGUMENTS_BAD;
  if (pInterfaceName != nullptr &&
      std::strcmp(reinterpret_cast<const char*>(pInterfaceName), "PKCS 11") != 0) {
    return CKR_ARGUMENTS_BAD;
  }
  if (pVersion != nullptr &&
      (pVersion->major != CRYPTOKI_VERSION_MAJOR || pVersion->minor != CRYPTOKI_VERSION_MINOR)) {
    return CKR_ARGUMENTS_BAD;
  }
  if ((flags & ~iface.flags) != 0) return CKR_ARGUMENTS_BAD;
  *ppInterface = &iface;
  return CKR_OK;
}

}  // extern "C"
