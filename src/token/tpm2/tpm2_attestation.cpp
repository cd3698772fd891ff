#include "token/tpm2/tpm2_attestation.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "crypto/ec.h"
#include "token/tpm2/tpm2_objects.h"
#include "token/tpm2/tss2_mu.h"

namespace enclave::token::tpm2 {
namespace {

constexpr char kFormat[] = "tpm2-certify";

Error Invalid(std::string why) {
  return OSStatusError(errsec::kVerifyFailed, "attestation statement is not valid: " + why)
      .WithCause("attestation-invalid");
}

Result<Bytes> HexField(const nlohmann::json& j, const char* name) {
  if (!j.contains(name) || !j[name].is_string()) {
    return OSStatusError(errsec::kDecode, std::string("attestation statement lacks ") + name)
        .WithCause("attestation-invalid");
  }
  auto bytes = HexDecode(j[name].get<std::string>());
  if (!bytes) {
    return OSStatusError(errsec::kDecode, std::string("attestation field is not hex: ") + name)
        .WithCause("attestation-invalid");
  }
  return *bytes;
}

ByteView View(const TPM2B_NAME& n) { return ByteView(n.name, n.size); }
ByteView View(const TPM2B_DATA& d) { return ByteView(d.buffer, d.size); }

// QN(object) = nameAlg || H(QN(parent) || Name(object)); a hierarchy's QN is its handle.
Bytes PrimaryQualifiedName(TPM2_HANDLE hierarchy, ByteView name) {
  Bytes input{static_cast<uint8_t>(hierarchy >> 24), static_cast<uint8_t>(hierarchy >> 16),
              static_cast<uint8_t>(hierarchy >> 8), static_cast<uint8_t>(hierarchy)};
  input.insert(input.end(), name.begin(), name.end());
  Bytes qn{static_cast<uint8_t>(TPM2_ALG_SHA256 >> 8), static_cast<uint8_t>(TPM2_ALG_SHA256)};
  const Bytes digest = crypto::Digest(crypto::Hash::kSha256, input);
  qn.insert(qn.end(), digest.begin(), digest.end());
  return qn;
}

// The AK must be a restricted signing key with our template: only then does a signature by
// it imply the TPM produced the TPMS_ATTEST.
Result<Bytes> CheckAttestationKey(const Tpm2Attestation& a) {
  TPMT_PUBLIC ak{};
  size_t off = 0;
  const Tss2Mu* mu = Mu();
  if (mu == nullptr) return MuMissing();
  if (mu->tpmt_public_unmarshal(a.attestation_key_public_area.data(), a.attestation_key_public_area.size(),
                                &off, &ak) != TSS2_RC_SUCCESS ||
      off != a.attestation_key_public_area.size()) {
    return Invalid("attestation key public area is malformed");
  }
  if (ak.type != TPM2_ALG_ECC || !SameAttributesAndParameters(ak, AttestationKeyTemplate())) {
    return Invalid("attestation key is not a restricted P-256 signing key of this template");
  }
  if (PointToX963(ak.unique.ecc) != a.attestation_public_key_x963) {
    return Invalid("attestation public key does not match its TPM public area");
  }
  return ObjectName(ak);
}

}  // namespace

nlohmann::json Tpm2Attestation::ToJson() const {
  nlohmann::json j;
  j["format"] = kFormat;
  j["certify_info"] = HexEncode(certify_info);
  j["signature"] = HexEncode(signature_der);
  j["attestation_public_key"] = HexEncode(attestation_public_key_x963);
  if (auto ak = crypto::EcPublicKey::FromX963(attestation_public_key_x963); ak.ok()) {
    j["attestation_public_key_pem"] = ak->SpkiPem();
  }
  j["attestation_key_tpm_public"] = HexEncode(attestation_key_public_area);
  j["qualifying_data"] = HexEncode(qualifying_data);
  return j;
}

Result<Tpm2Attestation> Tpm2Attestation::FromJson(const nlohmann::json& statement) {
  if (!statement.is_object() || statement.value("format", "") != kFormat) {
    return OSStatusError(errsec::kDecode, "not a tpm2-certify attestation statement")
        .WithCause("attestation-invalid");
  }
  Tpm2Attestation a;
  ASSIGN_OR_RETURN(a.certify_info, HexField(statement, "certify_info"));
  ASSIGN_OR_RETURN(a.signature_der, HexField(statement, "signature"));
  ASSIGN_OR_RETURN(a.attestation_public_key_x963, HexField(statement, "attestation_public_key"));
  ASSIGN_OR_RETURN(a.attestation_key_public_area, HexField(statement, "attestation_key_tpm_public"));
  ASSIGN_OR_RETURN(a.qualifying_data, HexField(statement, "qualifying_data"));
  return a;
}

Status VerifyAttestation(const nlohmann::json& statement, ByteView key_public_x963,
                         ByteView expected_qualifying_data) {
  auto parsed = Tpm2Attestation::FromJson(statement);
  if (!parsed.ok()) return Invalid(parsed.error().description);
  return VerifyStatement(*parsed, key_public_x963, expected_qualifying_data);
}

Result<Tpm2Attestation> StatementFromTpmFields(ByteView certify_info, ByteView signature_der,
                                               ByteView attestation_key_public_area,
                                               ByteView qualifying_data) {
  const Tss2Mu* mu = Mu();
  if (mu == nullptr) return MuMissing();
  TPMT_PUBLIC ak{};
  size_t off = 0;
  if (mu->tpmt_public_unmarshal(attestation_key_public_area.data(), attestation_key_public_area.size(), &off,
                                &ak) != TSS2_RC_SUCCESS ||
      off != attestation_key_public_area.size() || ak.type != TPM2_ALG_ECC) {
    return OSStatusError(errsec::kDecode, "attestation key public area is not an ECC TPMT_PUBLIC")
        .WithCause("attestation-invalid");
  }
  Tpm2Attestation a;
  a.certify_info.assign(certify_info.begin(), certify_info.end());
  a.signature_der.assign(signature_der.begin(), signature_der.end());
  a.attestation_public_key_x963 = PointToX963(ak.unique.ecc);
  a.attestation_key_public_area.assign(attestation_key_public_area.begin(),
                                       attestation_key_public_area.end());
  a.qualifying_data.assign(qualifying_data.begin(), qualifying_data.end());
  return a;
}

Status VerifyStatement(const Tpm2Attestation& a, ByteView key_public_x963,
                       ByteView expected_qualifying_data) {
  auto ak = crypto::EcPublicKey::FromX963(a.attestation_public_key_x963);
  if (!ak.ok()) return Invalid("attestation public key is not a P-256 point");
  ASSIGN_OR_RETURN(Bytes ak_name, CheckAttestationKey(a));
  const Bytes digest = crypto::Digest(crypto::Hash::kSha256, a.certify_info);
  if (!ak->VerifyDigestDer(digest, a.signature_der)) {
    return Invalid("signature does not verify with the attestation public key");
  }

  TPMS_ATTEST attest{};
  size_t off = 0;
  const Tss2Mu* mu = Mu();
  if (mu == nullptr) return MuMissing();
  if (mu->tpms_attest_unmarshal(a.certify_info.data(), a.certify_info.size(), &off, &attest) !=
          TSS2_RC_SUCCESS ||
      off != a.certify_info.size()) {
    return Invalid("certify_info is not a TPMS_ATTEST");
  }
  if (attest.magic != TPM2_GENERATED_VALUE) return Invalid("not generated by a TPM");
  if (attest.type != TPM2_ST_ATTEST_CERTIFY) return Invalid("not a TPM2_Certify statement");
  const Bytes signer = PrimaryQualifiedName(TPM2_RH_ENDORSEMENT, ak_name);
  const ByteView qualified_signer = View(attest.qualifiedSigner);
  if (!std::equal(signer.begin(), signer.end(), qualified_signer.begin(), qualified_signer.end())) {
    return Invalid("statement was signed by another key than the attestation key");
  }
  const ByteView extra = View(attest.extraData);
  if (!std::equal(extra.begin(), extra.end(), a.qualifying_data.begin(), a.qualifying_data.end())) {
    return Invalid("qualifying data does not match the signed statement");
  }
  if (!expected_qualifying_data.empty() &&
      !std::equal(extra.begin(), extra.end(), expected_qualifying_data.begin(),
                  expected_qualifying_data.end())) {
    return Invalid("statement was made for another nonce");
  }

  auto key_area = KeyPublicArea(key_public_x963);
  if (!key_area.ok()) return Invalid("key public key is not a P-256 point");
  ASSIGN_OR_RETURN(Bytes key_name, ObjectName(*key_area));
  const ByteView certified = View(attest.attested.certify.name);
  if (!std::equal(key_name.begin(), key_name.end(), certified.begin(), certified.end())) {
    return Invalid("statement certifies another key");
  }
  return Ok();
}

}  // namespace enclave::token::tpm2
