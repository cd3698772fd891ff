#include "keybag/attempts.h"

#include <algorithm>
#include <memory>
#include <string>
#include <utility>

#include "keybag/passcode.h"

namespace enclave::keybag::internal {

namespace {

// `counted` is the record before this attempt; the attempt is already on disk as one failure.
Error RecordFailure(KeybagRecord& record, const KeybagRecord& counted, const std::filesystem::path& file,
                    const KeybagOptions& options, int64_t now, const Error* hardware_refusal = nullptr) {
  record = counted;
  Error e = CountFailure(record, options, now, hardware_refusal);
  // The count itself is durable already; only a delay could be lost here.
  (void)SaveRecord(file, record);
  return e;
}

// An attempt that was not evaluated (the hardware refused before checking) does not count.
void Uncount(KeybagRecord& record, const KeybagRecord& counted, const std::filesystem::path& file) {
  record = counted;
  (void)SaveRecord(file, record);
}

}  // namespace

int64_t RetryAfterSeconds(const KeybagRecord& record, int64_t now) {
  return std::max<int64_t>(0, std::max(record.retry_after_unix, record.lockout_until_unix) - now);
}

bool LockedOut(const KeybagRecord& record, int64_t now) { return now < record.lockout_until_unix; }

Status AttemptsAllowed(const KeybagRecord& record, int64_t now) {
  const bool locked_out = LockedOut(record, now);
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

Result<SecureBytes> CheckPasscodeCounted(KeybagRecord& record, const std::filesystem::path& file,
                                         const KeybagOptions& options, ByteView device_secret,
                                         const SecureBytes& passcode, int64_t now) {
  RETURN_IF_ERROR(AttemptsAllowed(record, now));
  const KeybagRecord before = record;
  record.failed_attempts += 1;
  record.last_failure_unix = now;
  if (Status saved = SaveRecord(file, record); !saved.ok()) {
    record = before;
    Error e = saved.error();
    e.description = "the passcode was not checked because the attempt cannot be recorded: " + e.description;
    return e;
  }
  const StoredPasscode& stored = *before.passcode;
  auto stretched = Argon2idSlowly(passcode, stored.salt, stored.argon2);
  if (!stretched.ok()) {
    Uncount(record, before, file);
    return std::move(stretched).error();
  }
  SecureBytes entropy;
  if (!stored.sealed_entropy.empty()) {
    // The hardware checks the passcode first and counts a wrong one itself.
    auto unsealed = UnsealPasscodeEntropy(options.sealer.get(), *stretched, stored.sealed_entropy);
    if (!unsealed.ok()) {
      const std::string cause = unsealed.error().effective_cause();
      if (cause == "tpm-auth-failed")
        return RecordFailure(record, before, file, options, now, &unsealed.error());
      Uncount(record, before, file);
      if (cause == "tpm-lockout") {
        return HardwareLockout(options.sealer->name(), unsealed.error(), record.failed_attempts);
      }
      return std::move(unsealed).error();
    }
    entropy = std::move(unsealed).value();
  }
  SecureBytes key = PasscodeKey(device_secret, *stretched, entropy);
  if (!VerifierMatches(record, key)) return RecordFailure(record, before, file, options, now);
  KeybagRecord cleared = record;
  cleared.failed_attempts = 0;
  cleared.last_failure_unix = before.last_failure_unix;
  cleared.retry_after_unix = 0;
  cleared.lockout_until_unix = 0;
  std::swap(record, cleared);
  // Not written: the disk keeps one failure too many, which errs on the safe side; the right
  // passcode is still accepted.
  if (!SaveRecord(file, record).ok()) std::swap(record, cleared);
  return key;
}

}  // namespace enclave::keybag::internal
