// The keybag's device secret and the TPM: sealed by the TPM when the tpm2 token is configured
// before any key exists; re-created, loudly, when the TPM that sealed it was cleared.
#include "service/enclave_impl.h"

#if ENCLAVE_HAVE_TPM2
#include "token/tpm2/tpm2_sealer.h"
#include "token/tpm2/tpm2_token.h"
#endif

namespace enclave::service {
namespace fs = std::filesystem;

namespace {

constexpr char kSealedSecretFile[] = "device.secret.sealed";

#if ENCLAVE_HAVE_TPM2
class TpmDeviceSecretSealer : public keybag::DeviceSecretSealer {
 public:
  explicit TpmDeviceSecretSealer(std::unique_ptr<token::tpm2::Tpm2Sealer> sealer)
      : sealer_(std::move(sealer)) {}
  std::string_view name() const override { return "tpm2"; }
  Result<Bytes> Seal(ByteView secret) override { return sealer_->Seal(secret); }
  Result<SecureBytes> Unseal(ByteView sealed) override { return sealer_->Unseal(sealed); }
  Result<Bytes> SealWithAuth(ByteView secret, ByteView auth) override {
    return sealer_->SealWithAuth(secret, auth);
  }
  Result<SecureBytes> UnsealWithAuth(ByteView sealed, ByteView auth) override {
    return sealer_->UnsealWithAuth(sealed, auth);
  }

 private:
  std::unique_ptr<token::tpm2::Tpm2Sealer> sealer_;
};
#endif

bool CausedByTpmClear(const Error& e) {
  for (const Error* x = &e; x != nullptr; x = x->underlying.get()) {
    if (x->cause == "tpm-cleared") return true;
  }
  return false;
}

}  // namespace

Result<std::shared_ptr<keybag::DeviceSecretSealer>> EnclaveImpl::TpmSealer() {
#if ENCLAVE_HAVE_TPM2
  ASSIGN_OR_RETURN(token::Token * token, GetToken("tpm2"));
  ASSIGN_OR_RETURN(auto sealer, token::tpm2::OpenSealer(*token));
  return std::shared_ptr<keybag::DeviceSecretSealer>(
      std::make_shared<TpmDeviceSecretSealer>(std::move(sealer)));
#else
  return OSStatusError(errsec::kUnimplemented, "this build has no tpm2 token").WithCause("unimplemented");
#endif
}

Status EnclaveImpl::OpenKeybag() {
  Status opened = OpenKeybagOnce();
  NewKeyGeneration();  // a new (or re-created) keybag: nothing loaded under the old one is used
  return opened;
}

Status EnclaveImpl::OpenKeybagOnce() {
  const fs::path dir = options_.home / "keybag";
  keybag::KeybagOptions opts = KeybagOptionsFromConfig();
  if (!config_.tpm2_tcti().empty()) {
    auto sealer = TpmSealer();
    if (sealer.ok()) {
      opts.sealer = *sealer;
    } else if (fs::exists(dir / kSealedSecretFile)) {
      return sealer.error();  // the TPM is needed to open this keybag and cannot be reached now
    }
  }
  auto bag = keybag::Keybag::Open(dir, opts);
  if (bag.ok()) {
    keybag_ = std::move(bag).value();
    return Ok();
  }
  if (!CausedByTpmClear(bag.error())) return bag.error();
  // The TPM that sealed the device secret was cleared: every class key is gone with it. Remember
  // which keys it protected, so that each reports why it died, then start a new keybag (in this
  // order: a crash in between must not leave keys that are dead without saying why).
  keychain::ItemQuery all;
  all.match_all = true;
  std::vector<std::string> kids;
  const fs::path state_file = options_.home / "state.json";
  nlohmann::json state = ReadJsonObject(state_file);
  if (auto items = keychain_->Find(all); items.ok()) {
    for (const auto& item : *items) {
      kids.push_back(item.kid);
      state["lost_keys"][item.kid] = "tpm-cleared";
    }
  }
  RETURN_IF_ERROR(WriteFileAtomically(state_file, state.dump(2) + "\n", 0600));
  ASSIGN_OR_RETURN(keybag_, keybag::Keybag::Recreate(dir, opts));
  LoadLostKeys();
  RecordEvent("keybag-recreated", "tpm-cleared", kids,
              {{"reason",
                "the TPM that sealed the device secret was cleared or replaced; a new keybag was created"}});
  return Ok();
}

std::optional<std::string> EnclaveImpl::LostKeyCause(const std::string& kid) {
  std::lock_guard lock(mu_);
  auto it = lost_keys_.find(kid);
  if (it == lost_keys_.end()) return std::nullopt;
  return it->second;
}

void EnclaveImpl::LoadLostKeys() {
  nlohmann::json state = ReadJsonObject(options_.home / "state.json");
  std::lock_guard lock(mu_);
  lost_keys_.clear();
  if (!state.contains("lost_keys") || !state["lost_keys"].is_object()) return;
  for (auto it = state["lost_keys"].begin(); it != state["lost_keys"].end(); ++it) {
    if (it.value().is_string()) lost_keys_[it.key()] = it.value().get<std::string>();
  }
}

Status EnclaveImpl::SealKeybagWithTpmIfEmpty() {
  NewKeyGeneration();
  auto count = keychain_->Count();
  const keybag::KeybagState st = keybag_->State();
  if (!count.ok() || *count > 0 || st.passcode_set || st.device_secret_protection != "file") return Ok();
  ASSIGN_OR_RETURN(auto sealer, TpmSealer());
  keybag::KeybagOptions opts = KeybagOptionsFromConfig();
  opts.sealer = sealer;
  const fs::path dir = options_.home / "keybag";
  std::unique_ptr<keybag::Keybag> old = std::move(keybag_);
  NewKeyGeneration();
  auto fresh = keybag::Keybag::Recreate(dir, opts);
  if (!fresh.ok()) {
    // A re-creation that failed half-way left the old files or some of them moved aside: that
    // opens as the old keybag or as a new, empty one (no key or passcode existed). Never leave
    // the enclave without a keybag.
    auto reopened = keybag::Keybag::Open(dir, opts);
    keybag_ = reopened.ok() ? std::move(reopened).value() : std::move(old);
    return fresh.error();
  }
  old.reset();
  keybag_ = std::move(fresh).value();
  RecordEvent("keybag-sealed", "none", {}, {{"reason", "the device secret is now sealed by the TPM"}});
  return Ok();
}

}  // namespace enclave::service
