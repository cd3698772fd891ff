#include "webauthn/device_proof.h"

#include "webauthn/cbor_util.h"
#include "webauthn/cose.h"
#include "webauthn/reason.h"

namespace enclave::webauthn {
namespace {

Status AppendField(std::vector<uint8_t>& out, std::span<const uint8_t> field) {
  if (field.size() > 0xffff) return Fail(kMalformed, "a signed field is longer than 65535 bytes");
  out.push_back(static_cast<uint8_t>(field.size() >> 8));
  out.push_back(static_cast<uint8_t>(field.size()));
  out.insert(out.end(), field.begin(), field.end());
  return Ok();
}

std::vector<uint8_t> Label(std::string_view label) {
  std::vector<uint8_t> out(label.begin(), label.end());
  out.push_back(0x00);
  return out;
}

std::span<const uint8_t> TextBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace

bool IsValidCause(std::string_view cause) {
  if (cause.empty() || cause.size() > kMaxCauseBytes) return false;
  for (char c : cause) {
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

std::vector<uint8_t> EncodeDeviceProof(const DeviceProof& proof) {
  cbor::Writer w;
  w.Map(2 + (proof.replaces ? 1 : 0) + (proof.cause ? 1 : 0));
  w.Int(1);
  w.Bytes(proof.device_key);
  w.Int(2);
  w.Bytes(proof.signature);
  if (proof.replaces) {
    w.Int(3);
    w.Bytes(*proof.replaces);
  }
  if (proof.cause) {
    w.Int(4);
    w.Text(*proof.cause);
  }
  return w.Take();
}

Result<DeviceProof> ParseDeviceProof(std::span<const uint8_t> bytes) {
  ASSIGN_OR_RETURN(auto item, cbor::Decode(bytes));
  auto pairs = cbor::MapPairs(item.get());
  if (!pairs) return Fail(kMalformed, "the device proof is not a CBOR map with distinct keys");
  DeviceProof proof;
  bool have_key = false, have_sig = false;
  for (const cbor_pair& p : *pairs) {
    auto label = cbor::AsInt(p.key);
    auto value = cbor::AsBytes(p.value);
    if (label == 1 && value) {
      proof.device_key.assign(value->begin(), value->end());
      have_key = true;
    } else if (label == 2 && value) {
      proof.signature.assign(value->begin(), value->end());
      have_sig = true;
    } else if (label == 3 && value) {
      if (value->empty() || value->size() > kMaxCredentialIdBytes)
        return Fail(kMalformed, "the replaced credential id is not 1..1023 bytes");
      proof.replaces.emplace(value->begin(), value->end());
    } else if (label == 4 && cbor::AsText(p.value)) {
      proof.cause = std::string(*cbor::AsText(p.value));
      if (!IsValidCause(*proof.cause))
        return Fail(kMalformed, "the cause of death is not 1..64 printable characters");
    } else {
      return Fail(kMalformed, "unknown key, or a key of the wrong type, in the device proof");
    }
  }
  if (!have_key || !have_sig) return Fail(kMalformed, "the device proof lacks its key or signature");
  RETURN_IF_ERROR(ParseCoseKey(proof.device_key));
  return proof;
}

Result<std::vector<uint8_t>> DeviceProofMessage(std::span<const uint8_t, 32> rp_id_hash,
                                                std::span<const uint8_t> credential_id,
                                                std::span<const uint8_t> credential_cose_key,
                                                std::span<const uint8_t> replaces, std::string_view cause) {
  std::vector<uint8_t> out = Label("enclave-device-proof-v1");
  out.insert(out.end(), rp_id_hash.begin(), rp_id_hash.end());
  RETURN_IF_ERROR(AppendField(out, credential_id));
  RETURN_IF_ERROR(AppendField(out, credential_cose_key));
  RETURN_IF_ERROR(AppendField(out, replaces));
  RETURN_IF_ERROR(AppendField(out, TextBytes(cause)));
  return out;
}

Result<std::vector<uint8_t>> DeadReportMessage(std::span<const uint8_t> credential_id,
                                               std::string_view cause) {
  std::vector<uint8_t> out = Label("enclave-dead-report-v1");
  RETURN_IF_ERROR(AppendField(out, credential_id));
  RETURN_IF_ERROR(AppendField(out, TextBytes(cause)));
  return out;
}

Result<std::optional<DeviceProof>> FindDeviceProof(const AuthenticatorData& data) {
  ASSIGN_OR_RETURN(auto value, FindExtension(data, kDeviceExtension));
  if (!value) return std::optional<DeviceProof>();
  ASSIGN_OR_RETURN(auto proof, ParseDeviceProof(*value));
  return std::optional<DeviceProof>(std::move(proof));
}

bool VerifyDeviceProof(const DeviceProof& proof, const AuthenticatorData& data) {
  if (!data.attested) return false;
  std::span<const uint8_t> replaces;
  if (proof.replaces) replaces = *proof.replaces;
  auto message = DeviceProofMessage(data.rp_id_hash, data.attested->credential_id, data.attested->cose_key,
                                    replaces, proof.cause.value_or(""));
  if (!message.ok()) return false;
  auto key = CoseToEvpPkey(proof.device_key);
  return key.ok() && VerifyEs256(key->get(), *message, proof.signature);
}

}  // namespace enclave::webauthn
