#include <algorithm>
#include <cstring>

#include "crypto/ec.h"
#include "crypto/ossl.h"

namespace enclave::crypto {
namespace {

using internal::Fatal;
using internal::Md;
using internal::ParamError;

}  // namespace

SecureBytes X963Kdf(Hash h, ByteView shared_secret, ByteView shared_info, size_t out_len) {
  SecureBytes out(out_len);
  const size_t hash_len = DigestSize(h);
  ossl::MdCtxPtr ctx(EVP_MD_CTX_new());
  SecureBytes block(hash_len);
  size_t done = 0;
  for (uint32_t counter = 1; done < out_len; ++counter) {
    const uint8_t be[4] = {static_cast<uint8_t>(counter >> 24), static_cast<uint8_t>(counter >> 16),
                           static_cast<uint8_t>(counter >> 8), static_cast<uint8_t>(counter)};
    unsigned int n = 0;
    if (!ctx || EVP_DigestInit_ex(ctx.get(), Md(h), nullptr) != 1 ||
        EVP_DigestUpdate(ctx.get(), shared_secret.data(), shared_secret.size()) != 1 ||
        EVP_DigestUpdate(ctx.get(), be, sizeof(be)) != 1 ||
        EVP_DigestUpdate(ctx.get(), shared_info.data(), shared_info.size()) != 1 ||
        EVP_DigestFinal_ex(ctx.get(), block.data(), &n) != 1) {
      Fatal("X9.63 KDF digest");
    }
    const size_t take = std::min(out_len - done, static_cast<size_t>(n));
    std::memcpy(out.data() + done, block.data(), take);
    done += take;
  }
  return out;
}

namespace {
const EVP_CIPHER* GcmCipher(size_t key_size) {
  if (key_size == 16) return EVP_aes_128_gcm();
  if (key_size == 32) return EVP_aes_256_gcm();
  return nullptr;
}

constexpr size_t kTagBytes = 16;

// Sets cipher, key and IV (with an explicit IV length: ECIES uses 16-byte IVs) and feeds the AAD.
ossl::CipherCtxPtr GcmInit(ByteView key, ByteView iv, ByteView aad, bool encrypt) {
  ossl::CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  const EVP_CIPHER* cipher = GcmCipher(key.size());
  int len = 0;
  if (!ctx || !cipher || EVP_CipherInit_ex(ctx.get(), cipher, nullptr, nullptr, nullptr, encrypt) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(iv.size()), nullptr) != 1 ||
      EVP_CipherInit_ex(ctx.get(), nullptr, nullptr, key.data(), iv.data(), encrypt) != 1 ||
      (!aad.empty() &&
       EVP_CipherUpdate(ctx.get(), nullptr, &len, aad.data(), static_cast<int>(aad.size())) != 1)) {
    return nullptr;
  }
  return ctx;
}

Status CheckGcmParams(ByteView key, ByteView iv) {
  if (!GcmCipher(key.size())) {
    return ParamError("bad AES-GCM key size: got " + std::to_string(key.size()) + ", expected 16 or 32");
  }
  if (iv.size() < 12)
    return ParamError("bad AES-GCM IV size: got " + std::to_string(iv.size()) + ", expected >= 12");
  return Ok();
}
}  // namespace

Result<Bytes> AesGcmSeal(ByteView key, ByteView iv, ByteView aad, ByteView plaintext) {
  RETURN_IF_ERROR(CheckGcmParams(key, iv));
  ossl::CipherCtxPtr ctx = GcmInit(key, iv, aad, true);
  if (!ctx) return OSStatusError(errsec::kInternal, "AES-GCM setup failed");
  Bytes out(plaintext.size() + kTagBytes);
  int len = 0;
  int fin = 0;
  if ((!plaintext.empty() && EVP_CipherUpdate(ctx.get(), out.data(), &len, plaintext.data(),
                                              static_cast<int>(plaintext.size())) != 1) ||
      EVP_CipherFinal_ex(ctx.get(), out.data() + len, &fin) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes, out.data() + plaintext.size()) != 1) {
    return OSStatusError(errsec::kInternal, "AES-GCM encryption failed");
  }
  return out;
}

Result<SecureBytes> AesGcmOpen(ByteView key, ByteView iv, ByteView aad, ByteView ciphertext_and_tag) {
  RETURN_IF_ERROR(CheckGcmParams(key, iv));
  if (ciphertext_and_tag.size() < kTagBytes) {
    return ParamError("AES-GCM input too short: no room for the 16-byte tag").WithCause("decrypt-failed");
  }
  const size_t ct_len = ciphertext_and_tag.size() - kTagBytes;
  ossl::CipherCtxPtr ctx = GcmInit(key, iv, aad, false);
  if (!ctx) return OSStatusError(errsec::kInternal, "AES-GCM setup failed");
  SecureBytes out(ct_len);
  Bytes tag(ciphertext_and_tag.begin() + ct_len, ciphertext_and_tag.end());
  int len = 0;
  int fin = 0;
  if ((ct_len > 0 && EVP_CipherUpdate(ctx.get(), out.data(), &len, ciphertext_and_tag.data(),
                                      static_cast<int>(ct_len)) != 1) ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, tag.data()) != 1 ||
      EVP_CipherFinal_ex(ctx.get(), out.data() + len, &fin) != 1) {
    return ParamError("AES-GCM decryption failed: authentication tag mismatch").WithCause("decrypt-failed");
  }
  return out;
}

}  // namespace enclave::crypto
