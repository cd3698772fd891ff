// enclave's TPM key attestation (docs/rp.md, "TPM attestation"): an authenticator extension
// "enclave-tpm" in a registration's authenticator data, beside "enclave-device", carrying a
// TPM2_Certify of the new credential key by the TPM's attestation key (AK). Only keys of the tpm2
// token carry it. This file is the format; the TPM structures inside are checked by
// token/tpm2/tpm2_attestation.h, which needs no TPM.
//
// Why an extension and not WebAuthn's `tpm` statement format: `tpm` requires an AIK certificate
// chain (x5c) from a TPM manufacturer or privacy CA, which a Linux host does not have, and
// replacing packed self attestation would lose every verifier that handles packed today.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "common/result.h"
#include "webauthn/authenticator_data.h"

namespace enclave::webauthn {

inline constexpr char kTpmExtension[] = "enclave-tpm";

// The extension's value: the CBOR map {1: TPMS_ATTEST as the TPM signed it (bytes), 2: DER ECDSA
// signature by the AK over SHA-256 of field 1 (bytes), 3: the AK's TPMT_PUBLIC (bytes)}.
struct TpmCertify {
  std::vector<uint8_t> certify_info;
  std::vector<uint8_t> signature;
  std::vector<uint8_t> attestation_key_public_area;
};

std::vector<uint8_t> EncodeTpmCertify(const TpmCertify& certify);
// Exactly the three keys, each a byte string of 1..kMaxTpmFieldBytes; reason `malformed`.
inline constexpr size_t kMaxTpmFieldBytes = 1024;
Result<TpmCertify> ParseTpmCertify(std::span<const uint8_t> cbor);

// The extension in `data`'s extensions: nullopt without it; an error when it does not parse.
Result<std::optional<TpmCertify>> FindTpmCertify(const AuthenticatorData& data);

// What the TPM must echo as the statement's extraData (TPM2_Certify's qualifyingData):
// SHA-256("enclave-tpm-certify-v1" 0x00 ‖ rp_id_hash ‖ client_data_hash ‖ u16be len ‖
// credential_id). The client data hash carries the server's challenge, so a statement cannot be
// replayed into another ceremony, and the credential id names the key it is for.
Result<std::array<uint8_t, 32>> TpmCertifyNonce(std::span<const uint8_t, 32> rp_id_hash,
                                                std::span<const uint8_t, 32> client_data_hash,
                                                std::span<const uint8_t> credential_id);

}  // namespace enclave::webauthn
