#include "webauthn/cose.h"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/sha.h>

#include <algorithm>
#include <string>

#include "webauthn/cbor_util.h"
#include "webauthn/reason.h"

namespace enclave::webauthn {
namespace {

struct PkeyCtxDeleter {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct ParamBldDeleter {
  void operator()(OSSL_PARAM_BLD* p) const { OSSL_PARAM_BLD_free(p); }
};
struct ParamDeleter {
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};

}  // namespace

std::vector<uint8_t> EncodeCoseEs256(std::span<const uint8_t, 32> x, std::span<const uint8_t, 32> y) {
  // Canonical CTAP2 order: unsigned labels before negative ones, each by value (1, 3, -1, -2, -3).
  cbor::Writer w;
  w.Map(5);
  w.Int(1);
  w.Int(kCoseKtyEc2);
  w.Int(3);
  w.Int(kCoseAlgEs256);
  w.Int(-1);
  w.Int(kCoseCrvP256);
  w.Int(-2);
  w.Bytes(x);
  w.Int(-3);
  w.Bytes(y);
  return w.Take();
}

Result<std::vector<uint8_t>> EncodeCoseEs256FromX962(std::span<const uint8_t> point) {
  if (point.size() != 65 || point[0] != 0x04) return Fail(kMalformed, "not an uncompressed P-256 point");
  return EncodeCoseEs256(point.subspan<1, 32>(), point.subspan<33, 32>());
}

Result<CoseKey> ParseCoseKey(std::span<const uint8_t> bytes) {
  ASSIGN_OR_RETURN(auto item, cbor::Decode(bytes));
  auto pairs = cbor::MapPairs(item.get());
  if (!pairs) return Fail(kMalformed, "COSE key is not a CBOR map with distinct labels");
  std::optional<int64_t> kty, alg, crv;
  std::optional<std::span<const uint8_t>> x, y;
  for (const cbor_pair& p : *pairs) {
    auto label = cbor::AsInt(p.key);
    if (!label) continue;  // text labels are private-use; none matter here
    switch (*label) {
      case 1:
        if (!(kty = cbor::AsInt(p.value))) return Fail(kMalformed, "COSE kty is not an integer");
        break;
      case 3:
        if (!(alg = cbor::AsInt(p.value))) return Fail(kMalformed, "COSE alg is not an integer");
        break;
      case -1:
        if (!(crv = cbor::AsInt(p.value))) return Fail(kMalformed, "COSE crv is not an integer");
        break;
      case -2:
        x = cbor::AsBytes(p.value);
        break;
      case -3:
        y = cbor::AsBytes(p.value);
        break;
      case -4:
        return Fail(kMalformed, "COSE key carries a private part");
      default:
        break;
    }
  }
  if (!kty || !alg) return Fail(kMalformed, "COSE key without kty or alg");
  if (*kty != kCoseKtyEc2 || *alg != kCoseAlgEs256)
    return Fail(kUnsupportedAlgorithm, "only ES256 (kty 2, alg -7) keys are accepted, got kty " +
                                           std::to_string(*kty) + " alg " + std::to_string(*alg));
  if (!crv) return Fail(kMalformed, "COSE EC2 key without crv");
  if (*crv != kCoseCrvP256) return Fail(kUnsupportedAlgorithm, "only the P-256 curve (crv 1) is accepted");
  if (!x || !y || x->size() != 32 || y->size() != 32)
    return Fail(kMalformed, "COSE P-256 key without 32-byte x and y");
  CoseKey key;
  std::copy(x->begin(), x->end(), key.x.begin());
  std::copy(y->begin(), y->end(), key.y.begin());
  return key;
}

std::array<uint8_t, 65> ToX962(const CoseKey& key) {
  std::array<uint8_t, 65> p{};
  p[0] = 0x04;
  std::copy(key.x.begin(), key.x.end(), p.begin() + 1);
  std::copy(key.y.begin(), key.y.end(), p.begin() + 33);
  return p;
}

Result<PkeyPtr> ToEvpPkey(const CoseKey& key) {
  auto point = ToX962(key);
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldDeleter> bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      !OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, SN_X9_62_prime256v1, 0) ||
      !OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()))
    return Fail(kMalformed, "cannot build the key's parameters");
  std::unique_ptr<OSSL_PARAM, ParamDeleter> params(OSSL_PARAM_BLD_to_param(bld.get()));
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxDeleter> ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* raw = nullptr;
  // fromdata decodes the point (EC_POINT_oct2point refuses one off the curve); public_check adds
  // the point at infinity and the order check, so no later call sees an invalid key.
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    ERR_clear_error();  // the refusal is reported here, not left on the thread's queue
    return Fail(kMalformed, "the public key is not a point on P-256");
  }
  PkeyPtr pkey(raw);
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxDeleter> check(
      EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) {
    ERR_clear_error();
    return Fail(kMalformed, "the public key is not a valid P-256 point");
  }
  return pkey;
}

Result<PkeyPtr> CoseToEvpPkey(std::span<const uint8_t> cbor) {
  ASSIGN_OR_RETURN(auto key, ParseCoseKey(cbor));
  return ToEvpPkey(key);
}

bool VerifyEs256(EVP_PKEY* key, std::span<const uint8_t> message, std::span<const uint8_t> der_sig) {
  if (!key || !EVP_PKEY_is_a(key, "EC")) return false;
  char group[64] = {};
  size_t group_len = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &group_len) != 1 ||
      std::string(group, group_len) != SN_X9_62_prime256v1)
    return false;
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit_ex(ctx.get(), nullptr, "SHA256", nullptr, nullptr, key, nullptr) != 1)
    return false;
  bool ok = EVP_DigestVerify(ctx.get(), der_sig.data(), der_sig.size(), message.data(), message.size()) == 1;
  if (!ok) ERR_clear_error();  // a bad signature is an answer, not an error to leave queued
  return ok;
}

std::array<uint8_t, 32> Sha256(std::span<const uint8_t> data) {
  std::array<uint8_t, 32> out{};
  SHA256(data.data(), data.size(), out.data());
  return out;
}

}  // namespace enclave::webauthn
