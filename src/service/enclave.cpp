#include <sys/stat.h>

#include <chrono>

#include "crypto/ec.h"
#include "service/enclave_impl.h"

namespace enclave::service {
namespace fs = std::filesystem;

Result<std::unique_ptr<Enclave>> Enclave::Open(const EnclaveOptions& options) {
  ASSIGN_OR_RETURN(auto impl, EnclaveImpl::Create(options));
  return std::unique_ptr<Enclave>(std::move(impl));
}

EnclaveImpl::EnclaveImpl(EnclaveOptions options) : options_(std::move(options)) {}
EnclaveImpl::~EnclaveImpl() = default;

Result<std::unique_ptr<EnclaveImpl>> EnclaveImpl::Create(const EnclaveOptions& options) {
  // tpm2-tss logs expected failures (a cleared TPM) to stderr; our errors say it better.
  ::setenv("TSS2_LOG", "all+NONE", /*overwrite=*/0);
  if (options.home.empty())
    return OSStatusError(errsec::kParam, "no enclave home given").WithCause("bad-parameter");
  std::unique_ptr<EnclaveImpl> e(new EnclaveImpl(options));
  RETURN_IF_ERROR(e->Init());
  return e;
}

keybag::KeybagOptions EnclaveImpl::KeybagOptionsFromConfig() {
  keybag::KeybagOptions o;
  o.max_failed_attempts = config_.passcode_max_attempts();
  o.lockout_duration = std::chrono::seconds(config_.passcode_lockout_seconds());
  return o;
}

Status EnclaveImpl::Init() {
  std::error_code ec;
  fs::create_directories(options_.home, ec);
  if (ec)
    return OSStatusError(errsec::kIO, "cannot create the enclave home: " + ec.message())
        .WithCause("database-io");
  ::chmod(options_.home.c_str(), 0700);
  ASSIGN_OR_RETURN(config_, Config::Load(options_.home / "config.json"));
  fs::create_directories(options_.home / "keybag", ec);
  ::chmod((options_.home / "keybag").c_str(), 0700);
  ASSIGN_OR_RETURN(keychain_, keychain::Keychain::Open(options_.home / "keychain.db"));
  events_ = std::make_unique<EventBatch>(keychain_.get());
  LoadLostKeys();
  RETURN_IF_ERROR(OpenKeybag());
  // A passcode removal that died between the keybag write and the deletion of the keys it
  // destroyed: finish it, so no listed key is missing its class key.
  if (!keybag_->State().passcode_set) RETURN_IF_ERROR(DestroyPasscodeBoundKeys(/*only_if_any=*/true));
  RETURN_IF_ERROR(OpenProviders());
  fleet_ = std::make_unique<FleetReporter>(*this, options_.home / "reports", options_.on_reports_queued);
  if (options_.follow_session_lock) {
    lock_watcher_ =
        std::make_unique<SessionLockWatcher>(config_.GetOr("logind-session"), [this](bool locked) {
          if (locked) {
            keybag_->Lock();
          } else if (!keybag_->State().passcode_set) {
            (void)keybag_->Unlock(SecureBytes());
          }
          NewKeyGeneration();
        });
  }
  return Ok();
}

Status EnclaveImpl::OpenProviders() {
  biometry_.reset();
  simulator_.reset();
  const std::string kind = config_.biometry();
  if (kind == "simulator") {
    ASSIGN_OR_RETURN(auto sim,
                     auth::BiometrySimulator::Open((options_.home / "biometry-simulator.json").string()));
    simulator_ = std::shared_ptr<auth::BiometrySimulator>(std::move(sim));
    biometry_ = simulator_;
  } else if (kind == "fprintd") {
    std::string user = config_.Get("fprintd-user").ok() ? *config_.Get("fprintd-user") : "";
    if (user.empty()) user = options_.fprintd_user;
    if (user.empty()) {
      const char* u = std::getenv("USER");
      user = u != nullptr ? u : "root";
    }
    auto fp = auth::OpenFprintd(user);
    // A missing reader is reported when a key needs it, not at startup.
    if (fp.ok()) biometry_ = std::shared_ptr<auth::BiometryProvider>(std::move(fp).value());
  }
  return Ok();
}

Result<token::Token*> EnclaveImpl::GetToken(const std::string& id) {
  std::lock_guard lock(mu_);
  auto it = tokens_.find(id);
  if (it != tokens_.end()) return it->second.get();
  token::TokenConfig tc;
  tc.tpm2_tcti = config_.tpm2_tcti();
  if (id == "tpm2" && tc.tpm2_tcti.empty()) tc.tpm2_tcti = "device:/dev/tpmrm0";
  ASSIGN_OR_RETURN(auto token, token::OpenToken(id, tc));
  token::Token* raw = token.get();
  tokens_[id] = std::move(token);
  return raw;
}

std::shared_ptr<auth::BiometryProvider> EnclaveImpl::biometry() {
  std::lock_guard lock(mu_);
  return biometry_;
}

Result<std::shared_ptr<auth::BiometrySimulator>> EnclaveImpl::simulator() {
  std::lock_guard lock(mu_);
  if (!simulator_) {
    return OSStatusError(errsec::kParam,
                         "the biometry simulator is not enabled (enclave config set biometry simulator)")
        .WithCause("bad-parameter");
  }
  return simulator_;
}

Result<auth::BiometryState> EnclaveImpl::BiometryStateNow() {
  auto provider = biometry();
  if (!provider) return auth::BiometryState{};
  return provider->State();
}

Config EnclaveImpl::config() {
  std::lock_guard lock(mu_);
  return config_;
}

void EnclaveImpl::NewKeyGeneration() {
  key_generation_.fetch_add(1);
  key_cache_.Clear();
}

Status EnclaveImpl::SetConfig(const std::string& key, const std::string& value) {
  NewKeyGeneration();
  if (key.rfind("report-", 0) == 0 || key.rfind("app-", 0) == 0) {
    {
      std::lock_guard lock(mu_);
      RETURN_IF_ERROR(config_.Set(key, value));
    }
    // Outside mu_: the reporter reads the configuration.
    if (fleet_) fleet_->ConfigChanged();
    return Ok();
  }
  {
    std::lock_guard lock(mu_);
    // The agent forwarding to itself would answer every request with a request to itself.
    if (key == "ssh-agent-upstream" && !value.empty() &&
        std::filesystem::path(value).lexically_normal() ==
            (options_.home / "ssh-agent.sock").lexically_normal()) {
      return OSStatusError(errsec::kParam,
                           "ssh-agent-upstream must be another agent's socket, not enclave's own")
          .WithCause("bad-parameter");
    }
    RETURN_IF_ERROR(config_.Set(key, value));
    if (key == "biometry" || key == "fprintd-user") return OpenProviders();
    if (key == "passcode-max-attempts" || key == "passcode-lockout-seconds") {
      const keybag::KeybagOptions o = KeybagOptionsFromConfig();
      keybag_->SetAttemptPolicy(o.max_failed_attempts, o.lockout_duration);
      return Ok();
    }
    if (key != "tpm2-tcti") return Ok();
    tokens_.erase("tpm2");  // reopened with the new TCTI on next use
  }
  // A TPM configured before any key or passcode exists takes over the device secret.
  if (!value.empty()) RETURN_IF_ERROR(SealKeybagWithTpmIfEmpty());
  return Ok();
}

std::unique_ptr<Session> MakeSession(EnclaveImpl& enclave, const Peer& peer);

std::unique_ptr<Session> EnclaveImpl::OpenSession(const Peer& peer) { return MakeSession(*this, peer); }

int EnclaveImpl::Subscribe(EventListener listener) {
  std::lock_guard lock(mu_);
  int id = next_listener_++;
  listeners_[id] = std::move(listener);
  return id;
}

void EnclaveImpl::Unsubscribe(int subscription) {
  std::lock_guard lock(mu_);
  listeners_.erase(subscription);
}

static int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

nlohmann::json EventToJson(const keychain::Event& e) {
  return {
      {"time", e.time_ms}, {"kind", e.kind}, {"cause", e.cause}, {"kids", e.kids}, {"details", e.details}};
}

bool EnclaveImpl::RecordEventOnce(const std::string& kind, const std::string& cause, const std::string& kid,
                                  nlohmann::json details) {
  {
    std::lock_guard lock(mu_);
    if (!recorded_once_) {
      recorded_once_.emplace();
      auto events = Events();
      for (const auto& e : events.ok() ? *events : std::vector<keychain::Event>{}) {
        for (const auto& k : e.kids) recorded_once_->insert(e.kind + " " + k);
      }
    }
    if (!recorded_once_->insert(kind + " " + kid).second) return false;
  }
  RecordEvent(kind, cause, {kid}, std::move(details));
  return true;
}

Result<std::vector<keychain::Event>> EnclaveImpl::Events() {
  (void)events_->Flush();
  return keychain_->Events();
}

void EnclaveImpl::RecordEvent(const std::string& kind, const std::string& cause,
                              const std::vector<std::string>& kids, nlohmann::json details) {
  keychain::Event e;
  e.time_ms = NowMs();
  e.kind = kind;
  e.cause = cause;
  e.kids = kids;
  e.details = std::move(details);
  std::map<int, EventListener> listeners;
  {
    std::lock_guard lock(mu_);
    if (!listeners_.empty()) listeners = listeners_;
  }
  // Only for someone watching: an ssh signature's event costs no JSON otherwise.
  std::optional<nlohmann::json> j;
  if (!listeners.empty()) j = EventToJson(e);
  // One per use of a key (each ssh signature) joins the group commit; anything else is written
  // through, after the pending group.
  if (kind == "ssh-sign" && cause == "none") {
    events_->Add(std::move(e));
  } else {
    (void)events_->FlushThen(e);
  }
  for (auto& [id, l] : listeners) l(*j);
}

}  // namespace enclave::service
