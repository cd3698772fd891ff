#include "crypto/ec.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cassert>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "crypto/ossl.h"

namespace enclave::crypto {
namespace internal {

[[noreturn]] void Fatal(const char* what) {
  std::fprintf(stderr, "enclave: fatal OpenSSL failure: %s\n", what);
  std::abort();
}

Error ParamError(std::string message) {
  return OSStatusError(errsec::kParam, std::move(message)).WithCause("bad-parameter");
}

const EVP_MD* Md(Hash h) {
  switch (h) {
    case Hash::kSha1:
      return EVP_sha1();
    case Hash::kSha224:
      return EVP_sha224();
    case Hash::kSha256:
      return EVP_sha256();
    case Hash::kSha384:
      return EVP_sha384();
    case Hash::kSha512:
      return EVP_sha512();
  }
  return EVP_sha256();
}

}  // namespace internal

namespace {

using internal::Fatal;
using internal::Md;
using internal::ParamError;

constexpr char kGroupName[] = "prime256v1";
constexpr size_t kFieldBytes = 32;
constexpr size_t kPointBytes = 1 + 2 * kFieldBytes;
constexpr size_t kMaxDerSignature = 2 + 2 * (2 + kFieldBytes + 1);

ossl::EcGroupPtr P256Group() { return ossl::EcGroupPtr(EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1)); }

bool IsP256(EVP_PKEY* pkey) {
  if (EVP_PKEY_is_a(pkey, "EC") != 1) return false;
  char name[64] = {};
  size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof(name), &len) != 1) {
    return false;
  }
  return std::strcmp(name, "prime256v1") == 0 || std::strcmp(name, "P-256") == 0;
}

// The uncompressed point of any EC key OpenSSL holds, whatever encoding it was read from.
std::optional<Bytes> UncompressedPoint(EVP_PKEY* pkey) {
  BIGNUM* x_raw = nullptr;
  BIGNUM* y_raw = nullptr;
  EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &x_raw);
  EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &y_raw);
  ossl::BnPtr x(x_raw), y(y_raw);
  if (!x || !y) return std::nullopt;
  Bytes point(kPointBytes);
  point[0] = 0x04;
  if (BN_bn2binpad(x.get(), point.data() + 1, kFieldBytes) != static_cast<int>(kFieldBytes) ||
      BN_bn2binpad(y.get(), point.data() + 1 + kFieldBytes, kFieldBytes) != static_cast<int>(kFieldBytes)) {
    return std::nullopt;
  }
  return point;
}

// Builds an EVP_PKEY from params on the named P-256 group; `selection` says public or keypair.
ossl::PkeyPtr PkeyFromParams(OSSL_PARAM* params, int selection) {
  ossl::PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1) return nullptr;
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_fromdata(ctx.get(), &raw, selection, params) != 1) return nullptr;
  return ossl::PkeyPtr(raw);
}

// OSSL_PARAM_BLD_to_param copies the private scalar into the param array; OpenSSL 3.0 has no
// OSSL_PARAM_clear_free, so wipe it here before the array is released.
void FreeParamsWipingSecrets(OSSL_PARAM* params) {
  if (!params) return;
  for (OSSL_PARAM* p = params; p->key != nullptr; ++p) {
    if (std::strcmp(p->key, OSSL_PKEY_PARAM_PRIV_KEY) == 0 && p->data) OPENSSL_cleanse(p->data, p->data_size);
  }
  OSSL_PARAM_free(params);
}

bool PublicKeyChecks(EVP_PKEY* pkey) {
  ossl::PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr));
  return ctx && EVP_PKEY_public_check(ctx.get()) == 1;
}

std::string Base64(ByteView data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data.data(),
                          static_cast<int>(data.size()));
  out.resize(n < 0 ? 0 : static_cast<size_t>(n));
  return out;
}

void AppendSshString(Bytes& out, ByteView s) {
  const uint32_t n = static_cast<uint32_t>(s.size());
  out.push_back(static_cast<uint8_t>(n >> 24));
  out.push_back(static_cast<uint8_t>(n >> 16));
  out.push_back(static_cast<uint8_t>(n >> 8));
  out.push_back(static_cast<uint8_t>(n));
  out.insert(out.end(), s.begin(), s.end());
}

}  // namespace

size_t DigestSize(Hash h) { return static_cast<size_t>(EVP_MD_get_size(Md(h))); }

std::string HashName(Hash h) {
  switch (h) {
    case Hash::kSha1:
      return "SHA1";
    case Hash::kSha224:
      return "SHA224";
    case Hash::kSha256:
      return "SHA256";
    case Hash::kSha384:
      return "SHA384";
    case Hash::kSha512:
      return "SHA512";
  }
  return "SHA256";
}

Bytes Digest(Hash h, ByteView data) {
  Bytes out(EVP_MAX_MD_SIZE);
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, Md(h), nullptr) != 1) {
    Fatal("EVP_Digest");
  }
  out.resize(len);
  return out;
}

DigestStream::DigestStream(Hash h) : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr || EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), Md(h), nullptr) != 1) {
    Fatal("EVP_DigestInit_ex");
  }
}

DigestStream::~DigestStream() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }

void DigestStream::Update(ByteView data) {
  if (EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data.data(), data.size()) != 1)
    Fatal("EVP_DigestUpdate");
}

Bytes DigestStream::Finish() {
  Bytes out(EVP_MAX_MD_SIZE);
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), out.data(), &len) != 1) Fatal("EVP_DigestFinal_ex");
  out.resize(len);
  return out;
}

Bytes RandomBytes(size_t n) {
  Bytes out(n);
  if (n > 0 && RAND_bytes(out.data(), static_cast<int>(n)) != 1) Fatal("RAND_bytes");
  return out;
}

SecureBytes RandomSecret(size_t n) {
  SecureBytes out(n);
  if (n > 0 && RAND_priv_bytes(out.data(), static_cast<int>(n)) != 1) {
    Fatal("RAND_priv_bytes");
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// EcPublicKey

struct EcPublicKey::Impl {
  ossl::PkeyPtr pkey;
  Bytes x963;
};

EcPublicKey::EcPublicKey(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EcPublicKey::EcPublicKey(EcPublicKey&&) noexcept = default;
EcPublicKey& EcPublicKey::operator=(EcPublicKey&&) noexcept = default;
EcPublicKey::~EcPublicKey() = default;
EcPublicKey::EcPublicKey(const EcPublicKey& other) : impl_(std::make_unique<Impl>()) {
  EVP_PKEY_up_ref(other.impl_->pkey.get());
  impl_->pkey.reset(other.impl_->pkey.get());
  impl_->x963 = other.impl_->x963;
}
EcPublicKey& EcPublicKey::operator=(const EcPublicKey& other) {
  if (this != &other) *this = EcPublicKey(other);
  return *this;
}

Result<EcPublicKey> EcPublicKey::FromX963(ByteView point) {
  if (point.size() != kPointBytes || point[0] != 0x04) {
    return ParamError("bad public key: expected a 65-byte uncompressed X9.63 point (04||X||Y), got " +
                      std::to_string(point.size()) + " bytes");
  }
  ossl::ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, kGroupName, 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) != 1) {
    return OSStatusError(errsec::kAllocate, "cannot build public key parameters");
  }
  ossl::ParamPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
  if (!params) return OSStatusError(errsec::kAllocate, "cannot build public key parameters");
  ossl::PkeyPtr pkey = PkeyFromParams(params.get(), EVP_PKEY_PUBLIC_KEY);
  if (!pkey || !PublicKeyChecks(pkey.get()))
    return ParamError("bad public key: the point is not on the P-256 curve");
  auto impl = std::make_unique<Impl>();
  impl->pkey = std::move(pkey);
  impl->x963.assign(point.begin(), point.end());
  return EcPublicKey(std::move(impl));
}

Result<EcPublicKey> EcPublicKey::FromSpkiDer(ByteView der) {
  const unsigned char* p = der.data();
  ossl::PkeyPtr pkey(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
  if (!pkey) return ParamError("bad public key: not a valid SubjectPublicKeyInfo DER public key");
  if (p != der.data() + der.size()) return ParamError("bad public key: trailing bytes after the DER");
  if (!IsP256(pkey.get())) return ParamError("bad public key: only EC P-256 (prime256v1) keys are supported");
  auto point = UncompressedPoint(pkey.get());
  if (!point) return ParamError("bad public key: cannot read the EC point");
  ASSIGN_OR_RETURN(EcPublicKey key, FromX963(*point));
  // Only the canonical form (named curve OID, uncompressed point, strict DER) is accepted:
  // OpenSSL maps explicit curve parameters to P-256 even when the cofactor is wrong or missing,
  // and tolerates some BER; refusing every other form keeps the decision simple and uniform.
  const Bytes canonical = key.SpkiDer();
  if (!std::equal(canonical.begin(), canonical.end(), der.begin(), der.end())) {
    return ParamError(
        "bad public key: only named-curve P-256 SubjectPublicKeyInfo DER with an uncompressed point is "
        "supported");
  }
  return key;
}

Result<EcPublicKey> EcPublicKey::FromPem(std::string_view pem) {
  ossl::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return OSStatusError(errsec::kAllocate, "cannot allocate a BIO");
  char* name = nullptr;
  char* header = nullptr;
  unsigned char* data = nullptr;
  long len = 0;
  const bool read = PEM_read_bio(bio.get(), &name, &header, &data, &len) == 1;
  ossl::OpensslPtr<char> name_owner(name), header_owner(header);
  ossl::OpensslPtr<unsigned char> data_owner(data);
  if (!read || std::strcmp(name, PEM_STRING_PUBLIC) != 0) {
    return ParamError("bad public key: expected a PEM \"PUBLIC KEY\" block");
  }
  // The same rules as DER: PEM is only its base64 armour.
  return FromSpkiDer(ByteView(data, static_cast<size_t>(len)));
}

Result<EcPublicKey> EcPublicKey::Parse(ByteView any) {
  const std::string_view text(reinterpret_cast<const char*>(any.data()), any.size());
  if (text.find("-----BEGIN") != std::string_view::npos) return FromPem(text);
  if (any.size() == kPointBytes && any[0] == 0x04) return FromX963(any);
  if (!any.empty() && any[0] == 0x30) return FromSpkiDer(any);
  return ParamError("bad public key: expected PEM, SubjectPublicKeyInfo DER or a 65-byte X9.63 point");
}

Bytes EcPublicKey::X963() const { return impl_->x963; }

Bytes EcPublicKey::SpkiDer() const {
  unsigned char* out = nullptr;
  int n = i2d_PUBKEY(impl_->pkey.get(), &out);
  if (n <= 0) return {};
  ossl::OpensslPtr<unsigned char> owner(out);
  return Bytes(out, out + n);
}

std::string EcPublicKey::SpkiPem() const {
  ossl::BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), impl_->pkey.get()) != 1) return {};
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

std::string EcPublicKey::OpenSsh(std::string_view comment) const {
  constexpr std::string_view kType = "ecdsa-sha2-nistp256";
  Bytes blob;
  AppendSshString(blob, AsBytes(kType));
  AppendSshString(blob, AsBytes("nistp256"));
  AppendSshString(blob, impl_->x963);
  std::string line = std::string(kType) + " " + Base64(blob);
  if (!comment.empty()) line += " " + std::string(comment);
  return line;
}

bool EcPublicKey::VerifyDigestDer(ByteView digest, ByteView der_signature) const {
  ossl::PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, impl_->pkey.get(), nullptr));
  if (!ctx || EVP_PKEY_verify_init(ctx.get()) != 1) return false;
  // OpenSSL re-encodes the parsed signature and rejects any non-DER (BER, trailing bytes) form.
  return EVP_PKEY_verify(ctx.get(), der_signature.data(), der_signature.size(), digest.data(),
                         digest.size()) == 1;
}

// ---------------------------------------------------------------------------------------------
// EcPrivateKey

struct EcPrivateKey::Impl {
  ossl::PkeyPtr pkey;
  Bytes public_x963;
  // A signing context made once and reused (making one looks up the provider's key management
  // and duplicates key data each time); a second concurrent signer makes its own.
  std::mutex sign_mu;
  ossl::PkeyCtxPtr sign_ctx;
};

EcPrivateKey::EcPrivateKey(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EcPrivateKey::EcPrivateKey(EcPrivateKey&&) noexcept = default;
EcPrivateKey& EcPrivateKey::operator=(EcPrivateKey&&) noexcept = default;
EcPrivateKey::~EcPrivateKey() = default;

Result<EcPrivateKey> EcPrivateKey::Generate() {
  ossl::PkeyPtr pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!pkey) return OSStatusError(errsec::kInternal, "P-256 key generation failed");
  auto point = UncompressedPoint(pkey.get());
  if (!point) return OSStatusError(errsec::kInternal, "cannot read the generated public key");
  auto impl = std::make_unique<Impl>();
  impl->pkey = std::move(pkey);
  impl->public_x963 = std::move(*point);
  return EcPrivateKey(std::move(impl));
}

Result<EcPrivateKey> EcPrivateKey::FromScalar(ByteView d) {
  if (d.size() != kFieldBytes) {
    return ParamError("bad private key: expected a 32-byte scalar, got " + std::to_string(d.size()) +
                      " bytes");
  }
  ossl::EcGroupPtr group = P256Group();
  ossl::BnCtxPtr bn_ctx(BN_CTX_new());
  ossl::SecretBnPtr scalar(BN_bin2bn(d.data(), static_cast<int>(d.size()), nullptr));
  if (!group || !bn_ctx || !scalar) return OSStatusError(errsec::kAllocate, "out of memory");
  if (BN_is_zero(scalar.get()) || BN_cmp(scalar.get(), EC_GROUP_get0_order(group.get())) >= 0) {
    return ParamError("bad private key: the scalar is outside [1, n-1]");
  }
  // OpenSSL 3.0 does not derive the public point on import, so compute Q = d·G here.
  ossl::EcPointPtr q(EC_POINT_new(group.get()));
  Bytes point(kPointBytes);
  if (!q || EC_POINT_mul(group.get(), q.get(), scalar.get(), nullptr, nullptr, bn_ctx.get()) != 1 ||
      EC_POINT_point2oct(group.get(), q.get(), POINT_CONVERSION_UNCOMPRESSED, point.data(), point.size(),
                         bn_ctx.get()) != kPointBytes) {
    return OSStatusError(errsec::kInternal, "cannot compute the public key");
  }
  ossl::ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, kGroupName, 0) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, scalar.get()) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) != 1) {
    return OSStatusError(errsec::kAllocate, "cannot build private key parameters");
  }
  std::unique_ptr<OSSL_PARAM, ossl::Deleter<FreeParamsWipingSecrets>> params(
      OSSL_PARAM_BLD_to_param(bld.get()));
  if (!params) return OSStatusError(errsec::kAllocate, "cannot build private key parameters");
  ossl::PkeyPtr pkey = PkeyFromParams(params.get(), EVP_PKEY_KEYPAIR);
  if (!pkey) return ParamError("bad private key: OpenSSL rejected the scalar");
  auto impl = std::make_unique<Impl>();
  impl->pkey = std::move(pkey);
  impl->public_x963 = std::move(point);
  return EcPrivateKey(std::move(impl));
}

SecureBytes EcPrivateKey::Scalar() const {
  BIGNUM* raw = nullptr;
  EVP_PKEY_get_bn_param(impl_->pkey.get(), OSSL_PKEY_PARAM_PRIV_KEY, &raw);
  ossl::SecretBnPtr d(raw);
  SecureBytes out(kFieldBytes);
  if (!d ||
      BN_bn2binpad(d.get(), out.data(), static_cast<int>(kFieldBytes)) != static_cast<int>(kFieldBytes)) {
    return SecureBytes();
  }
  return out;
}

EcPublicKey EcPrivateKey::PublicKey() const {
  auto key = EcPublicKey::FromX963(impl_->public_x963);
  // The point was computed from a valid scalar, so parsing it cannot fail.
  assert(key.ok());
  return std::move(key).value();
}

const Bytes& EcPrivateKey::PublicKeyX963() const { return impl_->public_x963; }

namespace {

Result<Bytes> SignWith(EVP_PKEY_CTX* ctx, ByteView digest) {
  // An ECDSA P-256 DER signature is at most 72 bytes; the buffer is sized once, no size query.
  size_t len = kMaxDerSignature;
  Bytes sig(len);
  if (EVP_PKEY_sign(ctx, sig.data(), &len, digest.data(), digest.size()) != 1) {
    return OSStatusError(errsec::kInternal, "ECDSA signing failed");
  }
  sig.resize(len);
  return sig;
}

ossl::PkeyCtxPtr NewSignContext(EVP_PKEY* pkey) {
  ossl::PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr));
  if (!ctx || EVP_PKEY_sign_init(ctx.get()) != 1) return nullptr;
  return ctx;
}

}  // namespace

Result<Bytes> EcPrivateKey::SignDigestDer(ByteView digest) const {
  if (digest.empty()) return ParamError("bad digest size: got 0, expected a non-empty digest");
  std::unique_lock lock(impl_->sign_mu, std::try_to_lock);
  if (lock.owns_lock()) {
    if (!impl_->sign_ctx) impl_->sign_ctx = NewSignContext(impl_->pkey.get());
    if (!impl_->sign_ctx) return OSStatusError(errsec::kInternal, "ECDSA signing failed");
    return SignWith(impl_->sign_ctx.get(), digest);
  }
  ossl::PkeyCtxPtr ctx = NewSignContext(impl_->pkey.get());
  if (!ctx) return OSStatusError(errsec::kInternal, "ECDSA signing failed");
  return SignWith(ctx.get(), digest);
}

Result<SecureBytes> EcPrivateKey::SharedSecret(const EcPublicKey& peer) const {
  ossl::PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, impl_->pkey.get(), nullptr));
  size_t len = 0;
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 ||
      EVP_PKEY_derive_set_peer_ex(ctx.get(), peer.impl().pkey.get(), 1) != 1 ||
      EVP_PKEY_derive(ctx.get(), nullptr, &len) != 1) {
    return ParamError("ECDH failed: the peer public key is not usable with this key");
  }
  SecureBytes secret(len);
  if (EVP_PKEY_derive(ctx.get(), secret.data(), &len) != 1 || len != kFieldBytes) {
    return OSStatusError(errsec::kInternal, "ECDH derivation failed");
  }
  return secret;
}

// ---------------------------------------------------------------------------------------------
// Signature encodings, KDF, AES-GCM

Result<Bytes> DerSignatureToRaw(ByteView der) {
  const unsigned char* p = der.data();
  ossl::EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!sig || p != der.data() + der.size())
    return ParamError("bad signature: not an X9.62 DER ECDSA signature");
  const BIGNUM* r = ECDSA_SIG_get0_r(sig.get());
  const BIGNUM* s = ECDSA_SIG_get0_s(sig.get());
  if (BN_is_negative(r) || BN_is_negative(s)) return ParamError("bad signature: negative r or s");
  Bytes raw(2 * kFieldBytes);
  if (BN_bn2binpad(r, raw.data(), kFieldBytes) != static_cast<int>(kFieldBytes) ||
      BN_bn2binpad(s, raw.data() + kFieldBytes, kFieldBytes) != static_cast<int>(kFieldBytes)) {
    return ParamError("bad signature: r or s longer than 32 bytes");
  }
  return raw;
}

Result<Bytes> RawSignatureToDer(ByteView raw) {
  if (raw.size() != 2 * kFieldBytes) {
    return ParamError("bad signature: expected 64 bytes r||s, got " + std::to_string(raw.size()) + " bytes");
  }
  ossl::EcdsaSigPtr sig(ECDSA_SIG_new());
  ossl::BnPtr r(BN_bin2bn(raw.data(), kFieldBytes, nullptr));
  ossl::BnPtr s(BN_bin2bn(raw.data() + kFieldBytes, kFieldBytes, nullptr));
  if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) {
    return OSStatusError(errsec::kAllocate, "out of memory");
  }
  r.release();  // owned by sig now
  s.release();
  unsigned char* out = nullptr;
  int n = i2d_ECDSA_SIG(sig.get(), &out);
  if (n <= 0) return OSStatusError(errsec::kInternal, "cannot encode the signature");
  ossl::OpensslPtr<unsigned char> owner(out);
  return Bytes(out, out + n);
}

}  // namespace enclave::crypto
