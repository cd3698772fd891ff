// Key attestation statements of the tpm2 token and their verification.
//
// A statement is a TPM2_Certify of a token key by a restricted attestation key (AK) of the
// same TPM: the TPM signs a TPMS_ATTEST naming the key, which it only does for objects it
// holds. Verification needs no TPM (this file links only the TSS marshalling library and
// OpenSSL). It proves "a TPM holding this AK holds a fixedTPM key with this public point";
// whether the AK belongs to a genuine TPM (an EK certificate chain) is the verifier's policy
// and is not checked here.
#pragma once

#include <nlohmann/json.hpp>

#include "common/bytes.h"
#include "common/result.h"

namespace enclave::token::tpm2 {

struct Tpm2Attestation {
  Bytes certify_info;                 // marshalled TPMS_ATTEST, as the TPM signed it
  Bytes signature_der;                // X9.62 DER ECDSA over SHA-256(certify_info)
  Bytes attestation_public_key_x963;  // the AK's point
  Bytes attestation_key_public_area;  // the AK's marshalled TPMT_PUBLIC
  Bytes qualifying_data;              // the caller's nonce, echoed as extraData

  // {"format":"tpm2-certify","certify_info":hex,"signature":hex,
  //  "attestation_public_key":hex (X9.63),"attestation_public_key_pem":"-----BEGIN…",
  //  "attestation_key_tpm_public":hex,"qualifying_data":hex}
  nlohmann::json ToJson() const;
  // Missing fields or bad hex: errSecDecode (-26275), cause attestation-invalid.
  static Result<Tpm2Attestation> FromJson(const nlohmann::json& statement);
};

// Ok when `statement` is a TPM2_Certify by a restricted signing key of a key with the token
// key template and exactly the point `key_public_x963`. When `expected_qualifying_data` is
// not empty, the statement's nonce must equal it. Any failure: errSecVerifyFailed (-67808),
// cause attestation-invalid, with the reason in the description.
Status VerifyAttestation(const nlohmann::json& statement, ByteView key_public_x963,
                         ByteView expected_qualifying_data = {});
// The same check on a statement already in fields.
Status VerifyStatement(const Tpm2Attestation& statement, ByteView key_public_x963,
                       ByteView expected_qualifying_data = {});

// A statement from the TPM's own structures (a relying party's, from the WebAuthn extension of
// webauthn/tpm_certify.h): the AK's point is read from its public area. errSecDecode (-26275),
// cause attestation-invalid, when the area does not unmarshal or holds no P-256 point.
Result<Tpm2Attestation> StatementFromTpmFields(ByteView certify_info, ByteView signature_der,
                                               ByteView attestation_key_public_area,
                                               ByteView qualifying_data);

}  // namespace enclave::token::tpm2
