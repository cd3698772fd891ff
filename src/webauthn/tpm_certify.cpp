#include "webauthn/tpm_certify.h"

#include "webauthn/cbor_util.h"
#include "webauthn/cose.h"
#include "webauthn/reason.h"

namespace enclave::webauthn {

std::vector<uint8_t> EncodeTpmCertify(const TpmCertify& certify) {
  cbor::Writer w;
  w.Map(3);
  w.Int(1);
  w.Bytes(certify.certify_info);
  w.Int(2);
  w.Bytes(certify.signature);
  w.Int(3);
  w.Bytes(certify.attestation_key_public_area);
  return w.Take();
}

Result<TpmCertify> ParseTpmCertify(std::span<const uint8_t> bytes) {
  ASSIGN_OR_RETURN(auto item, cbor::Decode(bytes));
  auto pairs = cbor::MapPairs(item.get());
  if (!pairs) return Fail(kMalformed, "the TPM attestation is not a CBOR map with distinct keys");
  TpmCertify out;
  std::vector<uint8_t>* fields[] = {&out.certify_info, &out.signature, &out.attestation_key_public_area};
  for (const cbor_pair& p : *pairs) {
    auto label = cbor::AsInt(p.key);
    auto value = cbor::AsBytes(p.value);
    if (!label || *label < 1 || *label > 3 || !value) {
      return Fail(kMalformed, "unknown key, or a key of the wrong type, in the TPM attestation");
    }
    if (value->empty() || value->size() > kMaxTpmFieldBytes) {
      return Fail(kMalformed, "a TPM attestation field is not 1..1024 bytes");
    }
    fields[*label - 1]->assign(value->begin(), value->end());
  }
  for (const auto* field : fields) {
    if (field->empty()) return Fail(kMalformed, "the TPM attestation lacks one of its three fields");
  }
  return out;
}

Result<std::optional<TpmCertify>> FindTpmCertify(const AuthenticatorData& data) {
  ASSIGN_OR_RETURN(auto value, FindExtension(data, kTpmExtension));
  if (!value) return std::optional<TpmCertify>();
  ASSIGN_OR_RETURN(auto certify, ParseTpmCertify(*value));
  return std::optional<TpmCertify>(std::move(certify));
}

Result<std::array<uint8_t, 32>> TpmCertifyNonce(std::span<const uint8_t, 32> rp_id_hash,
                                                std::span<const uint8_t, 32> client_data_hash,
                                                std::span<const uint8_t> credential_id) {
  if (credential_id.size() > 0xffff) return Fail(kMalformed, "a credential id longer than 65535 bytes");
  constexpr std::string_view kLabel = "enclave-tpm-certify-v1";
  std::vector<uint8_t> m(kLabel.begin(), kLabel.end());
  m.push_back(0x00);
  m.insert(m.end(), rp_id_hash.begin(), rp_id_hash.end());
  m.insert(m.end(), client_data_hash.begin(), client_data_hash.end());
  m.push_back(static_cast<uint8_t>(credential_id.size() >> 8));
  m.push_back(static_cast<uint8_t>(credential_id.size()));
  m.insert(m.end(), credential_id.begin(), credential_id.end());
  return Sha256(m);
}

}  // namespace enclave::webauthn
