// libFuzzer over the fleet format's parsers, which read bytes from any client of POST /v1/reports:
// the first byte picks the parser. Each must return a value or an error, never crash; a batch that
// parses must serialize to bytes that parse back to the same batch.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "fleet/report.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  using namespace enclave::fleet;
  switch (data[0] % 3) {
    case 0: {
      auto batch = ParseBatch(in);
      if (batch.ok()) {
        auto again = ParseBatch(SerializeBatch(*batch));
        if (!again.ok() || !(*again == *batch)) abort();
      }
      break;
    }
    case 1: {
      auto env = ParseEnvelope(in);
      if (env.ok()) (void)VerifyEnvelope(*env);
      break;
    }
    default:
      (void)ParseTime(in);
      break;
  }
  return 0;
}
