// libFuzzer target: access-control policy text. The stored form comes back from the keychain
// database (which the user's processes can edit); the names come from clients.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "auth/policy.h"

using namespace enclave;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  if (auto p = auth::AccessPolicy::Deserialize(text); p.ok()) {
    (void)p->Names();
    (void)p->Describe("aku");
    (void)p->has_constraints();
    // The canonical form is a fixed point: what we store reads back as itself.
    const std::string canonical = p->Serialize();
    auto again = auth::AccessPolicy::Deserialize(canonical);
    if (!again.ok() || again->Serialize() != canonical) std::abort();
  }
  std::vector<std::string> names;
  std::string cur;
  for (char c : text) {
    if (c == ',' || c == '\n') {
      names.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  names.push_back(cur);
  for (bool token_key : {true, false}) {
    if (auto p = auth::AccessPolicy::FromNames(names, token_key); p.ok()) {
      (void)auth::AccessPolicy::Deserialize(p->Serialize());
    }
  }
  return 0;
}
