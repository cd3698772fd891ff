#include "service/fleet_reports.h"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>

#include "reports/device_facts.h"
#include "service/enclave_impl.h"
#include "webauthn/base64url.h"
#include "webauthn/cose.h"

namespace enclave::service {
namespace {

using Clock = std::chrono::steady_clock;

// Lets the reports of one event (a biometry reset kills every key bound to it) share one write.
constexpr auto kGather = std::chrono::milliseconds(100);
// The first look at the queue after the enclave opens: what an earlier run queued is sent once
// the daemon serves (a device that comes back online sends what it kept).
constexpr auto kFirstCheck = std::chrono::seconds(3);
constexpr auto kHeartbeatCheck = std::chrono::hours(1);

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string B64(ByteView bytes) { return webauthn::Base64UrlEncode(bytes); }

std::string Sha256B64(ByteView bytes) {
  const auto digest = webauthn::Sha256(bytes);
  return B64(ByteView(digest.data(), digest.size()));
}

Error BadArgs(const std::string& what) {
  return OSStatusError(errsec::kParam, what).WithCause("bad-parameter");
}

std::string StringOr(const nlohmann::json& args, const char* name, const std::string& fallback = "") {
  return args.is_object() && args.contains(name) && args[name].is_string() ? args[name].get<std::string>()
                                                                           : fallback;
}

bool IsReason(const std::string& s) {
  return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

}  // namespace

FleetReporter::FleetReporter(EnclaveImpl& enclave, std::filesystem::path dir, std::function<void()> on_queued)
    : enclave_(enclave), dir_(std::move(dir)), on_queued_(std::move(on_queued)) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  ::chmod(dir_.c_str(), 0700);
  registry_ = reports::Registry::Load(dir_);
  outbox_ = reports::Outbox::Open(dir_);
  // A queue left by an earlier run, or reports turned on: the worker looks soon.
  if (outbox_->queued() > 0 || Current().enabled) StartWorker();
}

FleetReporter::~FleetReporter() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (worker_.joinable()) worker_.join();
  CommitPending();
}

FleetReporter::Settings FleetReporter::Current() {
  const Config cfg = enclave_.config();
  Settings s;
  s.server = cfg.GetOr("report-server");
  s.origin = reports::OriginOfUrl(s.server);
  s.enabled = cfg.GetOr("report-failures") == "on" && !s.origin.empty();
  if (auto v = cfg.GetOr("app-id"); !v.empty()) s.app_id = v;
  if (auto v = cfg.GetOr("app-version"); !v.empty()) s.app_version = v;
  return s;
}

fleet::Report FleetReporter::Base(const Settings& s, const std::string& kind) {
  const reports::DeviceFacts& device = reports::ThisDevice();
  fleet::Report r;
  r.id = reports::NewReportId();
  r.time = NowSeconds();
  r.kind = kind;
  r.enclave_version = device.enclave_version;
  r.os_id = device.os_id;
  r.os_version = device.os_version;
  r.kernel = device.kernel;
  r.app_id = s.app_id;
  r.app_version = s.app_version;
  return r;
}

void FleetReporter::NoteFailure(const keychain::KeyItem& item, std::string_view operation, const Error& error,
                                bool found_by_doctor) {
  if (!error.permanently_invalid()) return;
  const Settings s = Current();
  if (!s.enabled) return;
  const auto reg = registry_->Find(item.kid, s.origin);
  if (!reg) return;  // not registered with this server: none of its business
  const std::string cause = error.effective_cause();
  if (registry_->Reported(s.origin, item.kid, cause)) return;
  fleet::Report r = Base(s, "failure");
  r.credential_id = reg->credential_id;
  r.kid_hash = Sha256B64(AsBytes(item.kid));
  r.operation = std::string(operation);
  r.domain = error.domain;
  r.code = error.code;
  r.cause = cause;
  r.permanence = error.permanence();
  r.remedy = error.remedy();
  r.found_by = found_by_doctor ? "doctor" : "use";
  r.token = item.token;
  r.prompted = error.prompted.value_or(false);
  // Every value comes from closed sets; one that does not fit the schema is not sent at all.
  if (!fleet::ValidateReport(r).ok()) return;
  {
    std::lock_guard lock(mu_);
    const std::string key = s.origin + " " + item.kid + " " + cause;
    if (!pending_keys_.insert(key).second) return;
    pending_.emplace_back(std::move(r), key);
  }
  StartWorker();
  wake_.notify_one();
}

void FleetReporter::ConfigChanged() {
  {
    std::lock_guard lock(mu_);
    heartbeat_forced_ = true;
  }
  if (Current().enabled) {
    StartWorker();
    wake_.notify_one();
  }
}

void FleetReporter::StartWorker() {
  std::lock_guard lock(mu_);
  if (worker_.joinable() || stopping_) return;
  worker_ = std::thread([this] { Loop(); });
}

void FleetReporter::CommitPending() {
  std::vector<std::pair<fleet::Report, std::string>> batch;
  {
    std::lock_guard lock(mu_);
    batch.swap(pending_);
    pending_keys_.clear();
  }
  if (batch.empty()) return;
  std::vector<fleet::Report> list;
  for (const auto& [r, key] : batch) list.push_back(r);
  // A failed write (a full disk) loses these reports; the keys are not marked as reported, so
  // their next failure is queued again.
  if (!outbox_->Append(list).ok()) return;
  for (const auto& [r, key] : batch) {
    if (r.kind != "failure") continue;
    const auto first = key.find(' ');
    const auto second = key.find(' ', first + 1);
    (void)registry_->Remember(key.substr(0, first), key.substr(first + 1, second - first - 1),
                              key.substr(second + 1));
  }
}

bool FleetReporter::QueueHeartbeatIfDue(bool force) {
  const Settings s = Current();
  if (!s.enabled) return false;
  const auto regs = registry_->RegisteredWith(s.origin);
  if (regs.empty()) return false;  // the server does not know this device: it would refuse
  const int64_t now = NowSeconds();
  if (!force && now - registry_->LastHeartbeat(s.origin) < kHeartbeatSeconds) return false;
  std::map<std::string, int64_t> keys = {{"healthy", 0}, {"unavailable-now", 0}, {"permanently-invalid", 0}};
  for (const auto& reg : regs) {
    keychain::ItemQuery q;
    q.kid = reg.kid;
    auto items = enclave_.keychain().Find(q);
    if (!items.ok() || items->empty()) continue;  // deleted or replaced since
    const Status st = enclave_.CheckUsable(items->front(), "sign digest");
    ++keys[st.ok()                            ? "healthy"
           : st.error().permanently_invalid() ? "permanently-invalid"
                                              : "unavailable-now"];
  }
  fleet::Report r = Base(s, "heartbeat");
  r.keys = keys;
  if (!outbox_->Append({r}).ok()) return false;
  (void)registry_->NoteHeartbeat(s.origin, now);
  return true;
}

void FleetReporter::Loop() {
  std::unique_lock lock(mu_);
  auto next_check = Clock::now() + kFirstCheck;
  bool first = true;
  while (!stopping_) {
    wake_.wait_until(lock, next_check, [&] { return stopping_ || !pending_.empty() || heartbeat_forced_; });
    if (stopping_) break;
    if (!pending_.empty()) wake_.wait_for(lock, kGather, [&] { return stopping_; });
    const bool force = heartbeat_forced_;
    heartbeat_forced_ = false;
    const bool check = force || Clock::now() >= next_check;
    const bool had_pending = !pending_.empty();
    lock.unlock();
    CommitPending();
    bool queued = had_pending;
    if (check) queued = QueueHeartbeatIfDue(force) || queued;
    if (first && check) {
      queued = queued || outbox_->queued() > 0;
      first = false;
    }
    if (queued && on_queued_ && Current().enabled) on_queued_();
    lock.lock();
    if (check) next_check = Clock::now() + kHeartbeatCheck;
  }
}

Result<nlohmann::json> FleetReporter::Register(const nlohmann::json& args) {
  const std::string kid = StringOr(args, "kid");
  const std::string origin = reports::OriginOfUrl(StringOr(args, "origin"));
  if (kid.empty() || origin.empty()) return BadArgs("reports.register needs a kid and an http(s) origin");
  keychain::ItemQuery q;
  q.kid = kid;
  ASSIGN_OR_RETURN(auto items, enclave_.keychain().Find(q));
  if (items.empty()) return OSStatusError(errsec::kItemNotFound, "no key " + kid).WithCause("item-not-found");
  const keychain::KeyItem& item = items.front();
  reports::Registration reg;
  reg.kid = kid;
  reg.credential_id = Sha256B64(item.public_key_x963);
  reg.origins = {origin};
  reg.registered_at = NowSeconds();
  RETURN_IF_ERROR(registry_->Register(reg));

  const Settings s = Current();
  const std::string replaces = StringOr(args, "replaces");
  bool wake = false;
  if (s.enabled && s.origin == origin && !replaces.empty() && registry_->FindByCredential(replaces, origin)) {
    fleet::Report r = Base(s, "reenroll");
    r.credential_id = reg.credential_id;
    r.kid_hash = Sha256B64(AsBytes(kid));
    r.replaced_credential_id = replaces;
    r.operation = std::nullopt;
    if (const std::string cause = StringOr(args, "cause"); IsReason(cause)) r.cause = cause;
    r.token = item.token;
    if (fleet::ValidateReport(r).ok()) {
      std::lock_guard lock(mu_);
      pending_.emplace_back(std::move(r), "reenroll " + kid);
      wake = true;
    }
  }
  // Confirmed by the server (rp register, rp reenroll): it knows this device now, so the first
  // heartbeat may go.
  if (s.enabled && s.origin == origin && args.value("confirmed", false)) {
    std::lock_guard lock(mu_);
    if (registry_->LastHeartbeat(origin) == 0) heartbeat_forced_ = true;
    wake = true;
  }
  if (wake) {
    StartWorker();
    wake_.notify_one();
  }
  return nlohmann::json{{"kid", kid}, {"credential_id", reg.credential_id}};
}

nlohmann::json FleetReporter::Show() {
  CommitPending();
  const Settings s = Current();
  nlohmann::json j = outbox_->Show();
  j["enabled"] = s.enabled;
  j["report_server"] = s.server;
  j["registered_keys"] = s.origin.empty() ? 0 : registry_->RegisteredWith(s.origin).size();
  return j;
}

Result<nlohmann::json> FleetReporter::Take(const nlohmann::json& args) {
  const int64_t max = args.is_object() ? args.value("max", int64_t{1000}) : 1000;
  if (max < 1 || max > static_cast<int64_t>(fleet::kMaxReports)) return BadArgs("max must be 1..1000");
  CommitPending();
  const Settings s = Current();
  // Reports turned off since they were queued: nothing leaves the device.
  if (!s.enabled)
    return nlohmann::json{{"enabled", false}, {"reports", nlohmann::json::array()}, {"dropped", 0}};
  (void)QueueHeartbeatIfDue(false);
  const auto pending = outbox_->Peek(static_cast<size_t>(max));
  nlohmann::json list = nlohmann::json::array();
  for (const auto& r : pending.reports) list.push_back(fleet::ReportToJson(r));
  return nlohmann::json{{"enabled", true},
                        {"server", s.server},
                        {"reports", list},
                        {"dropped", pending.dropped},
                        {"queued", outbox_->queued()}};
}

Result<nlohmann::json> FleetReporter::Settle(const nlohmann::json& args) {
  if (!args.is_object() || !args.contains("ids") || !args["ids"].is_array())
    return BadArgs("reports.settle needs ids");
  std::vector<std::string> ids;
  for (const auto& id : args["ids"]) {
    if (id.is_string()) ids.push_back(id.get<std::string>());
  }
  const std::string result = StringOr(args, "result", reports::kAccepted);
  if (result != reports::kAccepted && result != reports::kDuplicate && result != reports::kExpired &&
      result != reports::kRefused)
    return BadArgs("result must be accepted, duplicate, expired or refused");
  const std::string reason = StringOr(args, "reason");
  if (!reason.empty() && !IsReason(reason)) return BadArgs("a reason is [a-z0-9-]{1,64}");
  RETURN_IF_ERROR(outbox_->Settle(ids, result, reason, args.value("dropped", int64_t{0}), NowSeconds()));
  return nlohmann::json{{"settled", ids.size()}, {"queued", outbox_->queued()}};
}

Result<nlohmann::json> FleetReporter::Admin(const std::string& command, const nlohmann::json& args) {
  if (command == "reports.register") return Register(args);
  if (command == "reports.show") return Show();
  if (command == "reports.take") return Take(args);
  if (command == "reports.settle") return Settle(args);
  return BadArgs("unknown command '" + command + "'");
}

}  // namespace enclave::service
