// enclave's device-key proof (docs/rp.md): an authenticator extension "enclave-device" in a
// registration's authenticator data (ED set), by which the enclave home's device key vouches for
// the new credential, and the dead-key report signed by the same key.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "webauthn/authenticator_data.h"

namespace enclave::webauthn {

inline constexpr char kDeviceExtension[] = "enclave-device";
// A cause of death, as the device's journal names it ("biometry-database-reset"): 1..64 printable
// ASCII characters, no spaces.
inline constexpr size_t kMaxCauseBytes = 64;

// The extension's value: the CBOR map {1: device key (COSE ES256, bytes), 2: DER ECDSA signature by
// the device key over DeviceProofMessage (bytes), 3: the credential id this registration replaces
// (bytes, optional), 4: the cause of the replaced credential's death (text, optional)}.
struct DeviceProof {
  std::vector<uint8_t> device_key;  // COSE_Key bytes
  std::vector<uint8_t> signature;   // DER
  std::optional<std::vector<uint8_t>> replaces;
  std::optional<std::string> cause;
};

std::vector<uint8_t> EncodeDeviceProof(const DeviceProof& proof);
// Exactly the keys above, each of its type, no others, no duplicates; the device key must parse as
// an ES256 COSE key; replaces 1..1023 bytes; cause as kMaxCauseBytes says. Reason `malformed` (or
// ParseCoseKey's `unsupported-algorithm`).
Result<DeviceProof> ParseDeviceProof(std::span<const uint8_t> cbor);
bool IsValidCause(std::string_view cause);

// "enclave-device-proof-v1" 0x00 ‖ rp_id_hash ‖ u16be len ‖ credential_id ‖ u16be len ‖ cose_key ‖
// u16be len ‖ replaces ‖ u16be len ‖ cause (an absent replaces or cause has length 0). Every
// field is length-prefixed, so no two inputs give the same message. `malformed` past 65535 bytes.
Result<std::vector<uint8_t>> DeviceProofMessage(std::span<const uint8_t, 32> rp_id_hash,
                                                std::span<const uint8_t> credential_id,
                                                std::span<const uint8_t> credential_cose_key,
                                                std::span<const uint8_t> replaces, std::string_view cause);
// "enclave-dead-report-v1" 0x00 ‖ u16be len ‖ credential_id ‖ u16be len ‖ cause: what a device key
// signs in POST /v1/reports/dead ({"credential_id", "cause", "device_signature"}).
Result<std::vector<uint8_t>> DeadReportMessage(std::span<const uint8_t> credential_id,
                                               std::string_view cause);

// The proof in `data`'s extensions: nullopt without ED or without the extension; an error when
// the extension is there but does not parse.
Result<std::optional<DeviceProof>> FindDeviceProof(const AuthenticatorData& data);
// Whether the proof's signature verifies under its own device key over the message for `data`'s
// attested credential (false without attested credential data).
bool VerifyDeviceProof(const DeviceProof& proof, const AuthenticatorData& data);

}  // namespace enclave::webauthn
