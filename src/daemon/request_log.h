// enclaved's structured log: one JSON object per line in <home>/logs/enclaved.log, rotated past
// kMaxLogBytes with kKeptLogs older files (enclaved.log.1 is the newest). Entries name keys by kid
// only and never hold request data, signatures, secrets, passcodes or admin arguments: callers
// hand over fields, and only the fields below are ever written.
//
// Lines are buffered in memory and written by a background flush a few times a second (or when
// enough have gathered), so a request costs no file I/O; lifecycle events, Flush() and the
// destructor (reached on SIGTERM and on a Shutdown request) write everything still buffered.
#pragma once

#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/flusher.h"

namespace enclave::daemon {

inline constexpr uintmax_t kMaxLogBytes = 1 << 20;
inline constexpr int kKeptLogs = 3;

struct RequestLogEntry {
  uint32_t peer_pid = 0;
  uint32_t peer_uid = 0;
  std::string request;                 // kind: "sign", "admin", ...
  std::optional<std::string> command;  // the admin command's name (never its arguments)
  std::vector<std::string> kids;
  std::optional<Error> error;  // nullopt: ok
  // Why a front end answered as it did, for requests whose client cannot show an enclave error
  // (the ssh agent can only say FAILURE): the error's description, which never holds secrets.
  std::optional<std::string> reason;
  double duration_ms = 0;
};

class RequestLog {
 public:
  // Creates <home>/logs (0700). Logging never fails a request: write errors are dropped.
  explicit RequestLog(const std::filesystem::path& home);
  ~RequestLog();
  RequestLog(const RequestLog&) = delete;
  RequestLog& operator=(const RequestLog&) = delete;

  void Request(const RequestLogEntry& entry);
  // Lifecycle lines: {"event":"start"|"stop", ...}; written at once with everything before them.
  void Event(const std::string& event, const std::string& detail = "");
  // Writes the buffered lines now.
  void Flush();
  const std::filesystem::path& path() const { return path_; }

 private:
  void FlushLocked();
  void RotateLocked();

  std::mutex mu_;
  std::filesystem::path path_;
  std::string pending_;  // whole lines not yet written
  int fd_ = -1;          // the open log file (O_APPEND)
  uintmax_t size_ = 0;   // its size as last written
  Flusher flusher_;      // writes pending_ in the background; last, so it stops first
};

}  // namespace enclave::daemon
