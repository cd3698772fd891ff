// The keybag implementation: class keys in memory according to lock state, wrapped on disk.
#include "keybag/keybag.h"

#include <sys/stat.h>

#include <map>
#include <mutex>
#include <set>

#include "common/durable_io.h"
#include "crypto/ec.h"
#include "keybag/attempts.h"
#include "keybag/passcode.h"
#include "keybag/primitives.h"
#include "keybag/record.h"

namespace enclave::keybag {

namespace {

namespace fs = std::filesystem;
using internal::DeviceSecret;
using internal::KeybagRecord;
using internal::StoredPasscode;
using internal::WrappedBy;

constexpr uint8_t kSealVersion = 1;
constexpr size_t kIvBytes = 12;
constexpr size_t kTagBytes = 16;
constexpr size_t kSaltBytes = 16;
constexpr char kSealAadPrefix[] = "enclave-seal-v1";
constexpr char kDeviceKekInfo[] = "enclave class kek: device";

bool IsWhenUnlocked(ProtectionClass c) {
  return c == ProtectionClass::kWhenUnlocked || c == ProtectionClass::kWhenUnlockedThisDeviceOnly ||
         c == ProtectionClass::kWhenPasscodeSetThisDeviceOnly;
}
bool IsAlways(ProtectionClass c) {
  return c == ProtectionClass::kAlways || c == ProtectionClass::kAlwaysThisDeviceOnly;
}
// With a passcode set, every class but the always-available ones is wrapped by the passcode key.
bool UnderPasscode(ProtectionClass c) { return !IsAlways(c); }

int64_t NowUnix() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Error ClassKeyLost(ProtectionClass c, const std::string& why) {
  return KeystoreError(aks::kBadDeviceKey, "the " + PlatformCode(c) + " class key is lost: " + why)
      .WithCause("class-key-lost")
      .WithInfo("class", PlatformCode(c));
}

Error PasscodeNotSet(const std::string& what) {
  return AuthError(laerror::kPasscodeNotSet, what + ": no device passcode is set")
      .WithCause("passcode-not-set");
}

using ClassKeys = std::map<ProtectionClass, SecureBytes>;

class KeybagImpl final : public Keybag {
 public:
  KeybagImpl(fs::path dir, KeybagOptions options, DeviceSecret device)
      : dir_(std::move(dir)),
        options_(std::move(options)),
        device_protection_(std::move(device.protection)),
        device_secret_(std::move(device.secret)),
        device_kek_(internal::HkdfSha256(device_secret_, kDeviceKekInfo)) {
    if (options_.use_kernel_keyring) stash_.emplace(dir_);
  }

  Status Create() {
    for (ProtectionClass c : AllProtectionClasses()) {
      if (c == ProtectionClass::kWhenPasscodeSetThisDeviceOnly) continue;  // exists only with a passcode
      class_keys_[c] = crypto::RandomSecret(internal::kSecretBytes);
    }
    RewrapAll(class_keys_, nullptr);
    return Persist();
  }

  Status Load() {
    ASSIGN_OR_RETURN(record_, internal::LoadRecord(dir_ / internal::kRecordFile));
    std::optional<SecureBytes> passcode_key;
    if (record_.passcode && stash_) {
      passcode_key = stash_->Load();
      if (passcode_key && !internal::VerifierMatches(record_, *passcode_key)) passcode_key.reset();
    }
    class_keys_ = UnwrapAll(passcode_key ? &*passcode_key : nullptr, &lost_);
    first_unlock_done_ = !record_.passcode || passcode_key.has_value();
    locked_ = record_.locked || !first_unlock_done_;
    if (locked_) DropWhenUnlocked();
    return Ok();
  }

  Result<Bytes> Seal(ProtectionClass c, ByteView plaintext, ByteView aad) override {
    std::lock_guard lock(mu_);
    if (c == ProtectionClass::kWhenPasscodeSetThisDeviceOnly && !record_.passcode) {
      return OSStatusError(errsec::kAuthFailed,
                           "cannot protect an item when-passcode-set: no device passcode is set")
          .WithCause("passcode-not-set");
    }
    RETURN_IF_ERROR(CheckAvailableLocked(c));
    Bytes iv = crypto::RandomBytes(kIvBytes);
    ASSIGN_OR_RETURN(Bytes ct, crypto::AesGcmSeal(class_keys_.at(c), iv, SealAad(c, aad), plaintext));
    Bytes out{kSealVersion};
    out.insert(out.end(), iv.begin(), iv.end());
    out.insert(out.end(), ct.begin(), ct.end());
    return out;
  }

  Result<SecureBytes> Unseal(ProtectionClass c, ByteView sealed, ByteView aad) override {
    std::lock_guard lock(mu_);
    RETURN_IF_ERROR(CheckAvailableLocked(c));
    auto corrupt = [&](const std::string& why) {
      return KeystoreError(aks::kError,
                           "sealed blob does not open under the " + PlatformCode(c) + " class key: " + why)
          .WithCause("key-blob-corrupt")
          .WithInfo("class", PlatformCode(c));
    };
    if (sealed.size() < 1 + kIvBytes + kTagBytes) return corrupt("too short");
    if (sealed[0] != kSealVersion) return corrupt("unknown version " + std::to_string(sealed[0]));
    auto pt = crypto::AesGcmOpen(class_keys_.at(c), sealed.subspan(1, kIvBytes), SealAad(c, aad),
                                 sealed.subspan(1 + kIvBytes));
    if (!pt.ok()) return corrupt("authentication failed (damaged blob or different associated data)");
    return std::move(pt).value();
  }

  Status CheckClassAvailable(ProtectionClass c) const override {
    std::lock_guard lock(mu_);
    return CheckAvailableLocked(c);
  }

  KeybagState State() const override {
    std::lock_guard lock(mu_);
    KeybagState s;
    s.passcode_set = record_.passcode.has_value();
    s.locked = locked_;
    s.first_unlock_done = first_unlock_done_;
    s.failed_attempts = record_.failed_attempts;
    const int64_t now = NowUnix();
    s.retry_after_seconds = internal::RetryAfterSeconds(record_, now);
    s.locked_out = internal::LockedOut(record_, now);
    s.device_secret_protection = device_protection_;
    return s;
  }

  void Lock() override {
    std::lock_guard lock(mu_);
    DropWhenUnlocked();
    locked_ = true;
    record_.locked = true;
    // Lock has no error channel; a failed write only means a restarted daemon comes up unlocked
    // if it was unlocked before, and the next successful write repairs it.
    (void)Persist();
  }

  Status Unlock(const SecureBytes& passcode) override {
    std::lock_guard lock(mu_);
    std::optional<SecureBytes> passcode_key;
    if (record_.passcode) {
      ASSIGN_OR_RETURN(passcode_key, CheckPasscodeLocked(passcode));
    }
    std::set<ProtectionClass> lost;
    ClassKeys keys = UnwrapAll(passcode_key ? &*passcode_key : nullptr, &lost);
    record_.locked = false;
    RETURN_IF_ERROR(Persist());
    class_keys_ = std::move(keys);
    lost_ = std::move(lost);
    first_unlock_done_ = true;
    locked_ = false;
    if (passcode_key && stash_) stash_->Store(*passcode_key);
    return Ok();
  }

  Status VerifyPasscode(const SecureBytes& passcode) override {
    std::lock_guard lock(mu_);
    if (!record_.passcode) return PasscodeNotSet("cannot verify the passcode");
    ASSIGN_OR_RETURN(SecureBytes ignored, CheckPasscodeLocked(passcode));
    return Ok();
  }

  Status SetPasscode(const std::optional<SecureBytes>& old_passcode,
                     const SecureBytes& new_passcode) override {
    std::lock_guard lock(mu_);
    if (new_passcode.empty()) {
      return OSStatusError(errsec::kParam, "the new passcode must not be empty").WithCause("bad-parameter");
    }
    std::optional<SecureBytes> old_key;
    if (record_.passcode) {
      if (!old_passcode) {
        return OSStatusError(errsec::kParam, "changing the passcode needs the current passcode")
            .WithCause("bad-parameter");
      }
      ASSIGN_OR_RETURN(old_key, CheckPasscodeLocked(*old_passcode));
    }
    std::set<ProtectionClass> lost;
    ClassKeys keys = UnwrapAll(old_key ? &*old_key : nullptr, &lost);
    const auto akpu = ProtectionClass::kWhenPasscodeSetThisDeviceOnly;
    if (!record_.passcode) keys[akpu] = crypto::RandomSecret(internal::kSecretBytes);

    StoredPasscode stored;
    stored.salt = crypto::RandomBytes(kSaltBytes);
    ASSIGN_OR_RETURN(SecureBytes stretched,
                     internal::Argon2idSlowly(new_passcode, stored.salt, stored.argon2));
    SecureBytes entropy;
    ASSIGN_OR_RETURN(stored.sealed_entropy,
                     internal::SealPasscodeEntropy(options_.sealer.get(), stretched, &entropy));
    const SecureBytes new_key = internal::PasscodeKey(device_secret_, stretched, entropy);
    stored.verifier = internal::PasscodeVerifier(new_key);

    const KeybagRecord before = record_;
    record_.passcode = std::move(stored);
    RETURN_IF_ERROR(CommitRewrapLocked(before, std::move(keys), std::move(lost), &new_key));
    if (stash_) stash_->Store(new_key);
    return Ok();
  }

  Status RemovePasscode(const SecureBytes& current_passcode) override {
    std::lock_guard lock(mu_);
    if (!record_.passcode) return PasscodeNotSet("cannot remove the passcode");
    ASSIGN_OR_RETURN(SecureBytes key, CheckPasscodeLocked(current_passcode));
    std::set<ProtectionClass> lost;
    ClassKeys keys = UnwrapAll(&key, &lost);
    return DropPasscodeLocked(std::move(keys), std::move(lost));
  }

  void SetAttemptPolicy(int max_failed_attempts, std::chrono::seconds lockout_duration) override {
    std::lock_guard lock(mu_);
    options_.max_failed_attempts = max_failed_attempts;
    options_.lockout_duration = lockout_duration;
  }

  Status ForgetPasscodeForTesting() override {
    std::lock_guard lock(mu_);
    if (!record_.passcode) return PasscodeNotSet("cannot forget the passcode");
    if (locked_ || !first_unlock_done_) {
      return OSStatusError(errsec::kInteractionNotAllowed,
                           "the passcode can be removed without it only while the keybag is unlocked")
          .WithCause("device-locked");
    }
    return DropPasscodeLocked(class_keys_, lost_);
  }

  nlohmann::json Describe() const override {
    std::lock_guard lock(mu_);
    return DescribeLocked();
  }

  Status CorruptClassKeyForTesting(ProtectionClass c) override {
    std::lock_guard lock(mu_);
    auto it = record_.class_keys.find(PlatformCode(c));
    if (it == record_.class_keys.end()) {
      return KeystoreError(aks::kNotFound, "no stored " + PlatformCode(c) + " class key to damage")
          .WithCause("item-not-found");
    }
    Bytes& w = it->second.wrapped;
    for (size_t i = kIvBytes; i < w.size(); i += 7) w[i] ^= 0x5a;
    RETURN_IF_ERROR(Persist());
    class_keys_.erase(c);
    lost_.insert(c);
    return Ok();
  }

 private:
  // Removes the passcode: the akpu class key is destroyed, the other `keys` are re-wrapped
  // under the device KEK.
  Status DropPasscodeLocked(ClassKeys keys, std::set<ProtectionClass> lost) {
    const auto akpu = ProtectionClass::kWhenPasscodeSetThisDeviceOnly;
    keys.erase(akpu);  // SecureBytes wipes it; with the stored copy gone every akpu blob is dead
    lost.erase(akpu);

    const KeybagRecord before = record_;
    record_.class_keys.erase(PlatformCode(akpu));
    record_.passcode.reset();
    RETURN_IF_ERROR(CommitRewrapLocked(before, std::move(keys), std::move(lost), nullptr));
    if (stash_) stash_->Revoke();
    return Ok();
  }

  // After a passcode change: re-wraps `keys` under `kek` (null: the device KEK), persists, and
  // only then installs them, unlocked; on a failed write the record goes back to `before`.
  Status CommitRewrapLocked(const KeybagRecord& before, ClassKeys keys, std::set<ProtectionClass> lost,
                            const SecureBytes* kek) {
    record_.locked = false;
    RewrapAll(keys, kek);
    if (Status s = Persist(); !s.ok()) {
      record_ = before;
      return s;
    }
    class_keys_ = std::move(keys);
    lost_ = std::move(lost);
    first_unlock_done_ = true;
    locked_ = false;
    return Ok();
  }

  nlohmann::json DescribeLocked() const {
    nlohmann::json classes = nlohmann::json::object();
    nlohmann::json reasons = nlohmann::json::object();
    for (ProtectionClass c : AllProtectionClasses()) {
      Status s = CheckAvailableLocked(c);
      classes[PlatformCode(c)] = s.ok();
      if (s.ok()) continue;
      // Without a passcode the when-passcode-set class does not exist: nothing was lost.
      const bool no_passcode =
          c == ProtectionClass::kWhenPasscodeSetThisDeviceOnly && !record_.passcode.has_value();
      reasons[PlatformCode(c)] = no_passcode ? "passcode-not-set" : s.error().effective_cause();
    }
    const int64_t now = NowUnix();
    nlohmann::json j = {
        {"passcode_set", record_.passcode.has_value()},
        {"locked", locked_},
        {"first_unlock_done", first_unlock_done_},
        {"classes", std::move(classes)},
        {"unavailable_classes", std::move(reasons)},
        {"failed_attempts", record_.failed_attempts},
        {"max_failed_attempts", options_.max_failed_attempts},
        {"retry_after_seconds", internal::RetryAfterSeconds(record_, now)},
        {"locked_out", internal::LockedOut(record_, now)},
        {"device_secret_protection", device_protection_},
        {"passcode_bound_to",
         record_.passcode && !record_.passcode->sealed_entropy.empty() ? device_protection_ : "software"},
    };
    if (!stash_) {
      j["kernel_keyring"] = "disabled";
    } else if (stash_->available()) {
      j["kernel_keyring"] = "used";
    } else {
      j["kernel_keyring"] = "unavailable";
    }
    if (j["kernel_keyring"] != "used") {
      j["kernel_keyring_note"] =
          "the unlock state does not survive a daemon restart: with a passcode set, a restarted daemon "
          "starts "
          "before first unlock";
    }
    return j;
  }

  Status CheckAvailableLocked(ProtectionClass c) const {
    if (c == ProtectionClass::kWhenPasscodeSetThisDeviceOnly && !record_.passcode) {
      return ClassKeyLost(c, "no device passcode is set, so when-passcode-set items were destroyed");
    }
    if (lost_.count(c) != 0) return ClassKeyLost(c, "its stored copy does not unwrap");
    if (!IsAlways(c) && !first_unlock_done_) {
      return KeystoreError(aks::kNoPermission,
                           "the " + PlatformCode(c) + " class key is unavailable before the first unlock")
          .WithCause("before-first-unlock")
          .WithInfo("class", PlatformCode(c));
    }
    if (IsWhenUnlocked(c) && locked_) {
      return KeystoreError(aks::kNoPermission,
                           "the " + PlatformCode(c) + " class key is unavailable while locked")
          .WithCause("device-locked")
          .WithInfo("class", PlatformCode(c));
    }
    if (class_keys_.count(c) == 0) return ClassKeyLost(c, "it is not loaded");
    return Ok();
  }

  static Bytes SealAad(ProtectionClass c, ByteView aad) {
    Bytes full = ToBytes(kSealAadPrefix);
    const std::string code = PlatformCode(c);
    full.insert(full.end(), code.begin(), code.end());
    full.insert(full.end(), aad.begin(), aad.end());
    return full;
  }

  fs::path RecordFile() const { return dir_ / internal::kRecordFile; }
  Status Persist() { return internal::SaveRecord(RecordFile(), record_); }

  Result<SecureBytes> CheckPasscodeLocked(const SecureBytes& passcode) {
    return internal::CheckPasscodeCounted(record_, RecordFile(), options_, device_secret_, passcode,
                                          NowUnix());
  }

  // Unwraps every stored class key that the given keys can reach; those that do not unwrap go
  // into `lost`. Passcode-wrapped classes are skipped (not lost) without a passcode key.
  ClassKeys UnwrapAll(const SecureBytes* passcode_key, std::set<ProtectionClass>* lost) const {
    ClassKeys keys;
    lost->clear();
    for (ProtectionClass c : AllProtectionClasses()) {
      const std::string code = PlatformCode(c);
      auto it = record_.class_keys.find(code);
      if (it == record_.class_keys.end()) {
        if (c != ProtectionClass::kWhenPasscodeSetThisDeviceOnly || record_.passcode) lost->insert(c);
        continue;
      }
      const SecureBytes* kek = &device_kek_;
      if (it->second.wrapped_by == WrappedBy::kPasscode) {
        if (passcode_key == nullptr) continue;
        kek = passcode_key;
      }
      auto key = internal::UnwrapSecret(*kek, AsBytes(code), it->second.wrapped);
      if (key && key->size() == internal::kSecretBytes) {
        keys[c] = std::move(*key);
      } else {
        lost->insert(c);
      }
    }
    return keys;
  }

  // Re-wraps `keys` under the device KEK, or under the passcode key for the classes it covers.
  // Classes absent from `keys` (lost ones) keep their stored, unusable copy.
  void RewrapAll(const ClassKeys& keys, const SecureBytes* passcode_key) {
    for (const auto& [c, key] : keys) {
      const bool by_passcode = passcode_key != nullptr && UnderPasscode(c);
      const std::string code = PlatformCode(c);
      record_.class_keys[code] = {
          by_passcode ? WrappedBy::kPasscode : WrappedBy::kDevice,
          internal::WrapSecret(by_passcode ? *passcode_key : device_kek_, AsBytes(code), key)};
    }
  }

  void DropWhenUnlocked() {
    for (ProtectionClass c : AllProtectionClasses()) {
      if (IsWhenUnlocked(c)) class_keys_.erase(c);
    }
  }

  const fs::path dir_;
  KeybagOptions options_;  // the attempt policy may change (SetAttemptPolicy), under mu_
  const std::string device_protection_;
  const SecureBytes device_secret_;
  const SecureBytes device_kek_;
  std::optional<internal::KeyringStash> stash_;

  mutable std::mutex mu_;
  KeybagRecord record_;
  ClassKeys class_keys_;
  std::set<ProtectionClass> lost_;
  bool first_unlock_done_ = true;
  bool locked_ = false;
};

}  // namespace

Result<std::unique_ptr<Keybag>> Keybag::Open(const fs::path& dir, KeybagOptions options) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return OSStatusError(errsec::kIO, "cannot create the keybag directory: " + ec.message())
        .WithCause("database-io");
  }
  const bool exists = fs::exists(dir / internal::kRecordFile, ec);
  ASSIGN_OR_RETURN(DeviceSecret device,
                   internal::LoadOrCreateDeviceSecret(dir, options.sealer.get(), exists));
  auto keybag = std::make_unique<KeybagImpl>(dir, std::move(options), std::move(device));
  RETURN_IF_ERROR(exists ? keybag->Load() : keybag->Create());
  return std::unique_ptr<Keybag>(std::move(keybag));
}

Result<std::unique_ptr<Keybag>> Keybag::Recreate(const fs::path& dir, KeybagOptions options) {
  const std::string suffix = ".broken-" + std::to_string(NowUnix());
  for (const char* name :
       {internal::kRecordFile, internal::kDeviceSecretFile, internal::kSealedDeviceSecretFile}) {
    std::error_code ec;
    const fs::path file = dir / name;
    if (!fs::exists(file, ec)) continue;
    fs::path aside = file;
    aside += suffix;
    RETURN_IF_ERROR(durable::Rename(file, aside));
  }
  internal::KeyringStash(dir).Revoke();
  return Open(dir, std::move(options));
}

}  // namespace enclave::keybag
