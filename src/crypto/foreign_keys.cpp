#include "crypto/foreign_keys.h"

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>

#include "crypto/ossl.h"

namespace enclave::crypto {
namespace {

// A public key built from OSSL_PARAMs (EVP_PKEY_fromdata), or null.
ossl::PkeyPtr FromData(const char* type, OSSL_PARAM* params) {
  ossl::PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* pkey = nullptr;
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
    return nullptr;
  }
  return ossl::PkeyPtr(pkey);
}

bool DigestVerify(EVP_PKEY* pkey, const EVP_MD* md, ByteView message, ByteView signature) {
  ossl::MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, pkey) != 1) return false;
  return EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), message.data(), message.size()) == 1;
}

ossl::BnPtr Bn(ByteView b) { return ossl::BnPtr(BN_bin2bn(b.data(), static_cast<int>(b.size()), nullptr)); }

}  // namespace

bool VerifyEd25519(ByteView public_key, ByteView message, ByteView signature) {
  if (public_key.size() != 32 || signature.size() != 64) return false;
  ossl::PkeyPtr pkey(
      EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, public_key.data(), public_key.size()));
  return pkey && DigestVerify(pkey.get(), nullptr, message, signature);
}

bool VerifyEcdsa(std::string_view curve, ByteView point, Hash hash, ByteView message, ByteView r,
                 ByteView s) {
  const std::string group(curve);
  if (group != "P-256" && group != "P-384" && group != "P-521") return false;
  if (point.empty() || point.size() > 133 || r.size() > 66 || s.size() > 66) return false;
  ossl::ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group.c_str(), 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) != 1) {
    return false;
  }
  ossl::ParamPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
  if (!params) return false;
  ossl::PkeyPtr pkey = FromData("EC", params.get());
  if (!pkey) return false;
  ossl::EcdsaSigPtr sig(ECDSA_SIG_new());
  ossl::BnPtr br = Bn(r), bs = Bn(s);
  if (!sig || !br || !bs || ECDSA_SIG_set0(sig.get(), br.get(), bs.get()) != 1) return false;
  (void)br.release();  // owned by sig now
  (void)bs.release();
  unsigned char* der = nullptr;
  const int len = i2d_ECDSA_SIG(sig.get(), &der);
  if (len <= 0) return false;
  ossl::OpensslPtr<unsigned char> owned(der);
  return DigestVerify(pkey.get(), internal::Md(hash), message, ByteView(der, static_cast<size_t>(len)));
}

bool VerifyRsaPkcs1(ByteView modulus, ByteView exponent, Hash hash, ByteView message, ByteView signature) {
  ossl::BnPtr n = Bn(modulus), e = Bn(exponent);
  if (!n || !e) return false;
  const int bits = BN_num_bits(n.get());
  if (bits < 2048 || bits > 16384 || BN_is_zero(e.get()) || BN_num_bits(e.get()) > 64) return false;
  ossl::ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get()) != 1) {
    return false;
  }
  ossl::ParamPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
  if (!params) return false;
  ossl::PkeyPtr pkey = FromData("RSA", params.get());
  return pkey && DigestVerify(pkey.get(), internal::Md(hash), message, signature);
}

std::string SshFingerprint(ByteView key_blob) {
  const Bytes digest = Digest(Hash::kSha256, key_blob);
  std::string b64(4 * ((digest.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()), digest.data(),
                                static_cast<int>(digest.size()));
  b64.resize(n < 0 ? 0 : static_cast<size_t>(n));
  while (!b64.empty() && b64.back() == '=') b64.pop_back();
  return "SHA256:" + b64;
}

}  // namespace enclave::crypto
