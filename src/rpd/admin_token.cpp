#include "rpd/admin_token.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <fstream>
#include <iterator>

namespace enclave::rpd {
namespace {

std::array<unsigned char, 32> Digest(std::string_view s) {
  std::array<unsigned char, 32> d{};
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), d.data());
  return d;
}

std::string_view Trim(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

Result<AdminToken> AdminToken::FromFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return OSStatusError(errsec::kIO, "cannot read the admin token file " + path);
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string_view secret = Trim(content);
  if (secret.empty()) {
    OPENSSL_cleanse(content.data(), content.size());
    return OSStatusError(errsec::kParam, "the admin token file " + path + " is empty");
  }
  AdminToken t = FromSecret(secret);
  OPENSSL_cleanse(content.data(), content.size());
  return t;
}

AdminToken AdminToken::FromSecret(std::string_view secret) {
  AdminToken t;
  t.digest_ = Digest(secret);
  return t;
}

bool AdminToken::Accepts(std::string_view authorization) const {
  constexpr std::string_view kScheme = "Bearer ";
  if (authorization.size() <= kScheme.size()) return false;
  // The scheme is case-insensitive (RFC 7235); only the token itself is secret.
  for (size_t i = 0; i < kScheme.size(); ++i) {
    char c = authorization[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    char w = kScheme[i];
    if (w >= 'A' && w <= 'Z') w = static_cast<char>(w - 'A' + 'a');
    if (c != w) return false;
  }
  auto presented = Digest(Trim(authorization.substr(kScheme.size())));
  return CRYPTO_memcmp(presented.data(), digest_.data(), digest_.size()) == 0;
}

}  // namespace enclave::rpd
