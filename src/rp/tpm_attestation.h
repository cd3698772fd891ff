// A registration's TPM attestation (the enclave-tpm extension, docs/rp.md "TPM attestation"):
// the TPM's attestation key certified the credential key as one it holds, for this ceremony.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>

#include "common/result.h"
#include "webauthn/authenticator_data.h"

namespace enclave::rp {

struct TpmAttestationResult {
  // SHA-256 of the attestation key's X9.63 point: the same for every key certified by one TPM
  // (its endorsement hierarchy), so it tells registrations from one TPM apart from others.
  std::array<uint8_t, 32> attestation_key_sha256{};
};

// nullopt when `data` has no enclave-tpm extension. When it has one, the statement must be a
// TPM2_Certify by a restricted signing key of exactly the attested credential's key, whose
// extraData is webauthn::TpmCertifyNonce for this rp id hash, client data hash and credential id;
// otherwise `attestation-invalid` (or `malformed` when the extension does not parse).
Result<std::optional<TpmAttestationResult>> VerifyTpmAttestation(
    const webauthn::AuthenticatorData& data, std::span<const uint8_t, 32> client_data_hash);

}  // namespace enclave::rp
