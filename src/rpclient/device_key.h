// The enclave home's device identity key: one P-256 key per home that proves, to a relying
// party that saw it with an earlier credential, that a new credential was made in the same
// home (docs/rp.md, "The device-key proof"). It is an ordinary enclave key under a reserved
// application label, so it is as non-exportable as every key (and in the TPM when the home
// uses one); it has no user-presence access control because it signs only statements about
// keys the user has just authenticated for, and after-first-unlock this-device-only so that a
// re-enrollment works whenever the device is up and it never moves to another device.
#pragma once

#include <string>

#include "common/bytes.h"
#include "common/result.h"
#include "service/api.h"

namespace enclave::rpclient {

// The reserved application label. `enclave key list` leaves this key out unless asked for it
// by application label.
inline constexpr char kDeviceKeyLabel[] = "enclave.device-identity.v1";

bool IsDeviceKey(const KeyInfo& key);

// The device key, created on first use: in tpm2 when the home has a TPM configured
// (config tpm2-tcti), else soft. Two processes creating it at once end with one key.
Result<KeyInfo> EnsureDeviceKey(Api& api);

// Signs `message` with the device key: X9.62 DER ECDSA over SHA-256.
Result<Bytes> DeviceSign(Api& api, const KeyInfo& device_key, ByteView message);

}  // namespace enclave::rpclient
