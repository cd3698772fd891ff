#include "rpclient/device_key.h"

namespace enclave::rpclient {
namespace {

KeyQuery DeviceKeyQuery() {
  KeyQuery q;
  q.application_label = ToBytes(kDeviceKeyLabel);
  return q;
}

Result<std::optional<KeyInfo>> FindDeviceKey(Api& api) {
  auto keys = api.FindKeys(DeviceKeyQuery());
  if (!keys.ok()) {
    if (keys.error().code == errsec::kItemNotFound) return std::optional<KeyInfo>();
    return std::move(keys).error();
  }
  if (keys->empty()) return std::optional<KeyInfo>();
  return std::optional<KeyInfo>(std::move(keys->front()));
}

// The token of a new device key: the TPM when this home uses one.
Result<std::string> DeviceKeyToken(Api& api) {
  auto tcti = api.Admin("config.get", {{"key", "tpm2-tcti"}}, {});
  if (!tcti.ok()) return std::move(tcti).error();
  const auto& value = (*tcti)["value"];
  return std::string(value.is_string() && !value.get<std::string>().empty() ? "tpm2" : "soft");
}

}  // namespace

bool IsDeviceKey(const KeyInfo& key) { return key.application_label == ToBytes(kDeviceKeyLabel); }

Result<KeyInfo> EnsureDeviceKey(Api& api) {
  ASSIGN_OR_RETURN(auto found, FindDeviceKey(api));
  if (found) return std::move(*found);
  KeySpec spec;
  spec.label = "enclave device identity";
  spec.application_label = ToBytes(kDeviceKeyLabel);
  ASSIGN_OR_RETURN(spec.token, DeviceKeyToken(api));
  spec.accessible = "after-first-unlock-this-device-only";
  spec.access_control = {"private-key-usage"};
  spec.can_decrypt = false;
  spec.can_derive = false;
  auto created = api.CreateKey(spec);
  if (created.ok()) return created;
  // Another process made it between our lookup and our creation: use that one.
  if (created.error().code == errsec::kDuplicateItem) {
    ASSIGN_OR_RETURN(auto again, FindDeviceKey(api));
    if (again) return std::move(*again);
  }
  return created;
}

Result<Bytes> DeviceSign(Api& api, const KeyInfo& device_key, ByteView message) {
  KeyQuery q;
  q.kid = device_key.kid;
  q.application_label = device_key.application_label;
  AuthOptions auth;
  auth.operation_prompt = "Prove that this enclave made the new key";
  ASSIGN_OR_RETURN(OperationResult r, api.Sign(q, "ecdsa-signature-message-x962-sha256",
                                               Bytes(message.begin(), message.end()), auth));
  return std::move(r.output);
}

}  // namespace enclave::rpclient
