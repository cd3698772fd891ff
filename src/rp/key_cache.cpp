#include "rp/key_cache.h"

#include "webauthn/cose.h"

namespace enclave::rp {

std::string KeyCache::Key(std::span<const uint8_t> credential_id, std::span<const uint8_t> cose_key) {
  auto digest = webauthn::Sha256(cose_key);
  std::string k(credential_id.begin(), credential_id.end());
  k.append(digest.begin(), digest.end());
  return k;
}

std::shared_ptr<EVP_PKEY> KeyCache::Find(std::span<const uint8_t> credential_id,
                                         std::span<const uint8_t> cose_key) {
  if (capacity_ == 0) return nullptr;
  std::string k = Key(credential_id, cose_key);
  std::lock_guard lock(mu_);
  auto it = index_.find(k);
  if (it == index_.end()) {
    ++misses_;
    return nullptr;
  }
  ++hits_;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->second;
}

void KeyCache::Put(std::span<const uint8_t> credential_id, std::span<const uint8_t> cose_key,
                   std::shared_ptr<EVP_PKEY> key) {
  if (capacity_ == 0) return;
  std::string k = Key(credential_id, cose_key);
  std::lock_guard lock(mu_);
  if (auto it = index_.find(k); it != index_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second);
    return;
  }
  lru_.emplace_front(k, std::move(key));
  index_[std::move(k)] = lru_.begin();
  if (lru_.size() > capacity_) {
    // A key evicted while a verification still holds it stays alive through its shared_ptr.
    index_.erase(lru_.back().first);
    lru_.pop_back();
  }
}

size_t KeyCache::size() const {
  std::lock_guard lock(mu_);
  return lru_.size();
}

}  // namespace enclave::rp
