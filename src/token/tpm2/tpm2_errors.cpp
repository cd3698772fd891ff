#include "token/tpm2/tpm2_errors.h"

#include <tss2/tss2_rc.h>
#include <tss2/tss2_tpm2_types.h>

#include <memory>
#include <string>

namespace enclave::token::tpm2 {
namespace {

TSS2_RC Layer(TSS2_RC rc) { return rc & TSS2_RC_LAYER_MASK; }

bool FromTpm(TSS2_RC rc) {
  // A resource manager forwards the TPM's own codes in its TPM layer.
  return Layer(rc) == TSS2_TPM_RC_LAYER || Layer(rc) == TSS2_RESMGR_TPM_RC_LAYER;
}

Error Make(int64_t tk_code, std::string_view cause, TSS2_RC rc, std::string_view what) {
  const std::string text = Tss2_RC_Decode(rc);
  Error tpm;
  tpm.domain = domain::kTPM;
  tpm.code = static_cast<int64_t>(rc);
  tpm.description = text;
  Error e = TokenError(tk_code, std::string(what) + " failed: " + text);
  e.cause = std::string(cause);
  e.user_info["TPMError"] = static_cast<int64_t>(rc);
  e.user_info["TPMErrorText"] = text;
  e.underlying = std::make_shared<Error>(std::move(tpm));
  return e;
}

}  // namespace

TSS2_RC TpmBaseCode(TSS2_RC rc) {
  if (!FromTpm(rc)) return rc;
  const TSS2_RC code = rc & 0xFFFF;
  // Format-one codes carry a handle, session or parameter number in bits 6..11.
  if (code & TPM2_RC_FMT1) return code & (TPM2_RC_FMT1 | 0x3F);
  return code;
}

bool IsCommunicationError(TSS2_RC rc) {
  if (Layer(rc) == TSS2_TCTI_RC_LAYER) return true;
  const TSS2_RC base = rc & 0xFFFF;
  if (Layer(rc) == TSS2_ESAPI_RC_LAYER || Layer(rc) == TSS2_SYS_RC_LAYER ||
      Layer(rc) == TSS2_RESMGR_RC_LAYER) {
    return base == TSS2_BASE_RC_IO_ERROR || base == TSS2_BASE_RC_NO_CONNECTION ||
           base == TSS2_BASE_RC_TRY_AGAIN || base == TSS2_BASE_RC_INSUFFICIENT_RESPONSE ||
           base == TSS2_BASE_RC_MALFORMED_RESPONSE;
  }
  return false;
}

bool IsObjectMemoryError(TSS2_RC rc) {
  const TSS2_RC base = TpmBaseCode(rc);
  return FromTpm(rc) &&
         (base == TPM2_RC_OBJECT_MEMORY || base == TPM2_RC_SESSION_MEMORY || base == TPM2_RC_MEMORY);
}

bool IsStaleHandleError(TSS2_RC rc) {
  if (!FromTpm(rc)) return false;
  const TSS2_RC base = TpmBaseCode(rc);
  if (base >= TPM2_RC_REFERENCE_H0 && base <= TPM2_RC_REFERENCE_H6) return true;
  // Format-one handle errors have bit 6 (P) and bit 11 (S) clear.
  return base == TPM2_RC_HANDLE && (rc & (TPM2_RC_P | TPM2_RC_S)) == 0;
}

bool IsForeignBlobError(TSS2_RC rc) {
  if (!FromTpm(rc)) return false;
  switch (TpmBaseCode(rc)) {
    case TPM2_RC_INTEGRITY:
    case TPM2_RC_BAD_AUTH:
    case TPM2_RC_AUTH_FAIL:
    case TPM2_RC_SIZE:
    case TPM2_RC_VALUE:
    case TPM2_RC_SENSITIVE:
    case TPM2_RC_BINDING:
    case TPM2_RC_KEY:
    case TPM2_RC_INSUFFICIENT:
      return true;
    default:
      return false;
  }
}

Error MapTpmError(TSS2_RC rc, std::string_view what) {
  if (IsCommunicationError(rc)) return Make(tkerror::kTokenNotFound, "token-unavailable", rc, what);
  if (!FromTpm(rc)) return Make(tkerror::kCommunicationError, "", rc, what);
  switch (TpmBaseCode(rc)) {
    case TPM2_RC_LOCKOUT:
      return Make(tkerror::kAuthenticationFailed, "tpm-lockout", rc, what);
    case TPM2_RC_AUTH_FAIL:
    case TPM2_RC_BAD_AUTH:
      return Make(tkerror::kAuthenticationFailed, "tpm-auth-failed", rc, what);
    case TPM2_RC_OBJECT_MEMORY:
    case TPM2_RC_SESSION_MEMORY:
    case TPM2_RC_MEMORY:
      return Make(tkerror::kTokenNotFound, "tpm-object-memory", rc, what);
    case TPM2_RC_RETRY:
    case TPM2_RC_YIELDED:
    case TPM2_RC_TESTING:
    case TPM2_RC_CANCELED:
    case TPM2_RC_NV_RATE:
      return Make(tkerror::kTokenNotFound, "token-unavailable", rc, what);
    case TPM2_RC_FAILURE:
    case TPM2_RC_INITIALIZE:
    case TPM2_RC_DISABLED:
      return Make(tkerror::kCommunicationError, "tpm-failure", rc, what);
    case TPM2_RC_INTEGRITY:
      return Make(tkerror::kCorruptedData, "tpm-cleared", rc, what);
    case TPM2_RC_ECC_POINT:
    case TPM2_RC_CURVE:
    case TPM2_RC_HASH:
    case TPM2_RC_SCHEME:
      return Make(tkerror::kBadParameter, "bad-parameter", rc, what);
    default:
      return Make(tkerror::kCommunicationError, "", rc, what);
  }
}

Error MapTpmLoadError(TSS2_RC rc, std::string_view what) {
  if (IsForeignBlobError(rc)) return Make(tkerror::kCorruptedData, "tpm-cleared", rc, what);
  return MapTpmError(rc, what);
}

}  // namespace enclave::token::tpm2
