// The tpm2 token: P-256 keys generated in and held by a TPM 2.0, reached through tpm2-tss
// ESAPI with a configurable TCTI ("device:/dev/tpmrm0" by default; "swtpm:host=…,port=…" for
// a software TPM). Keys are children of the TCG ECC storage primary key, re-created on demand
// in the owner hierarchy; a key's token blob is its TPM public and private areas, usable only
// by the TPM that created it and only until that TPM is cleared.
#pragma once

#include <memory>

#include "common/result.h"
#include "token/token.h"
#include "token/tpm2/tpm2_attestation.h"

namespace enclave::token {

// Failure to reach the TPM: CryptoTokenKit -7, cause token-unavailable.
Result<std::unique_ptr<Token>> OpenTpm2Token(const TokenConfig& config);

namespace tpm2 {
class Tpm2Sealer;

// A TPM2_Certify statement for the key of `token_blob`, signed by the TPM's attestation key
// (a restricted P-256 primary in the endorsement hierarchy). `qualifying_data` (at most 64
// bytes) is the verifier's nonce; empty gives a statement without freshness. `token` must be
// a tpm2 token (otherwise errSecParam). Takes tens of milliseconds on a hardware TPM.
Result<Tpm2Attestation> AttestKeySlowly(Token& token, ByteView token_blob, ByteView qualifying_data = {});

// A sealer on the same TPM connection as `token`, sharing its loaded storage key (a TPM
// without a resource manager has only a few object slots for all its clients).
Result<std::unique_ptr<Tpm2Sealer>> OpenSealer(Token& token);

}  // namespace tpm2
}  // namespace enclave::token
