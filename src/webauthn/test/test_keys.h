// P-256 keys for the tests: generate, sign (DER), and the COSE form of the public key.
#pragma once

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <span>
#include <vector>

#include "webauthn/cose.h"

namespace enclave::webauthn::testing {

class TestKey {
 public:
  TestKey() : key_(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")) {}
  EVP_PKEY* get() const { return key_.get(); }

  std::vector<uint8_t> Sign(std::span<const uint8_t> message) const {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    size_t len = 0;
    EVP_DigestSignInit_ex(ctx, nullptr, "SHA256", nullptr, nullptr, key_.get(), nullptr);
    EVP_DigestSign(ctx, nullptr, &len, message.data(), message.size());
    std::vector<uint8_t> sig(len);
    EVP_DigestSign(ctx, sig.data(), &len, message.data(), message.size());
    sig.resize(len);
    EVP_MD_CTX_free(ctx);
    return sig;
  }

  std::vector<uint8_t> X962() const {
    std::vector<uint8_t> point(65);
    size_t len = 0;
    EVP_PKEY_get_octet_string_param(key_.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size(), &len);
    point.resize(len);
    return point;
  }

  std::vector<uint8_t> Cose() const { return *EncodeCoseEs256FromX962(X962()); }

 private:
  PkeyPtr key_;
};

inline std::vector<uint8_t> Concat(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  std::vector<uint8_t> out(a.begin(), a.end());
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

}  // namespace enclave::webauthn::testing
