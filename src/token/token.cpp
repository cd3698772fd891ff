#include "token/token.h"

#include "crypto/ec.h"
#include "token/soft/soft_token.h"

// The tpm2 backend is built only when its folder is present; the header may briefly lag behind
// the folder while that backend is being written, so check for it as well.
#if defined(ENCLAVE_HAVE_TPM2) && ENCLAVE_HAVE_TPM2 && __has_include("token/tpm2/tpm2_token.h")
#include "token/tpm2/tpm2_token.h"
#define ENCLAVE_TOKEN_WITH_TPM2 1
#else
#define ENCLAVE_TOKEN_WITH_TPM2 0
#endif

namespace enclave::token {

Result<std::unique_ptr<Token>> OpenToken(std::string_view id, const TokenConfig& config) {
  if (id == "soft") return std::unique_ptr<Token>(std::make_unique<SoftToken>());
#if ENCLAVE_TOKEN_WITH_TPM2
  if (id == "tpm2") return OpenTpm2Token(config);
#else
  (void)config;
  if (id == "tpm2") {
    return TokenError(tkerror::kTokenNotFound, "token 'tpm2' is not available in this build")
        .WithCause("token-unavailable");
  }
#endif
  return OSStatusError(errsec::kParam, "unknown token '" + std::string(id) + "' (supported: soft, tpm2)")
      .WithCause("bad-parameter");
}

std::string KeyDescription(std::string_view description_tag, std::string_view kid) {
  return "<" + std::string(description_tag) + ":p256 kid=" + std::string(kid) + ">";
}

std::string KeyId(ByteView public_key_x963) {
  const Bytes digest = crypto::Digest(crypto::Hash::kSha256, public_key_x963);
  return HexEncode(ByteView(digest.data(), 8));
}

}  // namespace enclave::token
