// Seeing failures coming: the doctor's per-key verdicts, status, the biometric-change watcher
// that fills the event journal, and the diagnostics bundle's contents (never a secret).
#include <algorithm>
#include <set>

#include "common/secure_memory.h"
#include "service/enclave_impl.h"

namespace enclave::service {
namespace fs = std::filesystem;

namespace {

Result<std::vector<keychain::KeyItem>> AllItems(keychain::Keychain& kc) {
  keychain::ItemQuery all;
  all.match_all = true;
  auto items = kc.Find(all);
  if (!items.ok() && items.error().code == errsec::kItemNotFound) return std::vector<keychain::KeyItem>{};
  return items;
}

}  // namespace

void EnclaveImpl::NoteBiometryChange() {
  NewKeyGeneration();
  auto provider = biometry();
  if (!provider) return;
  auto state = provider->State();
  if (!state.ok()) return;
  const fs::path file = options_.home / "state.json";
  nlohmann::json saved = ReadJsonObject(file);
  const std::string old_db = saved.value("biometry_database_id", "");
  const std::string old_set = saved.value("biometry_set_hash", "");
  std::set<std::string> reported = saved.value("reported_kids", std::set<std::string>{});
  const bool first = !saved.contains("biometry_database_id");
  saved["biometry_database_id"] = state->database_id;
  saved["biometry_set_hash"] = state->enrolled_set_hash;
  if (!first && (old_db != state->database_id || old_set != state->enrolled_set_hash)) {
    const bool reset = old_db != state->database_id;
    std::vector<std::string> kids;
    auto items = AllItems(*keychain_);
    for (const auto& item : items.ok() ? *items : std::vector<keychain::KeyItem>{}) {
      auto policy = auth::AccessPolicy::Deserialize(item.access_control);
      if (!policy.ok() || !policy->needs_biometry()) continue;
      if (!auth::CheckStillSatisfiable(*policy, *state).ok() && reported.insert(item.kid).second) {
        kids.push_back(item.kid);
      }
    }
    RecordEvent(reset ? "biometry-reset" : "enrollment-changed",
                reset ? "biometry-database-reset" : "biometry-set-changed", kids,
                {{"provider", std::string(provider->name())}, {"enrolled_fingers", state->enrolled.size()}});
  }
  saved["reported_kids"] = reported;
  (void)WriteFileAtomically(file, saved.dump(2) + "\n", 0600);
}

Status EnclaveImpl::DestroyPasscodeBoundKeys(bool only_if_any) {
  NewKeyGeneration();
  keychain::ItemQuery q;
  q.accessible = keybag::PlatformCode(keybag::ProtectionClass::kWhenPasscodeSetThisDeviceOnly);
  q.match_all = true;
  auto items = keychain_->Find(q);
  std::vector<std::string> kids;
  if (!items.ok() && items.error().code != errsec::kItemNotFound) return items.error();
  if (items.ok()) {
    for (const auto& item : *items) kids.push_back(item.kid);
    ASSIGN_OR_RETURN(int deleted, keychain_->Delete(q));
    (void)deleted;
  }
  if (only_if_any && kids.empty()) return Ok();
  RecordEvent("passcode-removed", "passcode-removed", kids);
  return Ok();
}

nlohmann::json EnclaveImpl::StatusReport() {
  nlohmann::json j;
  j["version"] = "0.1.0";
  j["home"] = options_.home.string();
  j["debug"] = options_.debug;
  auto count = keychain_->Count();
  j["keys"] = count.ok() ? *count : -1;
  j["database"] = {{"schema_version", keychain_->SchemaVersion()}};
  j["keybag"] = keybag_->Describe();
  j["memory"] = SecureMemoryReport();
  j["session_lock"] = lock_watcher_ ? lock_watcher_->Describe() : nlohmann::json{{"source", "none"}};
  const Config cfg = config();
  j["config"] = cfg.ToJson();
  nlohmann::json bio = {{"provider", cfg.biometry()}};
  if (auto provider = biometry()) {
    auto state = provider->State();
    if (state.ok()) {
      bio["available"] = state->available;
      bio["enrolled"] = state->enrolled;
      bio["locked_out"] = state->locked_out;
      bio["detects_enrollment_changes"] = state->detects_set_changes;
    } else {
      bio["error"] = state.error().ToJson();
    }
    bio["limitations"] = provider->Limitations();
  }
  j["biometry"] = bio;
  nlohmann::json tokens;
  if (auto soft = GetToken("soft"); soft.ok()) tokens["soft"] = (*soft)->Describe();
  if (cfg.tpm2_tcti().empty()) {
    tokens["tpm2"] = {{"configured", false}};
  } else if (auto tpm = GetToken("tpm2"); tpm.ok()) {
    tokens["tpm2"] = (*tpm)->Describe();
    tokens["tpm2"]["configured"] = true;
  } else {
    tokens["tpm2"] = {{"configured", true}, {"tcti", cfg.tpm2_tcti()}, {"error", tpm.error().ToJson()}};
  }
  j["tokens"] = tokens;
  return j;
}

nlohmann::json EnclaveImpl::DoctorReport() {
  NoteBiometryChange();
  nlohmann::json keys = nlohmann::json::array();
  int healthy = 0, unavailable = 0, dead = 0;
  auto items = AllItems(*keychain_);
  for (const auto& item : items.ok() ? *items : std::vector<keychain::KeyItem>{}) {
    nlohmann::json k = {{"kid", item.kid},
                        {"label", item.label},
                        {"token", item.token},
                        {"application_label_hex", HexEncode(item.application_label)},
                        {"description", Describe(item)}};
    Status st = CheckUsable(item, "sign digest");
    if (st.ok()) {
      auto unwrapped = Unwrap(item, "sign digest");
      if (!unwrapped.ok()) st = unwrapped.error();
    }
    if (st.ok()) {
      k["verdict"] = "healthy";
      k["cause"] = nullptr;
      k["remedy"] = "none";
      ++healthy;
    } else {
      const Error& e = st.error();
      const bool permanent = e.permanence() == "permanent";
      k["verdict"] = permanent ? "permanently-invalid" : "unavailable-now";
      k["cause"] = e.effective_cause();
      k["remedy"] = e.remedy();
      k["error"] = e.ToJson();
      ++(permanent ? dead : unavailable);
      if (permanent) fleet_->NoteFailure(item, "doctor", e, /*found_by_doctor=*/true);
    }
    keys.push_back(k);
  }
  nlohmann::json report;
  report["keys"] = keys;
  Status integrity = keychain_->CheckIntegrity();
  report["database"] = integrity.ok() ? nlohmann::json{{"ok", true}}
                                      : nlohmann::json{{"ok", false}, {"error", integrity.error().ToJson()}};
  report["keybag"] = keybag_->Describe();
  report["summary"] = {{"healthy", healthy}, {"unavailable_now", unavailable}, {"permanently_invalid", dead}};
  report["ok"] = dead == 0 && integrity.ok();
  return report;
}

Result<nlohmann::json> EnclaveImpl::Diagnostics() {
  nlohmann::json files = nlohmann::json::object();
  files["status.json"] = StatusReport().dump(2);
  files["doctor.json"] = DoctorReport().dump(2);
  auto events = Events();
  nlohmann::json ev = nlohmann::json::array();
  if (events.ok()) {
    for (const auto& e : *events) {
      ev.push_back({{"time", e.time_ms}, {"kind", e.kind}, {"cause", e.cause}, {"kids", e.kids}});
    }
  }
  files["events.json"] = nlohmann::json{{"events", ev}}.dump(2);
  // Key inventory: attributes and public keys only.
  nlohmann::json inventory = nlohmann::json::array();
  auto items = AllItems(*keychain_);
  for (const auto& item : items.ok() ? *items : std::vector<keychain::KeyItem>{}) {
    nlohmann::json k = KeyInfoToJson(ToKeyInfo(item, Describe(item)));
    auto policy = auth::AccessPolicy::Deserialize(item.access_control);
    if (policy.ok()) k["access_control_description"] = policy->Describe(item.accessible);
    inventory.push_back(k);
  }
  files["keys.json"] = nlohmann::json{{"keys", inventory}}.dump(2);
  // Recent logs: the newest files first, bounded in size.
  std::vector<fs::path> logs;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(options_.home / "logs", ec)) logs.push_back(entry.path());
  std::sort(logs.begin(), logs.end());
  size_t budget = 1 << 20;
  for (const auto& path : logs) {
    auto text = ReadFile(path);
    if (!text.ok()) continue;
    std::string tail = text->size() > budget ? text->substr(text->size() - budget) : *text;
    budget -= std::min(budget, tail.size());
    files["logs/" + path.filename().string()] = tail;
  }
  return nlohmann::json{{"files", files}};
}

}  // namespace enclave::service
