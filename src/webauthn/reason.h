// The reasons WebAuthn parsing and checks fail with: each is the Error's cause, short and stable, so
// the relying party can hand it to its callers unchanged (docs/rp.md lists them).
#pragma once

#include <string>
#include <string_view>

#include "common/error.h"

namespace enclave::webauthn {

inline constexpr char kMalformed[] = "malformed";
inline constexpr char kUnsupportedAlgorithm[] = "unsupported-algorithm";
inline constexpr char kSignatureInvalid[] = "signature-invalid";
inline constexpr char kAttestationUnsupported[] = "attestation-unsupported";
inline constexpr char kAttestationInvalid[] = "attestation-invalid";

// An OSStatus error (errSecDecode for malformed input, errSecVerifyFailed for signatures,
// errSecParam otherwise) whose cause is `reason`.
Error Fail(std::string_view reason, std::string message);

}  // namespace enclave::webauthn
