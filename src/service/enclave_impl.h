// Internal to the service layer: the Enclave's shared state (keychain, keybag, tokens,
// providers, configuration, event listeners) and the key lifecycle every operation uses.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "auth/policy.h"
#include "auth/provider.h"
#include "keybag/keybag.h"
#include "keychain/keychain.h"
#include "service/config.h"
#include "service/enclave.h"
#include "service/event_batch.h"
#include "service/fleet_reports.h"
#include "service/key_cache.h"
#include "service/session_lock.h"
#include "token/token.h"

namespace enclave::service {

// A key item's private key, unsealed and loaded in its token.
struct UnwrappedKey {
  keychain::KeyItem item;
  std::unique_ptr<token::Key> key;
};

class EnclaveImpl : public Enclave {
 public:
  static Result<std::unique_ptr<EnclaveImpl>> Create(const EnclaveOptions& options);
  ~EnclaveImpl() override;

  std::unique_ptr<Session> OpenSession(const Peer& peer) override;
  int Subscribe(EventListener listener) override;
  void Unsubscribe(int subscription) override;
  const std::filesystem::path& home() const override { return options_.home; }
  bool debug() const { return options_.debug; }

  keychain::Keychain& keychain() { return *keychain_; }
  // The journal, with the entries still waiting in the group commit (event_batch.h).
  Result<std::vector<keychain::Event>> Events();
  keybag::Keybag& keybag() { return *keybag_; }
  FleetReporter& fleet() { return *fleet_; }
  Result<token::Token*> GetToken(const std::string& id);
  // The configured biometry provider, or null when biometry is "none".
  std::shared_ptr<auth::BiometryProvider> biometry();
  // Only when the simulator is the configured provider; else errSecParam saying so.
  Result<std::shared_ptr<auth::BiometrySimulator>> simulator();
  Result<auth::BiometryState> BiometryStateNow();
  Config config();
  Status SetConfig(const std::string& key, const std::string& value);

  // Key lifecycle.
  // Makes a new key item (generated in its token, sealed under its class key); not stored.
  Result<keychain::KeyItem> GenerateItem(const KeySpec& spec);
  // Without prompting: policy still satisfiable and class key available. Errors are in the
  // shape the caller sees for `operation` ("sign digest", "compute shared secret", ...).
  Status CheckUsable(const keychain::KeyItem& item, const std::string& operation);
  Result<SecureBytes> UnsealTokenBlob(const keychain::KeyItem& item, const std::string& operation);
  Result<UnwrappedKey> Unwrap(const keychain::KeyItem& item, const std::string& operation);
  // Loaded permanent keys (a session holds its non-permanent ones). See key_cache.h.
  KeyCache& key_cache() { return key_cache_; }
  uint64_t key_generation() const { return key_generation_.load(); }
  // Every cached key (the enclave's and every session's) stops being used: called on each event
  // that may change what a key may do.
  void NewKeyGeneration();
  // "<sepk:p256 kid=…>: unable to <operation>" as CryptoTokenKit -3 around `inner`.
  Error TokenRefusal(const keychain::KeyItem& item, const std::string& operation, const Error& inner);
  std::string Describe(const keychain::KeyItem& item);

  // The event journal: append and notify watchers.
  void RecordEvent(const std::string& kind, const std::string& cause, const std::vector<std::string>& kids,
                   nlohmann::json details = nlohmann::json::object());
  // RecordEvent unless an event of `kind` naming `kid` is already in the journal.
  bool RecordEventOnce(const std::string& kind, const std::string& cause, const std::string& kid,
                       nlohmann::json details);
  // Compares the biometric state with the last one seen and records what changed (a reset or
  // an enrollment change) with the kids it invalidated.
  void NoteBiometryChange();
  // Keys whose protection was lost with a re-created keybag: kid -> cause.
  std::optional<std::string> LostKeyCause(const std::string& kid);
  void LoadLostKeys();
  // Deletes akpu items after a passcode removal and records the event (with `only_if_any`, only
  // when there are such items).
  Status DestroyPasscodeBoundKeys(bool only_if_any = false);

  nlohmann::json StatusReport();
  nlohmann::json DoctorReport();
  Result<nlohmann::json> Diagnostics();

 private:
  explicit EnclaveImpl(EnclaveOptions options);
  Status Init();
  Status OpenProviders();
  // Opens the keybag, sealed by the TPM when one is configured; re-creates it (and says so,
  // marking every key it protected) when the TPM that sealed it was cleared.
  Status OpenKeybag();
  Status OpenKeybagOnce();
  // Moves a fresh, empty keybag's device secret into the TPM just configured.
  Status SealKeybagWithTpmIfEmpty();
  Result<std::shared_ptr<keybag::DeviceSecretSealer>> TpmSealer();
  keybag::KeybagOptions KeybagOptionsFromConfig();

  EnclaveOptions options_;
  std::unique_ptr<keychain::Keychain> keychain_;
  std::unique_ptr<EventBatch> events_;  // after keychain_: committed before the keychain closes
  std::unique_ptr<keybag::Keybag> keybag_;
  KeyCache key_cache_;
  std::atomic<uint64_t> key_generation_{1};

  std::mutex mu_;  // guards everything below
  Config config_;
  std::map<std::string, std::unique_ptr<token::Token>> tokens_;
  std::shared_ptr<auth::BiometryProvider> biometry_;
  std::shared_ptr<auth::BiometrySimulator> simulator_;
  std::map<int, EventListener> listeners_;
  std::map<std::string, std::string> lost_keys_;        // kid -> cause, from state.json
  std::optional<std::set<std::string>> recorded_once_;  // "kind kid", loaded from the journal on first use
  std::unique_ptr<SessionLockWatcher> lock_watcher_;
  // Last: its worker (which reads keys and configuration) stops before anything it uses goes.
  std::unique_ptr<FleetReporter> fleet_;
  int next_listener_ = 1;
};

// AAD bound into a key's sealed blob: every attribute that identifies the key or decides who
// may use it. Changing any of them in the database makes the blob fail to unseal.
Bytes BoundAttributes(const keychain::KeyItem& item);
KeyInfo ToKeyInfo(const keychain::KeyItem& item, const std::string& description);
keychain::ItemQuery ToItemQuery(const KeyQuery& q);

}  // namespace enclave::service
