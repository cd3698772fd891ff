// libFuzzer target: the event journal as read back from the keychain database, whose rows any
// process of the user can edit. Input: kind, cause, kids and details separated by 0xff bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "keychain/keychain.h"

using namespace enclave;

namespace {

std::string HexLiteral(const std::string& s) {
  return "CAST(X'" + HexEncode(AsBytes(s)) + "' AS TEXT)";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static std::unique_ptr<keychain::Keychain> kc = [] {
    auto k = keychain::Keychain::OpenInMemory();
    if (!k.ok()) std::abort();
    return std::move(k).value();
  }();
  std::vector<std::string> fields(4);
  size_t f = 0;
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == 0xff && f < 3) {
      ++f;
    } else {
      fields[f] += static_cast<char>(data[i]);
    }
  }
  if (!kc->ExecForTesting("DELETE FROM events").ok()) std::abort();
  const std::string sql = "INSERT INTO events (time_ms, kind, cause, kids, details) VALUES (1, " +
                          HexLiteral(fields[0]) + ", " + HexLiteral(fields[1]) + ", " + HexLiteral(fields[2]) +
                          ", " + HexLiteral(fields[3]) + ")";
  if (!kc->ExecForTesting(sql).ok()) return 0;
  auto events = kc->Events();
  if (events.ok()) {
    // What reads back must append and read back again.
    for (const auto& e : *events) {
      if (!kc->AppendEvent(e).ok()) std::abort();
    }
    if (!kc->Events().ok()) std::abort();
  }
  return 0;
}
