// libFuzzer target for the ssh agent's parsing of peer bytes. Build with clang (see
// src/sshagent/CMakeLists.txt) and run e.g.
//   build-clang/bin/agent_fuzzer -max_len=300000 corpus/
#include <cstddef>
#include <cstdint>

#include "sshagent/fuzz_entry.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return enclave::sshagent::internal::FuzzAgentBytes(enclave::ByteView(data, size));
}
