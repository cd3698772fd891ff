#include "crypto/message_digest.h"

#include "crypto/algorithm.h"
#include "crypto/ec.h"

namespace enclave::crypto {

Result<std::optional<SignInput>> PrehashForSigning(const std::string& algorithm, ByteView message) {
  if (message.size() <= kLargestMessageSentWhole) return std::optional<SignInput>();
  auto alg = FindAlgorithm(algorithm);
  if (!alg.ok() || !alg->hash) return std::optional<SignInput>();
  auto digest_alg = DigestCounterpart(*alg);
  if (!digest_alg) return std::optional<SignInput>();
  return std::optional<SignInput>(SignInput{digest_alg->name, Digest(*alg->hash, message)});
}

}  // namespace enclave::crypto
