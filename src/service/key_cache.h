// Loaded private keys by item, so that a request does not unseal the blob and re-derive the key
// (d·G, OpenSSL key import; a TPM2_Load) every time. Only that step is cached: every use still
// reads the item, checks that its policy is still satisfiable (biometric database identity and
// enrolled set), that its class key is available (lock state) and the access control.
//
// An entry is valid only for the exact item it was loaded from (sealed blob and every bound
// attribute) and for the generation it was loaded in; the enclave moves to a new generation on
// every event that may change what a key may do (lock, passcode change or removal, biometry
// change, key update, delete or reenroll, TPM clear, keybag re-creation, any admin command).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "keychain/keychain.h"
#include "token/token.h"

namespace enclave::service {

class KeyCache {
 public:
  explicit KeyCache(size_t capacity = 1024) : capacity_(capacity) {}

  // The key loaded from exactly this item in this generation, or null.
  std::shared_ptr<token::Key> Find(const keychain::KeyItem& item, uint64_t generation);
  void Put(const keychain::KeyItem& item, uint64_t generation, std::shared_ptr<token::Key> key);
  void Drop(const std::string& kid);
  void Clear();
  size_t size();

 private:
  struct Entry {
    keychain::KeyItem item;  // what the key was loaded from (its sealed blob and bound attributes)
    uint64_t generation = 0;
    std::shared_ptr<token::Key> key;
  };

  const size_t capacity_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;  // by kid
};

}  // namespace enclave::service
