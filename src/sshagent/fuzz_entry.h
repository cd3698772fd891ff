// Everything the agent does with a peer's bytes before a request reaches the enclave: split a
// stream into frames, parse each request, and what the request carries (key blobs, session-binds
// and their host-key signatures, identities answers). Shared by the libFuzzer target and the
// random-input test, so both exercise the same code.
#pragma once

#include "common/bytes.h"

namespace enclave::sshagent::internal {

// Returns 0 (libFuzzer's convention); crashes, leaks and sanitizer reports are the findings.
int FuzzAgentBytes(ByteView stream);

}  // namespace enclave::sshagent::internal
