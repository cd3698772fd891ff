// The admin endpoints' bearer token. Only its SHA-256 digest is kept: the file is read once at
// start, hashed, and the plaintext wiped, so a memory dump of a running server does not hand out
// the token. A presented token is hashed the same way and the digests are compared in constant
// time (CRYPTO_memcmp), so response timing does not reveal how much of a guess was right.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace enclave::rpd {

class AdminToken {
 public:
  // Reads the token from `path`: its content with surrounding whitespace (a trailing newline)
  // removed; an empty token is refused.
  static Result<AdminToken> FromFile(const std::string& path);
  static AdminToken FromSecret(std::string_view secret);

  // Whether an Authorization header value is "Bearer <the token>".
  bool Accepts(std::string_view authorization) const;

 private:
  std::array<unsigned char, 32> digest_{};
};

}  // namespace enclave::rpd
