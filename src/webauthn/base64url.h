// base64url without padding (RFC 4648 §5), the encoding of every binary field in WebAuthn's JSON.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace enclave::webauthn {

std::string Base64UrlEncode(std::span<const uint8_t> bytes);
// Strict: refuses padding, characters outside [A-Za-z0-9_-], a length of 1 mod 4 and non-zero
// trailing bits (so every byte string has exactly one accepted text). Reason `malformed`.
Result<std::vector<uint8_t>> Base64UrlDecode(std::string_view text);

}  // namespace enclave::webauthn
