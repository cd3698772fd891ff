#include "webauthn/cbor_util.h"

#include <algorithm>
#include <cstring>

#include "webauthn/reason.h"

namespace enclave::webauthn::cbor {

void Writer::Head(uint8_t major, uint64_t v) {
  uint8_t m = static_cast<uint8_t>(major << 5);
  if (v < 24) {
    out_.push_back(m | static_cast<uint8_t>(v));
    return;
  }
  int bytes = v <= 0xff ? 1 : v <= 0xffff ? 2 : v <= 0xffffffffULL ? 4 : 8;
  out_.push_back(m | static_cast<uint8_t>(bytes == 1 ? 24 : bytes == 2 ? 25 : bytes == 4 ? 26 : 27));
  for (int i = bytes - 1; i >= 0; --i) out_.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

void Writer::Int(int64_t v) {
  if (v >= 0) {
    Head(0, static_cast<uint64_t>(v));
  } else {
    Head(1, static_cast<uint64_t>(-(v + 1)));
  }
}

void Writer::Bytes(std::span<const uint8_t> b) {
  Head(2, b.size());
  Raw(b);
}

void Writer::Text(std::string_view s) {
  Head(3, s.size());
  out_.insert(out_.end(), s.begin(), s.end());
}

Result<size_t> ItemLength(std::span<const uint8_t> in, int max_depth) {
  // remaining[i]: items still to read at nesting level i; the outermost level holds one item.
  std::vector<uint64_t> remaining{1};
  size_t pos = 0;
  while (!remaining.empty()) {
    if (pos >= in.size()) return Fail(kMalformed, "CBOR item ends early");
    uint8_t initial = in[pos++];
    uint8_t major = initial >> 5, info = initial & 31;
    uint64_t value = info;
    if (info >= 24) {
      if (info > 27) return Fail(kMalformed, "CBOR indefinite length or reserved value");
      size_t n = size_t{1} << (info - 24);
      if (in.size() - pos < n) return Fail(kMalformed, "CBOR item ends early");
      value = 0;
      for (size_t i = 0; i < n; ++i) value = (value << 8) | in[pos++];
    }
    --remaining.back();
    uint64_t children = 0;
    switch (major) {
      case 2:
      case 3:
        if (in.size() - pos < value) return Fail(kMalformed, "CBOR string longer than its input");
        pos += static_cast<size_t>(value);
        break;
      case 4:
        children = value;
        break;
      case 5:
        if (value > (in.size() - pos) / 2) return Fail(kMalformed, "CBOR map longer than its input");
        children = value * 2;
        break;
      case 6:
        children = 1;
        break;
      case 7:
        if (info == 24 && value < 32) return Fail(kMalformed, "CBOR simple value in two bytes");
        break;
      default:
        break;
    }
    // Every item takes at least one byte, so a count beyond the input is refused before any use.
    if (children > in.size() - pos) return Fail(kMalformed, "CBOR container longer than its input");
    if (children > 0) {
      if (static_cast<int>(remaining.size()) >= max_depth) return Fail(kMalformed, "CBOR nested too deep");
      remaining.push_back(children);
    }
    while (!remaining.empty() && remaining.back() == 0) remaining.pop_back();
  }
  return pos;
}

Result<Item> Decode(std::span<const uint8_t> in, size_t* consumed) {
  ASSIGN_OR_RETURN(size_t length, ItemLength(in));
  if (!consumed && length != in.size()) return Fail(kMalformed, "bytes after the CBOR item");
  cbor_load_result result{};
  Item item(cbor_load(in.data(), length, &result));
  if (!item || result.error.code != CBOR_ERR_NONE || result.read != length)
    return Fail(kMalformed, "CBOR does not decode");
  if (consumed) *consumed = length;
  return item;
}

std::optional<int64_t> AsInt(const cbor_item_t* item) {
  if (cbor_isa_uint(item)) {
    uint64_t v = cbor_get_int(item);
    if (v > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
    return static_cast<int64_t>(v);
  }
  if (cbor_isa_negint(item)) {
    uint64_t v = cbor_get_int(item);
    if (v > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
    return -1 - static_cast<int64_t>(v);
  }
  return std::nullopt;
}

std::optional<std::span<const uint8_t>> AsBytes(const cbor_item_t* item) {
  if (!cbor_isa_bytestring(item) || !cbor_bytestring_is_definite(item)) return std::nullopt;
  return std::span<const uint8_t>(cbor_bytestring_handle(item), cbor_bytestring_length(item));
}

std::optional<std::string_view> AsText(const cbor_item_t* item) {
  if (!cbor_isa_string(item) || !cbor_string_is_definite(item)) return std::nullopt;
  return std::string_view(reinterpret_cast<const char*>(cbor_string_handle(item)), cbor_string_length(item));
}

namespace {

bool KeysEqual(const cbor_item_t* a, const cbor_item_t* b) {
  if (auto x = AsInt(a), y = AsInt(b); x && y) return *x == *y;
  if (auto x = AsText(a), y = AsText(b); x && y) return *x == *y;
  if (auto x = AsBytes(a), y = AsBytes(b); x && y) return std::ranges::equal(*x, *y);
  return false;
}

}  // namespace

std::optional<std::span<cbor_pair>> MapPairs(const cbor_item_t* item) {
  if (!cbor_isa_map(item) || !cbor_map_is_definite(item)) return std::nullopt;
  std::span<cbor_pair> pairs(cbor_map_handle(item), cbor_map_size(item));
  // Every map of these formats has a handful of entries; the bound keeps the pairwise check cheap.
  if (pairs.size() > kMaxMapEntries) return std::nullopt;
  for (size_t i = 0; i < pairs.size(); ++i) {
    for (size_t j = i + 1; j < pairs.size(); ++j) {
      if (KeysEqual(pairs[i].key, pairs[j].key)) return std::nullopt;
    }
  }
  return pairs;
}

}  // namespace enclave::webauthn::cbor
