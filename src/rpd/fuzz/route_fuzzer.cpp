// libFuzzer target for what enclave-rpd does with request bytes before the relying party sees
// them (Beast parses the HTTP itself): the route match with its percent-decoding, the media type
// and the JSON depth scan. The first byte picks the function, the rest is its input.
//   build-fuzz/fuzz/rpd_route_fuzzer src/rpd/fuzz/corpus/rpd_route_fuzzer
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/json_depth.h"
#include "rpd/router.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0:
      if (auto r = enclave::rpd::MatchRoute(in)) {
        // A parameter never names another resource or ends a C string early.
        if (r->param.find('/') != std::string::npos || r->param.find('\0') != std::string::npos)
          __builtin_trap();
      }
      break;
    case 1:
      (void)enclave::rpd::PercentDecode(in);
      break;
    case 2:
      (void)enclave::rpd::IsJsonMediaType(in);
      break;
    default:
      (void)enclave::JsonDepthWithin(in, data[0] / 4);
  }
  return 0;
}
