#include "pkcs11/errors.h"

namespace enclave::pkcs11 {

#define ROW(cause, rv) \
  { cause, rv, #rv }

const std::vector<CauseMapping>& ErrorTable() {
  // Why these: a locked class key is what C_Login fixes (CKR_USER_NOT_LOGGED_IN); a key whose
  // access control or blob can never work again refuses every use the same way, without a
  // prompt (CKR_KEY_FUNCTION_NOT_PERMITTED); a missing prompt path or biometry is the user's
  // refusal to authorize (CKR_FUNCTION_REJECTED); a daemon that went away is a removed device.
  static const std::vector<CauseMapping> table = {
      ROW("device-locked", CKR_USER_NOT_LOGGED_IN),
      ROW("before-first-unlock", CKR_USER_NOT_LOGGED_IN),
      ROW("upgrade-pending", CKR_USER_NOT_LOGGED_IN),
      ROW("user-canceled", CKR_FUNCTION_CANCELED),
      ROW("authentication-failed", CKR_PIN_INCORRECT),
      ROW("passcode-attempts-exceeded", CKR_PIN_LOCKED),
      ROW("tpm-lockout", CKR_PIN_LOCKED),
      ROW("passcode-not-set", CKR_USER_PIN_NOT_INITIALIZED),
      ROW("biometry-not-enrolled", CKR_FUNCTION_REJECTED),
      ROW("biometry-not-available", CKR_FUNCTION_REJECTED),
      ROW("biometry-lockout", CKR_FUNCTION_REJECTED),
      ROW("interaction-not-allowed", CKR_FUNCTION_REJECTED),
      ROW("authentication-needed", CKR_FUNCTION_REJECTED),
      ROW("companion-not-available", CKR_FUNCTION_REJECTED),
      ROW("tpm-auth-failed", CKR_FUNCTION_REJECTED),
      ROW("biometry-database-reset", CKR_KEY_FUNCTION_NOT_PERMITTED),
      ROW("biometry-set-changed", CKR_KEY_FUNCTION_NOT_PERMITTED),
      ROW("passcode-removed", CKR_KEY_FUNCTION_NOT_PERMITTED),
      ROW("class-key-lost", CKR_KEY_FUNCTION_NOT_PERMITTED),
      ROW("key-blob-corrupt", CKR_KEY_FUNCTION_NOT_PERMITTED),
      ROW("key-blob-missing", CKR_KEY_FUNCTION_NOT_PERMITTED),
      ROW("tpm-cleared", CKR_KEY_FUNCTION_NOT_PERMITTED),
      ROW("token-unavailable", CKR_TOKEN_NOT_PRESENT),
      ROW("tpm-not-configured", CKR_TOKEN_NOT_PRESENT),
      ROW("daemon-unavailable", CKR_DEVICE_REMOVED),
      ROW("socket-path-too-long", CKR_DEVICE_ERROR),
      ROW("home-unusable", CKR_DEVICE_ERROR),
      ROW("permission-denied", CKR_DEVICE_ERROR),
      ROW("protocol-error", CKR_DEVICE_ERROR),
      ROW("missing-entitlement", CKR_DEVICE_ERROR),
      ROW("database-corrupt", CKR_DEVICE_ERROR),
      ROW("database-io", CKR_DEVICE_ERROR),
      ROW("database-schema-newer", CKR_DEVICE_ERROR),
      ROW("tpm-failure", CKR_DEVICE_ERROR),
      ROW("keystore-busy", CKR_DEVICE_ERROR),
      ROW("disk-full", CKR_DEVICE_MEMORY),
      ROW("tpm-object-memory", CKR_DEVICE_MEMORY),
      ROW("read-only", CKR_TOKEN_WRITE_PROTECTED),
      ROW("item-not-found", CKR_KEY_HANDLE_INVALID),
      ROW("duplicate-item", CKR_ATTRIBUTE_VALUE_INVALID),
      ROW("bad-parameter", CKR_ARGUMENTS_BAD),
      ROW("input-too-large", CKR_DATA_LEN_RANGE),
      ROW("unsupported-algorithm", CKR_MECHANISM_INVALID),
      ROW("unimplemented", CKR_FUNCTION_NOT_SUPPORTED),
      ROW("debug-disabled", CKR_FUNCTION_NOT_SUPPORTED),
      ROW("verify-failed", CKR_SIGNATURE_INVALID),
      ROW("decrypt-failed", CKR_ENCRYPTED_DATA_INVALID),
      ROW("rotation-statement-invalid", CKR_SIGNATURE_INVALID),
      ROW("attestation-invalid", CKR_SIGNATURE_INVALID),
      ROW("internal", CKR_FUNCTION_FAILED),
      ROW("unknown", CKR_FUNCTION_FAILED),
  };
  return table;
}

#undef ROW

CK_RV ToCkr(const Error& e) {
  const std::string cause = e.effective_cause();
  for (const auto& row : ErrorTable()) {
    if (cause == row.cause) return row.rv;
  }
  return CKR_FUNCTION_FAILED;
}

}  // namespace enclave::pkcs11
