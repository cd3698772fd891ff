#include "reports/outbox.h"

#include <set>

#include "common/durable_io.h"

namespace enclave::reports {
namespace {

// 10,000 reports of at most ~3.6 KB each, with room: a larger file is not ours.
constexpr size_t kMaxFileBytes = size_t{64} << 20;

nlohmann::json ReadDoc(const std::filesystem::path& file) {
  auto bytes = durable::ReadFile(file);
  if (!bytes.ok() || bytes->size() > kMaxFileBytes) return nlohmann::json::object();
  auto doc = nlohmann::json::parse(bytes->begin(), bytes->end(), nullptr, false);
  return doc.is_object() ? doc : nlohmann::json::object();
}

Status WriteDoc(const std::filesystem::path& file, const nlohmann::json& doc) {
  return durable::WriteFileAtomic(file, AsBytes(doc.dump() + "\n"), 0600);
}

}  // namespace

std::unique_ptr<Outbox> Outbox::Open(const std::filesystem::path& dir, OutboxLimits limits) {
  auto box = std::unique_ptr<Outbox>(new Outbox());
  box->dir_ = dir;
  box->limits_ = limits;
  // A report that no longer validates (a file edited by hand, or written by a build with another
  // schema) is dropped and counted, never sent.
  const nlohmann::json queue = ReadDoc(dir / "queue.json");
  box->dropped_pending_ = queue.value("dropped_pending", int64_t{0});
  box->dropped_total_ = queue.value("dropped_total", int64_t{0});
  for (const auto& j : queue.value("reports", nlohmann::json::array())) {
    auto r = fleet::ParseReport(j);
    if (r.ok()) {
      box->queue_.push_back(std::move(*r));
    } else {
      ++box->dropped_pending_;
      ++box->dropped_total_;
    }
  }
  while (box->queue_.size() > limits.max_queued) {
    box->queue_.pop_front();
    ++box->dropped_pending_;
    ++box->dropped_total_;
  }
  const nlohmann::json sent = ReadDoc(dir / "sent.json");
  for (const auto& j : sent.value("sent", nlohmann::json::array())) {
    if (!j.is_object() || !j.contains("report")) continue;
    auto r = fleet::ParseReport(j["report"]);
    if (!r.ok()) continue;
    Sent s{std::move(*r), j.value("sent_at", int64_t{0}), j.value("result", std::string(kAccepted)),
           j.value("reason", std::string())};
    box->sent_.push_back(std::move(s));
  }
  while (box->sent_.size() > limits.max_sent_log) box->sent_.pop_front();
  return box;
}

Status Outbox::SaveQueue() const {
  nlohmann::json reports = nlohmann::json::array();
  for (const auto& r : queue_) reports.push_back(fleet::ReportToJson(r));
  return WriteDoc(dir_ / "queue.json", {{"version", 1},
                                        {"dropped_pending", dropped_pending_},
                                        {"dropped_total", dropped_total_},
                                        {"reports", reports}});
}

Status Outbox::SaveSent() const {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& s : sent_) {
    nlohmann::json e = {
        {"report", fleet::ReportToJson(s.report)}, {"sent_at", s.sent_at}, {"result", s.result}};
    if (!s.reason.empty()) e["reason"] = s.reason;
    list.push_back(std::move(e));
  }
  return WriteDoc(dir_ / "sent.json", {{"version", 1}, {"sent", list}});
}

Status Outbox::Append(const std::vector<fleet::Report>& reports) {
  for (const auto& r : reports) RETURN_IF_ERROR(fleet::ValidateReport(r));
  std::lock_guard lock(mu_);
  for (const auto& r : reports) queue_.push_back(r);
  while (queue_.size() > limits_.max_queued) {
    queue_.pop_front();
    ++dropped_pending_;
    ++dropped_total_;
  }
  return SaveQueue();
}

Outbox::Pending Outbox::Peek(size_t max) const {
  std::lock_guard lock(mu_);
  Pending p;
  for (size_t i = 0; i < queue_.size() && i < max; ++i) p.reports.push_back(queue_[i]);
  p.dropped = dropped_pending_;
  return p;
}

Status Outbox::Settle(const std::vector<std::string>& ids, const std::string& result,
                      const std::string& reason, int64_t dropped_reported, int64_t now) {
  std::lock_guard lock(mu_);
  const std::set<std::string> done(ids.begin(), ids.end());
  std::deque<fleet::Report> kept;
  for (auto& r : queue_) {
    if (done.count(r.id) > 0) {
      sent_.push_back(Sent{std::move(r), now, result, reason});
    } else {
      kept.push_back(std::move(r));
    }
  }
  queue_.swap(kept);
  while (sent_.size() > limits_.max_sent_log) sent_.pop_front();
  dropped_pending_ = std::max<int64_t>(0, dropped_pending_ - std::max<int64_t>(0, dropped_reported));
  // The queue first: a crash between the two writes leaves a report out of the sent log, never
  // one sent twice by the next sender.
  RETURN_IF_ERROR(SaveQueue());
  return SaveSent();
}

size_t Outbox::queued() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

nlohmann::json Outbox::Show() const {
  std::lock_guard lock(mu_);
  nlohmann::json queued = nlohmann::json::array();
  for (const auto& r : queue_) queued.push_back(fleet::ReportToJson(r));
  nlohmann::json sent = nlohmann::json::array();
  for (const auto& s : sent_) {
    nlohmann::json e = {{"report", fleet::ReportToJson(s.report)},
                        {"sent_at", fleet::FormatTime(s.sent_at)},
                        {"result", s.result}};
    if (!s.reason.empty()) e["reason"] = s.reason;
    sent.push_back(std::move(e));
  }
  return {{"queued", queued},
          {"sent", sent},
          {"dropped_pending", dropped_pending_},
          {"dropped_total", dropped_total_},
          {"limits", {{"queue", limits_.max_queued}, {"sent_log", limits_.max_sent_log}}}};
}

}  // namespace enclave::reports
