#include "rp/tpm_attestation.h"

#include "rp/reasons.h"
#include "token/tpm2/tpm2_attestation.h"
#include "webauthn/cose.h"
#include "webauthn/tpm_certify.h"

namespace enclave::rp {

Result<std::optional<TpmAttestationResult>> VerifyTpmAttestation(
    const webauthn::AuthenticatorData& data, std::span<const uint8_t, 32> client_data_hash) {
  ASSIGN_OR_RETURN(auto certify, webauthn::FindTpmCertify(data));
  if (!certify) return std::optional<TpmAttestationResult>();
  if (!data.attested) return Reject(reason::kMalformed, "a TPM attestation without attested credential data");
  ASSIGN_OR_RETURN(webauthn::CoseKey key, webauthn::ParseCoseKey(data.attested->cose_key));
  const auto point = webauthn::ToX962(key);
  ASSIGN_OR_RETURN(
      auto nonce, webauthn::TpmCertifyNonce(data.rp_id_hash, client_data_hash, data.attested->credential_id));
  auto statement = token::tpm2::StatementFromTpmFields(certify->certify_info, certify->signature,
                                                       certify->attestation_key_public_area, nonce);
  Status verified = statement.ok() ? token::tpm2::VerifyStatement(*statement, point, nonce)
                                   : Status(std::move(statement).error());
  if (!verified.ok()) {
    const Error& e = verified.error();
    // The TSS marshalling library missing on this server is the server's fault, not the client's.
    if (e.cause != reason::kAttestationInvalid) return e;
    return Reject(reason::kAttestationInvalid, "the TPM attestation does not hold: " + e.description);
  }
  TpmAttestationResult out;
  out.attestation_key_sha256 = webauthn::Sha256(statement->attestation_public_key_x963);
  return std::optional<TpmAttestationResult>(out);
}

}  // namespace enclave::rp
