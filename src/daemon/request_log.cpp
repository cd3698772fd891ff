#include "daemon/request_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>

namespace enclave::daemon {
namespace {

// Buffered lines are written this often, or sooner once this much has gathered.
constexpr auto kFlushInterval = std::chrono::milliseconds(250);
constexpr size_t kFlushBytes = 64 * 1024;

void AppendIso8601Now(std::string& out) {
  using namespace std::chrono;
  const auto now = system_clock::now();
  const auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  const std::time_t t = system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[48];
  const size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(ms));
  out += buf;
}

// A JSON string. Fields come from peers (kids, admin command names): quotes, backslashes and
// control characters are escaped, and bytes outside ASCII become U+FFFD so a line stays UTF-8.
void AppendJsonString(std::string& out, std::string_view s) {
  out += '"';
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20) {
      char esc[8];
      std::snprintf(esc, sizeof esc, "\\u%04x", c);
      out += esc;
    } else if (c >= 0x80) {
      out += "\\ufffd";
    } else {
      out += ch;
    }
  }
  out += '"';
}

void AppendField(std::string& out, std::string_view name) {
  out += ",\"";
  out += name;
  out += "\":";
}

}  // namespace

RequestLog::RequestLog(const std::filesystem::path& home)
    : path_(home / "logs" / "enclaved.log"), flusher_(kFlushInterval, [this] { Flush(); }) {
  std::error_code ec;
  std::filesystem::create_directories(path_.parent_path(), ec);
  ::chmod(path_.parent_path().c_str(), 0700);
  pending_.reserve(kFlushBytes + 4096);
}

RequestLog::~RequestLog() {
  flusher_.Stop();
  std::lock_guard lock(mu_);
  FlushLocked();
  if (fd_ >= 0) ::close(fd_);
}

void RequestLog::Request(const RequestLogEntry& entry) {
  std::string line;
  line.reserve(256);
  line += "{\"time\":\"";
  AppendIso8601Now(line);
  line += '"';
  AppendField(line, "peer_pid");
  line += std::to_string(entry.peer_pid);
  AppendField(line, "peer_uid");
  line += std::to_string(entry.peer_uid);
  AppendField(line, "request");
  AppendJsonString(line, entry.request);
  if (entry.command) {
    AppendField(line, "command");
    AppendJsonString(line, *entry.command);
  }
  if (!entry.kids.empty()) {
    AppendField(line, "kids");
    line += '[';
    for (size_t i = 0; i < entry.kids.size(); ++i) {
      if (i > 0) line += ',';
      AppendJsonString(line, entry.kids[i]);
    }
    line += ']';
  }
  if (entry.error) {
    line += ",\"outcome\":\"error\"";
    AppendField(line, "domain");
    AppendJsonString(line, entry.error->domain);
    AppendField(line, "code");
    line += std::to_string(entry.error->code);
    AppendField(line, "cause");
    AppendJsonString(line, entry.error->effective_cause());
    if (entry.reason) {
      AppendField(line, "reason");
      AppendJsonString(line, *entry.reason);
    }
  } else {
    line += ",\"outcome\":\"ok\"";
  }
  char duration[32];
  std::snprintf(duration, sizeof duration, "%.3f", std::round(entry.duration_ms * 1000.0) / 1000.0);
  AppendField(line, "duration_ms");
  line += duration;
  line += "}\n";
  bool first = false;
  bool full = false;
  {
    std::lock_guard lock(mu_);
    first = pending_.empty();
    pending_ += line;
    // A refusal is what someone reading the log looks for, at once: it is written through (and
    // refusals are not the hot path). Successes wait for the flusher, which sleeps until the
    // first line of a batch arrives.
    if (entry.error) {
      FlushLocked();
      return;
    }
    full = pending_.size() >= kFlushBytes;
  }
  if (first) flusher_.Wake();
  if (full) flusher_.Hurry();
}

void RequestLog::Event(const std::string& event, const std::string& detail) {
  std::string line = "{\"time\":\"";
  AppendIso8601Now(line);
  line += '"';
  AppendField(line, "event");
  AppendJsonString(line, event);
  AppendField(line, "pid");
  line += std::to_string(::getpid());
  if (!detail.empty()) {
    AppendField(line, "detail");
    AppendJsonString(line, detail);
  }
  line += "}\n";
  std::lock_guard lock(mu_);
  pending_ += line;
  FlushLocked();
}

void RequestLog::Flush() {
  std::lock_guard lock(mu_);
  FlushLocked();
}

void RequestLog::RotateLocked() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  std::error_code ec;
  auto numbered = [this](int n) {
    auto p = path_;
    p += "." + std::to_string(n);
    return p;
  };
  std::filesystem::remove(numbered(kKeptLogs), ec);
  for (int n = kKeptLogs - 1; n >= 1; --n) std::filesystem::rename(numbered(n), numbered(n + 1), ec);
  std::filesystem::rename(path_, numbered(1), ec);
}

// Logging never fails a request: write errors drop the lines. Buffered lines are split between
// files at line boundaries, so that no file grows past kMaxLogBytes (one longer line excepted).
void RequestLog::FlushLocked() {
  size_t from = 0;
  while (from < pending_.size()) {
    if (fd_ < 0) {
      // O_APPEND so that each write lands whole at the end even if something else appends too.
      fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
      if (fd_ < 0) break;
      struct stat st {};
      size_ = ::fstat(fd_, &st) == 0 ? static_cast<uintmax_t>(st.st_size) : 0;
    }
    const size_t room = size_ < kMaxLogBytes ? static_cast<size_t>(kMaxLogBytes - size_) : 0;
    size_t to = pending_.size();
    if (to - from > room) {
      const size_t cut = room > 0 ? pending_.rfind('\n', from + room - 1) : std::string::npos;
      if (cut != std::string::npos && cut >= from) {
        to = cut + 1;
      } else if (size_ > 0) {
        RotateLocked();
        continue;
      } else {
        const size_t line_end = pending_.find('\n', from);
        to = line_end == std::string::npos ? pending_.size() : line_end + 1;
      }
    }
    size_t done = from;
    while (done < to) {
      const ssize_t n = ::write(fd_, pending_.data() + done, to - done);
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    size_ += done - from;
    if (done < to) break;
    from = to;
    if (from < pending_.size()) RotateLocked();
  }
  pending_.clear();
}

}  // namespace enclave::daemon
