// A bounded LRU of parsed credential public keys, per node. Keyed by the credential id and the
// SHA-256 of the COSE key bytes read from the store with every assertion, so an entry can only
// ever be the key the store holds now: the cache saves the parse and the point check, it never
// changes a decision (state, owner and counter always come from the store).
#pragma once

#include <openssl/evp.h>

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>

namespace enclave::rp {

class KeyCache {
 public:
  explicit KeyCache(size_t capacity) : capacity_(capacity) {}
  // The cached key, or nullptr.
  std::shared_ptr<EVP_PKEY> Find(std::span<const uint8_t> credential_id, std::span<const uint8_t> cose_key);
  void Put(std::span<const uint8_t> credential_id, std::span<const uint8_t> cose_key,
           std::shared_ptr<EVP_PKEY> key);
  size_t size() const;
  int64_t hits() const { return hits_; }
  int64_t misses() const { return misses_; }

 private:
  static std::string Key(std::span<const uint8_t> credential_id, std::span<const uint8_t> cose_key);
  using Entry = std::pair<std::string, std::shared_ptr<EVP_PKEY>>;
  size_t capacity_;
  mutable std::mutex mu_;
  std::list<Entry> lru_;  // most recent first
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
  std::atomic<int64_t> hits_{0}, misses_{0};
};

}  // namespace enclave::rp
