// Building blocks private to the keybag: key derivation, class-key wrapping and the kernel
// keyring stash that carries the unlock state across daemon restarts (not reboots).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "common/bytes.h"
#include "common/result.h"

namespace enclave::keybag::internal {

inline constexpr size_t kSecretBytes = 32;

// HKDF-SHA256 with an empty salt; out_len bytes.
SecureBytes HkdfSha256(ByteView ikm, std::string_view info, size_t out_len = kSecretBytes);

struct Argon2Params {
  uint32_t t_cost = 2;
  uint32_t m_cost_kib = 19 * 1024;
  uint32_t parallelism = 1;
};
// Argon2id(passcode, salt), 32 bytes. Takes tens of milliseconds by design.
Result<SecureBytes> Argon2idSlowly(ByteView passcode, ByteView salt, const Argon2Params& params);

// AES-256-GCM: iv (12) || ciphertext || tag (16). Unwrap gives nullopt when it does not authenticate.
Bytes WrapSecret(ByteView kek, ByteView aad, ByteView secret);
std::optional<SecureBytes> UnwrapSecret(ByteView kek, ByteView aad, ByteView wrapped);

// The passcode key stashed in the kernel's per-user keyring. The kernel drops it on reboot, so
// a restarted daemon can resume the unlock state while a rebooted machine starts locked.
class KeyringStash {
 public:
  explicit KeyringStash(const std::filesystem::path& keybag_dir);
  const std::string& description() const { return description_; }
  // Nullopt when absent or when the keyring cannot be used; `available()` tells which.
  std::optional<SecureBytes> Load();
  bool Store(ByteView passcode_key);
  void Revoke();
  bool available() const { return available_; }

 private:
  std::string description_;
  bool available_ = true;
};

}  // namespace enclave::keybag::internal
