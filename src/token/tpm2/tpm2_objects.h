// TPM object templates and blob encodings shared by the token and by attestation checks.
// Only TSS marshalling (libtss2-mu) and OpenSSL: nothing here talks to a TPM.
#pragma once

#include <tss2/tss2_tpm2_types.h>

#include "common/bytes.h"
#include "common/result.h"

namespace enclave::token::tpm2 {

// The storage primary key: the TCG provisioning guidance's ECC SRK template (NIST P-256,
// restricted decrypt, AES-128-CFB, empty unique). CreatePrimary over it in the owner
// hierarchy yields the same key every time until the TPM is cleared.
TPM2B_PUBLIC SrkTemplate();

// A token key: unrestricted P-256 sign + decrypt with scheme NULL (so the same key does
// ECDSA and ECDH), fixedTPM|fixedParent|sensitiveDataOrigin|userWithAuth: never duplicable.
TPMT_PUBLIC KeyTemplate();

// The attestation key: a restricted P-256 ECDSA-SHA256 signing primary, so the TPM only
// signs structures it produced itself (TPMS_ATTEST starting with TPM_GENERATED_VALUE).
TPMT_PUBLIC AttestationKeyTemplate();

// A sealed data object (keyedhash, scheme NULL) holding caller-supplied bytes.
TPMT_PUBLIC SealedDataTemplate();

// The public and private areas TPM2_Create returned; what LoadKey and Unseal take back.
struct ObjectBlob {
  TPM2B_PUBLIC public_area{};
  TPM2B_PRIVATE private_area{};
};
// version byte || marshalled TPM2B_PUBLIC || marshalled TPM2B_PRIVATE
Bytes SerializeObjectBlob(const ObjectBlob& blob);
// Malformed, trailing bytes or another version: CryptoTokenKit -3, cause key-blob-corrupt.
Result<ObjectBlob> ParseObjectBlob(ByteView data);

// X9.63 uncompressed point <-> TPMS_ECC_POINT (coordinates left-padded to 32 bytes).
Bytes PointToX963(const TPMS_ECC_POINT& point);
Result<TPMS_ECC_POINT> X963ToPoint(ByteView x963);

// The object's TPM name: nameAlg (2 bytes, big endian) || H_nameAlg(marshalled TPMT_PUBLIC).
// Only SHA-256 name algorithms are accepted.
Result<Bytes> ObjectName(const TPMT_PUBLIC& public_area);

// The public area a token key with this X9.63 point has (the key template plus the point).
Result<TPMT_PUBLIC> KeyPublicArea(ByteView public_key_x963);

bool SameAttributesAndParameters(const TPMT_PUBLIC& a, const TPMT_PUBLIC& b);

}  // namespace enclave::token::tpm2
