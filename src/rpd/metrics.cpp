#include "rpd/metrics.h"

#include <charconv>
#include <cmath>
#include <sstream>

namespace enclave::rpd {
namespace {

// A label value as the text format wants it: backslash, quote and newline escaped.
std::string Label(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

// A metric name from a JSON key: [a-zA-Z0-9_] only.
std::string NamePart(const std::string& s) {
  std::string out;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    out.push_back(ok ? c : '_');
  }
  return out;
}

std::string Number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  // The shortest text that reads back as the same double ("0.0005", not "0.00050000000000000001").
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, end) : "NaN";
}

void Flatten(const nlohmann::json& j, const std::string& name, std::ostringstream& out) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) Flatten(it.value(), name + "_" + NamePart(it.key()), out);
  } else if (j.is_number()) {
    out << "# TYPE " << name << " gauge\n" << name << " " << Number(j.get<double>()) << "\n";
  } else if (j.is_boolean()) {
    out << "# TYPE " << name << " gauge\n" << name << " " << (j.get<bool>() ? 1 : 0) << "\n";
  }
}

}  // namespace

void Metrics::Request(const std::string& route, int status, const std::string& reason, double seconds) {
  std::lock_guard lock(mu_);
  ++requests_[{route, status}];
  if (!reason.empty()) ++errors_[reason];
  Histogram& h = durations_[route];
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) ++h.counts[i];
  }
  ++h.count;
  h.sum += seconds;
}

std::string Metrics::Render(const nlohmann::json& rp) const {
  std::ostringstream out;
  auto gauge = [&](const char* name, const char* type, int64_t v) {
    out << "# TYPE " << name << " " << type << "\n" << name << " " << v << "\n";
  };
  gauge("enclave_rpd_connections_open", "gauge", connections_open.load());
  gauge("enclave_rpd_connections_total", "counter", connections_total.load());
  gauge("enclave_rpd_connections_evicted_total", "counter", connections_evicted.load());
  gauge("enclave_rpd_connections_refused_total", "counter", connections_refused.load());
  gauge("enclave_rpd_connections_timed_out_total", "counter", connections_timed_out.load());
  gauge("enclave_rpd_jobs_pending", "gauge", jobs_pending.load());
  out << "# TYPE enclave_rpd_rate_limited_total counter\n"
      << "enclave_rpd_rate_limited_total{scope=\"address\"} " << rate_limited_address.load() << "\n"
      << "enclave_rpd_rate_limited_total{scope=\"user\"} " << rate_limited_user.load() << "\n";
  {
    std::lock_guard lock(mu_);
    out << "# TYPE enclave_rpd_requests_total counter\n";
    for (const auto& [key, n] : requests_) {
      out << "enclave_rpd_requests_total{route=\"" << Label(key.first) << "\",status=\"" << key.second
          << "\"} " << n << "\n";
    }
    out << "# TYPE enclave_rpd_errors_total counter\n";
    for (const auto& [reason, n] : errors_) {
      out << "enclave_rpd_errors_total{reason=\"" << Label(reason) << "\"} " << n << "\n";
    }
    out << "# TYPE enclave_rpd_request_duration_seconds histogram\n";
    for (const auto& [route, h] : durations_) {
      std::string l = "route=\"" + Label(route) + "\"";
      for (size_t i = 0; i < kBuckets.size(); ++i) {
        out << "enclave_rpd_request_duration_seconds_bucket{" << l << ",le=\"" << Number(kBuckets[i])
            << "\"} " << h.counts[i] << "\n";
      }
      out << "enclave_rpd_request_duration_seconds_bucket{" << l << ",le=\"+Inf\"} " << h.count << "\n";
      out << "enclave_rpd_request_duration_seconds_sum{" << l << "} " << Number(h.sum) << "\n";
      out << "enclave_rpd_request_duration_seconds_count{" << l << "} " << h.count << "\n";
    }
  }
  Flatten(rp, "enclave_rp", out);
  return out.str();
}

}  // namespace enclave::rpd
