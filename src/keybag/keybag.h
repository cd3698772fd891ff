// The keybag: a device secret, an optional passcode, and one class key per protection class,
// bound to lock state. Everything the keychain stores is sealed (AES-256-GCM) under a class key.
// It speaks the keystore's language: failures are AKS-domain errors (kAKSReturn… numbers) with
// cause ids, which the layers above wrap.
//
// Hierarchy: device secret (file 0600, or sealed by a DeviceSecretSealer such as the TPM)
//   -> passcode key = HKDF(device secret || Argon2id(passcode, salt) [|| passcode entropy])
//      (guessing needs this device; with a sealer that checks authorization values, the passcode
//      entropy is sealed under an auth derived from the passcode, so every guess goes through
//      the hardware and counts toward its dictionary-attack lockout)
//     -> class keys (each wrapped by the passcode key, or by the device secret when no passcode)
//       -> sealed blobs (key material, with the caller's associated data bound in).
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"

namespace enclave::keybag {

// Accessibility classes and their phone-platform codes (pdmn).
enum class ProtectionClass {
  kWhenUnlocked,                    // ak
  kAfterFirstUnlock,                // ck
  kAlways,                          // dk
  kWhenUnlockedThisDeviceOnly,      // aku
  kAfterFirstUnlockThisDeviceOnly,  // cku
  kAlwaysThisDeviceOnly,            // dku
  kWhenPasscodeSetThisDeviceOnly,   // akpu
};
const std::vector<ProtectionClass>& AllProtectionClasses();
// CLI names: "when-unlocked", "after-first-unlock", "always", "when-unlocked-this-device-only",
// "after-first-unlock-this-device-only", "always-this-device-only",
// "when-passcode-set-this-device-only". Unknown: errSecParam listing the names.
Result<ProtectionClass> ParseAccessible(std::string_view name);
std::string AccessibleName(ProtectionClass c);
std::string PlatformCode(ProtectionClass c);  // "ak", "aku", "akpu", ...

// Seals the device secret with hardware (the TPM). Optional; without one the secret is a file.
class DeviceSecretSealer {
 public:
  virtual ~DeviceSecretSealer() = default;
  virtual std::string_view name() const = 0;
  virtual Result<Bytes> Seal(ByteView secret) = 0;
  virtual Result<SecureBytes> Unseal(ByteView sealed) = 0;

  // Sealing under an authorization value that the hardware checks itself, counting wrong values
  // toward its dictionary-attack lockout. Unseal with a wrong `auth`: an error with cause
  // tpm-auth-failed; refused while the hardware is locked out: cause tpm-lockout (with
  // user_info.retry_after_seconds when known). Sealers that cannot do this answer
  // errSecUnimplemented, and the keybag then binds the passcode in software only.
  virtual Result<Bytes> SealWithAuth(ByteView secret, ByteView auth) {
    (void)secret;
    (void)auth;
    return OSStatusError(errsec::kUnimplemented,
                         std::string(name()) + " cannot seal under an authorization value")
        .WithCause("unimplemented");
  }
  virtual Result<SecureBytes> UnsealWithAuth(ByteView sealed, ByteView auth) {
    (void)sealed;
    (void)auth;
    return OSStatusError(errsec::kUnimplemented,
                         std::string(name()) + " cannot seal under an authorization value")
        .WithCause("unimplemented");
  }
};

struct KeybagOptions {
  int max_failed_attempts = 10;
  // Delay imposed after the Nth consecutive failure (index N-1); the last entry repeats.
  std::vector<std::chrono::seconds> failure_delays = {
      std::chrono::seconds(0),   std::chrono::seconds(0),   std::chrono::seconds(0),
      std::chrono::seconds(0),   std::chrono::seconds(60),  std::chrono::seconds(300),
      std::chrono::seconds(900), std::chrono::seconds(900), std::chrono::seconds(3600)};
  std::chrono::seconds lockout_duration = std::chrono::hours(24);
  std::shared_ptr<DeviceSecretSealer> sealer;  // null: device secret in a 0600 file
  // Identifies this keybag's unlock state in the kernel user keyring across daemon restarts.
  bool use_kernel_keyring = true;
};

struct KeybagState {
  bool passcode_set = false;
  bool locked = false;            // when-unlocked classes unavailable
  bool first_unlock_done = true;  // after-first-unlock classes available
  int failed_attempts = 0;
  int64_t retry_after_seconds = 0;  // >0: unlock refused until then
  bool locked_out = false;
  std::string device_secret_protection;  // "file" or the sealer's name
};

class Keybag {
 public:
  virtual ~Keybag() = default;
  // Opens the keybag in `dir`, creating the device secret and class keys on first use.
  static Result<std::unique_ptr<Keybag>> Open(const std::filesystem::path& dir, KeybagOptions options);
  // Starts over after the device secret was lost (e.g. the sealing token cannot unseal it): moves
  // the old files aside (suffix ".broken-<unix time>") and creates a new keybag. Every blob sealed
  // under the old keybag stays unrecoverable. Only the service calls this, on an explicit decision.
  static Result<std::unique_ptr<Keybag>> Recreate(const std::filesystem::path& dir, KeybagOptions options);

  // Errors: AKS kNoPermission (cause device-locked / before-first-unlock) when the class is
  // unavailable; AKS kError (cause key-blob-corrupt) when the blob or aad do not authenticate;
  // AKS kBadDeviceKey (cause class-key-lost) when the class key is gone or damaged.
  virtual Result<Bytes> Seal(ProtectionClass c, ByteView plaintext, ByteView aad) = 0;
  virtual Result<SecureBytes> Unseal(ProtectionClass c, ByteView sealed, ByteView aad) = 0;
  virtual Status CheckClassAvailable(ProtectionClass c) const = 0;

  virtual KeybagState State() const = 0;
  virtual void Lock() = 0;
  // Wrong passcode: LocalAuthentication -1 (cause authentication-failed) with
  // user_info.failed_attempts; while delayed or locked out: OSStatus -25293 with cause
  // passcode-attempts-exceeded and user_info.retry_after_seconds. Attempts persist on disk.
  // With a hardware-bound passcode the hardware refuses a wrong one first (same error, its
  // refusal as the underlying error); while the hardware is in dictionary-attack lockout:
  // OSStatus -25293, cause tpm-lockout (retry_after_seconds when the hardware tells), not counted.
  virtual Status Unlock(const SecureBytes& passcode) = 0;
  // Checks the passcode (for device-passcode access control) with the same attempt counting.
  virtual Status VerifyPasscode(const SecureBytes& passcode) = 0;
  // Setting requires the old passcode when one is set. Errors as Unlock.
  virtual Status SetPasscode(const std::optional<SecureBytes>& old_passcode,
                             const SecureBytes& new_passcode) = 0;
  // Destroys the when-passcode-set class key: every akpu blob becomes unrecoverable.
  virtual Status RemovePasscode(const SecureBytes& current_passcode) = 0;

  // Changes the attempt limit and lockout for the attempts that follow (configuration changed).
  virtual void SetAttemptPolicy(int max_failed_attempts, std::chrono::seconds lockout_duration) = 0;

  // Diagnostics without secrets: classes, availability, protection of the device secret.
  virtual nlohmann::json Describe() const = 0;

  // Fault injection (enclave debug inject): damages the stored class key of `c`.
  virtual Status CorruptClassKeyForTesting(ProtectionClass c) = 0;
  // Fault injection: removes the passcode without knowing it, with exactly the effects of
  // RemovePasscode. Needs the class keys in memory: while locked or before the first unlock,
  // errSecInteractionNotAllowed (-25308); without a passcode, LocalAuthentication -5.
  virtual Status ForgetPasscodeForTesting() = 0;
};

}  // namespace enclave::keybag
