// libFuzzer target for the ssh agent's parsing of peer bytes; `make fuzz` builds and runs it on
// a copy of corpus/agent_fuzzer (agent messages, and session-binds with valid ed25519 and ECDSA
// host-key signatures, so that the verification path is reached from the start).
#include <cstddef>
#include <cstdint>

#include "sshagent/fuzz_entry.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return enclave::sshagent::internal::FuzzAgentBytes(enclave::ByteView(data, size));
}
