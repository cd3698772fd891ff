// The fleet view's writing side: ingest, the server's buffered events, issue transitions, the
// worker. The documents it serves are in fleet_views.cpp.
#include "rp/fleet.h"

#include <algorithm>
#include <chrono>
#include <set>

#include "fleet/report.h"
#include "webauthn/base64url.h"

namespace enclave::rp {
namespace {

using nlohmann::json;

Error Refused(Error e, int status) { return std::move(e).WithInfo("http_status", status); }

}  // namespace

int FleetHttpStatusOf(std::string_view r) {
  if (r == fleet::kSchemaInvalid || r == fleet_reason::kQueryInvalid) return 400;
  if (r == fleet::kSignatureInvalid) return 401;
  if (r == fleet_reason::kUnknownDevice) return 403;
  if (r == fleet_reason::kIssueUnknown) return 404;
  if (r == fleet::kBatchTooLarge) return 413;
  return 0;
}

bool VersionLess(std::string_view a, std::string_view b) {
  size_t i = 0, j = 0;
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  while (i < a.size() && j < b.size()) {
    if (digit(a[i]) && digit(b[j])) {
      size_t ei = i, ej = j;
      while (ei < a.size() && digit(a[ei])) ++ei;
      while (ej < b.size() && digit(b[ej])) ++ej;
      std::string_view na = a.substr(i, ei - i), nb = b.substr(j, ej - j);
      while (na.size() > 1 && na.front() == '0') na.remove_prefix(1);
      while (nb.size() > 1 && nb.front() == '0') nb.remove_prefix(1);
      if (na.size() != nb.size()) return na.size() < nb.size();
      if (na != nb) return na < nb;
      i = ei;
      j = ej;
    } else {
      if (a[i] != b[j]) return a[i] < b[j];
      ++i;
      ++j;
    }
  }
  return a.size() - i < b.size() - j;
}

Fleet::Fleet(FleetConfig config, Store& store, FleetClock clock, AlertSink alerts)
    : config_(config),
      store_(store),
      fleet_(store.Fleet()),
      clock_(std::move(clock)),
      alerts_(std::move(alerts)) {}

Fleet::~Fleet() {
  {
    std::lock_guard lock(worker_mu_);
    stopping_ = true;
  }
  worker_cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void Fleet::StartWorker(int maintain_every_seconds) {
  worker_ = std::thread([this, maintain_every_seconds] {
    int64_t last_maintain = 0;
    std::unique_lock lock(worker_mu_);
    while (!stopping_) {
      worker_cv_.wait_for(lock, std::chrono::seconds(1));
      if (stopping_) break;
      lock.unlock();
      // A failed round (the database away) is simply tried again a second later.
      const int64_t now = clock_();
      if (now - last_maintain >= maintain_every_seconds) {
        (void)Maintain();
        last_maintain = now;
      } else {
        (void)Flush();
      }
      lock.lock();
    }
  });
}

Status Fleet::CountRefusal(const std::string& reason) {
  std::lock_guard lock(mu_);
  ++refused_batches_[{clock_(), reason}];
  return Ok();
}

Result<json> Fleet::Ingest(std::string_view body) {
  const int64_t now = clock_();
  auto refuse = [&](Error e) -> Error {
    (void)CountRefusal(e.cause);
    const int status = FleetHttpStatusOf(e.cause);
    return status ? Refused(std::move(e), status) : std::move(e);
  };
  auto envelope = fleet::ParseEnvelope(body);
  if (!envelope.ok()) return refuse(std::move(envelope).error());
  if (auto v = fleet::VerifyEnvelope(*envelope); !v.ok()) return refuse(std::move(v).error());
  ASSIGN_OR_RETURN(bool known, fleet_.DeviceKnown(envelope->device_key));
  if (!known) {
    return refuse(OSStatusError(errsec::kAuthFailed, "no credential was ever registered with this device key")
                      .WithCause(fleet_reason::kUnknownDevice));
  }
  auto batch = fleet::ParseBatch(envelope->batch_bytes);
  if (!batch.ok()) return refuse(std::move(batch).error());

  FleetIngest in;
  in.device = fleet::DeviceKeyHash(envelope->device_key);
  in.received = now;
  in.dropped = batch->dropped;
  json expired = json::array();
  const int64_t oldest = now - config_.retention_days * 86400;
  for (size_t i = 0; i < batch->reports.size(); ++i) {
    fleet::Report& r = batch->reports[i];
    if (r.time > now + config_.max_future_seconds) {
      return refuse(OSStatusError(errsec::kDecode, "reports[" + std::to_string(i) + "].time: is more than " +
                                                       std::to_string(config_.max_future_seconds) +
                                                       " s ahead of the server's clock")
                        .WithCause(fleet::kSchemaInvalid));
    }
    // Older than the raw reports are kept: it would be dropped at once, and its aggregates could
    // not be deduplicated against a resend.
    if (r.time < oldest) {
      expired.push_back(r.id);
      continue;
    }
    in.reports.push_back(std::move(r));
  }
  ASSIGN_OR_RETURN(FleetIngestOutcome out, fleet_.Ingest(in));
  for (const auto& [key, touched] : out.touched) {
    RETURN_IF_ERROR(
        Evaluate(key.first, key.second, touched.before, touched.os_versions, touched.app_versions));
  }
  return json{{"accepted", out.accepted}, {"duplicates", out.duplicates}, {"expired", expired}};
}

void Fleet::NoteRefusal(const std::string& reason, const std::optional<std::string>& credential_id) {
  std::lock_guard lock(mu_);
  if (refusals_.size() >= config_.max_buffered_events) {
    ++events_dropped_;
    return;
  }
  refusals_.push_back(Pending{clock_(), reason, credential_id.value_or("")});
}

void Fleet::NoteLogin(const std::string& credential_id) {
  std::lock_guard lock(mu_);
  if (logins_.size() >= config_.max_buffered_events) {
    ++events_dropped_;
    return;
  }
  logins_.push_back(Pending{clock_(), "", credential_id});
}

void Fleet::NoteRebind(const std::string& credential_id) {
  std::lock_guard lock(mu_);
  if (rebinds_.size() >= config_.max_buffered_events) {
    ++events_dropped_;
    return;
  }
  rebinds_.push_back(Pending{clock_(), "", credential_id});
}

Status Fleet::Flush() {
  std::lock_guard flush_lock(flush_mu_);
  std::vector<Pending> refusals, logins, rebinds;
  std::map<std::pair<int64_t, std::string>, int64_t> refused;
  {
    std::lock_guard lock(mu_);
    refusals.swap(refusals_);
    logins.swap(logins_);
    rebinds.swap(rebinds_);
    refused.swap(refused_batches_);
  }
  for (const auto& [key, n] : refused) {
    for (int64_t k = 0; k < n; ++k) RETURN_IF_ERROR(fleet_.CountRefusedBatch(key.first, key.second));
  }
  if (refusals.empty() && logins.empty() && rebinds.empty()) return Ok();

  // Credential -> its device (the hash of its proven device key), looked up once per flush.
  std::map<std::string, std::optional<CredentialRecord>> credentials;
  auto lookup = [&](const std::string& id_b64u) -> const std::optional<CredentialRecord>& {
    auto [it, fresh] = credentials.try_emplace(id_b64u);
    if (fresh && !id_b64u.empty()) {
      auto id = webauthn::Base64UrlDecode(id_b64u);
      if (id.ok() && !id->empty() && id->size() <= fleet::kMaxCredentialIdBytes) {
        auto record = store_.GetCredential(*id);
        if (record.ok()) it->second = *record;
      }
    }
    return it->second;
  };
  auto device_of = [](const std::optional<CredentialRecord>& c) {
    return c && !c->device_key.empty() ? fleet::DeviceKeyHash(c->device_key) : std::string();
  };
  FleetServerActivity activity;
  std::set<std::string> causes;
  for (const Pending& p : refusals) {
    const auto& c = lookup(p.credential_id);
    // A credential id the server does not know is the client's claim: it is not kept.
    activity.refusals.push_back(ServerEvent{p.time, p.reason, device_of(c), c ? p.credential_id : ""});
    causes.insert(p.reason);
  }
  for (const Pending& p : logins) {
    if (std::string device = device_of(lookup(p.credential_id)); !device.empty()) {
      activity.logins.emplace_back(p.time, device);
    }
  }
  for (const Pending& p : rebinds) {
    const auto& c = lookup(p.credential_id);
    if (!c || c->replaces.empty() || c->device_key.empty()) continue;
    activity.rebinds.push_back(
        {p.time, fleet::DeviceKeyHash(c->device_key), webauthn::Base64UrlEncode(c->replaces)});
    // The new credential's device was active then too.
    activity.logins.emplace_back(p.time, fleet::DeviceKeyHash(c->device_key));
  }
  std::map<std::string, std::optional<IssueRecord>> before;
  for (const std::string& cause : causes) {
    ASSIGN_OR_RETURN(before[cause], fleet_.Issue(cause, kSourceServer));
  }
  RETURN_IF_ERROR(fleet_.RecordServerActivity(activity));
  for (const auto& [cause, issue] : before) RETURN_IF_ERROR(Evaluate(cause, kSourceServer, issue, {}, {}));
  return Ok();
}

Result<bool> Fleet::Escalating(const std::string& cause, const std::string& source, int64_t now) {
  const int64_t hour = now / 3600, w = std::max<int64_t>(1, config_.window_hours);
  ASSIGN_OR_RETURN(int64_t affected_now, fleet_.IssueAffected(cause, source, hour - w + 1, hour));
  if (affected_now < config_.escalation_min_devices) return false;
  ASSIGN_OR_RETURN(int64_t active_now, fleet_.ActiveDevices(hour - w + 1, hour));
  ASSIGN_OR_RETURN(int64_t affected_before, fleet_.IssueAffected(cause, source, hour - 2 * w + 1, hour - w));
  ASSIGN_OR_RETURN(int64_t active_before, fleet_.ActiveDevices(hour - 2 * w + 1, hour - w));
  // Server refusals of devices that were never active still count: the window's fraction is then
  // measured against at least the devices it names.
  const double now_fraction = double(affected_now) / double(std::max(active_now, affected_now));
  if (affected_before == 0) return true;
  const double before_fraction = double(affected_before) / double(std::max(active_before, affected_before));
  return now_fraction > config_.escalation_factor * before_fraction;
}

Result<std::pair<std::string, std::string>> Fleet::NewestVersions(const std::string& cause,
                                                                  const std::string& source) {
  std::pair<std::string, std::string> out;
  ASSIGN_OR_RETURN(auto os, fleet_.IssueVersions(cause, source, "os_version"));
  ASSIGN_OR_RETURN(auto app, fleet_.IssueVersions(cause, source, "app_version"));
  for (const auto& v : os) {
    if (out.first.empty() || VersionLess(out.first, v)) out.first = v;
  }
  for (const auto& v : app) {
    if (out.second.empty() || VersionLess(out.second, v)) out.second = v;
  }
  return out;
}

Status Fleet::Transition(const IssueRecord& issue, const std::string& to, const char* alert) {
  const int64_t now = clock_();
  std::pair<std::string, std::string> newest;
  if (to == kIssueResolved) {
    ASSIGN_OR_RETURN(newest, NewestVersions(issue.cause, issue.source));
  }
  ASSIGN_OR_RETURN(bool moved, fleet_.TransitionIssue(issue.cause, issue.source, issue.state, to, now,
                                                      newest.first, newest.second));
  // Only the node whose update moved the issue alerts: one alert per transition.
  if (!moved || !alert || !alerts_) return Ok();
  ASSIGN_OR_RETURN(auto after, fleet_.Issue(issue.cause, issue.source));
  if (!after) return Ok();
  ASSIGN_OR_RETURN(json doc, IssueJson(*after, now));
  alerts_(json{{"issue", doc}, {"transition", alert}});
  return Ok();
}

Status Fleet::Evaluate(const std::string& cause, const std::string& source,
                       const std::optional<IssueRecord>& before, const std::vector<std::string>& os_versions,
                       const std::vector<std::string>& app_versions) {
  if (before && before->state == kIssueResolved) {
    auto newer = [](const std::string& baseline, const std::vector<std::string>& seen) {
      return !baseline.empty() && std::any_of(seen.begin(), seen.end(),
                                              [&](const std::string& v) { return VersionLess(baseline, v); });
    };
    const bool regressed =
        newer(before->resolved_os_max, os_versions) || newer(before->resolved_app_max, app_versions);
    RETURN_IF_ERROR(
        Transition(*before, regressed ? kIssueRegressed : kIssueOpen, regressed ? "regressed" : nullptr));
  }
  ASSIGN_OR_RETURN(auto issue, fleet_.Issue(cause, source));
  if (!issue || issue->state != kIssueOpen) return Ok();
  ASSIGN_OR_RETURN(bool escalating, Escalating(cause, source, clock_()));
  if (escalating) RETURN_IF_ERROR(Transition(*issue, kIssueEscalating, "escalating"));
  return Ok();
}

Status Fleet::Maintain() {
  RETURN_IF_ERROR(Flush());
  const int64_t now = clock_();
  ASSIGN_OR_RETURN(auto issues, fleet_.Issues());
  for (const IssueRecord& issue : issues) {
    if (issue.state == kIssueResolved) continue;
    if (issue.last_seen < now - config_.resolve_after_hours * 3600) {
      RETURN_IF_ERROR(Transition(issue, kIssueResolved, nullptr));
      continue;
    }
    ASSIGN_OR_RETURN(bool escalating, Escalating(issue.cause, issue.source, now));
    if (issue.state == kIssueEscalating && !escalating)
      RETURN_IF_ERROR(Transition(issue, kIssueOpen, nullptr));
    if (issue.state == kIssueOpen && escalating)
      RETURN_IF_ERROR(Transition(issue, kIssueEscalating, "escalating"));
  }
  if (now - last_retention_ >= 3600) {
    auto dropped = fleet_.DropReportsBefore(now - config_.retention_days * 86400);
    if (!dropped.ok()) return std::move(dropped).error();
    last_retention_ = now;
  }
  return Ok();
}

}  // namespace enclave::rp
