// libFuzzer target for everything enclaved does with a connection's bytes before a request
// reaches the service. Build with clang (see src/daemon/CMakeLists.txt) and run e.g.
//   build-clang/bin/frame_fuzzer -max_len=2000000 corpus/
#include <cstddef>
#include <cstdint>

#include "daemon/codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return enclave::daemon::internal::FuzzConnectionBytes(enclave::ByteView(data, size));
}
