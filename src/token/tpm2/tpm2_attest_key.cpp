#include <cstring>

#include "crypto/ec.h"
#include "token/tpm2/tpm2_token.h"
#include "token/tpm2/tpm2_token_impl.h"
#include "token/tpm2/tss2_mu.h"

namespace enclave::token::tpm2 {
namespace {

Bytes Coordinates(const TPMS_SIGNATURE_ECDSA& sig) {
  TPMS_ECC_POINT as_point{};
  as_point.x = sig.signatureR;
  as_point.y = sig.signatureS;
  const Bytes x963 = PointToX963(as_point);  // 04 || r || s, each left-padded
  return Bytes(x963.begin() + 1, x963.end());
}

}  // namespace

Result<Tpm2Attestation> Tpm2Token::CertifyKeySlowly(ByteView token_blob, ByteView qualifying_data) {
  TPM2B_DATA nonce{};
  if (qualifying_data.size() > sizeof(nonce.buffer)) {
    return OSStatusError(errsec::kParam, "attestation nonce is longer than 64 bytes");
  }
  nonce.size = static_cast<UINT16>(qualifying_data.size());
  if (!qualifying_data.empty()) {
    std::memcpy(nonce.buffer, qualifying_data.data(), qualifying_data.size());
  }
  ASSIGN_OR_RETURN(ObjectBlob blob, ParseKeyBlob(token_blob));
  // NULL takes the attestation key's own scheme (ECDSA with SHA-256).
  TPMT_SIG_SCHEME scheme{};
  scheme.scheme = TPM2_ALG_NULL;
  EsysPtr<TPM2B_ATTEST> certify_info;
  EsysPtr<TPMT_SIGNATURE> signature;
  TPM2B_PUBLIC ak_public{};
  RETURN_IF_ERROR(device_->WithObjectAndAttestationKey(
      blob, "TPM2_Certify of key",
      [&](ESYS_CONTEXT* esys, ESYS_TR key, ESYS_TR ak, const TPM2B_PUBLIC& ak_pub) {
        ak_public = ak_pub;
        TPM2B_ATTEST* info = nullptr;
        TPMT_SIGNATURE* sig = nullptr;
        const TSS2_RC rc = Esys_Certify(esys, key, ak, ESYS_TR_PASSWORD, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                        &nonce, &scheme, &info, &sig);
        certify_info.reset(info);
        signature.reset(sig);
        return rc;
      }));
  if (signature->sigAlg != TPM2_ALG_ECDSA) {
    return TokenError(tkerror::kCommunicationError, "TPM returned a non-ECDSA attestation");
  }
  Tpm2Attestation a;
  a.certify_info.assign(certify_info->attestationData, certify_info->attestationData + certify_info->size);
  ASSIGN_OR_RETURN(a.signature_der, crypto::RawSignatureToDer(Coordinates(signature->signature.ecdsa)));
  a.attestation_public_key_x963 = PointToX963(ak_public.publicArea.unique.ecc);
  Bytes area(sizeof(TPMT_PUBLIC));
  size_t off = 0;
  const Tss2Mu* mu = Mu();
  if (mu == nullptr) return MuMissing();
  if (mu->tpmt_public_marshal(&ak_public.publicArea, area.data(), area.size(), &off) != TSS2_RC_SUCCESS) {
    return TokenError(tkerror::kCommunicationError, "attestation key public area is malformed");
  }
  area.resize(off);
  a.attestation_key_public_area = std::move(area);
  a.qualifying_data.assign(qualifying_data.begin(), qualifying_data.end());
  return a;
}

Result<Tpm2Attestation> AttestKeySlowly(Token& token, ByteView token_blob, ByteView qualifying_data) {
  auto* tpm = dynamic_cast<Tpm2Token*>(&token);
  if (tpm == nullptr) {
    return OSStatusError(errsec::kParam, "key attestation needs a key of the tpm2 token");
  }
  return tpm->CertifyKeySlowly(token_blob, qualifying_data);
}

}  // namespace enclave::token::tpm2
