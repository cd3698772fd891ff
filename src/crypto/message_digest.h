// Message signature algorithms, hashed where the message is: a caller reads and hashes the
// message in chunks and asks for a signature over the digest with the matching digest algorithm,
// so no process ever holds a whole message (of any size) and the daemon sees 32-64 bytes.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/bytes.h"
#include "common/result.h"
#include "crypto/algorithm.h"

namespace enclave::crypto {

// Incremental hashing (SHA-1/2); Final() may be called once.
class StreamingDigest {
 public:
  explicit StreamingDigest(Hash h);
  ~StreamingDigest();
  StreamingDigest(StreamingDigest&&) noexcept;
  StreamingDigest& operator=(StreamingDigest&&) noexcept;
  void Update(ByteView chunk);
  Bytes Final();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// For a message signature algorithm, the digest algorithm that signs the same hash into the same
// encoding ("ecdsa-signature-message-x962-sha256" -> "ecdsa-signature-digest-x962-sha256");
// nullopt for every other algorithm.
std::optional<Algorithm> DigestCounterpart(const Algorithm& message_algorithm);

// Reads a stream to its end in fixed chunks, hashing as it goes. `read` returns the bytes it put
// in the buffer, 0 at the end, -1 on error (the result is then errSecIO).
using ChunkReader = std::function<long(uint8_t* buf, size_t len)>;
Result<Bytes> DigestStream(Hash h, const ChunkReader& read);
// The same over a file; "-" is standard input.
Result<Bytes> DigestFile(Hash h, const std::string& path);

// What to ask the token for: the algorithm and input to send in place of (algorithm, message).
// A message algorithm becomes its digest counterpart and the message's digest; anything else is
// passed through unchanged (returned as nullopt so that the caller need not copy the input).
struct SignInput {
  std::string algorithm;
  Bytes input;
};
Result<std::optional<SignInput>> PrehashForSigning(const std::string& algorithm, ByteView message);
// The same reading the message from a file ("-": standard input) without holding it.
Result<std::optional<SignInput>> PrehashFileForSigning(const std::string& algorithm, const std::string& path);

}  // namespace enclave::crypto
