// keybag.json: what the keybag persists. Class keys appear only wrapped; the passcode only as a
// verifier derived from the passcode key (which needs the device secret), so nothing in this file
// is useful without the device.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "common/bytes.h"
#include "common/result.h"
#include "keybag/keybag.h"
#include "keybag/primitives.h"

namespace enclave::keybag::internal {

inline constexpr int kRecordFormat = 1;
inline constexpr char kRecordFile[] = "keybag.json";
inline constexpr char kDeviceSecretFile[] = "device.secret";
inline constexpr char kSealedDeviceSecretFile[] = "device.secret.sealed";

enum class WrappedBy { kDevice, kPasscode };

struct StoredClassKey {
  WrappedBy wrapped_by = WrappedBy::kDevice;
  Bytes wrapped;  // iv || ciphertext || tag, AAD = the class code
};

struct StoredPasscode {
  Bytes salt;
  Argon2Params argon2;
  Bytes verifier;  // HKDF(passcode key, "enclave passcode verifier")
  // The passcode entropy, sealed by the DeviceSecretSealer under an auth derived from the
  // passcode; empty when the passcode is bound in software only.
  Bytes sealed_entropy;
};

struct KeybagRecord {
  std::optional<StoredPasscode> passcode;
  std::map<std::string, StoredClassKey> class_keys;  // by platform code ("ak", ...)
  int failed_attempts = 0;
  int64_t last_failure_unix = 0;
  int64_t retry_after_unix = 0;  // no passcode attempt before this time
  int64_t lockout_until_unix = 0;
  bool locked = false;
};

// A record that does not parse is reported as every class key lost (AKS bad device key).
Result<KeybagRecord> LoadRecord(const std::filesystem::path& file);
Status SaveRecord(const std::filesystem::path& file, const KeybagRecord& record);
// The file's contents, parsed (fuzzed: keybag/fuzz/) and produced.
Result<KeybagRecord> ParseRecord(ByteView text);
std::string SerializeRecord(const KeybagRecord& record);

struct DeviceSecret {
  SecureBytes secret;
  std::string protection;  // "file" or the sealer's name
};
// Reads the device secret of `dir`, creating it when the keybag is new. A keybag whose secret is
// missing or cannot be unsealed is reported as lost (AKS bad device key), never silently replaced.
Result<DeviceSecret> LoadOrCreateDeviceSecret(const std::filesystem::path& dir, DeviceSecretSealer* sealer,
                                              bool keybag_exists);

}  // namespace enclave::keybag::internal
