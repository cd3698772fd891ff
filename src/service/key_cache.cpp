#include "service/key_cache.h"

namespace enclave::service {
namespace {

// Every attribute bound into the sealed blob's associated data, and the blob itself: an item
// that differs in any of them would unseal differently (or not at all), so it is another key.
bool SameBinding(const keychain::KeyItem& a, const keychain::KeyItem& b) {
  return a.sealed_blob == b.sealed_blob && a.kid == b.kid && a.token == b.token &&
         a.key_class == b.key_class && a.key_type == b.key_type && a.key_size == b.key_size &&
         a.application_label == b.application_label && a.access_group == b.access_group &&
         a.accessible == b.accessible && a.access_control == b.access_control &&
         a.public_key_x963 == b.public_key_x963 && a.permanent == b.permanent;
}

}  // namespace

std::shared_ptr<token::Key> KeyCache::Find(const keychain::KeyItem& item, uint64_t generation) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(item.kid);
  if (it == entries_.end()) return nullptr;
  if (it->second.generation != generation || !SameBinding(it->second.item, item)) {
    entries_.erase(it);
    return nullptr;
  }
  return it->second.key;
}

void KeyCache::Put(const keychain::KeyItem& item, uint64_t generation, std::shared_ptr<token::Key> key) {
  std::lock_guard lock(mu_);
  // Bounded: past the capacity start over rather than track use order (keys reload on demand).
  if (entries_.size() >= capacity_ && !entries_.count(item.kid)) entries_.clear();
  Entry e;
  e.item = item;
  e.generation = generation;
  e.key = std::move(key);
  entries_[item.kid] = std::move(e);
}

void KeyCache::Drop(const std::string& kid) {
  std::lock_guard lock(mu_);
  entries_.erase(kid);
}

void KeyCache::Clear() {
  std::lock_guard lock(mu_);
  entries_.clear();
}

size_t KeyCache::size() {
  std::lock_guard lock(mu_);
  return entries_.size();
}

}  // namespace enclave::service
