// The PKCS#11 module's state: slots, sessions and object handles over the enclave's key items.
// The module is a thin client of enclaved: it keeps attributes it was told (public keys, labels)
// and never any key material; every private-key operation is a request to the daemon.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"
#include "pkcs11/connection.h"
#include "pkcs11/p11.h"
#include "service/api.h"

namespace enclave::pkcs11 {

constexpr CK_SLOT_ID kSoftSlot = 0;
constexpr CK_SLOT_ID kTpmSlot = 1;
constexpr CK_ULONG kSignatureBytes = 64;  // P-256 r||s

std::string SlotToken(CK_SLOT_ID slot);   // "soft" | "tpm2"
std::string TokenLabel(CK_SLOT_ID slot);  // "enclave" | "enclave-tpm2"

enum class ObjectKind { kPrivateKey, kPublicKey, kSecretKey };

// A derived ECDH secret: a session object of this process (the shared secret is the output of
// the key agreement, so holding it here gives away nothing of the enclave key).
struct SecretKey {
  SecureBytes value;
  CK_KEY_TYPE key_type = CKK_GENERIC_SECRET;
  std::string label;
  Bytes id;
  std::map<CK_ATTRIBUTE_TYPE, bool> flags;  // CKA_SENSITIVE, CKA_EXTRACTABLE, CKA_ENCRYPT, ...
  bool Flag(CK_ATTRIBUTE_TYPE t, bool fallback) const {
    auto it = flags.find(t);
    return it == flags.end() ? fallback : it->second;
  }
};

struct Object {
  ObjectKind kind = ObjectKind::kPublicKey;
  CK_SLOT_ID slot = kSoftSlot;
  std::string kid;                    // key objects: the enclave item
  std::shared_ptr<SecretKey> secret;  // secret keys
  CK_SESSION_HANDLE owner = 0;        // session objects: the session that made them
  // Destroying one half of a key pair deletes the item; destroying the other half afterwards
  // succeeds (pkcs11-tool --test-ec destroys both).
  bool destroyed = false;
};

struct Operation {
  bool active = false;
  CK_MECHANISM_TYPE mechanism = 0;
  CK_OBJECT_HANDLE key = 0;
  bool multipart = false;
  Bytes data;  // message (hashed at the end) or, for CKM_ECDSA, the digest
};

struct Session {
  CK_SLOT_ID slot = kSoftSlot;
  CK_FLAGS flags = 0;
  Operation sign, verify, digest;
  bool finding = false;
  std::vector<CK_OBJECT_HANDLE> found;
  size_t next_found = 0;
};

// The enclave's state as the token info shows it.
struct TokenState {
  bool passcode_set = false;
  bool locked_out = false;
  int failed_attempts = 0;
  int max_failed_attempts = 0;
  bool tpm_configured = false;
};

class Module {
 public:
  static Module& Get();

  // Guards everything below. Never held across a daemon request: a prompt may take minutes.
  std::mutex mu;
  bool initialized = false;
  pid_t init_pid = 0;
  std::map<CK_SESSION_HANDLE, Session> sessions;
  CK_SESSION_HANDLE next_session = 1;
  std::map<CK_OBJECT_HANDLE, Object> objects;
  CK_OBJECT_HANDLE next_object = 1;
  std::map<std::pair<std::string, ObjectKind>, CK_OBJECT_HANDLE> key_handles;
  std::map<std::string, KeyInfo> keys;  // by kid: what the daemon last said
  std::set<CK_SLOT_ID> logged_in;
  bool passcode_set = false;  // as of the last token query
  Connection connection;

  // Called with mu held.
  Session* FindSession(CK_SESSION_HANDLE h);
  Object* FindObject(CK_OBJECT_HANDLE h);  // nullptr for unknown or destroyed handles
  const KeyInfo* KeyOf(const Object& o) const;
  CK_OBJECT_HANDLE HandleFor(const std::string& kid, ObjectKind kind, CK_SLOT_ID slot);
  // Replaces the cached items of `slot` with `fresh`; handles of items that are gone are dropped.
  void UpdateKeys(CK_SLOT_ID slot, const std::vector<KeyInfo>& fresh);
  void Remember(const KeyInfo& key, CK_SLOT_ID slot, CK_SESSION_HANDLE owner);
  void ForgetKey(const std::string& kid);
  bool IsLoggedIn(CK_SLOT_ID slot) const { return logged_in.count(slot) > 0; }
  void Reset();
};

// Token facts from the daemon's status report (without mu held).
Result<TokenState> QueryTokenState(Connection& connection);

// "pkcs11-tool (pid 1234) wants to sign with “label”" for the prompt the enclave shows.
std::string OperationPrompt(const std::string& verb, const KeyInfo& key);

}  // namespace enclave::pkcs11
