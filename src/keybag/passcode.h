// The passcode's part of the keybag, private to it: deriving the passcode key (optionally bound
// to hardware through passcode entropy sealed under a passcode-derived auth) and the attempt
// policy (counting, delays, lockout).
#pragma once

#include <cstdint>

#include "common/bytes.h"
#include "common/result.h"
#include "keybag/keybag.h"
#include "keybag/record.h"

namespace enclave::keybag::internal {

// HKDF(device secret || stretched passcode || passcode entropy); `entropy` is empty when the
// passcode is bound in software only. `stretched` is Argon2id(passcode, salt).
SecureBytes PasscodeKey(ByteView device_secret, const SecureBytes& stretched, const SecureBytes& entropy);
Bytes PasscodeVerifier(const SecureBytes& passcode_key);

// New passcode entropy in `entropy`, sealed by `sealer` under the passcode's hardware auth.
// An empty blob (and entropy) when there is no sealer or it cannot check authorization values.
Result<Bytes> SealPasscodeEntropy(DeviceSecretSealer* sealer, const SecureBytes& stretched,
                                  SecureBytes* entropy);
// The sealer's refusal passes through unchanged (causes tpm-auth-failed, tpm-lockout, ...).
Result<SecureBytes> UnsealPasscodeEntropy(DeviceSecretSealer* sealer, const SecureBytes& stretched,
                                          ByteView sealed);

// Refuses without looking at the passcode while a delay or lockout runs, so that refused
// attempts are not counted.
Status AttemptsAllowed(const KeybagRecord& record, int64_t now);
// Counts a wrong passcode in `record` (the caller persists it); the error for the caller, with
// the hardware's refusal, if any, as the underlying error.
Error CountFailure(KeybagRecord& record, const KeybagOptions& options, int64_t now,
                   const Error* hardware_refusal = nullptr);
// The hardware refused to check the passcode (dictionary-attack lockout); not counted.
Error HardwareLockout(std::string_view sealer_name, const Error& refusal, int failed_attempts);

}  // namespace enclave::keybag::internal
