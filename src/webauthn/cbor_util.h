// CBOR for the WebAuthn formats, private to src/webauthn: a canonical writer (CTAP2 order is the
// caller's), a bounds scanner run before libcbor sees any byte, and accessors over libcbor items.
#pragma once

#include <cbor.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace enclave::webauthn::cbor {

// Deep enough for every format here (an attestation object's x5c is 3 levels down), shallow
// enough that libcbor's recursive release of an item never threatens a worker thread's stack.
inline constexpr int kMaxDepth = 16;
inline constexpr size_t kMaxMapEntries = 64;

class Writer {
 public:
  void Uint(uint64_t v) { Head(0, v); }
  void Int(int64_t v);
  void Bytes(std::span<const uint8_t> b);
  void Text(std::string_view s);
  void Array(size_t n) { Head(4, n); }
  void Map(size_t n) { Head(5, n); }
  // An item encoded elsewhere (an extension's value).
  void Raw(std::span<const uint8_t> b) { out_.insert(out_.end(), b.begin(), b.end()); }
  std::vector<uint8_t> Take() { return std::move(out_); }

 private:
  void Head(uint8_t major, uint64_t v);
  std::vector<uint8_t> out_;
};

// The length of the one well-formed item at the start of `in`: definite lengths only (CTAP2
// forbids indefinite ones), no reserved additional-information values, every count within the
// bytes that remain, nesting at most `max_depth`. Iterative, so hostile nesting costs no stack.
Result<size_t> ItemLength(std::span<const uint8_t> in, int max_depth = kMaxDepth);

struct ItemDeleter {
  void operator()(cbor_item_t* item) const { cbor_decref(&item); }
};
using Item = std::unique_ptr<cbor_item_t, ItemDeleter>;

// Decodes the item at the start of `in` (after ItemLength's checks); `consumed` gets its length.
// Without `consumed`, the item must fill `in` exactly.
Result<Item> Decode(std::span<const uint8_t> in, size_t* consumed = nullptr);

std::optional<int64_t> AsInt(const cbor_item_t* item);
std::optional<std::span<const uint8_t>> AsBytes(const cbor_item_t* item);
std::optional<std::string_view> AsText(const cbor_item_t* item);
// A map's pairs, or nullopt when `item` is not a map or two of its keys are equal (ints, texts or
// byte strings compared by value), or it has more than kMaxMapEntries entries: a duplicate key is
// ambiguous, so the whole map is refused.
std::optional<std::span<cbor_pair>> MapPairs(const cbor_item_t* item);

}  // namespace enclave::webauthn::cbor
