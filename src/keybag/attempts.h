// Passcode attempts, private to the keybag: each guess is counted on disk before it is checked,
// and the attempt policy (delays after consecutive failures, lockout at the limit) decides when
// the next one is taken.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string_view>

#include "common/bytes.h"
#include "common/result.h"
#include "keybag/keybag.h"
#include "keybag/record.h"

namespace enclave::keybag::internal {

// Seconds until the next attempt is taken (0: now), and whether that wait is the lockout.
int64_t RetryAfterSeconds(const KeybagRecord& record, int64_t now);
bool LockedOut(const KeybagRecord& record, int64_t now);

// Refuses without looking at the passcode while a delay or lockout runs, so that refused
// attempts are not counted.
Status AttemptsAllowed(const KeybagRecord& record, int64_t now);
// Counts a wrong passcode in `record` (the caller persists it); the error for the caller, with
// the hardware's refusal, if any, as the underlying error.
Error CountFailure(KeybagRecord& record, const KeybagOptions& options, int64_t now,
                   const Error* hardware_refusal = nullptr);
// The hardware refused to check the passcode (dictionary-attack lockout); not counted.
Error HardwareLockout(std::string_view sealer_name, const Error& refusal, int failed_attempts);

// Verifies `passcode` against the passcode in `record`, which is saved to `file` as the attempt
// goes; on success, the passcode key. The attempt is written as a failure before the passcode
// is checked: a guess whose count cannot be made durable is refused unchecked, and a crash
// during the check leaves it counted. `record` must have a passcode.
Result<SecureBytes> CheckPasscodeCounted(KeybagRecord& record, const std::filesystem::path& file,
                                         const KeybagOptions& options, ByteView device_secret,
                                         const SecureBytes& passcode, int64_t now);

}  // namespace enclave::keybag::internal
