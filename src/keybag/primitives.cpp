#include "keybag/primitives.h"

#include <argon2.h>
#include <linux/keyctl.h>
#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <utility>

#include "crypto/ec.h"

namespace enclave::keybag::internal {

namespace {

template <auto Free>
struct OsslDeleter {
  template <typename T>
  void operator()(T* p) const {
    Free(p);
  }
};
using KdfPtr = std::unique_ptr<EVP_KDF, OsslDeleter<EVP_KDF_free>>;
using KdfCtxPtr = std::unique_ptr<EVP_KDF_CTX, OsslDeleter<EVP_KDF_CTX_free>>;

constexpr size_t kIvBytes = 12;

}  // namespace

SecureBytes HkdfSha256(ByteView ikm, std::string_view info, size_t out_len) {
  SecureBytes out(out_len);
  KdfPtr kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr));
  KdfCtxPtr ctx(kdf ? EVP_KDF_CTX_new(kdf.get()) : nullptr);
  std::string digest = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest.data(), 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<uint8_t*>(ikm.data()), ikm.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<char*>(info.data()), info.size()),
      OSSL_PARAM_construct_end()};
  // Only a broken OpenSSL installation fails here; continuing with a zero key would be worse.
  if (!ctx || EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) != 1) std::abort();
  return out;
}

Result<SecureBytes> Argon2idSlowly(ByteView passcode, ByteView salt, const Argon2Params& params) {
  SecureBytes out(kSecretBytes);
  int rc = argon2id_hash_raw(params.t_cost, params.m_cost_kib, params.parallelism, passcode.data(),
                             passcode.size(), salt.data(), salt.size(), out.data(), out.size());
  if (rc != ARGON2_OK) {
    return KeystoreError(aks::kError, std::string("keybag: Argon2id failed: ") + argon2_error_message(rc))
        .WithCause("internal");
  }
  return out;
}

Bytes WrapSecret(ByteView kek, ByteView aad, ByteView secret) {
  Bytes iv = crypto::RandomBytes(kIvBytes);
  auto ct = crypto::AesGcmSeal(kek, iv, aad, secret);
  if (!ct.ok()) std::abort();  // only wrong key/IV sizes fail, and ours are fixed
  Bytes out = iv;
  out.insert(out.end(), ct->begin(), ct->end());
  return out;
}

std::optional<SecureBytes> UnwrapSecret(ByteView kek, ByteView aad, ByteView wrapped) {
  if (wrapped.size() < kIvBytes + 16) return std::nullopt;
  auto pt = crypto::AesGcmOpen(kek, wrapped.first(kIvBytes), aad, wrapped.subspan(kIvBytes));
  if (!pt.ok()) return std::nullopt;
  return std::move(pt).value();
}

// ---------------------------------------------------------------------------------------------
// Kernel keyring

namespace {
constexpr char kKeyType[] = "user";
// Permission bits from keyutils.h, which the kernel UAPI headers do not carry.
constexpr unsigned long kPossessorAll = 0x3f000000;
constexpr unsigned long kUserView = 0x00010000;
constexpr unsigned long kUserRead = 0x00020000;
constexpr unsigned long kUserSearch = 0x00080000;

bool KeyringUnusable(int err) { return err == ENOSYS || err == EPERM || err == EACCES || err == EOPNOTSUPP; }

long SearchKey(const std::string& description) {
  return ::syscall(SYS_keyctl, KEYCTL_SEARCH, KEY_SPEC_USER_KEYRING, kKeyType, description.c_str(), 0);
}
}  // namespace

KeyringStash::KeyringStash(const std::filesystem::path& keybag_dir) {
  std::error_code ec;
  std::filesystem::path abs =
      std::filesystem::weakly_canonical(std::filesystem::absolute(keybag_dir, ec), ec);
  if (ec) abs = keybag_dir;
  Bytes hash = crypto::Digest(crypto::Hash::kSha256, AsBytes(abs.string()));
  description_ = "enclave:keybag:" + HexEncode(ByteView(hash).first(16));
}

std::optional<SecureBytes> KeyringStash::Load() {
  long id = SearchKey(description_);
  if (id < 0) {
    if (KeyringUnusable(errno)) available_ = false;
    return std::nullopt;
  }
  SecureBytes buf(kSecretBytes);
  long n = ::syscall(SYS_keyctl, KEYCTL_READ, id, buf.data(), buf.size());
  if (n < 0) {
    if (KeyringUnusable(errno)) available_ = false;
    return std::nullopt;
  }
  if (static_cast<size_t>(n) != kSecretBytes) return std::nullopt;
  return buf;
}

bool KeyringStash::Store(ByteView passcode_key) {
  long id = ::syscall(SYS_add_key, kKeyType, description_.c_str(), passcode_key.data(), passcode_key.size(),
                      KEY_SPEC_USER_KEYRING);
  if (id < 0) {
    available_ = false;
    return false;
  }
  // A daemon started from another login session does not possess the key; let the same user
  // read it (the same user can read the device secret file anyway).
  const unsigned long perm = kPossessorAll | kUserView | kUserRead | kUserSearch;
  ::syscall(SYS_keyctl, KEYCTL_SETPERM, id, perm);
  available_ = true;
  return true;
}

void KeyringStash::Revoke() {
  long id = SearchKey(description_);
  if (id < 0) return;
  ::syscall(SYS_keyctl, KEYCTL_UNLINK, id, KEY_SPEC_USER_KEYRING);
  ::syscall(SYS_keyctl, KEYCTL_INVALIDATE, id);
}

}  // namespace enclave::keybag::internal
