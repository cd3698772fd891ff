// clientDataJSON (WebAuthn L3 §5.8.1): the device writes it in the limited-verification form
// (§5.8.1.1, byte-exact), the relying party parses it fully as JSON (§5.8.1.2 recommends that).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace enclave::webauthn {

inline constexpr char kTypeCreate[] = "webauthn.create";
inline constexpr char kTypeGet[] = "webauthn.get";

// {"type":…,"challenge":…,"origin":…,"crossOrigin":false|true}, each string with the spec's
// CCDToString escaping; the challenge as base64url without padding.
std::string ClientDataJson(std::string_view type, std::span<const uint8_t> challenge, std::string_view origin,
                           bool cross_origin = false);

struct ClientData {
  std::string type;
  std::vector<uint8_t> challenge;  // decoded from its base64url
  std::string origin;
  bool cross_origin = false;  // absent reads as false
  std::optional<std::string> top_origin;
};

// A JSON object with string type, challenge (strict base64url) and origin, an optional boolean
// crossOrigin and optional string topOrigin; other members are ignored, as the spec requires.
// At most 16 KiB and 16 levels deep. Reason `malformed`.
Result<ClientData> ParseClientData(std::span<const uint8_t> json);

}  // namespace enclave::webauthn
