// The passcode's part of the keybag, private to it: deriving the passcode key (optionally bound
// to hardware through passcode entropy sealed under a passcode-derived auth) and checking it
// against the stored verifier. Counting the attempts is attempts.h's.
#pragma once

#include "common/bytes.h"
#include "common/result.h"
#include "keybag/keybag.h"
#include "keybag/record.h"

namespace enclave::keybag::internal {

// HKDF(device secret || stretched passcode || passcode entropy); `entropy` is empty when the
// passcode is bound in software only. `stretched` is Argon2id(passcode, salt).
SecureBytes PasscodeKey(ByteView device_secret, const SecureBytes& stretched, const SecureBytes& entropy);
Bytes PasscodeVerifier(const SecureBytes& passcode_key);
// Whether `record` has a passcode whose verifier `passcode_key` gives, in constant time.
bool VerifierMatches(const KeybagRecord& record, const SecureBytes& passcode_key);

// New passcode entropy in `entropy`, sealed by `sealer` under the passcode's hardware auth.
// An empty blob (and entropy) when there is no sealer or it cannot check authorization values.
Result<Bytes> SealPasscodeEntropy(DeviceSecretSealer* sealer, const SecureBytes& stretched,
                                  SecureBytes* entropy);
// The sealer's refusal passes through unchanged (causes tpm-auth-failed, tpm-lockout, ...).
Result<SecureBytes> UnsealPasscodeEntropy(DeviceSecretSealer* sealer, const SecureBytes& stretched,
                                          ByteView sealed);

}  // namespace enclave::keybag::internal
