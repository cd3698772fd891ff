// A run: signature requests a client pipelined on one connection, one after another, with the
// same key query, no auth context and no secrets. The client sent each before seeing any answer,
// so they are independent of each other; once the first has signed without a prompt, the others
// are the same key's pure signing, and the connection's thread and the daemon's helpers sign them
// at once (two connections' requests already run side by side the same way). Answers still go
// out in request order. Anything else on the connection, and a first request that was refused or
// prompted, is served one request at a time, as before.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "daemon/helper_pool.h"
#include "daemon/request_log.h"
#include "enclave.pb.h"
#include "service/api.h"

namespace enclave::daemon {

class SignRun {
 public:
  // Enough to keep two or three threads busy between flushes; a longer run only delays the first
  // answers.
  static constexpr size_t kMaxRequests = 16;

  // Whether `request` may begin a run.
  static bool Starts(const wire::Request& request);
  // Starts a new run with `first` (swapped out of the caller's message).
  void Begin(wire::Request* first);
  // Whether `next` belongs to the run begun.
  bool Continues(const wire::Request& next) const;
  void Add(wire::Request* next);

  // Serves every request of the run: each response and log entry is set, each request's secrets
  // are wiped. `session` must be safe for concurrent signatures (service::Session is).
  void Serve(Api& session, const RequestLogEntry& base, HelperPool& helpers);

  size_t size() const { return size_; }
  const wire::Request& request(size_t i) const { return requests_[i]; }
  wire::Response& response(size_t i) { return responses_[i]; }
  RequestLogEntry& entry(size_t i) { return entries_[i]; }
  std::chrono::steady_clock::time_point start(size_t i) const { return starts_[i]; }

 private:
  void ServeOne(Api& session, const RequestLogEntry& base, size_t i);

  // Reused from run to run (protobuf messages keep their allocations).
  std::vector<wire::Request> requests_;
  std::vector<wire::Response> responses_;
  std::vector<RequestLogEntry> entries_;
  std::vector<std::chrono::steady_clock::time_point> starts_;
  size_t size_ = 0;
  std::string key_;  // the first request's key query, serialized
};

}  // namespace enclave::daemon
