// Byte containers shared by every layer. Secrets live in SecureBytes, which wipes itself.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/secure_memory.h"

namespace enclave {

using Bytes = std::vector<uint8_t>;
using ByteView = std::span<const uint8_t>;

// A byte buffer for secrets (private scalars, class keys, passcodes): the memory comes from the
// locked secret arena (common/secure_memory.h) and is wiped when the buffer is destroyed, shrinks
// or moves.
class SecureBytes {
 public:
  SecureBytes() = default;
  explicit SecureBytes(size_t n);
  explicit SecureBytes(ByteView v);
  SecureBytes(const SecureBytes& other);
  SecureBytes& operator=(const SecureBytes& other);
  SecureBytes(SecureBytes&& other) noexcept;
  SecureBytes& operator=(SecureBytes&& other) noexcept;
  ~SecureBytes();

  uint8_t* data() { return data_.data(); }
  const uint8_t* data() const { return data_.data(); }
  size_t size() const { return data_.size(); }
  bool empty() const { return data_.empty(); }
  ByteView view() const { return ByteView(data_.data(), data_.size()); }
  operator ByteView() const { return view(); }  // NOLINT(google-explicit-constructor)
  void clear();
  bool operator==(const SecureBytes& o) const;

 private:
  std::vector<uint8_t, SecureAllocator<uint8_t>> data_;
};

inline ByteView AsBytes(std::string_view s) {
  return ByteView(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}
inline Bytes ToBytes(std::string_view s) { return Bytes(s.begin(), s.end()); }
inline std::string ToString(ByteView b) { return std::string(b.begin(), b.end()); }

std::string HexEncode(ByteView b);
// Accepts upper or lower case; nullopt on odd length or a non-hex digit.
std::optional<Bytes> HexDecode(std::string_view hex);

// Constant-time comparison for MACs, hashes and secrets.
bool ConstantTimeEquals(ByteView a, ByteView b);

}  // namespace enclave
