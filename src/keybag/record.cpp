#include "keybag/record.h"

#include <openssl/crypto.h>

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "common/durable_io.h"
#include "crypto/ec.h"

namespace enclave::keybag::internal {

namespace {

using nlohmann::json;

Error Damaged(const std::string& why) {
  return KeystoreError(aks::kBadDeviceKey,
                       "keybag.json is damaged (" + why + "); its class keys cannot be recovered")
      .WithCause("class-key-lost");
}

Bytes HexField(const json& j, const char* name) {
  auto decoded = HexDecode(j.at(name).get<std::string>());
  if (!decoded) throw std::invalid_argument(std::string("field ") + name + " is not hex");
  return *decoded;
}

// An integer field, exactly: nlohmann's get<integer>() truncates a fraction, wraps an integer too
// large for the type and converts an out-of-range float (1e300) with undefined behaviour, so a
// tampered file could pass the range checks below with a value it does not hold.
template <typename T>
T IntField(const json& j, const char* name) {
  const json& v = j.at(name);
  using Limits = std::numeric_limits<T>;
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u <= static_cast<uint64_t>(Limits::max())) return static_cast<T>(u);
  } else if (v.is_number_integer()) {
    const int64_t i = v.get<int64_t>();
    if (i >= static_cast<int64_t>(Limits::min()) &&
        (i < 0 || static_cast<uint64_t>(i) <= static_cast<uint64_t>(Limits::max()))) {
      return static_cast<T>(i);
    }
  }
  throw std::out_of_range(std::string("field ") + name + " is not an integer in range");
}

// Bounds keep a tampered file from making every unlock attempt allocate gigabytes.
bool SaneArgon2(const Argon2Params& p) {
  return p.t_cost >= 1 && p.t_cost <= 16 && p.m_cost_kib >= 8 && p.m_cost_kib <= (1u << 21) &&
         p.parallelism >= 1 && p.parallelism <= 16;
}

}  // namespace

Result<KeybagRecord> LoadRecord(const std::filesystem::path& file) {
  ASSIGN_OR_RETURN(Bytes text, durable::ReadFile(file));
  return ParseRecord(text);
}

Result<KeybagRecord> ParseRecord(ByteView text) {
  try {
    json j = json::parse(text.begin(), text.end());
    if (IntField<int>(j, "format") != kRecordFormat) {
      return Damaged("unsupported format " + j.at("format").dump());
    }
    KeybagRecord r;
    if (!j.at("passcode").is_null()) {
      const json& p = j.at("passcode");
      if (p.at("kdf").get<std::string>() != "argon2id") return Damaged("unknown passcode kdf");
      StoredPasscode sp;
      sp.salt = HexField(p, "salt");
      sp.argon2.t_cost = IntField<uint32_t>(p, "t_cost");
      sp.argon2.m_cost_kib = IntField<uint32_t>(p, "m_cost_kib");
      sp.argon2.parallelism = IntField<uint32_t>(p, "parallelism");
      sp.verifier = HexField(p, "verifier");
      if (p.contains("sealed_entropy")) sp.sealed_entropy = HexField(p, "sealed_entropy");
      if (!SaneArgon2(sp.argon2)) return Damaged("Argon2id parameters out of range");
      r.passcode = std::move(sp);
    }
    for (const auto& [code, entry] : j.at("class_keys").items()) {
      StoredClassKey k;
      const std::string by = entry.at("wrapped_by").get<std::string>();
      if (by != "device" && by != "passcode") return Damaged("unknown wrapping of class " + code);
      k.wrapped_by = by == "device" ? WrappedBy::kDevice : WrappedBy::kPasscode;
      k.wrapped = HexField(entry, "wrapped");
      r.class_keys[code] = std::move(k);
    }
    r.failed_attempts = IntField<int>(j, "failed_attempts");
    r.last_failure_unix = IntField<int64_t>(j, "last_failure_time");
    r.retry_after_unix = IntField<int64_t>(j, "retry_after_time");
    r.lockout_until_unix = IntField<int64_t>(j, "lockout_until_time");
    r.locked = j.at("locked").get<bool>();
    // Counters and times a tampered file could set to overflow the next failure's arithmetic.
    constexpr int64_t kMaxTime = int64_t{1} << 40;
    if (r.failed_attempts < 0 || r.failed_attempts > 1000000)
      return Damaged("failed attempt count out of range");
    for (int64_t t : {r.last_failure_unix, r.retry_after_unix, r.lockout_until_unix}) {
      if (t < 0 || t > kMaxTime) return Damaged("a time is out of range");
    }
    return r;
  } catch (const std::exception& e) {
    return Damaged(e.what());
  }
}

Status SaveRecord(const std::filesystem::path& file, const KeybagRecord& r) {
  return durable::WriteFileAtomic(file, AsBytes(SerializeRecord(r)));
}

std::string SerializeRecord(const KeybagRecord& r) {
  json j;
  j["format"] = kRecordFormat;
  if (r.passcode) {
    j["passcode"] = {{"kdf", "argon2id"},
                     {"salt", HexEncode(r.passcode->salt)},
                     {"t_cost", r.passcode->argon2.t_cost},
                     {"m_cost_kib", r.passcode->argon2.m_cost_kib},
                     {"parallelism", r.passcode->argon2.parallelism},
                     {"verifier", HexEncode(r.passcode->verifier)}};
    if (!r.passcode->sealed_entropy.empty())
      j["passcode"]["sealed_entropy"] = HexEncode(r.passcode->sealed_entropy);
  } else {
    j["passcode"] = nullptr;
  }
  json keys = json::object();
  for (const auto& [code, k] : r.class_keys) {
    keys[code] = {{"wrapped_by", k.wrapped_by == WrappedBy::kDevice ? "device" : "passcode"},
                  {"wrapped", HexEncode(k.wrapped)}};
  }
  j["class_keys"] = std::move(keys);
  j["failed_attempts"] = r.failed_attempts;
  j["last_failure_time"] = r.last_failure_unix;
  j["retry_after_time"] = r.retry_after_unix;
  j["lockout_until_time"] = r.lockout_until_unix;
  j["locked"] = r.locked;
  return j.dump(2) + "\n";
}

}  // namespace enclave::keybag::internal

namespace enclave::keybag::internal {

namespace {
Error SecretLost(const std::string& why) {
  return KeystoreError(aks::kBadDeviceKey,
                       why + "; the class keys cannot be recovered (re-create the keybag)")
      .WithCause("class-key-lost");
}
}  // namespace

Result<DeviceSecret> LoadOrCreateDeviceSecret(const std::filesystem::path& dir, DeviceSecretSealer* sealer,
                                              bool keybag_exists) {
  const auto plain = dir / kDeviceSecretFile;
  const auto sealed = dir / kSealedDeviceSecretFile;
  std::error_code ec;
  if (std::filesystem::exists(sealed, ec)) {
    if (sealer == nullptr) return SecretLost("the device secret is sealed by a token that is not configured");
    ASSIGN_OR_RETURN(Bytes blob, durable::ReadFile(sealed));
    auto secret = sealer->Unseal(blob);
    if (!secret.ok() || secret->size() != kSecretBytes) {
      Error e = SecretLost("the sealing token (" + std::string(sealer->name()) +
                           ") could not unseal the device secret");
      if (!secret.ok()) e.underlying = std::make_shared<const Error>(secret.error());
      return e;
    }
    return DeviceSecret{std::move(secret).value(), std::string(sealer->name())};
  }
  if (std::filesystem::exists(plain, ec)) {
    // A secret created before a sealer was configured stays a file: re-sealing it would not
    // protect the copies that already existed.
    ASSIGN_OR_RETURN(Bytes bytes, durable::ReadFile(plain));
    SecureBytes secret{ByteView(bytes)};
    OPENSSL_cleanse(bytes.data(), bytes.size());
    if (secret.size() != kSecretBytes) return SecretLost("the device secret file has the wrong size");
    return DeviceSecret{std::move(secret), "file"};
  }
  if (keybag_exists) return SecretLost("the device secret of this keybag is missing");
  SecureBytes secret = crypto::RandomSecret(kSecretBytes);
  if (sealer != nullptr) {
    ASSIGN_OR_RETURN(Bytes blob, sealer->Seal(secret));
    RETURN_IF_ERROR(durable::WriteFileAtomic(sealed, blob));
    return DeviceSecret{std::move(secret), std::string(sealer->name())};
  }
  RETURN_IF_ERROR(durable::WriteFileAtomic(plain, secret));
  return DeviceSecret{std::move(secret), "file"};
}

}  // namespace enclave::keybag::internal
