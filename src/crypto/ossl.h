// RAII owners for the OpenSSL handles the crypto layer uses. Private to src/crypto.
#pragma once

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/params.h>

#include <memory>
#include <string>

#include "common/error.h"
#include "crypto/ec.h"

namespace enclave::crypto::ossl {

template <auto Free>
struct Deleter {
  template <typename T>
  void operator()(T* p) const {
    Free(p);
  }
};

template <typename T>
void OpensslFree(T* p) {
  OPENSSL_free(p);
}
// Memory OpenSSL allocated for us (i2d output, PEM fields).
template <typename T>
using OpensslPtr = std::unique_ptr<T, Deleter<OpensslFree<T>>>;

using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX_free>>;
using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, Deleter<EVP_CIPHER_CTX_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free_all>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BN_free>>;
// For private scalars: wiped before release.
using SecretBnPtr = std::unique_ptr<BIGNUM, Deleter<BN_clear_free>>;
using BnCtxPtr = std::unique_ptr<BN_CTX, Deleter<BN_CTX_free>>;
using EcGroupPtr = std::unique_ptr<EC_GROUP, Deleter<EC_GROUP_free>>;
using EcPointPtr = std::unique_ptr<EC_POINT, Deleter<EC_POINT_free>>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG_free>>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, Deleter<OSSL_PARAM_BLD_free>>;
using ParamPtr = std::unique_ptr<OSSL_PARAM, Deleter<OSSL_PARAM_free>>;

}  // namespace enclave::crypto::ossl

namespace enclave::crypto::internal {

// Failures of OpenSSL's digest or random generator leave no safe result to return (a zero
// "random" key would be worse than stopping), so the process stops, as OpenSSL itself would.
[[noreturn]] void Fatal(const char* what);
// errSecParam with cause "bad-parameter".
Error ParamError(std::string message);
const EVP_MD* Md(Hash h);

}  // namespace enclave::crypto::internal
