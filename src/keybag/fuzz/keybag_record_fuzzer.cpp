// libFuzzer target: keybag.json as read from disk (a file another process of the user, or a
// damaged disk, may have written). Whatever parses must survive a write and a re-read unchanged.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "keybag/attempts.h"
#include "keybag/primitives.h"
#include "keybag/record.h"

using namespace enclave;
using namespace enclave::keybag;
using namespace enclave::keybag::internal;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto record = ParseRecord(ByteView(data, size));
  if (!record.ok()) return 0;
  const std::string text = SerializeRecord(*record);
  auto again = ParseRecord(AsBytes(text));
  if (!again.ok() || SerializeRecord(*again) != text) std::abort();
  // The unwrap path reads the wrapped class keys' lengths from the file.
  const SecureBytes kek(32);
  for (const auto& [code, key] : record->class_keys) (void)UnwrapSecret(kek, AsBytes(code), key.wrapped);
  // Attempt counting starts from the file's counters.
  KeybagOptions options;
  options.lockout_duration = std::chrono::seconds(10LL * 365 * 86400);
  (void)AttemptsAllowed(*record, int64_t{1} << 31);
  (void)CountFailure(*record, options, int64_t{1} << 31, nullptr);
  return 0;
}
