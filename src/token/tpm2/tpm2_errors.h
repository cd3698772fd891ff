// TPM response codes -> enclave errors. Every error that leaves the tpm2 token goes through
// MapTpmError, so the catalog (cause ids tpm-cleared, tpm-lockout, ...) sees one vocabulary.
#pragma once

#include <tss2/tss2_common.h>

#include <string_view>

#include "common/error.h"

namespace enclave::token::tpm2 {

// The TPM's own code with the parameter/handle/session number stripped (TPM2_RC_INTEGRITY
// for 0x09A2), or the full code when `rc` comes from a TSS layer (TCTI, ESAPI).
TSS2_RC TpmBaseCode(TSS2_RC rc);

bool IsCommunicationError(TSS2_RC rc);  // TCTI / transport: reconnect may help
bool IsObjectMemoryError(TSS2_RC rc);   // out of transient object or session slots
// A handle the TPM no longer knows (the TPM was reset under us): reload and retry.
bool IsStaleHandleError(TSS2_RC rc);
// What a blob whose parent storage key has changed produces on TPM2_Load.
bool IsForeignBlobError(TSS2_RC rc);

// `what` names the operation ("TPM2_Load of key"), never secret data. The result is a
// CryptoTokenKit error with a cause id, user_info {"TPMError": rc, "TPMErrorText": text} and
// an underlying error in the TPM domain carrying the raw code.
Error MapTpmError(TSS2_RC rc, std::string_view what);

// A TPM2_Load failure: integrity/size/value errors mean the blob does not belong to this
// TPM's storage key any more (cleared or replaced TPM) -> cause "tpm-cleared".
Error MapTpmLoadError(TSS2_RC rc, std::string_view what);

}  // namespace enclave::token::tpm2
