#include "common/bytes.h"

#include <openssl/crypto.h>

namespace enclave {

SecureBytes::SecureBytes(size_t n) : data_(n) {}
SecureBytes::SecureBytes(ByteView v) : data_(v.begin(), v.end()) {}
SecureBytes::SecureBytes(const SecureBytes& other) : data_(other.data_) {}
SecureBytes& SecureBytes::operator=(const SecureBytes& other) {
  if (this != &other) {
    clear();
    data_ = other.data_;
  }
  return *this;
}
SecureBytes::SecureBytes(SecureBytes&& other) noexcept : data_(std::move(other.data_)) {
  other.data_.clear();
}
SecureBytes& SecureBytes::operator=(SecureBytes&& other) noexcept {
  if (this != &other) {
    clear();
    data_ = std::move(other.data_);
    other.data_.clear();
  }
  return *this;
}
SecureBytes::~SecureBytes() { clear(); }

void SecureBytes::clear() {
  if (!data_.empty()) OPENSSL_cleanse(data_.data(), data_.size());
  data_.clear();
}

bool SecureBytes::operator==(const SecureBytes& o) const {
  return ConstantTimeEquals(view(), o.view());
}

std::string HexEncode(ByteView b) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(b.size() * 2);
  for (uint8_t c : b) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 0xf]);
  }
  return out;
}

std::optional<Bytes> HexDecode(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  Bytes out(hex.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = nibble(hex[2 * i]);
    int lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return out;
}

bool ConstantTimeEquals(ByteView a, ByteView b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace enclave
