// Message signature algorithms, hashed where the message is: a caller hashes the message and asks
// for a signature over the digest with the matching digest algorithm (DigestCounterpart), so a
// message of any size signs and the daemon sees 32-64 bytes.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "common/bytes.h"
#include "common/result.h"

namespace enclave::crypto {

// A message up to this size travels whole and the enclave hashes it: a short-lived caller (one
// CLI command) then never initialises a digest itself, which costs more than the signature.
inline constexpr size_t kLargestMessageSentWhole = 64 * 1024;

// What to ask the token for in place of (algorithm, message): a message algorithm with a message
// larger than kLargestMessageSentWhole becomes its digest counterpart and the message's digest;
// anything else, including an unknown name (the service says what is wrong with it), is passed
// through unchanged (nullopt, so that the caller need not copy the input).
struct SignInput {
  std::string algorithm;
  Bytes input;
};
Result<std::optional<SignInput>> PrehashForSigning(const std::string& algorithm, ByteView message);

}  // namespace enclave::crypto
