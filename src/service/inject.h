// Fault injection for tests and support (enclave debug inject), refused unless the daemon runs
// with --debug; and TPM key attestation. Both are Admin commands.
#pragma once

#include "service/session.h"

namespace enclave::service {

// Faults: biometry-reset, enrollment-change, passcode-removal (without the passcode, while the
// keybag is unlocked), class-key-corrupt {"class": code}, blob-flip {"kid"}, blob-missing {"kid"},
// db-page-corrupt.
Result<nlohmann::json> InjectFault(EnclaveImpl& enclave, SessionImpl& session, const nlohmann::json& args);
// {"query": KeyQuery json} -> the token's attestation statement for that key (tpm2 only).
Result<nlohmann::json> AttestKey(EnclaveImpl& enclave, SessionImpl& session, const nlohmann::json& args);
Bytes RotationStatementBody(const nlohmann::json& statement);

}  // namespace enclave::service
