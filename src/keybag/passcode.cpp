#include "keybag/passcode.h"

#include <algorithm>
#include <memory>
#include <string>

#include "crypto/ec.h"
#include "keybag/primitives.h"

namespace enclave::keybag::internal {

namespace {
constexpr char kPasscodeKeyInfo[] = "enclave passcode key";
constexpr char kVerifierInfo[] = "enclave passcode verifier";
constexpr char kHardwareAuthInfo[] = "enclave tpm passcode auth";

// The authorization value the hardware checks: an independent HKDF output, so it reveals
// nothing about the passcode key.
SecureBytes HardwareAuth(const SecureBytes& stretched) {
  return HkdfSha256(stretched, kHardwareAuthInfo, kSecretBytes);
}
}  // namespace

SecureBytes PasscodeKey(ByteView device_secret, const SecureBytes& stretched, const SecureBytes& entropy) {
  SecureBytes ikm(device_secret.size() + stretched.size() + entropy.size());
  uint8_t* out = std::copy(device_secret.begin(), device_secret.end(), ikm.data());
  out = std::copy(stretched.data(), stretched.data() + stretched.size(), out);
  std::copy(entropy.data(), entropy.data() + entropy.size(), out);
  return HkdfSha256(ikm, kPasscodeKeyInfo);
}

Bytes PasscodeVerifier(const SecureBytes& passcode_key) {
  SecureBytes v = HkdfSha256(passcode_key, kVerifierInfo);
  return Bytes(v.data(), v.data() + v.size());
}

Result<Bytes> SealPasscodeEntropy(DeviceSecretSealer* sealer, const SecureBytes& stretched,
                                  SecureBytes* entropy) {
  entropy->clear();
  if (sealer == nullptr) return Bytes{};
  SecureBytes fresh = crypto::RandomSecret(kSecretBytes);
  auto sealed = sealer->SealWithAuth(fresh, HardwareAuth(stretched));
  if (!sealed.ok()) {
    const Error& e = sealed.error();
    if (e.domain == domain::kOSStatus && e.code == errsec::kUnimplemented) return Bytes{};
    return e.Wrap(domain::kAKS, aks::kError, "cannot bind the passcode to " + std::string(sealer->name()));
  }
  *entropy = std::move(fresh);
  return std::move(sealed).value();
}

Result<SecureBytes> UnsealPasscodeEntropy(DeviceSecretSealer* sealer, const SecureBytes& stretched,
                                          ByteView sealed) {
  if (sealer == nullptr) {
    return KeystoreError(aks::kError, "the passcode is bound to a sealing token that is not configured")
        .WithCause("token-unavailable");
  }
  ASSIGN_OR_RETURN(SecureBytes entropy, sealer->UnsealWithAuth(sealed, HardwareAuth(stretched)));
  if (entropy.size() != kSecretBytes) {
    return KeystoreError(aks::kBadDeviceKey, "the sealed passcode entropy has the wrong size")
        .WithCause("class-key-lost");
  }
  return entropy;
}

Status AttemptsAllowed(const KeybagRecord& record, int64_t now) {
  const bool locked_out = now < record.lockout_until_unix;
  const int64_t until = std::max(record.retry_after_unix, record.lockout_until_unix);
  if (now >= until) return Ok();
  Error e =
      OSStatusError(errsec::kAuthFailed, locked_out ? "too many wrong passcodes: passcode entry is locked out"
                                                    : "too many wrong passcodes: try again later")
          .WithCause("passcode-attempts-exceeded")
          .WithInfo("retry_after_seconds", until - now)
          .WithInfo("failed_attempts", record.failed_attempts);
  if (locked_out) e.user_info["locked_out"] = true;
  return e;
}

Error CountFailure(KeybagRecord& record, const KeybagOptions& options, int64_t now,
                   const Error* hardware_refusal) {
  record.failed_attempts += 1;
  record.last_failure_unix = now;
  int64_t delay = 0;
  if (!options.failure_delays.empty()) {
    size_t i = std::min(static_cast<size_t>(record.failed_attempts - 1), options.failure_delays.size() - 1);
    delay = options.failure_delays[i].count();
  }
  record.retry_after_unix = now + delay;
  if (record.failed_attempts >= options.max_failed_attempts) {
    record.lockout_until_unix = now + options.lockout_duration.count();
  }
  const int remaining = std::max(0, options.max_failed_attempts - record.failed_attempts);
  Error e = AuthError(laerror::kAuthenticationFailed, "wrong passcode")
                .WithCause("authentication-failed")
                .WithInfo("failed_attempts", record.failed_attempts)
                .WithInfo("attempts_remaining", remaining);
  const int64_t wait = std::max(record.retry_after_unix, record.lockout_until_unix) - now;
  if (wait > 0) e.user_info["retry_after_seconds"] = wait;
  if (hardware_refusal != nullptr) e.underlying = std::make_shared<const Error>(*hardware_refusal);
  return e;
}

Error HardwareLockout(std::string_view sealer_name, const Error& refusal, int failed_attempts) {
  Error e = OSStatusError(errsec::kAuthFailed,
                          "the sealing token (" + std::string(sealer_name) +
                              ") is in dictionary-attack lockout: passcode attempts are refused")
                .WithCause("tpm-lockout")
                .WithInfo("failed_attempts", failed_attempts);
  for (const Error* x = &refusal; x != nullptr; x = x->underlying.get()) {
    if (x->user_info.contains("retry_after_seconds")) {
      e.user_info["retry_after_seconds"] = x->user_info["retry_after_seconds"];
      break;
    }
  }
  e.underlying = std::make_shared<const Error>(refusal);
  return e;
}

}  // namespace enclave::keybag::internal
