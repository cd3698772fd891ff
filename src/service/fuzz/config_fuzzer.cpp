// libFuzzer target: config.json and state.json as read from the enclave home, which any process
// of the user can write. Whatever loads must answer every accessor without throwing.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "service/config.h"

using namespace enclave;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  if (auto c = service::Config::Parse(text); c.ok()) {
    (void)c->biometry();
    (void)c->tpm2_tcti();
    (void)c->passcode_max_attempts();
    (void)c->passcode_lockout_seconds();
    const std::string dumped = c->ToJson().dump();
    if (!service::Config::Parse(dumped).ok()) std::abort();
  }
  return 0;
}
