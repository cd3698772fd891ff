#include "daemon/request_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <ctime>
#include <nlohmann/json.hpp>

namespace enclave::daemon {
namespace {

std::string NowIso8601() {
  using namespace std::chrono;
  const auto now = system_clock::now();
  const auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  const std::time_t t = system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms));
  return out;
}

}  // namespace

RequestLog::RequestLog(const std::filesystem::path& home) : path_(home / "logs" / "enclaved.log") {
  std::error_code ec;
  std::filesystem::create_directories(path_.parent_path(), ec);
  ::chmod(path_.parent_path().c_str(), 0700);
}

void RequestLog::Request(const RequestLogEntry& entry) {
  nlohmann::json j;
  j["time"] = NowIso8601();
  j["peer_pid"] = entry.peer_pid;
  j["peer_uid"] = entry.peer_uid;
  j["request"] = entry.request;
  if (entry.command) j["command"] = *entry.command;
  if (!entry.kids.empty()) j["kids"] = entry.kids;
  if (entry.error) {
    j["outcome"] = "error";
    j["domain"] = entry.error->domain;
    j["code"] = entry.error->code;
    j["cause"] = entry.error->effective_cause();
    if (entry.reason) j["reason"] = *entry.reason;
  } else {
    j["outcome"] = "ok";
  }
  j["duration_ms"] = std::round(entry.duration_ms * 1000.0) / 1000.0;
  WriteLine(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

void RequestLog::Event(const std::string& event, const std::string& detail) {
  nlohmann::json j;
  j["time"] = NowIso8601();
  j["event"] = event;
  j["pid"] = static_cast<int64_t>(::getpid());
  if (!detail.empty()) j["detail"] = detail;
  WriteLine(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

void RequestLog::RotateIfNeeded() {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path_, ec);
  if (ec || size <= kMaxLogBytes) return;
  auto numbered = [this](int n) {
    auto p = path_;
    p += "." + std::to_string(n);
    return p;
  };
  std::filesystem::remove(numbered(kKeptLogs), ec);
  for (int n = kKeptLogs - 1; n >= 1; --n) std::filesystem::rename(numbered(n), numbered(n + 1), ec);
  std::filesystem::rename(path_, numbered(1), ec);
}

void RequestLog::WriteLine(const std::string& line) {
  std::lock_guard lock(mu_);
  RotateIfNeeded();
  // O_APPEND so that each line lands whole even if something else appends too.
  const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return;
  const std::string out = line + "\n";
  [[maybe_unused]] const ssize_t n = ::write(fd, out.data(), out.size());
  ::close(fd);
}

}  // namespace enclave::daemon
