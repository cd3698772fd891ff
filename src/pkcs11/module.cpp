#include "pkcs11/module.h"

#include <errno.h>
#include <pthread.h>
#include <unistd.h>

#include <cctype>

namespace enclave::pkcs11 {

std::string SlotToken(CK_SLOT_ID slot) { return slot == kTpmSlot ? "tpm2" : "soft"; }
std::string TokenLabel(CK_SLOT_ID slot) { return slot == kTpmSlot ? "enclave-tpm2" : "enclave"; }

Module& Module::Get() {
  // Never destroyed: a caller's threads or atexit handlers may still call in during exit.
  static Module* module = [] {
    auto* m = new Module();
    // The module lock is only ever held briefly and never across a daemon request (or fork).
    ::pthread_atfork([] { Module::Get().mu.lock(); }, [] { Module::Get().mu.unlock(); },
                     [] {
                       Module::Get().mu.unlock();
                       Module::Get().connection.RenewLockAfterFork();
                     });
    return m;
  }();
  return *module;
}

Session* Module::FindSession(CK_SESSION_HANDLE h) {
  auto it = sessions.find(h);
  return it == sessions.end() ? nullptr : &it->second;
}

Object* Module::FindObject(CK_OBJECT_HANDLE h) {
  auto it = objects.find(h);
  if (it == objects.end() || it->second.destroyed) return nullptr;
  if (it->second.kind != ObjectKind::kSecretKey && keys.count(it->second.kid) == 0) return nullptr;
  return &it->second;
}

const KeyInfo* Module::KeyOf(const Object& o) const {
  if (o.kind == ObjectKind::kSecretKey) return nullptr;
  auto it = keys.find(o.kid);
  return it == keys.end() ? nullptr : &it->second;
}

CK_OBJECT_HANDLE Module::HandleFor(const std::string& kid, ObjectKind kind, CK_SLOT_ID slot) {
  auto key = std::make_pair(kid, kind);
  if (auto it = key_handles.find(key); it != key_handles.end()) return it->second;
  const CK_OBJECT_HANDLE h = next_object++;
  Object o;
  o.kind = kind;
  o.slot = slot;
  o.kid = kid;
  objects[h] = o;
  key_handles[key] = h;
  return h;
}

void Module::Remember(const KeyInfo& key, CK_SLOT_ID slot, CK_SESSION_HANDLE owner) {
  keys[key.kid] = key;
  for (ObjectKind kind : {ObjectKind::kPrivateKey, ObjectKind::kPublicKey}) {
    objects[HandleFor(key.kid, kind, slot)].owner = owner;
  }
}

void Module::UpdateKeys(CK_SLOT_ID slot, const std::vector<KeyInfo>& fresh) {
  const std::string token = SlotToken(slot);
  std::set<std::string> present;
  for (const auto& k : fresh) {
    present.insert(k.kid);
    keys[k.kid] = k;
    for (ObjectKind kind : {ObjectKind::kPrivateKey, ObjectKind::kPublicKey}) HandleFor(k.kid, kind, slot);
  }
  std::vector<std::string> gone;
  for (const auto& [kid, info] : keys) {
    if (info.token == token && present.count(kid) == 0) gone.push_back(kid);
  }
  for (const auto& kid : gone) ForgetKey(kid);
}

void Module::ForgetKey(const std::string& kid) {
  keys.erase(kid);
  for (ObjectKind kind : {ObjectKind::kPrivateKey, ObjectKind::kPublicKey}) {
    auto it = key_handles.find({kid, kind});
    if (it == key_handles.end()) continue;
    objects[it->second].destroyed = true;
  }
}

void Module::Reset() {
  sessions.clear();
  objects.clear();
  key_handles.clear();
  keys.clear();
  logged_in.clear();
  next_session = 1;
  next_object = 1;
}

Result<TokenState> QueryTokenState(Connection& connection) {
  ASSIGN_OR_RETURN(nlohmann::json status, connection.Call<nlohmann::json>([](client::Client& c) {
    return c.Admin("status", nlohmann::json::object(), {});
  }));
  TokenState s;
  const auto& bag = status.value("keybag", nlohmann::json::object());
  s.passcode_set = bag.value("passcode_set", false);
  s.locked_out = bag.value("locked_out", false);
  s.failed_attempts = bag.value("failed_attempts", 0);
  s.max_failed_attempts = bag.value("max_failed_attempts", 0);
  const auto& tokens = status.value("tokens", nlohmann::json::object());
  s.tpm_configured = tokens.value("tpm2", nlohmann::json::object()).value("configured", false);
  return s;
}

std::string OperationPrompt(const std::string& verb, const KeyInfo& key) {
  std::string name = key.label;
  if (name.empty()) {
    bool printable = !key.application_label.empty();
    for (uint8_t c : key.application_label) printable = printable && std::isprint(c);
    name = printable ? std::string(key.application_label.begin(), key.application_label.end()) : key.kid;
  }
  return std::string(program_invocation_short_name) + " (pid " + std::to_string(::getpid()) + ") wants to " +
         verb + " with \u201c" + name + "\u201d";
}

}  // namespace enclave::pkcs11
