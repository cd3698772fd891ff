// Authenticator data (WebAuthn L3 §6.1): rpIdHash ‖ flags ‖ signCount ‖ [attested credential data]
// ‖ [extensions], and enclave's AAGUID.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"

namespace enclave::webauthn {

inline constexpr uint8_t kFlagUp = 0x01;  // user present
inline constexpr uint8_t kFlagUv = 0x04;  // user verified
inline constexpr uint8_t kFlagBe = 0x08;  // backup eligible
inline constexpr uint8_t kFlagBs = 0x10;  // backed up
inline constexpr uint8_t kFlagAt = 0x40;  // attested credential data included
inline constexpr uint8_t kFlagEd = 0x80;  // extensions included

// enclave's authenticator model (docs/rp.md): 4e54650a-568b-9f75-74fd-12b2babf3ff0, drawn at random
// once; the same in every enclave home, so it names the model, not a device.
inline constexpr std::array<uint8_t, 16> kEnclaveAaguid = {0x4e, 0x54, 0x65, 0x0a, 0x56, 0x8b, 0x9f, 0x75,
                                                           0x74, 0xfd, 0x12, 0xb2, 0xba, 0xbf, 0x3f, 0xf0};

// Credential ids are at most 1023 bytes (§7.1 step 25).
inline constexpr size_t kMaxCredentialIdBytes = 1023;

struct AttestedCredential {
  std::array<uint8_t, 16> aaguid{};
  std::vector<uint8_t> credential_id;
  std::vector<uint8_t> cose_key;  // the COSE_Key's CBOR bytes, as they appear
};

struct AuthenticatorData {
  std::array<uint8_t, 32> rp_id_hash{};
  uint8_t flags = 0;
  uint32_t sign_count = 0;
  std::optional<AttestedCredential> attested;
  std::vector<uint8_t> extensions_cbor;  // the extensions map's CBOR bytes; empty when ED is clear
};

// The bytes; AT and ED in the flags are set from whether `attested` and `extensions_cbor` are
// present (the other bits as given), so the flags never contradict the layout.
std::vector<uint8_t> Encode(const AuthenticatorData& data);

// Strict: 37 bytes at least; with AT a credential id of 1..1023 bytes and one well-formed CBOR map
// (the COSE key, read by its own length); with ED one CBOR map with text keys; nothing after.
// CBOR nesting is bounded. Reason `malformed`. The COSE key's algorithm is ParseCoseKey's concern.
Result<AuthenticatorData> ParseAuthenticatorData(std::span<const uint8_t> bytes);

// Authenticator extensions: identifier → that extension's CBOR value (encoded). Encoding sorts the
// identifiers in CTAP2 canonical order (shorter first, then bytewise).
using Extensions = std::map<std::string, std::vector<uint8_t>>;
std::vector<uint8_t> EncodeExtensions(const Extensions& extensions);
// A CBOR map with distinct text keys filling `cbor`; each value kept as its bytes.
Result<Extensions> ParseExtensions(std::span<const uint8_t> cbor);
// The encoded value of extension `name` in `data`'s extensions: nullopt without extensions or
// without that one; an error when the extensions do not parse.
Result<std::optional<std::vector<uint8_t>>> FindExtension(const AuthenticatorData& data,
                                                          const std::string& name);

}  // namespace enclave::webauthn
