// Access control for one key (SecAccessControl): which user authentication each private-key
// operation needs, and the biometric state it was bound to at creation. The serialised form is
// bound into the key blob's associated data, so editing it in the database breaks the key.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"

namespace enclave::auth {

// kSecAccessControl* flag values (SecAccessControl.h).
namespace flag {
inline constexpr uint32_t kUserPresence = 1u << 0;
inline constexpr uint32_t kBiometryAny = 1u << 1;
inline constexpr uint32_t kBiometryCurrentSet = 1u << 3;
inline constexpr uint32_t kDevicePasscode = 1u << 4;
inline constexpr uint32_t kOr = 1u << 14;
inline constexpr uint32_t kAnd = 1u << 15;
inline constexpr uint32_t kPrivateKeyUsage = 1u << 30;
inline constexpr uint32_t kApplicationPassword = 1u << 31;
}  // namespace flag

struct BiometryState;

struct AccessPolicy {
  uint32_t flags = 0;
  // Filled at creation for biometry flags: the biometric database identity, and for
  // biometry-current-set also the hash of the enrolled set.
  std::string biometry_database_id;
  std::string biometry_set_hash;
  // application-password: a salted hash of the app password (never the password).
  std::string application_password_hash;

  // CLI names: user-presence, biometry-any, biometry-current-set, device-passcode, or, and,
  // private-key-usage, application-password. Validated with the phone platform's rules
  // (errSecParam with a message saying which rule). `for_token_key` allows private-key-usage.
  static Result<AccessPolicy> FromNames(const std::vector<std::string>& names, bool for_token_key = true);
  std::vector<std::string> Names() const;
  bool needs_biometry() const { return (flags & (flag::kBiometryAny | flag::kBiometryCurrentSet)) != 0; }
  bool has_constraints() const;

  // Canonical JSON (stable key order) for storage and for the blob's associated data.
  std::string Serialize() const;
  static Result<AccessPolicy> Deserialize(std::string_view text);
  // SecAccessControl-like description: "aku;osgn(cbio(pbioc(…)));odel(true)" (ids only, no secrets).
  std::string Describe(std::string_view protection_code) const;

  // application-password: the stored form is "pbkdf2-sha256$<iterations>$<salt>$<hash>" (hex);
  // put HashApplicationPassword's result in application_password_hash at creation.
  static std::string HashApplicationPassword(ByteView password);
  // Constant-time comparison; false for a malformed stored hash.
  bool ApplicationPasswordMatches(ByteView password) const;
};

}  // namespace enclave::auth
